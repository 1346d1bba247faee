"""A temperature on the raster walk's scores, measured offline on the shipped many-style decoder: every option's
score (cell logit + context mix + window network + loop bonus) divided by T before the walk chooses, T < 1 sharper,
T > 1 flatter. Each style's levels at each T against fresh levels of its generator, the two-sample test of
``daedalus eval`` (one critic, seed 0).

    python experiments/walk_temperature.py [--styles recursive-division prim] [--temperatures 0.7 0.85 1] [--count 2000]
    python experiments/walk_temperature.py --model runs/X/model.onnx --data runs/X/held-out.npz   # a one-style model

Scores are linear in the decoder's outputs, so dividing the cell logits, the context mix, the window's last layer
and the loop bonus by T divides every score by T exactly; nothing in the ONNX graph changes (the runtime's
``RasterDecoding.tempered_levels``, the same step 0 a file's ``walk_temperature`` applies).
"""

from __future__ import annotations

import argparse

import numpy as np

from daedalus.maze import generators
from daedalus.runtime import MazeGenerator
from daedalus.trainer.two_sample import two_sample_accuracy


def tempered_levels(generator: MazeGenerator, style: str | None, count: int, temperature: float,
                    seed: int) -> np.ndarray:
    """``count`` levels of the prior or a style walked at ``temperature`` (docs/formats.md "Raster decoders", step 0),
    whatever temperature the file itself records."""
    chosen = generator._style(style)
    outputs = generator._run(generator._code_latents(seed, count, style))
    return generator._decoding.tempered_levels(outputs, generator.mode_for(style), chosen, temperature)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", default=["recursive-division", "backtracker", "prim", "kruskal"])
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.7, 0.85, 1.0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--model", help="another decoder (default: the shipped one)")
    parser.add_argument("--data", help="with --model: the corpus to compare with (a dataset npz); --styles is ignored")
    args = parser.parse_args()
    generator = MazeGenerator.load(args.model)
    if args.data:
        from daedalus.maze.corpus import read_corpus

        reference = read_corpus(args.data).grids
        cells = [two_sample_accuracy(tempered_levels(generator, None, args.count, t, seed=10**9), reference,
                                     seed=0)["accuracy"] for t in args.temperatures]
        print("| model | " + " | ".join(f"T {t:g}" for t in args.temperatures) + " |")
        print("|---|" + "---:|" * len(args.temperatures))
        print(f"| {args.model} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
        return
    print("| style | " + " | ".join(f"T {t:g}" for t in args.temperatures) + " |")
    print("|---|" + "---:|" * len(args.temperatures))
    for i, style in enumerate(args.styles):
        name = style.removesuffix("-braid")
        reference = generators.generate_batch(name, args.count, generator.info.height, generator.info.width,
                                              np.random.default_rng(900 + i), braid=0.5 if style.endswith("braid")
                                              else 0.0)
        cells = []
        for t in args.temperatures:
            levels = tempered_levels(generator, style, args.count, t, seed=10**9 + 7919 * i)
            cells.append(two_sample_accuracy(levels, reference, seed=0)["accuracy"])
        print(f"| {style} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
