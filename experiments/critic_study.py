"""The critic study (EXPERIMENTS.md "Resampling by a critic, built"): for a styles.py folder (model.onnx, train.npz,
held-out.npz), train the runtime's critic with `daedalus critic` on the training corpus, then measure `daedalus eval
--data held-out.npz --resample K` for each K. Prints one markdown row per K.

    python experiments/critic_study.py runs/hk/hunt-and-kill-5000 --k 1 4 16
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from styles import run as daedalus  # experiments/ is on the path when run as a script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model, critic = args.folder / "model.onnx", args.folder / "model.critic.onnx"
    began = time.perf_counter()
    daedalus("critic", "--model", str(model), "--data", str(args.folder / "train.npz"), "--out", str(critic),
             "--threads", str(args.threads))
    seconds = time.perf_counter() - began
    meta = json.loads(daedalus("info", "--model", str(model), "--json"))["metadata"]
    print(f"{args.folder.name}: critic trained in {seconds:.0f} s; mode {meta.get('default_mode', 'perfect')}")
    print("| K | two-sample | W1 dead ends | W1 junctions | W1 straights | W1 turns | W1 solution | loops model / "
          "corpus | perfect | novel |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in args.k:
        report = json.loads(daedalus("eval", "--model", str(model), "--data", str(args.folder / "held-out.npz"),
                                     "--samples", str(args.samples), "--critic", str(critic), "--resample", str(k),
                                     "--no-untrained", "--json"))
        style, repaired, reference = report["style"], report["repaired"], report["reference"]
        w = " | ".join(f"{style[f'w_{name}']:.3f}" for name in ("dead_ends", "junctions", "straights", "turns",
                                                                   "solution_length"))
        print(f"| {k} | {report['two_sample']['model']:.3f} | {w} | {repaired['loops']:.1f} / "
              f"{reference['loops']:.1f} | {repaired['perfect']:.3f} | {repaired.get('novelty', 1.0):.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
