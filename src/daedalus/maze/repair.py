"""Repair: turn a decoder's open-floor probabilities into a level that a game can always finish.

A pure function over a batch, vectorised in numpy (no per-maze Python loop beyond tiny batches): repair is where the
runtime spends its time.

1. Clip: probabilities to ``[0, 1]``; ``p >= threshold`` is the decoder's thresholded output, the reference that
   edits are counted against.
2. Lattice: every cell open, every position the lattice rule keeps wall closed (``daedalus.maze.grid``).
3. Spanning tree: Borůvka's algorithm on the cell graph (cells joined by their links), all mazes of the batch
   together. A link's weight orders the thresholded-open links before the closed ones, then by probability, then
   by link index (so weights are unique and the tree is unique). The maximum-weight spanning tree keeps as many
   thresholded-open links as any spanning tree can (Kruskal's choice depends only on the order, so it is optimal
   for the 0/1 "was it open" weight too), and where the decoder was unsure it follows the probabilities.
   The first rounds run dense over the cell planes (each cell's best link to another component by a four-way max
   of shifted planes), later ones over the shrinking list of links between components; a batch of a few mazes
   uses Kruskal per maze instead, which gives the same tree with less per-call overhead.
4. Mode ``"perfect"``: the links are exactly the tree (a perfect maze). Mode ``"braid"``: the tree plus every
   link the decoder opened, so the decoder's loops survive and only the links needed to join the pieces are
   added; both modes drop open positions the lattice forbids.

Every cell is open and the tree spans them all, so every open position is reachable and any start and exit on
cells are open and connected. The edits are the positions whose value differs from the thresholded output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from daedalus.maze.grid import Position, as_batch, cell_mask, cell_shape, link_cells, link_positions

MODES = ("perfect", "braid")
# Link weights are 31-bit keys: bit 30 = thresholded open, then the probability on a 2**k grid (k = 30 - index
# bits: 21 for 28 x 28), then the link index, which breaks what ties remain.


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` returns.

    Attributes:
        grids: ``(N, H, W)`` uint8 repaired mazes (or ``(H, W)`` for one input grid).
        edits: ``(N,)`` int64 positions changed against the thresholded decoder output (or an int).
    """

    grids: np.ndarray
    edits: np.ndarray | int


@lru_cache(maxsize=16)
def _plan(shape: tuple[int, int]):
    """Static tables of one maze size: cell counts, link endpoints and their sum (the other end of a link from
    one end is ``a + b - end``)."""
    rows, cols = cell_shape(shape)
    a, b = (x.astype(np.int32) for x in link_cells(shape))
    return rows, cols, a, b, a + b


# Borůvka rounds run dense (over cell planes) while there are more than 1/DENSE_UNTIL as many components as cells,
# then sparse (over the shrinking list of links between components).
DENSE_UNTIL = 12


def _bits(n_links: int) -> tuple[int, int]:
    """Bits for the link index and for the probability in a 31-bit key (1 bit more says "thresholded open")."""
    index_bits = max(1, int(n_links - 1).bit_length())
    prob_bits = 30 - index_bits
    if prob_bits < 8:
        raise ValueError(f"mazes with {n_links} links are too large for repair's 32-bit link keys")
    return index_bits, prob_bits


def link_keys(link_probs: np.ndarray, threshold: float) -> np.ndarray:
    """Unique int32 weights of the links of each maze: thresholded-open first, then probability, then index.

    Args:
        link_probs: ``(N, L)`` probabilities at the link positions, already clipped to ``[0, 1]``.
        threshold: positions with ``p >= threshold`` count as open.

    Returns:
        ``(N, L)`` int32 keys, distinct within each row.
    """
    n_links = link_probs.shape[1]
    index_bits, prob_bits = _bits(n_links)
    keys = (link_probs * np.float32((1 << prob_bits) - 1)).astype(np.int32)
    keys <<= index_bits
    keys |= np.arange(n_links, dtype=np.int32)
    keys |= (link_probs >= threshold).view(np.int8).astype(np.int32) << 30
    return keys


def spanning_tree(keys: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The maximum-weight spanning tree of the cell graph of every maze in a batch (Borůvka, vectorised).

    Args:
        keys: ``(N, L)`` integer link weights < 2**31, distinct within each row (see ``link_keys``).
        shape: the grid size ``(H, W)``.

    Returns:
        ``(N, L)`` bool, True for the links of the tree (``cells - 1`` per maze).
    """
    rows, cols, a, b, ab = _plan(tuple(shape))
    if keys.dtype != np.int32 or not keys.flags.c_contiguous:
        keys = np.ascontiguousarray(keys, dtype=np.int32)
    count, n_links = keys.shape
    n_cells = rows * cols
    mask = np.int32((1 << _bits(n_links)[0]) - 1)
    chosen = np.zeros(count * n_links, dtype=bool)
    if count == 0:
        return chosen.reshape(0, n_links)
    if count * max(n_cells, n_links) >= 2**31:
        raise ValueError(f"batch of {count} mazes is too large for one repair call; repair it in chunks")

    # Round 1: every cell is its own component, so its best link is a dense max over the (up to) four links
    # around it, read from the horizontal and vertical key planes by slicing.
    n_h = rows * (cols - 1)
    horizontal = keys[:, :n_h].reshape(count, rows, cols - 1)
    vertical = keys[:, n_h:].reshape(count, rows - 1, cols)
    best = np.full((count, rows, cols), -1, dtype=np.int32)
    best[:, :, :-1] = horizontal
    np.maximum(best[:, :, 1:], horizontal, out=best[:, :, 1:])
    np.maximum(best[:, :-1, :], vertical, out=best[:, :-1, :])
    np.maximum(best[:, 1:, :], vertical, out=best[:, 1:, :])
    link = (best & mask).reshape(count, n_cells)
    maze_links = (np.arange(count, dtype=np.int32) * n_links)[:, None]
    chosen[(link + maze_links).ravel()] = True
    # Global node ids are maze * n_cells + cell; each cell points at the other end of its best link.
    offset = (np.arange(count, dtype=np.int32) * n_cells)[:, None]
    parent = (ab[link] - np.arange(n_cells, dtype=np.int32) + offset).ravel()
    roots = _resolve(parent, None)

    # Rounds 2, 3, ... stay dense while components are many: ``parent`` labels every cell with its component, so
    # the links that join two components are found by comparing neighbouring labels, each cell's best such link
    # by the same four-way max, and each component's best link by one scatter-max over its cells.
    while roots.size > count * n_cells // DENSE_UNTIL:
        labels = parent.reshape(count, rows, cols)
        best = np.full((count, rows, cols), -1, dtype=np.int32)
        across = np.where(labels[:, :, 1:] != labels[:, :, :-1], horizontal, -1)
        best[:, :, :-1] = across
        np.maximum(best[:, :, 1:], across, out=best[:, :, 1:])
        across = np.where(labels[:, 1:, :] != labels[:, :-1, :], vertical, -1)
        np.maximum(best[:, :-1, :], across, out=best[:, :-1, :])
        np.maximum(best[:, 1:, :], across, out=best[:, 1:, :])
        component_best = np.full(count * n_cells, -1, dtype=np.int32)
        np.maximum.at(component_best, parent, best.ravel())
        active = roots[component_best[roots] >= 0]
        if not active.size:
            break
        link = component_best[active] & mask
        owner = active // n_cells
        chosen[owner * n_links + link] = True
        base = owner * n_cells
        end_a = parent[a[link] + base]
        end_b = parent[b[link] + base]
        parent[active] = np.where(end_a == active, end_b, end_a)
        roots = _resolve(parent, roots)
        parent = parent[parent]  # every cell straight to its new root

    # Later rounds keep, for each link that may still join two components, the components at its ends (ca, cb)
    # and its key; the arrays shrink every round, and no per-cell labels are kept.
    ca = parent[(offset + a).ravel()]
    cb = parent[(offset + b).ravel()]
    link_key = keys.ravel()
    best = np.empty(count * n_cells, dtype=np.int32)
    while True:
        cross = np.flatnonzero(ca != cb)
        if not cross.size:
            break
        ca, cb, link_key = ca[cross], cb[cross], link_key[cross]
        best[roots] = -1
        np.maximum.at(best, ca, link_key)
        np.maximum.at(best, cb, link_key)
        # A link wins for the component at an end when it is that component's best; keys are unique per maze.
        win_a = best[ca] == link_key
        win_b = best[cb] == link_key
        won = np.flatnonzero(win_a | win_b)
        chosen[(ca[won] // n_cells) * n_links + (link_key[won] & mask)] = True
        parent[ca[win_a]] = cb[win_a]
        parent[cb[win_b]] = ca[win_b]
        roots = _resolve(parent, roots)
        ca = parent[ca]
        cb = parent[cb]
    return chosen.reshape(count, n_links)


def _resolve(parent: np.ndarray, roots: np.ndarray | None) -> np.ndarray:
    """Merge components along the chosen links: each root points at a neighbour component (or at itself). With
    distinct weights the only cycles are pairs that chose the same link; the smaller id of a pair becomes the
    root, then pointer jumping flattens the forest, on a shrinking set of roots that do not point at a root yet.
    Updates ``parent`` in place so that every old root points at its new root.

    Args:
        parent: for every node id, the node it points at (only entries at ``roots`` are read and written).
        roots: the roots before this round; None when every node is one (round 1: whole-array operations).

    Returns:
        The roots after this round.
    """
    if roots is None:
        ids = np.arange(len(parent), dtype=parent.dtype)
        mutual = (parent[parent] == ids) & (ids < parent)
        np.copyto(parent, ids, where=mutual)
        up = parent[parent]
        pending = np.flatnonzero(up != parent)
        parent[pending] = up[pending]
        pending = pending[parent[parent[pending]] != parent[pending]]
        while pending.size:
            parent[pending] = parent[parent[pending]]
            pending = pending[parent[parent[pending]] != parent[pending]]
        return np.flatnonzero(parent == ids).astype(parent.dtype)
    target = parent[roots]
    mutual = (parent[target] == roots) & (roots < target)
    parent[roots[mutual]] = roots[mutual]
    pending = roots[parent[parent[roots]] != parent[roots]]
    while pending.size:
        parent[pending] = parent[parent[pending]]
        pending = pending[parent[parent[pending]] != parent[pending]]
    return roots[parent[roots] == roots]


# Below this many mazes a plain Kruskal per maze beats the vectorised rounds (numpy's per-call cost dominates).
SMALL_BATCH = 4


def _kruskal(keys: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The same maximum spanning tree as ``spanning_tree``, by Kruskal with a union-find, one maze at a time."""
    rows, cols, a, b, _ = _plan(tuple(shape))
    n_cells = rows * cols
    ends_a, ends_b = a.tolist(), b.tolist()
    chosen = np.zeros(keys.shape, dtype=bool)
    for i, order in enumerate(np.argsort(-keys.astype(np.int64), axis=1).tolist()):
        parent = list(range(n_cells))
        picked = []
        for link in order:
            x = ends_a[link]
            while parent[x] != x:
                parent[x] = x = parent[parent[x]]
            y = ends_b[link]
            while parent[y] != y:
                parent[y] = y = parent[parent[y]]
            if x != y:
                parent[x] = y
                picked.append(link)
                if len(picked) == n_cells - 1:
                    break
        chosen[i, picked] = True
    return chosen


@lru_cache(maxsize=16)
def _layout(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the link positions, and the flat lattice template (cells open, everything else wall)."""
    positions = link_positions(shape)
    flat_links = (positions[:, 0] * shape[1] + positions[:, 1]).astype(np.intp)
    template = cell_mask(shape).ravel().astype(np.uint8)
    for array in (flat_links, template):
        array.setflags(write=False)
    return flat_links, template


def repair(
    p_open: np.ndarray,
    threshold: float = 0.5,
    mode: str = "perfect",
    start: Position | None = None,
    exit: Position | None = None,
) -> RepairResult:
    """Clip and repair decoder output into solvable mazes (see the module docstring).

    Args:
        p_open: ``(H, W)`` or ``(N, H, W)`` open-floor probabilities (any real dtype; values are clipped to [0, 1]).
        threshold: positions with ``p >= threshold`` are open in the decoder's thresholded output.
        mode: ``"perfect"`` (a spanning tree) or ``"braid"`` (the tree plus the decoder's own links: keeps loops).
        start, exit: positions the level needs open and connected (defaults: the lattice's); must be cells.

    Returns:
        ``RepairResult(grids, edits)``.

    Raises:
        ValueError: naming the value for a bad mode, threshold, shape, non-finite probability or off-cell endpoint.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    threshold = float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    batch, single = as_batch(p_open)
    count, height, width = batch.shape
    shape = (height, width)
    for name, point in (("start", start), ("exit", exit)):
        if point is not None:
            row, col = point
            if not (0 <= row < height - 1 and 0 <= col < width - 1 and row % 2 == 0 and col % 2 == 0):
                raise ValueError(f"{name} {tuple(point)} must be a cell (even row and column) of the "
                                 f"{height}x{width} grid")
    flat = np.asarray(batch, dtype=np.float32).reshape(count, height * width)
    # One sum finds NaN or inf cheaply; only then (or on float32 overflow) look for the culprit.
    if not np.isfinite(flat.sum()) and not np.isfinite(flat).all():
        where = np.unravel_index(int(np.argmax(~np.isfinite(flat))), batch.shape)
        where = tuple(int(v) for v in (where[1:] if single else where))
        value = flat.flat[np.ravel_multi_index(where if not single else (0, *where), batch.shape)]
        raise ValueError(f"probabilities must be finite, got {value} at index {where}")
    flat_links, template = _layout(shape)
    thresholded = flat >= threshold
    link_probs = np.take(flat, flat_links, axis=1)
    np.maximum(link_probs, 0.0, out=link_probs)  # clip to [0, 1]; faster than np.clip
    np.minimum(link_probs, 1.0, out=link_probs)
    keys = link_keys(link_probs, threshold)
    tree = _kruskal(keys, shape) if count <= SMALL_BATCH else spanning_tree(keys, shape)
    links = tree | np.take(thresholded, flat_links, axis=1) if mode == "braid" else tree

    grids = np.empty((count, height * width), dtype=np.uint8)
    grids[:] = template
    grids[:, flat_links] = links
    edits = (grids != thresholded).sum(axis=1, dtype=np.int64)
    grids = grids.reshape(count, height, width)
    if single:
        return RepairResult(grids[0], int(edits[0]))
    return RepairResult(grids, edits)
