"""Where do a model's levels give themselves away: its prior, or its decoder? (issue 11, an experiment)

For a run of ``experiments/styles.py`` (a folder with ``run/``, ``model.onnx`` and ``held-out.npz``), draws fresh
levels of the corpus's generator (a seed neither the training set nor the held-out set used), encodes them, samples
a code from each level's posterior q(z | x), walks the exported decoder from those codes with the runtime, and runs
the two-sample test of ``daedalus eval`` against the held-out levels — beside the model's usual levels, whose codes
come from its prior. If the posterior codes' levels are much harder to tell from the corpus, the decoder can draw
the style and the prior's holes are what the critic sees; if they are as easy, the decoder (the walk and what it
reads) is the limit.

    python experiments/posterior_samples.py runs/window-styles/kruskal-5000 [--samples 2000] [--seeds 0 1]

Prints one markdown row per folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from daedalus.maze.generators import generate_batch
from daedalus.runtime import MazeGenerator
from daedalus.trainer import load_model
from daedalus.trainer.two_sample import two_sample_accuracy


def posterior_codes(model, grids: np.ndarray, seed: int) -> np.ndarray:
    """One code per grid drawn from its posterior N(mu, exp(logvar))."""
    generator = torch.Generator().manual_seed(seed)
    codes = []
    with torch.no_grad():
        for chunk in torch.split(torch.from_numpy(grids.astype(np.float32)), 500):
            mu, logvar = model.encode(chunk)
            codes.append((mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()).numpy())
    return np.concatenate(codes)


def study(folder: Path, samples: int, seeds: list[int]) -> dict:
    model, config = load_model(folder / "run")
    held_out = np.load(folder / "held-out.npz")
    reference = held_out["grids"]
    generator, braid = str(held_out["generator"]), float(held_out["braid"])
    mode = "braid" if braid > 0 else "perfect"
    fresh = generate_batch(generator, samples, *reference.shape[1:], np.random.default_rng(7), braid)
    runtime = MazeGenerator.load(folder / "model.onnx", device="cpu", threads=1)
    code = posterior_codes(model, fresh, seed=0)
    z = runtime.sample_latents(samples, 11)
    z[:, : code.shape[1]] = code
    posterior = np.stack([level.grid for level in runtime.from_latents(z, mode=mode)])
    prior = np.stack([level.grid for level in runtime.generate(samples, seed=11, mode=mode)])
    log = [json.loads(line) for line in (folder / "run" / "log.jsonl").read_text().splitlines()]
    kept = min(log, key=lambda r: r["holdout_rec"] + config["schedule"]["beta_max"] * r["holdout_kl"])
    row = {"folder": str(folder), "kl": kept["holdout_kl"]}
    for name, grids in (("prior", prior), ("posterior", posterior), ("fresh corpus", fresh)):
        row[name] = float(np.mean([two_sample_accuracy(grids, reference, seed=s, threads=1)["accuracy"]
                                   for s in seeds]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| run | held-out KL (nats) | two-sample: prior codes | posterior codes | a fresh corpus draw |")
    print("|---|---|---|---|---|")
    for folder in args.folders:
        row = study(folder, args.samples, args.seeds)
        print(f"| {row['folder']} | {row['kl']:.1f} | {row['prior']:.3f} | {row['posterior']:.3f} | "
              f"{row['fresh corpus']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
