"""Figures of a many-style decoder (README "Styles"):

- ``styles-sheet.png``: eight levels per style from the shipped decoder (``generate --style``), one row per style;
- ``styles-latent.png``: the training levels' codes (the encoder's means, PCA to 2-D) coloured by style, with each
  style's sampling Gaussian mean from the ONNX metadata (the seed's latent scatter, for styles);
- ``styles-blend.png``: ``interpolate`` from one style to another, the walk's noise shared by every step.

Without the run folder (``--run`` missing) the latent scatter is skipped and the other two are drawn.

    python scripts/style_figures.py --run runs/default-model --out docs/figures
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/default-model", help="the training run of the model (its encoder)")
    parser.add_argument("--model", help="the ONNX decoder (default: the shipped one)")
    parser.add_argument("--out", default="docs/figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from daedalus.files import atomic_write
    from daedalus.maze.draw import render
    from daedalus.runtime import MazeGenerator
    from daedalus.trainer.checkpoint import load_model
    from daedalus.trainer.data import load_dataset

    out = Path(args.out)
    generator = MazeGenerator.load(args.model)
    styles = generator.styles
    if not styles:
        raise SystemExit("the model has one style: nothing to draw per style")

    def save(fig, name: str) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        atomic_write(out / name, buffer.getvalue())
        print(f"wrote {out / name}")

    per_row = 8
    fig, axes = plt.subplots(len(styles), per_row, figsize=(per_row * 1.3, len(styles) * 1.4))
    for row, style in enumerate(styles):
        mode = "braid" if "braid" in style else "perfect"
        for col, level in enumerate(generator.generate(per_row, seed=args.seed, mode=mode, style=style)):
            ax = axes[row, col]
            ax.imshow(render(level.grid, level.start, level.exit, scale=1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(style, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("the shipped decoder, generate --style NAME (braid mode for the braided style)", fontsize=10)
    save(fig, "styles-sheet.png")

    if not Path(args.run, "config.json").exists():  # the sheet and the blend need the decoder only
        print(f"no run folder {args.run}: styles-latent.png (the training codes) is left as it is")
    else:
        model, config = load_model(args.run)
        data = load_dataset(config["data"])
        with torch.no_grad():
            codes = np.concatenate([model.encode(torch.from_numpy(chunk))[0].numpy()
                                    for chunk in np.array_split(data.train, max(1, len(data.train) // 1024))])
        mean = codes.mean(axis=0)
        _, _, axes2 = np.linalg.svd(codes - mean, full_matrices=False)
        flat = (codes - mean) @ axes2[:2].T
        names = config["data"]["styles"]
        fig, ax = plt.subplots(figsize=(6.5, 5))
        for index, name in enumerate(names):
            pick = data.train_labels == index
            ax.scatter(flat[pick, 0], flat[pick, 1], s=3, alpha=0.5, label=name, color=plt.cm.tab10(index))
            centre = (generator.info.style(name).mean - mean) @ axes2[:2].T
            ax.scatter(*centre, marker="X", s=90, color=plt.cm.tab10(index), edgecolor="black")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title("codes of the training levels by style (X: the style's sampling mean)", fontsize=10)
        ax.legend(markerscale=4, fontsize=8, loc="best")
        save(fig, "styles-latent.png")

    ends = (styles[0], styles[-1])
    steps = generator.interpolate(*ends, steps=8, seed=args.seed)
    fig, axes = plt.subplots(1, len(steps), figsize=(len(steps) * 1.3, 1.6))
    for ax, level in zip(axes, steps):
        ax.imshow(render(level.grid, level.start, level.exit, scale=1), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"interpolate({ends[0]!r}, {ends[1]!r}, steps=8)", fontsize=10)
    save(fig, "styles-blend.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
