"""Make the game's README figures from a real autopilot run: a screenshot of a chase and a short GIF.

    python scripts/game_figures.py --seed 1 --out docs/figures

The same seed gives the same figures: frames are counted in game ticks of play (not loop turns, which depend on
how long a level takes to prepare), and the loop sleeps while a level is prepared so the preparing thread runs.
The GIF shows the chase: the frames of --gif-level from the moment the minotaur wakes.

Headless (SDL dummy driver). The PNG is written with daedalus.maze.draw; the GIF needs Pillow (it comes with the
dev extra through matplotlib) because the maze core's encoder stores pixels uncompressed, too big for a README.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402

from daedalus.files import atomic_write  # noqa: E402
from daedalus.game_demo.app import STEP_MS, App, Options  # noqa: E402
from daedalus.game_demo.render import Renderer  # noqa: E402
from daedalus.maze.draw import save_png  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="level code of the first level (default 7)")
    parser.add_argument("--out", default="docs/figures", help="output folder (default docs/figures)")
    parser.add_argument("--shot-level", type=int, default=3, help="level of the screenshot (default 3)")
    parser.add_argument("--gif-level", type=int, default=2, help="level the GIF shows (default 2)")
    parser.add_argument("--every", type=int, default=4, help="ticks between GIF frames (default 4)")
    parser.add_argument("--no-model", action="store_true", help="backtracker levels")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    app = App(Options(autopilot=True, seed=args.seed, headless=True, use_model=not args.no_model))
    app.open()
    app.renderer = Renderer(antialias=False)  # a GIF holds 256 colours: no antialiased text
    frames: list[np.ndarray] = []
    shot = None
    tick = 0
    try:
        while shot is None or not frames_done(app, args):
            app.handle_events()
            app.update(STEP_MS)
            scene = app.scene
            if type(scene).__name__ == "GameOver":
                raise SystemExit(f"the autopilot was caught on level {scene.persist['run'].level} before both "
                                 "figures were taken; try another --seed")
            if type(scene).__name__ != "Play" or scene.world is None or scene.phase != "playing":
                time.sleep(0.002)  # a level is being prepared on a background thread: let it run
                continue
            world, level = scene.world, scene.run.level
            playing = True
            tick += 1
            if level == args.gif_level and world.awake and tick % args.every == 0:
                app.draw()
                frames.append(app.frame_rgb()[::2, ::2].copy())
            # The screenshot: a close chase (the minotaur within a few tiles) from the chosen level on.
            if shot is None and playing and level >= args.shot_level and world.awake and 3 < world.gap() < 8:
                app.renderer = Renderer(antialias=True)
                app.draw()
                shot = app.frame_rgb()
                app.renderer = Renderer(antialias=False)
    finally:
        app.close()
    save_png(shot, out / "game.png")
    print(f"wrote {out / 'game.png'}")
    from PIL import Image

    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for f in frames]
    import io

    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=1000 * args.every // 60,
                   loop=0, optimize=True)
    atomic_write(out / "game.gif", buffer.getvalue())
    print(f"wrote {out / 'game.gif'}: {len(frames)} frames, {len(buffer.getvalue()) / 1024:.0f} KiB")


def frames_done(app: App, args) -> bool:
    scene = app.scene
    return type(scene).__name__ == "Play" and scene.run.level > args.gif_level


if __name__ == "__main__":
    main()
