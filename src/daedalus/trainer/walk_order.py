"""The raster walk's order for a corpus (``walk_order = "auto"``, the recommended configuration; docs/training.md
"The walk's order").

The raster walk decides a level row by row from the top left; under a flip or a quarter turn of the level it walks
from the bottom up, right to left or column by column. A style is easier for the walk in some orders than in
others: hunt-and-kill's levels, drawn from the bottom up, are told from the corpus 0.69 of the time instead of 0.88
(EXPERIMENTS.md "The walk's order"). The order is chosen before training, from the data alone, by how predictable
the walk's choices are in it: a count model of the walk's choice given its fourteen-bit context (``CONTEXT_BITS``),
fitted on the training levels walked in that order and scored on the held-out levels, in nats per level. An order
replaces rows-from-the-top only when it explains the held-out levels better by more than ``MARGIN`` standard errors
of the paired per-level difference and by at least ``MIN_GAIN`` of the identity's nats, so a corpus with no
preferred direction (most are symmetric) keeps the identity. The second rule is measured, not derived: orders that
won by 1.3-3.2 % gave the same or better levels (hunt-and-kill 0.88 -> 0.69, binary tree 0.72 -> 0.61,
sidewinder 0.64 -> 0.64), one that won by 0.8 % (the braided backtracker, rot270) worse ones (0.66 -> 0.69).
Orders under which the corpus looks invariant (``corpus_symmetries``, the test ``augment = "auto"`` uses) walk it as
the identity does, so they are not candidates: a symmetric corpus keeps rows from the top without a count, and a
small one cannot win on the count model's noise (100 levels of a symmetric corpus differed by 3 % between orders).
"""

from __future__ import annotations

import numpy as np

from daedalus.maze.raster_walk import CONTEXTS, OPTIONS, raster_events
from daedalus.maze.symmetry import (
    TRANSFORMS,
    corpus_symmetries,
    largest_group,
    square_only,
    transform,
    walk_order_problem,
)

AUTO = "auto"
# How many standard errors of the paired per-level difference an order must win by to replace the identity.
MARGIN = 3.0
# ... and the least gain, as a fraction of the identity's nats per level.
MIN_GAIN = 0.01
# The count model's add-constant smoothing (Krichevsky-Trofimov) and the most training levels it counts.
SMOOTHING = 0.5
MOST_LEVELS = 20000


def candidates(height: int, width: int, closed_cells: bool, any_size: bool = False) -> tuple[str, ...]:
    """The orders a raster walk can draw such levels in (``walk_order_problem``); for a decoder that draws
    ``any_size`` (a shared cell decoder, ``export --size``) only those that keep rows rows, which apply to levels of
    every shape."""
    return tuple(name for name in TRANSFORMS if walk_order_problem(name, height, width, closed_cells) is None
                 and not (any_size and square_only(name)))


def order_nats(train: np.ndarray, held: np.ndarray, name: str, loops: bool = True,
               closed_cells: bool = False) -> np.ndarray:
    """Per held-out level, the nats of its walk in order ``name`` under the count model fitted on ``train``."""
    events = [raster_events(transform(grids, name), loops=loops, closed_cells=closed_cells)
              for grids in (train[:MOST_LEVELS], held)]
    (fit_context, _, fit_option), (context, allowed, option) = events
    counts = np.zeros((CONTEXTS, OPTIONS))
    np.add.at(counts, (fit_context[..., 0].ravel(), fit_option.ravel()), 1.0)
    weights = np.where(allowed, counts[context[..., 0]] + SMOOTHING, 0.0)
    chosen = np.take_along_axis(weights, option[..., None], axis=-1)[..., 0]
    return -np.log(chosen / weights.sum(axis=-1)).sum(axis=1)


def choose_walk_order(train: np.ndarray, held: np.ndarray, loops: bool = True, closed_cells: bool = False,
                      any_size: bool = False) -> tuple[str, dict[str, float]]:
    """The order to walk these levels in, and each candidate's held-out nats per level (rounded; none when the
    corpus is invariant under every order, or has too few held-out levels).

    Args:
        train: ``(N, H, W)`` training levels; ``held``: ``(M, H, W)`` held-out levels of the same size (M >= 2 for
            any order but the identity to be chosen).
        loops, closed_cells: the raster walk's options (``RasterVAE``); any_size: whether the decoder draws
            levels of other sizes too (``candidates``).
    """
    if len(held) < 2:
        return "identity", {}
    height, width = train.shape[1:]
    same = set(largest_group(corpus_symmetries(train, seed=0))) - {"identity"}
    names = [name for name in candidates(height, width, closed_cells, any_size) if name not in same]
    if names == ["identity"]:
        return "identity", {}
    nats = {name: order_nats(train, held, name, loops, closed_cells) for name in names}
    best, gain = "identity", 0.0
    for name, values in nats.items():
        difference = nats["identity"] - values
        mean, error = float(difference.mean()), float(difference.std(ddof=1) / np.sqrt(len(difference)))
        if mean > gain and mean > MARGIN * error and mean >= MIN_GAIN * float(nats["identity"].mean()):
            best, gain = name, mean
    return best, {name: round(float(values.mean()), 3) for name, values in nats.items()}
