"""The autopilot: a fair bot that plays through the same ``World.step(want)`` a person does, seeing only what the
screen shows (the maze, both positions, the minotaur's speed).

Each time the player stands on a tile:
  1. Time the minotaur: for every tile, the earliest tick it could be there (breadth-first distance from the tile
     it stands on or is heading to, times its ticks per tile, plus what is left of its move and its wake-up wait).
  2. Search outward from the player (breadth first), entering a tile only when the player gets there at least one
     minotaur move ahead of that earliest tick. Every tile so reached is *safe*: no chase can catch the player on
     the way to it.
  3. If the exit is safe, take the first step of that route.
  4. Otherwise flee: among the safe tiles, head for the one with the widest lead over the minotaur, preferring
     tiles on the maze's loops (``daedalus.maze.graph.loop_core``) — a chaser can follow round a loop for ever but
     corners you in a dead end — and, among equals, closer to the exit.
  5. With no safe tile at all, step to the neighbour the minotaur needs longest to reach.
While moving, it turns back at once when the tile ahead stops being safe.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from daedalus.game_demo.rules import DIRECTIONS, OPPOSITE, PLAYING, Position, World

_BIG = 1 << 30


class Autopilot:
    """Call ``want(world)`` once per tick and pass the result to ``world.step``.

    Args:
        world: the level it plays; the loop core and distances to the exit are computed once here.
    """

    def __init__(self, world: World):
        self.world = world
        self.core = world.board.core
        self.to_exit = world.board.distances(world.exit)
        self._from_tile: Position | None = None
        self._from = np.zeros(0)

    def minotaur_times(self) -> np.ndarray:
        """Earliest tick (from now) the minotaur could reach each tile; a huge number where it cannot."""
        w = self.world
        m = w.minotaur
        wait = max(0, w.params.wake_ticks - w.ticks)
        left = (m.move_ticks - m.progress) if m.target is not None else 0
        if self._from_tile != m.tile:
            dist = w.board.distances(m.tile).astype(np.int64)
            self._from_tile, self._from = m.tile, np.where(dist >= 0, dist * m.move_ticks, _BIG)
        return self._from + (wait + left)

    def safe_region(self, times: np.ndarray, origin: Position, delay: int = 0
                    ) -> dict[Position, tuple[int, Position | None]]:
        """Safe tiles reachable from ``origin``, where the player stands ``delay`` ticks from now:
        ``tile -> (arrival tick, first step)``."""
        w = self.world
        step_ticks, margin = w.player.move_ticks, w.minotaur.move_ticks
        height, width = w.grid.shape
        if times[origin] <= delay + margin // 2:
            return {}
        seen: dict[Position, tuple[int, Position | None]] = {origin: (delay, None)}
        queue = deque([origin])
        while queue:
            tile = queue.popleft()
            arrival, first = seen[tile]
            nxt = arrival + step_ticks
            for dr, dc in DIRECTIONS.values():
                r, c = tile[0] + dr, tile[1] + dc
                if not (0 <= r < height and 0 <= c < width) or not w.grid[r, c] or (r, c) in seen:
                    continue
                # The exit ends the level on arrival, so only getting there first matters.
                need = 0 if (r, c) == w.exit else margin
                if nxt <= times[r, c] - need:
                    seen[(r, c)] = (nxt, first or (r, c))
                    queue.append((r, c))
        return seen

    def want(self, world: World | None = None) -> list[str]:
        """The direction(s) to pass to ``World.step`` this tick."""
        w = self.world if world is None else world
        if w is not self.world:
            self.__init__(w)
        if w.state != PLAYING:
            return []
        p = w.player
        if p.target is None:
            origin, delay = p.pos, 0
        elif p.progress + 1 >= p.move_ticks:
            # Arriving this tick: the move chosen now starts from the tile ahead.
            origin, delay = p.target, 1
        else:
            return self._keep_or_turn(p.target)
        if origin == w.exit:
            return []
        times = self.minotaur_times()
        region = self.safe_region(times, origin, delay)
        if w.exit in region:
            return [self._direction(origin, region[w.exit][1])]
        if len(region) > 1:
            def score(tile):
                arrival, _ = region[tile]
                return (bool(self.core[tile]), -self.to_exit[tile], times[tile] - arrival)
            target = max((t for t in region if t != origin), key=score)
            return [self._direction(origin, region[target][1])]
        # Cornered: run to the neighbour the minotaur reaches last.
        options = [(times[origin[0] + dr, origin[1] + dc], name) for name, (dr, dc) in DIRECTIONS.items()
                   if w.is_open((origin[0] + dr, origin[1] + dc))]
        return [max(options)[1]] if options else []

    def _keep_or_turn(self, target: Position) -> list[str]:
        w = self.world
        p = w.player
        if target == w.exit:
            return [p.facing]
        times = self.minotaur_times()
        ahead = p.move_ticks - p.progress
        if ahead > times[target] - w.minotaur.move_ticks and times[p.pos] > times[target]:
            return [OPPOSITE[p.facing]]
        return [p.facing]

    @staticmethod
    def _direction(a: Position, b: Position) -> str:
        delta = (b[0] - a[0], b[1] - a[1])
        for name, d in DIRECTIONS.items():
            if d == delta:
                return name
        raise ValueError(f"{a} and {b} are not neighbours")
