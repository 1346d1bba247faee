"""``daedalus eval``: how close a decoder's levels come to a corpus — any corpus (``--data PATH``), or by default
fresh levels of the generator its training data came from (rebuilt from the ``training_data`` metadata).

It samples latents exactly as the runtime does, keeps the decoder's own levels (``raw``: before any repair) and the
repaired ones, and compares both with the corpus: the statistics of ``daedalus.maze.stats`` (dead ends, junctions,
straight cells, turns, loops, solution length, corridor length), their Wasserstein distances divided by the corpus
mean, novelty against the training set, and a two-sample test (a small CNN trained to tell the model's levels from
the corpus's, scored on a held-out half; 0.5 = indistinguishable). Beside the model it reports the *same decoder
untrained* (the model configuration in the metadata, freshly initialised with the training seed, decoded the same
way) and the thresholded mean maze of the training set, so that what the learning adds shows.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from daedalus.errors import UsageError
from daedalus.runtime.cli import resample_count


def _w(r: dict, name: str) -> float:
    value = r["style"].get(f"w_{name}")
    return math.inf if value is None else value


# The goals a model is measured against (issue 11; the repair goals of issue 6).
GOALS = {
    "two-sample accuracy <= 0.60": lambda r: r["two_sample"]["model"] <= 0.60,
    "two-sample accuracy far below the untrained decoder's": lambda r: r["two_sample"]["model"]
    <= r["two_sample"]["untrained"] - 0.2 or r["two_sample"]["model"] <= 0.55,
    **{f"{name.replace('_', ' ')} W1 / mean <= 0.10": (lambda r, n=name: _w(r, n) <= 0.10)
       for name in ("dead_ends", "junctions", "straights", "turns", "solution_length")},
    "valid before repair (or repair edits <= 1 %)": lambda r: r["edits"] <= 0.01
    or (r["raw"]["solvable"] == 1.0 and (r["raw"]["perfect"] == 1.0 or r["mode"] == "braid")),
    "loops within 10 % of a braid corpus's": lambda r: r["reference"]["loops"] == 0
    or abs(r["repaired"]["loops"] / r["reference"]["loops"] - 1) <= 0.10,
    "repair edits <= 1 % of positions": lambda r: r["edits"] <= 0.01,
    "solvable after repair = 100 %": lambda r: r["repaired"]["solvable"] == 1.0,
    "distinct after repair = 100 %": lambda r: r["repaired"]["distinct"] == 1.0,
    "novel (none identical to a training maze)": lambda r: r["repaired"].get("novelty", 1.0) == 1.0,
    "no border-corridor artefact (<= backtracker rate)": lambda r: r["repaired"]["border_corridor"]
    <= max(r["reference"]["border_corridor"], 0.001),
}

ROWS = [
    ("perfect", "perfect rate", "{:.1%}"),
    ("solvable", "solvable", "{:.1%}"),
    ("loops", "loops", "{:.2f}"),
    ("pieces", "pieces", "{:.2f}"),
    ("dead_ends", "dead ends", "{:.2f}"),
    ("junctions", "junctions", "{:.2f}"),
    ("straights", "straight cells", "{:.2f}"),
    ("turns", "turns", "{:.2f}"),
    ("solution_length", "solution length", "{:.1f}"),
    ("corridor_length", "corridor length", "{:.2f}"),
    ("border_corridor", "border corridor", "{:.1%}"),
    ("distinct", "distinct", "{:.1%}"),
    ("novelty", "novel vs training", "{:.1%}"),
    ("w_solution_length", "W1/mean solution length", "{:.3f}"),
    ("w_dead_ends", "W1/mean dead ends", "{:.3f}"),
    ("w_junctions", "W1/mean junctions", "{:.3f}"),
    ("w_straights", "W1/mean straight cells", "{:.3f}"),
    ("w_turns", "W1/mean turns", "{:.3f}"),
    ("w_corridor_length", "W1/mean corridor length", "{:.3f}"),
    ("two_sample", "two-sample accuracy", "{:.3f}"),
]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a decoder's levels against a corpus (its training style by default), beside the same "
        "decoder untrained",
        description="Sample levels as the runtime does and print, for raw (before repair) and repaired levels: "
        "perfect rate, loops, pieces, dead ends, junctions, straight cells, turns, solution length, corridor "
        "length, distinct rate, novelty against the training data, Wasserstein distances to the corpus (divided by "
        "its mean), repair edits and a CNN two-sample accuracy; beside the same figures for the same decoder "
        "untrained, the corpus and the thresholded mean maze. The corpus is --data PATH, or fresh levels of the "
        "training data's generator (from the model's metadata). Also draws an expressive-range plot.",
    )
    parser.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    parser.add_argument("--samples", type=int, default=10000, help="levels to sample (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents and the reference mazes")
    parser.add_argument("--mode", choices=("perfect", "braid"),
                        help="perfect (spanning trees) or braid (the decoder's loops); default: braid when most "
                             "levels of the corpus compared with have a loop, else perfect")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="execution device")
    parser.add_argument("--plot", help="expressive-range PNG to draw (needs matplotlib; default: no plot)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the expressive-range plot (default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--data", help="corpus to compare with: a dataset npz or a folder of level files (default: "
                        "fresh levels of the model's training generator, or its training corpus)")
    parser.add_argument("--style", help="a many-style decoder: sample this style (see daedalus info)")
    parser.add_argument("--no-untrained", dest="untrained", action="store_false",
                        help="skip the untrained decoder (it needs torch)")
    parser.add_argument("--no-two-sample", dest="two_sample", action="store_false",
                        help="skip the CNN two-sample test (it needs torch)")
    parser.add_argument("--critics", type=int, default=1,
                        help="two-sample critics to train, each on its own split and seed (seed, seed + 1, ...); "
                             "the accuracy reported is their mean, and the JSON lists each (default 1: one "
                             "critic's figure moves by a few hundredths from seed to seed)")
    parser.add_argument("--critic", action="append",
                        help="a resampling critic for this decoder ('daedalus critic'; not the two-sample test's), for "
                             "--resample; repeatable (default with --resample: the critics beside the model)")
    parser.add_argument("--resample", type=resample_count, default=1,
                        help="measure the levels 'generate --resample K' makes: one of K candidate walks per level, "
                             "chosen by the critic (default 1: none)")
    parser.set_defaults(func=run_eval)


def _training_data(metadata: dict) -> dict:
    try:
        data = json.loads(metadata.get("training_data", "{}"))
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def generated_corpus(data: dict, count: int, rng) -> np.ndarray | None:
    """``count`` mazes from the generator a ``training_data`` description names (None when it names none)."""
    from daedalus.maze import backtracker_batch
    from daedalus.maze.generators import generate_batch

    if data.get("kind") != "mazes" or not all(k in data for k in ("height", "width")):
        return None
    generator, braid = data.get("generator", "backtracker"), float(data.get("braid", 0.0))
    shape = (int(data["height"]), int(data["width"]))
    if generator == "backtracker" and not braid:
        return backtracker_batch(count, *shape, rng=rng)
    return generate_batch(generator, count, *shape, np.random.default_rng(rng), braid)


def training_grids(metadata: dict, limit: int = 100_000) -> np.ndarray | None:
    """Rebuild the model's training mazes from its ``training_data`` metadata, as the trainer drew them (a
    generated set: the first epoch's; a corpus: the corpus file, when it is still there). None when the metadata
    does not describe maze data."""
    from pathlib import Path

    data = _training_data(metadata)
    if data.get("kind") == "corpus" and data.get("path") and Path(data["path"]).exists():
        from daedalus.maze.corpus import read_corpus

        return read_corpus(data["path"]).grids[:limit]
    if not all(k in data for k in ("count", "seed")):
        return None
    return generated_corpus(data, min(int(data["count"]), limit), int(data["seed"]))


def reference_corpus(metadata: dict, data_path: str | None, count: int, seed: int, style: str | None = None):
    """The corpus to compare with: ``--data``, else fresh levels of the training generator, else the training
    corpus (one style's files for ``style``). Returns ``(grids, description)``."""
    from pathlib import Path

    from daedalus.maze.corpus import read_corpus

    rng = np.random.default_rng([seed, 7])
    shape = (int(metadata["height"]), int(metadata["width"]))
    given = data_path is not None
    if data_path is None:
        data = _training_data(metadata)
        if data.get("generator") and (data.get("height"), data.get("width")) != shape:
            # A decoder exported at another size than it learned at (export --size): its generator at its size.
            data = {**data, "kind": "mazes", "height": shape[0], "width": shape[1]}
        fresh = generated_corpus(data, count, rng)
        if fresh is not None:
            return fresh, f"fresh {data.get('generator', 'backtracker')} mazes"
        if data.get("kind") != "corpus" or not data.get("path") or not Path(data["path"]).exists():
            raise UsageError("the model's metadata names no generator and no readable training corpus; pass the "
                             "corpus to compare with as --data PATH")
        data_path = data["path"]
        if style is not None and Path(data_path).is_dir() and (Path(data_path) / f"{style}.npz").is_file():
            data_path = str(Path(data_path) / f"{style}.npz")
    corpus = read_corpus(data_path)
    grids = corpus.grids
    if grids.shape[1:] != shape:
        where = "--data" if given else "the training corpus"
        raise UsageError(f"{where} {data_path!r} holds {grids.shape[1]}x{grids.shape[2]} levels but the model draws "
                         f"{shape[0]}x{shape[1]}; pass a corpus of its size as --data PATH")
    if len(grids) > count:
        grids = grids[np.sort(rng.choice(len(grids), count, replace=False))]
    return grids, f"corpus {data_path} ({len(grids)} levels)"


def untrained_levels(generator, z: np.ndarray, mode: str) -> np.ndarray | None:
    """The levels of the same decoder *untrained*: its model configuration (metadata ``model_config``) freshly
    initialised with the training seed, run by torch on the same latents, decoded by the same decoding class.
    None when the metadata describes no model this trainer can build (``model_config`` is informational)."""
    import torch

    from daedalus.errors import DaedalusError
    from daedalus.trainer.models import build_model

    try:
        config = json.loads(generator.metadata["model_config"])
        seed = int(generator.metadata.get("training_seed") or "0")
        torch.manual_seed(seed)
        model = build_model({k: v for k, v in config.items() if k != "name"}).eval()
    except (KeyError, ValueError, TypeError, AttributeError, DaedalusError):
        return None
    if model.input_dim != generator.latent_dim:
        return None
    with torch.no_grad():
        outputs = [t.numpy() for t in model.export_outputs(torch.from_numpy(np.asarray(z, dtype=np.float32)))]
    return generator.decoding.raw(outputs, mode)


def evaluate_model(generator, samples: int, seed: int, mode: str | None = "perfect", data: str | None = None,
                   style: str | None = None, untrained: bool = True, two_sample: bool = True, critics: int = 1,
                   resample: int = 1):
    """Sample ``samples`` levels; return ``(figures dict, raw grids, repaired grids, reference grids)``. ``mode``
    None picks it from the reference corpus (``corpus_mode``); ``figures["mode"]`` says which was used. The
    two-sample accuracy is the mean of ``critics`` critics (seeds ``seed .. seed + critics - 1``); with more than
    one, ``figures["two_sample_runs"]`` lists each. ``resample`` K > 1: the levels are those ``generate(...,
    resample=K)`` makes with the generator's critic (the untrained decoder is run on the kept latents)."""
    from tqdm import tqdm

    from daedalus.maze.evaluation import corpus_figures, corpus_mode, evaluate_grids

    height, width = generator.shape
    reference, described = reference_corpus(generator.metadata, data, samples, seed, style)
    if mode is None:
        mode = corpus_mode(reference)
    rng = np.random.default_rng(seed)
    latents, raw, repaired, edits = [], [], [], []
    chunk = 1024
    for begin in tqdm(range(0, samples, chunk), desc="levels", unit="batch", leave=False, disable=samples < 4096):
        size = min(chunk, samples - begin)
        if resample > 1:
            first = int(rng.integers(0, 2**52))  # seeds stay exact in JSON (check_seed)
            z = np.concatenate([b["latents"] for b in generator.batches(size, first, mode, style=style,
                                                                         resample=resample)])
        else:
            z = generator.sample_latents(size, rng, style)
        drawn, levels, changed = generator.raw_and_levels(z, mode, style)
        latents.append(z)
        raw.append(drawn)
        repaired.append(levels)
        edits.append(changed / (height * width))
    latents, raw, repaired = np.concatenate(latents), np.concatenate(raw), np.concatenate(repaired)
    edits = np.concatenate(edits)
    training = training_grids(generator.metadata)
    if training is not None and training.shape[1:] != (height, width):
        training = None  # exported at another size than it learned at: no level can repeat a training level
    figures = evaluate_grids(raw, repaired, edits, reference, training, generator.threshold)
    figures["mode"] = mode
    figures["training_set"] = None if training is None else int(len(training))
    figures["corpus"] = described
    figures["style"] = corpus_figures(repaired, reference, generator.info.start, generator.info.exit)
    figures["two_sample"] = {}
    compare = [("model", repaired)]
    plain = untrained_levels(generator, latents, mode) if untrained else None
    if plain is not None:
        figures["untrained"] = evaluate_grids(plain, plain, None, reference, None, generator.threshold)["raw"]
        figures["untrained_style"] = corpus_figures(plain, reference)
        compare.append(("untrained", plain))
    if two_sample:
        from daedalus.trainer.two_sample import two_sample_accuracy

        for name, grids in compare:
            runs = [two_sample_accuracy(grids, reference, seed=seed + i)["accuracy"] for i in range(critics)]
            figures["two_sample"][name] = float(np.mean(runs))
            if critics > 1:
                figures.setdefault("two_sample_runs", {})[name] = runs
    for column, source in (("repaired", "style"), ("untrained", "untrained_style")):
        if column in figures:
            figures[column].update({k: v for k, v in figures[source].items() if k.startswith("w_")})
            figures[column].update({k: figures[source][k] for k in ("junctions", "straights", "turns")})
            if figures["two_sample"].get("model" if column == "repaired" else "untrained") is not None:
                figures[column]["two_sample"] = figures["two_sample"]["model" if column == "repaired" else "untrained"]
    return figures, raw, repaired, reference


def _cell(figures: dict | None, key: str, fmt: str) -> str:
    if figures is None or key not in figures:
        return "—"
    value = figures[key]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return fmt.format(value)


def format_report(figures: dict, samples: int, model: str) -> str:
    columns = [("raw", "model raw"), ("repaired", "model"), ("untrained", "untrained"), ("reference", "corpus"),
               ("baseline", "mean maze")]
    lines = [f"model: {model}", f"corpus: {figures.get('corpus')}",
             f"{samples} samples in {figures.get('mode')} mode; edits = positions repair changed; two-sample 0.5 = "
             "indistinguishable", ""]
    if figures.get("resample", 1) > 1:
        lines.insert(3, f"resampled: each level the critic's choice of {figures['resample']} candidate walks")
    lines.append("| figure | " + " | ".join(title for _, title in columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for key, label, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(figures.get(c), key, fmt) for c, _ in columns) + " |")
    lines.append(f"| repair edits (mean / max) | {figures['edits']:.2%} / {figures['edits_max']:.2%} | | | | |")
    runs = figures.get("two_sample_runs")
    if runs:
        spans = ", ".join(f"{name} {min(values):.3f}–{max(values):.3f}" for name, values in runs.items())
        lines.append(f"two-sample accuracy: the mean of {len(next(iter(runs.values())))} critics ({spans})")
    lines.append("")
    lines.append("goals:")
    for name, check in GOALS.items():
        ok = _goal(check, figures)
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


def _goal(check, figures: dict) -> bool:
    try:
        return bool(check(figures))
    except (KeyError, TypeError):
        return False


def run_eval(args: argparse.Namespace) -> int:
    from daedalus.maze.cli import check_output
    from daedalus.runtime.generator import MazeGenerator

    if args.samples <= 0:
        raise UsageError(f"--samples must be a positive integer, got {args.samples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.critics < 1:
        raise UsageError(f"--critics must be a positive integer, got {args.critics}")
    plot = None if (args.no_plot or not args.plot) else check_output(args.plot, "--plot", (".png",))
    from daedalus.runtime.cli import critic_paths

    generator = MazeGenerator.load(args.model, device=args.device, critic=critic_paths(args))
    if args.style is not None and args.style not in generator.styles:
        raise UsageError(f"--style {args.style!r} is not one of this decoder's styles "
                         f"({', '.join(generator.styles) or 'it has one style'})")
    if args.untrained or args.two_sample:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UsageError("the untrained decoder and the two-sample test need torch: pip install "
                             "'daedalus[train]' (or pass --no-untrained --no-two-sample)") from None
    figures, raw, repaired, reference = evaluate_model(generator, args.samples, args.seed, args.mode, args.data,
                                                       args.style, args.untrained, args.two_sample, args.critics,
                                                       args.resample)
    figures["goals"] = {name: _goal(check, figures) for name, check in GOALS.items()}
    figures["model_path"] = str(generator.path)
    figures["samples"] = args.samples
    figures["style_name"] = args.style
    figures["resample"] = args.resample
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
