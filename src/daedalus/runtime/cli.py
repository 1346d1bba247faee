"""``daedalus info`` and ``daedalus generate``: inspect a decoder, generate levels to files."""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from daedalus.errors import UsageError
from daedalus.maze.cli import check_writable_folder, non_negative_int, seed_int

FORMATS = ("png", "json", "txt", "npz")
PROGRESS_FROM = 5000
PREVIEW_COUNT = 64
# Staging folders of generate into a folder: ``.OUT.daedalus-partial-PID`` beside a new --out, ``.daedalus-partial-PID``
# inside an existing one. The next run for the same --out removes those whose process is gone.
STAGING_MARK = ".daedalus-partial-"


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
    gen.add_argument("--seed", type=seed_int, default=None, help="random seed (default: fresh, printed)")
    gen.add_argument("--mode", choices=("perfect", "braid"),
                     help="perfect: spanning-tree mazes; braid: keep the loops the decoder drew (default: the "
                          "model's, braid when most of its training levels had loops, else perfect)")
    gen.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    gen.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="execution device")
    gen.add_argument("--format", required=True, choices=FORMATS, help="output format")
    gen.add_argument("--out", required=True, help="the .npz file (npz) or a folder (png, json, txt)")
    gen.add_argument("--preview", help="also draw the first levels (up to 64) on one PNG sheet")
    gen.add_argument("--style", help="a many-style decoder: draw this style (daedalus info lists them)")
    gen.add_argument("--critic", action="append",
                     help="a critic file for this decoder (written by 'daedalus critic'), for --resample; repeat for "
                          "one per style (default with --resample: the critics beside the model, M.critic.onnx and "
                          "M.STYLE.critic.onnx)")
    gen.add_argument("--resample", type=resample_count, default=1,
                     help="keep one of K candidate walks per level, chosen with probability proportional to "
                          "exp(critic logit): levels closer to the critic's corpus at about K times the cost "
                          "(default 1: no resampling; needs a critic)")
    from daedalus.runtime.targets import add_arguments

    add_arguments(gen)  # --target, --tolerance, --like, --distance (daedalus.runtime.targets)
    gen.set_defaults(func=run_generate)


def critic_paths(args: argparse.Namespace) -> list[str]:
    """``--critic`` files, or with ``--resample`` above 1 and none given, the critics beside the model."""
    if args.critic or getattr(args, "resample", 1) <= 1:
        for path in args.critic or []:
            if not Path(path).exists() and str(path).isdigit() and hasattr(args, "critics"):
                raise UsageError(f"--critic {path!r}: no such critic file (for N two-sample critics, the option is "
                                 f"--critics {path})")
        return list(args.critic or [])
    from daedalus.runtime.resample import critic_files
    from daedalus.runtime.session import model_path

    return [str(path) for path in critic_files(model_path(args.model))]


def _critics_beside(generator) -> list[dict]:
    """The critic files beside the model, each with its style and mode and whether this decoder can use it."""
    from daedalus.errors import DaedalusError
    from daedalus.runtime.resample import Critic, critic_files, file_digest

    found, digest = [], None
    for path in critic_files(generator.path, matching=False):
        digest = digest or file_digest(generator.path)
        entry = {"path": str(path), "style": None, "mode": None, "usable": False, "problem": None}
        try:
            critic = Critic.load(path)
            entry.update(style=critic.style, mode=critic.mode)
            critic.check_decoder(generator.shape, generator.path, digest)
            entry["usable"] = True
        except DaedalusError as error:
            entry["problem"] = str(error)
        found.append(entry)
    return found


def resample_count(text: str) -> int:
    """argparse type of ``--resample``: an integer from 1 to ``resample.MAX_RESAMPLE``."""
    from daedalus.runtime.resample import check_resample

    try:
        return check_resample(int(text))
    except (ValueError, UsageError):
        from daedalus.runtime.resample import MAX_RESAMPLE

        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_RESAMPLE}, got {text!r}") from None


def run_info(args: argparse.Namespace) -> int:
    from daedalus.maze import raster_walk
    from daedalus.runtime.generator import MazeGenerator, installed_runtimes
    from daedalus.runtime.session import onnxruntime

    ort = onnxruntime()

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
        "walk": raster_walk.BACKEND,
        "decoding": generator.info.decoding,
        "styles": generator.styles,
    }
    from daedalus.runtime.targets import ranges_report

    report["target_ranges"] = ranges_report(generator)  # per mode: attribute -> [low, high] (generate --target)
    report["critics"] = _critics_beside(generator)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model: {report['model_path']}")
    print(f"latent_dim {report['latent_dim']}, grid {report['height']}x{report['width']}, "
          f"threshold {report['threshold']}")
    print(f"decoding: {report['decoding']}")
    # A style walked at another temperature than 1 says so (docs/formats.md "Raster decoders", step 0).
    named = [style.name + (f" (walk temperature {style.corpus['walk_temperature']:g})"
                           if style.corpus.get("walk_temperature", 1) != 1 else "")
             for style in generator.info.styles]
    print(f"styles: {', '.join(named) or '(one style)'}")
    print("metadata:")
    for key, value in sorted(report["metadata"].items()):
        if key == "styles":
            value = f"{len(report['styles'])} styles, each a Gaussian over the code (see docs/formats.md)"
        print(f"  {key}: {value}")
    print(f"onnxruntime {report['onnxruntime']} ({', '.join(report['onnxruntime_distributions']) or '?'})")
    print(f"providers available: {', '.join(report['available_providers'])}")
    print(f"provider chosen: {report['provider']}")
    print(f"walk: {report['walk']} ({'compiled' if report['walk'] == 'c' else 'numpy reference'})")
    for critic in report["critics"]:
        print(f"critic for --resample: {critic['path']} (style {critic['style'] or '(the prior)'}, {critic['mode']} "
              f"levels)" + ("" if critic["usable"] else f": not usable, {critic['problem']}"))
    if not report["target_ranges"]:
        print("reachable targets: not estimated yet for this model (the first generate --target estimates them "
              "and caches them beside the model)")
    for mode, ranges in report["target_ranges"].items():
        spans = ", ".join(f"{name} {low}-{high}" for name, (low, high) in ranges.items())
        print(f"reachable targets ({mode}): {spans}")
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
    from daedalus.limits import check_file_count, check_memory
    from daedalus.maze.backtracker import fresh_seed
    from daedalus.maze.cli import check_output
    from daedalus.runtime.generator import MazeGenerator
    from daedalus.runtime.targets import cli_batches

    out = Path(args.out)
    _check_out(out, args.format)
    if args.format != "npz":
        check_file_count(args.count)
    preview = check_output(args.preview, "--preview", (".png",)) if args.preview else None
    generator = MazeGenerator.load(args.model, device=args.device, critic=critic_paths(args))
    if args.mode is None:
        chosen = generator.critics.get(args.style) if args.resample > 1 else None
        args.mode = chosen.mode if chosen is not None else generator.mode_for(args.style)
    seed = args.seed if args.seed is not None else fresh_seed()
    height, width = generator.shape
    if args.format == "npz":  # grids, latents, edits, starts and exits, and the npz buffer
        check_memory(args.count * (2 * height * width + 4 * generator.latent_dim + 40),
                     f"generate --count {args.count} --format npz of {height}x{width} levels")
    first: list[np.ndarray] = []  # the first grids, kept for the preview sheet
    bar = tqdm(total=args.count, desc="levels", unit="level", disable=args.count < PROGRESS_FROM, leave=False)

    if args.format == "npz":
        grids = np.empty((args.count, height, width), dtype=np.uint8)
        latents = np.empty((args.count, generator.latent_dim), dtype=np.float32)
        edits = np.empty(args.count, dtype=np.int64)
        for batch in cli_batches(generator, args, seed):
            part = slice(batch["first"], batch["first"] + len(batch["grids"]))
            grids[part], latents[part], edits[part] = batch["grids"], batch["latents"], batch["edits"]
            bar.update(len(batch["grids"]))
        first = list(grids[:PREVIEW_COUNT])
        bar.close()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, grids=grids, starts=np.tile(np.array(generator.info.start, dtype=np.int64), (args.count, 1)),
            exits=np.tile(np.array(generator.info.exit, dtype=np.int64), (args.count, 1)), latents=latents,
            edits=edits, seed=seed, mode=args.mode, count=args.count, resample=args.resample,
        )
        atomic_write(out, buffer.getvalue())
        print(f"wrote {args.count} {args.mode} levels (seed {seed}) to {out}")
        _preview(first, generator, preview)
        return 0

    batches = cli_batches(generator, args, seed)  # checks targets before anything is written
    # One file per level, staged under a name the next run recognises (STAGING_MARK and the process id) so that a
    # kill at any moment leaves the previous state or the complete result: a new folder is staged beside --out and
    # renamed into place at the end (one atomic rename); into an existing folder, files are staged inside it and each
    # moved in by its own atomic rename. SIGTERM cleans up at once; what a SIGKILL leaves, the next run removes.
    _remove_stale_staging(out)
    fresh = not out.exists()
    stage = (out.parent / f".{out.name}{STAGING_MARK}{os.getpid()}") if fresh else out / f"{STAGING_MARK}{os.getpid()}"
    try:
        with _sigterm_exits():
            os.mkdir(stage)  # not mkdtemp (0700): the folder gets the permissions the umask gives
            for batch in batches:
                first.extend(batch["grids"][: PREVIEW_COUNT - len(first)])
                for level in batch.get("levels") or generator.levels_from_batch(batch, seed, args.mode, True):
                    path = stage / f"level-{seed}-{level.index}.{args.format}"
                    if args.format == "png":
                        level.to_png(path)
                    elif args.format == "json":
                        level.to_json(path)
                    else:
                        atomic_write(path, level.to_text().encode("ascii"))
                    bar.update(1)
            bar.close()
            if fresh:
                os.replace(stage, out)
            else:
                for path in sorted(stage.iterdir()):
                    os.replace(path, out / path.name)
                stage.rmdir()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    print(f"wrote {args.count} {args.mode} levels (seed {seed}) as {args.format} files to {out}")
    _preview(first, generator, preview)
    return 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours
        return True
    return pid != os.getpid()  # our own id on a leftover: a reused id after a restart


def _remove_stale_staging(out: Path) -> None:
    """Remove the staging folders killed runs of ``generate`` left for this ``--out`` (their process is gone)."""
    parent = out.parent if str(out.parent) else Path(".")
    candidates = list(parent.glob(f".{glob.escape(out.name)}{STAGING_MARK}*"))
    if out.is_dir():
        candidates += out.glob(f"{STAGING_MARK}*")
    for folder in candidates:
        pid = folder.name.rpartition(STAGING_MARK)[2]
        if folder.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            print(f"daedalus generate: removed {str(folder)!r}, the partial output of a killed run", file=sys.stderr)


@contextlib.contextmanager
def _sigterm_exits():
    """While writing, SIGTERM (timeout, CI, a service manager) exits through the cleanup like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum, frame):
        print("daedalus generate: terminated; removing the partial output", file=sys.stderr)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _preview(grids: list, generator, preview: Path | None) -> None:
    """Draw the first levels of the run onto one sheet."""
    if preview is None or not grids:
        return
    from daedalus.maze.draw import sheet_png

    count = len(grids)
    sheet_png(grids, preview, scale=4, starts=[generator.info.start] * count, exits=[generator.info.exit] * count)
    print(f"wrote preview sheet of {count} levels to {preview}")
