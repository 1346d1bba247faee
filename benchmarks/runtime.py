"""Runtime speed: Daedalus levels (sample → decode → walk or repair) against the seed's recursive backtracker,
mazelib's BacktrackingGenerator and a compiled C backtracker (the floor for "no learning"), side by side in one run.

    python benchmarks/runtime.py [--model PATH] [--seconds 2] [--rounds 5] [--threads 1] [--critic PATH]

With --critic (a critic file for the model, ``daedalus critic``) it adds resampled rows: batch 1024 with
``generate(..., resample=K)`` for K = 4 and 16 (each level the critic's choice of K candidate walks).

Besides the contenders' table it prints where the time goes at batch 1024 with each stage's limit: the decoder's
FLOPs (counted from the graph's Gemm/MatMul weights) at the float32 matmul rate numpy reaches in the same run, and
the compiled walk itself.

Each contender runs in short time slices, interleaved round by round, so load from other processes on a shared
machine falls on all of them alike; the table shows rates and ratios. Needs mazelib for its column
(``pip install mazelib==0.9.16``, benchmark only) and, without --model and without a shipped default model, the
``onnx`` package (dev extra) to build the test decoder from tests/onnx_models.py.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import random
import subprocess
import sys
import tempfile
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


def c_backtracker():
    """``mazes(count, rows, cols, seed, out)`` from benchmarks/c_backtracker.c built with the system compiler, or
    None when there is none."""
    library = Path(tempfile.mkdtemp()) / "c_backtracker.so"
    try:
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", str(ROOT / "benchmarks" / "c_backtracker.c"), "-o",
                        str(library)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    mazes = ctypes.CDLL(str(library)).mazes
    mazes.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p]
    return mazes


def decoder_flops(path) -> float | None:
    """FLOPs per level of the graph's matrix products (2 · in · out per Gemm/MatMul weight), or None without onnx."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    model = onnx.load(str(path))
    weights = {t.name: numpy_helper.to_array(t).shape for t in model.graph.initializer}
    flops = 0.0
    for node in model.graph.node:
        if node.op_type in ("Gemm", "MatMul"):
            for name in node.input[1:2]:
                if name in weights and len(weights[name]) == 2:
                    flops += 2.0 * weights[name][0] * weights[name][1]
    return flops


def matmul_rate(seconds: float = 0.5) -> float:
    """float32 FLOP/s of a (1024 x 512) @ (512 x 512) product in numpy, the decoder's shape at batch 1024."""
    rng = np.random.default_rng(0)
    a, b = rng.random((1024, 512), dtype=np.float32), rng.random((512, 512), dtype=np.float32)
    a @ b
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        a @ b
        done += 1
    return done * 2.0 * 1024 * 512 * 512 / (time.process_time() - start)


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
    parser.add_argument("--critic", help="a critic file for the model: adds resample 4 and 16 rows")
    args = parser.parse_args()

    generator = load_generator(args.model, args.threads)
    if args.critic:
        from daedalus.runtime import MazeGenerator

        generator = MazeGenerator.load(generator.path, device="cpu", threads=args.threads, critic=args.critic)
        args.mode = generator.critic.mode
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
    compiled = c_backtracker()
    floor_out = np.empty((1024, height, width), dtype=np.uint8)

    def daedalus(batch: int, mode: str, resample: int = 1):
        def run():
            seed[0] += 1
            style = generator.critic.style if resample > 1 else None  # a style's critic resamples that style
            generator.generate(batch, seed=seed[0], mode=mode, resample=resample, style=style)
            return batch
        return run

    fixed_z = generator.sample_latents(1024, 12345)

    def from_latents():
        generator.from_latents(fixed_z, mode=args.mode)
        return len(fixed_z)

    def interpolate():
        seed[0] += 1
        a, b = generator.sample_latents(2, seed[0])
        return len(generator.interpolate(a, b, steps=256, mode=args.mode))

    def one_backtracker():
        recursive_backtracker(rows, cols, py_rng)
        return 1

    def one_mazelib():
        mazelib_gen.generate()
        return 1

    def compiled_batch(count: int):
        def run():
            seed[0] += 1
            compiled(count, rows, cols, seed[0], floor_out.ctypes.data)
            return count
        return run

    other = "braid" if args.mode == "perfect" else "perfect"
    contenders = {
        "daedalus batch 1": daedalus(1, args.mode),
        "daedalus batch 1024": daedalus(1024, args.mode),
        f"daedalus batch 1024, {other}": daedalus(1024, other),
        "daedalus from_latents (1024)": from_latents,
        "daedalus interpolate (256 steps)": interpolate,
        "C backtracker, 1 maze (floor)": compiled_batch(1),
        "C backtracker, 1024 mazes (floor)": compiled_batch(1024),
        "recursive backtracker (seed)": one_backtracker,
        "mazelib BacktrackingGenerator": one_mazelib,
    }
    if args.critic:
        for k in (4, 16):
            contenders[f"daedalus batch 1024, resample {k}"] = daedalus(1024, args.mode, k)
    if mazelib_gen is None:
        del contenders["mazelib BacktrackingGenerator"]
    if compiled is None:
        print("(no C compiler: the C backtracker's rows are left out)")
        contenders = {name: run for name, run in contenders.items() if not name.startswith("C backtracker")}
    for run in contenders.values():  # warm up caches and onnxruntime
        run()

    # Wall time is what a game sees; CPU time (this process only) is what the work costs when the machine is shared,
    # so both are reported. Latencies are per call, for the contenders that make one level a call.
    single = {"daedalus batch 1", "C backtracker, 1 maze (floor)", "recursive backtracker (seed)",
              "mazelib BacktrackingGenerator"}
    totals = {name: [0, 0.0, 0.0] for name in contenders}
    latencies = {name: [] for name in contenders if name in single}
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
    flops = decoder_flops(generator.path)
    rate_flops = matmul_rate()

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
    per_level = {name: spent / reps / 1024 * 1e6 for name, spent in stage.items()}
    limit = {"sample": None, "onnxruntime": flops / rate_flops * 1e6 if flops else None,
             making: per_level[making]}
    print(f"\nbatch 1024, CPU time per level by stage (decoder {flops / 1e6 if flops else float('nan'):.2f} "
          f"MFLOP/level, numpy float32 matmul {rate_flops / 1e9:.1f} GFLOP/s on one thread):")
    print("| stage | CPU µs/level | share | limit µs/level |")
    print("|---|---:|---:|---:|")
    for name, spent in per_level.items():
        bound = f"{limit[name]:.1f}" if limit[name] is not None else "–"
        print(f"| {name} | {spent:.1f} | {stage[name] / total:.0%} | {bound} |")
    known = [v for v in limit.values() if v is not None]
    if len(known) == 2:
        cpu_per_level = 1e6 / cpu_rate["daedalus batch 1024"]
        print(f"\nlimit (decoder FLOPs at the matmul rate + the compiled walk): {sum(known):.1f} µs/level; "
              f"generate at batch 1024 costs {cpu_per_level:.1f} CPU-µs/level = {cpu_per_level / sum(known):.2f}× "
              "the limit")


if __name__ == "__main__":
    main()
