"""The raster walk: a maze drawn link by link in row order, every choice scored by a learned table and constrained
so that the result is always connected (Eller's algorithm's bookkeeping of sets).

The walk visits the cells row by row, left to right. At cell ``(r, c)`` it makes one choice among four options,
``option = right + 2 * down``: whether to open the link to the right neighbour and whether to open the link to the
cell below. Everything above and to the left is decided already, so a choice can depend on it:

1. The *context* of the cell is eight bits of what is decided around it (``CONTEXT_BITS``): its up and left links,
   the up link of its right neighbour, whether that neighbour is already in the same set (opening right would close
   a loop), whether the cell's set already has a link down in this row, the left link of its left neighbour, the up
   link of the cell above and the right link of the cell above.
2. The score of each option is ``cell_logits[r, c, option] + context_logits[context, option]``; both come from the
   decoder (from the latent code).
3. Options that would break the maze are masked (``allowed``): no link across the border; no loop in ``perfect``
   mode (opening right when the neighbour is in the same set); never a set cut off for good (closing both links
   when the cell's set has no link down in this row and no cell further right in the row).
4. The option is drawn from the softmax of the allowed scores by one uniform number per cell (inverse CDF, in
   float64): the first option whose cumulative weight exceeds ``u * total``.
5. The choice updates the sets: opening right merges two sets, opening down marks the set as continuing.

Every walk ends in a maze whose cells are all open and connected: a spanning tree when loops are not allowed, a
braid maze with the loops the scores chose otherwise. Every such maze is reachable, so the walk can learn any style;
``raster_events`` gives the choices, contexts and masks of a given maze for exact teacher-forced likelihoods.
"""

from __future__ import annotations

import numpy as np

from daedalus.maze.grid import check_shape

OPTIONS = 4  # right + 2 * down
CONTEXT_BITS = ("up", "left", "up_of_right", "same_set_right", "set_has_down", "left_of_left", "up_of_up",
                "right_of_up")
CONTEXTS = 1 << len(CONTEXT_BITS)


class _Sets:
    """The walk's state over a batch: links decided so far and the sets of the current row."""

    def __init__(self, count: int, rows: int, cols: int, loops: bool):
        self.rows, self.cols, self.loops = rows, cols, loops
        self.right = np.zeros((count, rows, cols), dtype=bool)
        self.down = np.zeros((count, rows, cols), dtype=bool)
        self.label = np.zeros((count, cols), dtype=np.int64)
        self.has_down = np.zeros((count, cols), dtype=bool)  # indexed by label
        self._index = np.arange(count)
        self._columns = np.arange(cols)

    def start_row(self, r: int) -> None:
        cols = self.cols
        if r == 0:
            label = np.broadcast_to(self._columns, self.label.shape).copy()
        else:
            label = np.where(self.down[:, r - 1], self.label, cols + self._columns)
        # Name each set by its leftmost cell in this row, so labels stay in [0, cols).
        same = label[:, :, None] == label[:, None, :]
        self.label = np.argmax(same, axis=2)
        self.has_down[:] = False

    def context_and_allowed(self, r: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        rows, cols, idx = self.rows, self.cols, self._index
        count = len(idx)
        zero = np.zeros(count, dtype=bool)
        own = self.label[:, c]
        up = self.down[:, r - 1, c] if r > 0 else zero
        left = self.right[:, r, c - 1] if c > 0 else zero
        has_right, has_below = c < cols - 1, r < rows - 1
        up_of_right = self.down[:, r - 1, c + 1] if (r > 0 and has_right) else zero
        same = (own == self.label[:, c + 1]) if has_right else zero
        set_has_down = self.has_down[idx, own]
        left_of_left = self.right[:, r, c - 2] if c > 1 else zero
        up_of_up = self.down[:, r - 2, c] if r > 1 else zero
        right_of_up = self.right[:, r - 1, c] if (r > 0 and has_right) else zero
        bits = (up, left, up_of_right, same, set_has_down, left_of_left, up_of_up, right_of_up)
        context = np.zeros(count, dtype=np.int64)
        for shift, bit in enumerate(bits):
            context |= bit.astype(np.int64) << shift

        allowed = np.zeros((count, OPTIONS), dtype=bool)
        if not has_right and not has_below:  # the last cell: nothing left to decide
            allowed[:, 0] = True
            return context, allowed
        later = (self.label[:, c + 1 :] == own[:, None]).any(axis=1) if has_right else zero
        right_ok = (~same | self.loops) if has_right else zero
        allowed[:, 0] = set_has_down | later
        allowed[:, 1] = right_ok
        allowed[:, 2] = has_below
        allowed[:, 3] = right_ok & has_below
        return context, allowed

    def apply(self, r: int, c: int, option: np.ndarray) -> None:
        idx = self._index
        right, down = (option & 1).astype(bool), (option >> 1).astype(bool)
        self.right[:, r, c] = right
        self.down[:, r, c] = down
        if c + 1 < self.cols and right.any():
            a, b = self.label[:, c].copy(), self.label[:, c + 1].copy()
            merge = right & (a != b)
            if merge.any():
                rows = np.nonzero(merge)[0]
                moved = self.label[rows] == b[rows, None]
                self.label[rows] = np.where(moved, a[rows, None], self.label[rows])
                self.has_down[rows, a[rows]] |= self.has_down[rows, b[rows]]
        self.has_down[idx[down], self.label[down, c]] = True

    def grids(self) -> np.ndarray:
        count, rows, cols = self.right.shape
        out = np.zeros((count, 2 * rows, 2 * cols), dtype=np.uint8)
        out[:, ::2, ::2] = 1
        out[:, ::2, 1::2] = self.right
        out[:, 1::2, ::2] = self.down
        # The last column's right links and the last row's down links never open (they would be border).
        out[:, :, -1] = 0
        out[:, -1, :] = 0
        return out


def _check_inputs(cell_logits: np.ndarray, context_logits: np.ndarray, uniforms: np.ndarray) -> tuple[int, int, int]:
    cell_logits, context_logits = np.asarray(cell_logits), np.asarray(context_logits)
    if cell_logits.ndim != 4 or cell_logits.shape[-1] != OPTIONS:
        raise ValueError(f"cell_logits must be (count, rows, cols, {OPTIONS}), got {cell_logits.shape}")
    count, rows, cols, _ = cell_logits.shape
    if context_logits.shape != (count, CONTEXTS, OPTIONS):
        raise ValueError(f"context_logits must be ({count}, {CONTEXTS}, {OPTIONS}), got {context_logits.shape}")
    if np.shape(uniforms) != (count, rows * cols):
        raise ValueError(f"uniforms must be ({count}, {rows * cols}), got {np.shape(uniforms)}")
    for name, array in (("cell_logits", cell_logits), ("context_logits", context_logits)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} holds non-finite values (NaN or inf)")
    check_shape(2 * rows, 2 * cols)
    return count, rows, cols


def choose(scores: np.ndarray, allowed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw from the softmax of ``scores`` over the ``allowed`` options, one uniform per row.

    Args:
        scores: ``(count, 4)`` float64 option scores. allowed: ``(count, 4)`` bool, at least one True per row.
        uniforms: ``(count,)`` numbers in [0, 1).

    Returns:
        ``(count,)`` int64 options, always allowed ones.
    """
    masked = np.where(allowed, scores, -np.inf)
    weights = np.exp(masked - masked.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    threshold = uniforms * cumulative[:, -1]
    option = (cumulative <= threshold[:, None]).sum(axis=1)
    # u * total can round onto the total itself: fall back to the last allowed option.
    last = OPTIONS - 1 - np.argmax(allowed[:, ::-1], axis=1)
    return np.minimum(option, last).astype(np.int64)


def raster_walk(cell_logits: np.ndarray, context_logits: np.ndarray, uniforms: np.ndarray,
                loops: bool = False, loop_bonus: float = 0.0) -> np.ndarray:
    """Walk a batch of mazes over learned scores (the module docstring gives the steps).

    Args:
        cell_logits: ``(count, rows, cols, 4)`` scores per cell and option.
        context_logits: ``(count, 256, 4)`` scores per context and option.
        uniforms: ``(count, rows * cols)`` numbers in [0, 1), one per cell in row-major order.
        loops: allow links that close a loop (braid mazes); False gives spanning trees.
        loop_bonus: added to the score of an option that closes a loop (braid mode of a model whose corpus had none).

    Returns:
        ``(count, 2 * rows, 2 * cols)`` uint8 mazes: every cell open, all connected, the lattice rule kept.

    Raises:
        ValueError: shapes that disagree, or non-finite scores.
    """
    count, rows, cols = _check_inputs(cell_logits, context_logits, uniforms)
    cell_logits = np.asarray(cell_logits, dtype=np.float64)
    context_logits = np.asarray(context_logits, dtype=np.float64)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    sets = _Sets(count, rows, cols, loops)
    index = np.arange(count)
    closes_loop = np.array([False, True, False, True])
    same_bit = 1 << CONTEXT_BITS.index("same_set_right")
    for r in range(rows):
        sets.start_row(r)
        for c in range(cols):
            context, allowed = sets.context_and_allowed(r, c)
            scores = cell_logits[:, r, c] + context_logits[index, context]
            if loops and loop_bonus:
                scores = scores + loop_bonus * (((context & same_bit) > 0)[:, None] & closes_loop)
            sets.apply(r, c, choose(scores, allowed, uniforms[:, r * cols + c]))
    return sets.grids()


def maze_links(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(right, down)`` bool ``(count, rows, cols)`` links of a batch of lattice grids."""
    grids = np.asarray(grids) != 0
    return grids[:, ::2, 1::2], grids[:, 1::2, ::2]


def raster_events(grids: np.ndarray, loops: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raster walk's choices for given mazes, for teacher-forced likelihoods.

    Args:
        grids: ``(count, H, W)`` lattice mazes with every cell open and all cells connected.
        loops: whether the walk may close loops (True for a corpus of braid mazes; harmless for perfect ones).

    Returns:
        ``contexts`` ``(count, cells)`` int64, ``allowed`` ``(count, cells, 4)`` bool, ``options`` ``(count, cells)``
        int64, in row-major cell order.

    Raises:
        ValueError: naming the first maze and cell whose choice the walk could not make (a closed cell, a piece
            cut off from the rest, or a loop when ``loops`` is False).
    """
    grids = np.asarray(grids)
    if grids.ndim != 3:
        raise ValueError(f"expected a batch of grids (count, H, W), got shape {grids.shape}")
    height, width = check_shape(*grids.shape[1:])
    count, rows, cols = len(grids), height // 2, width // 2
    closed_cell = np.argwhere(grids[:, ::2, ::2] == 0)
    if len(closed_cell):
        i, r, c = closed_cell[0]
        raise ValueError(f"maze {i}: cell ({2 * r}, {2 * c}) is wall; the raster walk draws mazes whose cells are "
                         "all open")
    right, down = maze_links(grids)
    contexts = np.zeros((count, rows * cols), dtype=np.int64)
    allowed = np.zeros((count, rows * cols, OPTIONS), dtype=bool)
    options = np.zeros((count, rows * cols), dtype=np.int64)
    sets = _Sets(count, rows, cols, loops)
    for r in range(rows):
        sets.start_row(r)
        for c in range(cols):
            k = r * cols + c
            contexts[:, k], allowed[:, k] = sets.context_and_allowed(r, c)
            options[:, k] = right[:, r, c] + 2 * down[:, r, c]
            bad = ~allowed[np.arange(count), k, options[:, k]]
            if bad.any():
                i = int(np.argmax(bad))
                what = "closes a loop" if options[i, k] & 1 and loops is False else "cuts a piece off from the rest"
                raise ValueError(f"maze {i}: the links at cell ({2 * r}, {2 * c}) cannot come from the raster walk "
                                 f"(the choice {what}; mazes must have every cell open and connected)")
            sets.apply(r, c, options[:, k])
    return contexts, allowed, options
