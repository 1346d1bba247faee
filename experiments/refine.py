"""Would a second pass that sees the whole level close the gap the raster walk leaves? (issue 11, an experiment)

The raster walk decides every link from what lies above and to the left; EXPERIMENTS.md "What limits the one
configuration" showed that levels from real levels' own codes are as easy to tell from the corpus as the prior's, so
the walk's one-directional view is the limit. This script tries the issue's "iterative refinement" direction in its
plainest form, outside the shipped decoder:

1. A *block model*: a small fully convolutional network trained on the corpus to predict the links inside a masked
   rectangle of cells from every link outside it (both sides: above, below, left and right), plus the rectangle's
   mask and the cell's position. Per-link logits, binary cross-entropy on the masked links only.
2. *Refinement* of a draft (a perfect maze): for a tiling of the level into blocks (a random offset per sweep), remove
   the links inside one block, score them with the block model, perturb each score with logistic noise and add the
   links back in descending order whenever a link joins two components (Kruskal's rule, a perturb-and-MAP spanning
   forest). The level stays a perfect maze after every block; no repair.
3. The two-sample test of ``daedalus eval`` (mean over critic seeds) and the style W1s, for the drafts and after each
   sweep, beside the same refinement with every score 0 (random Kruskal inside the blocks: what the refinement's
   randomness alone does) and, as a start with no model at all, from a random Kruskal maze.

    python experiments/refine.py runs/hk/hunt-and-kill-5000 [--sweeps 4] [--block 4] [--epochs 30]

The folder is one of ``experiments/styles.py`` (``train.npz``, ``held-out.npz``, ``model.onnx``). Perfect corpora
only. Prints a markdown table; writes ``refine.json`` into the folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from torch import nn

from daedalus.maze.evaluation import corpus_figures
from daedalus.maze.generators import generate_batch
from daedalus.maze.raster_walk import maze_links
from daedalus.trainer.two_sample import two_sample_accuracy

CHANNELS = 9  # right, down, right known, down known, right exists, down exists, in block, row, column


def links_to_grids(right: np.ndarray, down: np.ndarray) -> np.ndarray:
    count, rows, cols = right.shape
    out = np.zeros((count, 2 * rows, 2 * cols), dtype=np.uint8)
    out[:, ::2, ::2] = 1
    out[:, ::2, 1::2] = right
    out[:, 1::2, ::2] = down
    out[:, :, -1] = 0
    out[:, -1, :] = 0
    return out


def block_masks(rows: int, cols: int, top, left, height, width) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, rows, cols)`` masks of the cells in each block and of the right / down links with both cells in it."""
    r = np.arange(rows)[None, :, None]
    c = np.arange(cols)[None, None, :]
    top, left = np.asarray(top)[:, None, None], np.asarray(left)[:, None, None]
    height, width = np.asarray(height)[:, None, None], np.asarray(width)[:, None, None]
    inside = (r >= top) & (r < top + height) & (c >= left) & (c < left + width)
    right = inside & (c + 1 < left + width) & (c + 1 < cols)
    down = inside & (r + 1 < top + height) & (r + 1 < rows)
    return inside, right, down


def features(right, down, inside, mask_right, mask_down) -> torch.Tensor:
    count, rows, cols = right.shape
    exists_right = np.broadcast_to(np.arange(cols)[None, None, :] < cols - 1, right.shape)
    exists_down = np.broadcast_to(np.arange(rows)[None, :, None] < rows - 1, right.shape)
    row = np.broadcast_to(np.linspace(-1, 1, rows)[None, :, None], right.shape)
    col = np.broadcast_to(np.linspace(-1, 1, cols)[None, None, :], right.shape)
    planes = [right & ~mask_right, down & ~mask_down, ~mask_right, ~mask_down, exists_right, exists_down, inside,
              row, col]
    return torch.from_numpy(np.stack(planes, axis=1).astype(np.float32))


class BlockModel(nn.Module):
    def __init__(self, width: int = 32, dilations=(1, 2, 4, 8, 4, 2, 1, 1)):
        super().__init__()
        self.inp = nn.Conv2d(CHANNELS, width, 3, padding=1)
        self.layers = nn.ModuleList(nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in dilations)
        self.out = nn.Conv2d(width, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        for layer in self.layers:
            h = h + torch.relu(layer(h))
        return self.out(h)


def random_blocks(count: int, rows: int, cols: int, rng: np.random.Generator, biggest: int):
    height = rng.integers(1, biggest + 1, count)
    width = rng.integers(1, biggest + 1, count)
    top = rng.integers(0, rows, count) - height // 2
    left = rng.integers(0, cols, count) - width // 2
    return block_masks(rows, cols, top, left, height, width)


def train_block_model(grids: np.ndarray, epochs: int, biggest: int, seed: int, batch: int = 64) -> BlockModel:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    right, down = maze_links(grids)
    count, rows, cols = right.shape
    model = BlockModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * (count // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    for epoch in range(epochs):
        order = rng.permutation(count)
        total, seen = 0.0, 0
        for start in range(0, count - batch + 1, batch):
            pick = order[start : start + batch]
            inside, mr, md = random_blocks(batch, rows, cols, rng, biggest)
            x = features(right[pick], down[pick], inside, mr, md)
            target = torch.from_numpy(np.stack([right[pick], down[pick]], axis=1).astype(np.float32))
            weight = torch.from_numpy(np.stack([mr, md], axis=1).astype(np.float32))
            loss = nn.functional.binary_cross_entropy_with_logits(model(x), target, weight=weight, reduction="sum")
            optimizer.zero_grad()
            (loss / weight.sum().clamp(min=1)).backward()
            optimizer.step()
            schedule.step()
            total, seen = total + float(loss.detach()), seen + float(weight.sum())
        print(f"epoch {epoch + 1}/{epochs}: masked-link loss {total / seen:.4f} nats", flush=True)
    return model.eval()


def _components(right, down, mr, md) -> np.ndarray:
    """Component label of every cell of every level, with the block links removed (one graph for the batch)."""
    count, rows, cols = right.shape
    ids = np.arange(count * rows * cols).reshape(count, rows, cols)
    keep_r, keep_d = right & ~mr, down & ~md
    src = np.concatenate([ids[keep_r], ids[keep_d]])
    dst = np.concatenate([ids[:, :, 1:][keep_r[:, :, :-1]], ids[:, 1:, :][keep_d[:, :-1, :]]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(ids.size, ids.size))
    return connected_components(graph, directed=False)[1].reshape(count, rows, cols)


def refine_block(right, down, top, left, height, width, model, rng, zero: bool = False):
    """Redraw the links inside one block of every level (see the module's step 2), in place."""
    count, rows, cols = right.shape
    full = np.full(count, 1)
    inside, mr, md = block_masks(rows, cols, full * top, full * left, full * height, full * width)
    if zero:
        logits = np.zeros((count, 2, rows, cols))
    else:
        with torch.no_grad():
            logits = model(features(right, down, inside, mr, md)).numpy().astype(np.float64)
    u = rng.random((count, 2, rows, cols))
    scores = logits + np.log(u) - np.log1p(-u)
    labels = _components(right, down, mr, md)
    cells_r = np.argwhere(mr[0])
    cells_d = np.argwhere(md[0])
    candidates = [(0, r, c, r, c + 1) for r, c in cells_r] + [(1, r, c, r + 1, c) for r, c in cells_d]
    if not candidates:
        return
    kinds = np.array([k for k, *_ in candidates])
    ra, ca, rb, cb = (np.array([x[i] for x in candidates]) for i in range(1, 5))
    right[:, mr[0]] = False
    down[:, md[0]] = False
    edge_scores = scores[:, kinds, ra, ca]  # (count, edges)
    order = np.argsort(-edge_scores, axis=1)
    la, lb = labels[:, ra, ca], labels[:, rb, cb]
    for n in range(count):
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        for e in order[n]:
            a, b = find(int(la[n, e])), find(int(lb[n, e]))
            if a != b:
                parent[a] = b
                (right if kinds[e] == 0 else down)[n, ra[e], ca[e]] = True


def refine(grids, model, sweeps: int, block: int, seed: int, zero: bool = False, every=None):
    right, down = (x.copy() for x in maze_links(grids))
    _, rows, cols = right.shape
    rng = np.random.default_rng(seed)
    stages = []
    for _ in range(sweeps):
        oy, ox = rng.integers(0, block, 2)
        tiles = [(t, lft) for t in range(-int(oy), rows, block) for lft in range(-int(ox), cols, block)]
        for i in rng.permutation(len(tiles)):
            t, lft = tiles[i]
            refine_block(right, down, t, lft, block, block, model, rng, zero)
        stages.append(links_to_grids(right, down))
    return stages


def figures(grids, reference, seeds) -> dict:
    style = corpus_figures(grids, reference)
    accuracy = [two_sample_accuracy(grids, reference, seed=s, threads=2)["accuracy"] for s in seeds]
    return {"two_sample": float(np.mean(accuracy)), "two_sample_runs": accuracy,
            **{k: style[k] for k in ("w_dead_ends", "w_junctions", "w_straights", "w_turns", "w_solution_length",
                                     "perfect")}}


def main() -> None:
    from daedalus.runtime import MazeGenerator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--sweeps", type=int, default=4)
    parser.add_argument("--block", type=int, default=4, help="block side in cells for refinement (default 4)")
    parser.add_argument("--biggest", type=int, default=8, help="largest masked block side in training (default 8)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.folder
    train = np.load(folder / "train.npz")["grids"]
    held = np.load(folder / "held-out.npz")
    reference, generator = held["grids"], str(held["generator"])
    started = time.perf_counter()
    model = train_block_model(train, args.epochs, args.biggest, seed=0)
    train_s = time.perf_counter() - started
    runtime = MazeGenerator.load(folder / "model.onnx", device="cpu", threads=1)
    drafts = np.stack([level.grid for level in runtime.generate(args.samples, seed=11, mode="perfect")])
    kruskal = generate_batch("kruskal", args.samples, *reference.shape[1:], np.random.default_rng(5))
    rows = []
    starts = {"raster walk": drafts, "random Kruskal": kruskal}
    for start_name, start in starts.items():
        rows.append({"start": start_name, "scores": "-", "sweeps": 0, **figures(start, reference, args.seeds)})
        for zero in (False, True):
            if zero and start_name != "raster walk":
                continue
            stages = refine(start, model, args.sweeps, args.block, seed=3, zero=zero)
            for sweep, grids in enumerate(stages, 1):
                if sweep in (1, 2) or sweep == len(stages):
                    rows.append({"start": start_name, "scores": "zero" if zero else "block model", "sweeps": sweep,
                                 **figures(grids, reference, args.seeds)})
                    print(json.dumps(rows[-1]), flush=True)
    result = {"folder": str(folder), "generator": generator, "block": args.block, "biggest": args.biggest,
              "epochs": args.epochs, "train_s": round(train_s), "rows": rows}
    (folder / "refine.json").write_text(json.dumps(result, indent=1))
    print(f"\nblock model trained in {train_s:.0f} s on {len(train)} levels of {generator}")
    print("| start | scores | sweeps | two-sample | W1 dead / junct / straight / turns / solution | perfect |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        w = " / ".join(f"{row[k]:.3f}" for k in ("w_dead_ends", "w_junctions", "w_straights", "w_turns",
                                                 "w_solution_length"))
        print(f"| {row['start']} | {row['scores']} | {row['sweeps']} | {row['two_sample']:.3f} | {w} | "
              f"{row['perfect']:.3f} |")


if __name__ == "__main__":
    main()
