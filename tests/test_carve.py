import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze import backtracker, backtracker_batch, is_perfect, link_mask
from daedalus.maze.carve import (
    DIRECTIONS,
    NO_PARENT,
    depth_first_carve,
    max_probability_tree,
    parent_directions,
    repair_edits,
    threshold_grids,
)

seeds = st.integers(0, 2**32 - 1)
sizes = st.sampled_from([(4, 4), (6, 10), (12, 8), (28, 28)])


@settings(max_examples=25, deadline=None)
@given(seeds, sizes)
def test_parent_directions_lead_every_cell_to_the_start_through_open_links(seed, size):
    grid = backtracker(*size, rng=seed)
    parents = parent_directions(grid)
    rows, cols = parents.shape
    assert parents[0, 0] == NO_PARENT
    assert (parents >= 0).sum() == rows * cols - 1
    for r in range(rows):
        for c in range(cols):
            steps = 0
            while (r, c) != (0, 0):
                dr, dc = DIRECTIONS[parents[r, c]]
                assert grid[2 * r + dr, 2 * c + dc] == 1  # the link towards the parent is open
                r, c = r + dr, c + dc
                steps += 1
                assert steps <= rows * cols


def test_parent_directions_of_a_batch_match_single_grids():
    grids = backtracker_batch(5, rng=3)
    batch = parent_directions(grids)
    for grid, parents in zip(grids, batch):
        np.testing.assert_array_equal(parent_directions(grid), parents)


@settings(max_examples=20, deadline=None)
@given(seeds, sizes)
def test_repairs_keep_a_perfect_maze_unchanged(seed, size):
    grid = backtracker(*size, rng=seed)
    p = np.where(grid == 1, 0.9, 0.1)
    np.testing.assert_array_equal(max_probability_tree(p), grid)
    np.testing.assert_array_equal(depth_first_carve(p), grid)
    assert repair_edits(threshold_grids(p), grid) == 0.0


@settings(max_examples=20, deadline=None)
@given(seeds, sizes)
def test_repairs_of_noise_are_perfect_and_deterministic(seed, size):
    p = np.random.default_rng(seed).random((3,) + size)
    for repair in (max_probability_tree, depth_first_carve):
        out = repair(p)
        assert is_perfect(out).all()
        np.testing.assert_array_equal(out, repair(p))


def test_max_probability_tree_keeps_the_most_likely_links():
    rng = np.random.default_rng(0)
    p = rng.random((20, 28, 28))
    tree = max_probability_tree(p)
    dfs = depth_first_carve(p)
    links = link_mask((28, 28))
    # A maximum spanning tree has the largest summed link probability of all spanning trees.
    assert ((p * tree)[:, links].sum(1) >= (p * dfs)[:, links].sum(1) - 1e-9).all()


def test_depth_first_carve_has_the_backtracker_shape():
    from daedalus.maze import dead_ends, solution_length

    p = np.random.default_rng(1).random((200, 28, 28))
    carved = depth_first_carve(p)
    reference = backtracker_batch(200, rng=2)
    assert abs(dead_ends(carved).mean() - dead_ends(reference).mean()) < 2.0
    assert abs(solution_length(carved).mean() - solution_length(reference).mean()) < 20.0


def test_repair_edits_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        repair_edits(np.zeros((2, 4, 4)), np.zeros((3, 4, 4)))


def test_noisy_carve_is_perfect_and_reproducible_from_its_seed():
    p = np.random.default_rng(4).random((5, 12, 12))
    a = depth_first_carve(p, noise=0.3, rng=7)
    assert is_perfect(a).all()
    np.testing.assert_array_equal(a, depth_first_carve(p, noise=0.3, rng=7))
    with pytest.raises(ValueError, match="noise"):
        depth_first_carve(p, noise=-1.0)
