"""Checks and statistics of mazes: pure functions over one grid ``(H, W)`` or a batch ``(N, H, W)``.

Every function treats a nonzero position as open floor and works on any grid, lattice or not (a decoder's raw
output opens odd-odd positions and borders; the statistics must still mean something). A single grid gives a
Python scalar, a batch gives an array with one value per grid. The graph is the 4-neighbour graph of open
positions; distances are counted in positions (steps), so the straight path from ``(0, 0)`` to ``(26, 26)`` is 52.

These functions are the one implementation that the trainer's evaluation, repair, the runtime, the game, ``eval``
and the benchmarks all use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from daedalus.maze.grid import Position, as_batch, cell_mask, default_exit, default_start, wall_mask

try:  # compiled attributes for the target search (setup.py builds them; numpy gives the same numbers without)
    from daedalus.maze import _stats as _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None

# Label each grid of a batch separately: 4-neighbour connectivity within a grid, none across the batch axis.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def _open(grids: np.ndarray) -> tuple[np.ndarray, bool]:
    batch, single = as_batch(grids)
    return batch != 0, single


def _out(values: np.ndarray, single: bool):
    return values[0].item() if single else values


def degrees(grids: np.ndarray) -> np.ndarray:
    """Open 4-neighbours of each position (0 for walls): ``(H, W)`` or ``(N, H, W)`` int8."""
    batch, single = _open(grids)
    degree = np.zeros(batch.shape, dtype=np.int8)
    horizontal = batch[:, :, 1:] & batch[:, :, :-1]
    vertical = batch[:, 1:, :] & batch[:, :-1, :]
    degree[:, :, 1:] += horizontal
    degree[:, :, :-1] += horizontal
    degree[:, 1:, :] += vertical
    degree[:, :-1, :] += vertical
    degree *= batch
    return degree[0] if single else degree


def _edge_count(batch: np.ndarray) -> np.ndarray:
    horizontal = (batch[:, :, 1:] & batch[:, :, :-1]).sum(axis=(1, 2))
    vertical = (batch[:, 1:, :] & batch[:, :-1, :]).sum(axis=(1, 2))
    return (horizontal + vertical).astype(np.int64)


def _labels(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Component labels of a boolean batch and the number of components of each grid."""
    labels, total = ndimage.label(batch, structure=_STRUCTURE)
    counts = np.zeros(len(batch), dtype=np.int64)
    if total:
        # Each label lives in exactly one grid: count distinct labels per grid.
        owners = np.zeros(total + 1, dtype=np.int64)
        index = np.nonzero(labels)
        owners[labels[index]] = index[0]
        counts = np.bincount(owners[1:], minlength=len(batch)).astype(np.int64)
    return labels, counts


def is_lattice(grids: np.ndarray):
    """Whether the positions the lattice rule keeps wall (odd-odd, last row, last column) are all wall."""
    batch, single = _open(grids)
    mask = wall_mask(batch.shape[1:])
    return _out(~batch[:, mask].any(axis=1), single)


def pieces(grids: np.ndarray):
    """Connected pieces of open floor (0 for an all-wall grid)."""
    batch, single = _open(grids)
    return _out(_labels(batch)[1], single)


def loops(grids: np.ndarray):
    """Independent loops of the open-floor graph: edges − positions + pieces (0 for a tree or forest)."""
    batch, single = _open(grids)
    value = _edge_count(batch) - batch.sum(axis=(1, 2)) + _labels(batch)[1]
    return _out(value, single)


def dead_ends(grids: np.ndarray):
    """Open positions with exactly one open neighbour."""
    degree = degrees(grids)
    return _out(np.asarray((degree == 1).sum(axis=(-2, -1))).reshape(-1), degree.ndim == 2)


def _cell_links(grids: np.ndarray) -> tuple[np.ndarray, bool]:
    """For each cell (even-even position) of a batch, whether each of its four neighbours is open:
    ``(N, R, C, 4)`` bool in the order up, down, left, right (False off the grid and for closed cells)."""
    batch, single = _open(grids)
    _, height, width = batch.shape
    padded = np.pad(batch, ((0, 0), (1, 1), (1, 1)))
    # Position (r, c) sits at (r + 1, c + 1) in the padded grid; cells are r, c even.
    links = np.stack([
        padded[:, 0:height:2, 1:width + 1:2],
        padded[:, 2:height + 2:2, 1:width + 1:2],
        padded[:, 1:height + 1:2, 0:width:2],
        padded[:, 1:height + 1:2, 2:width + 2:2],
    ], axis=-1)
    links &= batch[:, ::2, ::2, None]
    return links, single


def _count_cells(values: np.ndarray, single: bool):
    return _out(values.sum(axis=(1, 2)).astype(np.int64), single)


def junctions(grids: np.ndarray):
    """Open cells (even-even positions) with three or four open links (neighbouring positions)."""
    links, single = _cell_links(grids)
    return _count_cells(links.sum(axis=-1) >= 3, single)


def straights(grids: np.ndarray):
    """Open cells with exactly two open links, opposite each other (up + down or left + right)."""
    links, single = _cell_links(grids)
    up, down, left, right = np.moveaxis(links, -1, 0)
    # Exactly one of the two opposite pairs open, the other pair closed.
    vertical = up & down & ~left & ~right
    horizontal = left & right & ~up & ~down
    return _count_cells(vertical | horizontal, single)


def turns(grids: np.ndarray):
    """Open cells with exactly two open links at a right angle (one vertical, one horizontal).

    Over cells, ``dead_ends`` (degree 1), ``straights`` + ``turns`` (degree 2) and ``junctions`` (degree ≥ 3)
    split the open cells by degree; ``dead_ends`` also counts non-cell positions, which on a lattice grid with
    every cell open never have degree 1, so for a perfect maze the four add up to the number of cells.
    """
    links, single = _cell_links(grids)
    up, down, left, right = np.moveaxis(links, -1, 0)
    two = links.sum(axis=-1) == 2
    return _count_cells(two & (up | down) & (left | right), single)


def is_perfect(grids: np.ndarray):
    """A perfect maze: lattice rule holds, every cell open, and the cells form a spanning tree
    (one piece, no loop)."""
    batch, single = _open(grids)
    cells = cell_mask(batch.shape[1:])
    lattice = ~batch[:, wall_mask(batch.shape[1:])].any(axis=1)
    all_cells = batch[:, cells].all(axis=1)
    _, count = _labels(batch)
    cyclomatic = _edge_count(batch) - batch.sum(axis=(1, 2)) + count
    return _out(lattice & all_cells & (count == 1) & (cyclomatic == 0), single)


def _endpoints(batch: np.ndarray, points, default: Position, name: str) -> np.ndarray:
    n, height, width = batch.shape
    if points is None:
        points = default
    points = np.asarray(points, dtype=np.int64)
    if points.shape == (2,):
        points = np.broadcast_to(points, (n, 2))
    if points.shape != (n, 2):
        raise ValueError(f"{name} must be a (row, col) pair or an array of shape ({n}, 2), got shape {points.shape}")
    bad = (points[:, 0] < 0) | (points[:, 0] >= height) | (points[:, 1] < 0) | (points[:, 1] >= width)
    if bad.any():
        raise ValueError(f"{name} {tuple(points[np.argmax(bad)])} lies outside the {height}x{width} grid")
    return points


def distances(grid: np.ndarray, start: Position | None = None) -> np.ndarray:
    """Breadth-first distance (in steps) from ``start`` to every position of one grid; −1 where unreachable."""
    batch, single = _open(grid)
    if not single:
        raise ValueError(f"distances takes one grid (H, W), got shape {np.shape(grid)}")
    (sr, sc), = _endpoints(batch, start, default_start(batch.shape[1:]), "start")
    dist = np.full(batch.shape[1:], -1, dtype=np.int32)
    if not batch[0, sr, sc]:
        return dist
    open_ = batch[0]
    frontier = np.zeros_like(open_)
    frontier[sr, sc] = True
    reached = frontier.copy()
    step = 0
    while frontier.any():
        dist[frontier] = step
        grown = np.zeros_like(frontier)
        grown[1:] |= frontier[:-1]
        grown[:-1] |= frontier[1:]
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        frontier = grown & open_ & ~reached
        reached |= frontier
        step += 1
    return dist


def solution_length(grids: np.ndarray, start=None, exit=None):
    """Shortest path length in steps from ``start`` to ``exit`` (defaults: the lattice's); −1 when unsolvable.

    ``start`` and ``exit`` are ``(row, col)`` pairs or, for a batch, arrays of shape ``(N, 2)``.
    """
    batch, single = _open(grids)
    starts = _endpoints(batch, start, default_start(batch.shape[1:]), "start")
    exits = _endpoints(batch, exit, default_exit(batch.shape[1:]), "exit")
    result = np.empty(len(batch), dtype=np.int64)
    # Chunks small enough for the working arrays to stay in cache.
    for lo in range(0, len(batch), _BFS_CHUNK):
        hi = lo + _BFS_CHUNK
        result[lo:hi] = _solution_length(batch[lo:hi], starts[lo:hi], exits[lo:hi])
    return _out(result, single)


_BFS_CHUNK = 64


def _solution_length(batch: np.ndarray, starts: np.ndarray, exits: np.ndarray) -> np.ndarray:
    n = len(batch)
    result = np.full(n, -1, dtype=np.int64)
    ok = batch[np.arange(n), starts[:, 0], starts[:, 1]] & batch[np.arange(n), exits[:, 0], exits[:, 1]]
    # Breadth-first search on the whole batch at once; decided grids (exit reached, or nothing left to explore)
    # are dropped from the working arrays whenever they make up a quarter of them, so the cost follows the sum of
    # the solution lengths rather than the longest one.
    alive = np.nonzero(ok)[0]
    open_ = batch[alive]
    frontier = np.zeros_like(open_)
    local = np.arange(len(alive))
    frontier[local, starts[alive, 0], starts[alive, 1]] = True
    reached = frontier.copy()
    ex = exits[alive]
    step = 0
    while len(alive):
        local = np.arange(len(alive))
        arrived = frontier[local, ex[:, 0], ex[:, 1]]
        result[alive[arrived]] = step
        grown = np.zeros_like(frontier)
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & open_ & ~reached
        reached |= frontier
        keep = ~arrived & frontier.any(axis=(1, 2))
        if keep.sum() < 0.75 * len(keep):
            alive, open_, frontier, reached, ex = alive[keep], open_[keep], frontier[keep], reached[keep], ex[keep]
        step += 1
    return result


def _sweep(batch: np.ndarray, cells: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search from one position per grid: the farthest reachable open cell (flat index) and its
    distance, for each grid of a batch."""
    n = len(batch)
    local = np.arange(n)
    frontier = np.zeros_like(batch)
    frontier.reshape(n, -1)[local, sources] = True
    reached = frontier.copy()
    far = sources.copy()
    far_dist = np.zeros(n, dtype=np.int64)
    step = 0
    while True:
        touched = frontier & cells
        hit = touched.reshape(n, -1).any(axis=1)
        far = np.where(hit, np.argmax(touched.reshape(n, -1), axis=1), far)
        far_dist = np.where(hit, step, far_dist)
        grown = np.zeros_like(frontier)
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & batch & ~reached
        if not frontier.any():
            return far, far_dist
        reached |= frontier
        step += 1


def _all_cells_diameter(grid: np.ndarray, cells: np.ndarray) -> int:
    """The largest distance between two connected open cells of one grid: a search from every open cell."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    height, width = grid.shape
    index = np.full(grid.shape, -1, dtype=np.int64)
    where = np.nonzero(grid.reshape(-1))[0]
    index.reshape(-1)[where] = np.arange(len(where))
    horizontal = grid[:, 1:] & grid[:, :-1]
    vertical = grid[1:, :] & grid[:-1, :]
    a = np.concatenate([index[:, :-1][horizontal], index[:-1, :][vertical]])
    b = np.concatenate([index[:, 1:][horizontal], index[1:, :][vertical]])
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(where), len(where))).tocsr()
    sources = index[cells & grid]
    if len(sources) < 2:
        return 0
    dist = shortest_path(graph, method="D", directed=False, unweighted=True, indices=sources)[:, sources]
    return int(dist[np.isfinite(dist)].max())


def longest_path(grids: np.ndarray):
    """The longest shortest path in steps between two open cells (even-even positions) of one piece: the maze's
    diameter over its cells (0 with fewer than two). A tree (one piece, no loop) takes two breadth-first sweeps,
    which are exact on a tree (the cell farthest from any cell ends a longest path); any other grid a search from
    every open cell."""
    batch, single = _open(grids)
    result = np.zeros(len(batch), dtype=np.int64)
    cells = np.zeros(batch.shape[1:], dtype=bool)
    cells[::2, ::2] = True
    has_cell = (batch & cells).any(axis=(1, 2))
    _, count = _labels(batch)
    tree = (count == 1) & (_edge_count(batch) - batch.sum(axis=(1, 2)) + count == 0) & has_cell
    trees = np.nonzero(tree)[0]
    for lo in range(0, len(trees), _BFS_CHUNK):
        part = trees[lo : lo + _BFS_CHUNK]
        sub = batch[part]
        first = np.argmax((sub & cells).reshape(len(part), -1), axis=1)
        far, _ = _sweep(sub, cells, first)
        _, result[part] = _sweep(sub, cells, far)
    for i in np.nonzero(~tree & has_cell)[0]:
        result[i] = _all_cells_diameter(batch[i], cells)
    return _out(result, single)


# The statistics ``attributes`` measures, in the order of its columns.
ATTRIBUTE_ORDER = ("solution_length", "longest_path", "dead_ends", "junctions", "loops")


def attributes(grids: np.ndarray, starts=None, exits=None, backend: str | None = None,
               longest: bool = True) -> np.ndarray:
    """``solution_length``, ``longest_path``, ``dead_ends``, ``junctions`` and ``loops`` of each grid of a batch
    (``ATTRIBUTE_ORDER``): int64 ``(N, 5)``, what the target search measures thousands of times per request.

    ``backend``: ``"c"`` (the compiled ``_stats``, the default where it is built) or ``"numpy"`` (the functions of
    this module); both give the same numbers. ``longest=False`` skips the longest path (the costliest: a search
    from many cells when the maze has loops) and leaves -1 in its column.
    """
    batch, _ = as_batch(grids)
    backend = backend or ("c" if _native is not None else "numpy")
    starts = _endpoints(batch, starts, default_start(batch.shape[1:]), "start")
    exits = _endpoints(batch, exits, default_exit(batch.shape[1:]), "exit")
    if backend == "numpy":
        longest_paths = longest_path(batch) if longest else np.full(len(batch), -1)
        return np.stack([solution_length(batch, starts, exits), longest_paths, dead_ends(batch),
                         junctions(batch), loops(batch)], axis=1).astype(np.int64)
    if backend != "c" or _native is None:
        raise ValueError(f"backend must be 'numpy' or 'c' (built: {_native is not None}), got {backend!r}")
    out = np.empty((len(batch), len(ATTRIBUTE_ORDER)), dtype=np.int64)
    grids_u8 = batch if batch.dtype == np.uint8 and batch.flags.c_contiguous else (batch != 0).view(np.uint8)
    _native.attributes(grids_u8, np.ascontiguousarray(starts, dtype=np.int64),
                       np.ascontiguousarray(exits, dtype=np.int64), out, len(batch), *batch.shape[1:], bool(longest))
    return out


def is_solvable(grids: np.ndarray, start=None, exit=None):
    """Whether ``exit`` is reachable from ``start`` through open floor."""
    length = solution_length(grids, start, exit)
    return (length >= 0) if not isinstance(length, int) else length >= 0


def corridor_lengths(grid: np.ndarray) -> np.ndarray:
    """Lengths in steps of the corridors of one grid.

    A corridor is a maximal chain of open positions with exactly two open neighbours, measured between the
    junctions or dead ends at its two ends (chain size + 1); a closed ring with no such end counts its size.
    Two junctions side by side form a corridor of length 1.
    """
    batch, single = _open(grid)
    if not single:
        raise ValueError(f"corridor_lengths takes one grid (H, W), got shape {np.shape(grid)}")
    return _corridors(batch)[0]


def _corridors(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All corridor lengths in a batch, and the grid each belongs to."""
    degree = degrees(batch)
    chain = degree == 2
    labels, total = ndimage.label(chain, structure=_STRUCTURE)
    lengths = np.zeros(0, dtype=np.int64)
    owners = np.zeros(0, dtype=np.int64)
    if total:
        index = np.nonzero(labels)
        sizes = np.bincount(labels[index], minlength=total + 1)[1:]
        owner = np.zeros(total + 1, dtype=np.int64)
        owner[labels[index]] = index[0]
        # A chain touching a non-chain open position has ends; a ring of degree-2 positions has none.
        ends = batch & ~chain
        touching = np.zeros_like(chain)
        touching[:, 1:] |= ends[:, :-1]
        touching[:, :-1] |= ends[:, 1:]
        touching[:, :, 1:] |= ends[:, :, :-1]
        touching[:, :, :-1] |= ends[:, :, 1:]
        has_end = np.zeros(total + 1, dtype=bool)
        has_end[labels[touching & chain]] = True
        lengths = sizes + has_end[1:]
        owners = owner[1:]
    junction = batch & ~chain
    direct_h = junction[:, :, 1:] & junction[:, :, :-1]
    direct_v = junction[:, 1:, :] & junction[:, :-1, :]
    direct = direct_h.sum(axis=(1, 2)) + direct_v.sum(axis=(1, 2))
    if direct.any():
        lengths = np.concatenate([lengths, np.ones(int(direct.sum()), dtype=np.int64)])
        owners = np.concatenate([owners, np.repeat(np.arange(len(batch)), direct)])
    return lengths, owners


def mean_corridor_length(grids: np.ndarray):
    """Mean corridor length per grid (0 when a grid has no corridor)."""
    batch, single = _open(grids)
    lengths, owners = _corridors(batch)
    total = np.bincount(owners, weights=lengths, minlength=len(batch))
    count = np.bincount(owners, minlength=len(batch))
    mean = np.divide(total, count, out=np.zeros(len(batch)), where=count > 0)
    return _out(mean, single)


def border_corridor(grids: np.ndarray):
    """Whether a straight L-shaped corridor along the border joins the corners (0, 0) and (H-2, W-2): top row +
    right column, or left column + bottom row, fully open. The seed VAE's thresholded samples show this
    artefact; a backtracker maze almost never does."""
    batch, single = _open(grids)
    _, height, width = batch.shape
    top_right = batch[:, 0, : width - 1].all(axis=1) & batch[:, : height - 1, width - 2].all(axis=1)
    left_bottom = batch[:, : height - 1, 0].all(axis=1) & batch[:, height - 2, : width - 1].all(axis=1)
    return _out(top_right | left_bottom, single)


STAT_NAMES = (
    "perfect",
    "lattice",
    "solvable",
    "pieces",
    "loops",
    "dead_ends",
    "junctions",
    "straights",
    "turns",
    "solution_length",
    "corridor_length",
    "border_corridor",
    "open_fraction",
)


def batch_stats(grids: np.ndarray, starts=None, exits=None) -> dict[str, np.ndarray]:
    """Every named statistic for each grid of a batch: a dict of arrays of length N (see ``STAT_NAMES``)."""
    batch, _ = as_batch(grids)
    length = solution_length(batch, starts, exits)
    return {
        "perfect": is_perfect(batch),
        "lattice": is_lattice(batch),
        "solvable": length >= 0,
        "pieces": pieces(batch),
        "loops": loops(batch),
        "dead_ends": dead_ends(batch),
        "junctions": junctions(batch),
        "straights": straights(batch),
        "turns": turns(batch),
        "solution_length": length,
        "corridor_length": mean_corridor_length(batch),
        "border_corridor": border_corridor(batch),
        "open_fraction": (batch != 0).mean(axis=(1, 2)),
    }


def level_stats(grid: np.ndarray, start: Position | None = None, exit: Position | None = None) -> dict:
    """Every named statistic of one grid, as plain Python values (JSON-ready)."""
    stats = batch_stats(np.asarray(grid)[None], None if start is None else [start], None if exit is None else [exit])
    return {name: values[0].item() for name, values in stats.items()}


def summarize(stats: dict[str, np.ndarray]) -> dict[str, float]:
    """Means of a ``batch_stats`` dict (rates for the boolean statistics). Solution length is averaged over
    solvable grids only."""
    out = {}
    for name, values in stats.items():
        values = np.asarray(values)
        if name == "solution_length":
            solved = values[values >= 0]
            out[name] = float(solved.mean()) if solved.size else float("nan")
        else:
            out[name] = float(values.mean()) if values.size else float("nan")
    return out


def distinct_fraction(grids: Sequence[np.ndarray] | np.ndarray) -> float:
    """Fraction of grids in a batch that are distinct from each other (1.0 = all different)."""
    batch, _ = as_batch(np.asarray(grids))
    if len(batch) == 0:
        return float("nan")
    rows = np.packbits((batch != 0).reshape(len(batch), -1), axis=1)
    return len(np.unique(rows, axis=0)) / len(batch)
