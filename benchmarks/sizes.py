"""Runtime speed against the level size: cells per second of ``MazeGenerator.generate(256)`` for decoders of the
default architecture (raster, latent 32, hidden 512 × 512, 8 context tables) at several sizes, side by side.

Speed does not depend on what the weights learned, so each decoder is trained briefly (one epoch of 64 mazes) and
exported in a temporary folder; the shipped default model (28 × 28) runs beside them as a check. Contenders run in
short time slices, interleaved round by round, so load from other processes on a shared machine falls on all of
them alike. Cells per level = (H / 2) · (W / 2). Prints a Markdown table.

    python benchmarks/sizes.py [--sizes 28 48 64 40x24] [--batch 256] [--seconds 2] [--rounds 5] [--mode perfect]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def briefly_trained(size: str, folder: Path) -> Path:
    """A default-architecture raster decoder of ``size``, one epoch of 64 mazes, exported to ONNX."""
    import torch

    from daedalus.export import export_decoder
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.train import train

    torch.set_num_threads(1)
    run = folder / f"run-{size}"
    # The raster preset as the one configuration draws it (its window network included); model "auto" could keep
    # the carve walk on these backtracker mazes.
    train(resolve_config({"model": "raster", "size": size, "count": 64, "holdout": 8, "epochs": 1, "cycles": 1,
                          "eval_samples": 0, "figures": False}), run, progress=False)
    out = folder / f"raster-{size}.onnx"
    export_decoder(run, out, quality_samples=16)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["28", "48", "64", "40x24"], help="sizes N or HxW")
    parser.add_argument("--batch", type=int, default=256, help="levels per generate call")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per contender per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"))
    args = parser.parse_args()

    from daedalus.runtime import MazeGenerator
    from daedalus.runtime.session import DEFAULT_MODEL

    with tempfile.TemporaryDirectory() as tmp:
        models = {f"raster {size if 'x' in size else f'{size}x{size}'}, briefly trained":
                  briefly_trained(size, Path(tmp)) for size in args.sizes}
        if DEFAULT_MODEL.is_file():
            models["shipped default.onnx (28x28, many-style raster)"] = DEFAULT_MODEL
        generators = {name: MazeGenerator.load(path, device="cpu", threads=args.threads)
                      for name, path in models.items()}
        done = {name: [0, 0.0] for name in generators}
        seed = 0
        for name, generator in generators.items():  # warm up
            generator.generate(args.batch, seed=seed, mode=args.mode)
        for _ in range(args.rounds):
            for name, generator in generators.items():
                start = time.perf_counter()
                while time.perf_counter() - start < args.seconds:
                    seed += 1
                    generator.generate(args.batch, seed=seed, mode=args.mode)
                    done[name][0] += args.batch
                done[name][1] += time.perf_counter() - start
    print(f"generate({args.batch}, mode={args.mode!r}), onnxruntime CPU, {args.threads} thread(s), {args.rounds} "
          f"interleaved rounds of {args.seconds:g} s\n")
    print("| decoder | levels / s | cells / level | cells / s | cells / s vs the 28x28 raster |")
    print("|---|---|---|---|---|")
    rates = {}
    for name, generator in generators.items():
        height, width = generator.shape
        cells = (height // 2) * (width // 2)
        levels = done[name][0] / done[name][1]
        rates[name] = (levels, cells, levels * cells)
    base = next((rate for name, rate in rates.items() if name.startswith("raster 28x28")), None)
    for name, (levels, cells, per_s) in rates.items():
        ratio = f"{per_s / base[2]:.2f}" if base else "—"
        print(f"| {name} | {levels:,.0f} | {cells} | {per_s:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
