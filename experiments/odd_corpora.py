"""The one configuration on corpora no classic generator makes (issue 11's hidden corpora; an experiment).

Writes small corpora of styles a game team might have and no generator of ``daedalus dataset`` draws, trains the one
configuration on each (``daedalus train --data PATH --out DIR`` with no other option), exports it and compares its
levels with the corpus (``daedalus eval --data --critics 2``), printing one markdown row per corpus:

- ``rooms``: 100 Kruskal mazes, each with three 3 × 3-cell rooms opened (every link inside the block): loops
  that come in blocks, not one at a time.
- ``comb``: one level, 100 times: vertical corridors joined along the top row (a designed level; the model should
  draw it and only it).
- ``open``: one level, 100 times: every link open (no dead end at all).

    python experiments/odd_corpora.py --out runs/odd-corpora [--corpora rooms comb open]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from daedalus.maze.generators import generate_batch

SIZE = 28


def lattice(grid: np.ndarray) -> np.ndarray:
    """``grid`` with the lattice rule's walls put back (odd-odd positions, the last row and column)."""
    grid = grid.copy()
    grid[1::2, 1::2] = 0
    grid[-1, :] = grid[:, -1] = 0
    return grid


def rooms(rng: np.random.Generator, count: int = 100) -> np.ndarray:
    levels = []
    for maze in generate_batch("kruskal", count, SIZE, SIZE, rng, 0.0):
        maze = maze.copy()
        for _ in range(3):
            r, c = rng.integers(0, 12, 2)
            maze[2 * r:2 * r + 5, 2 * c:2 * c + 5] = 1
        levels.append(lattice(maze))
    return np.stack(levels)


def comb(count: int = 100) -> np.ndarray:
    grid = np.zeros((SIZE, SIZE), np.uint8)
    grid[0::2, 0::2] = 1  # cells
    grid[1::2, 0::2] = 1  # every vertical link
    grid[0, :] = 1  # the top row's links
    return np.stack([lattice(grid)] * count)


def every_link_open(count: int = 100) -> np.ndarray:
    return np.stack([lattice(np.ones((SIZE, SIZE), np.uint8))] * count)


def daedalus(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "daedalus", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"daedalus {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpora", nargs="+", default=["rooms", "comb", "open"])
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    makers = {"rooms": lambda: rooms(np.random.default_rng(0)), "comb": comb, "open": every_link_open}
    print("| corpus | distinct levels | two-sample (2 critics) | untrained | W1 dead ends / junctions / solution | "
          "loops model / corpus | perfect before repair | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.corpora:
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        grids = makers[name]()
        corpus = folder / "corpus.npz"
        np.savez(corpus, grids=grids)
        started = time.perf_counter()
        daedalus("train", "--data", str(corpus), "--out", str(folder / "run"), "--quiet", "--no-figures")
        seconds = time.perf_counter() - started
        daedalus("export", str(folder / "run"), "--out", str(folder / "model.onnx"), "--quality-samples", "100")
        report = json.loads(daedalus("eval", "--model", str(folder / "model.onnx"), "--data", str(corpus),
                                     "--samples", str(args.samples), "--critics", "2", "--json"))
        (folder / "report.json").write_text(json.dumps(report, indent=1))
        style, model, reference = report["style"], report["repaired"], report["reference"]

        def w1(key):
            value = style.get(f"w_{key}")
            return "—" if value is None else f"{value:.3f}"

        distinct = len({g.tobytes() for g in grids})
        print(f"| {name} | {distinct} | {report['two_sample']['model']:.3f} | "
              f"{report['two_sample'].get('untrained', float('nan')):.3f} | "
              f"{w1('dead_ends')} / {w1('junctions')} / {w1('solution_length')} | "
              f"{model['loops']:.1f} / {reference['loops']:.1f} | {report['raw']['perfect']:.3f} | {seconds:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
