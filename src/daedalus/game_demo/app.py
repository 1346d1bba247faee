"""The game's window and its fixed-timestep loop.

``lag += clock.tick(); while lag >= STEP: update()``, then one draw with ``alpha = lag / STEP``: the rules always
advance in whole ticks at ``TICKS_PER_SECOND`` whatever the frame rate, and only drawing interpolates. ``fast``
mode (tests, recordings) feeds a fixed number of ticks per frame without waiting, so a run is quick and the same
on every machine. Nothing here calls ``pygame.init()`` at import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daedalus.errors import DaedalusError
from daedalus.game_demo.levels import LevelSource
from daedalus.game_demo.rules import TICKS_PER_SECOND, Run

STEP_MS = 1000.0 / TICKS_PER_SECOND
FPS = 120  # frame cap in normal mode: interpolation makes frames beyond the tick rate smooth
FAST_TICKS = 8  # ticks per frame in fast mode
WAIT_SLEEP_S = 0.002  # fast mode: pause per frame while a level is being prepared
MAX_LAG_MS = 250.0  # after a stall, drop time instead of racing to catch up
DEFAULT_WINDOW = (720, 780)


@dataclass
class Options:
    """What ``daedalus play`` was asked for (see ``daedalus play --help``)."""

    autopilot: bool = False
    levels: int | None = None
    seed: int | None = None
    screenshot: Path | None = None
    model: Path | None = None
    mode: str = "braid"
    device: str = "auto"
    fast: bool = False
    headless: bool = False
    window: tuple[int, int] = DEFAULT_WINDOW
    use_model: bool = True


class App:
    """The window, the scenes and the loop.

    Args:
        options: the run's options.
        source: where levels come from (default: a ``LevelSource`` built from the options).
    """

    def __init__(self, options: Options, source: LevelSource | None = None):
        self.options = options
        self.autopilot = options.autopilot
        self.source = source or LevelSource(options.model, options.mode, options.device, use_model=options.use_model)
        self.running = False
        self.levels_cleared = 0
        self.caught = False
        self._layouts: dict = {}
        self.screen = None

    # -- setup and teardown --------------------------------------------------------------------------------------
    def open(self) -> None:
        """Initialise pygame, open the window and enter the first scene."""
        if self.options.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        from daedalus.game_demo.render import Renderer
        from daedalus.game_demo.scenes import SCENES

        self.pg = pygame
        try:
            pygame.display.init()
            pygame.font.init()
            pygame.display.set_caption("Daedalus")
            self.screen = pygame.display.set_mode(self.options.window, pygame.RESIZABLE)
        except pygame.error as error:
            pygame.quit()
            driver = os.environ.get("SDL_VIDEODRIVER", "default")
            raise DaedalusError(f"cannot open a game window with the {driver!r} video driver ({error}); "
                                "run with --headless for no window") from None
        self.renderer = Renderer()
        self.clock = pygame.time.Clock()
        self.scenes = {name: cls(self) for name, cls in SCENES.items()}
        self.scene = self.scenes["title"]
        self.scene.startup({})
        self.lag = 0.0
        self.running = True

    def close(self) -> None:
        self.source.close()
        if self.screen is not None:
            self.pg.quit()
            self.screen = None

    def stop(self) -> None:
        """End the loop after the current frame is drawn (the screenshot is that frame)."""
        self.running = False

    # -- what scenes report --------------------------------------------------------------------------------------
    def level_done(self, run: Run) -> None:
        self.levels_cleared = run.cleared
        if self.options.levels and self.autopilot and run.cleared >= self.options.levels:
            self.stop()

    def run_over(self, run: Run) -> None:
        self.caught = True
        if self.options.levels and self.autopilot:
            self.stop()

    def layout(self, shape: tuple[int, int]):
        from daedalus.game_demo.render import Layout

        key = (self.screen.get_size(), tuple(shape))
        if key not in self._layouts:
            self._layouts = {key: Layout.fit(*key)}
        return self._layouts[key]

    # -- the loop ------------------------------------------------------------------------------------------------
    def handle_events(self) -> None:
        pg = self.pg
        for event in pg.event.get():
            if event.type == pg.QUIT:
                self.stop()
            elif event.type == pg.KEYDOWN and event.key == pg.K_q:
                self.stop()
            else:
                self.scene.get_event(event)

    def update(self, elapsed_ms: float) -> int:
        """Add ``elapsed_ms`` to the lag and run the whole ticks it pays for; returns how many ran."""
        self.lag = min(self.lag + elapsed_ms, MAX_LAG_MS)
        ticks = 0
        while self.lag >= STEP_MS:
            self.scene.update()
            self.lag -= STEP_MS
            ticks += 1
            if self.scene.done:
                self._switch()
        return ticks

    def _switch(self) -> None:
        persist = self.scene.cleanup()
        self.scene = self.scenes[self.scene.next]
        self.scene.startup(persist)

    def draw(self) -> None:
        self.scene.draw(self.screen, self.lag / STEP_MS)

    def frame(self) -> None:
        """One frame: events, fixed ticks, draw, flip."""
        self.handle_events()
        if self.options.fast:
            if self.scene.waiting_for_level:
                # Unthrottled frames would hold the GIL almost all the time, and the thread preparing the level
                # (scipy, which drops and retakes the GIL often) would then wait up to 5 ms for each retake:
                # seconds to minutes for one level. Sleeping lets it run.
                time.sleep(WAIT_SLEEP_S)
            self.clock.tick()
            elapsed = FAST_TICKS * STEP_MS
        else:
            elapsed = self.clock.tick(FPS)
        self.update(elapsed)
        self.draw()
        self.pg.display.flip()

    def run(self) -> int:
        """Play until the window closes, the player quits or the autopilot is done; returns the exit code."""
        self.open()
        try:
            while self.running:
                self.frame()
            if self.options.screenshot:
                self.save_screenshot(self.options.screenshot)
        finally:
            self.close()
        return 0

    def frame_rgb(self) -> np.ndarray:
        """The last drawn frame as an ``(H, W, 3)`` uint8 array."""
        return np.ascontiguousarray(self.pg.surfarray.array3d(self.screen).transpose(1, 0, 2))

    def save_screenshot(self, path: str | os.PathLike) -> None:
        from daedalus.maze.draw import save_png

        save_png(self.frame_rgb(), path)
