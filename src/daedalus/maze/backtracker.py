"""The recursive backtracker, as the seed describes it, made iterative.

1. Start at the cell ``(0, 0)`` and open it.
2. Look at the four moves from the current cell; keep those whose link and target cell are both still wall.
3. If any remain, pick one uniformly at random, open the link and the target cell, and continue from the target
   (the seed recurses here; we push it on a stack).
4. If none remain, backtrack to the previous cell (pop the stack); stop when the stack is empty.
5. The exit is the open cell furthest from the start by row + column.

An explicit stack replaces recursion, so any size works without a recursion limit. Randomness comes from a
``numpy.random.Generator`` (or an int seed) passed in, never from a global RNG.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np

from daedalus.maze.grid import DEFAULT_SIZE, Position, check_shape


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a generator (returned as is) or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise ValueError(f"seed must be a non-negative integer, a numpy Generator or None, got {rng!r}")


# The largest seed (and level code) accepted: every integer up to 2**53 is exact in a JSON number (a double), so a
# level's seed survives any JSON reader, JavaScript's included.
MAX_SEED = 2**53


def fresh_seed() -> int:
    """A seed from fresh OS entropy (never a global RNG), small enough to share as a level code (uint32)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint32)[0])


def _walk(n_rows: int, n_cols: int, rng: np.random.Generator) -> Iterator[tuple[str, int, int]]:
    """Yield ``("carve", from_cell, to_cell)`` and ``("back", from_cell, to_cell)`` events (flat cell indices)."""
    total = n_rows * n_cols
    visited = bytearray(total)
    visited[0] = 1
    stack = [0]
    # One uniform draw per carve, taken up front: a Generator call per step would dominate the run time.
    draws = rng.random(total).tolist()
    k = 0
    while stack:
        cell = stack[-1]
        r, c = divmod(cell, n_cols)
        options = []
        if r > 0 and not visited[cell - n_cols]:
            options.append(cell - n_cols)
        if c + 1 < n_cols and not visited[cell + 1]:
            options.append(cell + 1)
        if r + 1 < n_rows and not visited[cell + n_cols]:
            options.append(cell + n_cols)
        if c > 0 and not visited[cell - 1]:
            options.append(cell - 1)
        if not options:
            stack.pop()
            if stack:
                yield ("back", cell, stack[-1])
            continue
        target = options[int(draws[k] * len(options))]
        k += 1
        visited[target] = 1
        stack.append(target)
        yield ("carve", cell, target)


@lru_cache(maxsize=32)
def _neighbour_table(n_rows: int, n_cols: int) -> tuple[tuple[int, ...], ...]:
    """For each flat cell index, its neighbours in the order up, right, down, left."""
    table = []
    for cell in range(n_rows * n_cols):
        r, c = divmod(cell, n_cols)
        moves = []
        if r > 0:
            moves.append(cell - n_cols)
        if c + 1 < n_cols:
            moves.append(cell + 1)
        if r + 1 < n_rows:
            moves.append(cell + n_cols)
        if c > 0:
            moves.append(cell - 1)
        table.append(tuple(moves))
    return tuple(table)


def _carve_pairs(n_rows: int, n_cols: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """The carves of one walk as two lists (from cell, to cell): the same walk as ``_walk``, without the events."""
    neighbours = _neighbour_table(n_rows, n_cols)
    total = n_rows * n_cols
    visited = bytearray(total)
    visited[0] = 1
    stack = [0]
    draws = rng.random(total).tolist()
    sources, targets = [], []
    k = 0
    while stack:
        cell = stack[-1]
        options = [n for n in neighbours[cell] if not visited[n]]
        if not options:
            stack.pop()
            continue
        target = options[int(draws[k] * len(options))]
        k += 1
        visited[target] = 1
        stack.append(target)
        sources.append(cell)
        targets.append(target)
    return sources, targets


def backtracker(
    height: int = DEFAULT_SIZE, width: int = DEFAULT_SIZE, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """One perfect maze from the recursive backtracker.

    Args:
        height, width: grid size, even and ≥ 4 (cells on even coordinates).
        rng: a ``numpy.random.Generator`` or an int seed; the same seed gives the same maze.

    Returns:
        ``(height, width)`` uint8 grid, 1 = open floor.
    """
    height, width = check_shape(height, width)
    rng = as_generator(rng)
    n_cols = width // 2
    sources, targets = _carve_pairs(height // 2, width // 2, rng)
    a = np.array(sources, dtype=np.intp)
    b = np.array(targets, dtype=np.intp)
    # Cell (r, c) sits at (2r, 2c); the link between cells a and b at (ar + br, ac + bc).
    flat = np.zeros(height * width, dtype=np.uint8)
    flat[0] = 1
    flat[2 * (b // n_cols) * width + 2 * (b % n_cols)] = 1
    flat[(a // n_cols + b // n_cols) * width + (a % n_cols + b % n_cols)] = 1
    return flat.reshape(height, width)


def backtracker_batch(
    count: int, height: int = DEFAULT_SIZE, width: int = DEFAULT_SIZE, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """``count`` mazes as an ``(count, height, width)`` uint8 array, drawn in order from one generator."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    height, width = check_shape(height, width)
    rng = as_generator(rng)
    out = np.empty((int(count), height, width), dtype=np.uint8)
    for i in range(int(count)):
        out[i] = backtracker(height, width, rng)
    return out


def carve_frames(
    height: int = DEFAULT_SIZE, width: int = DEFAULT_SIZE, rng: int | np.random.Generator | None = None
) -> list[tuple[np.ndarray, Position]]:
    """The backtracker's steps for an animation: ``(grid so far, head position)`` after each carve and backtrack.

    The last frame's grid equals ``backtracker(height, width, rng)`` for the same seed.
    """
    height, width = check_shape(height, width)
    rng = as_generator(rng)
    n_cols = width // 2
    grid = np.zeros((height, width), dtype=np.uint8)
    grid[0, 0] = 1
    frames = [(grid.copy(), (0, 0))]
    for kind, a, b in _walk(height // 2, width // 2, rng):
        ar, ac = divmod(a, n_cols)
        br, bc = divmod(b, n_cols)
        if kind == "carve":
            grid[ar + br, ac + bc] = 1
            grid[2 * br, 2 * bc] = 1
        frames.append((grid.copy(), (2 * br, 2 * bc)))
    return frames
