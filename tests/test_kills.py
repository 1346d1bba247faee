"""A run killed at any moment leaves the previous state or the complete result: ``generate`` into a folder stages
its files under a name the next run recognises and removes (real SIGKILL and SIGTERM of a subprocess)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from daedalus.runtime.cli import STAGING_MARK


def start(decoder_path, out, fmt="txt", count=200000):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "daedalus", "generate", "--count", str(count), "--seed", "1",
                             "--model", str(decoder_path), "--format", fmt, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def staged(root):
    """Every staging folder under ``root`` and the files in it."""
    return {p: len(list(p.iterdir())) for p in root.rglob(f"*{STAGING_MARK}*") if p.is_dir()}


def kill_while_writing(process, root, sig):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(staged(root).values()) < 20:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    assert sum(staged(root).values()) >= 20, "the run never started writing"
    process.send_signal(sig)
    process.wait(timeout=30)
    return process.returncode


@pytest.mark.parametrize("fmt", ["txt", "png"])
def test_sigkill_into_a_new_folder_leaves_no_folder_and_the_next_run_removes_the_staging(decoder_path, tmp_path,
                                                                                       fmt):
    out = tmp_path / "levels"
    assert kill_while_writing(start(decoder_path, out, fmt), tmp_path, signal.SIGKILL) == -signal.SIGKILL
    assert not out.exists()  # the previous state: no folder
    (left,) = staged(tmp_path)  # one staging folder, named after the target, beside it
    assert left.parent == tmp_path and left.name.startswith(f".{out.name}{STAGING_MARK}")
    again = subprocess.run([sys.executable, "-m", "daedalus", "generate", "--count", "3", "--seed", "2", "--model",
                            str(decoder_path), "--format", fmt, "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "removed" in again.stderr and left.name in again.stderr  # said, not silent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["levels"]
    assert sorted(p.name for p in out.iterdir()) == [f"level-2-{i}.{fmt}" for i in range(3)]


def test_sigkill_into_an_existing_folder_keeps_its_files_and_stages_inside_it(decoder_path, tmp_path):
    out = tmp_path / "levels"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert kill_while_writing(start(decoder_path, out), tmp_path, signal.SIGKILL) == -signal.SIGKILL
    (left,) = staged(tmp_path)
    assert left.parent == out and left.name.startswith(STAGING_MARK)
    assert sorted(p.name for p in out.iterdir()) == sorted(["mine.txt", left.name])  # no half-run in the folder
    again = subprocess.run([sys.executable, "-m", "daedalus", "generate", "--count", "2", "--seed", "5", "--model",
                            str(decoder_path), "--format", "json", "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["level-5-0.json", "level-5-1.json", "mine.txt"]
    assert (out / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize("existing", [False, True])
def test_sigterm_cleans_up_at_once(decoder_path, tmp_path, existing):
    out = tmp_path / "levels"
    if existing:
        out.mkdir()
    process = start(decoder_path, out, "json")
    assert kill_while_writing(process, tmp_path, signal.SIGTERM) == 128 + signal.SIGTERM
    assert "terminated" in process.stderr.read().decode()
    assert not staged(tmp_path)
    assert out.exists() == existing and (not existing or not list(out.iterdir()))


def test_a_staging_folder_of_a_running_generate_is_left_alone(decoder_path, tmp_path):
    from daedalus.cli import main

    out = tmp_path / "levels"
    alive = tmp_path / f".levels{STAGING_MARK}{os.getppid()}"  # a live process's name: another run, not debris
    alive.mkdir()
    assert main(["generate", "--count", "1", "--seed", "0", "--model", str(decoder_path), "--format", "txt",
                 "--out", str(out)]) == 0
    assert alive.is_dir()
