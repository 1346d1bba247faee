"""Runtime speed: Daedalus levels (sample → decode → clip → repair) against the seed's recursive backtracker and
mazelib's BacktrackingGenerator, measured side by side in one run.

    python benchmarks/runtime.py [--model PATH] [--seconds 2] [--rounds 5] [--threads 1]

Each contender runs in short time slices, interleaved round by round, so load from other processes on a shared
machine falls on all of them alike; the table shows rates and ratios. Needs mazelib for its column
(``pip install mazelib==0.9.16``, benchmark only) and, without --model and without a shipped default model, the
``onnx`` package (dev extra) to build the test decoder from tests/onnx_models.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def recursive_backtracker(rows: int, cols: int, rng: random.Random) -> np.ndarray:
    """The seed's generator: a plain recursive Python backtracker on a (2 rows) x (2 cols) grid, 1 = open."""
    grid = np.zeros((2 * rows, 2 * cols), dtype=np.uint8)
    visited = [[False] * cols for _ in range(rows)]

    def carve(r: int, c: int) -> None:
        visited[r][c] = True
        grid[2 * r, 2 * c] = 1
        moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]
        rng.shuffle(moves)
        for dr, dc in moves:
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and not visited[nr][nc]:
                grid[2 * r + dr, 2 * c + dc] = 1
                carve(nr, nc)

    carve(0, 0)
    return grid


def load_generator(model: str | None, threads: int):
    from daedalus.runtime import MazeGenerator
    from daedalus.runtime.session import DEFAULT_MODEL

    if model is None and not DEFAULT_MODEL.is_file():
        sys.path.insert(0, str(ROOT / "tests"))
        import tempfile

        import onnx_models

        model = onnx_models.decoder(Path(tempfile.mkdtemp()) / "pca-decoder.onnx", latent_dim=8)
        print(f"(no default model shipped: using the test PCA decoder {model})")
    return MazeGenerator.load(model, device="cpu", threads=threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="decoder .onnx (default: the shipped model, else the test decoder)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per contender per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--mode", default="perfect", choices=("perfect", "braid"))
    args = parser.parse_args()

    generator = load_generator(args.model, args.threads)
    height, width = generator.shape
    rows, cols = height // 2, width // 2
    try:
        from mazelib.generate.BacktrackingGenerator import BacktrackingGenerator

        try:
            from cython import compiled as mazelib_compiled
        except ImportError:
            mazelib_compiled = False
        mazelib_gen = BacktrackingGenerator(rows, cols)
    except ImportError:
        mazelib_gen, mazelib_compiled = None, False
        print("(mazelib not installed: pip install mazelib==0.9.16 for its column)")

    py_rng = random.Random(0)
    seed = [0]

    def daedalus(batch: int):
        def run():
            seed[0] += 1
            generator.generate(batch, seed=seed[0], mode=args.mode)
            return batch
        return run

    def one_backtracker():
        recursive_backtracker(rows, cols, py_rng)
        return 1

    def one_mazelib():
        mazelib_gen.generate()
        return 1

    contenders = {
        "daedalus batch 1": daedalus(1),
        "daedalus batch 1024": daedalus(1024),
        "recursive backtracker (seed)": one_backtracker,
        "mazelib BacktrackingGenerator": one_mazelib,
    }
    if mazelib_gen is None:
        del contenders["mazelib BacktrackingGenerator"]
    for run in contenders.values():  # warm up caches and onnxruntime
        run()

    # Wall time is what a game sees; CPU time (this process only) is what the work costs when the machine is shared,
    # so both are reported.
    totals = {name: [0, 0.0, 0.0] for name in contenders}
    latencies = {name: [] for name in contenders if not name.endswith("1024")}
    cpu_latencies = {name: [] for name in latencies}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            end = time.perf_counter() + args.seconds
            while True:
                start, cpu_start = time.perf_counter(), time.process_time()
                made = run()
                now, cpu_now = time.perf_counter(), time.process_time()
                totals[name][0] += made
                totals[name][1] += now - start
                totals[name][2] += cpu_now - cpu_start
                if name in latencies:
                    latencies[name].append(now - start)
                    cpu_latencies[name].append(cpu_now - cpu_start)
                if now >= end:
                    break

    # Where the time goes at batch 1024 (one chunk), in CPU time of this process: sample, onnxruntime, and the
    # model's decoding (clip + repair for a threshold decoder, the walk for a walk decoder). The two pipeline stages
    # are the generator's own (private) steps, so the split is the pipeline's whatever the decoder kind.
    making = f"{generator.info.decoding} decoding (walk or clip + repair)"
    stage = {"sample": 0.0, "onnxruntime": 0.0, making: 0.0}
    reps = max(10, args.rounds)
    for i in range(reps):
        t0 = time.process_time()
        z = generator.sample_latents(1024, i)
        t1 = time.process_time()
        outputs = generator._run(z)
        t2 = time.process_time()
        generator._decoding.levels(outputs, args.mode)
        t3 = time.process_time()
        stage["sample"] += t1 - t0
        stage["onnxruntime"] += t2 - t1
        stage[making] += t3 - t2

    rate = {name: made / spent for name, (made, spent, _) in totals.items()}
    cpu_rate = {name: made / max(cpu, 1e-9) for name, (made, _, cpu) in totals.items()}
    mazelib_rate = rate.get("mazelib BacktrackingGenerator")
    mazelib_cpu = cpu_rate.get("mazelib BacktrackingGenerator")
    print(f"\n{height}x{width} levels, mode {args.mode}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, onnxruntime threads {args.threads}, provider {generator.provider}; "
          f"mazelib Cython-compiled: {bool(mazelib_compiled)}; load average {os.getloadavg()[0]:.1f}")
    print("| contender | levels/s (wall) | levels/CPU-s | p50 / p99 latency, wall (ms) | p50 / p99 latency, CPU (ms) "
          "| vs mazelib (wall / CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in contenders:
        lat, cpu_lat = latencies.get(name), cpu_latencies.get(name)
        wall = f"{np.percentile(lat, 50) * 1e3:.3f} / {np.percentile(lat, 99) * 1e3:.3f}" if lat else "–"
        cpu = f"{np.percentile(cpu_lat, 50) * 1e3:.3f} / {np.percentile(cpu_lat, 99) * 1e3:.3f}" if lat else "–"
        ratio = f"{rate[name] / mazelib_rate:.1f}× / {cpu_rate[name] / mazelib_cpu:.1f}×" if mazelib_rate else "–"
        print(f"| {name} | {rate[name]:,.0f} | {cpu_rate[name]:,.0f} | {wall} | {cpu} | {ratio} |")
    total = sum(stage.values())
    print("\nbatch 1024, CPU time per level by stage:")
    print("| stage | CPU µs/level | share |")
    print("|---|---:|---:|")
    for name, spent in stage.items():
        print(f"| {name} | {spent / reps / 1024 * 1e6:.1f} | {spent / total:.0%} |")


if __name__ == "__main__":
    main()
