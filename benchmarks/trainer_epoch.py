"""Seconds per training epoch on this CPU: the seed configuration and the default maze model.

One epoch = 1,280 mazes of 28 × 28 at batch 128 (10 optimizer steps), timed without evaluation or checkpoints;
the cost of drawing 1,280 fresh backtracker mazes (what ``--fresh`` adds per epoch) is timed separately.
Prints a Markdown table.

    python benchmarks/trainer_epoch.py [--threads 1 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from daedalus.maze import backtracker_batch
from daedalus.trainer.config import resolve_config
from daedalus.trainer.models import build_model
from daedalus.trainer.schedules import kl_weight
from daedalus.trainer.train import loss_parts

CONFIGS = {
    "seed-vae (784-512-2, SSE)": {"model": "seed-vae"},
    "seed-ae (784-512-2, SSE)": {"model": "seed-ae"},
    "link-vae default (364-512-512-32, BCE)": {"model": "link-vae"},
}


def epoch_seconds(options: dict, data: torch.Tensor, repeats: int) -> float:
    config = resolve_config({**options, "figures": False})
    torch.manual_seed(0)
    model = build_model(config["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    generator = torch.Generator().manual_seed(0)
    batch = config["train"]["batch_size"]
    steps = math.ceil(len(data) / batch)
    times = []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        order = torch.randperm(len(data), generator=generator)
        for i in range(steps):
            beta = kl_weight(repeat * steps + i, (repeats + 1) * steps, **config["schedule"])
            parts = loss_parts(model, data[order[i * batch : (i + 1) * batch]], beta, config["train"]["loss"],
                               generator)
            optimizer.zero_grad()
            parts["loss"].backward()
            optimizer.step()
        if repeat:  # the first epoch warms up allocators and caches
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = torch.from_numpy(backtracker_batch(1280, rng=0).astype(np.float32))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available by default")
    print("| configuration | threads | s / epoch (1,280 mazes, batch 128) |")
    print("|---|---|---|")
    for name, options in CONFIGS.items():
        for threads in args.threads:
            torch.set_num_threads(threads)
            print(f"| {name} | {threads} | {epoch_seconds(options, data, args.repeats):.3f} |", flush=True)
    start = time.perf_counter()
    for seed in range(3):
        backtracker_batch(1280, rng=seed)
    print(f"| drawing 1,280 fresh mazes (`--fresh`, per epoch) | 1 | {(time.perf_counter() - start) / 3:.3f} |")


if __name__ == "__main__":
    main()
