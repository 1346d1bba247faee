"""Sizes and counts are checked before any allocation: one line naming the limit and how to raise it."""

import time

import pytest

from daedalus.cli import main
from daedalus.errors import UsageError
from daedalus.limits import FILES_ENV, MEMORY_ENV, check_memory, format_bytes, memory_limit, parse_bytes


@pytest.mark.parametrize("text, value", [("8G", 8 * 2**30), ("512M", 512 * 2**20), ("1000000", 1000000),
                                         ("1.5k", 1536), ("2GiB", 2 * 2**30), (" 3 T ", 3 * 2**40)])
def test_memory_sizes_parse(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "nan", "inf", "1X"])
def test_bad_memory_sizes_are_named(text):
    with pytest.raises(UsageError, match=f"{MEMORY_ENV} must be a size in bytes"):
        parse_bytes(text)


def test_the_limit_is_half_the_machine_unless_set(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    limit, source = memory_limit()
    assert source.startswith("half of this machine's") and limit > 2**20
    monkeypatch.setenv(MEMORY_ENV, "3G")
    assert memory_limit() == (3 * 2**30, f"{MEMORY_ENV}=3G")
    with pytest.raises(UsageError, match=rf"needs about 4\.0 GiB .* limit of 3\.0 GiB \({MEMORY_ENV}=3G\); ask "
                                         rf"for less, or set {MEMORY_ENV}"):
        check_memory(4 * 2**30, "this")
    check_memory(3 * 2**30, "this")
    assert format_bytes(512) == "512 B" and format_bytes(1536) == "1.5 KiB"


def one_line(capsys, *parts):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, err


@pytest.mark.parametrize("argv, what", [
    (["train", "--size", "1000x1000", "--out", "OUT/run"], "training raster on 1000x1000 levels needs about"),
    (["train", "--size", "200", "--count", "100000000", "--out", "OUT/run"], "on 200x200 levels needs about"),
    (["dataset", "--size", "100000", "--out", "OUT/d.npz"], "dataset --count 1280 --size 100000x100000 needs"),
    (["dataset", "--count", "1000000000", "--out", "OUT/d.npz"], "dataset --count 1000000000 --size 28x28 needs"),
])
def test_huge_requests_are_refused_at_once_naming_the_limit(tmp_path, capsys, monkeypatch, argv, what):
    monkeypatch.setenv(MEMORY_ENV, "4G")
    started = time.perf_counter()
    assert main([a.replace("OUT", str(tmp_path)) for a in argv]) == 2
    assert time.perf_counter() - started < 20  # refused from the shape, not after allocating
    one_line(capsys, what, f"limit of 4.0 GiB ({MEMORY_ENV}=4G)", f"set {MEMORY_ENV}")
    assert not list(tmp_path.iterdir())


def test_a_small_run_fits_and_a_lower_limit_refuses_it(tmp_path, capsys, monkeypatch):
    argv = ["dataset", "--count", "100", "--out", str(tmp_path / "d.npz")]
    assert main(argv) == 0
    monkeypatch.setenv(MEMORY_ENV, "100K")
    assert main(argv) == 2
    capsys.readouterr()
    monkeypatch.setenv(MEMORY_ENV, "1M")
    assert main(argv) == 0


def test_training_memory_counts_the_real_model(tmp_path):
    import torch

    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.models import build_model
    from daedalus.trainer.train import training_memory

    config = resolve_config({"model": "seed-vae", "count": 64, "holdout": 16, "batch_size": 16})
    params = sum(p.numel() for p in build_model(config["model"]).parameters())
    estimate = training_memory(config)
    assert 16 * params < estimate < 16 * params + 4 * 80 * 784 + 4 * 16 * 16 * 784 + 1
    assert torch.device("cpu") == next(build_model(config["model"]).parameters()).device  # meta did not leak


def test_generate_refuses_more_files_than_the_folder_limit(decoder_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "levels"
    assert main(["generate", "--count", "1000000000", "--format", "png", "--model", str(decoder_path),
                 "--out", str(out)]) == 2
    one_line(capsys, "--count 1000000000 would write 1000000000 files", "limit of 1000000", "--format npz",
             FILES_ENV)
    monkeypatch.setenv(FILES_ENV, "3")
    argv = ["generate", "--format", "txt", "--seed", "1", "--model", str(decoder_path), "--out", str(out)]
    assert main([*argv, "--count", "4"]) == 2
    one_line(capsys, "limit of 3")
    assert not list(tmp_path.iterdir())
    assert main([*argv, "--count", "3"]) == 0 and len(list(out.iterdir())) == 3


def test_generate_npz_checks_its_memory_from_the_model_shape(decoder_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "1M")
    out = tmp_path / "levels.npz"
    assert main(["generate", "--count", "100000", "--format", "npz", "--model", str(decoder_path),
                 "--out", str(out)]) == 2
    one_line(capsys, "generate --count 100000 --format npz of 28x28 levels needs about", "(DAEDALUS_MEMORY_LIMIT=1M)")
    assert not out.exists()
    assert main(["generate", "--count", "100", "--format", "npz", "--model", str(decoder_path), "--out", str(out)]) == 0


def test_generate_refuses_a_list_of_levels_it_cannot_hold_and_batches_still_streams(decoder_path, monkeypatch):
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load(decoder_path)
    monkeypatch.setenv(MEMORY_ENV, "1M")
    with pytest.raises(UsageError, match=r"generate\(100000\).*MazeGenerator.batches.*DAEDALUS_MEMORY_LIMIT=1M"):
        generator.generate(100_000, seed=1)
    assert len(generator.generate(50, seed=1)) == 50
    assert next(generator.batches(100_000, seed=1))["grids"].shape[1:] == generator.shape
