"""Does the raster walk's order matter? (issue 11, an experiment)

The walk always decides links row by row from the top left. Showing it a corpus under a flip or a quarter turn (and
turning its levels back) is the same as walking the original levels in another order: bottom-up, right-to-left, or
column by column. For a folder of ``experiments/styles.py`` (``train.npz`` and ``held-out.npz``), this trains the one
configuration on the corpus under each transform, exports it, and runs ``daedalus eval --data`` against the held-out
levels under the same transform (the same comparison as comparing the turned-back levels with the corpus), with the
held-out ELBO of the kept epoch, the figure a ``train`` option could choose an order by.

    python experiments/walk_order.py runs/hk/hunt-and-kill-5000 --transforms identity transpose flip_rows

Prints one markdown row per transform; writes ``order-<transform>/`` folders beside the data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from styles import run  # noqa: E402

from daedalus.maze.symmetry import TRANSFORMS, transform  # noqa: E402


def transformed(source: Path, name: str, target: Path) -> None:
    data = dict(np.load(source))
    data["grids"] = transform(data["grids"], name)
    np.savez_compressed(target, **data)


def study(folder: Path, name: str, threads: int, critics: int, train_args: tuple[str, ...] = (),
          suffix: str = "") -> dict:
    out = folder / f"order-{name}{suffix}"
    out.mkdir(exist_ok=True)
    for part in ("train", "held-out"):
        transformed(folder / f"{part}.npz", name, out / f"{part}.npz")
    mode = "braid" if float(np.load(folder / "held-out.npz")["braid"]) > 0 else "perfect"
    started = time.perf_counter()
    run("train", "--data", str(out / "train.npz"), "--out", str(out / "run"), "--quiet", "--no-figures",
        "--threads", str(threads), "--walk-order", "identity", *train_args)
    seconds = time.perf_counter() - started
    run("export", str(out / "run"), "--out", str(out / "model.onnx"), "--quality-samples", "200")
    report = json.loads(run("eval", "--model", str(out / "model.onnx"), "--data", str(out / "held-out.npz"),
                            "--samples", "2000", "--mode", mode, "--critics", str(critics), "--json"))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    config = json.loads((out / "run" / "config.json").read_text())
    log = [json.loads(line) for line in (out / "run" / "log.jsonl").read_text().splitlines()]
    beta = config["schedule"]["beta_max"]
    kept = min(log, key=lambda r: r["holdout_rec"] + beta * r["holdout_kl"])
    from daedalus.trainer.walk_order import order_nats

    train_levels, held_levels = (np.load(folder / f"{part}.npz")["grids"] for part in ("train", "held-out"))
    count_nats = float(order_nats(train_levels, held_levels[:256], name).mean())
    return {"transform": name, "two_sample": report["two_sample"]["model"], "count_nats": count_nats,
            "elbo": kept["holdout_rec"] + kept["holdout_kl"], "rec": kept["holdout_rec"],
            **{k: report["style"][f"w_{k}"] for k in ("dead_ends", "junctions", "straights", "turns",
                                                      "solution_length")},
            "train_s": round(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--transforms", nargs="+", default=["identity", "transpose", "flip_rows", "rot180"],
                        choices=list(TRANSFORMS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--critics", type=int, default=2)
    parser.add_argument("--train-args", default="", help="more options for daedalus train, e.g. '--epochs 8'")
    parser.add_argument("--suffix", default="", help="appended to each order-<transform> folder's name")
    args = parser.parse_args()
    print("| transform (walk order) | two-sample | count model nats | held-out -ELBO (nats) | rec | W1 dead / junct / "
          "straight / turns / solution | train s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.transforms:
        row = study(args.folder, name, args.threads, args.critics, tuple(args.train_args.split()), args.suffix)
        w = " / ".join(f"{row[k]:.3f}" for k in ("dead_ends", "junctions", "straights", "turns", "solution_length"))
        print(f"| {row['transform']} | {row['two_sample']:.3f} | {row['count_nats']:.1f} | {row['elbo']:.1f} | "
              f"{row['rec']:.1f} | {w} | "
              f"{row['train_s']} |", flush=True)


if __name__ == "__main__":
    main()
