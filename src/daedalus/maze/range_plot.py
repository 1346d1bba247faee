"""The expressive-range plot of ``daedalus eval``: solution length × dead ends as heat maps, model beside the
backtracker. matplotlib is imported only here, when a plot is asked for (it comes with the ``train`` extra)."""

from __future__ import annotations

import io
import os

import numpy as np

from daedalus.errors import MissingExtraError
from daedalus.files import atomic_write
from daedalus.maze.grid import as_batch
from daedalus.maze.stats import dead_ends, solution_length


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError(
            "the expressive-range plot needs matplotlib: pip install 'daedalus[train]'"
        ) from None
    return plt


def expressive_range(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(solution lengths, dead-end counts) of the solvable grids of a batch."""
    batch, _ = as_batch(grids)
    length = np.asarray(solution_length(batch)).reshape(-1)
    ends = np.asarray(dead_ends(batch)).reshape(-1)
    keep = length >= 0
    return length[keep], ends[keep]


def _integer_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges on half-integers with a whole-number width: integer statistics never fall between bins, which
    would draw empty stripes."""
    top = int(values.max()) + 1
    width = max(1, int(np.ceil(top / bins)))
    return np.arange(0, top + width + 1, width) - 0.5


def expressive_range_plot(model_grids: np.ndarray, reference_grids: np.ndarray, path: str | os.PathLike,
                          model_label: str = "model", reference_label: str = "backtracker", bins: int = 40) -> None:
    """Write a PNG with two heat maps on shared axes: solution length (x) × dead ends (y) of the model's levels
    and of the reference mazes. Unsolvable levels are left out (their share is printed in the title).

    Raises:
        MissingExtraError: when matplotlib is not installed.
        ValueError: when ``path`` does not end in .png.
    """
    if not str(path).lower().endswith(".png"):
        raise ValueError(f"expressive-range plot path must end in .png, got {str(path)!r}")
    plt = _pyplot()
    sets = []
    for grids, label in ((model_grids, model_label), (reference_grids, reference_label)):
        batch, _ = as_batch(grids)
        length, ends = expressive_range(batch)
        sets.append((length, ends, label, len(batch)))
    all_length = np.concatenate([s[0] for s in sets] + [np.zeros(1)])
    all_ends = np.concatenate([s[1] for s in sets] + [np.zeros(1)])
    x_edges, y_edges = _integer_edges(all_length, bins), _integer_edges(all_ends, bins)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
    for ax, (length, ends, label, total) in zip(axes, sets):
        hist, _, _ = np.histogram2d(length, ends, bins=(x_edges, y_edges))
        hist = hist / max(total, 1)
        ax.imshow(hist.T, origin="lower", aspect="auto", cmap="magma",
                  extent=(x_edges[0], x_edges[-1], y_edges[0], y_edges[-1]))
        solvable = len(length) / max(total, 1)
        ax.set_title(f"{label} (n={total}, solvable {solvable:.0%})")
        ax.set_xlabel("solution length (steps)")
    axes[0].set_ylabel("dead ends")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write(path, buffer.getvalue())
