"""Print the table of docs/generators.md: each classic generator's mean dead ends, and loops once braided.

    python scripts/generator_stats.py --count 500 --size 28 --seed 0

Dead ends are ``daedalus.maze.stats.dead_ends`` of perfect mazes; loops are ``stats.loops`` of the same generator's
mazes with ``--braid`` (0.5). The timing column is the time to generate ``--count`` perfect mazes, scaled to 5,000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from daedalus.maze import GENERATORS, generate_batch
from daedalus.maze.stats import dead_ends, is_perfect, loops

WHAT = {
    "backtracker": "depth-first walk with a stack: long winding corridors, few branches",
    "prim": "grows one tree by a random frontier link: many short dead ends",
    "kruskal": "opens links in random order unless they close a loop",
    "wilson": "uniform spanning tree from loop-erased random walks",
    "aldous-broder": "uniform spanning tree from one random walk (first entries)",
    "eller": "row by row, merging sets; one link down per set at least",
    "sidewinder": "runs along each row, one link up per run; the top row is one corridor",
    "binary-tree": "each cell opens up or right; every path leads to the top-right corner",
    "hunt-and-kill": "random walk; when stuck, scans for a new start beside the maze",
    "growing-tree": "active list, grows from the newest or a random cell (50/50)",
    "recursive-division": "splits an open room by walls with one gap, recursively",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="mazes per generator (default 500)")
    parser.add_argument("--size", type=int, default=28, help="grid side, even (default 28)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every generator's mazes (default 0)")
    parser.add_argument("--braid", type=float, default=0.5, help="braid probability of the loops column (0.5)")
    args = parser.parse_args()

    size = args.size
    print(f"| generator | what it does | dead ends (mean, {size}×{size}) | loops at braid {args.braid:g} (mean) "
          f"| s per 5,000 |")
    print("|---|---|---|---|---|")
    for name in GENERATORS:
        began = time.perf_counter()
        perfect = generate_batch(name, args.count, size, size, np.random.default_rng(args.seed))
        seconds = (time.perf_counter() - began) * 5000 / args.count
        assert is_perfect(perfect).all(), name
        braided = generate_batch(name, args.count, size, size, np.random.default_rng(args.seed), braid=args.braid)
        print(f"| `{name}` | {WHAT.get(name, '')} | {dead_ends(perfect).mean():.1f} | {loops(braided).mean():.1f} "
              f"| {seconds:.1f} |")


if __name__ == "__main__":
    main()
