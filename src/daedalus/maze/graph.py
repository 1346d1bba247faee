"""Graph helpers for games that run on a maze: all shortest-path distances at once, and the loop core.

- ``distance_table``: every breadth-first distance between open positions, computed once (scipy, in C) so that a
  game loop can look distances up instead of searching every frame. It agrees with ``stats.distances``.
- ``loop_core``: prune every open position with at most one open neighbour, again and again, until none is left to
  prune: what remains (the graph's 2-core) are the loops and the corridors between them. A perfect maze has an
  empty core; a braid maze keeps its loops there. The game's autopilot flees into the core because a chaser can
  follow it round a loop for ever but corners it in a dead end.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from daedalus.maze.stats import degrees


def _one_grid(grid: np.ndarray, name: str) -> np.ndarray:
    grid = np.asarray(grid)
    if grid.ndim != 2:
        raise ValueError(f"{name} takes one grid (H, W), got shape {grid.shape}")
    return grid != 0


def distance_table(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All breadth-first distances (in steps, 4-neighbour moves through open floor) between open positions.

    Args:
        grid: one ``(H, W)`` maze, nonzero = open.

    Returns:
        ``(index, table)``: ``index`` is ``(H, W)`` int32, the row of ``table`` for each open position and −1 for
        walls; ``table`` is ``(N, N)`` int16 for the ``N`` open positions (row-major order), −1 where unreachable.
        The distance from ``a`` to ``b`` is ``table[index[a], index[b]]``.
    """
    open_ = _one_grid(grid, "distance_table")
    height, width = open_.shape
    index = np.full(open_.shape, -1, dtype=np.int32)
    rows, cols = np.nonzero(open_)
    n = len(rows)
    index[rows, cols] = np.arange(n, dtype=np.int32)
    a, b = [], []
    for dr, dc in ((0, 1), (1, 0)):
        r2, c2 = rows + dr, cols + dc
        ok = (r2 < height) & (c2 < width)
        ok[ok] &= open_[r2[ok], c2[ok]]
        a.append(index[rows[ok], cols[ok]])
        b.append(index[r2[ok], c2[ok]])
    a, b = np.concatenate(a), np.concatenate(b)
    graph = csr_matrix((np.ones(len(a), dtype=np.float32), (a, b)), shape=(n, n))
    dist = shortest_path(graph, directed=False, unweighted=True) if n else np.zeros((0, 0))
    table = np.where(np.isfinite(dist), dist, -1).astype(np.int16)
    return index, table


def loop_core(grid: np.ndarray) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the open positions in the 2-core of one grid's open-floor graph.

    Args:
        grid: one ``(H, W)`` maze, nonzero = open.

    Returns:
        ``(H, W)`` bool array, True on loops and on the corridors that join loops; all False for a tree.
    """
    alive = _one_grid(grid, "loop_core")
    while True:
        prune = alive & (degrees(alive.astype(np.uint8)) <= 1)
        if not prune.any():
            return alive
        alive &= ~prune
