"""The grid convention, defined once.

A maze is an ``(H, W)`` uint8 array, ``1`` = open floor, ``0`` = wall, indexed ``(row, col)``.
Cells sit on even coordinates (``H // 2`` × ``W // 2`` cells); the link between two neighbouring cells is the
position between them; odd-odd positions, the last row and the last column are always wall (the *lattice rule*).

A maze is also described by its *links*: the ``R * (C - 1) + (R - 1) * C`` positions the lattice leaves free
(364 for 28 × 28). Horizontal links come first in row-major order, then vertical links.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

OPEN = 1
WALL = 0
DEFAULT_SIZE = 28
LATTICE_RULE = "cells-even-links-between-odd-odd-wall-last-row-col-wall"

Position = tuple[int, int]

# The four moves between neighbours as (row, col) steps, clockwise from up: the one order of every direction axis
# (a carve decoder's scores, parent fields, the game's moves). A step between cells is twice the step.
DIRECTION_NAMES = ("up", "right", "down", "left")
DIRECTIONS: tuple[Position, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))


def check_shape(height: int, width: int) -> tuple[int, int]:
    """Validate a maze size; return it as ``(height, width)`` ints.

    Raises:
        ValueError: naming the value when a side is not an even integer ≥ 4.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"maze {name} must be an even integer >= 4, got {value!r}")
        if value < 4 or value % 2:
            raise ValueError(f"maze {name} must be an even integer >= 4, got {value}")
    return int(height), int(width)


def cell_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """``(rows, cols)`` of cells for a grid of ``shape``."""
    height, width = check_shape(*shape)
    return height // 2, width // 2


def default_start(shape: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)) -> Position:
    """Where the backtracker starts and the player spawns: the top-left cell."""
    check_shape(*shape)
    return (0, 0)


def default_exit(shape: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)) -> Position:
    """The cell furthest from ``(0, 0)`` by row + column: ``(H - 2, W - 2)``."""
    height, width = check_shape(*shape)
    return (height - 2, width - 2)


def furthest_open(grid: np.ndarray, start: Position = (0, 0)) -> Position:
    """The open position furthest from ``start`` by row + column (ties: the first in row-major order)."""
    rows, cols = np.nonzero(grid)
    if rows.size == 0:
        raise ValueError("grid has no open position")
    distance = np.abs(rows - start[0]) + np.abs(cols - start[1])
    best = int(np.argmax(distance))
    return (int(rows[best]), int(cols[best]))


@lru_cache(maxsize=32)
def _masks(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    height, width = shape
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    cells = (rows % 2 == 0) & (cols % 2 == 0)
    fixed_wall = ((rows % 2 == 1) & (cols % 2 == 1)) | (rows == height - 1) | (cols == width - 1)
    links = ~cells & ~fixed_wall
    for mask in (cells, fixed_wall, links):
        mask.setflags(write=False)
    return cells, fixed_wall, links


def cell_mask(shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of cell positions (even row, even column)."""
    return _masks(check_shape(*shape))[0]


def wall_mask(shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the positions the lattice rule keeps wall."""
    return _masks(check_shape(*shape))[1]


def link_mask(shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of link positions (between two neighbouring cells)."""
    return _masks(check_shape(*shape))[2]


@lru_cache(maxsize=32)
def _links(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    height, width = shape
    n_rows, n_cols = height // 2, width // 2
    r, c = np.meshgrid(np.arange(n_rows), np.arange(n_cols - 1), indexing="ij")
    h_pos = np.stack([2 * r.ravel(), 2 * c.ravel() + 1], axis=1)
    h_a = r.ravel() * n_cols + c.ravel()
    h_b = h_a + 1
    r, c = np.meshgrid(np.arange(n_rows - 1), np.arange(n_cols), indexing="ij")
    v_pos = np.stack([2 * r.ravel() + 1, 2 * c.ravel()], axis=1)
    v_a = r.ravel() * n_cols + c.ravel()
    v_b = v_a + n_cols
    positions = np.concatenate([h_pos, v_pos]).astype(np.intp)
    cell_a = np.concatenate([h_a, v_a]).astype(np.intp)
    cell_b = np.concatenate([h_b, v_b]).astype(np.intp)
    cell_positions = np.stack(np.meshgrid(np.arange(n_rows) * 2, np.arange(n_cols) * 2, indexing="ij"), -1)
    cell_positions = cell_positions.reshape(-1, 2).astype(np.intp)
    for array in (positions, cell_a, cell_b, cell_positions):
        array.setflags(write=False)
    return positions, cell_a, cell_b, cell_positions


def link_positions(shape: tuple[int, int]) -> np.ndarray:
    """``(L, 2)`` grid positions of the links, horizontal first, row-major."""
    return _links(check_shape(*shape))[0]


def link_cells(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For each link, the flat indices (``row * cols + col`` in cell units) of the two cells it joins."""
    _, a, b, _ = _links(check_shape(*shape))
    return a, b


def cell_positions(shape: tuple[int, int]) -> np.ndarray:
    """``(R * C, 2)`` grid positions of the cells, row-major."""
    return _links(check_shape(*shape))[3]


def num_links(shape: tuple[int, int]) -> int:
    """How many link positions a grid of ``shape`` has (364 for 28 × 28)."""
    return len(link_positions(shape))


def grid_to_links(grids: np.ndarray) -> np.ndarray:
    """The link values of one grid ``(H, W)`` or a batch ``(N, H, W)``: ``(L,)`` or ``(N, L)``."""
    grids = np.asarray(grids)
    positions = link_positions(grids.shape[-2:])
    return grids[..., positions[:, 0], positions[:, 1]]


def links_to_grid(links: np.ndarray, shape: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)) -> np.ndarray:
    """A lattice grid with every cell open and the given links: ``(L,)`` → ``(H, W)``, ``(N, L)`` → ``(N, H, W)``.

    ``links`` may be probabilities: the result then holds them at link positions, 1 at cells, 0 elsewhere
    (its dtype follows ``links``).
    """
    links = np.asarray(links)
    shape = check_shape(*shape)
    positions = link_positions(shape)
    if links.shape[-1] != len(positions):
        raise ValueError(f"expected {len(positions)} links for a {shape[0]}x{shape[1]} maze, got {links.shape[-1]}")
    out = np.zeros(links.shape[:-1] + shape, dtype=links.dtype if links.dtype != bool else np.uint8)
    out[..., cell_mask(shape)] = 1
    out[..., positions[:, 0], positions[:, 1]] = links
    return out


def as_batch(grids: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(grids as (N, H, W), whether the input was a single grid)``; checks rank and shape."""
    grids = np.asarray(grids)
    if grids.ndim == 2:
        batch, single = grids[None], True
    elif grids.ndim == 3:
        batch, single = grids, False
    else:
        raise ValueError(f"expected a grid (H, W) or a batch (N, H, W), got an array of shape {grids.shape}")
    check_shape(*batch.shape[1:])
    return batch, single
