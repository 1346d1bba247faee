"""Drawing: the maze scaled to fit the window, the player and the minotaur at interpolated positions, the HUD and
the overlays. Only this module and ``scenes``/``app`` touch pygame; importing it does not initialise pygame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame

from daedalus.game_demo.rules import World

BACKGROUND = (16, 17, 26)
WALL = (40, 44, 66)
WALL_EDGE = (62, 68, 98)
FLOOR = (232, 226, 208)
START = (205, 222, 196)
EXIT = (46, 160, 67)
EXIT_DOOR = (250, 240, 200)
PLAYER = (40, 110, 240)
PLAYER_EDGE = (230, 240, 255)
MINOTAUR = (196, 36, 36)
MINOTAUR_SLEEP = (120, 60, 60)
HORN = (92, 64, 40)
EYE = (255, 220, 60)
TEXT = (236, 236, 244)
DIM = (150, 154, 176)
WARN = (255, 170, 60)
GOOD = (110, 220, 120)
BAD = (255, 96, 96)


@dataclass(frozen=True)
class Layout:
    """Where things go in a window of ``size`` for a maze of ``shape``: tile size in pixels and the maze origin."""

    size: tuple[int, int]
    shape: tuple[int, int]
    hud: int
    foot: int
    tile: int
    origin: tuple[int, int]

    @classmethod
    def fit(cls, size: tuple[int, int], shape: tuple[int, int]) -> "Layout":
        width, height = size
        hud = max(28, min(48, height // 16))
        foot = max(20, min(30, height // 28))
        rows, cols = shape
        tile = max(2, min((width - 16) // cols, (height - hud - foot - 16) // rows))
        x = (width - tile * cols) // 2
        y = hud + (height - hud - foot - tile * rows) // 2
        return cls(size, shape, hud, foot, tile, (x, y))

    def to_pixels(self, row: float, col: float) -> tuple[int, int]:
        """Centre of the tile at (possibly fractional) ``(row, col)``."""
        return (int(self.origin[0] + (col + 0.5) * self.tile), int(self.origin[1] + (row + 0.5) * self.tile))


class Renderer:
    """Draws a ``World`` and text. Call after ``pygame.init()``.

    Args:
        antialias: antialiased text (off when recording a GIF, which holds 256 colours).
    """

    def __init__(self, antialias: bool = True):
        self.antialias = antialias
        self._fonts: dict[int, pygame.font.Font] = {}
        self._maze_key = None
        self._maze: pygame.Surface | None = None
        self._text_cache: dict[tuple, pygame.Surface] = {}
        self._fitted: dict[tuple, tuple[str, int]] = {}
        self._panels: dict[tuple[int, int], pygame.Surface] = {}

    def font(self, size: int) -> pygame.font.Font:
        if size not in self._fonts:
            self._fonts[size] = pygame.font.Font(None, size)  # pygame's bundled font: no system font lookups
        return self._fonts[size]

    def text(self, surface: pygame.Surface, text: str, size: int, colour, pos, anchor: str = "topleft") -> pygame.Rect:
        """Blit ``text`` with its ``anchor`` (a pygame.Rect attribute name) at ``pos``; returns the rectangle."""
        key = (text, size, colour, self.antialias)
        image = self._text_cache.get(key)
        if image is None:
            if len(self._text_cache) > 512:
                self._text_cache.clear()
            image = self._text_cache[key] = self.font(size).render(text, self.antialias, colour)
        rect = image.get_rect(**{anchor: pos})
        surface.blit(image, rect)
        return rect

    # -- the maze ------------------------------------------------------------------------------------------------
    def maze_surface(self, world: World, layout: Layout) -> pygame.Surface:
        """The static maze (walls, floor, start, exit) at ``layout``'s tile size, drawn once per level and size."""
        key = (id(world.board), layout.tile, world.start, world.exit)
        if key != self._maze_key:
            self._maze_key, self._maze = key, self._draw_maze(world, layout.tile)
        return self._maze

    def _draw_maze(self, world: World, tile: int) -> pygame.Surface:
        rows, cols = world.grid.shape
        # One pixel per tile, then a nearest-neighbour scale: a few hundred microseconds instead of a fill per tile.
        colours = np.where(world.grid.T[..., None] != 0, np.array(FLOOR, np.uint8), np.array(WALL, np.uint8))
        small = pygame.surfarray.make_surface(np.ascontiguousarray(colours))
        surface = pygame.transform.scale(small, (cols * tile, rows * tile)).convert()
        # A thin outline round the maze so its edge reads against the background.
        pygame.draw.rect(surface, WALL_EDGE, surface.get_rect(), max(1, tile // 8))
        surface.fill(START, pygame.Rect(world.start[1] * tile, world.start[0] * tile, tile, tile))
        exit_rect = pygame.Rect(world.exit[1] * tile, world.exit[0] * tile, tile, tile)
        surface.fill(EXIT, exit_rect)
        door = exit_rect.inflate(-tile // 2, -tile // 4)
        pygame.draw.rect(surface, EXIT_DOOR, door, max(1, tile // 10))
        return surface

    def draw_world(self, surface: pygame.Surface, world: World, layout: Layout, alpha: float) -> None:
        """The maze and both movers, ``alpha`` ticks (0–1) past the last update."""
        surface.blit(self.maze_surface(world, layout), layout.origin)
        tile = layout.tile
        moving = world.state == "playing"
        pr, pc = world.player.where(alpha if moving else 0.0)
        minotaur_alpha = alpha if moving and world.awake else 0.0
        mr, mc = world.minotaur.where(minotaur_alpha)
        self._draw_minotaur(surface, layout.to_pixels(mr, mc), tile, world.awake, world.minotaur.facing)
        centre = layout.to_pixels(pr, pc)
        radius = max(2, int(tile * 0.42))
        pygame.draw.circle(surface, PLAYER_EDGE, centre, radius)
        pygame.draw.circle(surface, PLAYER, centre, max(1, radius - max(1, tile // 10)))

    def _draw_minotaur(self, surface, centre, tile: int, awake: bool, facing: str) -> None:
        x, y = centre
        radius = max(2, int(tile * 0.45))
        body = MINOTAUR if awake else MINOTAUR_SLEEP
        # Horns first, so the head covers their roots: two curved-looking triangles rising off the head's sides.
        for side in (-1, 1):
            pygame.draw.polygon(surface, HORN, [
                (x + side * radius * 0.85, y - radius * 0.05),
                (x + side * radius * 0.25, y - radius * 0.75),
                (x + side * radius * 1.25, y - radius * 1.35),
            ])
        pygame.draw.circle(surface, body, centre, radius)
        if tile >= 8:
            eye = max(1, tile // 9)
            dx = {"left": -1, "right": 1}.get(facing, 0) * eye
            colour = EYE if awake else (60, 30, 30)
            pygame.draw.circle(surface, colour, (x - radius // 3 + dx, y - radius // 5), eye)
            pygame.draw.circle(surface, colour, (x + radius // 3 + dx, y - radius // 5), eye)

    # -- HUD and overlays ----------------------------------------------------------------------------------------
    def hud(self, surface: pygame.Surface, layout: Layout, items: list[tuple[str, str]], right: str = "",
            right_colour=GOOD) -> list[pygame.Rect]:
        """The top bar: ``(label, value)`` pairs left to right and an optional tag on the right, fitted to the
        window whatever the length of a level code: smaller text, then the longest value cut (``~``), then in a
        very narrow window no tag and the first items only. Returns the rectangles drawn (the tag's first)."""
        width = layout.size[0]
        surface.fill(BACKGROUND, pygame.Rect(0, 0, width, layout.hud))
        label_size = max(14, layout.hud * 9 // 20)
        value_size = max(18, layout.hud * 7 // 10)
        mid = layout.hud // 2
        tag = self.font(label_size).size(right)[0] + 12 if right else 0
        fitted = self._fit_hud(items, width - 24 - tag, label_size, value_size)
        if fitted is None and right:
            right, fitted = "", self._fit_hud(items, width - 24, label_size, value_size)
        while fitted is None and len(items) > 1:  # a very narrow window: the first items only
            items = items[:-1]
            fitted = self._fit_hud(items, width - 24, label_size, value_size)
        items, label_size, value_size = fitted or (items, label_size, value_size)
        drawn = []
        if right:
            drawn.append(self.text(surface, right, label_size, right_colour, (width - 12, mid + 1), "midright"))
        x = 12
        for label, value in items:
            drawn.append(self.text(surface, label, label_size, DIM, (x, mid + 1), "midleft"))
            drawn.append(self.text(surface, value, value_size, TEXT, (drawn[-1].right + 6, mid), "midleft"))
            x = drawn[-1].right + 18
        return drawn

    def _fit_hud(self, items, room: int, label_size: int, value_size: int):
        """``(items, label_size, value_size)`` that fit in ``room`` pixels, or None."""
        def needed():
            label, value = self.font(label_size), self.font(value_size)
            return sum(label.size(a)[0] + 6 + value.size(b)[0] + 18 for a, b in items) - 18

        items = list(items)
        while needed() > room and value_size > 12:
            label_size, value_size = max(10, label_size - 1), value_size - 1
        while needed() > room:
            i = max(range(len(items)), key=lambda k: len(items[k][1].rstrip("~")))
            label, value = items[i]
            kept = value.rstrip("~")
            if len(kept) <= 3:
                return None
            items[i] = (label, kept[:-1] + "~")  # a cut code still shows how it starts
        return items, label_size, value_size

    def footer(self, surface: pygame.Surface, layout: Layout, text: str, colour=DIM) -> None:
        width, height = layout.size
        surface.fill(BACKGROUND, pygame.Rect(0, height - layout.foot, width, layout.foot))
        key = (text, width, layout.foot)
        if key not in self._fitted:
            self._fitted[key] = self._fit(text, width - 16, max(12, layout.foot * 3 // 4))
        text, size = self._fitted[key]
        self.text(surface, text, size, colour, (width // 2, height - layout.foot // 2), "center")

    def _fit(self, text: str, room: int, size: int) -> tuple[str, int]:
        """Shrink a long line to fit, then cut it: the whole reason must stay readable where it can."""
        while size > 12 and self.font(size).size(text)[0] > room:
            size -= 1
        while len(text) > 8 and self.font(size).size(text)[0] > room:
            text = text[:-4] + "..."
        return text, size

    def banner(self, surface: pygame.Surface, layout: Layout, lines: list[tuple[str, int, tuple]]) -> None:
        """Centred lines ``(text, size, colour)`` on a translucent panel over the maze."""
        if not lines:
            return
        width, height = layout.size
        fonts = [self.font(size) for _, size, _ in lines]
        heights = [f.get_linesize() for f in fonts]
        panel_w = min(width - 16, max(f.size(t)[0] for f, (t, _, _) in zip(fonts, lines)) + 48)
        panel_h = sum(heights) + 32
        panel = self._panels.get((panel_w, panel_h))
        if panel is None:
            panel = pygame.Surface((panel_w, panel_h), pygame.SRCALPHA)
            panel.fill((10, 10, 18, 235))
            self._panels = {(panel_w, panel_h): panel}
        rect = panel.get_rect(center=(width // 2, layout.hud + (height - layout.hud - layout.foot) // 2))
        surface.blit(panel, rect)
        y = rect.top + 16
        for (text, size, colour), line_h in zip(lines, heights):
            self.text(surface, text, size, colour, (width // 2, y + line_h // 2), "center")
            y += line_h


def format_time(seconds: float) -> str:
    """``m:ss.s``."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"
