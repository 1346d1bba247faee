"""``daedalus play`` from the command line, as a subprocess with the SDL dummy video driver."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("pygame")

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "OMP_NUM_THREADS": "1"}


def daedalus(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "daedalus", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def test_play_autopilot_runs_levels_and_saves_the_last_frame(tmp_path):
    shot = tmp_path / "last.png"
    out = daedalus("play", "--autopilot", "--levels", "2", "--seed", "12", "--fast", "--screenshot", str(shot))
    assert out.returncode == 0, out.stderr
    assert "level(s) cleared" in out.stdout
    assert "Traceback" not in out.stderr
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob(".*tmp"))  # written atomically


def test_play_with_a_broken_model_still_plays_and_says_why(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00" * 64)
    out = daedalus("play", "--autopilot", "--levels", "1", "--seed", "3", "--fast", "--model", str(bad))
    assert out.returncode == 0, out.stderr
    assert "broken.onnx" in out.stdout and "backtracker" in out.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--levels", "2"], "--autopilot"),
        (["--autopilot", "--screenshot", "shot.jpg"], "shot.jpg"),
        (["--autopilot", "--screenshot", "/no/such/folder/x.png"], "/no/such/folder"),
        (["--autopilot", "--levels", "0"], "positive"),
        (["--mode", "maze"], "maze"),
    ],
)
def test_bad_options_give_one_clear_line(args, needle):
    out = daedalus("play", "--headless", *args, timeout=60)
    assert out.returncode == 2
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_help_lists_play_without_pygame_being_imported():
    out = daedalus("--help")
    assert out.returncode == 0 and "play" in out.stdout
    code = "import sys; from daedalus.cli import build_parser; build_parser(); print('pygame' in sys.modules)"
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert check.stdout.strip() == "False"


def test_no_display_gives_one_clear_line():
    env = {**ENV, "SDL_VIDEODRIVER": "no-such-driver"}
    out = subprocess.run([sys.executable, "-m", "daedalus", "play", "--autopilot", "--levels", "1", "--no-model"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert "no-such-driver" in out.stderr and "--headless" in out.stderr and "Traceback" not in out.stderr
