"""Critic tuning measured against its control (EXPERIMENTS.md "The critic distilled into the decoder"): take a
styles.py folder whose run was trained with ``--tune-rounds 0``, tune a copy of its weights exactly as ``daedalus
train`` ends (``daedalus.trainer.tune.tune``), export it and evaluate it as styles.py does. ``--weight 0`` is the
control: the same steps of the run's own loss at the tuning learning rate, with no critic in the gradient.

    python experiments/styles.py --corpora hunt-and-kill --train-args "--tune-rounds 0" --out runs/plain
    python experiments/critic_tune.py runs/plain/hunt-and-kill-5000 --weight 0.3 --name tuned
    python experiments/critic_tune.py runs/plain/hunt-and-kill-5000 --weight 0 --name control
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from styles import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a styles.py folder: train.npz, held-out.npz, run/ (trained untuned)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=30, help="policy-gradient steps per round")
    parser.add_argument("--weight", type=float, default=0.3, help="weight of the policy-gradient term (0: control)")
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="tuned")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--critics", type=int, default=3, help="two-sample critics averaged by eval")
    parser.add_argument("--eval-seed", type=int, default=7)
    args = parser.parse_args()

    import torch

    from daedalus.maze.corpus import read_corpus
    from daedalus.trainer.checkpoint import load_model, read_config, save_weights
    from daedalus.trainer.tune import tune

    torch.set_num_threads(args.threads)
    folder = Path(args.folder)
    out = folder / f"run-{args.name}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder / "run", out)
    (out / "tune.json").unlink(missing_ok=True)
    model, _ = load_model(out)
    config = read_config(out)
    started = time.perf_counter()
    rounds = tune(model, read_corpus(folder / "train.npz").grids, config["train"].get("symmetries", ["identity"]),
                  config["schedule"]["beta_max"], args.rounds, args.steps, args.weight, config["train"]["seed"],
                  progress=True)
    seconds = time.perf_counter() - started
    save_weights(out, model, 0)
    (out / "critic_tune.json").write_text(json.dumps({"args": vars(args), "rounds": rounds}, indent=1))
    model_path = folder / f"model-{args.name}.onnx"
    run("export", str(out), "--out", str(model_path), "--quality-samples", "200")
    for name, path in (("plain", folder / "model.onnx"), (args.name, model_path)):
        report = json.loads(run("eval", "--model", str(path), "--data", str(folder / "held-out.npz"), "--samples",
                                str(args.samples), "--mode", args.mode, "--json", "--critics", str(args.critics),
                                "--seed", str(args.eval_seed)))
        style = report["style"]
        print(json.dumps({"model": name, "two_sample": round(report["two_sample"]["model"], 3),
                          **{k: round(style[f"w_{k}"], 3) for k in ("dead_ends", "junctions", "straights", "turns",
                                                                  "solution_length")},
                          "perfect_raw": report["raw"]["perfect"], "loops": round(report["repaired"]["loops"], 2),
                          "corpus_loops": round(report["reference"]["loops"], 2),
                          "novel": report["repaired"].get("novelty"), "tune_seconds": round(seconds)}), flush=True)


if __name__ == "__main__":
    main()
