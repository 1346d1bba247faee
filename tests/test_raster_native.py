"""The compiled raster walk against the numpy reference: the same mazes bit for bit, on random scores of any size,
in both modes, with and without a loop bonus, and on the shipped decoder's own outputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze import raster_walk as walk_module
from daedalus.maze.raster_walk import CONTEXTS, raster_walk
from daedalus.maze.stats import is_perfect, pieces

pytestmark = pytest.mark.skipif(walk_module._native is None, reason="the compiled walk is not built in this install")


def _scores(count, rows, cols, mix, seed, scale, groups=1):
    rng = np.random.default_rng(seed)
    return (
        (scale * rng.normal(size=(count, rows, cols, 4))).astype(np.float32),
        rng.normal(size=(count, mix)).astype(np.float32),
        (scale * rng.normal(size=(groups * CONTEXTS, mix, 4))).astype(np.float32),
        rng.random((count, rows * cols)),
    )


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(2, 12), cols=st.integers(2, 12), mix=st.integers(1, 9), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.0, 0.5, 3.0, 30.0]), loops=st.booleans(), bonus=st.sampled_from([0.0, 1.25, -2.0]),
       groups=st.sampled_from([1, 2]))
def test_compiled_walk_equals_the_reference(rows, cols, mix, seed, scale, loops, bonus, groups):
    arrays = _scores(30, rows, cols, mix, seed, scale, groups)
    ours = raster_walk(*arrays, loops=loops, loop_bonus=bonus, backend="c")
    reference = raster_walk(*arrays, loops=loops, loop_bonus=bonus, backend="numpy")
    np.testing.assert_array_equal(ours, reference)
    assert (pieces(ours) == 1).all()


def test_compiled_walk_equals_the_reference_on_the_shipped_decoder():
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load()
    outputs = generator._run(generator.sample_latents(300, 7))
    scores, window = outputs[:4], None
    if len(outputs) > 4:  # the default's window network (its tables as the runtime keeps them)
        window = generator._decoding._window(*outputs[4:])
    for loops, bonus in ((False, 0.0), (True, 0.0), (True, 2.0)):
        ours = raster_walk(*scores, loops=loops, loop_bonus=bonus, window=window, backend="c")
        np.testing.assert_array_equal(ours, raster_walk(*scores, loops=loops, loop_bonus=bonus, window=window,
                                                        backend="numpy"))
    assert is_perfect(raster_walk(*scores, window=window, backend="c")).all()


def test_the_compiled_walk_releases_nothing_half_written_on_a_bad_cell():
    cell, mix, basis, uniforms = _scores(4, 3, 3, 2, 0, 1.0)
    cell[3, 2, 2, 0] = np.inf
    with pytest.raises(ValueError, match=r"maze 3: the scores of cell \(4, 4\)"):
        raster_walk(cell, mix, basis, uniforms, backend="c")


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"backend must be one of \['c', 'numpy'\], got 'fortran'"):
        raster_walk(*_scores(1, 2, 2, 1, 0, 1.0), backend="fortran")


def test_float64_scores_walk_in_numpy_and_agree():
    arrays = [a.astype(np.float64) for a in _scores(20, 5, 6, 3, 1, 2.0)]
    np.testing.assert_array_equal(raster_walk(*arrays, backend="c"), raster_walk(*arrays, backend="numpy"))


def test_the_numpy_reference_gives_the_same_levels_from_the_command_line(tmp_path):
    def levels(walk):
        env = {**os.environ, "DAEDALUS_COMPILED": "1" if walk == "c" else "0"}
        out = tmp_path / walk
        out.mkdir()
        subprocess.run([sys.executable, "-m", "daedalus", "generate", "--count", "40", "--seed", "3",
                        "--format", "npz", "--mode", "braid", "--out", str(out / "levels.npz")], env=env,
                       capture_output=True, text=True, check=True)
        with np.load(out / "levels.npz") as data:
            return data["grids"]

    c, numpy = levels("c"), levels("numpy")
    assert c.shape[0] == 40
    np.testing.assert_array_equal(c, numpy)
