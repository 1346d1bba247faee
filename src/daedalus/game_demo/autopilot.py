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
        self.core_flat = world.board.core.ravel().tolist()
        self.to_exit_flat = world.board.distances(world.exit).ravel().tolist()
        self.exit_flat = world.exit[0] * world.grid.shape[1] + world.exit[1]
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
        width = self.world.grid.shape[1]
        seen = self._safe(times.ravel().tolist(), origin[0] * width + origin[1], delay)
        return {divmod(t, width): (a, None if f < 0 else divmod(f, width)) for t, (a, f) in seen.items()}

    def _safe(self, limit: list[int], start: int, delay: int) -> dict[int, tuple[int, int]]:
        """``safe_region`` on flat indices (row * W + col): ``tile -> (arrival, first step or -1)``."""
        w = self.world
        step_ticks, margin = w.player.move_ticks, w.minotaur.move_ticks
        if limit[start] <= delay + margin // 2:
            return {}
        adjacency = w.board.adjacency
        exit_flat = self.exit_flat
        seen: dict[int, tuple[int, int]] = {start: (delay, -1)}
        queue = deque([start])
        while queue:
            tile = queue.popleft()
            arrival, first = seen[tile]
            nxt = arrival + step_ticks
            for n in adjacency[tile]:
                # The exit ends the level on arrival, so only getting there first matters.
                if n not in seen and nxt <= limit[n] - (0 if n == exit_flat else margin):
                    seen[n] = (nxt, n if first < 0 else first)
                    queue.append(n)
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
        width = w.grid.shape[1]
        start = origin[0] * width + origin[1]
        limit = self.minotaur_times().ravel().tolist()
        region = self._safe(limit, start, delay)
        if self.exit_flat in region:
            step = region[self.exit_flat][1]
        elif len(region) > 1:
            core, to_exit = self.core_flat, self.to_exit_flat
            best = max((t for t in region if t != start),
                       key=lambda t: (core[t], -to_exit[t], limit[t] - region[t][0]))
            step = region[best][1]
        else:
            # Cornered: run to the neighbour the minotaur reaches last.
            options = w.board.adjacency[start]
            if not options:
                return []
            step = max(options, key=lambda n: limit[n])
        return [self._direction(origin, divmod(step, width))]

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
