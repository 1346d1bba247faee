"""daedalus.maze.graph: the distance table agrees with stats.distances; the loop core keeps exactly the loops."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze import backtracker, distances, loops
from daedalus.maze.graph import distance_table, loop_core


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.sampled_from([(8, 8), (12, 20), (28, 28)]))
def test_distance_table_matches_breadth_first_distances(seed, size):
    rng = np.random.default_rng(seed)
    grid = backtracker(*size, rng)
    grid[rng.integers(0, size[0]), rng.integers(0, size[1])] ^= 1  # break the lattice sometimes
    index, table = distance_table(grid)
    open_ = np.argwhere(grid != 0)
    for a in open_[rng.choice(len(open_), size=5)]:
        expected = distances(grid, tuple(a))
        got = np.full(grid.shape, -1)
        got[grid != 0] = table[index[tuple(a)]]
        assert np.array_equal(got, expected)
    assert (index[grid == 0] == -1).all()


def test_distance_table_marks_unreachable_pairs():
    grid = np.zeros((4, 4), dtype=np.uint8)
    grid[0, 0] = grid[2, 2] = 1
    index, table = distance_table(grid)
    assert table[index[0, 0], index[2, 2]] == -1 and table[index[0, 0], index[0, 0]] == 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_loop_core_of_a_perfect_maze_is_empty_and_braids_keep_their_loops(seed):
    grid = backtracker(28, 28, seed)
    assert not loop_core(grid).any()
    rng = np.random.default_rng(seed)
    closed = np.argwhere((grid == 0) & ((np.indices(grid.shape).sum(0) % 2) == 1))
    closed = closed[(closed[:, 0] < 27) & (closed[:, 1] < 27)]
    for r, c in closed[rng.choice(len(closed), size=5, replace=False)]:
        grid[r, c] = 1
    core = loop_core(grid)
    assert core.any()
    # The core loses no loop, and every core position has at least two core neighbours.
    assert loops(core.astype(np.uint8)) == loops(grid)
    padded = np.pad(core, 1)
    neighbours = padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    assert (neighbours[core] >= 2).all()
