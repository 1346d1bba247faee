"""``daedalus dataset`` and the top-level command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from daedalus import maze
from daedalus.cli import main


def test_dataset_writes_the_documented_npz(tmp_path, capsys):
    out = tmp_path / "mazes.npz"
    assert main(["dataset", "--count", "12", "--size", "16x20", "--seed", "3", "--out", str(out),
                 "--preview", str(tmp_path / "sheet.png"), "--animate", str(tmp_path / "carve.gif")]) == 0
    data = np.load(out)
    assert data["grids"].shape == (12, 16, 20) and data["grids"].dtype == np.uint8
    assert np.array_equal(data["grids"], maze.backtracker_batch(12, 16, 20, rng=3))
    assert data["starts"].tolist() == [[0, 0]] * 12 and data["exits"].tolist() == [[14, 18]] * 12
    assert int(data["seed"]) == 3 and int(data["height"]) == 16 and int(data["width"]) == 20
    assert (tmp_path / "sheet.png").stat().st_size > 0 and (tmp_path / "carve.gif").stat().st_size > 0


def test_same_seed_same_file(tmp_path):
    for name in ("a.npz", "b.npz"):
        main(["dataset", "--count", "5", "--seed", "9", "--out", str(tmp_path / name)])
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "0"], "expected a positive integer, got 0"),
        (["--count", "-3"], "expected a positive integer, got -3"),
        (["--size", "27"], "maze height must be an even integer >= 4, got 27"),
        (["--size", "2"], "even integer >= 4, got 2"),
        (["--size", "big"], "--size must be N or HxW"),
        (["--seed", "-1"], "expected a non-negative integer, got -1"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_no_file(tmp_path, capsys, args, message):
    out = tmp_path / "mazes.npz"
    with pytest.raises(SystemExit) as exit_info:
        code = main(["dataset", "--out", str(out), *args])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    cases = [
        (["--out", str(tmp_path / "nope" / "m.npz")], "does not exist"),
        (["--out", str(a_file / "m.npz")], "does not exist"),
        (["--out", str(tmp_path / "m.txt")], "must end in .npz"),
        (["--out", str(tmp_path / "m.npz"), "--preview", str(tmp_path / "nope" / "s.png")], "does not exist"),
        (["--out", str(tmp_path / "m.npz"), "--animate", str(tmp_path / "c.png")], "must end in .gif"),
        # /proc refuses new files whatever its permission bits say (and root ignores those anyway).
        (["--out", "/proc/m.npz"], "folder '/proc' is not writable"),
        (["--out", str(tmp_path / "m.npz"), "--preview", "/proc/s.png"], "folder '/proc' is not writable"),
    ]
    for args, message in cases:
        assert main(["dataset", "--count", "3", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt"]


def test_command_line_help_and_version():
    for args in (["--help"], ["dataset", "--help"], ["--version"]):
        result = subprocess.run([sys.executable, "-m", "daedalus", *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "daedalus" in result.stdout
