"""Levels with wall cells, which no generator of `daedalus dataset` makes: what the raster walk's closed cells learn
(EXPERIMENTS.md "Wall cells"). Two corpora, each a perfect maze over its open cells with the first and last cell
open:

- ``pillars``: the recursive backtracker carved around two to four closed rectangles of 1-3 x 1-3 cells placed at
  random (cells it cannot reach are wall too);
- ``sparse``: the backtracker with each dead end (but the first and last cell) filled with probability 1/2, once;
- ``pillars-kruskal``, ``sparse-kruskal``: the same over Kruskal's mazes (the piece of the first cell).

Writes the corpora, trains the one configuration on each (`daedalus train --data` with no other option), exports,
evaluates against fresh levels of the same corpus beside the same decoder untrained, and prints the row of
experiments/styles.py.

    python experiments/closed_cells.py --corpora pillars sparse --out runs/closed-cells
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biased_backtracker import MOVES, biased_backtracker  # noqa: E402
from styles import COLUMNS, run  # noqa: E402


def carve_around(blocked: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The (2R, 2C) backtracker maze over the cells not ``blocked`` (R, C) that it reaches from (0, 0); every
    other cell wall."""
    return biased_backtracker(*blocked.shape, 1.0, rng, blocked)


def kruskal_around(blocked: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Kruskal's maze (links in random order, each opened when it joins two pieces) over the cells not ``blocked``,
    then the piece of (0, 0) only; every other cell wall."""
    rows, cols = blocked.shape
    parent = list(range(rows * cols))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    links = [(r, c, dr, dc) for r in range(rows) for c in range(cols) for dr, dc in ((0, 1), (1, 0))
             if r + dr < rows and c + dc < cols and not blocked[r, c] and not blocked[r + dr, c + dc]]
    grid = np.zeros((2 * rows, 2 * cols), dtype=np.uint8)
    for i in rng.permutation(len(links)):
        r, c, dr, dc = links[i]
        a, b = find(r * cols + c), find((r + dr) * cols + c + dc)
        if a != b:
            parent[a] = b
            grid[2 * r + dr, 2 * c + dc] = 1
    root = find(0)
    keep = np.array([[find(r * cols + c) == root for c in range(cols)] for r in range(rows)])
    grid[::2, ::2] = keep
    grid[::2, 1::2] &= keep  # a link whose cell is outside the piece goes with it
    grid[1::2, ::2] &= keep
    return grid


def pillars(rows: int, cols: int, rng: np.random.Generator, carve=carve_around) -> np.ndarray:
    while True:
        blocked = np.zeros((rows, cols), dtype=bool)
        for _ in range(rng.integers(2, 5)):
            h, w = rng.integers(1, 4, size=2)
            r, c = rng.integers(0, rows - h + 1), rng.integers(0, cols - w + 1)
            blocked[r : r + h, c : c + w] = True
        blocked[0, 0] = blocked[-1, -1] = False
        grid = carve(blocked, rng)
        if grid[-2, -2]:  # the exit was reached
            return grid


def sparse(rows: int, cols: int, rng: np.random.Generator, p: float = 0.5, carve=carve_around) -> np.ndarray:
    grid = carve(np.zeros((rows, cols), dtype=bool), rng)
    filled = grid.copy()
    for r in range(rows):
        for c in range(cols):
            if (r, c) in ((0, 0), (rows - 1, cols - 1)):
                continue
            links = [(2 * r + dr, 2 * c + dc) for dr, dc in MOVES
                     if 0 <= 2 * r + dr < 2 * rows and 0 <= 2 * c + dc < 2 * cols and grid[2 * r + dr, 2 * c + dc]]
            if len(links) == 1 and rng.random() < p:
                filled[2 * r, 2 * c] = 0
                filled[links[0]] = 0
    return filled


CORPORA = {"pillars": pillars, "sparse": sparse,
           "pillars-kruskal": lambda rows, cols, rng: pillars(rows, cols, rng, carve=kruskal_around),
           "sparse-kruskal": lambda rows, cols, rng: sparse(rows, cols, rng, carve=kruskal_around)}


def write(path: Path, name: str, count: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grids = np.stack([CORPORA[name](size // 2, size // 2, rng) for _ in range(count)])
    np.savez_compressed(path, grids=grids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=sorted(CORPORA))
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/closed-cells"))
    parser.add_argument("--train-args", default="", help="more options for daedalus train (one string)")
    args = parser.parse_args()
    print("| corpus | levels | " + " | ".join(COLUMNS) + " | open fraction model / corpus |")
    print("|" + "---|" * (len(COLUMNS) + 3))
    for name in args.corpora:
        folder = args.out / f"{name}-{args.count}"
        folder.mkdir(parents=True, exist_ok=True)
        train_data, held_out = folder / "train.npz", folder / "held-out.npz"
        write(train_data, name, args.count, args.size, seed=1)
        write(held_out, name, args.samples, args.size, seed=2)
        started = time.perf_counter()
        run("train", "--data", str(train_data), "--out", str(folder / "run"), "--quiet", "--no-figures",
            "--threads", str(args.threads), *args.train_args.split())
        seconds = time.perf_counter() - started
        run("export", str(folder / "run"), "--out", str(folder / "model.onnx"), "--quality-samples", "200")
        report = json.loads(run("eval", "--model", str(folder / "model.onnx"), "--data", str(held_out),
                                "--samples", str(args.samples), "--json"))
        (folder / "report.json").write_text(json.dumps(report, indent=1))
        model, corpus = report["repaired"], report["reference"]
        row = {"two-sample": report["two_sample"]["model"],
               "untrained two-sample": report["two_sample"].get("untrained"),
               **{f"W1 {k.replace('_length', '').replace('_', ' ')}": report["style"][f"w_{k}"]
                  for k in ("dead_ends", "junctions", "straights", "turns", "solution_length")},
               "perfect raw": report["raw"]["perfect"],
               "loops model / corpus": f"{model['loops']:.1f} / {corpus['loops']:.1f}",
               "novel": model.get("novelty"), "train s": round(seconds)}
        floor = f"{model['open_fraction']:.3f} / {corpus['open_fraction']:.3f}"
        cells = " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in COLUMNS)
        print(f"| {name} | {args.count} | {cells} | {floor} |", flush=True)


if __name__ == "__main__":
    main()
