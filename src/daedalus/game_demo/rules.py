"""The rules of the chase, in plain Python (numpy and the maze core, never pygame).

The world lives on the maze's integer tiles (one tile per grid position) and advances in fixed ticks
(``TICKS_PER_SECOND``). A move from one tile to a neighbour takes ``move_ticks`` ticks; the drawing code
interpolates inside a move, the rules never do except to decide a catch.

Per tick (``World.step``):
  1. the player advances along its move, or, standing on a tile, starts the first wanted move that is open;
  2. reaching the exit wins the level;
  3. the minotaur (after its wake-up delay) advances, or, standing on a tile, steps to a neighbour one step
     closer to the player along a shortest path (breadth-first, re-planned at every tile);
  4. when the two are closer than ``CATCH_DISTANCE`` tiles (measured between their interpolated positions, so
     crossing in a corridor counts), the player is caught.

``Run`` strings levels together: level ``n + 1`` uses the seed after level ``n``'s, with a faster minotaur that
wakes sooner and starts closer (``level_params``), and keeps the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from daedalus.maze.backtracker import MAX_SEED
from daedalus.maze.graph import distance_table, loop_core
from daedalus.maze.grid import DIRECTION_NAMES
from daedalus.maze.grid import DIRECTIONS as STEPS

TICKS_PER_SECOND = 60
CATCH_DISTANCE = 0.75  # in tiles, Manhattan distance between interpolated positions

Position = tuple[int, int]

UP, RIGHT, DOWN, LEFT = DIRECTION_NAMES
# The moves by name, in the grid's one order (clockwise from up).
DIRECTIONS: dict[str, Position] = dict(zip(DIRECTION_NAMES, STEPS))
OPPOSITE = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}

PLAYING, WON, CAUGHT = "playing", "won", "caught"


@dataclass(frozen=True)
class LevelParams:
    """How hard one level is.

    Attributes:
        player_ticks: ticks per tile for the player.
        minotaur_ticks: ticks per tile for the minotaur (more = slower).
        wake_ticks: ticks before the minotaur starts to move.
        start_fraction: the minotaur starts at least this fraction of the maze's largest distance from the
            player (smaller = closer).
    """

    player_ticks: int = 8
    minotaur_ticks: int = 14
    wake_ticks: int = 90
    start_fraction: float = 0.9


def level_params(level: int) -> LevelParams:
    """The difficulty curve. Level 1's minotaur is much slower than the player (14 vs 8 ticks a tile) and waits
    1.5 s; each level takes a tick off its move time down to 7 (faster than the player from level 8: then only
    loops save the player), shortens the wait and moves its start closer.

    Args:
        level: 1-based level number.
    """
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 1:
        raise ValueError(f"level must be an integer >= 1, got {level!r}")
    k = int(level) - 1
    return LevelParams(
        player_ticks=8,
        minotaur_ticks=max(7, 14 - k),
        wake_ticks=max(0, 90 - 15 * k),
        start_fraction=max(0.4, 0.9 - 0.07 * k),
    )


def level_targets(level: int, mode: str = "braid") -> dict | None:
    """What the game asks the generator for at ``level`` (``MazeGenerator.generate(targets=...)``): nothing at
    level 1, which must start at once; from level 2 a longer solution each level (100 steps, +24 a level, up to
    340) and, in braid mode, fewer loops (14, one fewer a level, at least 4: loops are how the player escapes)."""
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 1:
        raise ValueError(f"level must be an integer >= 1, got {level!r}")
    if level == 1:
        return None
    k = int(level) - 2
    targets = {"solution_length": min(340, 100 + 24 * k)}
    if mode == "braid":
        targets["loops"] = max(4, 14 - k)
    return targets


def neighbours(grid: np.ndarray, tile: Position) -> Iterable[tuple[str, Position]]:
    """The open 4-neighbours of ``tile`` as ``(direction, tile)`` pairs, in the order up, right, down, left."""
    height, width = grid.shape
    r, c = tile
    for name, (dr, dc) in DIRECTIONS.items():
        nr, nc = r + dr, c + dc
        if 0 <= nr < height and 0 <= nc < width and grid[nr, nc]:
            yield name, (nr, nc)


class Board:
    """A maze prepared for play: the grid plus every shortest-path distance (``daedalus.maze.graph``), so a tick
    looks distances up instead of searching. Building one takes ~10 ms for 28 × 28, done off the frame loop.

    Args:
        grid: ``(H, W)`` maze, nonzero = open.
    """

    def __init__(self, grid: np.ndarray):
        grid = np.asarray(grid)
        if grid.ndim != 2:
            raise ValueError(f"grid must be (H, W), got shape {grid.shape}")
        self.grid = (grid != 0).astype(np.uint8)
        self.grid.setflags(write=False)
        self.index, self.table = distance_table(self.grid)
        self._core: np.ndarray | None = None
        # Open neighbours of each tile by flat index (row * W + col), as plain lists: per-tick searches in Python
        # run several times faster on lists than on numpy scalars.
        height, width = self.grid.shape
        flat = self.grid.ravel().tolist()
        self.adjacency: list[list[int]] = [[] for _ in range(height * width)]
        for i, is_open in enumerate(flat):
            if not is_open:
                continue
            r, c = divmod(i, width)
            for dr, dc in DIRECTIONS.values():
                nr, nc = r + dr, c + dc
                if 0 <= nr < height and 0 <= nc < width and flat[nr * width + nc]:
                    self.adjacency[i].append(nr * width + nc)

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def core(self) -> np.ndarray:
        """The loop core (``daedalus.maze.graph.loop_core``), computed on first use."""
        if self._core is None:
            self._core = loop_core(self.grid)
        return self._core

    def is_open(self, tile: Position) -> bool:
        r, c = tile
        return 0 <= r < self.grid.shape[0] and 0 <= c < self.grid.shape[1] and bool(self.grid[r, c])

    def dist(self, a: Position, b: Position) -> int:
        """Steps on a shortest path from ``a`` to ``b``; −1 when either is a wall or they are not connected."""
        i, j = self.index[a], self.index[b]
        return -1 if i < 0 or j < 0 else int(self.table[i, j])

    def distances(self, a: Position) -> np.ndarray:
        """``(H, W)`` int32 distances from ``a`` to every tile, −1 for walls and unreachable tiles (like
        ``daedalus.maze.stats.distances``)."""
        out = np.full(self.grid.shape, -1, dtype=np.int32)
        i = self.index[a]
        if i >= 0:
            open_ = self.index >= 0
            out[open_] = self.table[i]
        return out


def minotaur_start(board: Board, start: Position, exit: Position, fraction: float,
                   rng: np.random.Generator) -> Position:
    """Where the minotaur appears: a cell (even, even) at least ``fraction`` of the largest distance from the
    player's start, preferring cells far off the player's shortest route (so it starts behind, not in the way).

    Falls back to the open tile furthest from the start when no cell qualifies (tiny or odd grids).
    """
    from_start = board.distances(start)
    from_exit = board.distances(exit)
    reach = from_start >= 0
    longest = int(from_start.max())
    route = int(from_start[exit]) if from_start[exit] >= 0 else longest
    rows, cols = np.nonzero(reach)
    on_cells = (rows % 2 == 0) & (cols % 2 == 0)
    d = from_start[rows, cols]
    far = on_cells & (d >= max(4, fraction * longest)) & ~((rows == exit[0]) & (cols == exit[1]))
    if not far.any():
        best = int(np.argmax(d))
        return (int(rows[best]), int(cols[best]))
    rows, cols = rows[far], cols[far]
    detour = from_start[rows, cols] + np.maximum(from_exit[rows, cols], 0) - route
    # Among the cells that leave the route furthest, pick one by the seed's generator (ties are common).
    top = np.flatnonzero(detour >= np.quantile(detour, 0.75))
    pick = int(rng.choice(top))
    return (int(rows[pick]), int(cols[pick]))


@dataclass
class Mover:
    """An entity moving from tile to tile: ``pos`` is the last tile it stood on, ``target`` the tile it is moving
    to (None when standing), ``progress`` the ticks spent on the current move."""

    pos: Position
    move_ticks: int
    target: Position | None = None
    progress: int = 0
    facing: str = RIGHT

    def advance(self) -> bool:
        """One tick of the current move; True when it arrived on ``target`` this tick."""
        if self.target is None:
            return False
        self.progress += 1
        if self.progress >= self.move_ticks:
            self.pos, self.target, self.progress = self.target, None, 0
            return True
        return False

    def start(self, direction: str, tile: Position) -> None:
        self.target, self.progress, self.facing = tile, 0, direction

    def where(self, extra: float = 0.0) -> tuple[float, float]:
        """Interpolated position in tiles; ``extra`` adds a fraction of a tick (drawing between ticks)."""
        if self.target is None:
            return float(self.pos[0]), float(self.pos[1])
        t = min(1.0, (self.progress + extra) / self.move_ticks)
        return (self.pos[0] + (self.target[0] - self.pos[0]) * t, self.pos[1] + (self.target[1] - self.pos[1]) * t)

    @property
    def tile(self) -> Position:
        """The tile it stands on, or is heading to (where a chaser should aim)."""
        return self.target if self.target is not None else self.pos


class World:
    """One level of the chase.

    Args:
        grid: a ``Board`` or an ``(H, W)`` maze, 1 = open.
        start, exit: the player's start and goal tiles.
        params: the level's difficulty.
        seed: seeds the minotaur's start position.
        minotaur: override the minotaur's start tile (tests).
    """

    def __init__(self, grid: Board | np.ndarray, start: Position, exit: Position,
                 params: LevelParams = LevelParams(), seed: int = 0, minotaur: Position | None = None):
        self.board = grid if isinstance(grid, Board) else Board(grid)
        self.grid = grid = self.board.grid
        self.start, self.exit = tuple(map(int, start)), tuple(map(int, exit))
        for name, tile in (("start", self.start), ("exit", self.exit)):
            if not (0 <= tile[0] < grid.shape[0] and 0 <= tile[1] < grid.shape[1]) or not self.grid[tile]:
                raise ValueError(f"{name} {tile} must be an open tile of the {grid.shape[0]}x{grid.shape[1]} grid")
        self.params = params
        if minotaur is None:
            minotaur = minotaur_start(self.board, self.start, self.exit, params.start_fraction,
                                      np.random.default_rng(seed))
        self.player = Mover(self.start, params.player_ticks)
        self.minotaur = Mover(tuple(map(int, minotaur)), params.minotaur_ticks, facing=LEFT)
        self.ticks = 0
        self.state = PLAYING

    # -- queries -------------------------------------------------------------------------------------------------
    def is_open(self, tile: Position) -> bool:
        return self.board.is_open(tile)

    def chase_goal(self) -> Position:
        """The tile the minotaur aims at: where the player stands, or the tile it is moving to."""
        return self.player.tile

    def gap(self) -> float:
        """Manhattan distance, in tiles, between the player's and the minotaur's interpolated positions."""
        (pr, pc), (mr, mc) = self.player.where(), self.minotaur.where()
        return abs(pr - mr) + abs(pc - mc)

    @property
    def seconds(self) -> float:
        return self.ticks / TICKS_PER_SECOND

    @property
    def awake(self) -> bool:
        return self.ticks >= self.params.wake_ticks

    # -- the tick ------------------------------------------------------------------------------------------------
    def step(self, want: str | Sequence[str] | None = None) -> str:
        """Advance one tick.

        Args:
            want: the direction the player wants, or several in order of preference (the first open one is
                taken when the player stands on a tile; the opposite of the current move turns back at once).

        Returns:
            the state after the tick: ``"playing"``, ``"won"`` or ``"caught"``.
        """
        if self.state != PLAYING:
            return self.state
        wants = [want] if isinstance(want, str) else list(want or [])
        for name in wants:
            if name not in DIRECTIONS:
                raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {name!r}")
        self.ticks += 1
        self._move_player(wants)
        if self.player.pos == self.exit and self.player.target is None:
            self.state = WON
            return self.state
        if self.awake:
            self._move_minotaur()
        if self.gap() < CATCH_DISTANCE:
            self.state = CAUGHT
        return self.state

    def _move_player(self, wants: list[str]) -> None:
        p = self.player
        if p.target is not None and wants and wants[0] == OPPOSITE[p.facing]:
            # Turning back mid-move: swap ends, keep the covered fraction.
            p.pos, p.target = p.target, p.pos
            p.progress = p.move_ticks - p.progress
            p.facing = wants[0]
        # A move chosen while standing starts this tick; one chosen on arrival starts next tick, so every tick
        # of motion covers exactly 1 / move_ticks of a tile.
        if p.target is None:
            self._choose(wants)
        if p.advance() and p.pos != self.exit:
            self._choose(wants)

    def _choose(self, wants: list[str]) -> None:
        p = self.player
        for name in wants:
            dr, dc = DIRECTIONS[name]
            tile = (p.pos[0] + dr, p.pos[1] + dc)
            if self.is_open(tile):
                p.start(name, tile)
                return

    def _move_minotaur(self) -> None:
        m = self.minotaur
        if m.target is None:
            self._hunt()
        if m.advance():
            self._hunt()

    def _hunt(self) -> None:
        """Step towards the player: to a neighbour one step closer along a shortest path."""
        m = self.minotaur
        goal = self.chase_goal()
        here = self.board.dist(m.pos, goal)
        if here <= 0:
            return
        for name, tile in neighbours(self.grid, m.pos):
            if self.board.dist(tile, goal) == here - 1:
                m.start(name, tile)
                return


@dataclass
class Run:
    """A run of levels: the level number, the score and the seed of the current level.

    The score adds, for each cleared level, ``100 × level`` plus a time bonus of 10 points for every second
    under par (par: three times the time the shortest route takes at the player's speed).
    """

    seed: int
    level: int = 1
    score: int = 0
    cleared: int = 0
    total_ticks: int = 0
    history: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def params(self) -> LevelParams:
        return level_params(self.level)

    def finish(self, world: World) -> None:
        """Book a finished level (won or caught); a win moves the run to the next level and seed."""
        if world.state == PLAYING:
            raise ValueError("finish() takes a finished world, got one still playing")
        self.total_ticks += world.ticks
        self.history.append((self.level, self.seed, world.state))
        if world.state == WON:
            route = world.board.dist(world.start, world.exit)
            par = 3 * route * world.params.player_ticks
            self.score += 100 * self.level + 10 * max(0, par - world.ticks) // TICKS_PER_SECOND
            self.cleared += 1
            self.level += 1
            self.seed = next_seed(self.seed)


def next_seed(seed: int) -> int:
    """The level code after ``seed``: consecutive, so ``--seed S`` replays a level and everything after it; after the
    largest code (``MAX_SEED``, 2**53, what ``play --seed`` accepts) it wraps to 0."""
    return (int(seed) + 1) % (MAX_SEED + 1)
