"""``daedalus eval``: how close a decoder's levels come to real backtracker mazes, before and after repair.

It samples latents exactly as the runtime does, keeps the thresholded decoder output (``raw``) and the repaired
levels, and compares both with fresh backtracker mazes and with the thresholded mean maze of the model's training set
(rebuilt from the decoder's ``training_data`` metadata): the floor any model must clear.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from daedalus.errors import UsageError

# The goals the shipped default model is measured against (issue 6).
GOALS = {
    "raw perfect rate >= 0.25": lambda r: r["raw"]["perfect"] >= 0.25,
    "repair edits <= 1 % of positions": lambda r: r["edits"] <= 0.01,
    "solvable after repair = 100 %": lambda r: r["repaired"]["solvable"] == 1.0,
    "distinct after repair = 100 %": lambda r: r["repaired"]["distinct"] == 1.0,
    "novel (none identical to a training maze)": lambda r: r["repaired"].get("novelty", 1.0) == 1.0,
    "no border-corridor artefact (<= backtracker rate)": lambda r: r["repaired"]["border_corridor"]
    <= max(r["reference"]["border_corridor"], 0.001),
    "solution length W1 / mean <= 0.10": lambda r: r["repaired"]["w_solution_length"] <= 0.10,
    "dead ends W1 / mean <= 0.10": lambda r: r["repaired"]["w_dead_ends"] <= 0.10,
    "corridor length W1 / mean <= 0.10": lambda r: r["repaired"]["w_corridor_length"] <= 0.10,
}

ROWS = [
    ("perfect", "perfect rate", "{:.1%}"),
    ("solvable", "solvable", "{:.1%}"),
    ("loops", "loops", "{:.2f}"),
    ("pieces", "pieces", "{:.2f}"),
    ("dead_ends", "dead ends", "{:.2f}"),
    ("solution_length", "solution length", "{:.1f}"),
    ("corridor_length", "corridor length", "{:.2f}"),
    ("border_corridor", "border corridor", "{:.1%}"),
    ("distinct", "distinct", "{:.1%}"),
    ("novelty", "novel vs training", "{:.1%}"),
    ("w_solution_length", "W1/mean solution length", "{:.3f}"),
    ("w_dead_ends", "W1/mean dead ends", "{:.3f}"),
    ("w_corridor_length", "W1/mean corridor length", "{:.3f}"),
]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a decoder's levels against the backtracker, before and after repair",
        description="Sample levels as the runtime does and print, for raw (thresholded) and repaired levels: "
        "perfect rate, loops, pieces, dead ends, solution length, corridor length, border-corridor rate, distinct "
        "rate, novelty against the training data (rebuilt from the model's metadata), Wasserstein distances to "
        "fresh backtracker mazes (divided by the backtracker's mean) and repair edits; next to the same figures "
        "for the backtracker and the thresholded mean maze. Also draws an expressive-range plot.",
    )
    parser.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    parser.add_argument("--samples", type=int, default=10000, help="levels to sample (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents and the reference mazes")
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"), help="repair mode")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="execution device")
    parser.add_argument("--plot", default="expressive_range.png",
                        help="expressive-range PNG (default expressive_range.png; needs matplotlib)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the expressive-range plot")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(func=run_eval)


def training_grids(metadata: dict, limit: int = 100_000) -> np.ndarray | None:
    """Rebuild the model's training mazes from its ``training_data`` metadata, as the trainer drew them
    (``backtracker_batch(count, H, W, rng=seed)``; with fresh data per epoch, that is the first epoch's set).
    None when the metadata does not describe a maze set."""
    from daedalus.maze import backtracker_batch

    try:
        data = json.loads(metadata.get("training_data", "{}"))
    except json.JSONDecodeError:
        return None
    if data.get("kind") != "mazes" or not all(k in data for k in ("count", "height", "width", "seed")):
        return None
    return backtracker_batch(min(int(data["count"]), limit), int(data["height"]), int(data["width"]),
                             rng=int(data["seed"]))


def evaluate_model(generator, samples: int, seed: int, mode: str = "perfect"):
    """Sample ``samples`` levels; return ``(figures dict, raw grids, repaired grids, reference grids)``."""
    from tqdm import tqdm

    from daedalus.maze import backtracker_batch
    from daedalus.maze.evaluation import evaluate_grids

    height, width = generator.shape
    rng = np.random.default_rng(seed)
    raw, repaired, edits = [], [], []
    chunk = 1024
    for begin in tqdm(range(0, samples, chunk), desc="levels", unit="batch", leave=False, disable=samples < 4096):
        z = generator.sample_latents(min(chunk, samples - begin), rng)
        p_open = generator.decode(z, mode)
        result = generator.repair(p_open, mode)
        raw.append((p_open >= generator.threshold).astype(np.uint8))
        repaired.append(result.grids)
        edits.append(np.asarray(result.edits) / (height * width))
    raw, repaired, edits = np.concatenate(raw), np.concatenate(repaired), np.concatenate(edits)
    reference = backtracker_batch(samples, height, width, rng=np.random.default_rng([seed, 7]))
    training = training_grids(generator.metadata)
    figures = evaluate_grids(raw, repaired, edits, reference, training, generator.threshold)
    figures["training_set"] = None if training is None else int(len(training))
    return figures, raw, repaired, reference


def _cell(figures: dict | None, key: str, fmt: str) -> str:
    if figures is None or key not in figures:
        return "—"
    value = figures[key]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return fmt.format(value)


def format_report(figures: dict, samples: int, model: str) -> str:
    columns = [("raw", "model raw"), ("repaired", "model repaired"), ("reference", "backtracker"),
               ("baseline", "mean maze")]
    lines = [f"model: {model}", f"{samples} samples; edits = positions repair changed", ""]
    lines.append("| figure | " + " | ".join(title for _, title in columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for key, label, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(figures.get(c), key, fmt) for c, _ in columns) + " |")
    lines.append(f"| repair edits (mean / max) | {figures['edits']:.2%} / {figures['edits_max']:.2%} | | | |")
    lines.append("")
    lines.append("goals:")
    for name, check in GOALS.items():
        try:
            ok = bool(check(figures))
        except KeyError:
            ok = False
        lines.append(f"  [{'x' if ok else ' '}] {name}")
    return "\n".join(lines)


def _json_ready(value):
    """NaN and inf become null (JSON has no such numbers); numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def run_eval(args: argparse.Namespace) -> int:
    from daedalus.maze.cli import check_output
    from daedalus.runtime.generator import MazeGenerator

    if args.samples <= 0:
        raise UsageError(f"--samples must be a positive integer, got {args.samples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    plot = None if args.no_plot else check_output(args.plot, "--plot", (".png",))
    generator = MazeGenerator.load(args.model, device=args.device)
    figures, raw, repaired, reference = evaluate_model(generator, args.samples, args.seed, args.mode)
    figures["goals"] = {name: bool(check(figures)) for name, check in GOALS.items()}
    figures["model_path"] = str(generator.path)
    figures["samples"] = args.samples
    figures["mode"] = args.mode
    if plot is not None:
        from daedalus.maze.range_plot import MissingExtraError, expressive_range_plot

        try:
            expressive_range_plot(repaired, reference, plot, model_label="model (repaired)")
            figures["plot"] = str(plot)
        except MissingExtraError as error:
            figures["plot"] = None
            print(f"daedalus eval: note: {error}")
    if args.json:
        print(json.dumps(_json_ready(figures), indent=2, allow_nan=False))
    else:
        print(format_report(figures, args.samples, str(generator.path)))
        if figures.get("plot"):
            print(f"\nexpressive-range plot: {figures['plot']}")
    return 0
