"""The shipped decoder per style, plain and resampled by its shipped critics (EXPERIMENTS.md "Resampling by a critic,
built"): for each style, 2,000 fresh held-out levels of its generator (seeds 300 + i, never the training seeds
100 + i of scripts/build_default_model.sh), then `daedalus eval --style S --data HELD-OUT --resample K` for each K
(the critics beside the model: scripts/build_default_critics.sh). Prints one markdown row per style.

    python experiments/default_critics.py --k 1 4 16 --out runs/default-critics
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from styles import run as daedalus  # experiments/ is on the path when run as a script

SPECS = {"backtracker": ("backtracker", "0"), "backtracker-braid": ("backtracker", "0.5"), "prim": ("prim", "0"),
         "kruskal": ("kruskal", "0"), "wilson": ("wilson", "0"), "sidewinder": ("sidewinder", "0"),
         "binary-tree": ("binary-tree", "0"), "recursive-division": ("recursive-division", "0")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("runs/default-critics"))
    parser.add_argument("--model", help="another many-style decoder (default: the shipped one; its critics beside it)")
    parser.add_argument("--critics", type=int, default=1, help="two-sample critics per figure (their mean)")
    args = parser.parse_args()
    model = ["--model", args.model] if args.model else []
    args.out.mkdir(parents=True, exist_ok=True)
    print("| style | " + " | ".join(f"two-sample K {k}" for k in args.k) + " | W1 dead ends / junctions / solution "
          f"(K {args.k[0]} → K {args.k[-1]}) | loops model / corpus (K {args.k[-1]}) |")
    print("|---|" + "---|" * (len(args.k) + 2))
    for i, (style, (generator, braid)) in enumerate(SPECS.items()):
        held_out = args.out / f"{style}-held-out.npz"
        daedalus("dataset", "--generator", generator, "--braid", braid, "--count", str(args.samples), "--seed",
                 str(300 + i), "--out", str(held_out))
        reports = [json.loads(daedalus("eval", *model, "--style", style, "--data", str(held_out), "--samples",
                                       str(args.samples), "--resample", str(k), "--critics", str(args.critics),
                                       "--no-untrained", "--json"))
                   for k in args.k]
        accuracy = " | ".join(f"{r['two_sample']['model']:.3f}" for r in reports)
        first, last = reports[0]["style"], reports[-1]["style"]
        w = " / ".join(f"{first[f'w_{n}']:.3f} → {last[f'w_{n}']:.3f}" for n in ("dead_ends", "junctions",
                                                                                  "solution_length"))
        loops = f"{reports[-1]['repaired']['loops']:.1f} / {reports[-1]['reference']['loops']:.1f}"
        print(f"| {style} | {accuracy} | {w} | {loops} |", flush=True)


if __name__ == "__main__":
    main()
