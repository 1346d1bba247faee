"""Two builds of the compiled raster walk side by side: src/daedalus/maze/_raster_walk.c as a git revision has it
and as the working tree has it, each compiled with setup.py's flags, timed on the shipped decoder's outputs in the
same run (interleaved slices, so load from other processes falls on both alike). Both must draw the same levels.

    python benchmarks/walk_builds.py [--against 5ed952b~1] [--count 1024] [--seconds 1] [--rounds 7]

Prints CPU µs per level (median over rounds, the thread's CPU time) for the walk with and without the decoder's
window network, perfect and braid, and the ratio of the two builds. With --count 1 each call walks another level
from a cold cache (8 MB are read between calls, untimed), as the runtime's one-level path meets it after a decode.
Needs a C compiler (cc).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from daedalus.maze.raster_walk import context_groups

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "src/daedalus/maze/_raster_walk.c"


def build(source_text: str, folder: Path):
    """The module compiled from source_text in folder, loaded under its own name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_raster_walk.c").write_text(source_text)
    library = folder / "_raster_walk.so"
    subprocess.run(["cc", "-O3", "-ffp-contract=off", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}",
                    str(folder / "_raster_walk.c"), "-o", str(library)], check=True)
    spec = importlib.util.spec_from_file_location("_raster_walk", library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decoder_outputs(count: int):
    """The default decoder's walk inputs for count levels (its window's tables as the runtime keeps them)."""
    from daedalus.maze.raster_walk import _check_window
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load()
    outputs = generator._run(generator.sample_latents(count, 7))
    window = _check_window(generator._decoding._window(*outputs[4:]), count) if len(outputs) > 4 else None
    cells, mix, basis = (np.ascontiguousarray(a, dtype=np.float32) for a in outputs[:3])
    uniforms = np.ascontiguousarray(outputs[3], dtype=np.float64)
    return cells, mix, basis, uniforms, window, generator._decoding.loop_bonus


def walk(module, inputs, loops: bool, with_window: bool, level: int | None = None) -> np.ndarray:
    """The levels walked by module, or only the one numbered level."""
    cells, mix, basis, uniforms, window, bonus = inputs
    if level is not None:
        one = slice(level, level + 1)
        cells, mix, uniforms = cells[one], mix[one], uniforms[one]
        if window is not None:
            window = window._replace(bias=window.bias[one])
    count, rows, cols = cells.shape[:3]
    out = np.empty((count, 2 * rows, 2 * cols), dtype=np.uint8)
    bias, weights, hidden, tables = window if (with_window and window is not None) else (b"", b"", (), b"")
    bad = module.walk(cells, mix, basis, uniforms, out, count, rows, cols, mix.shape[1], context_groups(basis), loops,
                      bonus if loops else 0.0, False, bias, weights, tuple(hidden), tables)
    assert bad < 0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="the git revision to compare the working tree with")
    parser.add_argument("--count", type=int, default=1024, help="levels a call (1: one level at a time)")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per build and case per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    base = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.against}:{SOURCE}"], check=True,
                          capture_output=True, text=True).stdout
    folder = Path(tempfile.mkdtemp())
    builds = {args.against: build(base, folder / "base"), "working tree": build((ROOT / SOURCE).read_text(),
                                                                                 folder / "work")}
    cold = args.count == 1
    inputs = decoder_outputs(256 if cold else args.count)
    sweep = np.zeros(8 << 20, dtype=np.uint8) if cold else None  # read between one-level calls: a cold cache
    cases = [(loops, win) for win in (True, False) for loops in (False, True) if win or inputs[4] is not None]
    for loops, win in cases:
        first, *rest = (walk(module, inputs, loops, win) for module in builds.values())
        for other in rest:
            np.testing.assert_array_equal(first, other)
    times = {(name, case): [] for name in builds for case in cases}
    for _ in range(args.rounds):
        for case in cases:
            for name, module in builds.items():
                calls, spent, start = 0, 0.0, time.thread_time()
                while time.thread_time() - start < args.seconds:
                    if cold:
                        sweep[::64] += 1
                        before = time.thread_time()
                        walk(module, inputs, *case, level=calls % 256)
                        spent += time.thread_time() - before
                    else:
                        walk(module, inputs, *case)
                    calls += 1
                spent = spent if cold else time.thread_time() - start
                times[(name, case)].append(spent / (calls * args.count) * 1e6)
    names = list(builds)
    what = "one level a call, cold cache" if cold else f"{args.count} levels a call"
    print(f"compiled raster walk on the shipped decoder's outputs, {what}, median of {args.rounds} rounds; "
          f"Python {sys.version.split()[0]}")
    print(f"| walk | {names[0]} CPU µs/level | {names[1]} CPU µs/level | speed-up |")
    print("|---|---:|---:|---:|")
    for case in cases:
        a, b = (float(np.median(times[(name, case)])) for name in names)
        label = ("braid" if case[0] else "perfect") + (", window network" if case[1] else ", no window network")
        print(f"| {label} | {a:.1f} | {b:.1f} | {a / b:.2f}× |")


if __name__ == "__main__":
    main()
