"""Importance resampling by a learned density ratio, measured offline (the runtime feature is `daedalus critic` +
`generate --resample K`; this script compares K values on one critic).

A critic (the two-sample test's CNN) learns to tell the model's levels from the training corpus (its symmetries
included, so 200 levels give up to 1,600); r(x) = exp(logit) estimates p_corpus / p_model. For each level, K walks
are drawn (K level codes) and one is kept with probability proportional to r. The kept levels and the plain ones
are both compared with the held-out corpus by `two_sample_accuracy`.

    python experiments/resample.py runs/few-dense/prim-200 --k 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from daedalus.maze.corpus import read_corpus
from daedalus.maze.symmetry import corpus_symmetries, transform
from daedalus.runtime import MazeGenerator
from daedalus.trainer.critic import logits_of as logits
from daedalus.trainer.critic import train_critic
from daedalus.trainer.two_sample import two_sample_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a styles.py folder: model.onnx, train.npz, held-out.npz")
    parser.add_argument("--k", type=int, nargs="+", default=[8])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = MazeGenerator.load(args.folder / "model.onnx", device="cpu")
    mode = generator.mode_for()  # braid for a corpus with loops
    corpus, held_out = (read_corpus(args.folder / name).grids for name in ("train.npz", "held-out.npz"))
    views = [transform(corpus, name) for name in corpus_symmetries(corpus)]
    corpus_views = np.concatenate(views)
    critic_count = max(len(corpus_views), 2000)
    critic_levels = np.stack([level.grid for level in generator.generate(critic_count, seed=10**6, mode=mode)])
    critic = train_critic(critic_levels, corpus_views, args.steps, seed=0)
    plain = np.stack([level.grid for level in generator.generate(args.count, seed=0, mode=mode)])
    print(f"corpus {len(corpus)} levels ({len(views)} views), critic on {len(critic_levels)} model levels")
    seen = {grid.tobytes() for grid in corpus_views}

    def novel(levels: np.ndarray) -> float:
        return float(np.mean([grid.tobytes() not in seen for grid in levels]))

    print("| K | two-sample against held-out | mean critic logit of kept | novel |")
    print("|---|---|---|---|")
    print(f"| 1 (plain) | {two_sample_accuracy(plain, held_out, seed=0)['accuracy']:.3f} | "
          f"{logits(critic, plain).mean():.2f} | {novel(plain):.3f} |")
    rng = np.random.default_rng(1)
    for k in args.k:
        drawn = generator.generate(args.count * k, seed=2 * 10**6, mode=mode)
        candidates = np.stack([level.grid for level in drawn])
        candidates = candidates.reshape(args.count, k, *candidates.shape[1:])
        score = logits(critic, candidates.reshape(-1, *candidates.shape[2:])).reshape(args.count, k)
        weights = np.exp(score - score.max(axis=1, keepdims=True))
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        pick = np.minimum((cumulative < rng.random((args.count, 1))).sum(axis=1), k - 1)
        kept = candidates[np.arange(args.count), pick]
        print(f"| {k} | {two_sample_accuracy(kept, held_out, seed=0)['accuracy']:.3f} | "
              f"{score[np.arange(args.count), pick].mean():.2f} | {novel(kept):.3f} |")


if __name__ == "__main__":
    main()
