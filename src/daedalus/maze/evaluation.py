"""How good are a model's mazes? Pure functions (numpy + scipy) behind ``daedalus eval``.

The figures compare a model's levels, before repair (``raw``: thresholded decoder output) and after
(``repaired``), with fresh backtracker mazes (``reference``): the statistics of ``daedalus.maze.stats``, the exact
1-D Wasserstein distance of their distributions divided by the reference mean, diversity, novelty against the
training set, and how much repair changed. The thresholded mean maze of the training set is the floor any model
must clear (``mean_maze_baseline``).
"""

from __future__ import annotations

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.carve import repair_edits
from daedalus.maze.grid import as_batch
from daedalus.maze.stats import batch_stats, distinct_fraction

# The distributions compared with the backtracker's, by their batch_stats name.
DISTRIBUTIONS = ("solution_length", "dead_ends", "corridor_length")


def _sample(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError(f"{name} is empty: a Wasserstein distance needs at least one value")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds a non-finite value")
    return np.sort(values)


def wasserstein_1d(a, b) -> float:
    """Exact 1-D Wasserstein-1 distance between the empirical distributions of samples ``a`` and ``b``
    (the area between their CDFs; the samples may differ in size).

    Raises:
        ValueError: when a sample is empty or holds NaN/inf.
    """
    a = _sample(a, "a")
    b = _sample(b, "b")
    support = np.concatenate([a, b])
    support.sort()
    widths = np.diff(support)
    cdf_a = np.searchsorted(a, support[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, support[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def relative_wasserstein(model_values, reference_values) -> float:
    """``wasserstein_1d(model, reference) / mean(reference)``: 0 is identical, 0.10 is the issue's goal.

    Raises:
        ValueError: when the reference mean is not positive.
    """
    reference = _sample(reference_values, "reference_values")
    scale = reference.mean()
    if scale <= 0:
        raise ValueError(f"reference mean must be positive to scale a distance, got {scale}")
    return wasserstein_1d(model_values, reference) / scale


def _relative_distance(values: np.ndarray, reference: np.ndarray) -> float | None:
    """``relative_wasserstein(values, reference)``, or None where it is undefined: an empty set, or a reference whose
    mean is 0 (a braid corpus without a dead end, say)."""
    if not len(values) or not len(reference) or np.mean(reference) <= 0:
        return None
    return float(relative_wasserstein(values, reference))


def _packed(grids: np.ndarray) -> np.ndarray:
    batch, _ = as_batch(grids)
    rows = np.packbits((batch != 0).reshape(len(batch), -1), axis=1)
    # One fixed-size byte string per grid: np.void views hash and compare as whole rows.
    return np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1]))).reshape(-1)


def novelty(grids: np.ndarray, training_grids: np.ndarray) -> float:
    """Fraction of ``grids`` not identical to any grid of ``training_grids`` (open = nonzero).

    Raises:
        ValueError: when the two sets have different grid shapes.
    """
    batch, _ = as_batch(grids)
    training, _ = as_batch(training_grids)
    if batch.shape[1:] != training.shape[1:]:
        raise ValueError(f"grids are {batch.shape[1:]} but training grids are {training.shape[1:]}")
    if len(batch) == 0:
        return float("nan")
    return float(1.0 - np.isin(_packed(batch), _packed(training)).mean())


def mean_maze_baseline(training_grids: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The mean of the training grids, thresholded: uint8 ``(H, W)``, open where the mean ``>= threshold``.
    A decoder that ignores its latent and outputs the data mean produces exactly this level."""
    batch, _ = as_batch(training_grids)
    if len(batch) == 0:
        raise ValueError("training_grids is empty: the mean maze needs at least one grid")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    return ((batch != 0).mean(axis=0) >= threshold).astype(np.uint8)


def set_figures(grids: np.ndarray, reference_stats: dict | None = None, training=None) -> dict:
    """The figures of one set of levels.

    Args:
        grids: ``(N, H, W)`` levels (nonzero = open).
        reference_stats: ``batch_stats`` of the reference mazes; adds ``w_<name>`` relative distances.
        training: training grids; adds ``novelty``.

    Returns:
        dict of floats: rates (perfect, lattice, solvable, border_corridor), means (loops, pieces, dead_ends,
        solution_length over solvable levels, corridor_length, open_fraction), ``distinct``, ``count`` and the
        optional extras.
    """
    batch, _ = as_batch(grids)
    stats = batch_stats(batch)
    solvable = stats["solvable"]
    out: dict[str, float] = {"count": int(len(batch))}
    for name in ("perfect", "lattice", "solvable", "border_corridor"):
        out[name] = float(np.mean(stats[name]))
    for name in ("loops", "pieces", "dead_ends", "corridor_length", "open_fraction"):
        out[name] = float(np.mean(stats[name]))
    out["solution_length"] = float(stats["solution_length"][solvable].mean()) if solvable.any() else float("nan")
    out["distinct"] = distinct_fraction(batch)
    if training is not None:
        out["novelty"] = novelty(batch, training)
    if reference_stats is not None:
        for name in DISTRIBUTIONS:
            values = stats[name]
            ref = np.asarray(reference_stats[name])
            if name == "solution_length":
                values, ref = values[solvable], ref[ref >= 0]
            distance = _relative_distance(values, ref)
            out[f"w_{name}"] = float("nan") if distance is None else distance
    return out


# The style statistics ``corpus_figures`` compares with a corpus, by their batch_stats name.
STYLE_DISTRIBUTIONS = ("dead_ends", "junctions", "straights", "turns", "solution_length", "corridor_length")


def corpus_figures(grids: np.ndarray, corpus_grids: np.ndarray, starts=None, exits=None) -> dict:
    """How close a model's levels come to any corpus's style (``daedalus eval --data``).

    Args:
        grids: ``(N, H, W)`` the model's levels (nonzero = open).
        corpus_grids: ``(M, H, W)`` the corpus, same grid shape; its levels use the default start and exit.
        starts, exits: the model levels' ``(row, col)`` endpoints (a pair or ``(N, 2)``); default: the lattice's.

    Returns:
        dict, JSON-ready: ``count``; means of dead_ends, junctions, straights, turns, loops, solution_length
        (over solvable levels), corridor_length; rates ``perfect`` and ``solvable``; ``distinct``;
        ``w_<name>`` for each of ``STYLE_DISTRIBUTIONS``, the 1-D Wasserstein distance to the corpus's
        distribution divided by the corpus mean (as ``relative_wasserstein``; solution lengths of solvable levels
        only); ``loops_ratio`` = mean loops / corpus mean loops. A figure that is undefined (no solvable level,
        a corpus mean of 0) is None.

    Raises:
        UsageError: when a set is empty or the grid shapes differ.
    """
    batch, _ = as_batch(grids)
    corpus, _ = as_batch(corpus_grids)
    if batch.shape[1:] != corpus.shape[1:]:
        raise UsageError(f"levels are {batch.shape[1:]} grids but the corpus holds {corpus.shape[1:]} grids "
                         f"(shapes {batch.shape} and {corpus.shape})")
    if len(batch) == 0 or len(corpus) == 0:
        raise UsageError(f"both sets need at least one level, got shapes {batch.shape} and {corpus.shape}")
    stats = batch_stats(batch, starts, exits)
    reference = batch_stats(corpus)
    solvable, ref_solvable = stats["solvable"], reference["solvable"]
    out: dict = {"count": int(len(batch))}
    for name in ("dead_ends", "junctions", "straights", "turns", "loops", "corridor_length"):
        out[name] = float(np.mean(stats[name]))
    out["solution_length"] = float(stats["solution_length"][solvable].mean()) if solvable.any() else None
    out["perfect"] = float(np.mean(stats["perfect"]))
    out["solvable"] = float(np.mean(solvable))
    out["distinct"] = distinct_fraction(batch)
    for name in STYLE_DISTRIBUTIONS:
        values, ref = np.asarray(stats[name]), np.asarray(reference[name])
        if name == "solution_length":
            values, ref = values[solvable], ref[ref_solvable]
        out[f"w_{name}"] = _relative_distance(values, ref)
    corpus_loops = float(np.mean(reference["loops"]))
    out["loops_ratio"] = out["loops"] / corpus_loops if corpus_loops > 0 else None
    return out


def evaluate_grids(raw: np.ndarray, repaired: np.ndarray, edits, reference: np.ndarray, training=None,
                   threshold: float = 0.5) -> dict:
    """Every figure of ``daedalus eval`` for one model.

    Args:
        raw: ``(N, H, W)`` thresholded decoder output, before repair.
        repaired: ``(N, H, W)`` the same levels after repair.
        edits: per-level fraction of positions repair changed (``(N,)``), or None to count them from raw/repaired.
        reference: ``(M, H, W)`` fresh backtracker mazes (not the training set).
        training: the model's training grids (adds novelty and the mean-maze baseline), or None.
        threshold: the threshold the mean-maze baseline uses.

    Returns:
        ``{"raw": figures, "repaired": figures, "reference": figures, "baseline": figures or absent,
        "edits": mean fraction, "edits_max": max fraction}``; figures as in ``set_figures``.
    """
    raw, _ = as_batch(raw)
    repaired, _ = as_batch(repaired)
    reference, _ = as_batch(reference)
    if raw.shape != repaired.shape:
        raise ValueError(f"raw and repaired must have the same shape, got {raw.shape} and {repaired.shape}")
    if reference.shape[1:] != raw.shape[1:]:
        raise ValueError(f"reference grids are {reference.shape[1:]} but levels are {raw.shape[1:]}")
    if edits is None:
        edits = repair_edits(raw, repaired)
    edits = np.asarray(edits, dtype=np.float64).reshape(-1)
    if len(edits) != len(raw):
        raise ValueError(f"edits has {len(edits)} values for {len(raw)} levels")
    reference_stats = batch_stats(reference)
    result = {
        "raw": set_figures(raw, reference_stats, training),
        "repaired": set_figures(repaired, reference_stats, training),
        "reference": set_figures(reference, reference_stats, training),
        "edits": float(edits.mean()) if len(edits) else float("nan"),
        "edits_max": float(edits.max()) if len(edits) else float("nan"),
    }
    if training is not None:
        result["baseline"] = set_figures(mean_maze_baseline(training, threshold)[None], reference_stats, training)
    return result


def corpus_mode(grids: np.ndarray) -> str:
    """The mode a corpus's style is drawn in: ``"braid"`` when more than half of its levels have a loop (the loops
    are part of the style), ``"perfect"`` otherwise (an empty corpus too)."""
    from daedalus.maze.stats import loops

    batch, _ = as_batch(grids)
    return "braid" if len(batch) and float(np.mean(loops(batch) > 0)) > 0.5 else "perfect"
