"""Train one maze VAE of the quality study on backtracker mazes (fresh ones every epoch, or a fixed set).

    OMP_NUM_THREADS=1 python experiments/quality/train.py --model tree --latent 32 --minutes 8 --out runs/q/tree32

Writes OUT/model.pt (state dict), OUT/config.json (model config, recipe, aggregate-posterior Gaussian as
``latent_prior``) and OUT/log.jsonl. The KL weight follows the cyclical schedule of Fu et al. (M cycles,
ratio R of each cycle spent increasing, then held at beta), with optional free bits per latent dimension.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import build  # noqa: E402

from daedalus.maze import backtracker_batch  # noqa: E402


def kl_weight(step: int, total: int, beta: float, cycles: int, ratio: float) -> float:
    """Cyclical KL weight: within each of ``cycles`` cycles, rise linearly to ``beta`` over the first ``ratio``."""
    if cycles <= 0:
        return beta
    period = total / cycles
    tau = (step % period) / period
    return beta * min(1.0, tau / ratio) if ratio > 0 else beta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tree")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--decoder-hidden", type=int, default=None)
    ap.add_argument("--decoder-layers", type=int, default=2)
    ap.add_argument("--potential-weight", type=float, default=None, help="ptree: weight of the potential loss")
    ap.add_argument("--temperature", type=float, default=None, help="tree/ptree: decode temperature to record")
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--free-bits", type=float, default=0.0, help="nats per latent dimension")
    ap.add_argument("--epoch-size", type=int, default=10000)
    ap.add_argument("--fresh", action="store_true", help="new mazes every epoch")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget; epochs are fitted into it")
    ap.add_argument("--epochs", type=int, default=0, help="0: as many as the budget allows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {k: v for k, v in (("potential_weight", args.potential_weight), ("temperature", args.temperature))
             if v is not None}
    model = build(args.model, latent_dim=args.latent, hidden=args.hidden, decoder_hidden=args.decoder_hidden,
                  decoder_layers=args.decoder_layers, **extra)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    # Mazes come from their own generator so that the training set is backtracker_batch(count, rng=seed).
    rng = np.random.default_rng(args.seed)
    shuffle_rng = np.random.default_rng(args.seed + 1)
    started = time.time()
    budget = args.minutes * 60
    fixed = None if args.fresh else backtracker_batch(args.epoch_size, rng=rng)
    steps_per_epoch = math.ceil(args.epoch_size / args.batch)
    # Schedule length: estimated after the first epoch from its duration, when no epoch count is given.
    total_epochs = args.epochs or None
    log = open(out / "log.jsonl", "w")
    epoch, step = 0, 0
    while True:
        t0 = time.time()
        grids = backtracker_batch(args.epoch_size, rng=rng) if args.fresh else fixed
        x_all = model.features(grids)
        y_all = model.target(grids)
        order = torch.from_numpy(shuffle_rng.permutation(len(grids)))
        totals = np.zeros(3)
        model.train()
        for s in range(steps_per_epoch):
            idx = order[s * args.batch : (s + 1) * args.batch]
            logits, mu, logvar = model(x_all[idx])
            rec = model.reconstruction(logits, y_all[idx])
            kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
            kl = kl_dim.sum(1)
            kl_term = torch.clamp(kl_dim.mean(0), min=args.free_bits).sum() if args.free_bits > 0 else kl.mean()
            total_steps = (total_epochs or 10**6) * steps_per_epoch
            w = kl_weight(step, total_steps, args.beta, args.cycles, args.ratio)
            loss = rec.mean() + w * kl_term
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += [rec.mean().item(), kl.mean().item(), w]
            step += 1
        epoch += 1
        seconds = time.time() - t0
        if total_epochs is None:
            total_epochs = max(1, int(budget / seconds))
        row = {"epoch": epoch, "rec": totals[0] / steps_per_epoch, "kl": totals[1] / steps_per_epoch,
               "beta": totals[2] / steps_per_epoch, "seconds": round(seconds, 2), "of": total_epochs}
        log.write(json.dumps(row) + "\n")
        log.flush()
        print(json.dumps(row), flush=True)
        if epoch >= total_epochs:
            break
    minutes = (time.time() - started) / 60
    # Aggregate posterior as one Gaussian: mean of mu, covariance of mu plus the mean posterior variance.
    model.eval()
    with torch.no_grad():
        eval_grids = backtracker_batch(5000, rng=np.random.default_rng(10**6 + args.seed))
        mu, logvar = model.encode(model.features(eval_grids))
        mu, var = mu.double().numpy(), logvar.exp().double().numpy()
    cov = np.cov(mu, rowvar=False) + np.diag(var.mean(0))
    prior = {"kind": "gaussian", "mean": mu.mean(0).tolist(), "scale_tril": np.linalg.cholesky(cov).tolist()}
    torch.save(model.state_dict(), out / "model.pt")
    config = {"model": model.config(), "recipe": vars(args), "epochs": epoch, "train_minutes": round(minutes, 2),
              "latent_prior": prior, "threshold": 0.5,
              "training_data": {"kind": "mazes", "count": args.epoch_size * (epoch if args.fresh else 1), "height": model.height,
                                "width": model.width, "seed": args.seed, "fresh": bool(args.fresh)}}
    tmp = out / "config.json.tmp"
    tmp.write_text(json.dumps(config, indent=1))
    os.replace(tmp, out / "config.json")
    print(f"trained {epoch} epochs in {minutes:.1f} min -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
