"""Time one game frame (the fixed-tick update plus the draw) at the default window size, headless.

The autopilot plays from a fixed level code; every frame advances one tick (60 Hz) and draws, as a 60 Hz display
would. Flip and event handling are left out: they belong to the display driver, not to our code. Wall time is
what the budget is about; the game thread's CPU time is printed too, because on a busy machine the wall-time tail
is the scheduler's (the next level is prepared on a background thread, which also competes for the GIL).

    SDL_VIDEODRIVER=dummy python benchmarks/game_frame.py --frames 3000
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402

from daedalus.game_demo.app import DEFAULT_WINDOW, STEP_MS, App, Options  # noqa: E402

BUDGET_MS = 1000 / 60
TARGET_P99_MS = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000, help="frames to time (default 3000)")
    parser.add_argument("--seed", type=int, default=1, help="level code (default 1)")
    parser.add_argument("--model", help="ONNX model (default: the shipped one, backtracker if it cannot load)")
    parser.add_argument("--no-model", action="store_true", help="backtracker levels")
    args = parser.parse_args()

    app = App(Options(autopilot=True, seed=args.seed, headless=True, model=args.model, use_model=not args.no_model,
                      window=DEFAULT_WINDOW))
    app.open()
    updates, draws, cpu = [], [], []
    try:
        # Warm up: leave the title screen and load the first level (on its background thread).
        while type(app.scene).__name__ != "Play" or app.scene.world is None:
            app.handle_events()
            app.update(STEP_MS)
            app.draw()
            time.sleep(0.001)
        for _ in range(args.frames):
            app.handle_events()
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            app.update(STEP_MS)
            t1 = time.perf_counter_ns()
            app.draw()
            t2 = time.perf_counter_ns()
            cpu.append((time.thread_time_ns() - c0) / 1e6)
            app.pg.display.flip()
            updates.append((t1 - t0) / 1e6)
            draws.append((t2 - t1) / 1e6)
        levels = app.scene.run.level if hasattr(app.scene, "run") else "?"
        source = app.source.description
    finally:
        app.close()

    update, draw = np.array(updates), np.array(draws)
    total = update + draw
    print(f"game frame, {DEFAULT_WINDOW[0]}x{DEFAULT_WINDOW[1]} window, 28x28 maze, {args.frames} frames "
          f"(1 tick each), autopilot from level code {args.seed} (reached level {levels})")
    print(f"levels: {source}")
    print(f"python {platform.python_version()}, {platform.machine()}, SDL dummy video driver")
    print()
    print("| part | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|")
    rows = (("update (1 tick)", update), ("draw", draw), ("update + draw", total),
            ("update + draw, CPU time of the game thread", np.array(cpu)))
    for name, values in rows:
        p50, p99 = np.percentile(values, [50, 99])
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {values.max():.3f} |")
    p99 = np.percentile(total, 99)
    print()
    print(f"budget {BUDGET_MS:.1f} ms/frame: p99 uses {100 * p99 / BUDGET_MS:.0f}%; "
          f"target p99 <= {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'}")


if __name__ == "__main__":
    main()
