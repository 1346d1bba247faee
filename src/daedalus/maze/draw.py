"""Pictures of mazes: one maze or a sheet of mazes to PNG, and the backtracker's carving as an animated GIF.

Written with numpy and zlib alone (no imaging library), so the runtime that games embed can draw levels too.
Files are written atomically (``daedalus.files.atomic_write``).
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from daedalus.files import atomic_write
from daedalus.maze.grid import Position, as_batch, default_exit, default_start

WALL_RGB = (24, 26, 38)
FLOOR_RGB = (232, 226, 208)
START_RGB = (46, 160, 67)
EXIT_RGB = (214, 55, 46)
HEAD_RGB = (240, 150, 30)
GAP_RGB = (90, 92, 110)


def render(
    grid: np.ndarray,
    start: Position | None = None,
    exit: Position | None = None,
    scale: int = 8,
    head: Position | None = None,
) -> np.ndarray:
    """An ``(H * scale, W * scale, 3)`` uint8 RGB image of one maze with start, exit and an optional head marked.

    Values between 0 and 1 (decoder probabilities) are drawn as shades between wall and floor.
    """
    grid = np.asarray(grid)
    if grid.ndim != 2:
        raise ValueError(f"render takes one grid (H, W), got shape {grid.shape}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    shade = np.clip(grid.astype(np.float32), 0.0, 1.0)[..., None]
    image = (np.array(WALL_RGB) * (1 - shade) + np.array(FLOOR_RGB) * shade).astype(np.uint8)
    shape = grid.shape
    start = default_start(shape) if start is None else start
    exit = default_exit(shape) if exit is None else exit
    for point, colour in ((start, START_RGB), (exit, EXIT_RGB)):
        image[point[0], point[1]] = colour
    if head is not None:
        image[head[0], head[1]] = HEAD_RGB
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def tile(images: list[np.ndarray], columns: int | None = None, gap: int = 4) -> np.ndarray:
    """Lay equal-sized RGB images out on a sheet, ``columns`` per row (default: about square)."""
    if not images:
        raise ValueError("no image to tile")
    count = len(images)
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    h, w, _ = images[0].shape
    sheet = np.empty((rows * h + (rows + 1) * gap, columns * w + (columns + 1) * gap, 3), dtype=np.uint8)
    sheet[:] = GAP_RGB
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        sheet[top : top + h, left : left + w] = image
    return sheet


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` uint8 RGB image or an ``(H, W)`` uint8 grey image."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 2:
        colour_type, channels = 0, 1
    elif image.ndim == 3 and image.shape[2] == 3:
        colour_type, channels = 2, 3
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    height, width = image.shape[:2]
    raw = np.zeros((height, 1 + width * channels), dtype=np.uint8)
    raw[:, 1:] = image.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def save_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Write an RGB or grey uint8 image to ``path`` as PNG, atomically."""
    atomic_write(path, encode_png(image))


def maze_png(grid: np.ndarray, path: str | os.PathLike, start=None, exit=None, scale: int = 8) -> None:
    """Draw one maze to a PNG file."""
    save_png(render(grid, start, exit, scale), path)


def sheet_png(grids: np.ndarray, path: str | os.PathLike, columns: int | None = None, scale: int = 4,
              starts=None, exits=None) -> None:
    """Draw a batch of mazes side by side on one PNG sheet."""
    batch, _ = as_batch(grids)
    images = [
        render(g, None if starts is None else tuple(starts[i]), None if exits is None else tuple(exits[i]), scale)
        for i, g in enumerate(batch)
    ]
    save_png(tile(images, columns), path)


def _lzw_literal(indices: np.ndarray) -> bytes:
    """GIF image data for palette indices (< 256) coded as 9-bit literals, with a clear code often enough that
    the decoder's code size never grows. Larger than real LZW, but simple and always valid."""
    clear, end = 256, 257
    codes = [clear]
    for start in range(0, len(indices), 250):
        codes.extend(indices[start : start + 250].tolist())
        codes.append(clear)
    codes.append(end)
    bits = 0
    nbits = 0
    out = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += 9
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = bytearray([8])
    for start in range(0, len(out), 255):
        piece = out[start : start + 255]
        blocks.append(len(piece))
        blocks.extend(piece)
    blocks.append(0)
    return bytes(blocks)


def encode_gif(frames: list[np.ndarray], delay_ms: int = 40, last_delay_ms: int = 1500) -> bytes:
    """An animated, looping GIF of RGB frames that share at most 256 colours."""
    if not frames:
        raise ValueError("no frame to animate")
    stack = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    _, height, width, _ = stack.shape
    colours, inverse = np.unique(stack.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) > 256:
        raise ValueError(f"a GIF holds at most 256 colours, the frames use {len(colours)}")
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(colours)] = colours
    indices = inverse.reshape(len(frames), height * width).astype(np.uint16)
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + palette.tobytes()
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frames_2d = indices.reshape(len(frames), height, width)
    previous = None
    for i, frame in enumerate(frames_2d):
        # Each frame after the first stores only the rectangle that changed ("do not dispose" keeps the rest).
        top, left, bottom, right = 0, 0, height, width
        if previous is not None:
            rows, cols = np.nonzero(frame != previous)
            if rows.size:
                top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            else:
                top, left, bottom, right = 0, 0, 1, 1
        previous = frame
        delay = (last_delay_ms if i == len(frames_2d) - 1 else delay_ms) // 10
        out += b"\x21\xf9\x04\x04" + struct.pack("<H", delay) + b"\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", left, top, right - left, bottom - top, 0)
        out += _lzw_literal(frame[top:bottom, left:right].ravel())
    out += b"\x3b"
    return bytes(out)


def carve_gif(frames: list[tuple[np.ndarray, Position]], path: str | os.PathLike, scale: int = 6,
              delay_ms: int = 40) -> None:
    """Animate ``carve_frames`` output (grid so far, head) to a GIF: the seed's "maze creation" picture."""
    images = [render(grid, head=head, scale=scale) for grid, head in frames]
    atomic_write(path, encode_gif(images, delay_ms=delay_ms))
