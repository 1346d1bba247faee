"""LevelSource: model levels when the runtime works, backtracker levels (with a message) when it does not."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.game_demo.levels import FALLBACK_BRAID, LevelSource, fallback_grid
from daedalus.maze import is_lattice, is_perfect, is_solvable, loops, pieces


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_fallback_levels_are_lattice_mazes_with_loops_in_braid_mode(seed):
    braid = fallback_grid(seed)
    perfect = fallback_grid(seed, mode="perfect")
    assert is_perfect(perfect)
    assert is_lattice(braid) and pieces(braid) == 1 and is_solvable(braid)
    assert loops(braid) == round(FALLBACK_BRAID * 169)
    assert ((braid >= perfect).all())  # braid only opens walls of the same maze
    assert np.array_equal(braid, fallback_grid(seed))  # the level code replays the level


def check_fallback(source: LevelSource, seed: int, reason: str):
    level = source.level(seed)
    assert level.source == "backtracker"
    assert level.seed == seed
    assert np.array_equal(level.grid, fallback_grid(seed, mode=source.mode))
    assert level.board.dist(level.start, level.exit) > 0
    assert source.message and reason in source.message and "backtracker" in source.message
    assert "backtracker" in source.description
    return level


def test_missing_model_file_falls_back_with_a_message(tmp_path):
    missing = tmp_path / "nope.onnx"
    source = LevelSource(model=missing)
    check_fallback(source, 5, "nope.onnx")


def test_corrupt_model_file_falls_back_with_a_message(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"this is not an onnx file" * 10)
    source = LevelSource(model=corrupt, mode="perfect")
    level = check_fallback(source, 11, "corrupt.onnx")
    assert is_perfect(level.grid)


class _Broken:
    """Stands in for a loaded model whose inference fails mid-run (a real model cannot be made to do that on cue)."""

    def generate(self, count, seed, mode):
        raise RuntimeError("decoder exploded")


def test_a_model_that_fails_mid_run_falls_back_for_that_level_and_after():
    source = LevelSource(use_model=False)
    source._generator = _Broken()
    check_fallback(source, 3, "decoder exploded")
    assert source.level(4).source == "backtracker"


def test_without_the_model_there_is_no_message():
    source = LevelSource(use_model=False)
    level = source.level(9)
    assert level.source == "backtracker" and source.message is None


def test_prefetch_prepares_in_the_background_and_poll_never_blocks(tmp_path):
    source = LevelSource(model=tmp_path / "missing.onnx")
    # Hold the source's lock, as a long model decode would: poll must still return (None), not wait for it.
    with source._lock:
        assert source.poll(21) is None
        assert source.poll(21) is None
    level = source.wait(21, timeout=60)
    assert level is not None and level.seed == 21
    assert 21 not in source._jobs  # handed over once
    source.prefetch(22)
    assert source.wait(22, timeout=60).seed == 22


def test_bad_mode_and_device_are_named():
    with pytest.raises(ValueError, match="maze"):
        LevelSource(mode="maze")
    with pytest.raises(ValueError, match="tpu"):
        LevelSource(device="tpu")


def test_shipped_model_levels_when_the_runtime_is_installed():
    pytest.importorskip("daedalus.runtime")
    source = LevelSource(device="cpu")
    level = source.level(1)
    if source.message:
        pytest.skip(f"runtime present but the default model did not load: {source.message}")
    assert level.source == "model"
    assert level.board.dist(level.start, level.exit) > 0


def test_levels_from_a_real_onnx_decoder(tmp_path):
    # The runtime's real test decoder (tests/onnx_models.py on the runtime branch): an ONNX file run by
    # onnxruntime. Skipped until the runtime is merged.
    pytest.importorskip("daedalus.runtime")
    onnx_models = pytest.importorskip("onnx_models")
    path = onnx_models.decoder(tmp_path / "decoder.onnx")
    source = LevelSource(model=path, device="cpu")
    levels = [source.level(seed) for seed in (3, 4)]
    assert source.message is None, source.message
    assert "model" in source.description
    for level, seed in zip(levels, (3, 4)):
        assert level.source == "model" and level.seed == seed
        assert level.board.dist(level.start, level.exit) > 0
        assert loops(level.grid) > 0  # braid mode keeps loops
    assert np.array_equal(source.level(3).grid, levels[0].grid)  # the level code replays the level


def test_close_waits_for_the_levels_being_prepared():
    """Quitting while a level is decoded on its daemon thread used to abort the process at shutdown ("terminate
    called without an active exception", about half the headless runs): close lets the job finish first."""
    source = LevelSource()
    for seed in (3, 4, 5):
        source.prefetch(seed)
    source.close(timeout=60)
    assert all(job.done.is_set() for job in source._jobs.values())
    assert source.poll(4) is not None and source.message is None
