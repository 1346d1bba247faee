"""Training corpora: read a dataset npz, a generated-levels npz or a folder of level files, and check every level.

``read_corpus(path)`` is what ``daedalus train --data PATH`` reads (the accepted inputs and the rules are in
docs/formats.md, "Training corpora"):

1. A path to a file is read by its extension (``.npz``, ``.json``, ``.txt``, ``.png``); a folder is read file by
   file in sorted name order, other entries are counted and reported, not read.
2. Each file's size is checked before its arrays are allocated (sides up to ``MAX_SIDE``, the whole corpus up to
   ``MAX_POSITIONS`` positions), then against the first file's size: a corpus has one size.
3. Every level is checked by ``validate_levels``: values 0/1, the lattice rule, start and exit on open cells inside
   the grid, exit reachable from start. The first bad level stops the reading with a ``CorpusError`` naming the
   file, the level within it and the bad value.

Formats that carry no start or exit get the lattice's (``default_start`` / ``default_exit``). Reading writes
nothing. numpy and scipy only: the runtime's ``Level`` reuses ``validate_levels``, never the other way round.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from daedalus.errors import UsageError
from daedalus.maze.draw import EXIT_RGB, FLOOR_RGB, GAP_RGB, START_RGB, WALL_RGB
from daedalus.maze.grid import check_shape, default_exit, default_start, wall_mask
from daedalus.maze.stats import is_lattice, is_perfect, loops

MAX_SIDE = 256
MAX_POSITIONS = 2**31  # a corpus of 2 GiB of uint8 grids; larger means a wrong file or a corpus to split
MAX_TEXT_BYTES = 64 * 2**20  # one .json or .txt level
MAX_PNG_SIDE = 16384
MAX_PNG_PIXELS = 4096 * 4096
LEVEL_SUFFIXES = (".npz", ".json", ".txt", ".png")
LEVEL_FORMAT = "daedalus-level"  # the Level JSON schema (docs/formats.md); the runtime's Level writes the same
LEVEL_VERSION = 1

_CHUNK = 4096  # levels labelled at once: the int32 labels of a chunk stay around 12 MB for 28 x 28
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)  # 4-neighbour links within a grid, none across the batch axis
_STRUCTURE[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


class CorpusError(UsageError):
    """A corpus or level that cannot be read or breaks a rule; the message names the file, the level and the value."""


@dataclass(eq=False)
class Corpus:
    """Levels read and checked by ``read_corpus``.

    Attributes:
        grids: ``(N, H, W)`` uint8, 1 = open floor, 0 = wall.
        starts, exits: ``(N, 2)`` int64 ``(row, col)``.
        sources: where each level came from: ``"name"`` (a one-level file) or ``"name#index"`` (level ``index`` of
            an npz), names relative to the folder read (or the file's name).
        description: JSON-ready facts about the corpus (path, format, count, height, width, files, sha256 of the
            grids' bytes, ...; see docs/formats.md).
    """

    grids: np.ndarray
    starts: np.ndarray
    exits: np.ndarray
    sources: list[str]
    description: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.grids)


# --------------------------------------------------------------------------------------------------- validation


def _fmt(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
    return repr(value)


def _pair_text(point) -> str:
    return "[" + ", ".join(_fmt(v) for v in point) + "]"


def _endpoints(points, count: int, default: tuple[int, int], name: str, where) -> np.ndarray:
    """``points`` as an ``(count, 2)`` array (int64 or float64, not yet range-checked)."""
    if points is None:
        return np.broadcast_to(np.asarray(default, dtype=np.int64), (count, 2))
    try:
        points = np.asarray(points)
    except (ValueError, TypeError):
        raise CorpusError(f"{where(0)}: {name} must be [row, col] integers, got {points!r}") from None
    if points.shape == (2,):
        points = np.broadcast_to(points, (count, 2))
    if points.shape != (count, 2) and count == 1:
        raise CorpusError(f"{where(0)}: {name} must be a [row, col] pair, got {points.tolist()!r}")
    if points.shape != (count, 2):
        raise CorpusError(f"{where(0)}: {name}s must be [row, col] pairs, one per level: expected shape ({count}, 2), "
                          f"got {points.shape}")
    if points.dtype.kind not in "iuf":
        shown = points[0].tolist() if count else points
        raise CorpusError(f"{where(0)}: {name} must be [row, col] integers, got {shown!r} ({points.dtype})")
    return points


def _endpoint_problems(points: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Per level, whether ``points`` is not an integer pair on an open cell inside the grid."""
    n, height, width = batch.shape
    if points.dtype.kind == "f":
        bad = ~(np.isfinite(points) & (points == np.round(points))).all(axis=1)
    else:
        bad = np.zeros(n, dtype=bool)
    rows, cols = points[:, 0], points[:, 1]
    bad |= (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    safe = np.where(bad[:, None], 0, points).astype(np.int64)
    bad |= (safe[:, 0] % 2 == 1) | (safe[:, 1] % 2 == 1)
    safe[bad] = 0
    bad |= batch[np.arange(n), safe[:, 0], safe[:, 1]] == 0
    return bad


def _endpoint_message(point, grid: np.ndarray, name: str) -> str | None:
    height, width = grid.shape
    shown = _pair_text(point)
    values = [v.item() for v in point]
    if not all(isinstance(v, int) or (math.isfinite(v) and float(v).is_integer()) for v in values):
        return f"{name} {shown} is not a pair of integers"
    row, col = (int(v) for v in values)
    if not (0 <= row < height and 0 <= col < width):
        return f"{name} {shown} is outside the {height}x{width} grid"
    if row % 2 or col % 2:
        return f"{name} {shown} is not a cell: cells sit on even coordinates"
    if grid[row, col] == 0:
        return f"{name} {shown} is on a wall (0); start and exit must be open floor"
    return None


def _lattice_message(grid: np.ndarray) -> str:
    mask = wall_mask(grid.shape)
    row, col = (int(v) for v in np.argwhere(mask & (grid != 0))[0])
    height, width = grid.shape
    rule = ("the last row" if row == height - 1 else "the last column" if col == width - 1
            else "odd-odd positions")
    return f"position ({row}, {col}) is {_fmt(grid[row, col])} but the lattice rule keeps {rule} wall"


def _values_bad(batch: np.ndarray) -> np.ndarray:
    """Per position, whether the value is not exactly 0 or 1."""
    if batch.dtype.kind == "b":
        return np.zeros(batch.shape, dtype=bool)
    if batch.dtype.kind in "iu":
        return (batch != 0) & (batch != 1)
    return ~((batch == 0) | (batch == 1))  # NaN compares false to both


def _connected(batch: np.ndarray, starts: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """Per level, whether ``exits`` lie in the same open piece as ``starts`` (both open, inside the grid)."""
    ok = np.empty(len(batch), dtype=bool)
    for lo in range(0, len(batch), _CHUNK):
        part = slice(lo, lo + _CHUNK)
        labels, _ = ndimage.label(batch[part] != 0, structure=_STRUCTURE)
        index = np.arange(len(labels))
        a = labels[index, starts[part, 0], starts[part, 1]]
        b = labels[index, exits[part, 0], exits[part, 1]]
        ok[part] = (a == b) & (a != 0)
    return ok


def validate_levels(grids, starts=None, exits=None, source: str | Sequence[str] = "levels") -> None:
    """Check levels; raise ``CorpusError`` for the first bad one.

    Rules: the grid is ``(H, W)`` with even sides >= 4, every value exactly 0 or 1 (no 2, 0.5, NaN, -1), the
    lattice rule holds (odd-odd positions, the last row and the last column wall), start and exit are integer
    ``[row, col]`` pairs inside the grid, on cells (even coordinates) that are open, and the exit is reachable from
    the start through open floor.

    Args:
        grids: ``(N, H, W)`` or one ``(H, W)`` grid of numbers (bool, int or float).
        starts, exits: ``(N, 2)`` or one ``(2,)`` pair for all; None: the lattice's ``default_start`` /
            ``default_exit``.
        source: the file name, the message then says ``"<source> level <i>"`` (``"<source>"`` for a single
            level), or one label per level, used as it is.

    Raises:
        CorpusError: a one-line message naming the level and what is wrong with its values.
    """
    try:
        batch = np.asarray(grids)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise CorpusError(f"{source if isinstance(source, str) else 'levels'}: grid is not a rectangular array of "
                          f"numbers ({error})") from None
    single = batch.ndim == 2
    if single:
        batch = batch[None]

    def where(i: int) -> str:
        if not isinstance(source, str):
            return str(source[i])
        return source if single or len(batch) == 1 else f"{source} level {i}"

    if batch.ndim != 3:
        raise CorpusError(f"{where(0)}: levels must be an array (count, height, width), got shape {batch.shape}")
    if not isinstance(source, str) and len(source) != len(batch):
        raise ValueError(f"source names {len(source)} levels but grids holds {len(batch)}")
    if batch.dtype.kind not in "biuf":
        raise CorpusError(f"{where(0)}: values must be the numbers 0 (wall) or 1 (open floor), got dtype {batch.dtype}")
    n, height, width = batch.shape
    try:
        check_shape(height, width)
    except ValueError as error:
        raise CorpusError(f"{where(0)}: grid is {height}x{width}; {error}") from None
    start_points = _endpoints(starts, n, default_start((height, width)), "start", where)
    exit_points = _endpoints(exits, n, default_exit((height, width)), "exit", where)
    if n == 0:
        return

    values_bad = _values_bad(batch).reshape(n, -1).any(axis=1)
    lattice_bad = ~np.asarray(is_lattice(batch)).reshape(n)
    start_bad = _endpoint_problems(start_points, batch)
    exit_bad = _endpoint_problems(exit_points, batch)
    bad = values_bad | lattice_bad | start_bad | exit_bad
    good = np.nonzero(~bad)[0]
    if len(good):
        # Connectivity by component labels: one C pass per chunk, far faster than a breadth-first search per level.
        sub = batch if len(good) == n else batch[good]
        connected = _connected(sub, start_points[good].astype(np.int64), exit_points[good].astype(np.int64))
        bad[good[~connected]] = True
    if not bad.any():
        return

    i = int(np.argmax(bad))
    grid = batch[i]
    if values_bad[i]:
        row, col = (int(v) for v in np.argwhere(_values_bad(grid[None])[0])[0])
        problem = (f"position ({row}, {col}) is {_fmt(grid[row, col])}; a level holds only 0 (wall) and 1 "
                   f"(open floor)")
    elif lattice_bad[i]:
        problem = _lattice_message(grid)
    else:
        problem = (_endpoint_message(start_points[i], grid, "start") or _endpoint_message(exit_points[i], grid, "exit")
                   or f"exit {_pair_text(exit_points[i])} cannot be reached from start {_pair_text(start_points[i])} "
                      f"through open floor")
    raise CorpusError(f"{where(i)}: {problem}")


# ------------------------------------------------------------------------------------------------------ readers


@dataclass
class _Part:
    """The levels of one file, before validation: raw arrays as the file holds them."""

    grids: np.ndarray
    starts: np.ndarray | None
    exits: np.ndarray | None
    indexed: bool  # an npz: sources get "#index"
    generator: str | None = None
    mode: str | None = None


def _check_side(height: int, width: int, where: str) -> None:
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise CorpusError(f"{where}: a {height}x{width} level is larger than a corpus allows (sides up to {MAX_SIDE})")


def _read_bytes(path: Path, where: str, limit: int | None) -> bytes:
    try:
        size = path.stat().st_size
        if limit is not None and size > limit:
            raise CorpusError(f"{where}: {size} bytes is larger than a level file may be ({limit} bytes)")
        return path.read_bytes()
    except OSError as error:
        raise CorpusError(f"{where}: cannot read: {error.strerror or error}") from None


def _npz_header(archive: zipfile.ZipFile, key: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one array of an npz, read from its header without loading the data."""
    with archive.open(f"{key}.npy") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"npy format version {version} is not read")
        except ValueError as error:
            raise CorpusError(f"{where}: array {key!r} has an unreadable header ({error})") from None
    return shape, dtype


def _scalar(archive, key: str):
    if key not in archive.files:
        return None
    value = archive[key]
    return value.item() if value.ndim == 0 else None


def _read_npz(path: Path, where: str, budget: int) -> _Part:
    """A dataset npz (``daedalus dataset``) or a generated-levels npz (``daedalus generate --format npz``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name[:-4] for name in archive.namelist() if name.endswith(".npy")}
            if "grids" not in names:
                raise CorpusError(f"{where}: no 'grids' array (it holds {', '.join(sorted(names)) or 'no array'}); "
                                  f"a corpus npz holds grids (N, H, W), starts and exits (N, 2)")
            shape, dtype = _npz_header(archive, "grids", where)
    except (zipfile.BadZipFile, OSError) as error:
        raise CorpusError(f"{where}: not a readable npz file ({getattr(error, 'strerror', None) or error})") from None
    if len(shape) != 3:
        raise CorpusError(f"{where}: grids must be a 3-D array (count, height, width), got shape {shape}")
    count, height, width = shape
    _check_side(height, width, where)
    if count * height * width > budget:
        raise CorpusError(f"{where}: {count} levels of {height}x{width} would take the corpus past {MAX_POSITIONS} "
                          f"positions; split it or use fewer levels")
    if dtype.kind not in "biuf":
        raise CorpusError(f"{where}: grids must hold the numbers 0 and 1, got dtype {dtype}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            grids = archive["grids"]
            starts = archive["starts"] if "starts" in archive.files else None
            exits = archive["exits"] if "exits" in archive.files else None
            scalars = {key: _scalar(archive, key) for key in ("count", "height", "width", "generator", "mode")}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise CorpusError(f"{where}: cannot read the npz arrays ({error})") from None
    for key, expected in (("count", count), ("height", height), ("width", width)):
        value = scalars[key]
        if value is not None and value != expected:
            raise CorpusError(f"{where}: its {key} says {_fmt(value)} but grids is {count}x{height}x{width}")
    generator, mode = scalars["generator"], scalars["mode"]
    return _Part(grids, starts, exits, True, None if generator is None else str(generator),
                 None if mode is None else str(mode))


def _read_json(path: Path, where: str) -> _Part:
    """One level of the Level JSON schema v1 (docs/formats.md)."""
    try:
        data = json.loads(_read_bytes(path, where, MAX_TEXT_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: a level must be a JSON object, got {type(data).__name__}")
    if data.get("format") != LEVEL_FORMAT or data.get("version") != LEVEL_VERSION:
        raise CorpusError(f"{where}: format/version must be {LEVEL_FORMAT!r} {LEVEL_VERSION}, got "
                          f"{data.get('format')!r} {data.get('version')!r}")
    for key in ("height", "width", "grid", "start", "exit"):
        if key not in data:
            raise CorpusError(f"{where}: no {key!r} field; a level holds height, width, grid, start and exit")
    height, width = data["height"], data["width"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (height, width)):
        raise CorpusError(f"{where}: height and width must be integers, got {height!r} and {width!r}")
    _check_side(height, width, where)
    rows = data["grid"]
    if not isinstance(rows, list) or len(rows) != height or not all(isinstance(r, list) for r in rows):
        raise CorpusError(f"{where}: grid must be {height} lists (rows) of {width} numbers")
    if any(len(r) != width for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != width)
        raise CorpusError(f"{where}: grid row {bad} has {len(rows[bad])} values but width is {width}")
    grid = np.asarray(rows)
    if grid.dtype.kind not in "iuf":  # strings, true/false and null are not cell values
        raise CorpusError(f"{where}: grid values must be the numbers 0 and 1, got {grid.dtype} values")
    points = []
    for key in ("start", "exit"):
        point = data[key]
        if not (isinstance(point, list) and len(point) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)):
            raise CorpusError(f"{where}: {key} must be [row, col] integers, got {point!r}")
        if not all(isinstance(v, int) or (math.isfinite(v) and v.is_integer()) for v in point):
            raise CorpusError(f"{where}: {key} {_pair_text(point)} is not a pair of integers")
        # Out-of-range values stay as they are for validate_levels to name; the clip only keeps int64 from overflowing.
        points.append(np.clip(np.asarray(point, dtype=np.float64), -2**62, 2**62).astype(np.int64))
    mode = data.get("mode")
    return _Part(grid[None], points[0][None], points[1][None], False, None, mode if isinstance(mode, str) else None)


TEXT_WALL, TEXT_FLOOR, TEXT_START, TEXT_EXIT = "#", ".", "S", "E"


def _markers(found: np.ndarray, name: str, what: str, where: str) -> np.ndarray | None:
    if len(found) > 1:
        shown = ", ".join(f"({r}, {c})" for r, c in found[:3].tolist())
        more = " ..." if len(found) > 3 else ""
        raise CorpusError(f"{where}: {len(found)} {name} markers ({what}) at {shown}{more}; a level has one")
    return found[0].astype(np.int64) if len(found) else None


def _read_text(path: Path, where: str) -> _Part:
    """The level text form (``Level.to_text``): ``#`` wall, ``.`` floor, ``S`` start, ``E`` exit, one line a row."""
    try:
        text = _read_bytes(path, where, MAX_TEXT_BYTES).decode("ascii")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{where}: not ASCII text (byte {error.start}); the text form uses only # . S E") from None
    lines = [line.rstrip(" \t") for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise CorpusError(f"{where}: no rows; the text form has one line per row of # . S E")
    width = len(lines[0])
    for i, line in enumerate(lines):
        if len(line) != width:
            raise CorpusError(f"{where}: line {i + 1} has {len(line)} characters but line 1 has {width}; rows must be "
                              f"equally long")
    _check_side(len(lines), width, where)
    chars = np.frombuffer("".join(lines).encode("ascii"), dtype=np.uint8).reshape(len(lines), width)
    known = np.frombuffer((TEXT_WALL + TEXT_FLOOR + TEXT_START + TEXT_EXIT).encode("ascii"), dtype=np.uint8)
    unknown = ~np.isin(chars, known)
    if unknown.any():
        row, col = (int(v) for v in np.argwhere(unknown)[0])
        raise CorpusError(f"{where}: position ({row}, {col}) is {chr(chars[row, col])!r}; the text form uses "
                          f"'#' wall, '.' floor, 'S' start, 'E' exit")
    start = _markers(np.argwhere(chars == ord(TEXT_START)), "start", "'S'", where)
    exit = _markers(np.argwhere(chars == ord(TEXT_EXIT)), "exit", "'E'", where)
    grid = (chars != ord(TEXT_WALL)).astype(np.uint8)
    return _Part(grid[None], None if start is None else start[None], None if exit is None else exit[None], False)


# ---------------------------------------------------------------------------------------------------------- PNG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey + alpha, RGBA
_PNG_KINDS = {0: "grey", 2: "RGB", 3: "palette", 4: "grey + alpha", 6: "RGBA"}


def _unfilter_slow(kind: int, line: bytearray, prev: bytes, bpp: int) -> None:
    """Average (3) and Paeth (4) filters, in place: each byte depends on the one to its left."""
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            continue
        up_left = prev[i - bpp] if i >= bpp else 0
        p = left + up - up_left
        pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
        predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
        line[i] = (line[i] + predictor) & 0xFF


def decode_png(data: bytes, where: str = "PNG") -> np.ndarray:
    """Decode an 8-bit, non-interlaced grey, grey + alpha, RGB or RGBA PNG (all five filter types).

    Args:
        data: the file's bytes.
        where: the name errors start with.

    Returns:
        ``(H, W, channels)`` uint8, channels 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).

    Raises:
        CorpusError: not a PNG, a damaged one (bad CRC, truncated, wrong data length) or a kind not read
            (palette, 1/2/4/16-bit, interlaced), with what the file is.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise CorpusError(f"{where}: not a PNG file (no PNG signature)")
    pos, header, idat = len(PNG_SIGNATURE), None, []
    while True:
        if pos + 12 > len(data):
            raise CorpusError(f"{where}: truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise CorpusError(f"{where}: truncated PNG (chunk {kind!r} is cut short)")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise CorpusError(f"{where}: damaged PNG (chunk {kind!r} fails its CRC check)")
        pos += 12 + length
        if header is None and kind != b"IHDR":
            raise CorpusError(f"{where}: damaged PNG (the first chunk is {kind!r}, not IHDR)")
        if kind == b"IHDR":
            if length != 13:
                raise CorpusError(f"{where}: damaged PNG (IHDR of {length} bytes)")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, compression, filter_method, interlace = header
    if colour not in _PNG_CHANNELS or depth != 8:
        kind = _PNG_KINDS.get(colour, f"colour type {colour}")
        raise CorpusError(f"{where}: {kind} PNG of bit depth {depth}; only 8-bit grey, RGB or RGBA PNGs are read "
                          f"(as `daedalus generate --format png` writes them)")
    if interlace:
        raise CorpusError(f"{where}: an interlaced PNG; only non-interlaced PNGs are read")
    if compression or filter_method:
        raise CorpusError(f"{where}: unknown PNG compression or filter method ({compression}, {filter_method})")
    if not (0 < width <= MAX_PNG_SIDE and 0 < height <= MAX_PNG_SIDE and width * height <= MAX_PNG_PIXELS):
        raise CorpusError(f"{where}: a {width}x{height} pixel image is larger than a level picture may be "
                          f"({MAX_PNG_PIXELS} pixels)")
    bpp = _PNG_CHANNELS[colour]
    stride = width * bpp
    expected = height * (stride + 1)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat), expected + 1)  # never inflate more than the image can hold
    except zlib.error as error:
        raise CorpusError(f"{where}: damaged PNG image data ({error})") from None
    if len(raw) != expected:
        raise CorpusError(f"{where}: damaged PNG: {len(raw)} bytes of image data, {width}x{height} needs {expected}")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    kinds = rows[:, 0]
    if (kinds > 4).any():
        raise CorpusError(f"{where}: damaged PNG: row {int(np.argmax(kinds > 4))} has filter type "
                          f"{int(kinds[kinds > 4][0])}")
    out = np.empty((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for r in range(height):
        line, kind = rows[r, 1:], int(kinds[r])
        if kind == 0:
            out[r] = line
        elif kind == 1:
            out[r] = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(-1)  # wraps mod 256
        elif kind == 2:
            out[r] = line + prev
        else:
            buffer = bytearray(line.tobytes())
            _unfilter_slow(kind, buffer, prev.tobytes(), bpp)
            out[r] = np.frombuffer(buffer, dtype=np.uint8)
        prev = out[r]
    return out.reshape(height, width, bpp)


# Colours a level picture may hold: draw.render's, and plain black/white for walls and floor drawn by hand.
_PNG_COLOURS = {
    WALL_RGB: (0, "wall"), (0, 0, 0): (0, "black"), FLOOR_RGB: (1, "floor"), (255, 255, 255): (1, "white"),
    START_RGB: (1, "start"), EXIT_RGB: (1, "exit"),
}


def _scale(image: np.ndarray) -> int:
    """The pixels per position: every change of colour falls on a multiple of it (render draws square blocks, and
    the start marker, on even coordinates, always differs from the positions right of and below it)."""
    steps = [image.shape[0], image.shape[1]]
    steps += (np.nonzero((image[1:] != image[:-1]).any(axis=(1, 2)))[0] + 1).tolist()
    steps += (np.nonzero((image[:, 1:] != image[:, :-1]).any(axis=(0, 2)))[0] + 1).tolist()
    return math.gcd(*steps)


def image_to_level(image: np.ndarray, where: str = "PNG") -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Map a picture drawn by ``draw.render`` (any scale) back to ``(grid, start, exit)``.

    Colours: ``WALL_RGB`` or black → wall, ``FLOOR_RGB`` or white → floor, ``START_RGB`` / ``EXIT_RGB`` → open floor
    that marks the start / exit (None when the picture has no such marker). The scale is the largest block size
    every change of colour agrees with. Alpha, when present, must be opaque.

    Raises:
        CorpusError: a colour that is none of these, a transparent pixel, two start or exit markers.
    """
    channels = image.shape[2]
    if channels in (2, 4):
        alpha = image[..., -1]
        if (alpha != 255).any():
            y, x = (int(v) for v in np.argwhere(alpha != 255)[0])
            raise CorpusError(f"{where}: pixel ({y}, {x}) is transparent (alpha {int(alpha[y, x])}); a level picture "
                              f"is opaque")
        image = image[..., :-1]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    scale = _scale(image)
    small = image[::scale, ::scale]
    keys = (small[..., 0].astype(np.uint32) << 16) | (small[..., 1].astype(np.uint32) << 8) | small[..., 2]
    grid = np.zeros(keys.shape, dtype=np.uint8)
    known = np.zeros(keys.shape, dtype=bool)
    for (r, g, b), (value, _) in _PNG_COLOURS.items():
        match = keys == ((r << 16) | (g << 8) | b)
        grid[match] = value
        known |= match
    if not known.all():
        row, col = (int(v) for v in np.argwhere(~known)[0])
        colour = tuple(int(v) for v in small[row, col])
        hint = " (the gap colour of a preview sheet: read single levels instead)" if colour == GAP_RGB else ""
        names = ", ".join(f"{name} {rgb}" for rgb, (_, name) in _PNG_COLOURS.items())
        raise CorpusError(f"{where}: position ({row}, {col}) (pixel ({row * scale}, {col * scale}), scale {scale}) has "
                          f"colour {colour}{hint}, none of {names}")
    start = _markers(np.argwhere(keys == ((START_RGB[0] << 16) | (START_RGB[1] << 8) | START_RGB[2])), "start",
                     f"colour {START_RGB}", where)
    exit = _markers(np.argwhere(keys == ((EXIT_RGB[0] << 16) | (EXIT_RGB[1] << 8) | EXIT_RGB[2])), "exit",
                    f"colour {EXIT_RGB}", where)
    return grid, start, exit


def _read_png(path: Path, where: str) -> _Part:
    grid, start, exit = image_to_level(decode_png(_read_bytes(path, where, None), where), where)
    _check_side(*grid.shape, where)
    return _Part(grid[None], None if start is None else start[None], None if exit is None else exit[None], False)


# ----------------------------------------------------------------------------------------------------- corpus


def _read_file(path: Path, where: str, budget: int) -> _Part:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, where, budget)
    if suffix == ".json":
        return _read_json(path, where)
    if suffix == ".txt":
        return _read_text(path, where)
    if suffix == ".png":
        return _read_png(path, where)
    raise CorpusError(f"{where}: {suffix or 'no extension'} is not a level file; a corpus is "
                      f"{', '.join(LEVEL_SUFFIXES)} files or a folder of them")


def _recorded(values: set[str]):
    return None if not values else next(iter(values)) if len(values) == 1 else sorted(values)


def read_corpus(path: str | os.PathLike) -> Corpus:
    """Read and check a training corpus.

    Args:
        path: a dataset npz (``daedalus dataset``), a generated-levels npz (``daedalus generate --format npz``), one
            ``.json`` / ``.txt`` / ``.png`` level, or a folder of such files (read in sorted name order; other
            entries are skipped and listed in ``description["warnings"]``).

    Returns:
        A ``Corpus`` whose every level passed ``validate_levels``.

    Raises:
        CorpusError: the first problem, naming the file, the level within it and the bad value: a missing path, a
            folder with no level file, an unreadable or oversized file, a size other than the first file's, a level
            that breaks a rule.
    """
    path = Path(path)
    if path.is_dir():
        entries = sorted(path.iterdir(), key=lambda p: p.name)
        files = [p for p in entries if p.is_file() and not p.name.startswith(".")
                 and p.suffix.lower() in LEVEL_SUFFIXES]
        chosen = {p.name for p in files}
        ignored = [p.name + ("/" if p.is_dir() else "") for p in entries if p.name not in chosen]
        if not files:
            found = f" (it holds {len(ignored)} other entries: {', '.join(ignored[:5])}{' ...' * (len(ignored) > 5)})" \
                if ignored else " (it is empty)"
            raise CorpusError(f"{path}: no level files{found}; a corpus folder holds {', '.join(LEVEL_SUFFIXES)} files")
        fmt = "folder"
    elif path.is_file():
        files, ignored, fmt = [path], [], path.suffix.lower().lstrip(".")
    else:
        raise CorpusError(f"{path}: no such file or folder")

    parts: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    exits: list[np.ndarray] = []
    sources: list[str] = []
    generators: set[str] = set()
    modes: set[str] = set()
    first: tuple[str, tuple[int, int]] | None = None
    total = 0
    for file in files:
        where = str(file)
        try:
            part = _read_file(file, where, MAX_POSITIONS - total)
        except OSError as error:
            raise CorpusError(f"{where}: cannot read: {error.strerror or error}") from None
        count, height, width = part.grids.shape
        if count == 0:
            raise CorpusError(f"{where}: holds no level")
        if first is None:
            first = (file.name, (height, width))
        elif (height, width) != first[1]:
            raise CorpusError(f"{where}: {height}x{width} but the corpus is {first[1][0]}x{first[1][1]} "
                              f"(first file {first[0]})")
        validate_levels(part.grids, part.starts, part.exits, where)
        total += count * height * width
        shape = (height, width)
        parts.append(part.grids.astype(np.uint8, copy=False))
        starts.append(np.broadcast_to(np.asarray(default_start(shape) if part.starts is None else part.starts,
                                                 dtype=np.int64), (count, 2)))
        exits.append(np.broadcast_to(np.asarray(default_exit(shape) if part.exits is None else part.exits,
                                                dtype=np.int64), (count, 2)))
        sources.extend([f"{file.name}#{i}" for i in range(count)] if part.indexed else [file.name])
        generators.update([part.generator] if part.generator else [])
        modes.update([part.mode] if part.mode else [])

    grids = np.ascontiguousarray(parts[0] if len(parts) == 1 else np.concatenate(parts))
    count, height, width = grids.shape
    perfect = sum(int(np.sum(is_perfect(grids[lo : lo + _CHUNK]))) for lo in range(0, count, _CHUNK))
    braid = any(bool(np.any(loops(grids[lo : lo + _CHUNK]) > 0)) for lo in range(0, count, _CHUNK))
    description = {
        "path": str(path), "format": fmt, "count": int(count), "height": int(height), "width": int(width),
        "files": len(files), "perfect": perfect, "braid": braid,
        "sha256": hashlib.sha256(grids.tobytes()).hexdigest(),
    }
    for key, values in (("generator", generators), ("mode", modes)):
        if values:
            description[key] = _recorded(values)
    if ignored:
        description["ignored"] = ignored
        shown = ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else "")
        description["warnings"] = [f"ignored {len(ignored)} entries that are not level files: {shown}"]
    return Corpus(grids=grids, starts=np.concatenate(starts), exits=np.concatenate(exits), sources=sources,
                  description=description)
