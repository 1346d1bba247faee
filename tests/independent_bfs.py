"""A breadth-first search written plainly for the tests, independent of the library's statistics and repair."""

from __future__ import annotations

from collections import deque


def bfs_reachable(grid, start) -> set[tuple[int, int]]:
    """The open positions reachable from ``start`` (empty when ``start`` is a wall)."""
    height, width = grid.shape
    start = tuple(int(v) for v in start)
    if not grid[start]:
        return set()
    seen = {start}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < height and 0 <= nc < width and grid[nr, nc] and (nr, nc) not in seen:
                seen.add((nr, nc))
                queue.append((nr, nc))
    return seen
