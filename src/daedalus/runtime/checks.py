"""Checks of the arguments a game passes to ``MazeGenerator``: each raises ``UsageError`` naming the value."""

from __future__ import annotations

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.backtracker import MAX_SEED
from daedalus.maze.repair import MODES


def check_latents(z, latent_dim: int) -> np.ndarray:
    """``z`` as float32 ``(count, latent_dim)``, every value finite."""
    array = np.asarray(z)
    if array.dtype == object or array.dtype.kind not in "fiu":
        raise UsageError(f"latents must be real numbers (float32 preferred), got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != latent_dim:
        raise UsageError(f"latents must have shape (count, {latent_dim}), got {array.shape}")
    with np.errstate(over="ignore"):
        cast = array.astype(np.float32)
    if not np.isfinite(cast).all():
        row, col = np.argwhere(~np.isfinite(cast))[0]
        raise UsageError(f"latents must be finite float32 values, got {array[row, col]!r} at [{row}, {col}]")
    return cast


def check_count(count) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise UsageError(f"count must be a non-negative integer, got {count!r}")
    if count < 0:
        raise UsageError(f"count must be a non-negative integer, got {count}")
    return int(count)


def check_seed(seed) -> int:
    # A level's code is seed + index, so the seed must be a plain integer that JSON and other engines can carry.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer or None, got {seed!r}")
    if seed > MAX_SEED:
        raise UsageError(f"seed must be at most 2**53 = {MAX_SEED} (the largest integer a JSON number holds "
                         f"exactly), got {seed}")
    return int(seed)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
