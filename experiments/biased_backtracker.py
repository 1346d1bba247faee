"""A depth-first style no generator of `daedalus dataset` makes: the backtracker with horizontal moves WEIGHT times as
likely as vertical ones (long east-west corridors). It shows what the carve walk's decoder learns where the plain
backtracker (the carve walk untrained) is not the answer. Writes the corpora, trains the one configuration on them,
and prints the same row as experiments/styles.py (EXPERIMENTS.md "The walk chosen by likelihood").

    python experiments/biased_backtracker.py --weight 4 --out runs/biased-backtracker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from styles import COLUMNS, run  # noqa: E402

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


def biased_backtracker(rows: int, cols: int, weight: float, rng: np.random.Generator,
                       blocked: np.ndarray | None = None) -> np.ndarray:
    """One (2R, 2C) maze: the recursive backtracker from (0, 0), each unvisited neighbour chosen with probability
    proportional to ``weight`` (left, right) or 1 (up, down); with ``blocked`` (R, C), only over the other cells,
    and every cell it does not reach is wall (experiments/closed_cells.py)."""
    grid = np.zeros((2 * rows, 2 * cols), dtype=np.uint8)
    seen = np.zeros((rows, cols), dtype=bool) if blocked is None else blocked.copy()
    seen[0, 0] = True
    grid[0, 0] = 1
    stack = [(0, 0)]
    while stack:
        r, c = stack[-1]
        options = [(dr, dc) for dr, dc in MOVES if 0 <= r + dr < rows and 0 <= c + dc < cols
                   and not seen[r + dr, c + dc]]
        if not options:
            stack.pop()
            continue
        if weight == 1.0:
            dr, dc = options[rng.integers(len(options))]
        else:
            p = np.array([weight if dr == 0 else 1.0 for dr, _ in options])
            dr, dc = options[rng.choice(len(options), p=p / p.sum())]
        grid[2 * r + dr, 2 * c + dc] = 1
        grid[2 * (r + dr), 2 * (c + dc)] = 1
        seen[r + dr, c + dc] = True
        stack.append((r + dr, c + dc))
    return grid


def write(path: Path, count: int, size: int, weight: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grids = np.stack([biased_backtracker(size // 2, size // 2, weight, rng) for _ in range(count)])
    np.savez_compressed(path, grids=grids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weight", type=float, default=4.0)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/biased-backtracker"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train_data, held_out = args.out / "train.npz", args.out / "held-out.npz"
    write(train_data, args.count, args.size, args.weight, seed=1)
    write(held_out, args.samples, args.size, args.weight, seed=2)
    started = time.perf_counter()
    run("train", "--data", str(train_data), "--out", str(args.out / "run"), "--quiet", "--no-figures",
        "--threads", str(args.threads))
    seconds = time.perf_counter() - started
    run("export", str(args.out / "run"), "--out", str(args.out / "model.onnx"), "--quality-samples", "200")
    report = json.loads(run("eval", "--model", str(args.out / "model.onnx"), "--data", str(held_out), "--samples",
                            str(args.samples), "--json"))
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    model, corpus = report["repaired"], report["reference"]
    row = {"corpus": f"backtracker, horizontal x{args.weight:g}", "levels": args.count,
           "two-sample": report["two_sample"]["model"], "untrained two-sample": report["two_sample"].get("untrained"),
           **{f"W1 {k.replace('_length', '').replace('_', ' ')}": report["style"][f"w_{k}"]
              for k in ("dead_ends", "junctions", "straights", "turns", "solution_length")},
           "perfect raw": report["raw"]["perfect"],
           "loops model / corpus": f"{model['loops']:.1f} / {corpus['loops']:.1f}",
           "novel": model.get("novelty"), "train s": round(seconds)}
    selection = json.loads((args.out / "run" / "config.json").read_text()).get("selection")
    print("| corpus | levels | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    print(f"| {row['corpus']} | {row['levels']} | "
          + " | ".join(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS) + " |")
    print(f"selection: {json.dumps(selection)}")


if __name__ == "__main__":
    main()
