"""The styles study (EXPERIMENTS.md "## Styles"): for each corpus, train the one recommended configuration on 5,000
levels (or fewer with --count), export it, and measure it with `daedalus eval --data` against 2,000 fresh held-out
levels of the same generator, beside the same decoder untrained. Prints one markdown table row per corpus.

    python experiments/styles.py --corpora backtracker prim:0.5 --count 5000 --out runs/styles
    python experiments/styles.py --corpora kruskal --size 48 --nproc 2 --out runs/styles-48   # issue 15
    python experiments/styles.py --corpora prim --train-args "--cell-decoder shared" --out runs/styles-shared
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ("two-sample", "untrained two-sample", "W1 dead ends", "W1 junctions", "W1 straights", "W1 turns",
           "W1 solution", "perfect raw", "loops model / corpus", "novel", "train s")


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "daedalus", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"daedalus {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def study(spec: str, count: int, out: Path, samples: int, threads: int, size: str = "28", nproc: int = 1,
          train_args: tuple[str, ...] = ()) -> dict:
    generator, _, braid = spec.partition(":")
    braid = braid or "0"
    name = generator + ("" if braid == "0" else f"-braid{braid}")
    folder = out / f"{name}-{count}"
    folder.mkdir(parents=True, exist_ok=True)
    train_data, held_out = folder / "train.npz", folder / "held-out.npz"
    run("dataset", "--generator", generator, "--braid", braid, "--count", str(count), "--seed", "1",
        "--size", size, "--out", str(train_data))
    run("dataset", "--generator", generator, "--braid", braid, "--count", str(samples), "--seed", "2",
        "--size", size, "--out", str(held_out))
    started = time.perf_counter()
    run("train", "--data", str(train_data), "--out", str(folder / "run"), "--quiet", "--no-figures",
        "--threads", str(threads), *(["--nproc", str(nproc)] if nproc > 1 else []), *train_args)
    seconds = time.perf_counter() - started
    run("export", str(folder / "run"), "--out", str(folder / "model.onnx"), "--quality-samples", "200")
    mode = "perfect" if braid == "0" else "braid"
    report = json.loads(run("eval", "--model", str(folder / "model.onnx"), "--data", str(held_out), "--samples",
                            str(samples), "--mode", mode, "--json"))
    model, corpus = report["repaired"], report["reference"]
    row = {"corpus": name, "levels": count, "two-sample": report["two_sample"]["model"],
           "untrained two-sample": report["two_sample"].get("untrained"),
           **{f"W1 {k.replace('_length', '').replace('_', ' ')}": report["style"][f"w_{k}"]
              for k in ("dead_ends", "junctions", "straights", "turns", "solution_length")},
           "perfect raw": report["raw"]["perfect"],
           "loops model / corpus": f"{model['loops']:.1f} / {corpus['loops']:.1f}",
           "novel": model.get("novelty"), "train s": round(seconds)}
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=["backtracker", "prim", "kruskal", "sidewinder",
                                                          "binary-tree", "backtracker:0.5"],
                        help="generator names, NAME:P for braid probability P")
    parser.add_argument("--count", type=int, default=5000, help="training levels per corpus (default 5000)")
    parser.add_argument("--samples", type=int, default=2000, help="levels compared (default 2000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="28", help="level size N or HxW (default 28)")
    parser.add_argument("--nproc", type=int, default=1, help="train on torchrun with N processes (default 1)")
    parser.add_argument("--out", default="runs/styles")
    parser.add_argument("--train-args", default="", help="more options for daedalus train, e.g. '--epochs 80'")
    args = parser.parse_args()
    header = ["corpus", "levels", *COLUMNS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    for spec in args.corpora:
        row = study(spec, args.count, Path(args.out), args.samples, args.threads, args.size, args.nproc,
                    tuple(args.train_args.split()))
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in header]
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
