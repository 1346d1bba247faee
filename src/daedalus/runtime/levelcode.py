"""Portable level codes: a level code (a non-negative integer below 2**64) and a dimension give one N(0, 1) number,
the same in Python, JavaScript (web/levelcode.js) and any engine (docs/formats.md "Level codes").

Why SplitMix64 and Box–Muller: SplitMix64 is counter-based in one line (the n-th output of a stream is a fixed mix of
``seed + n * golden``), needs only 64-bit wrap-around multiplication, xor and shifts (numpy uint64, JavaScript
BigInt, C# ulong, C uint64_t), and passes BigCrush. Box–Muller needs only log, sqrt, cos and sin, computed in
float64; rounding the result to float32 hides the last-ulp differences between libms (a float64 result 1 ulp off
changes the float32 only when it lies within 1 ulp of a float32 rounding boundary, about once in 2**29 values).
Philox would need 32x32→64 multiplications in JavaScript and more code for no gain here.

The algorithm (version ``LEVEL_CODE_VERSION``):
  1. ``mix(x)``: ``x ^= x >> 30; x *= 0xBF58476D1CE4E5B9; x ^= x >> 27; x *= 0x94D049BB133111EB; x ^= x >> 31``
     (all mod 2**64): SplitMix64's output function.
  2. The level's key: ``key = mix(code + GOLDEN)``, ``GOLDEN = 0x9E3779B97F4A7C15`` (SplitMix64's first output
     seeded with the code), so neighbouring codes get unrelated streams.
  3. Word ``n`` of the level: ``w(n) = mix(key + (n + 1) * GOLDEN)`` (the key-seeded SplitMix64's output ``n``).
  4. Dimension ``d`` uses the pair ``j = d // 2``: ``u1 = ((w(2j) >> 11) + 1) * 2**-53`` in (0, 1],
     ``u2 = (w(2j + 1) >> 11) * 2**-53`` in [0, 1), ``r = sqrt(-2 ln u1)``, ``t = TWO_PI * u2`` (one float64
     multiplication by the float64 nearest 2π); even ``d``: ``r cos t``, odd ``d``: ``r sin t``.
  5. Prior or style (``mean``, ``scale_tril`` over the first ``k`` dimensions): ``mean + scale_tril @ eps[:k]`` in
     float64; the other dimensions stay ``eps``. Then each value is rounded to float32.
"""

from __future__ import annotations

import os

import numpy as np

from daedalus.errors import UsageError

try:  # compiled normals (setup.py builds them; without a compiler the numpy reference runs, same float32 latents)
    from daedalus.runtime import _levelcode as _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None
# DAEDALUS_COMPILED=0 runs the numpy reference of every compiled part (the walk too), for comparisons.
BACKEND = "numpy" if os.environ.get("DAEDALUS_COMPILED") == "0" or _native is None else "c"

LEVEL_CODE_VERSION = 2  # version 1: numpy's PCG64 + ziggurat normals drawn in sequence from the seed (until 2026-12)
MAX_CODE = 2**64 - 1
GOLDEN = 0x9E3779B97F4A7C15
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
TWO_PI = 6.283185307179586  # the float64 nearest 2π
_TWO_53 = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 arrays (wraps mod 2**64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def check_codes(first: int, count: int) -> None:
    """Level codes ``first .. first + count - 1`` must fit in uint64."""
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
        raise UsageError(f"a level code must be a non-negative integer, got {first!r}")
    if int(first) + max(int(count), 1) - 1 > MAX_CODE:
        raise UsageError(f"level codes {first}..{int(first) + int(count) - 1} must be at most 2**64 - 1")


def words(codes, count: int) -> np.ndarray:
    """``(len(codes), count)`` uint64: words ``0 .. count - 1`` of each level code's stream."""
    codes = np.asarray(codes, dtype=np.uint64).reshape(-1)
    with np.errstate(over="ignore"):
        key = _mix(codes + np.uint64(GOLDEN))
        n = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
        return _mix(key[:, None] + n[None, :])


def normals(codes, dim: int, backend: str | None = None) -> np.ndarray:
    """``(len(codes), dim)`` float64 standard normals: entry ``[i, d]`` depends on ``codes[i]`` and ``d`` alone.
    ``backend``: ``"c"`` (compiled, where built), ``"numpy"`` (the reference), None for ``BACKEND``."""
    backend = BACKEND if backend is None else backend
    if backend not in ("c", "numpy") or (backend == "c" and _native is None):
        raise ValueError(f"backend must be one of {['c', 'numpy'] if _native else ['numpy']}, got {backend!r}")
    if backend == "c":
        codes = np.ascontiguousarray(np.asarray(codes, dtype=np.uint64).reshape(-1))
        out = np.empty((len(codes), dim), dtype=np.float64)
        _native.normals(codes, len(codes), dim, out)
        return out
    pairs = (dim + 1) // 2
    w = words(codes, 2 * pairs)
    u1 = ((w[:, 0::2] >> np.uint64(11)).astype(np.float64) + 1.0) * _TWO_53
    u2 = (w[:, 1::2] >> np.uint64(11)).astype(np.float64) * _TWO_53
    r = np.sqrt(-2.0 * np.log(u1))
    t = TWO_PI * u2
    out = np.empty((len(w), 2 * pairs), dtype=np.float64)
    out[:, 0::2] = r * np.cos(t)
    out[:, 1::2] = r * np.sin(t)
    return out[:, :dim]


def latents(first: int, count: int, dim: int, mean=None, scale_tril=None) -> np.ndarray:
    """``(count, dim)`` float32 latents of level codes ``first .. first + count - 1``.

    Args:
        first: the first level code (``generate``'s seed). count: how many consecutive codes.
        dim: the decoder's ``latent_dim``.
        mean, scale_tril: a Gaussian over the first ``len(mean)`` dimensions (the model's prior or a style); None:
            N(0, I).

    Raises:
        UsageError: a code outside [0, 2**64 - 1].
    """
    check_codes(first, count)
    return latents_of(np.arange(count, dtype=np.uint64) + np.uint64(first), dim, mean, scale_tril)


def latents_of(codes, dim: int, mean=None, scale_tril=None) -> np.ndarray:
    """``(len(codes), dim)`` float32 latents of any level codes (uint64), as ``latents`` makes them."""
    eps = normals(codes, dim)
    if mean is not None:
        k = len(mean)
        eps[:, :k] = np.asarray(mean, dtype=np.float64) + eps[:, :k] @ np.asarray(scale_tril, dtype=np.float64).T
    return eps.astype(np.float32)
