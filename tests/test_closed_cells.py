"""Levels with wall cells: the raster walk's closed cells (a cell joined from neither above nor the left may close),
learned from a corpus that has them, and refused where the walk cannot draw a level."""

import json
import re

import numpy as np
import pytest

from daedalus.cli import main
from daedalus.maze.generators import generate_batch
from daedalus.maze.raster_walk import BACKENDS, CONTEXTS, closed_cell_problem, raster_events, raster_walk
from daedalus.maze.stats import is_solvable, loops, pieces

TINY = ["--latent", "4", "--hidden", "32", "--holdout", "16", "--batch-size", "16", "--epochs", "3", "--cycles", "1",
        "--eval-samples", "0", "--no-figures", "--quiet", "--threads", "1"]


def sparse(count: int, size: int = 12, seed: int = 0) -> np.ndarray:
    """Backtracker mazes with each dead end but the first and last cell filled (wall) with probability 1/2."""
    rng = np.random.default_rng(seed)
    grids = generate_batch("backtracker", count, size, size, rng)
    out = grids.copy()
    for i, grid in enumerate(grids):
        for r in range(0, size - 1, 2):
            for c in range(0, size - 1, 2):
                if (r, c) in ((0, 0), (size - 2, size - 2)):
                    continue
                links = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                         if 0 <= r + dr < size and 0 <= c + dc < size and grid[r + dr, c + dc]]
                if len(links) == 1 and rng.random() < 0.5:
                    out[i, r, c] = 0
                    out[i][links[0]] = 0
    return out


def scores(count, rows, cols, groups=2, seed=0):
    rng = np.random.default_rng(seed)
    cell = rng.normal(0, 2, (count, rows, cols, 4)).astype(np.float32)
    cell[..., 0] += 2.0  # closing both links is often the likeliest: many cells may close
    return (cell, rng.normal(size=(count, 3)).astype(np.float32),
            rng.normal(size=(CONTEXTS * groups, 3, 4)).astype(np.float32), rng.random((count, rows * cols)))


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("braid", [False, True])
def test_a_walk_with_closed_cells_keeps_every_open_cell_connected_and_both_backends_agree(groups, braid):
    args = scores(300, 7, 9, groups)
    grids = {backend: raster_walk(*args, loops=braid, closed_cells=True, backend=backend) for backend in BACKENDS}
    assert np.array_equal(grids["c"], grids["numpy"])
    walked = grids["c"]
    closed = (walked[:, ::2, ::2] == 0).sum(axis=(1, 2))
    assert closed.mean() > 2  # the option is used
    assert (walked[:, 0, 0] == 1).all() and (walked[:, -2, -2] == 1).all()  # start and exit stay open
    assert (pieces(walked) == 1).all() and is_solvable(walked).all()
    assert closed_cell_problem(walked) is None  # no link beside a wall cell, no open cell without a link
    assert (loops(walked) > 0).any() == braid
    # Without the option the same scores keep every cell open.
    assert (raster_walk(*args, loops=braid)[:, ::2, ::2] == 1).all()


def test_teacher_forcing_reads_a_closed_cell_as_the_choice_that_closed_it():
    grids = sparse(40)
    contexts, allowed, options = raster_events(grids, loops=False, groups=2, closed_cells=True)
    assert allowed[np.arange(40)[:, None], np.arange(36), options].all()
    scores = np.where(np.arange(4) == options[..., None], 0.0, -50.0).reshape(40, 6, 6, 4).astype(np.float32)
    walked = raster_walk(scores, np.zeros((40, 1), np.float32), np.zeros((CONTEXTS, 1, 4), np.float32),
                         np.full((40, 36), 0.5), closed_cells=True)
    assert np.array_equal(walked, grids)
    with pytest.raises(ValueError, match=r"maze \d+: cell \(\d+, \d+\) is wall; .* unless it learns closed cells"):
        raster_events(grids, loops=False)


@pytest.mark.parametrize("edit, message", [
    (lambda g: g.__setitem__((0, 0), 0), r"cell \(0, 0\) is wall; the raster walk keeps its first and last cell"),
    (lambda g: g.__setitem__((10, 10), 0), r"cell \(10, 10\) is wall; the raster walk keeps its first and last"),
    (lambda g: g.__setitem__((4, 4), 0), r"cell \(4, 4\) is wall but a link beside it is open"),
])
def test_levels_the_walk_cannot_draw_are_named_with_the_cell(edit, message):
    grid = generate_batch("backtracker", 1, 12, 12, np.random.default_rng(0))[0]
    edit(grid)
    problem = closed_cell_problem(grid[None])
    assert problem is not None and problem[0] == 0
    assert re.search(message, problem[1]), problem


def test_an_open_cell_without_a_link_is_named():
    grid = np.zeros((8, 8), dtype=np.uint8)
    grid[0, 0:7] = 1  # a corridor along the top row, down the right side
    grid[0:7, 6] = 1
    grid[4, 2] = 1  # an open cell on its own
    assert closed_cell_problem(grid[None]) == (0, "cell (4, 2) is open but has no open link (the walk connects "
                                                   "every open cell)")


def test_a_corpus_with_wall_cells_trains_a_walk_that_closes_cells_and_exports_it(tmp_path):
    from daedalus.runtime import MazeGenerator

    data = tmp_path / "sparse.npz"
    np.savez(data, grids=sparse(200))
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY, "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "raster" and config["model"]["closed_cells"] is True
    assert "sparse.npz#" in config["selection"]["refused"]["carve"]
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--quality-samples", "8"]) == 0
    generator = MazeGenerator.load(tmp_path / "m.onnx")
    assert generator.metadata["closed_cells"] == "learned"
    for mode in ("perfect", "braid"):
        grids = np.stack([level.grid for level in generator.generate(64, seed=2, mode=mode)])
        assert (grids[:, ::2, ::2] == 0).any(), f"{mode}: no level closed a cell"
        assert (pieces(grids) == 1).all() and is_solvable(grids).all() and closed_cell_problem(grids) is None
        assert (loops(grids) == 0).all() == (mode == "perfect")
    # A corpus with every cell open keeps every cell open by construction.
    open_data = tmp_path / "open.npz"
    np.savez(open_data, grids=generate_batch("prim", 64, 12, 12, np.random.default_rng(1)))
    assert main(["train", "--data", str(open_data), *TINY, "--epochs", "1", "--out", str(tmp_path / "open")]) == 0
    assert json.loads((tmp_path / "open" / "config.json").read_text())["model"]["closed_cells"] is False


def test_a_corpus_no_walk_can_draw_is_refused_before_anything_is_written(tmp_path, capsys):
    grids = sparse(20)
    # Open floor nobody reaches (a corpus may have it) is beyond the walk, which connects every open cell.
    r, c = np.argwhere(grids[7, ::2, ::2] == 0)[0]
    grids[7, 2 * r, 2 * c] = 1
    data = tmp_path / "bad.npz"
    np.savez(data, grids=grids)
    run = tmp_path / "run"
    code = main(["train", "--data", str(data), "--model", "raster", *TINY, "--out", str(run)])
    assert code == 2 and not run.exists()
    assert f"bad.npz#7 cell ({2 * r}, {2 * c}) is open but has no open link" in capsys.readouterr().err
