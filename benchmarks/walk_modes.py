"""What the raster walk's modes cost: the compiled walk on the shipped decoder's outputs at batch 1024, perfect and
braid, with and without closed cells (docs/formats.md "Raster decoders", step 3), and with window networks of
several widths (step 4; random weights of a trained network's scale: the cost depends on the widths only), and in
other walk orders (step 7: the walk, then the level turned back), side by side in one run.

    python benchmarks/walk_modes.py [--seconds 1] [--rounds 5] [--windows 32 64 128 32,32] [--orders flip_rows rot90]

Each mode runs in short slices, interleaved round by round, so load from other processes falls on all alike; the
table shows the median rate of each and its ratio to the plain perfect walk.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from daedalus.maze.raster_walk import Window, raster_walk, window_layers, window_tables, window_weight_count
from daedalus.maze.symmetry import INVERSES, transform
from daedalus.runtime import MazeGenerator

MODES = {"perfect": (False, False), "braid": (True, False), "perfect, closed cells": (False, True),
         "braid, closed cells": (True, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per mode per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--windows", nargs="*", default=["32", "64", "128", "32,32"],
                        help="window networks' hidden widths to time in perfect mode (like 64 or 32,32)")
    parser.add_argument("--orders", nargs="*", default=["flip_rows", "rot90"],
                        help="walk orders to time in perfect mode (the walk, then turning the levels back)")
    args = parser.parse_args()
    generator = MazeGenerator.load(device="cpu")
    # The decoder's outputs for one batch (MazeGenerator._run: onnxruntime alone, checked), walked again and again.
    outputs = generator._run(generator.sample_latents(args.batch, rng=0))
    # Its scores without its own window network (if any): the window rows add one of chosen widths.
    cell_logits, context_mix, context_basis, uniforms = outputs[:4]
    uniforms = np.asarray(uniforms, dtype=np.float64)
    rng = np.random.default_rng(0)
    modes = {name: (loops, closed, None, "identity") for name, (loops, closed) in MODES.items()}
    for text in args.windows:
        hidden = tuple(int(w) for w in text.split(","))
        weights = (0.3 * rng.standard_normal(window_weight_count(hidden))).astype(np.float32)
        bias = (0.5 * rng.standard_normal((args.batch, hidden[0]))).astype(np.float32)
        # The tables are made once per decoder (the runtime keeps them), so they are made here outside the timing.
        window = Window(bias, weights, hidden, window_tables(window_layers(weights, hidden)[0][0]))
        modes[f"perfect, window {text}"] = (False, False, window, "identity")
    for order in args.orders:
        modes[f"perfect, walk order {order}"] = (False, False, None, order)
    rates = {name: [] for name in modes}
    for _ in range(args.rounds):
        for name, (loops, closed, window, order) in modes.items():
            done, started = 0, time.process_time()
            while time.process_time() - started < args.seconds:
                grids = raster_walk(cell_logits, context_mix, context_basis, uniforms, loops=loops, closed_cells=closed,
                                    window=window)
                if order != "identity":
                    transform(grids, INVERSES[order])
                done += args.batch
            rates[name].append(done / (time.process_time() - started))
    base = float(np.median(rates["perfect"]))
    print(f"| walk mode (batch {args.batch}) | levels/CPU-s | µs per level | vs perfect |")
    print("|---|---:|---:|---:|")
    for name in modes:
        rate = float(np.median(rates[name]))
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.1f} | {rate / base:.2f}× |")


if __name__ == "__main__":
    main()
