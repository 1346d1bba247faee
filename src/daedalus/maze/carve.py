"""Trees over the lattice: the parent of each cell in a perfect maze, and two repairs that turn a decoder's
open-floor probabilities into a perfect maze.

Pure numpy/scipy functions, deterministic (ties broken by link order). They work on the link vector of the
grid convention (``daedalus.maze.grid``), so the result always keeps the lattice rule.

* ``parent_directions``: for a perfect maze, the direction from each cell towards the start (the training target
  of a decoder that predicts a tree as "one parent per cell").
* ``max_probability_tree``: the spanning tree that maximises the summed link probabilities (the runtime repair's
  Borůvka tree, ordered by probability alone). When the thresholded input is already a perfect maze, it returns it
  unchanged.
* ``depth_first_carve``: the backtracker's rule driven by the decoder: walk from the start, always carve to the
  unvisited neighbour whose link the decoder likes best, backtrack only when no unvisited neighbour is left. Its
  output has the backtracker's shape (long corridors, few dead ends) whatever the decoder says; the edits it
  makes measure how far the decoder was from that.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

from daedalus.maze.grid import (
    DIRECTIONS,
    Position,
    as_batch,
    cell_shape,
    default_start,
    link_cells,
    link_positions,
    links_to_grid,
)
from daedalus.maze.repair import link_keys, spanning_tree

# A cell's parent lies one of grid.DIRECTIONS away (in cell units); the parent field stores that index.
NO_PARENT = -1


def _start_cell(shape: tuple[int, int], start: Position | None) -> int:
    start = default_start(shape) if start is None else start
    if start[0] % 2 or start[1] % 2:
        raise ValueError(f"start {tuple(start)} is not a cell position (both coordinates even)")
    return (start[0] // 2) * (shape[1] // 2) + start[1] // 2


def parent_directions(grids: np.ndarray, start: Position | None = None) -> np.ndarray:
    """Direction (index into ``DIRECTIONS``) from each cell to its parent on the way to ``start``.

    Args:
        grids: perfect mazes ``(H, W)`` or ``(N, H, W)``.
        start: the root cell (default: the lattice's start).

    Returns:
        int8 ``(R, C)`` or ``(N, R, C)``; ``NO_PARENT`` (−1) at the root and at cells not connected to it.
    """
    batch, single = as_batch(grids)
    n, height, width = batch.shape
    rows, cols = cell_shape((height, width))
    cells = rows * cols
    root = _start_cell((height, width), start)
    a, b = link_cells((height, width))
    links = batch[:, link_positions((height, width))[:, 0], link_positions((height, width))[:, 1]] != 0
    # One breadth-first search over all grids at once: a block-diagonal graph plus a super node joined to every
    # root, so the predecessor array gives every cell's parent.
    grid_index, link_index = np.nonzero(links)
    offset = grid_index * cells
    super_node = n * cells
    src = np.concatenate([offset + a[link_index], np.full(n, super_node)])
    dst = np.concatenate([offset + b[link_index], np.arange(n) * cells + root])
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(super_node + 1, super_node + 1))
    _, predecessors = breadth_first_order(graph.tocsr(), super_node, directed=False, return_predecessors=True)
    parent = predecessors[:super_node].reshape(n, cells)
    child = np.arange(cells)[None, :]
    reached = (parent >= 0) & (parent != super_node)
    delta = np.where(reached, parent % cells - child, 0)
    out = np.full((n, cells), NO_PARENT, dtype=np.int8)
    for k, (dr, dc) in enumerate(DIRECTIONS):
        out[reached & (delta == dr * cols + dc)] = k
    out = out.reshape(n, rows, cols)
    return out[0] if single else out


def _link_probabilities(probabilities: np.ndarray) -> tuple[np.ndarray, bool, tuple[int, int]]:
    batch, single = as_batch(probabilities)
    shape = batch.shape[1:]
    positions = link_positions(shape)
    return batch[:, positions[:, 0], positions[:, 1]].astype(np.float64), single, shape


def max_probability_tree(probabilities: np.ndarray) -> np.ndarray:
    """The perfect maze whose links have the largest summed probability (a maximum spanning tree).

    The runtime's vectorised spanning tree (``daedalus.maze.repair``) with a threshold no probability reaches, so
    links are ordered by probability alone (ties by link index).

    Args:
        probabilities: open-floor probabilities ``(H, W)`` or ``(N, H, W)`` (only link positions are read).

    Returns:
        uint8 perfect mazes of the same shape.
    """
    weights, single, shape = _link_probabilities(probabilities)
    link_probs = np.clip(weights, 0.0, 1.0).astype(np.float32)
    tree = spanning_tree(link_keys(link_probs, threshold=2.0), shape)
    grids = links_to_grid(tree.astype(np.uint8), shape)
    return grids[0] if single else grids


def depth_first_carve(probabilities: np.ndarray, start: Position | None = None, noise: float = 0.0,
                      rng: int | np.random.Generator | None = 0) -> np.ndarray:
    """A perfect maze carved by the backtracker's rule, choosing at each step the unvisited neighbour whose link
    has the highest score (ties: up, right, down, left).

    The score is the link's probability, plus ``noise`` times a uniform draw per link when ``noise > 0``: a smooth
    decoder makes the walk run straight for too long, and a little noise restores the backtracker's dead ends
    (``noise`` → ∞ is the backtracker itself, ignoring the decoder).

    Args:
        probabilities: open-floor probabilities ``(H, W)`` or ``(N, H, W)`` (only link positions are read).
        start: the cell the walk starts from (default: the lattice's start).
        noise: weight of the seeded uniform noise added to the scores (0: none, fully deterministic).
        rng: seed or ``numpy.random.Generator`` of the noise (used only when ``noise > 0``).

    Returns:
        uint8 perfect mazes of the same shape.
    """
    weights, single, shape = _link_probabilities(probabilities)
    if not noise >= 0:
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    if noise > 0:
        from daedalus.maze.backtracker import as_generator

        weights = weights + noise * as_generator(rng).random(weights.shape)
    rows, cols = cell_shape(shape)
    cells = rows * cols
    root = _start_cell(shape, start)
    a, b = link_cells(shape)
    # neighbour[c, k] and link_of[c, k]: the cell and link in direction k from cell c (−1 off the grid).
    neighbour = np.full((cells, 4), -1, dtype=np.intp)
    link_of = np.full((cells, 4), -1, dtype=np.intp)
    for index, (x, y) in enumerate(zip(a, b)):
        k = 1 if y == x + 1 else 2  # right or down from x
        neighbour[x, k], link_of[x, k] = y, index
        neighbour[y, (k + 2) % 4], link_of[y, (k + 2) % 4] = x, index
    neighbour_list = neighbour.tolist()
    link_list = link_of.tolist()
    links = np.zeros(weights.shape, dtype=np.uint8)
    for i, w in enumerate(weights):
        score = w.tolist()
        visited = [False] * cells
        visited[root] = True
        stack = [root]
        opened = links[i]
        while stack:
            cell = stack[-1]
            best, best_score, best_link = -1, -1.0, -1
            for k in range(4):
                nb = neighbour_list[cell][k]
                if nb >= 0 and not visited[nb]:
                    s = score[link_list[cell][k]]
                    if s > best_score:
                        best, best_score, best_link = nb, s, link_list[cell][k]
            if best < 0:
                stack.pop()
                continue
            visited[best] = True
            opened[best_link] = 1
            stack.append(best)
    grids = links_to_grid(links, shape)
    return grids[0] if single else grids


def repair_edits(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Fraction of positions that differ between ``before`` (thresholded, nonzero = open) and ``after``, per grid."""
    before, single = as_batch(before)
    after, _ = as_batch(after)
    if before.shape != after.shape:
        raise ValueError(f"before and after must have the same shape, got {before.shape} and {after.shape}")
    value = ((before != 0) != (after != 0)).mean(axis=(1, 2))
    return value[0].item() if single else value


def threshold_grids(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Open where ``probabilities >= threshold``: uint8 grids of the same shape."""
    return (np.asarray(probabilities) >= threshold).astype(np.uint8)


def tree_depths(parents: np.ndarray) -> np.ndarray:
    """Steps (in cells) from each cell to the root along a parent field.

    Args:
        parents: directions as ``parent_directions`` returns them, ``(R, C)`` or ``(N, R, C)``.

    Returns:
        int64 depths of the same shape; 0 at the root and at cells without a parent. Pointer jumping:
        ``log2(cells)`` vectorised rounds, so a batch costs a few array passes.
    """
    parents = np.asarray(parents)
    single = parents.ndim == 2
    batch = parents[None] if single else parents
    n, rows, cols = batch.shape
    cells = rows * cols
    flat = batch.reshape(n, cells).astype(np.int64)
    index = np.arange(cells)
    step = np.array([dr * cols + dc for dr, dc in DIRECTIONS])
    ancestor = np.where(flat >= 0, index[None, :] + step[np.maximum(flat, 0)], index[None, :])
    depth = (flat >= 0).astype(np.int64)
    rows_index = np.arange(n)[:, None]
    for _ in range(int(np.ceil(np.log2(max(cells, 2)))) + 1):
        depth = depth + depth[rows_index, ancestor]
        ancestor = ancestor[rows_index, ancestor]
    depth = depth.reshape(n, rows, cols)
    return depth[0] if single else depth
