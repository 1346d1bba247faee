"""``daedalus info`` and ``daedalus generate``: inspect a decoder, generate levels to files."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from daedalus.errors import UsageError
from daedalus.maze.cli import check_writable_folder, non_negative_int

FORMATS = ("png", "json", "txt", "npz")
PROGRESS_FROM = 5000
PREVIEW_COUNT = 64


def register(subparsers) -> None:
    info = subparsers.add_parser(
        "info",
        help="show a decoder's metadata and the execution providers",
        description="Load an ONNX maze decoder (default: the one shipped with the package), check it, and print its "
        "path, metadata, the onnxruntime execution providers available and the one the session got.",
    )
    info.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    info.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="execution device")
    info.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    info.set_defaults(func=run_info)

    gen = subparsers.add_parser(
        "generate",
        help="generate levels (always solvable) to PNG, JSON, text or one npz file",
        description="Sample latents with a seed, decode them with the ONNX decoder, clip and repair them into "
        "solvable levels. npz writes one file with grids (N, H, W uint8), starts, exits, latents, edits and seed; "
        "png/json/txt write one file per level, level-<seed>-<index>.<ext>, into the folder --out. The same seed "
        "gives the same levels.",
    )
    gen.add_argument("--count", type=non_negative_int, required=True, help="number of levels")
    gen.add_argument("--seed", type=non_negative_int, default=None, help="random seed (default: fresh, printed)")
    gen.add_argument("--mode", default="perfect", choices=("perfect", "braid"),
                     help="perfect: spanning-tree mazes; braid: keep the loops the decoder drew")
    gen.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    gen.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="execution device")
    gen.add_argument("--format", required=True, choices=FORMATS, help="output format")
    gen.add_argument("--out", required=True, help="the .npz file (npz) or a folder (png, json, txt)")
    gen.add_argument("--preview", help="also draw the first levels (up to 64) on one PNG sheet")
    gen.add_argument("--style", help="a many-style decoder: draw this style (daedalus info lists them)")
    gen.set_defaults(func=run_generate)


def run_info(args: argparse.Namespace) -> int:
    import onnxruntime as ort

    from daedalus.runtime.generator import MazeGenerator, installed_runtimes

    generator = MazeGenerator.load(args.model, device=args.device)
    report = {
        "model_path": str(generator.path.resolve()),
        "latent_dim": generator.latent_dim,
        "height": generator.shape[0],
        "width": generator.shape[1],
        "threshold": generator.threshold,
        "metadata": generator.metadata,
        "available_providers": ort.get_available_providers(),
        "provider": generator.provider,
        "onnxruntime": ort.__version__,
        "onnxruntime_distributions": installed_runtimes(),
        "decoding": generator.info.decoding,
        "styles": generator.styles,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model: {report['model_path']}")
    print(f"latent_dim {report['latent_dim']}, grid {report['height']}x{report['width']}, "
          f"threshold {report['threshold']}")
    print(f"decoding: {report['decoding']}")
    print(f"styles: {', '.join(report['styles']) or '(one style)'}")
    print("metadata:")
    for key, value in sorted(report["metadata"].items()):
        if key == "styles":
            value = f"{len(report['styles'])} styles, each a Gaussian over the code (see docs/formats.md)"
        print(f"  {key}: {value}")
    print(f"onnxruntime {report['onnxruntime']} ({', '.join(report['onnxruntime_distributions']) or '?'})")
    print(f"providers available: {', '.join(report['available_providers'])}")
    print(f"provider chosen: {report['provider']}")
    return 0


def _check_out(out: Path, fmt: str) -> None:
    """Fail before any work when ``--out`` cannot be written."""
    if fmt == "npz":
        from daedalus.maze.cli import check_output

        check_output(out, "--out", (".npz",))
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file; --format {fmt} writes one file per level into a folder")
    folder = out if out.is_dir() else out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--out {str(out)!r}: folder {str(folder)!r} does not exist")
    check_writable_folder(folder, "--out", out)


def run_generate(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from daedalus.files import atomic_write
    from daedalus.maze.backtracker import fresh_seed
    from daedalus.maze.cli import check_output
    from daedalus.runtime.generator import MazeGenerator

    out = Path(args.out)
    _check_out(out, args.format)
    preview = check_output(args.preview, "--preview", (".png",)) if args.preview else None
    generator = MazeGenerator.load(args.model, device=args.device)
    seed = args.seed if args.seed is not None else fresh_seed()
    height, width = generator.shape
    first: list[np.ndarray] = []  # the first grids, kept for the preview sheet
    bar = tqdm(total=args.count, desc="levels", unit="level", disable=args.count < PROGRESS_FROM, leave=False)

    if args.format == "npz":
        grids = np.empty((args.count, height, width), dtype=np.uint8)
        latents = np.empty((args.count, generator.latent_dim), dtype=np.float32)
        edits = np.empty(args.count, dtype=np.int64)
        for batch in generator.batches(args.count, seed, args.mode, style=args.style):
            part = slice(batch["first"], batch["first"] + len(batch["grids"]))
            grids[part], latents[part], edits[part] = batch["grids"], batch["latents"], batch["edits"]
            bar.update(len(batch["grids"]))
        first = list(grids[:PREVIEW_COUNT])
        bar.close()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, grids=grids, starts=np.tile(np.array(generator.info.start, dtype=np.int64), (args.count, 1)),
            exits=np.tile(np.array(generator.info.exit, dtype=np.int64), (args.count, 1)), latents=latents,
            edits=edits, seed=seed, mode=args.mode, count=args.count,
        )
        atomic_write(out, buffer.getvalue())
        print(f"wrote {args.count} {args.mode} levels (seed {seed}) to {out}")
        _preview(first, generator, preview)
        return 0

    # One file per level: write into a fresh temporary folder and move it into place at the end, so a failure
    # leaves no half-filled folder behind (into an existing folder, each file is written atomically).
    fresh = not out.exists()
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else ".")) \
        if fresh else out
    try:
        for batch in generator.batches(args.count, seed, args.mode, style=args.style):
            first.extend(batch["grids"][: PREVIEW_COUNT - len(first)])
            for level in generator.levels_from_batch(batch, seed, args.mode, True):
                path = folder / f"level-{seed}-{level.index}.{args.format}"
                if args.format == "png":
                    level.to_png(path)
                elif args.format == "json":
                    level.to_json(path)
                else:
                    atomic_write(path, level.to_text().encode("ascii"))
                bar.update(1)
        bar.close()
        if fresh:
            os.replace(folder, out)
    except BaseException:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    print(f"wrote {args.count} {args.mode} levels (seed {seed}) as {args.format} files to {out}")
    _preview(first, generator, preview)
    return 0


def _preview(grids: list, generator, preview: Path | None) -> None:
    """Draw the first levels of the run onto one sheet."""
    if preview is None or not grids:
        return
    from daedalus.maze.draw import sheet_png

    count = len(grids)
    sheet_png(grids, preview, scale=4, starts=[generator.info.start] * count, exits=[generator.info.exit] * count)
    print(f"wrote preview sheet of {count} levels to {preview}")
