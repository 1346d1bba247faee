"""The latent walk figure (README "Levels on demand"): one level morphing into another through latent space, the
seed's latent-grid picture for levels. Each row walks from level A to level B along

    z(t) = ((1 - t) · z_A + t · z_B) / sqrt((1 - t)² + t²)

(the straight line, rescaled so that every step keeps the prior's N(0, 1) spread: a plain straight line shrinks
the walk's noise in the middle and draws blander mazes there). Row 1 walks from a level asked for a short solution
to one asked for a long one, row 2 from many dead ends to few (both ends from ``generate(targets=...)``), row 3
between two plain level codes. Under each level: its solution length and dead ends.

    python scripts/latent_walk.py --out docs/figures/latent-walk.png [--steps 9] [--seed 3]
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the ONNX decoder (default: the shipped one)")
    parser.add_argument("--out", default="docs/figures/latent-walk.png")
    parser.add_argument("--steps", type=int, default=9)
    parser.add_argument("--seed", type=int, default=3, help="the seed of the ends")
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from daedalus.maze.draw import render
    from daedalus.maze.stats import attributes
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load(args.model, device="cpu")
    t = np.linspace(0.0, 1.0, args.steps)[:, None]
    def end(targets):
        return generator.generate(1, seed=args.seed, mode=args.mode, targets=targets)[0].z

    rows = [("short → long path", end({"solution_length": 70}), end({"solution_length": 300})),
            ("many → few dead ends", end({"dead_ends": 75}), end({"dead_ends": 15})),
            (f"code {args.seed} → {args.seed + 1}", *generator.sample_latents(2, args.seed))]
    fig, axes = plt.subplots(len(rows), args.steps, figsize=(1.6 * args.steps, 1.85 * len(rows)))
    for row, (name, a, b) in enumerate(rows):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        z = ((1 - t) * a + t * b) / np.sqrt((1 - t) ** 2 + t**2)
        levels = generator.from_latents(z.astype(np.float32), args.mode)
        values = attributes(np.stack([level.grid for level in levels]), generator.info.start, generator.info.exit)
        for col, (level, value) in enumerate(zip(levels, values)):
            ax = axes[row, col]
            ax.imshow(render(level.grid, level.start, level.exit, 4), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"path {value[0]}  dead {value[2]}", fontsize=7)
            if row == 0:
                ax.set_title(f"t = {t[col, 0]:.2f}", fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle("A latent walk: one level morphing into another (z over code and noise)", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
