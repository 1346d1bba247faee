"""ms per 28x28 maze: Daedalus's iterative backtracker against the seed's recursive version, side by side.

    python benchmarks/maze_generator.py [--count 2000] [--rounds 5]

Rounds alternate between the generators so that load on a shared machine hits both alike; the table gives the
median round and the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

from daedalus.maze import backtracker, batch_stats  # noqa: E402
from reference_backtracker import seed_maze  # noqa: E402


def time_per_maze(make, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        make()
    return (time.perf_counter() - start) / count * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=28)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    py_rng = random.Random(0)
    ours, seeds = [], []
    for _ in range(args.rounds):
        ours.append(time_per_maze(lambda: backtracker(args.size, args.size, rng), args.count))
        seeds.append(time_per_maze(lambda: seed_maze(args.size, py_rng), args.count))
    grids = np.stack([backtracker(args.size, args.size, rng) for _ in range(args.count)])
    start = time.perf_counter()
    batch_stats(grids)
    stats_ms = (time.perf_counter() - start) / args.count * 1e3
    ours_ms, seed_ms = statistics.median(ours), statistics.median(seeds)
    print(f"{args.size}x{args.size} mazes, {args.count} per round, median of {args.rounds} rounds\n")
    print("| generator | ms / maze | mazes / s | vs seed |")
    print("|---|---|---|---|")
    print(f"| daedalus.maze.backtracker (iterative) | {ours_ms:.3f} | {1e3 / ours_ms:,.0f} | "
          f"{seed_ms / ours_ms:.1f}x |")
    print(f"| seed's recursive backtracker | {seed_ms:.3f} | {1e3 / seed_ms:,.0f} | 1.0x |")
    print(f"\nall statistics (batch_stats) of {args.count} mazes: {stats_ms:.3f} ms / maze")


if __name__ == "__main__":
    main()
