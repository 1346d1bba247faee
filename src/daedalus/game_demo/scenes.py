"""The scenes: title, play and game over, each with ``startup/cleanup/get_event/update/draw`` (the state machine
of Mekire's cabbages-and-kings). ``update`` runs once per fixed tick; ``draw`` gets ``alpha``, the fraction of a
tick since the last update, and is the only place positions are interpolated.
"""

from __future__ import annotations

import pygame

from daedalus.game_demo import render as r
from daedalus.game_demo.autopilot import Autopilot
from daedalus.game_demo.rules import (
    CAUGHT,
    DOWN,
    LEFT,
    RIGHT,
    UP,
    WON,
    Run,
    World,
    level_params,
    level_targets,
    next_seed,
)
from daedalus.maze.backtracker import fresh_seed

KEYS = {
    pygame.K_UP: UP, pygame.K_w: UP,
    pygame.K_DOWN: DOWN, pygame.K_s: DOWN,
    pygame.K_LEFT: LEFT, pygame.K_a: LEFT,
    pygame.K_RIGHT: RIGHT, pygame.K_d: RIGHT,
}
ASK_LABELS = {"solution_length": "path", "loops": "loops"}  # the HUD's short names of requested attributes
CLEARED_TICKS = 60  # how long "level cleared" shows before the next level
CAUGHT_TICKS = 45
ATTRACT_TICKS = 45  # the autopilot's title screen
ATTRACT_RESTART_TICKS = 180
BUFFER_TICKS = 12  # a tapped direction is remembered this long, so a quick tap before a junction still turns


# A new run's level code: fresh entropy, kept to six digits that a player can read off the HUD and type back.
CODE_RANGE = 1_000_000


class Scene:
    """Base scene: ``done`` and ``next`` tell the app to switch; ``persist`` carries state between scenes."""

    def __init__(self, app):
        self.app = app
        self.done = False
        self.next: str | None = None
        self.persist: dict = {}

    def startup(self, persist: dict) -> None:
        self.persist = persist
        self.done = False

    def cleanup(self) -> dict:
        self.done = False
        return self.persist

    def switch(self, name: str) -> None:
        self.next, self.done = name, True

    @property
    def waiting_for_level(self) -> bool:
        """True while the scene shows nothing but waits for a level from the background thread."""
        return False

    def get_event(self, event) -> None:
        pass

    def update(self) -> None:
        pass

    def draw(self, surface: pygame.Surface, alpha: float) -> None:
        pass


class Title(Scene):
    """Title screen: the first level waits behind the title while it is prepared; Enter plays, A lets the bot play."""

    def startup(self, persist: dict) -> None:
        super().startup(persist)
        seed = self.app.options.seed
        self.persist["run"] = Run(seed=fresh_seed() % CODE_RANGE if seed is None else seed)
        self.app.source.prefetch(self.persist["run"].seed)
        self.ticks = 0
        self.preview = None

    @property
    def waiting_for_level(self) -> bool:
        return self.preview is None

    def get_event(self, event) -> None:
        if event.type == pygame.KEYDOWN:
            if event.key in (pygame.K_RETURN, pygame.K_KP_ENTER, pygame.K_SPACE):
                self.app.autopilot = False
                self.switch("play")
            elif event.key == pygame.K_a:
                self.app.autopilot = True
                self.switch("play")
            elif event.key == pygame.K_ESCAPE:
                self.app.stop()

    def update(self) -> None:
        self.ticks += 1
        if self.preview is None:
            level = self.app.source.poll(self.persist["run"].seed)
            if level is not None:
                # Keep it for the play scene: polling hands a level over once.
                self.persist["ready"] = level
                self.preview = World(level.board, level.start, level.exit, level_params(1), seed=level.seed)
        if self.app.autopilot and self.ticks >= ATTRACT_TICKS and self.preview is not None:
            self.switch("play")

    def draw(self, surface: pygame.Surface, alpha: float) -> None:
        app = self.app
        surface.fill(r.BACKGROUND)
        layout = app.layout((28, 28) if self.preview is None else self.preview.grid.shape)
        if self.preview is not None:
            app.renderer.draw_world(surface, self.preview, layout, 0.0)
            shade = pygame.Surface(layout.size, pygame.SRCALPHA)
            shade.fill((10, 10, 18, 205))
            surface.blit(shade, (0, 0))
        width, height = layout.size
        big = max(36, min(width // 6, height // 7))
        cx = width // 2
        y = height // 4
        app.renderer.text(surface, "DAEDALUS", big, r.TEXT, (cx, y), "center")
        app.renderer.text(surface, "run for the exit - the minotaur is coming", max(16, big // 3), r.DIM,
                          (cx, y + big * 2 // 3), "center")
        lines = [
            ("Enter  play", r.GOOD),
            ("A  let the autopilot play", r.TEXT),
            ("arrows / WASD  move     P  pause     Tab  autopilot", r.DIM),
            ("Esc  back / quit     window resizes", r.DIM),
        ]
        size = max(16, big // 3)
        for i, (line, colour) in enumerate(lines):
            app.renderer.text(surface, line, size, colour, (cx, height // 2 + i * int(size * 1.4)), "center")
        source = app.source.description if self.preview is not None else "preparing the first level..."
        colour = r.WARN if app.source.message else r.DIM
        code = self.persist["run"].seed
        app.renderer.footer(surface, layout, f"level code {code}  |  {source}", colour)


class Play(Scene):
    """A run of levels: load (without blocking), play, clear or get caught."""

    def startup(self, persist: dict) -> None:
        super().startup(persist)
        self.run: Run = persist["run"]
        self.world: World | None = None
        self.bot: Autopilot | None = None
        self.phase = "loading"
        self.timer = 0
        self.paused = False
        self.held: list[str] = []
        self.buffered: str | None = None
        self.buffer_ticks = 0
        self.gained = 0

    @property
    def waiting_for_level(self) -> bool:
        return self.phase == "loading"

    def get_event(self, event) -> None:
        if event.type == pygame.KEYDOWN:
            if event.key in KEYS:
                direction = KEYS[event.key]
                if direction in self.held:
                    self.held.remove(direction)
                self.held.insert(0, direction)
                self.buffered, self.buffer_ticks = direction, BUFFER_TICKS
            elif event.key in (pygame.K_p, pygame.K_SPACE, pygame.K_PAUSE):
                self.paused = not self.paused
            elif event.key == pygame.K_TAB:
                self.app.autopilot = not self.app.autopilot
            elif event.key == pygame.K_ESCAPE:
                if self.paused:
                    self.switch("title")
                else:
                    self.paused = True
        elif event.type == pygame.KEYUP and event.key in KEYS:
            direction = KEYS[event.key]
            if direction in self.held:
                self.held.remove(direction)
        elif event.type == pygame.WINDOWFOCUSLOST and not self.app.autopilot:
            self.paused = True

    def wants(self) -> list[str]:
        wants = list(self.held)
        if self.buffered and self.buffered not in wants:
            wants.insert(0, self.buffered)
        return wants

    def update(self) -> None:
        if self.paused:
            return
        if self.phase == "loading":
            level = self.persist.pop("ready", None)
            asked = level_targets(self.run.level, self.app.source.mode)
            if level is None or level.seed != self.run.seed or level.request != asked:
                level = self.app.source.poll(self.run.seed, asked)
            if level is not None:
                self.world = World(level.board, level.start, level.exit, self.run.params, seed=level.seed)
                self.bot = Autopilot(self.world)
                self.phase = "playing"
                self.request = level.request
                self.app.source.prefetch(next_seed(self.run.seed), level_targets(self.run.level + 1,
                                                                                 self.app.source.mode))
            return
        if self.phase == "playing":
            self._play_tick()
            return
        self.timer -= 1
        if self.timer > 0:
            return
        if self.phase == "cleared":
            self.phase = "loading"
        elif self.phase == "caught":
            self.persist["world"] = self.world
            self.switch("gameover")

    def _play_tick(self) -> None:
        world = self.world
        if self.app.autopilot:
            want = self.bot.want()
        else:
            want = self.wants()
            self.buffer_ticks -= 1
            if self.buffer_ticks <= 0:
                self.buffered = None
        before = world.player.target
        state = world.step(want)
        if self.buffered and world.player.target is not None and world.player.target != before \
                and world.player.facing == self.buffered:
            self.buffered = None
        if state == WON:
            score = self.run.score
            self.run.finish(world)
            self.gained = self.run.score - score
            self.phase, self.timer = "cleared", CLEARED_TICKS
            self.app.level_done(self.run)
        elif state == CAUGHT:
            self.run.finish(world)
            self.phase, self.timer = "caught", CAUGHT_TICKS

    def draw(self, surface: pygame.Surface, alpha: float) -> None:
        app = self.app
        surface.fill(r.BACKGROUND)
        world = self.world
        layout = app.layout(world.grid.shape if world is not None else (28, 28))
        if world is not None:
            app.renderer.draw_world(surface, world, layout, 0.0 if self.paused else alpha)
        # The HUD shows the level being played (after a win the run already points at the next one).
        shown_level = self.run.level - 1 if self.phase == "cleared" else self.run.level
        shown_seed = self.run.history[-1][1] if self.phase == "cleared" else self.run.seed
        seconds = world.seconds if world is not None and self.phase != "loading" else 0.0
        items = [("LEVEL", str(shown_level)), ("TIME", r.format_time(seconds)), ("CODE", str(shown_seed)),
                 ("SCORE", str(self.run.score))]
        request = getattr(self, "request", None)
        if request and self.phase != "loading":  # what this level asked the generator for
            items.append(("ASKED", " ".join(f"{ASK_LABELS.get(k, k)} {v:g}" for k, v in request.items())))
        tag, colour = ("PAUSED", r.WARN) if self.paused else (("AUTOPILOT", r.GOOD) if app.autopilot else ("", r.GOOD))
        app.renderer.hud(surface, layout, items, tag, colour)
        if app.source.message:
            app.renderer.footer(surface, layout, app.source.message, r.WARN)
        else:
            app.renderer.footer(surface, layout, f"{app.source.description}  |  arrows/WASD move, P pause, "
                                                 f"Esc menu", r.DIM)
        big = max(24, layout.size[0] // 14)
        small = max(16, big // 2)
        if self.paused:
            app.renderer.banner(surface, layout, [("PAUSED", big, r.TEXT),
                                                  ("P resume   Esc title   Q quit", small, r.DIM)])
        elif self.phase == "cleared":
            app.renderer.banner(surface, layout, [(f"LEVEL {shown_level} CLEARED", big, r.GOOD),
                                                  (f"+{self.gained} points", small, r.TEXT)])
        elif self.phase == "loading":
            app.renderer.banner(surface, layout, [(f"Preparing level {self.run.level}...", small, r.TEXT),
                                                  (f"level code {self.run.seed}", small, r.DIM)])
        elif self.phase == "caught":
            app.renderer.banner(surface, layout, [("CAUGHT!", big, r.BAD)])


class GameOver(Scene):
    """The run's end: score, levels, time; Enter starts a new run, R retries from the lost level's code."""

    def startup(self, persist: dict) -> None:
        super().startup(persist)
        self.ticks = 0
        self.app.run_over(persist["run"])

    def get_event(self, event) -> None:
        if event.type == pygame.KEYDOWN:
            if event.key in (pygame.K_RETURN, pygame.K_KP_ENTER, pygame.K_SPACE):
                self.restart(fresh_seed() % CODE_RANGE)
            elif event.key == pygame.K_r:  # the lost level again: its code at its level (the same request)
                self.restart(self.persist["run"].seed, self.persist["run"].level)
            elif event.key == pygame.K_ESCAPE:
                self.app.stop()

    def restart(self, seed: int, level: int = 1) -> None:
        self.persist = {"run": Run(seed=seed, level=level)}
        self.app.source.prefetch(seed, level_targets(level, self.app.source.mode))
        self.switch("play")

    def update(self) -> None:
        self.ticks += 1
        if self.app.autopilot and self.ticks >= ATTRACT_RESTART_TICKS:
            self.restart(fresh_seed() % CODE_RANGE)

    def draw(self, surface: pygame.Surface, alpha: float) -> None:
        app = self.app
        run: Run = self.persist["run"]
        world: World | None = self.persist.get("world")
        surface.fill(r.BACKGROUND)
        layout = app.layout(world.grid.shape if world is not None else (28, 28))
        if world is not None:
            app.renderer.draw_world(surface, world, layout, 0.0)
        seconds = run.total_ticks / 60
        app.renderer.hud(surface, layout, [("LEVEL", str(run.level)), ("TIME", r.format_time(seconds)),
                                           ("CODE", str(run.seed)), ("SCORE", str(run.score))], "GAME OVER", r.BAD)
        app.renderer.footer(surface, layout, app.source.message or app.source.description,
                            r.WARN if app.source.message else r.DIM)
        big = max(24, layout.size[0] // 14)
        small = max(16, big // 2)
        app.renderer.banner(surface, layout, [
            ("CAUGHT BY THE MINOTAUR", big, r.BAD),
            (f"score {run.score}   levels cleared {run.cleared}   time {r.format_time(seconds)}", small, r.TEXT),
            (f"Enter  new run     R  retry level code {run.seed}     Esc  quit", small, r.DIM),
        ])


SCENES = {"title": Title, "play": Play, "gameover": GameOver}
