"""``daedalus dataset``: mazes from one of the classic generators to an npz file, with an optional preview sheet and
(for the backtracker) an animation of the carving."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.grid import DEFAULT_SIZE, check_shape, default_exit, default_start


def parse_size(text: str) -> tuple[int, int]:
    """``"28"`` → (28, 28); ``"20x30"`` → (20, 30). Raises UsageError naming the text."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--size must be N or HxW with even integers >= 4, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise UsageError(f"--size must be N or HxW with even integers >= 4, got {text!r}")
    try:
        return check_shape(*values)
    except ValueError as error:
        raise UsageError(f"--size {text}: {error}") from None


def check_output(path: str | os.PathLike, option: str, suffixes: tuple[str, ...]) -> Path:
    """Check before any work starts that ``path`` can be written: its folder exists and is writable, its suffix
    is one of ``suffixes``, and it is not a folder."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {str(path)!r} must end in {' or '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option} {str(path)!r}: folder {str(folder)!r} does not exist")
    check_writable_folder(folder, option, path)
    if path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a folder, expected a file name")
    return path


def check_writable_folder(folder: Path, option: str, path: Path) -> None:
    """Create and remove a probe file in ``folder``: permission bits alone do not tell (root ignores them, and
    /proc or a read-only mount refuse writes whatever they say)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".daedalus-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"{option} {str(path)!r}: folder {str(folder)!r} is not writable ({reason})") from None


def _int_at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0."""
    return _int_at_least(text, 0, "a non-negative integer")


def seed_int(text: str) -> int:
    """An argparse ``type``: a seed or level code, an integer from 0 to ``MAX_SEED`` (2**53, exact in JSON)."""
    from daedalus.maze.backtracker import MAX_SEED

    value = _int_at_least(text, 0, "a non-negative integer")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected at most 2**53 = {MAX_SEED} (the largest integer a JSON number "
                                         f"holds exactly), got {value}")
    return value


def parse_braid(text: str) -> float:
    """``--braid`` as a float in [0, 1]; UsageError naming the text otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--braid must be a probability in [0, 1], got {text!r}")
    return value


def register(subparsers) -> None:
    from daedalus.maze.generators import GENERATORS

    names = ", ".join(GENERATORS)
    parser = subparsers.add_parser(
        "dataset",
        help="generate mazes from a classic generator to an npz file",
        description="Generate mazes with one of the classic generators (perfect mazes; --braid adds loops) and "
        "save them as an npz file with grids (N, H, W uint8, 1 = open), starts (N, 2), exits (N, 2) and the "
        "parameters. The same seed gives the same file.",
    )
    parser.add_argument(
        "--generator", default="backtracker", choices=list(GENERATORS), metavar="NAME",
        help=f"maze generator: {names} (default backtracker)",
    )
    parser.add_argument(
        "--braid", default="0", metavar="P",
        help="probability of opening one more link at each dead end, in [0, 1]; adds loops (default 0: perfect)",
    )
    parser.add_argument("--count", type=positive_int, default=1280, help="number of mazes (default 1280)")
    parser.add_argument("--size", default=str(DEFAULT_SIZE), help="N or HxW, even and >= 4 (default 28)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--preview", help="also draw the first mazes (up to 64) on a PNG sheet")
    parser.add_argument(
        "--animate",
        help="also animate the carving of the first maze to a GIF (backtracker only; shows the carving before any "
        "--braid)",
    )
    parser.set_defaults(func=run_dataset)


def run_dataset(args: argparse.Namespace) -> int:
    from daedalus.files import atomic_write
    from daedalus.limits import check_memory
    from daedalus.maze.backtracker import carve_frames
    from daedalus.maze.draw import carve_gif, sheet_png
    from daedalus.maze.generators import generate_batch

    height, width = parse_size(args.size)
    braid = parse_braid(args.braid)
    name = args.generator
    # The grids, the npz buffer beside them, and one maze's working arrays.
    check_memory(args.count * height * width * 2 + height * width * 16,
                 f"dataset --count {args.count} --size {height}x{width}")
    if args.animate and name != "backtracker":
        raise UsageError(f"--animate shows the backtracker's carving only, not --generator {name}")
    out = check_output(args.out, "--out", (".npz",))
    preview = check_output(args.preview, "--preview", (".png",)) if args.preview else None
    animate = check_output(args.animate, "--animate", (".gif",)) if args.animate else None

    rng = np.random.default_rng(args.seed)
    grids = generate_batch(name, args.count, height, width, rng, braid=braid, progress=args.count >= 5000)
    params = {"generator": name, "braid": braid, "seed": args.seed, "count": args.count, "height": height,
              "width": width}
    starts = np.tile(np.array(default_start((height, width)), dtype=np.int64), (args.count, 1))
    exits = np.tile(np.array(default_exit((height, width)), dtype=np.int64), (args.count, 1))

    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, grids=grids, starts=starts, exits=exits, count=args.count, height=height, width=width,
        seed=args.seed, generator=name, braid=braid, params=json.dumps(params),
    )
    atomic_write(out, buffer.getvalue())
    style = f"{name}, braid {braid:g}" if braid else name
    print(f"wrote {args.count} mazes of {height}x{width} ({style}, seed {args.seed}) to {out}")
    if preview:
        sheet_png(grids[:64], preview, scale=4)
        print(f"wrote preview sheet to {preview}")
    if animate:
        carve_gif(carve_frames(height, width, np.random.default_rng(args.seed)), animate, scale=8)
        print(f"wrote carving animation to {animate}")
    return 0
