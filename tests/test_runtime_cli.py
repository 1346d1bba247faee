"""``daedalus info`` and ``daedalus generate`` end to end (in-process through daedalus.cli.main)."""

import json
import os
import stat

import numpy as np
import pytest

from daedalus.cli import main
from daedalus.maze import is_perfect, is_solvable


def test_info_json(decoder_path, capsys):
    assert main(["info", "--model", str(decoder_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model_path"] == str(decoder_path.resolve())
    assert report["metadata"]["latent_dim"] == "8" and report["latent_dim"] == 8
    assert report["provider"] in report["available_providers"]


def test_info_text(decoder_path, capsys):
    assert main(["info", "--model", str(decoder_path)]) == 0
    out = capsys.readouterr().out
    assert "provider chosen: CPUExecutionProvider" in out and "threshold: 0.5" in out


def test_generate_npz(decoder_path, tmp_path):
    out = tmp_path / "levels.npz"
    assert main(["generate", "--count", "37", "--seed", "3", "--model", str(decoder_path), "--format", "npz",
                 "--out", str(out)]) == 0
    data = np.load(out)
    assert data["grids"].shape == (37, 28, 28) and data["grids"].dtype == np.uint8
    assert data["starts"].shape == (37, 2) and data["exits"].shape == (37, 2)
    assert data["latents"].shape == (37, 8) and data["edits"].shape == (37,) and int(data["seed"]) == 3
    assert is_perfect(data["grids"]).all() and is_solvable(data["grids"]).all()
    again = tmp_path / "again.npz"
    main(["generate", "--count", "37", "--seed", "3", "--model", str(decoder_path), "--format", "npz",
          "--out", str(again)])
    assert (np.load(again)["grids"] == data["grids"]).all()


@pytest.mark.parametrize("fmt", ["png", "json", "txt"])
def test_generate_one_file_per_level(decoder_path, tmp_path, fmt):
    out = tmp_path / "levels"
    assert main(["generate", "--count", "4", "--seed", "8", "--mode", "braid", "--model", str(decoder_path),
                 "--format", fmt, "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"level-8-{i}.{fmt}" for i in range(4)]
    if fmt == "json":
        level = json.loads((out / "level-8-2.json").read_text())
        assert level["seed"] == 8 and level["index"] == 2 and level["mode"] == "braid"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_generate_checks_the_output_before_work(decoder_path, tmp_path, capsys):
    cases = [
        (["--format", "npz", "--out", str(tmp_path / "nowhere" / "x.npz")], "does not exist"),
        (["--format", "npz", "--out", str(tmp_path / "x.png")], "must end in .npz"),
        (["--format", "png", "--out", str(tmp_path / "nowhere" / "levels")], "does not exist"),
    ]
    (tmp_path / "file.txt").write_text("x")
    cases.append((["--format", "txt", "--out", str(tmp_path / "file.txt")], "is a file"))
    for extra, message in cases:
        assert main(["generate", "--count", "2", "--model", str(tmp_path / "missing.onnx"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_generate_with_a_bad_model_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx at all")
    assert main(["generate", "--count", "2", "--model", str(bad), "--format", "json",
                 "--out", str(tmp_path / "levels")]) == 2
    assert "not a valid ONNX" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


def test_negative_count_is_refused(decoder_path, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--count", "-3", "--model", str(decoder_path), "--format", "npz",
              "--out", str(tmp_path / "x.npz")])
    assert "non-negative" in capsys.readouterr().err


def test_generate_zero_levels(decoder_path, tmp_path):
    out = tmp_path / "none.npz"
    assert main(["generate", "--count", "0", "--seed", "1", "--model", str(decoder_path), "--format", "npz",
                 "--out", str(out)]) == 0
    assert np.load(out)["grids"].shape == (0, 28, 28)


@pytest.mark.parametrize("fmt", ["npz", "txt"])
def test_preview_sheet_shows_the_generated_levels(decoder_path, tmp_path, fmt):
    from daedalus.maze.draw import encode_png, render, tile

    out = tmp_path / ("levels.npz" if fmt == "npz" else "levels")
    sheet = tmp_path / "sheet.png"
    assert main(["generate", "--model", str(decoder_path), "--count", "70", "--seed", "4", "--format", fmt,
                 "--out", str(out), "--preview", str(sheet)]) == 0
    assert main(["generate", "--model", str(decoder_path), "--count", "64", "--seed", "4", "--format", "npz",
                 "--out", str(tmp_path / "first.npz")]) == 0
    grids = np.load(tmp_path / "first.npz")["grids"]
    expected = encode_png(tile([render(g, scale=4) for g in grids]))
    assert sheet.read_bytes() == expected  # the first 64 levels of the run, drawn once


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_levels_folder_and_files_follow_the_umask(decoder_path, tmp_path, umask):
    import daedalus.files

    previous = os.umask(umask)
    try:
        monkey = pytest.MonkeyPatch()
        monkey.setattr(daedalus.files, "_UMASK", umask)  # read once at import; this process just changed it
        out = tmp_path / "levels"
        assert main(["generate", "--count", "2", "--seed", "1", "--model", str(decoder_path), "--format", "json",
                     "--out", str(out)]) == 0
    finally:
        os.umask(previous)
        monkey.undo()
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's 0700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o666 & ~umask}
