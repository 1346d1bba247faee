"""The seed's recursive backtracker, run as the blog post writes it: recursion, Python's ``random`` module.

Kept only as a reference for tests and benchmarks; Daedalus's own generator is ``daedalus.maze.backtracker``.
"""

from __future__ import annotations

import random
import sys

import numpy as np


def seed_maze(size: int = 28, rng: random.Random | None = None) -> np.ndarray:
    """One maze carved recursively: look at the four moves, keep those whose link and target cell are both still
    wall, pick one at random, carve link + cell, recurse; backtrack when stuck."""
    rng = rng or random.Random()
    maze = np.zeros((size, size), dtype=np.uint8)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, size * size + 100))

    def carve(row: int, col: int) -> None:
        maze[row, col] = 1
        while True:
            moves = []
            for dr, dc in ((-2, 0), (0, 2), (2, 0), (0, -2)):
                r, c = row + dr, col + dc
                if 0 <= r < size - 1 and 0 <= c < size - 1:
                    if maze[r, c] == 0 and maze[row + dr // 2, col + dc // 2] == 0:
                        moves.append((dr, dc))
            if not moves:
                return
            dr, dc = rng.choice(moves)
            maze[row + dr // 2, col + dc // 2] = 1
            carve(row + dr, col + dc)

    try:
        carve(0, 0)
    finally:
        sys.setrecursionlimit(limit)
    return maze
