"""``daedalus critic``: the command line of ``daedalus.trainer.critic`` (torch is imported only when it runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_STEPS = 1500
DEFAULT_CHANNELS = 32


def register(subparsers) -> None:
    from daedalus.maze.cli import positive_int

    parser = subparsers.add_parser(
        "critic",
        help="train the critic that 'generate --resample K' uses to move a decoder's levels toward its corpus",
        description="Train a small CNN to tell a decoder's levels (drawn as 'generate' draws them) from a corpus "
        "(the one the decoder learnt: a dataset npz or a folder of level files), and write it as an ONNX file. "
        "'daedalus generate --model M --critic C --resample K' (and MazeGenerator.load(M, critic=C).generate(..., "
        "resample=K)) then keeps, for each level, one of K candidate walks with probability proportional to "
        "exp(logit): levels closer to the corpus at about K times the cost. Needs the 'train' and 'export' extras.",
    )
    parser.add_argument("--model", required=True, help="the decoder .onnx file the critic is for")
    parser.add_argument("--data", help="the corpus: a dataset npz or a folder of level files (default: the training "
                        "data the model's metadata names, when it can be rebuilt: a generator and seed, or a corpus "
                        "file still where it was)")
    parser.add_argument("--out", help="the critic .onnx file to write (default: MODEL's name with .critic.onnx)")
    parser.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS,
                        help=f"optimiser steps of 64 levels (default {DEFAULT_STEPS})")
    parser.add_argument("--channels", type=positive_int, default=DEFAULT_CHANNELS,
                        help=f"convolution channels (default {DEFAULT_CHANNELS}; the critic's cost per level grows "
                             "with their square)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the critic's weights, batches and levels")
    parser.add_argument("--mode", choices=("perfect", "braid"), help="the mode the levels are drawn in (default: "
                        "the model's)")
    parser.add_argument("--style", help="a many-style decoder: the style the critic is for (--data: its corpus)")
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's)")
    parser.set_defaults(func=run_critic)


def default_critic_path(model: str | os.PathLike) -> Path:
    """``F.onnx`` → ``F.critic.onnx`` beside it."""
    path = Path(model)
    return path.with_name(f"{path.stem}.critic.onnx" if path.suffix == ".onnx" else f"{path.name}.critic.onnx")


def run_critic(args) -> int:
    from daedalus.errors import UsageError

    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise UsageError("daedalus critic needs torch and onnx: pip install 'daedalus[train,export]'") from None
    from daedalus.trainer.critic import build_critic

    out = Path(args.out) if args.out else default_critic_path(args.model)
    meta = build_critic(args.model, args.data, out, steps=args.steps, seed=args.seed, mode=args.mode,
                        style=args.style, threads=args.threads, progress=True, channels=args.channels)
    print(f"wrote {out}: critic for {args.model} ({meta['mode']} levels), {meta['model_levels']} model levels "
          f"against {json.loads(meta['corpus'])['levels']} corpus levels, training accuracy "
          f"{meta['train_accuracy']:.3f} (0.5: the decoder already looks like its corpus to it)")
    return 0
