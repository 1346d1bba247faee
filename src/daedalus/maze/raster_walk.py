"""The raster walk: a maze drawn link by link in row order, every choice scored by a learned table and constrained
so that the result is always connected (Eller's algorithm's bookkeeping of sets).

The walk visits the cells row by row, left to right. At cell ``(r, c)`` it makes one choice among four options,
``option = right + 2 * down``: whether to open the link to the right neighbour and whether to open the link to the
cell below. Everything above and to the left is decided already, so a choice can depend on it:

1. The *context* of the cell is fourteen bits of what is decided around it (``CONTEXT_BITS``): eleven links of the
   two rows above and of the cells to the left, whether the right neighbour is already in the same set (opening right
   would close a loop), whether the cell's set already has a link down in this row, and whether it has another cell
   further right in the row. A decoder with two *context groups* reads a second fourteen-bit context as well
   (``WIDE_CONTEXT_BITS``): nine links further out (three rows up, three columns left) and five of the first bits.
2. The score of each option is ``cell_logits[r, c, option] + Σ_g Σ_j context_mix[j] · context_basis[g · 16384 +
   context_g, j, option]``: ``cell_logits`` and ``context_mix`` come from the latent code, ``context_basis`` is a
   fixed set of learned tables over the 16,384 contexts of each group (its first axis is 16,384 × groups).
3. Options that would break the maze are masked (``allowed``): no link across the border; no loop in ``perfect``
   mode (opening right when the neighbour is in the same set); never a set cut off for good (closing both links
   when the cell's set has no link down in this row and no cell further right in the row).
4. The option is drawn from the softmax of the allowed scores by one uniform number per cell (inverse CDF, in
   float64): the first option whose cumulative weight exceeds ``u * total``.
5. The choice updates the sets: opening right merges two sets, opening down marks the set as continuing.

A decoder with a *window network* adds one more term to step 4 (the scores): a small ReLU network over the 65 bits of
``WINDOW_BITS`` (every link decided in rows r-3..r and columns c-4..c+4, and the three set bits), whose first layer's
bias comes from the latent code (``Window``). It reads patterns no table of fourteen bits can enumerate
(EXPERIMENTS.md "The window network"); its arithmetic is float32 in a fixed order (``window_scores``).

Every walk ends in a maze whose cells are all open and connected: a spanning tree when loops are not allowed, a
braid maze with the loops the scores chose otherwise. Every such maze is reachable, so the walk can learn any style;
``raster_events`` gives the choices, contexts and masks of a given maze for exact teacher-forced likelihoods.
"""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

import numpy as np

from daedalus.maze.grid import check_shape

try:  # the compiled walk (setup.py builds it; a source install without a compiler falls back to numpy)
    from daedalus.maze import _raster_walk as _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None

OPTIONS = 4  # right + 2 * down
# The context of a cell: bits of what is decided around it. A link bit is ("right" or "down", row offset, column
# offset) from the cell; links outside the grid or not yet decided read 0. The set bits come from the walk's sets.
CONTEXT_BITS = (
    ("down", -1, 0),    # up: the link from the cell above
    ("right", 0, -1),   # left: the link from the cell on the left
    ("down", -1, 1),    # the up link of the right neighbour
    ("same_set_right",),  # the right neighbour is already connected to this cell: opening right closes a loop
    ("set_has_down",),  # this cell's set already has a link down in this row
    ("right", 0, -2),   # the left link of the left neighbour
    ("down", -2, 0),    # the up link of the cell above
    ("right", -1, 0),   # the right link of the cell above
    ("set_has_later",),  # this cell's set has another cell further right in this row
    ("right", -1, -1),  # the left link of the cell above
    ("down", 0, -1),    # the down link of the left neighbour
    ("down", -1, -1),   # the up link of the left neighbour
    ("down", -1, 2),    # the up link of the cell two to the right
    ("right", -1, 1),   # the right link of the cell above-right
)
# The second context group (decoders with context_basis of 2 x 16,384 rows): the links further out, with the bits
# of the first group that say most about a choice, so that its table can tell them apart. Sums of two tables see a
# 23-bit neighbourhood (EXPERIMENTS.md "Two context groups") for twice the table of one.
WIDE_CONTEXT_BITS = (
    ("right", 0, -3),   # the left link three cells left
    ("down", 0, -2),    # the down link of the cell two to the left
    ("down", -2, -1),   # the up link of the cell above-left
    ("down", -2, 1),    # the up link of the cell above-right
    ("right", -2, 0),   # the right link two rows up
    ("right", -2, -1),  # the left link two rows up
    ("right", -1, 2),   # the right link of the cell above, two to the right
    ("down", -1, -2),   # the up link of the cell two to the left
    ("down", -3, 0),    # the up link two rows up
    ("down", -1, 0),    # up (as in the first group)
    ("right", 0, -1),   # left
    ("same_set_right",),
    ("set_has_down",),
    ("set_has_later",),
)
CONTEXT_GROUPS = (CONTEXT_BITS, WIDE_CONTEXT_BITS)
CONTEXTS = 1 << len(CONTEXT_BITS)  # contexts per group
# What a window network reads (docs/formats.md "Raster decoders", step 4): every link decided before the cell in
# rows r-3..r and columns c-4..c+4, in *segments* of one row and one kind: for each row above, from the top, its right
# links at columns c-4..c+4, then its down links there; in the cell's row the right links at c-4..c-1, then the down
# links there; then the three set bits. A segment slides one column per cell (the compiled walk keeps it as a
# shifted integer) and is one table of the first layer (window_tables).
WINDOW_UP, WINDOW_LEFT, WINDOW_RIGHT = 3, 4, 4
WINDOW_SEGMENTS = tuple(
    tuple((kind, dr, dc) for dc in range(-WINDOW_LEFT, (WINDOW_RIGHT if dr < 0 else -1) + 1))
    for dr in range(-WINDOW_UP, 1) for kind in ("right", "down"))
WINDOW_LINKS = tuple(bit for segment in WINDOW_SEGMENTS for bit in segment)
WINDOW_SET_BITS = (("same_set_right",), ("set_has_down",), ("set_has_later",))
WINDOW_BITS = (*WINDOW_LINKS, *WINDOW_SET_BITS)
# The groups of bits the first layer reads at once (each segment, then the set bits) and where each starts.
WINDOW_GROUPS = tuple(len(segment) for segment in WINDOW_SEGMENTS) + (len(WINDOW_SET_BITS),)
WINDOW_GROUP_STARTS = tuple(int(x) for x in np.cumsum((0,) + WINDOW_GROUPS[:-1]))
# Where each group's table starts among window_tables' rows (2 ** bits rows per group).
WINDOW_TABLE_STARTS = tuple(int(x) for x in np.cumsum((0,) + tuple(1 << n for n in WINDOW_GROUPS[:-1])))
WINDOW_TABLE_ROWS = sum(1 << n for n in WINDOW_GROUPS)
# The most hidden units a window layer may have, and the most hidden layers (the compiled walk's buffers).
MAX_WINDOW_WIDTH, MAX_WINDOW_LAYERS = 1024, 8
_SET_SHIFTS = {bit[0]: shift for shift, bit in enumerate(CONTEXT_BITS) if len(bit) == 1}
BACKENDS = ("c", "numpy")
# The walk raster_walk uses by default: the compiled one where it is installed. DAEDALUS_COMPILED=0 runs the numpy
# reference of every compiled part (for comparisons); both give the same mazes.
BACKEND = "numpy" if os.environ.get("DAEDALUS_COMPILED") == "0" or _native is None else "c"
# Link arrays are padded so that every offset above reads inside them: 3 rows above, 4 columns left, 4 right.
_TOP, _LEFT, _RIGHT = 3, 4, 4


class Window(NamedTuple):
    """A window network's numbers for a batch of levels (docs/formats.md "Raster decoders", step 4).

    ``bias``: float32 ``(count, hidden[0])``, the first layer's bias of each level (from its code). ``weights``:
    float32, flat: the first layer's weights ``(len(WINDOW_BITS), hidden[0])``, then for each further layer and the
    output layer (to the four options) its weights ``(inputs, outputs)`` and bias ``(outputs,)``, all row-major.
    ``hidden``: the hidden layers' widths. ``tables``: ``window_tables`` of the first layer's weights, when the
    caller keeps them (they depend on the weights only); None computes them."""

    bias: np.ndarray
    weights: np.ndarray
    hidden: tuple[int, ...]
    tables: np.ndarray | None = None


def window_widths(value) -> tuple[int, ...]:
    """A window network's hidden widths from a sequence of integers or text like ``"64"`` or ``"32,32"`` (none:
    empty), each 1 to ``MAX_WINDOW_WIDTH``, at most ``MAX_WINDOW_LAYERS`` of them.

    Raises:
        ValueError: ``must be ...; got VALUE``, for the caller to prefix with what it was reading.
    """
    widths = value.split(",") if isinstance(value, str) and value.strip() else [] if isinstance(value, str) else value
    try:
        if isinstance(widths, (bytes, bool)) or any(isinstance(w, (bool, float)) for w in widths):
            raise ValueError
        widths = tuple(int(w) for w in widths)
    except (TypeError, ValueError):
        widths = None
    if widths is None or len(widths) > MAX_WINDOW_LAYERS or not all(1 <= w <= MAX_WINDOW_WIDTH for w in widths):
        raise ValueError(f"must be 1 to {MAX_WINDOW_WIDTH} each, at most {MAX_WINDOW_LAYERS} of them (like 64 or "
                         f"32,32); got {value!r}")
    return widths


def window_sizes(hidden) -> tuple[int, ...]:
    """The window network's layer widths, from its input (the window's bits) to its output (the options)."""
    return (len(WINDOW_BITS), *hidden, OPTIONS)


def window_weight_count(hidden) -> int:
    """How many numbers ``Window.weights`` holds for hidden widths ``hidden``."""
    sizes = window_sizes(hidden)
    return sizes[0] * sizes[1] + sum(a * b + b for a, b in zip(sizes[1:-1], sizes[2:]))


def window_layers(weights: np.ndarray, hidden) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``Window.weights`` as ``[(weights (inputs, outputs), bias (outputs,) or None for the first layer)]``."""
    sizes, at, layers = window_sizes(hidden), 0, []
    for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = weights[at : at + a * b].reshape(a, b)
        at += a * b
        bias = None
        if layer:
            bias = weights[at : at + b]
            at += b
        layers.append((w, bias))
    return layers


def window_tables(first: np.ndarray) -> np.ndarray:
    """float32 ``(WINDOW_TABLE_ROWS, width)``: the first layer's weights ``(65, width)`` summed per group of the
    window's bits (``WINDOW_GROUPS``: each segment, then the set bits). Group g's table has a row for each value v
    of its n bits (the group's j-th bit is 2^j), from ``WINDOW_TABLE_STARTS[g]``: the sum, from +0 and in order of
    j, of the weight rows of the bits set in v. A cell's first layer is then nine additions, one per group."""
    first = np.asarray(first, dtype=np.float32)
    tables = np.zeros((WINDOW_TABLE_ROWS, first.shape[1]), dtype=np.float32)
    for bits, start, table in zip(WINDOW_GROUPS, WINDOW_GROUP_STARTS, WINDOW_TABLE_STARTS):
        values = np.arange(1 << bits)
        rows = tables[table : table + len(values)]
        for j in range(bits):
            here = (values >> j) & 1 > 0
            rows[here] = rows[here] + first[start + j]
    return tables


def window_groups(bits: np.ndarray) -> np.ndarray:
    """int64 ``(count, len(WINDOW_GROUPS))``: the rows of ``window_tables`` that ``(count, 65)`` bool window bits
    read, one per group."""
    bits = np.asarray(bits, dtype=np.int64)
    return np.stack([table + (bits[:, start : start + n] << np.arange(n)).sum(axis=1)
                     for n, start, table in zip(WINDOW_GROUPS, WINDOW_GROUP_STARTS, WINDOW_TABLE_STARTS)], axis=1)


def window_scores(bits: np.ndarray, bias: np.ndarray, layers, tables: np.ndarray | None = None) -> np.ndarray:
    """float32 ``(count, 4)``: the window network's scores for ``(count, 65)`` bool bits, in the order
    docs/formats.md fixes (every sum taken term by term, in float32, each product and sum rounded; no fused
    multiply-add): the first layer adds to the level's bias the ``window_tables`` row of each group of bits, in group
    order; each further layer starts from its bias and adds ``h_k · w_k`` for k in order; ReLU between layers."""
    tables = window_tables(layers[0][0]) if tables is None else tables
    h = np.array(bias, dtype=np.float32, copy=True)
    rows = window_groups(bits)
    for g in range(rows.shape[1]):
        h += tables[rows[:, g]]
    for w, b in layers[1:]:
        h = np.where(h > 0, h, np.float32(0))  # NaN to 0, as every walk does
        acc = np.repeat(b[None, :], len(h), axis=0)
        for k in range(w.shape[0]):
            acc += h[:, k : k + 1] * w[k]
        h = acc
    return h


class _Sets:
    """The walk's state over a batch: links decided so far and the sets of the current row."""

    def __init__(self, count: int, rows: int, cols: int, loops: bool, closed_cells: bool = False):
        self.rows, self.cols, self.loops, self.closed_cells = rows, cols, loops, closed_cells
        padded = (count, rows + _TOP, cols + _LEFT + _RIGHT)
        self.right = np.zeros(padded, dtype=bool)
        self.down = np.zeros(padded, dtype=bool)
        self.label = np.zeros((count, cols), dtype=np.int64)
        self.has_down = np.zeros((count, cols), dtype=bool)  # indexed by label
        self._index = np.arange(count)
        self._columns = np.arange(cols)

    def start_row(self, r: int) -> None:
        cols = self.cols
        if r == 0:
            label = np.broadcast_to(self._columns, self.label.shape).copy()
        else:
            above = self.down[:, r - 1 + _TOP, _LEFT : _LEFT + cols]
            label = np.where(above, self.label, cols + self._columns)
        # Name each set by its leftmost cell in this row, so labels stay in [0, cols).
        same = label[:, :, None] == label[:, None, :]
        self.label = np.argmax(same, axis=2)
        self.has_down[:] = False

    def context_and_allowed(self, r: int, c: int, groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(count, groups)`` rows of the context basis (``g · CONTEXTS + context_g``) and ``(count, 4)`` allowed."""
        cols, idx = self.cols, self._index
        count = len(idx)
        zero = np.zeros(count, dtype=bool)
        own = self.label[:, c]
        has_right, has_below = c < cols - 1, r < self.rows - 1
        same = (own == self.label[:, c + 1]) if has_right else zero
        set_has_down = self.has_down[idx, own]
        later = (self.label[:, c + 1 :] == own[:, None]).any(axis=1) if has_right else zero
        special = {"same_set_right": same, "set_has_down": set_has_down, "set_has_later": later}
        context = np.zeros((count, groups), dtype=np.int64)
        for g in range(groups):
            context[:, g] = g * CONTEXTS
            for shift, bit in enumerate(CONTEXT_GROUPS[g]):
                if len(bit) == 1:
                    value = special[bit[0]]
                else:
                    links = self.right if bit[0] == "right" else self.down
                    value = links[:, r + bit[1] + _TOP, c + bit[2] + _LEFT]
                context[:, g] |= value.astype(np.int64) << shift

        allowed = np.zeros((count, OPTIONS), dtype=bool)
        if not has_right and not has_below:  # the last cell: nothing left to decide
            allowed[:, 0] = True
            return context, allowed
        right_ok = (~same | self.loops) if has_right else zero
        allowed[:, 0] = set_has_down | later
        if self.closed_cells and (r, c) != (0, 0):
            # A cell joined from neither above nor the left is a set of its own: closing both links closes the cell
            # (it becomes wall), and the set ends there without cutting off anything else.
            up = self.down[:, r - 1 + _TOP, c + _LEFT]
            left = self.right[:, r + _TOP, c - 1 + _LEFT]
            allowed[:, 0] |= ~up & ~left
        allowed[:, 1] = right_ok
        allowed[:, 2] = has_below
        allowed[:, 3] = right_ok & has_below
        return context, allowed

    def window_bits(self, r: int, c: int, context: np.ndarray) -> np.ndarray:
        """``(count, 65)`` bool: the bits a window network reads at cell (r, c) (``WINDOW_BITS``); the set bits are
        taken from the first group's ``context`` (``(count, groups)``, as ``context_and_allowed`` returns it)."""
        links = [(self.right if kind == "right" else self.down)[:, r + dr + _TOP, c + dc + _LEFT]
                 for kind, dr, dc in WINDOW_LINKS]
        return np.concatenate([np.stack(links, axis=1), window_set_bits(context)], axis=1)

    def apply(self, r: int, c: int, option: np.ndarray) -> None:
        idx = self._index
        right, down = (option & 1).astype(bool), (option >> 1).astype(bool)
        self.right[:, r + _TOP, c + _LEFT] = right
        self.down[:, r + _TOP, c + _LEFT] = down
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
        count, rows, cols = len(self._index), self.rows, self.cols
        out = np.zeros((count, 2 * rows, 2 * cols), dtype=np.uint8)
        right = self.right[:, _TOP:, _LEFT : _LEFT + cols]
        down = self.down[:, _TOP:, _LEFT : _LEFT + cols]
        out[:, ::2, 1::2] = right
        out[:, 1::2, ::2] = down
        if self.closed_cells:  # a cell is open when any of its four links is (a closed cell has none)
            out[:, ::2, ::2] = _linked(right, down)
        else:
            out[:, ::2, ::2] = 1
        # The last column's right links and the last row's down links never open (they would be border).
        out[:, :, -1] = 0
        out[:, -1, :] = 0
        return out


def _check_inputs(cell_logits, context_mix, context_basis, uniforms) -> tuple[int, int, int]:
    cell_logits, context_mix, context_basis = (np.asarray(a) for a in (cell_logits, context_mix, context_basis))
    if cell_logits.ndim != 4 or cell_logits.shape[-1] != OPTIONS:
        raise ValueError(f"cell_logits must be (count, rows, cols, {OPTIONS}), got {cell_logits.shape}")
    count, rows, cols, _ = cell_logits.shape
    if (context_basis.ndim != 3 or context_basis.shape[0] not in (CONTEXTS, 2 * CONTEXTS)
            or context_basis.shape[2] != OPTIONS):
        raise ValueError(f"context_basis must be ({CONTEXTS} x groups, mix, {OPTIONS}) with 1 or 2 context groups, "
                         f"got {context_basis.shape}")
    if context_mix.shape != (count, context_basis.shape[1]):
        raise ValueError(f"context_mix must be ({count}, {context_basis.shape[1]}), got {context_mix.shape}")
    if np.shape(uniforms) != (count, rows * cols):
        raise ValueError(f"uniforms must be ({count}, {rows * cols}), got {np.shape(uniforms)}")
    check_shape(2 * rows, 2 * cols)
    return count, rows, cols


def _check_uniforms(uniforms: np.ndarray) -> None:
    # One comparison pass: NaN fails both tests.
    if uniforms.size and not (uniforms.min() >= 0.0 and uniforms.max() <= 1.0):
        bad = np.argwhere(~((uniforms >= 0.0) & (uniforms <= 1.0)))[0]
        raise ValueError(f"uniforms must lie in [0, 1]; maze {bad[0]} cell {bad[1]} has "
                         f"{float(uniforms[tuple(bad)])!r}")


def _non_finite(maze: int, cell: int, cols: int) -> ValueError:
    r, c = divmod(cell, cols)
    return ValueError(f"maze {maze}: the scores of cell ({2 * r}, {2 * c}) are not finite (NaN or inf in "
                      "cell_logits, context_mix or the context_basis row the walk reads)")


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


def context_groups(context_basis: np.ndarray) -> int:
    """How many context groups a ``context_basis`` holds (1 or 2: its first axis over ``CONTEXTS``)."""
    return int(np.shape(context_basis)[0]) // CONTEXTS


def option_scores(cell_logits: np.ndarray, context_mix: np.ndarray, context_basis: np.ndarray,
                  context: np.ndarray) -> np.ndarray:
    """``(count, 4)`` scores of one cell's options: ``cell_logits + Σ_g Σ_j context_mix[j] · context_basis[context_g,
    j]`` for the ``(count, groups)`` basis rows ``context``, the sum taken in order of ``g`` then ``j`` in float64
    (the order docs/formats.md fixes, so that every implementation agrees to the last bit)."""
    context = np.asarray(context).reshape(len(cell_logits), -1)
    acc = np.zeros(cell_logits.shape, dtype=np.float64)
    for g in range(context.shape[1]):
        rows = context_basis[context[:, g]]
        for j in range(context_mix.shape[1]):
            acc += context_mix[:, j, None] * rows[:, j]
    return cell_logits + acc


def raster_walk(cell_logits: np.ndarray, context_mix: np.ndarray, context_basis: np.ndarray, uniforms: np.ndarray,
                loops: bool = False, loop_bonus: float = 0.0, backend: str | None = None,
                closed_cells: bool = False, window: Window | None = None) -> np.ndarray:
    """Walk a batch of mazes over learned scores (the module docstring gives the steps).

    Args:
        cell_logits: ``(count, rows, cols, 4)`` scores per cell and option.
        context_mix: ``(count, mix)`` weights of the context tables for each maze.
        context_basis: ``(CONTEXTS * groups, mix, 4)`` context tables of one or two context groups: a cell's context
            score is their mix.
        uniforms: ``(count, rows * cols)`` numbers in [0, 1], one per cell in row-major order.
        loops: allow links that close a loop (braid mazes); False gives spanning trees.
        loop_bonus: added to the score of an option that closes a loop (braid mode of a model whose corpus had none).
        backend: ``"c"`` (the compiled walk, for float32 scores; other dtypes walk in numpy), ``"numpy"`` (the
            reference), or None for ``BACKEND``. Both give the same mazes bit for bit.
        closed_cells: let a cell that neither the cell above nor the one on the left joins close both its links and
            become wall (a decoder trained on levels with wall cells); the first and the last cell stay open.
        window: a window network's numbers (``Window``), whose scores add to every cell's; None for a decoder
            without one.

    Returns:
        ``(count, 2 * rows, 2 * cols)`` uint8 mazes: every open cell connected to every other, the lattice rule
        kept; every cell open unless ``closed_cells``.

    Raises:
        ValueError: shapes that disagree, uniforms outside [0, 1], a non-finite score, or an unknown backend.
    """
    count, rows, cols = _check_inputs(cell_logits, context_mix, context_basis, uniforms)
    backend = BACKEND if backend is None else backend
    if backend not in BACKENDS or (backend == "c" and _native is None):
        raise ValueError(f"backend must be one of {sorted(BACKENDS) if _native else ['numpy']}, got {backend!r}")
    uniforms = np.ascontiguousarray(uniforms, dtype=np.float64)
    _check_uniforms(uniforms)
    loop_bonus = float(loop_bonus) if loops else 0.0
    # The compiled walk reads float32, what decoders return; other dtypes (float64 scores from a script) walk in
    # numpy, which computes in float64 either way.
    closed_cells = bool(closed_cells)
    window = _check_window(window, count)
    if backend == "c" and all(np.asarray(a).dtype == np.float32 for a in (cell_logits, context_mix, context_basis)):
        return _walk_c(cell_logits, context_mix, context_basis, uniforms, count, rows, cols, loops, loop_bonus,
                       closed_cells, window)
    return _walk_numpy(cell_logits, context_mix, context_basis, uniforms, count, rows, cols, loops, loop_bonus,
                       closed_cells, window)


def _check_window(window: Window | None, count: int) -> Window | None:
    """The window's arrays as contiguous float32, its shapes checked (ValueError naming what disagrees)."""
    if window is None:
        return None
    hidden, weight_count = _checked_widths(window.hidden)
    bias = np.ascontiguousarray(window.bias, dtype=np.float32)
    weights = np.ascontiguousarray(window.weights, dtype=np.float32).reshape(-1)
    if bias.shape != (count, hidden[0]):
        raise ValueError(f"window bias must be ({count}, {hidden[0]}), got {bias.shape}")
    if weights.size != weight_count:
        raise ValueError(f"window weights for hidden widths {list(hidden)} must hold {weight_count} numbers, got "
                         f"{weights.size}")
    tables = window.tables
    if tables is None:
        tables = window_tables(window_layers(weights, hidden)[0][0])
    tables = np.ascontiguousarray(tables, dtype=np.float32)
    if tables.shape != (WINDOW_TABLE_ROWS, hidden[0]):
        raise ValueError(f"window tables must be ({WINDOW_TABLE_ROWS}, {hidden[0]}), got {tables.shape}")
    return Window(bias, weights, hidden, tables)


def _checked_widths(value) -> tuple[tuple[int, ...], int]:
    """A window's hidden widths (at least one) and its weights' count; a tuple of ints (the runtime's, every batch)
    is checked once. Only exact ints are cached: ``(64.0,)`` equals ``(64,)`` as a key but is refused."""
    if isinstance(value, tuple) and all(type(w) is int for w in value):
        return _widths_and_count(value)
    return _widths_and_count.__wrapped__(value)


@functools.lru_cache(maxsize=32)
def _widths_and_count(value) -> tuple[tuple[int, ...], int]:
    try:
        hidden = window_widths(value)
        if not hidden:
            raise ValueError(f"must be at least one; got {value!r}")
    except ValueError as error:
        raise ValueError(f"window hidden widths {error}") from None
    return hidden, window_weight_count(hidden)


def _walk_c(cell_logits, context_mix, context_basis, uniforms, count, rows, cols, loops, loop_bonus,
            closed_cells, window) -> np.ndarray:
    arrays = [np.ascontiguousarray(a) for a in (cell_logits, context_mix, context_basis)]
    out = np.empty((count, 2 * rows, 2 * cols), dtype=np.uint8)
    bias, weights, hidden, tables = window if window is not None else (b"", b"", (), b"")
    bad = _native.walk(*arrays, uniforms, out, count, rows, cols, arrays[1].shape[1], context_groups(arrays[2]),
                       bool(loops), loop_bonus, closed_cells, bias, weights, tuple(hidden), tables)
    if bad >= 0:
        raise _non_finite(*divmod(bad, rows * cols), cols)
    return out


def _walk_numpy(cell_logits, context_mix, context_basis, uniforms, count, rows, cols, loops, loop_bonus,
                closed_cells, window) -> np.ndarray:
    cell_logits = np.asarray(cell_logits, dtype=np.float64)
    context_mix = np.asarray(context_mix, dtype=np.float64)
    context_basis = np.asarray(context_basis, dtype=np.float64)
    sets = _Sets(count, rows, cols, loops, closed_cells)
    groups = context_groups(context_basis)
    closes_loop = np.array([False, True, False, True])
    same_bit = 1 << _SET_SHIFTS["same_set_right"]
    layers = window_layers(window.weights, window.hidden) if window is not None else None
    for r in range(rows):
        sets.start_row(r)
        for c in range(cols):
            context, allowed = sets.context_and_allowed(r, c, groups)
            with np.errstate(invalid="ignore", over="ignore"):  # refused just below, with a better message
                scores = option_scores(cell_logits[:, r, c], context_mix, context_basis, context)
                if layers is not None:
                    scores = scores + window_scores(sets.window_bits(r, c, context), window.bias, layers,
                                                    window.tables)
            if loops and loop_bonus:
                scores = scores + loop_bonus * (((context[:, 0] & same_bit) > 0)[:, None] & closes_loop)
            finite = np.isfinite(scores).all(axis=1)
            if not finite.all():
                raise _non_finite(int(np.argmin(finite)), r * cols + c, cols)
            sets.apply(r, c, choose(scores, allowed, uniforms[:, r * cols + c]))
    return sets.grids()


def _linked(right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Whether any of each cell's four links is open, from the ``(count, rows, cols)`` right and down links."""
    linked = right | down
    linked[:, 1:] |= down[:, :-1]
    linked[:, :, 1:] |= right[:, :, :-1]
    return linked


def maze_links(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(right, down)`` bool ``(count, rows, cols)`` links of a batch of lattice grids."""
    grids = np.asarray(grids) != 0
    return grids[:, ::2, 1::2], grids[:, 1::2, ::2]


def window_link_bits(grids: np.ndarray) -> np.ndarray:
    """bool ``(count, cells, len(WINDOW_LINKS))``: the links a window network reads at every cell of given mazes,
    row-major (the walk's set bits come with ``raster_events``' contexts)."""
    right, down = maze_links(grids)
    count, rows, cols = right.shape
    padded = {}
    for kind, links in (("right", right), ("down", down)):
        array = np.zeros((count, rows + _TOP, cols + _LEFT + _RIGHT), dtype=bool)
        array[:, _TOP:, _LEFT : _LEFT + cols] = links
        padded[kind] = array
    # A maze's last column has no right links and its last row no down links (border), as in the walk.
    padded["right"][:, :, _LEFT + cols - 1] = False
    padded["down"][:, _TOP + rows - 1, :] = False
    bits = [padded[kind][:, _TOP + dr : _TOP + dr + rows, _LEFT + dc : _LEFT + dc + cols]
            for kind, dr, dc in WINDOW_LINKS]
    return np.stack(bits, axis=-1).reshape(count, rows * cols, len(WINDOW_LINKS))


def window_set_bits(contexts: np.ndarray) -> np.ndarray:
    """bool ``(..., 3)``: the window's set bits from ``raster_events``' contexts ``(..., groups)``."""
    first = np.asarray(contexts)[..., 0]
    return np.stack([(first >> _SET_SHIFTS[name]) & 1 > 0 for (name,) in WINDOW_SET_BITS], axis=-1)


def raster_events(grids: np.ndarray, loops: bool = True, groups: int = 1,
                  closed_cells: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raster walk's choices for given mazes, for teacher-forced likelihoods.

    Args:
        grids: ``(count, H, W)`` lattice mazes whose open cells are all connected (every cell open unless
            ``closed_cells``).
        loops: whether the walk may close loops (True for a corpus of braid mazes; harmless for perfect ones).
        groups: how many context groups to read (1 or 2).
        closed_cells: whether cells may be wall (``raster_walk``'s option of the same name).

    Returns:
        ``contexts`` ``(count, cells, groups)`` int64 rows of the context basis (``g · CONTEXTS + context_g``),
        ``allowed`` ``(count, cells, 4)`` bool, ``options`` ``(count, cells)`` int64, in row-major cell order.

    Raises:
        ValueError: naming the first maze and cell whose choice the walk could not make (a closed cell, a piece
            cut off from the rest, or a loop when ``loops`` is False).
    """
    grids = np.asarray(grids)
    if grids.ndim != 3:
        raise ValueError(f"expected a batch of grids (count, H, W), got shape {grids.shape}")
    height, width = check_shape(*grids.shape[1:])
    count, rows, cols = len(grids), height // 2, width // 2
    problem = closed_cell_problem(grids, closed_cells)
    if problem is not None:
        raise ValueError(f"maze {problem[0]}: {problem[1]}")
    right, down = maze_links(grids)
    if groups not in (1, 2):
        raise ValueError(f"groups must be 1 or 2, got {groups!r}")
    contexts = np.zeros((count, rows * cols, groups), dtype=np.int64)
    allowed = np.zeros((count, rows * cols, OPTIONS), dtype=bool)
    options = np.zeros((count, rows * cols), dtype=np.int64)
    sets = _Sets(count, rows, cols, loops, closed_cells)
    for r in range(rows):
        sets.start_row(r)
        for c in range(cols):
            k = r * cols + c
            contexts[:, k], allowed[:, k] = sets.context_and_allowed(r, c, groups)
            options[:, k] = right[:, r, c] + 2 * down[:, r, c]
            bad = ~allowed[np.arange(count), k, options[:, k]]
            if bad.any():
                i = int(np.argmax(bad))
                what = "closes a loop" if options[i, k] & 1 and loops is False else "cuts a piece off from the rest"
                raise ValueError(f"maze {i}: the links at cell ({2 * r}, {2 * c}) cannot come from the raster walk "
                                 f"(the choice {what}; the open cells of a maze must all be connected)")
            sets.apply(r, c, options[:, k])
    return contexts, allowed, options


def closed_cell_problem(grids: np.ndarray, closed_cells: bool = True) -> tuple[int, str] | None:
    """The first of the ``(count, H, W)`` lattice grids whose wall cells the raster walk cannot draw, and why, or
    None. Without ``closed_cells`` every cell must be open. With it a wall cell must not be the first or the last
    cell (the walk's start and exit) and no link beside it may be open, and every open cell needs a link (an open
    cell on its own would come out as wall)."""
    grids = np.asarray(grids) != 0
    cells = grids[:, ::2, ::2]
    right, down = maze_links(grids)
    if not closed_cells:
        closed = np.argwhere(~cells)
        if len(closed):
            i, r, c = closed[0]
            return int(i), (f"cell ({2 * r}, {2 * c}) is wall; the raster walk draws mazes whose cells are all open "
                            f"unless it learns closed cells")
        return None
    ends = ~cells[:, 0, 0] | ~cells[:, -1, -1]
    if ends.any():
        i = int(np.argmax(ends))
        corner = (0, 0) if not cells[i, 0, 0] else (grids.shape[1] - 2, grids.shape[2] - 2)
        return i, (f"cell {corner} is wall; the raster walk keeps its first and last cell open (the levels' start "
                   f"and exit)")
    linked = _linked(right, down)
    stub = np.argwhere(~cells & linked)
    if len(stub):
        i, r, c = stub[0]
        return int(i), f"cell ({2 * r}, {2 * c}) is wall but a link beside it is open (the walk opens no such link)"
    alone = np.argwhere(cells & ~linked)
    if len(alone):
        i, r, c = alone[0]
        return int(i), f"cell ({2 * r}, {2 * c}) is open but has no open link (the walk connects every open cell)"
    return None
