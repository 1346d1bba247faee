"""A real pygame run (SDL dummy video driver): frames render, the screenshot is a real picture, scenes work."""

import os
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pygame = pytest.importorskip("pygame")

from daedalus.game_demo import render  # noqa: E402
from daedalus.game_demo.app import App, Options  # noqa: E402
from daedalus.game_demo.levels import LevelSource  # noqa: E402


def colour_count(image: np.ndarray, colour) -> int:
    return int((image == np.array(colour, dtype=np.uint8)).all(axis=-1).sum())


def play_until(app: App, done, seconds: float = 60, pause: float = 0.0) -> None:
    """Play frames until ``done()`` or ``seconds`` pass. Bounded by time, not frames: while a level is prepared on
    the background thread, fast frames come by the thousand without the game moving on."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        app.frame()
        if pause:
            time.sleep(pause)


def run_app(options: Options, source=None, max_seconds: float = 120) -> App:
    app = App(options, source)
    app.open()
    try:
        play_until(app, lambda: not app.running, max_seconds)
        assert not app.running, "the autopilot did not finish in time"
        if options.screenshot:
            app.save_screenshot(options.screenshot)
        app.last = app.frame_rgb()
    finally:
        app.close()
    return app


def test_autopilot_run_renders_and_saves_a_real_screenshot(tmp_path):
    shot = tmp_path / "shot.png"
    options = Options(autopilot=True, levels=2, seed=3, screenshot=shot, fast=True, headless=True, use_model=False)
    app = run_app(options)
    assert app.levels_cleared == 2 or app.caught
    assert shot.stat().st_size > 1000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = app.last
    assert image.shape == (780, 720, 3)
    # Not blank: many colours, and the maze's floor, walls, exit and the HUD's background all present.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) >= 8
    assert colour_count(image, render.FLOOR) > 20_000
    assert colour_count(image, render.WALL) > 20_000
    assert colour_count(image, render.EXIT) > 50
    assert colour_count(image, render.PLAYER) > 20
    assert colour_count(image, render.BACKGROUND) > 5_000
    hud = image[:40]
    assert len(np.unique(hud.reshape(-1, 3), axis=0)) > 4  # text was drawn


def test_window_resizes_and_the_maze_is_rescaled():
    options = Options(autopilot=True, fast=True, headless=True, use_model=False, seed=1)
    app = App(options)
    app.open()
    try:
        play_until(app, lambda: getattr(app.scene, "world", None) is not None)
        assert app.scene.world is not None, "the first level never reached the screen"
        big = app.layout((28, 28)).tile
        app.screen = pygame.display.set_mode((400, 300), pygame.RESIZABLE)
        app.frame()
        small = app.layout((28, 28))
        assert small.tile < big
        assert small.origin[0] + 28 * small.tile <= 400 and small.origin[1] + 28 * small.tile <= 300
        assert colour_count(app.frame_rgb(), render.FLOOR) > 0
    finally:
        app.close()


def post_key(key):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


def test_person_plays_pauses_and_quits_from_the_keyboard():
    options = Options(seed=2, fast=True, headless=True, use_model=False)
    app = App(options, LevelSource(use_model=False))
    app.open()
    try:
        assert type(app.scene).__name__ == "Title"
        post_key(pygame.K_RETURN)
        app.frame()
        assert type(app.scene).__name__ == "Play"
        # The level is prepared on a background thread: frames keep coming while it is.
        play_until(app, lambda: app.scene.world is not None, pause=0.001)
        world = app.scene.world
        assert world is not None and not app.autopilot
        # Hold right then down; the player follows the keys.
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_d, mod=0, unicode="d", scancode=0))
        for _ in range(3):
            app.frame()
        moved = world.player.pos != world.start or world.player.target is not None
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_s, mod=0, unicode="s", scancode=0))
        for _ in range(3):
            app.frame()
        assert moved or world.player.pos != world.start or world.player.target is not None
        post_key(pygame.K_p)
        app.frame()
        ticks = world.ticks
        for _ in range(5):
            app.frame()
        assert app.scene.paused and world.ticks == ticks  # paused: time stands still
        post_key(pygame.K_p)
        app.frame()
        assert world.ticks > ticks
        post_key(pygame.K_q)
        app.frame()
        assert not app.running
    finally:
        app.close()


def test_caught_shows_game_over_and_restarts():
    options = Options(seed=4, fast=True, headless=True, use_model=False)
    app = App(options)
    app.open()
    try:
        post_key(pygame.K_RETURN)
        # A person who never moves is caught: the game-over scene appears with the score.
        play_until(app, lambda: type(app.scene).__name__ == "GameOver")
        assert type(app.scene).__name__ == "GameOver" and app.caught
        image = app.frame_rgb()
        assert colour_count(image, render.BAD) > 50  # the red "caught" banner
        post_key(pygame.K_r)
        app.frame()
        assert type(app.scene).__name__ == "Play" and app.scene.run.level == 1
        assert app.scene.run.seed == 4
    finally:
        app.close()


def test_importing_the_game_does_not_initialise_pygame():
    import subprocess
    import sys

    code = ("import pygame, daedalus.game_demo.app, daedalus.game_demo.scenes, daedalus.game_demo.render; "
            "print(pygame.display.get_init(), pygame.font.get_init())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"})
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("width", [160, 320, 720])
def test_the_hud_fits_the_window_whatever_the_level_code(width):
    pygame.init()
    try:
        surface = pygame.Surface((width, 400))
        layout = render.Layout.fit((width, 400), (28, 28))
        renderer = render.Renderer()
        items = [("LEVEL", "12"), ("TIME", "1:02.3"), ("CODE", str(2**53)), ("SCORE", "123456")]
        rects = renderer.hud(surface, layout, items, "AUTOPILOT")
        tag, texts = (rects[0], rects[1:]) if len(rects) == 9 else (pygame.Rect(width - 12, 0, 0, 0), rects)
        assert (len(texts), len(rects)) == (8, 9) or (width == 160 and 2 <= len(texts) == len(rects) < 8)
        assert all(0 <= r.left and r.right <= tag.left for r in texts)  # nothing under the tag or off screen
        assert tag.right <= width
        assert all(a.right <= b.left for a, b in zip(texts, texts[1:]))  # left to right, no overlap
        if width == 720:  # room enough: the code is shown whole
            plain = renderer.hud(surface, layout, items, "AUTOPILOT")
            assert plain == rects
    finally:
        pygame.quit()
