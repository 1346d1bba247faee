"""The scored depth-first walk (the carve decoder's sampler) and the carve events it is trained on."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze.backtracker import backtracker_batch
from daedalus.maze.carve import depth_first_carve
from daedalus.maze.grid import grid_to_links, links_to_grid
from daedalus.maze.scored_carve import (
    _link_of,
    carve,
    carve_events,
    depth_first,
    neighbour_table,
    parents_to_links,
)
from daedalus.maze.stats import batch_stats, is_perfect


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(2, 9), cols=st.integers(2, 9),
       scale=st.sampled_from([0.0, 1.0, 100.0]))
def test_every_walk_is_a_perfect_maze(seed, rows, cols, scale):
    rng = np.random.default_rng(seed)
    scores = scale * rng.standard_normal((5, rows, cols, 4))
    grids = carve(scores, (2 * rows, 2 * cols))
    assert grids.shape == (5, 2 * rows, 2 * cols)
    assert is_perfect(grids).all()


def test_walk_equals_the_one_maze_reference_walk():
    # depth_first_carve is the per-maze Python walk over link scores; give each direction its link's score.
    rng = np.random.default_rng(3)
    link_scores = rng.random((40, 364))
    table = _link_of(14, 14)
    _, valid = neighbour_table(14, 14)
    scores = np.where(valid, link_scores[:, np.maximum(table, 0)], -1.0).reshape(40, 14, 14, 4)
    expected = depth_first_carve(links_to_grid(link_scores, (28, 28)))
    assert np.array_equal(carve(scores, (28, 28)), expected)


def test_walk_follows_the_scores_and_breaks_ties_in_direction_order():
    # Equal scores: always up, right, down, left first — from (0, 0) it runs right along the top row first.
    grid = carve(np.zeros((1, 3, 3, 4)), (6, 6))[0]
    assert grid[0].tolist() == [1, 1, 1, 1, 1, 0]
    # Scores that prefer "down" everywhere give columns first.
    scores = np.zeros((1, 3, 3, 4))
    scores[..., 2] = 1.0
    grid = carve(scores, (6, 6))[0]
    assert grid[:, 0].tolist() == [1, 1, 1, 1, 1, 0]


def test_gumbel_walk_is_the_backtracker_in_distribution():
    rng = np.random.default_rng(11)
    walked = batch_stats(carve(rng.gumbel(size=(1500, 14, 14, 4)), (28, 28)))
    reference = batch_stats(backtracker_batch(1500, rng=12))
    for key in ("dead_ends", "solution_length", "corridor_length"):
        a, b = walked[key].astype(float), reference[key].astype(float)
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se, (key, a.mean(), b.mean())


def test_depth_first_ranks_and_parents_from_another_start():
    scores = np.random.default_rng(0).standard_normal((4, 5, 6, 4))
    rank, parent = depth_first(scores, (10, 12), start=(4, 6))
    root = 2 * 6 + 3
    assert (rank[:, root] == 0).all() and (parent[:, root] == -1).all()
    assert sorted(rank[0].tolist()) == list(range(30))
    # A parent is always reached before its child.
    child = np.arange(30)
    for r, p in zip(rank, parent):
        has = p >= 0
        assert (r[p[has]] < r[child[has]]).all()
    assert is_perfect(links_to_grid(parents_to_links(parent, (10, 12)), (10, 12))).all()


def test_events_of_backtracker_mazes_rebuild_them():
    grids = backtracker_batch(50, rng=4)
    keys = np.random.default_rng(5).random((50, 14, 14, 4))
    parent, direction, available = carve_events(grids, keys)
    assert np.array_equal(links_to_grid(parents_to_links(parent, (28, 28)), (28, 28)), grids)
    moved = direction >= 0
    assert moved.sum(axis=1).tolist() == [195] * 50
    # The chosen direction was available, and available directions exist on the grid.
    chosen = np.take_along_axis(available, np.maximum(direction, 0)[..., None], axis=-1)[..., 0]
    assert chosen[moved].all() and not available[~moved].any()
    # Moves out of the start: the first saw both of its neighbours (right, down) unvisited.
    from_start = parent == 0
    both = available[..., 1] & available[..., 2] & ~available[..., 0] & ~available[..., 3]
    assert (both & from_start).any(axis=1).all()
    assert not available[from_start][:, [0, 3]].any()
    # Backtracker mazes offer a choice at most moves; the uniform-choice NLL is positive and finite.
    nll = np.log(available.sum(-1)[moved]).sum() / 50
    assert 60 < nll < 200


def test_events_reject_mazes_that_are_not_depth_first_trees():
    # A comb: the top row and every column open. Perfect, but from (0, 0) no walk carves it depth-first.
    grid = links_to_grid(np.zeros(364, dtype=np.uint8), (28, 28))
    grid[0, :27] = 1
    grid[:27, ::2] = 1
    assert is_perfect(grid)
    with pytest.raises(ValueError, match="grid 1 of the batch is not a perfect maze carved depth-first"):
        carve_events(np.stack([backtracker_batch(1, rng=0)[0], grid]), np.zeros((2, 14, 14, 4)))
    broken = backtracker_batch(1, rng=0).copy()
    links = grid_to_links(broken)
    broken = links_to_grid(np.where(np.arange(364) == np.argmax(links), 0, links), (28, 28))
    with pytest.raises(ValueError, match="194 links, 195 expected"):
        carve_events(broken, np.zeros((1, 14, 14, 4)))


@pytest.mark.parametrize("scores, message", [
    (np.zeros((2, 14, 14)), r"scores must have shape \(count, 14, 14, 4\)"),
    (np.zeros((2, 13, 14, 4)), r"got \(2, 13, 14, 4\)"),
    (np.zeros((2, 14, 14, 4), dtype=np.int64), "scores must be floating point, got dtype int64"),
    (np.full((2, 14, 14, 4), np.nan), "scores hold NaN"),
])
def test_bad_scores_name_the_problem(scores, message):
    with pytest.raises(ValueError, match=message):
        carve(scores, (28, 28))


def test_empty_batch():
    assert carve(np.zeros((0, 14, 14, 4)), (28, 28)).shape == (0, 28, 28)
