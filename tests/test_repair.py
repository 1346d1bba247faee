"""Repair (daedalus.maze.repair): every output is solvable, perfect mode gives spanning trees, the edits are
the fewest a spanning tree allows, and the tree is the one Kruskal's algorithm picks."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from daedalus.maze import backtracker_batch, cell_mask, is_lattice, is_perfect, link_cells, link_positions, wall_mask
from daedalus.maze.repair import link_keys, repair, spanning_tree
from independent_bfs import bfs_reachable


def probabilities(seed, count, shape, kind):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((count, *shape), dtype=np.float32)
    if kind == "noisy-maze":
        mazes = backtracker_batch(count, *shape, rng).astype(np.float32)
        return np.clip(mazes + rng.normal(0, 0.35, mazes.shape), -0.5, 1.5).astype(np.float32)
    if kind == "sparse":
        return (rng.random((count, *shape)) ** 4).astype(np.float32)
    return (1 - rng.random((count, *shape)) ** 4).astype(np.float32)


shapes = st.sampled_from([(28, 28), (4, 4), (10, 16), (20, 6)])
kinds = st.sampled_from(["uniform", "noisy-maze", "sparse", "dense"])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, kind=kinds, mode=st.sampled_from(["perfect", "braid"]))
def test_every_repaired_maze_is_solvable_and_fully_reachable(seed, shape, kind, mode):
    p = probabilities(seed, 6, shape, kind)
    result = repair(p, 0.5, mode)
    exit = (shape[0] - 2, shape[1] - 2)
    for grid in result.grids:
        reached = bfs_reachable(grid, (0, 0))
        assert exit in reached
        assert len(reached) == int(grid.sum())  # every open position is reachable
    assert is_lattice(result.grids).all()
    if mode == "perfect":
        assert is_perfect(result.grids).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, kind=kinds)
def test_edits_are_counted_and_minimal(seed, shape, kind):
    p = probabilities(seed, 5, shape, kind)
    thresholded = p >= 0.5
    perfect, braid = repair(p, 0.5, "perfect"), repair(p, 0.5, "braid")
    for result in (perfect, braid):
        assert (result.edits == (result.grids != thresholded).sum(axis=(1, 2))).all()
    # A spanning tree keeps at most cells - (pieces of the open-link graph) of the open links; ours keeps that many.
    a, b = link_cells(shape)
    positions = link_positions(shape)
    cells = int(cell_mask(shape).sum())
    fixed = (~thresholded[:, cell_mask(shape)]).sum(1) + thresholded[:, wall_mask(shape)].sum(1)
    for i in range(len(p)):
        opened = thresholded[i, positions[:, 0], positions[:, 1]]
        graph = coo_matrix((np.ones(opened.sum()), (a[opened], b[opened])), shape=(cells, cells))
        pieces = connected_components(graph, directed=False)[0]
        kept = cells - pieces
        best = fixed[i] + (opened.sum() - kept) + (cells - 1 - kept)
        assert perfect.edits[i] == best
        # braid adds only the links that join the pieces, and removes none
        assert braid.edits[i] == fixed[i] + pieces - 1
        assert (braid.grids[i][positions[opened, 0], positions[opened, 1]] == 1).all()


def kruskal(keys, shape):
    """Reference maximum spanning tree: Kruskal with a union-find, one maze."""
    a, b = link_cells(shape)
    parent = list(range(int(cell_mask(shape).sum())))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree = np.zeros(len(a), dtype=bool)
    for link in np.argsort(-keys, kind="stable"):
        ra, rb = find(int(a[link])), find(int(b[link]))
        if ra != rb:
            parent[ra] = rb
            tree[link] = True
    return tree


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, kind=kinds)
def test_boruvka_picks_the_same_tree_as_kruskal(seed, shape, kind):
    p = np.clip(probabilities(seed, 6, shape, kind), 0, 1)
    positions = link_positions(shape)
    keys = link_keys(p[:, positions[:, 0], positions[:, 1]], 0.5)
    trees = spanning_tree(keys, shape)
    for i in range(len(p)):
        assert (trees[i] == kruskal(keys[i], shape)).all()
    # the small-batch path (Kruskal per maze) gives the same repaired mazes as the vectorised one
    for mode in ("perfect", "braid"):
        whole = repair(p, 0.5, mode)
        for i in range(len(p)):
            one = repair(p[i], 0.5, mode)
            assert (one.grids == whole.grids[i]).all() and one.edits == whole.edits[i]


def test_backtracker_mazes_pass_unchanged():
    mazes = backtracker_batch(50, 28, 28, 3)
    for mode in ("perfect", "braid"):
        result = repair(mazes.astype(np.float32) * 0.8 + 0.1, 0.5, mode)
        assert (result.grids == mazes).all() and (result.edits == 0).all()


def test_braid_keeps_the_decoders_loops():
    mazes = backtracker_batch(1, 28, 28, 5)[0].astype(np.float32)
    mazes[2, 3] = mazes[3, 2] = mazes[1, 0] = mazes[0, 1] = 1.0  # open every link around cells (0..2, 0..2)
    braid = repair(mazes, 0.5, "braid")
    perfect = repair(mazes, 0.5, "perfect")
    from daedalus.maze import loops

    assert loops(braid.grids) >= 1 and loops(perfect.grids) == 0
    assert bfs_reachable(braid.grids, (0, 0)) >= {(26, 26)}


def test_single_grid_and_extremes():
    for value in (0.0, 1.0, 0.5, -3.0, 7.0):
        result = repair(np.full((28, 28), value, dtype=np.float32))
        assert is_perfect(result.grids) and isinstance(result.edits, int)
    empty = repair(np.zeros((0, 28, 28), dtype=np.float32))
    assert empty.grids.shape == (0, 28, 28) and empty.edits.shape == (0,)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="finite"):
        repair(np.full((28, 28), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="mode"):
        repair(np.zeros((28, 28)), mode="spiral")
    with pytest.raises(ValueError, match="threshold"):
        repair(np.zeros((28, 28)), threshold=0.0)
    with pytest.raises(ValueError, match="start"):
        repair(np.zeros((28, 28)), start=(1, 1))
    with pytest.raises(ValueError, match="even"):
        repair(np.zeros((27, 28)))
