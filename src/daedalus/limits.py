"""Limits on sizes and counts, checked before any work starts (docs/limits.md).

A request is refused in one line naming the limit and how to raise it, instead of running into gigabytes or into a
job of hundreds of hours:

- memory: an estimate from the request's shape (``train``, ``dataset``, ``generate --format npz``) against
  ``DAEDALUS_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix), by default half of this machine's memory;
- files: ``generate --format png|json|txt`` writes at most ``DAEDALUS_MAX_FILES`` files (default 1,000,000) into
  one folder; ``--format npz`` writes any count into one file.
"""

from __future__ import annotations

import functools
import os

from daedalus.errors import UsageError

MEMORY_ENV = "DAEDALUS_MEMORY_LIMIT"
FILES_ENV = "DAEDALUS_MAX_FILES"
MAX_FILES = 1_000_000
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str, name: str = MEMORY_ENV) -> int:
    """``"8G"`` → 8 GiB, ``"512M"``, ``"1000000"``; UsageError naming ``name`` otherwise."""
    cleaned = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = cleaned[-1] if cleaned and cleaned[-1] in "KMGT" else ""
    try:
        value = float(cleaned[: len(cleaned) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"{name} must be a size in bytes such as 8G, 512M or 1000000, got {text!r}")
    return int(value)


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


@functools.cache  # read once: generate() checks its request against it on every call
def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit() -> tuple[int, str]:
    """``(bytes, where the limit comes from)``: ``DAEDALUS_MEMORY_LIMIT`` when set, else half the machine's memory
    (16 GiB when it cannot be read)."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        return parse_bytes(text), f"{MEMORY_ENV}={text}"
    total = physical_memory()
    if total is None:
        return 16 * 2**30, "the default when the machine's memory cannot be read"
    return total // 2, f"half of this machine's {format_bytes(total)}"


def check_memory(need: int, what: str) -> None:
    """Refuse ``what`` when its estimated memory ``need`` (bytes) is over the limit.

    Raises:
        UsageError: one line with the estimate, the limit and how to raise it.
    """
    limit, source = memory_limit()
    if need > limit:
        raise UsageError(f"{what} needs about {format_bytes(need)} of memory, more than the limit of "
                         f"{format_bytes(limit)} ({source}); ask for less, or set {MEMORY_ENV} (e.g. "
                         f"{MEMORY_ENV}=64G) to raise the limit")


def max_files() -> int:
    text = os.environ.get(FILES_ENV)
    if not text:
        return MAX_FILES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{FILES_ENV} must be a positive integer, got {text!r}")
    return value


def check_file_count(count: int, option: str = "--count") -> None:
    """Refuse writing more than ``max_files()`` files into one folder."""
    limit = max_files()
    if count > limit:
        raise UsageError(f"{option} {count} would write {count} files into one folder, more than the limit of "
                         f"{limit}; write them into one file with --format npz, or set {FILES_ENV} to raise the "
                         f"limit")
