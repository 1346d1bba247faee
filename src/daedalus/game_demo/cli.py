"""``daedalus play``: the pygame game (needs the ``game`` extra)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from daedalus.errors import UsageError
from daedalus.maze.cli import check_output, positive_int, seed_int


def parse_window(text: str) -> tuple[int, int]:
    """``"720x780"`` → (720, 780)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, got {text!r}") from None
    if width < 160 or height < 160:
        raise argparse.ArgumentTypeError(f"window must be at least 160x160, got {text!r}")
    return width, height


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "play",
        help="play the maze chase (needs the game extra)",
        description="Run for the exit while the minotaur chases you. Levels come from the shipped ONNX model "
        "(braid mode: loops are how you escape); if it cannot be loaded, the game says so and plays backtracker "
        "levels. Arrows/WASD move, P pauses, Tab toggles the autopilot, Esc goes back, Q quits.",
    )
    parser.add_argument("--seed", type=seed_int, help="level code to start from (shown in the HUD)")
    parser.add_argument("--autopilot", action="store_true", help="a bot plays (attract mode; used by tests)")
    parser.add_argument("--levels", type=positive_int,
                        help="with --autopilot: exit (code 0) after N levels or when caught")
    parser.add_argument("--screenshot", help="save the last frame to this PNG file on exit")
    parser.add_argument("--model", help="ONNX decoder to use (default: the shipped model)")
    parser.add_argument("--mode", choices=("braid", "perfect"), default="braid",
                        help="level repair mode (default braid: keeps loops)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the model runs (default auto)")
    parser.add_argument("--no-model", action="store_true", help="skip the model: backtracker levels only")
    parser.add_argument("--fast", action="store_true",
                        help="unthrottled: a fixed number of ticks per frame, no waiting (tests, recordings)")
    parser.add_argument("--headless", action="store_true", help="no window (SDL dummy video driver)")
    parser.add_argument("--window", type=parse_window, default=None, help="initial window size WIDTHxHEIGHT")
    parser.set_defaults(func=run_play)


def run_play(args: argparse.Namespace) -> int:
    if args.levels is not None and not args.autopilot:
        raise UsageError("--levels works with --autopilot only (a person plays until caught)")
    screenshot = check_output(args.screenshot, "--screenshot", (".png",)) if args.screenshot else None
    model = Path(args.model) if args.model else None
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame  # noqa: F401  (checked here so the error names the extra)
    except ImportError:
        raise UsageError("daedalus play needs pygame: pip install 'daedalus[game]'") from None
    from daedalus.game_demo.app import DEFAULT_WINDOW, App, Options

    options = Options(
        autopilot=args.autopilot, levels=args.levels, seed=args.seed, screenshot=screenshot, model=model,
        mode=args.mode, device=args.device, fast=args.fast,
        headless=args.headless, window=args.window or DEFAULT_WINDOW, use_model=not args.no_model,
    )
    app = App(options)
    code = app.run()
    if app.source.message:
        print(f"daedalus play: note: {app.source.message}")
    if args.autopilot and args.levels:
        outcome = "caught" if app.caught else "done"
        print(f"autopilot: {app.levels_cleared} level(s) cleared, {outcome}"
              + (f"; screenshot {screenshot}" if screenshot else ""))
    if not app.source.idle():
        # A level still being prepared (a targeted level's search, a model's range estimate) is inside onnxruntime
        # or the compiled walk on a daemon thread; the interpreter's shutdown would abort the process under it
        # ("terminate called without an active exception"). Nothing it holds is needed: end the process now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
