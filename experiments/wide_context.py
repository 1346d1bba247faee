"""Would a wider context help the raster walk? An experiment, not a shipped decoder (EXPERIMENTS.md "A wider
context, run-time MLP"): the recommended raster VAE plus a score from a small MLP over the raw bits of a wide
window of decided links (rows r-3..r, columns c-4..c+4) and the walk's three set bits, computed per cell at run time
(no table: 2^65 contexts have none). Trained with the real trainer on the walk's exact likelihood (teacher forcing),
sampled with a numpy walk that evaluates the MLP cell by cell, scored with the same two-sample test as `daedalus
eval`, beside the same model without the MLP (`--hidden-mlp 0`).

    python experiments/wide_context.py --data runs/styles-sym-rep/prim-5000/train.npz \
        --held-out runs/styles-sym-rep/prim-5000/held-out.npz --out runs/wide-context
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from daedalus.maze.raster_walk import CONTEXT_BITS, OPTIONS, _Sets, choose, maze_links
from daedalus.trainer.raster_model import RasterVAE

SET_BITS = [i for i, bit in enumerate(CONTEXT_BITS) if len(bit) == 1]  # same_set_right, set_has_down, later


def set_window(rows_up: int = 3, cols: int = 4, set_reach: int = 0) -> None:
    """The window's reach: rows r-rows_up..r, columns c-cols..c+cols (the shipped window network's is 3 and 4), and
    ``set_reach``: the cells of the current row at c-set_reach..c+set_reach whose set bits the MLP reads too."""
    global WINDOW, WIDTH, PAD, SET_OFFSETS
    # Every link at (dr, dc) decided before the cell (rows above, or this row to the left).
    WINDOW = [(kind, dr, dc) for dr in range(-rows_up, 1) for dc in range(-cols, cols + 1)
              for kind in ("right", "down") if dr < 0 or dc < 0]
    # Whether the cell at column c + d of this row is in the cell's set (d = 1 is the walk's same_set_right).
    SET_OFFSETS = [d for d in range(-set_reach, set_reach + 1) if d not in (0, 1)]
    WIDTH = len(WINDOW) + len(SET_BITS) + len(SET_OFFSETS)
    PAD = max(rows_up, cols)


def same_set_bits(label: np.ndarray, c: int) -> np.ndarray:
    """``(N, len(SET_OFFSETS))`` float32: whether the row's cell c + d is in cell c's set (0 off the grid)."""
    cols = label.shape[1]
    own = label[:, c]
    bits = [(label[:, c + d] == own) if 0 <= c + d < cols else np.zeros(len(label), dtype=bool) for d in SET_OFFSETS]
    return np.stack(bits, axis=1).astype(np.float32) if bits else np.zeros((len(label), 0), np.float32)


def replayed_set_bits(grids: np.ndarray) -> np.ndarray:
    """``(N, cells, len(SET_OFFSETS))``: the same-set bits the walk reads at every cell of given mazes."""
    right, down = maze_links(grids)
    count, rows, cols = right.shape
    out = np.zeros((count, rows * cols, len(SET_OFFSETS)), dtype=np.float32)
    if not SET_OFFSETS:
        return out
    sets = _Sets(count, rows, cols, loops=True)
    for r in range(rows):
        sets.start_row(r)
        for c in range(cols):
            out[:, r * cols + c] = same_set_bits(sets.label, c)
            sets.apply(r, c, right[:, r, c] + 2 * down[:, r, c].astype(np.int64))
    return out


set_window()


def window_bits(right: np.ndarray, down: np.ndarray, r: int, c: int) -> np.ndarray:
    """``(N, len(WINDOW))`` float32: the window's links of cell (r, c), from padded link arrays ``(N, R+P, C+2P)``."""
    return np.stack([(right if kind == "right" else down)[:, r + dr + PAD, c + dc + PAD]
                     for kind, dr, dc in WINDOW], axis=1).astype(np.float32)


class WideRasterVAE(RasterVAE):
    """RasterVAE + a run-time MLP over ``WIDTH`` bits per cell, added to every option's score."""

    OUTPUT = "wide"

    def __init__(self, hidden_mlp: int = 128, mlp_layers: int = 2, **config):
        super().__init__(**config)
        self.hidden_mlp, self.mlp_layers = int(hidden_mlp), int(mlp_layers)
        if self.hidden_mlp:
            layers = [nn.Linear(WIDTH, self.hidden_mlp), nn.ReLU()]
            for _ in range(self.mlp_layers - 1):
                layers += [nn.Linear(self.hidden_mlp, self.hidden_mlp), nn.ReLU()]
            self.wide = nn.Sequential(*layers, nn.Linear(self.hidden_mlp, OPTIONS))

    def config(self) -> dict:
        return {**super().config(), "hidden_mlp": self.hidden_mlp, "mlp_layers": self.mlp_layers}

    def target(self, grids: torch.Tensor) -> torch.Tensor:
        target = super().target(grids)
        right, down = maze_links(grids.detach().cpu().numpy())
        count, rows, cols = right.shape
        pr = np.zeros((count, rows + PAD, cols + 2 * PAD), dtype=bool)
        pd = np.zeros_like(pr)
        pr[:, PAD:, PAD:PAD + cols], pd[:, PAD:, PAD:PAD + cols] = right, down
        pr[:, PAD:, PAD + cols - 1] = False  # the last column's right links and the last row's down links are wall
        bits = np.stack([window_bits(pr, pd, r, c) for r in range(rows) for c in range(cols)], axis=1)
        context = target[..., 0].cpu().numpy()
        sets = np.stack([(context >> i) & 1 for i in SET_BITS], axis=-1).astype(np.float32)
        same = replayed_set_bits(grids.detach().cpu().numpy())
        extra = torch.from_numpy(np.concatenate([bits, sets, same], axis=-1)).to(grids.device)
        return torch.cat([target.float(), extra], dim=-1)

    def reconstruction(self, logits, target, loss=None):
        groups = self.context_groups
        base = target[..., : groups + 5].long()
        if not self.hidden_mlp:
            return super().reconstruction(logits, base, loss)
        cell_logits, mix = logits
        wide = self.wide(target[..., groups + 5:])  # [B, cells, 4]
        return super().reconstruction((cell_logits + wide.reshape(cell_logits.shape), mix), base, loss)

    @torch.no_grad()
    def walk(self, code: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sample levels for codes: the raster walk with the MLP's score added, cell by cell (numpy bookkeeping)."""
        self.eval()
        count = len(code)
        cell, mix = (t.numpy().astype(np.float64) for t in self.tables(torch.from_numpy(code.astype(np.float32))))
        basis = self.context_basis().numpy().astype(np.float64)
        sets = _Sets(count, self.rows, self.cols, loops=False)
        uniforms = rng.random((count, self.cells))
        pr = np.zeros((count, self.rows + PAD, self.cols + 2 * PAD), dtype=bool)
        pd = np.zeros_like(pr)
        for r in range(self.rows):
            sets.start_row(r)
            for c in range(self.cols):
                context, allowed = sets.context_and_allowed(r, c, self.context_groups)
                scores = cell[:, r, c].copy()
                for g in range(self.context_groups):
                    scores += np.einsum("bm,bmo->bo", mix, basis[context[:, g]])
                if self.hidden_mlp:
                    sb = np.stack([(context[:, 0] >> i) & 1 for i in SET_BITS], axis=1).astype(np.float32)
                    x = np.concatenate([window_bits(pr, pd, r, c), sb, same_set_bits(sets.label, c)], axis=1)
                    scores += self.wide(torch.from_numpy(x)).numpy()
                option = choose(scores, allowed, uniforms[:, r * self.cols + c])
                sets.apply(r, c, option)
                pr[:, r + PAD, c + PAD] = option & 1
                pd[:, r + PAD, c + PAD] = option >> 1
        return sets.grids()


def main() -> None:
    import daedalus.trainer.models as models
    from daedalus.trainer.checkpoint import load_model
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.train import train
    from daedalus.trainer.two_sample import two_sample_accuracy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--held-out", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hidden-mlp", type=int, default=128, help="width of the MLP's hidden layers (0: no MLP)")
    parser.add_argument("--mlp-layers", type=int, default=2, help="hidden layers of the MLP")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rows-up", type=int, default=3, help="rows above the cell the window reads (default 3)")
    parser.add_argument("--cols", type=int, default=4, help="columns each side of the cell it reads (default 4)")
    parser.add_argument("--set-reach", type=int, default=0,
                        help="also read whether the row's cells c-K..c+K are in the cell's set (default 0: no)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_window(args.rows_up, args.cols, args.set_reach)
    sys.modules.setdefault("wide_context", sys.modules[__name__])
    models.ARCHITECTURES["wide"] = ("wide_context", "WideRasterVAE")
    # window "none": the MLP here takes the shipped window network's place (the raster preset has one now); its walk
    # goes rows from the top (to try another order, pass levels turned by experiments/walk_order.py).
    config = resolve_config({"data": args.data, "model": "raster", "epochs": args.epochs, "figures": False,
                             "eval_samples": 0, "window": "none", "walk_order": "identity"})
    config["model"] = {**config["model"], "output": "wide", "hidden_mlp": args.hidden_mlp,
                       "mlp_layers": args.mlp_layers}
    started = time.perf_counter()
    record = train(config, args.out, progress=False)
    seconds = time.perf_counter() - started
    model, _ = load_model(args.out)
    codes = np.random.default_rng(0).standard_normal((args.samples, model.latent_dim))
    levels = model.walk(codes, np.random.default_rng(1))
    held_out = np.load(args.held_out)["grids"]
    accuracy = two_sample_accuracy(levels, held_out, seed=0)["accuracy"]
    from daedalus.maze.stats import is_perfect

    result = {"data": args.data, "hidden_mlp": args.hidden_mlp, "mlp_layers": args.mlp_layers, "bits": WIDTH,
              "rows_up": args.rows_up, "cols": args.cols, "set_reach": args.set_reach,
              "two_sample": accuracy,
              "perfect": float(np.mean(is_perfect(levels))), "holdout_rec": record["holdout_rec"],
              "train_s": round(seconds)}
    print(json.dumps(result))
    (args.out / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
