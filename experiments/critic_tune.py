"""Distil a critic into the decoder (EXPERIMENTS.md "The critic distilled into the decoder"): fine-tune a trained
walk decoder so that its own levels move towards what a critic calls corpus-like, with no resampling at run time.

Each round: draw levels from the decoder (prior codes, the walk's own noise), train a fresh critic (the two-sample
test's CNN) on them against the training corpus under its symmetries, then take policy-gradient steps on the walk:
the reward of a level is the critic's logit (an estimate of log p_corpus / p_decoder, so the expected reward is
minus the reverse KL), the gradient ``E[(r - mean r) ∇ log q(x | code)]`` through the walk's exact likelihood,
beside the usual ELBO on corpus levels so that the decoder keeps covering the corpus. The run's weights are then
written to a copy of the run folder, exported and evaluated as styles.py does.

    python experiments/critic_tune.py runs/tune/hunt-and-kill-5000 --rounds 6 --steps 150 --weight 1.0
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "daedalus", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"daedalus {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a styles.py folder: train.npz, held-out.npz, run/")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=150, help="policy-gradient steps per round")
    parser.add_argument("--batch", type=int, default=128, help="levels drawn per policy-gradient step")
    parser.add_argument("--weight", type=float, default=1.0, help="weight of the policy-gradient term")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--critic-levels", type=int, default=4000)
    parser.add_argument("--critic-steps", type=int, default=600)
    parser.add_argument("--clip", type=float, default=3.0, help="rewards clipped to ±this (a density ratio "
                        "the critic cannot vouch for beyond)")
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="tuned")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()

    from daedalus.maze.corpus import read_corpus
    from daedalus.maze.symmetry import corpus_symmetries, transform
    from daedalus.trainer.checkpoint import load_model, save_weights
    from daedalus.trainer.critic import logits_of, train_critic
    from daedalus.trainer.train import loss_parts

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    folder = Path(args.folder)
    out = folder / f"run-{args.name}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder / "run", out)
    model, config = load_model(out)
    grids = read_corpus(folder / "train.npz").grids
    views = np.concatenate([transform(grids, name) for name in corpus_symmetries(grids)])
    rng = np.random.default_rng(args.seed)
    loops = args.mode == "braid"
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    started = time.perf_counter()
    log = []
    for round_ in range(args.rounds):
        model.eval()
        codes = rng.standard_normal((args.critic_levels, model.latent_dim)).astype(np.float32)
        drawn = model.sample_grids(codes, rng, loops=loops)
        critic = train_critic(drawn, views[rng.permutation(len(views))[:40_000]], args.critic_steps,
                              int(rng.integers(2**31)))
        accuracy = float(np.mean(np.concatenate([logits_of(critic, drawn) < 0,
                                                 logits_of(critic, views[:len(drawn)]) > 0])))
        model.train()
        rewards = []
        for _ in range(args.steps):
            code = rng.standard_normal((args.batch, model.latent_dim)).astype(np.float32)
            levels = model.sample_grids(code, rng, loops=loops)
            reward = torch.from_numpy(logits_of(critic, levels)).clamp(-args.clip, args.clip)
            advantage = reward - reward.mean()
            x = torch.from_numpy(levels)
            nll = model.reconstruction(model.tables(torch.from_numpy(code)), model.target(x))
            pg = (advantage * nll).mean()
            batch = torch.from_numpy(views[rng.integers(0, len(views), 64)])
            elbo = loss_parts(model, batch, args.beta, "bce")["loss"]
            loss = elbo + args.weight * pg
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            rewards.append(float(reward.mean()))
        entry = {"round": round_, "critic_train_accuracy": round(accuracy, 4),
                 "mean_reward": round(float(np.mean(rewards)), 4), "seconds": round(time.perf_counter() - started)}
        log.append(entry)
        print(json.dumps(entry), flush=True)
    model.eval()
    save_weights(out, model, 0)
    (out / "critic_tune.json").write_text(json.dumps({"args": vars(args), "log": log}, indent=1))
    model_path = folder / f"model-{args.name}.onnx"
    run("export", str(out), "--out", str(model_path), "--quality-samples", "200")
    report = json.loads(run("eval", "--model", str(model_path), "--data", str(folder / "held-out.npz"),
                            "--samples", str(args.samples), "--mode", args.mode, "--json"))
    (folder / f"report-{args.name}.json").write_text(json.dumps(report, indent=1))
    style = report["style"]
    print(json.dumps({"two_sample": report["two_sample"]["model"],
                      **{k: style[f"w_{k}"] for k in ("dead_ends", "junctions", "straights", "turns",
                                                      "solution_length")},
                      "perfect_raw": report["raw"]["perfect"], "loops": report["repaired"]["loops"],
                      "novel": report["repaired"].get("novelty"),
                      "tune_seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
