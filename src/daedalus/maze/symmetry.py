"""The symmetries of a maze corpus: which flips and quarter turns leave its style unchanged, found by a test on its
levels, so that training can show a model every level in each of them (more levels from the same few).

A transform acts on the part of the grid inside the lattice's wall border (every row and column but the last), so
cells stay on even coordinates and the last row and column stay wall; the first and the last cell (start and exit)
may trade places with other corners. Quarter turns and transposes need square levels.

A corpus is taken to be invariant under a transform when one half of its levels and the other half transformed cannot
be told apart by three features of a level (each a set of Welch t-tests with levels as the observations, Bonferroni
over the set, at ``ALPHA``): which positions are open, how many cells have each pattern of their four links, and how
many 2 x 2 blocks of cells have each pattern of their four inner links. The symmetries kept are the largest group of
transforms that all pass (``corpus_symmetries``).
"""

from __future__ import annotations

import numpy as np

from daedalus.maze.stats import _cell_links

# The eight symmetries of the square, as (quarter turns counter-clockwise, then flip the columns).
TRANSFORMS = {
    "identity": (0, False), "rot90": (1, False), "rot180": (2, False), "rot270": (3, False),
    "flip_cols": (0, True), "antitranspose": (1, True), "flip_rows": (2, True), "transpose": (3, True),
}
# Every subgroup of that group (each a set of names, identity included), largest first.
GROUPS = (
    ("identity", "rot90", "rot180", "rot270", "flip_cols", "transpose", "flip_rows", "antitranspose"),
    ("identity", "rot180", "flip_cols", "flip_rows"),
    ("identity", "rot180", "transpose", "antitranspose"),
    ("identity", "rot90", "rot180", "rot270"),
    ("identity", "rot180"), ("identity", "flip_cols"), ("identity", "flip_rows"), ("identity", "transpose"),
    ("identity", "antitranspose"),
    ("identity",),
)
# Each feature's test rejects invariance below this p-value (three features, seven transforms: about 0.2 %
# of invariant corpora lose a symmetry they have, which only forgoes the extra levels).
ALPHA = 1e-4
# At most this many levels go into the test (it is about the style, and a few thousand levels tell it).
TEST_LEVELS = 4000


# The transform that undoes each one (quarter turns undo each other; every other one undoes itself).
INVERSES = {**{name: name for name in TRANSFORMS}, "rot90": "rot270", "rot270": "rot90"}
# The transforms that map the pair of the first and the last cell (start and exit corners) onto itself.
CORNER_KEEPING = ("identity", "rot180", "transpose", "antitranspose")


def square_only(name: str) -> bool:
    """Whether a transform swaps rows and columns (it then needs square levels)."""
    return TRANSFORMS[name][0] % 2 == 1


def walk_order_problem(name, height: int, width: int, closed_cells: bool = False) -> str | None:
    """Why a raster walk cannot draw ``height`` x ``width`` levels in order ``name`` (a transform of rows from the
    top, docs/formats.md "Raster decoders" step 7), or None: the order must be a known transform, one that swaps
    rows and columns needs square levels, and a walk with closed cells needs one that keeps the start and exit
    corners (where it keeps its first and last cell open)."""
    if name not in TRANSFORMS:
        return f"must be one of {', '.join(TRANSFORMS)}, got {name!r}"
    if square_only(name) and height != width:
        return (f"{name!r} swaps rows and columns and needs square levels, got {height}x{width} (use identity, "
                f"flip_rows, flip_cols or rot180)")
    if closed_cells and name not in CORNER_KEEPING:
        return (f"{name!r} moves the start or the exit corner, which a walk with closed cells keeps open: use one "
                f"of {', '.join(CORNER_KEEPING)}")
    return None


def turned_back(grids: np.ndarray, name: str) -> np.ndarray:
    """Levels a walk drew in order ``name``, the right way round: the inverse transform (the same array for the
    identity, so a walk in rows from the top copies nothing)."""
    return grids if name == "identity" else transform(grids, INVERSES[name])


def transform(grids: np.ndarray, name: str) -> np.ndarray:
    """``(N, H, W)`` grids under the transform ``name`` (a new array; the lattice's wall border stays in place).

    Raises:
        ValueError: an unknown name, or a quarter turn or transpose of levels that are not square.
    """
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}, expected one of {', '.join(TRANSFORMS)}")
    grids = np.asarray(grids)
    turns, flip = TRANSFORMS[name]
    if turns % 2 and grids.shape[1] != grids.shape[2]:
        raise ValueError(f"{name} needs square levels, got {grids.shape[1]}x{grids.shape[2]}")
    # np.rot90's quarter turns as views (it costs more than the copy at batch 1: the runtime turns back every batch).
    inner = grids[:, :-1, :-1]
    if turns == 1:
        inner = inner[:, :, ::-1].transpose(0, 2, 1)
    elif turns == 2:
        inner = inner[:, ::-1, ::-1]
    elif turns == 3:
        inner = inner.transpose(0, 2, 1)[:, :, ::-1]
    if flip:
        inner = inner[:, :, ::-1]
    out = np.zeros(grids.shape, dtype=grids.dtype)
    out[:, :-1, :-1] = inner
    return out


def transform_each(grids: np.ndarray, names, choice: np.ndarray) -> np.ndarray:
    """Level ``i`` of ``grids`` under transform ``names[choice[i]]``."""
    out = np.array(grids, copy=True)
    for k, name in enumerate(names):
        picked = np.flatnonzero(choice == k)
        if len(picked) and name != "identity":
            out[picked] = transform(grids[picked], name)
    return out


def _positions(grids: np.ndarray) -> np.ndarray:
    """Per level ``(N, (H - 1) (W - 1))``: which positions inside the wall border are open."""
    return grids[:, :-1, :-1].reshape(len(grids), -1).astype(np.float64)


def _cell_patterns(grids: np.ndarray) -> np.ndarray:
    """Per level ``(N, 16)``: how many open cells have each pattern of their four links (``stats._cell_links``)."""
    links, _ = _cell_links(grids)
    code = (links * np.array([1, 2, 4, 8])).sum(axis=-1)
    return _counts(np.where(grids[:, ::2, ::2], code, 16), 17)[:, :16]


def _block_patterns(grids: np.ndarray) -> np.ndarray:
    """Per level ``(N, 16)``: how many 2 x 2 blocks of cells have each pattern of their four inner links (top,
    right, bottom, left)."""
    g = np.asarray(grids) != 0
    h, w = g.shape[1] - 2, g.shape[2] - 2  # 2 (R - 1), 2 (C - 1): a block's top-left cell is at (2i, 2j) < (h, w)
    top, bottom = g[:, 0:h:2, 1:w:2], g[:, 2 : h + 2 : 2, 1:w:2]
    left, right = g[:, 1:h:2, 0:w:2], g[:, 1:h:2, 2 : w + 2 : 2]
    return _counts(top.astype(np.int64) | right << 1 | bottom << 2 | left << 3, 16)


def _counts(codes: np.ndarray, bins: int) -> np.ndarray:
    """Per level, a histogram of the integer codes ``(N, ...)`` in ``[0, bins)``."""
    flat = codes.reshape(len(codes), -1) + bins * np.arange(len(codes))[:, None]
    return np.bincount(flat.ravel(), minlength=bins * len(codes)).reshape(len(codes), bins).astype(np.float64)


def _differ_p(a: np.ndarray, b: np.ndarray) -> float:
    """p-value that two sets of levels, one feature vector each (``(n, k)``), have the same mean feature: a Welch
    t-test per feature, Bonferroni over the features. Levels are the observations, so the test holds however the
    features of one level depend on each other (a corridor opens many positions at once)."""
    from scipy.stats import t

    na, nb = len(a), len(b)
    difference = a.mean(axis=0) - b.mean(axis=0)
    spread = np.sqrt(a.var(axis=0, ddof=1) / na + b.var(axis=0, ddof=1) / nb)
    fixed = spread == 0
    if (fixed & (difference != 0)).any():  # the same in every level of each half, but not the same in both
        return 0.0
    varied = ~fixed
    if not varied.any():
        return 1.0
    z = np.abs(difference[varied]) / spread[varied]
    return float(min(1.0, 2 * t.sf(z.max(), min(na, nb) - 1) * varied.sum()))


def invariance_p(grids: np.ndarray, name: str, rng: np.random.Generator) -> float:
    """The smallest p-value of the three tests that the corpus ``grids`` is invariant under ``name``: one random
    half against the other half transformed (how often each position is open, each cell pattern, each block
    pattern)."""
    grids = np.asarray(grids) != 0
    order = rng.permutation(len(grids))
    half = len(grids) // 2
    a, b = grids[order[:half]], transform(grids[order[half : 2 * half]], name)
    return min(_differ_p(f(a), f(b)) for f in (_positions, _cell_patterns, _block_patterns))


def corpus_symmetries(grids: np.ndarray, seed: int = 0, allowed=None) -> tuple[str, ...]:
    """The largest group of transforms under which the corpus ``grids`` ``(N, H, W)`` looks invariant (every one
    passes ``invariance_p >= ALPHA``), restricted to the names in ``allowed`` (None: all that fit the shape). Always
    holds ``"identity"``; a corpus of fewer than 20 levels keeps only it (too few to tell)."""
    grids = np.asarray(grids)
    square = grids.shape[1] == grids.shape[2]
    names = [n for n in TRANSFORMS if (square or not square_only(n)) and (allowed is None or n in allowed)]
    if len(grids) < 20:
        return ("identity",)
    rng = np.random.default_rng([seed, 11])
    sample = grids[rng.permutation(len(grids))[:TEST_LEVELS]]
    passed = {"identity"} | {n for n in names if n != "identity" and invariance_p(sample, n, rng) >= ALPHA}
    return largest_group(passed)


def largest_group(names) -> tuple[str, ...]:
    """The largest group of transforms (identity included) whose every member is in ``names``."""
    names = set(names) | {"identity"}
    return next(group for group in GROUPS if set(group) <= names)
