"""The README's resampling figure: one style of the shipped decoder, three rows of six levels — its corpus (fresh
levels of the style's generator), the decoder's plain levels, and the same level codes resampled by the shipped
critic (K candidate walks each).

    python scripts/resample_figure.py --style recursive-division --k 16 --out docs/figures/resample-sheet.png
"""

from __future__ import annotations

import argparse

import numpy as np

from daedalus.maze.draw import render, save_png, tile
from daedalus.maze.generators import generate_batch
from daedalus.runtime import DEFAULT_MODEL, MazeGenerator
from daedalus.runtime.resample import critic_files

GENERATORS = {"backtracker-braid": ("backtracker", 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="recursive-division")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    generator = MazeGenerator.load(critic=critic_files(DEFAULT_MODEL))
    mode = generator.critics[args.style].mode
    name, braid = GENERATORS.get(args.style, (args.style, 0.0))
    corpus = generate_batch(name, args.columns, *generator.shape, np.random.default_rng(args.seed), braid)
    plain = [level.grid for level in generator.generate(args.columns, seed=args.seed, style=args.style, mode=mode)]
    kept = [level.grid for level in generator.generate(args.columns, seed=args.seed, style=args.style, mode=mode,
                                                       resample=args.k)]
    images = [render(grid, generator.info.start, generator.info.exit, scale=4) for grid in [*corpus, *plain, *kept]]
    save_png(tile(images, columns=args.columns), args.out)
    print(f"wrote {args.out}: rows corpus, plain, resample {args.k} ({args.style}, {mode})")


if __name__ == "__main__":
    main()
