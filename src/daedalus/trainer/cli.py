"""``daedalus train``: fit an AE or VAE on mazes or digits and write a run folder (see docs/formats.md)."""

from __future__ import annotations

import argparse

from daedalus.maze.cli import positive_int
from daedalus.trainer.config import AUGMENTS, KEEPS
from daedalus.trainer.schedules import LR_SCHEDULES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a maze (or digit) autoencoder / VAE into a run folder",
        description="Train a maze VAE on any corpus — a dataset npz or a folder of level files (--data PATH), or "
        "mazes of a classic generator — and write a run folder: config.json, model.safetensors, state.pt, log.jsonl "
        "and figures. With no other option it uses the one recommended configuration (configs/styles.toml). Options "
        "can also come from a TOML file (--config) with the same names; the command line wins. Needs the 'train' "
        "extra (torch).",
    )
    add = parser.add_argument
    add("--out", required=True, help="run folder to write (or to continue with --resume)")
    add("--config", help="TOML file of options (flat keys, same names as the options below)")
    add("--resume", action="store_true", help="continue a stopped run in --out from its state.pt")
    add("--model", help="named model: auto (default: every walk decoder that can draw the data trains, the one with "
        "the fewest held-out nats is kept), raster, carve, link-vae, seed-ae, seed-vae")
    add("--latent", type=int, help="latent size (default: the model's)")
    add("--hidden", help="hidden widths, comma-separated, e.g. 512,512 (default: the model's)")
    add("--schedule", help="KL schedule: none, monotonic, cyclical (default cyclical for a VAE)")
    add("--beta-max", dest="beta_max", type=float, help="the KL weight the schedule rises to (default 0.1)")
    add("--cycles", type=int, help="cycles over the run for the cyclical schedule (default 4)")
    add("--ratio", type=float, help="rising fraction of the run / of each cycle (default 0.5)")
    add("--data", help="PATH of a dataset npz or a folder of level files (.json, .txt, .png, .npz; a folder of "
        "dataset npz files is one style per file), or: mazes (generated, see --generator), digits (scikit-learn's, "
        "offline) or mnist (IDX files in --mnist-dir)")
    add("--generator", help="with --data mazes: the classic generator that makes them (default backtracker)")
    add("--braid", type=float, help="with --data mazes: probability of opening one more link at each dead end")
    add("--mnist-dir", dest="mnist_dir", help="folder with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte")
    add("--count", type=int, help="training mazes (default 1280) or digits (default: all)")
    add("--size", help="maze size N or HxW (default 28 for generated mazes; a corpus given as --data PATH sets "
                       "its own, which a --size must match)")
    add("--holdout", type=int, help="held-out samples (default 256)")
    add("--fresh", action="store_true", default=None, help="fresh mazes every epoch")
    add("--data-seed", dest="data_seed", type=int, help="seed of the training data (default: --seed)")
    add("--epochs", type=int, help="epochs (default 40)")
    add("--batch-size", dest="batch_size", type=int, help="batch size (default 64)")
    add("--lr", type=float, help="Adam learning rate (default 1e-3)")
    add("--lr-schedule", dest="lr_schedule", choices=LR_SCHEDULES,
        help="how the learning rate moves over the run: constant, or cosine (a half cosine from --lr down to 0)")
    add("--loss", help="reconstruction loss: sse (the seed's) or bce (default bce for link models)")
    add("--seed", type=int, help="training seed (default 0)")
    add("--device", help="auto (CUDA when present), cpu or cuda (default auto)")
    add("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    add("--eval-samples", dest="eval_samples", type=int, help="prior samples scored each epoch (default 200)")
    add("--threshold", type=float, help="open-floor threshold for the maze statistics (default 0.5)")
    add("--temperature", type=float, help="carve: walk temperature (default 1; below 1 sharpens)")
    add("--context-groups", dest="context_groups", type=int,
        help="raster: context groups the walk reads, 1 (fourteen bits around a cell: a faster walk) or 2 (and "
             "fourteen further out: closer styles; default 2)")
    add("--context-hidden", dest="context_hidden", type=int,
        help="raster: width of the MLPs that map a context's bits to its tables (default 128; the tables shipped "
             "are the same size whatever it is)")
    add("--context-mix", dest="context_mix", type=int,
        help="raster: how many context tables the code mixes per level (default 8; more lets the code steer the "
             "context's effect further, for many styles)")
    add("--window",
        help="raster: hidden widths of the window network, a small network over the 65 links and set bits around "
             "each cell whose scores the walk adds (like 64 or 32,32), or none (docs/training.md 'The window "
             "network'; default: the model's own)")
    add("--walk-order", dest="walk_order",
        help="raster: the order the walk draws a level in, auto (default: the one in which the training levels are "
             "most predictable, docs/training.md 'The walk's order') or a flip or turn of rows from the top: "
             "identity, flip_rows (from the bottom up), flip_cols, rot180, transpose (column by column), rot90, "
             "rot270, antitranspose")
    add("--cell-decoder", dest="cell_decoder",
        help="raster: how the code becomes each cell's scores, dense (one output per cell; default), shared (one "
             "small network for every cell, reading its position) or modulated (the same, the code also scaling "
             "the position term); shared and modulated export at any size")
    add("--free-bits", dest="free_bits", type=float,
        help="KL floor in nats per latent dimension, batch-averaged (default 0: plain KL)")
    add("--prior", help="latent prior the export records (and critic tuning draws from): normal (N(0, I), default; "
        "aggregate with --init) or aggregate (a Gaussian "
        "fitted to the training codes)")
    add("--keep", choices=KEEPS,
        help="which epoch's weights the run keeps: best (the lowest held-out loss, rec + beta_max * KL; default) or "
             "last")
    add("--augment", choices=AUGMENTS,
        help="auto (default): also train on each level flipped and turned, under every symmetry the training "
             "levels pass a test for and the model can draw (docs/training.md 'Symmetries'); none: only as given")
    add("--tune-rounds", dest="tune_rounds", type=int,
        help="rounds of critic tuning after training: each trains a fresh critic on the decoder's levels against the "
             "corpus and moves the walk towards what it calls corpus-like (docs/training.md 'Critic tuning'; default "
             "12, 0 = off; raster decoders with at least 150 training levels of one style)")
    add("--tune-steps", dest="tune_steps", type=int, help="policy-gradient steps per tuning round (default 30)")
    add("--tune-weight", dest="tune_weight", type=float,
        help="weight of the critic's reward beside the run's own loss while tuning (default 0.3)")
    add("--init", help="RUN folder of a trained run to start from: its model (kind, shapes, walk order) and weights, "
        "fine-tuned on --data; e.g. a many-style run, so that a few hundred levels of a new style only have to "
        "select and adjust what it has learned (docs/training.md 'Fine-tuning')")
    add("--no-figures", dest="figures", action="store_false", default=None, help="skip the figures")
    add("--quiet", action="store_true", help="no progress bar")
    add("--nproc", type=positive_int, help="data-parallel training in N processes on this machine: starts "
        "'torchrun --standalone --nproc-per-node N -m daedalus train ...' with the other options (see "
        "docs/training.md for several machines); --batch-size is per process")
    parser.set_defaults(func=run_train)


OPTION_NAMES = ("model", "latent", "hidden", "schedule", "beta_max", "cycles", "ratio", "data", "generator", "braid",
                "mnist_dir", "count", "size", "holdout", "fresh", "data_seed", "epochs", "batch_size", "lr",
                "lr_schedule", "loss", "seed", "device", "eval_samples", "threshold", "figures", "temperature",
                "free_bits", "prior", "context_groups", "cell_decoder", "context_hidden", "context_mix", "window",
                "walk_order", "keep", "augment", "tune_rounds", "tune_steps", "tune_weight", "init")


def run_train(args: argparse.Namespace) -> int:
    from daedalus.errors import UsageError

    try:
        import torch
    except ImportError:
        raise UsageError("daedalus train needs torch: pip install 'daedalus[train]'") from None
    from daedalus.trainer.config import resolve_config

    overrides = {name: getattr(args, name) for name in OPTION_NAMES}
    if args.size is not None and args.size.isdigit():
        overrides["size"] = int(args.size)
    if args.resume:
        given = [name for name, value in overrides.items() if value is not None]
        if given or args.config:
            raise UsageError(f"--resume continues the run in --out with its own config.json; drop "
                             f"{', '.join(_flag(g, overrides[g]) for g in given) or '--config'}")
        config = None
    else:
        config = resolve_config(overrides, args.config)

    from daedalus.trainer.distributed import world_from_env

    if args.nproc is not None:
        return launch(args)
    from daedalus.trainer.train import train

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    record = train(config, args.out, resume=args.resume, progress=not args.quiet)
    if world_from_env().main:
        print(f"trained {record.get('epoch', 0)} epochs into {args.out}: loss "
              f"{record.get('train_loss', float('nan')):.4f}"
              + (f", prior perfect rate {record['prior_perfect']:.3f}" if "prior_perfect" in record else ""))
        from daedalus.trainer.tune import summary

        tuned = summary(args.out)
        if tuned:
            print(tuned)
    return 0


def _flag(name: str, value) -> str:
    """The option as the user typed it: ``figures=False`` came from ``--no-figures``."""
    flag = name.replace("_", "-")
    return f"--no-{flag}" if value is False else f"--{flag}"


def torchrun_command(args: argparse.Namespace) -> list[str]:
    """The torchrun command line that ``--nproc N`` stands for: this machine only (``--standalone`` picks a free
    port for the rendezvous), N processes, the same train options without ``--nproc``."""
    import sys

    argv = ["--out", args.out]
    for name in OPTION_NAMES:
        value = getattr(args, name)
        if value is None:
            continue
        if isinstance(value, bool):
            argv.append(_flag(name, value))
        else:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    for name in ("config", "threads"):
        if getattr(args, name) is not None:
            argv += [f"--{name}", str(getattr(args, name))]
    argv += [flag for flag, on in (("--resume", args.resume), ("--quiet", args.quiet)) if on]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc),
            "-m", "daedalus", "train", *argv]


def launch(args: argparse.Namespace) -> int:
    """``daedalus train --nproc N``: run torchrun and return its exit status."""
    import os
    import subprocess

    from daedalus.errors import UsageError

    if "WORLD_SIZE" in os.environ:
        raise UsageError(f"--nproc {args.nproc} starts torchrun, but this process already runs under it "
                         f"(WORLD_SIZE={os.environ['WORLD_SIZE']}): drop --nproc")
    # torchrun gives each process one thread unless told otherwise; say so rather than let it warn N times.
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(torchrun_command(args), env=env).returncode
