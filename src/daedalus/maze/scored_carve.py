"""The backtracker driven by scores: the sampler of the ``carve`` decoder, vectorised over a batch.

Each cell has a score per direction (up, right, down, left). The walk starts at the start cell; at each step it
moves to the unvisited neighbour with the highest score of the current cell and backtracks when none is left — the
backtracker's rule, with its uniform choice replaced by the scores. With Gumbel noise added to ``logits / T``,
the choice among the unvisited neighbours is a draw from ``softmax(logits / T)`` restricted to them (the Gumbel-max
trick; the same noise serves a cell's later choices, which keeps the draws consistent: Plackett–Luce). With equal
scores and noise, it *is* the recursive backtracker.

The output is always a spanning tree (a perfect maze): every cell is reached once, from one neighbour.

The whole batch is one graph for ``scipy.sparse.csgraph.depth_first_order`` (compiled code): each cell lists its
neighbours best score first, and a super-root leads to every maze's start, so one call walks them all.
``depth_first_order`` takes a row's neighbours in stored order; the CSR data is built float64 with no duplicate
entries because a conversion would sort the rows.

``carve_events`` turns a perfect maze back into the choices the walk made (what the decoder is trained on): for
every cell but the start, which neighbour its parent chose it from, and which neighbours were still unvisited then.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order

# DIRECTIONS: (row, col) steps in cell units, the order of the score axis (the backtracker's order).
from daedalus.maze.grid import DIRECTIONS, Position, cell_shape, check_shape, default_start, link_positions


@lru_cache(maxsize=16)
def neighbour_table(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(neighbour, valid)``: int32 ``(R*C, 4)`` flat index of the neighbour in each direction (the cell itself
    off the grid) and bool ``(R*C, 4)`` whether that neighbour exists."""
    cell = np.arange(rows * cols)
    r, c = cell // cols, cell % cols
    neighbour = np.empty((rows * cols, 4), dtype=np.int32)
    valid = np.empty((rows * cols, 4), dtype=bool)
    for k, (dr, dc) in enumerate(DIRECTIONS):
        ok = (r + dr >= 0) & (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
        neighbour[:, k] = np.where(ok, (r + dr) * cols + c + dc, cell)
        valid[:, k] = ok
    neighbour.setflags(write=False)
    valid.setflags(write=False)
    return neighbour, valid


@lru_cache(maxsize=16)
def _link_of(rows: int, cols: int) -> np.ndarray:
    """int64 ``(R*C, 4)``: the link index (grid convention order) between a cell and its neighbour (−1 off grid)."""
    height, width = 2 * rows, 2 * cols
    index = np.full((height, width), -1, dtype=np.int64)
    positions = link_positions((height, width))
    index[positions[:, 0], positions[:, 1]] = np.arange(len(positions))
    cell = np.arange(rows * cols)
    r, c = cell // cols, cell % cols
    table = np.full((rows * cols, 4), -1, dtype=np.int64)
    _, valid = neighbour_table(rows, cols)
    for k, (dr, dc) in enumerate(DIRECTIONS):
        ok = valid[:, k]
        table[ok, k] = index[2 * r[ok] + dr, 2 * c[ok] + dc]
    table.setflags(write=False)
    return table


def start_cell(shape: tuple[int, int], start: Position | None = None) -> int:
    """Flat cell index of ``start`` (a grid position; default: the lattice's start)."""
    height, width = check_shape(*shape)
    start = default_start(shape) if start is None else tuple(start)
    if start[0] % 2 or start[1] % 2 or not (0 <= start[0] < height - 1 and 0 <= start[1] < width - 1):
        raise ValueError(f"start {start} is not a cell position of a {height}x{width} grid (both even, inside)")
    return (start[0] // 2) * (width // 2) + start[1] // 2


def _check_scores(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows, cols = cell_shape(shape)
    scores = np.asarray(scores)
    if scores.ndim != 4 or scores.shape[1:] != (rows, cols, 4):
        raise ValueError(f"scores must have shape (count, {rows}, {cols}, 4) for a {shape[0]}x{shape[1]} maze, "
                         f"got {scores.shape}")
    if scores.dtype.kind != "f":
        raise ValueError(f"scores must be floating point, got dtype {scores.dtype}")
    if np.isnan(scores).any():
        raise ValueError("scores hold NaN")
    return scores.reshape(len(scores), rows * cols, 4)


def depth_first(scores: np.ndarray, shape: tuple[int, int], start: Position | None = None):
    """Walk every maze of a batch depth-first by its scores.

    Args:
        scores: float ``(N, R, C, 4)``, per cell and direction (up, right, down, left); higher goes first, ties
            go in direction order; directions off the grid are ignored whatever their score.
        shape: the grid ``(H, W)``.
        start: the start cell's grid position (default: the lattice's start).

    Returns:
        ``(rank, parent)``, int64 ``(N, R*C)`` each: the step at which each cell was reached (0 for the start)
        and the flat index of the cell it was reached from (−1 for the start).
    """
    shape = check_shape(*shape)
    flat = _check_scores(scores, shape)
    rows, cols = cell_shape(shape)
    cells = rows * cols
    count = len(flat)
    root = start_cell(shape, start)
    neighbour, valid = neighbour_table(rows, cols)
    if count == 0:
        empty = np.zeros((0, cells), dtype=np.int64)
        return empty, empty.copy()
    # Each cell's neighbours, best score first (a stable sort: ties go in direction order); off-grid last.
    order = np.argsort(np.where(valid, -flat, np.inf), axis=-1, kind="stable")
    offsets = (np.arange(count, dtype=np.int32) * cells)[:, None, None]
    order += (np.arange(cells) * 4)[None, :, None]
    ordered = neighbour.ravel()[order] + offsets
    keep = valid.ravel()[order]
    super_root = count * cells
    indices = np.concatenate([ordered[keep], offsets[:, 0, 0] + root])
    degree = np.broadcast_to(valid.sum(axis=1), (count, cells)).reshape(-1)
    indptr = np.zeros(super_root + 2, dtype=np.int32)
    np.cumsum(degree, out=indptr[1 : super_root + 1])
    indptr[-1] = indptr[-2] + count
    graph = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(super_root + 1, super_root + 1))
    order, predecessors = depth_first_order(graph, super_root, directed=True, return_predecessors=True)
    visit = np.empty(super_root + 1, dtype=np.int64)
    visit[order] = np.arange(super_root + 1)
    maze_offsets = offsets[:, :, 0].astype(np.int64)
    rank_out = visit[:super_root].reshape(count, cells) - visit[maze_offsets + root]
    parent = predecessors[:super_root].astype(np.int64).reshape(count, cells) - maze_offsets
    parent[:, root] = -1
    return rank_out, parent


def parents_to_links(parent: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 ``(N, L)`` links of a parent field ``(N, R*C)`` (−1 = no parent)."""
    rows, cols = cell_shape(check_shape(*shape))
    neighbour, _ = neighbour_table(rows, cols)
    link_of = _link_of(rows, cols)
    count, cells = parent.shape
    child = np.broadcast_to(np.arange(cells), parent.shape)
    has = parent >= 0
    # The direction from child to parent, from their index difference (−C up, +1 right, +C down, −1 left).
    direction_of = np.zeros(2 * cols + 1, dtype=np.int64)
    direction_of[[0, cols + 1, 2 * cols, cols - 1]] = [0, 1, 2, 3]
    direction = direction_of[np.clip(parent - child + cols, 0, 2 * cols)]
    links = np.zeros((count, len(link_positions((2 * rows, 2 * cols)))), dtype=np.uint8)
    rows_idx, _ = np.nonzero(has)
    links[rows_idx, link_of[child[has], direction[has]]] = 1
    return links


def carve(scores: np.ndarray, shape: tuple[int, int], start: Position | None = None) -> np.ndarray:
    """Perfect mazes ``(N, H, W)`` uint8 walked by ``scores`` (see :func:`depth_first`)."""
    from daedalus.maze.grid import links_to_grid

    shape = check_shape(*shape)
    _, parent = depth_first(scores, shape, start)
    return links_to_grid(parents_to_links(parent, shape), shape)


def depth_first_trees(grids: np.ndarray, start: Position | None = None) -> np.ndarray:
    """Which of the ``(N, H, W)`` grids are perfect mazes that a depth-first walk from the start carves (bool
    ``(N,)``): every cell reached through its links and no link joining two branches. The backtracker's mazes all
    are; a spanning tree of another kind (Kruskal's, Prim's) almost never is."""
    grids = np.asarray(grids)
    rows, cols = cell_shape(check_shape(*grids.shape[-2:]))
    return ~_walk_links(grids, np.zeros((len(grids), rows, cols, 4)), start)[3]


def _walk_links(grids: np.ndarray, keys: np.ndarray, start: Position | None):
    """The depth-first walk along each grid's open links, branches ordered by ``keys``: ``(rank, parent,
    direction, bad, n_links)``; ``bad`` (bool ``(N,)``) marks the grids that are not a tree the walk carves."""
    shape = check_shape(*grids.shape[-2:])
    rows, cols = cell_shape(shape)
    neighbour, valid = neighbour_table(rows, cols)
    link_of = _link_of(rows, cols)
    positions = link_positions(shape)
    links = grids[:, positions[:, 0], positions[:, 1]] != 0
    open_dir = np.zeros((len(grids), rows * cols, 4), dtype=bool)
    open_dir[:, valid] = links[:, link_of[valid]]
    keys = np.asarray(keys, dtype=np.float64).reshape(len(grids), rows * cols, 4)
    rank, parent = depth_first(np.where(open_dir, keys + 2.0, -1.0).reshape(len(grids), rows, cols, 4), shape,
                               start)
    child = np.broadcast_to(np.arange(rows * cols), parent.shape)
    safe_parent = np.maximum(parent, 0)
    direction = np.argmax(neighbour[safe_parent] == child[..., None], axis=-1)
    direction = np.where(parent >= 0, direction, -1)
    # The walk reaches every cell; it is the maze's own tree when it never crossed a wall and the maze has no
    # other link. (A perfect maze that is not a depth-first tree from the start, e.g. Kruskal's, crosses one.)
    crossed = ((parent >= 0) & ~np.take_along_axis(open_dir[np.arange(len(grids))[:, None], safe_parent],
                                                    np.maximum(direction, 0)[..., None], axis=-1)[..., 0]).any(1)
    n_links = links.sum(axis=1)
    return rank, parent, direction, crossed | (n_links != rows * cols - 1), n_links


def carve_events(grids: np.ndarray, keys: np.ndarray, start: Position | None = None):
    """The choices a depth-first walk made to carve each perfect maze.

    A perfect maze is a depth-first tree from any cell (no link joins two branches), but the order in which a cell's
    branches were taken is not in the maze; ``keys`` (uniform draws, ``(N, R, C, 4)``) pick it at random, as the
    backtracker did.

    Args:
        grids: perfect mazes ``(N, H, W)`` (nonzero = open).
        keys: float ``(N, R, C, 4)`` random keys ordering each cell's branches.
        start: the walk's start (default: the lattice's start).

    Returns:
        ``(parent, direction, available)``: int64 ``(N, R*C)`` the cell each cell was carved from (−1 at the
        start), int64 ``(N, R*C)`` the direction of that move from the parent (−1 at the start), and bool
        ``(N, R*C, 4)`` which of the parent's neighbours were unvisited at the move (the chosen one included).

    Raises:
        ValueError: a grid is not a perfect maze (some cell is not reached through its links).
    """
    grids = np.asarray(grids)
    rows, cols = cell_shape(check_shape(*grids.shape[-2:]))
    neighbour, valid = neighbour_table(rows, cols)
    rank, parent, direction, bad, n_links = _walk_links(grids, keys, start)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"grid {i} of the batch is not a perfect maze carved depth-first from the start "
                         f"({int(n_links[i])} links, {rows * cols - 1} expected, none joining two branches)")
    safe_parent = np.maximum(parent, 0)
    # At the move parent → child the unvisited cells are exactly those reached at or after the child.
    nbr_rank = np.take_along_axis(rank, neighbour[safe_parent].reshape(len(grids), -1).astype(np.int64),
                                  axis=1).reshape(len(grids), rows * cols, 4)
    available = valid[safe_parent] & (nbr_rank >= rank[..., None]) & (parent >= 0)[..., None]
    return parent, direction.astype(np.int64), available
