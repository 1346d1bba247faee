"""The autopilot is a fair player that finishes levels: it plays through World.step like a person."""

import numpy as np
import pytest

from daedalus.game_demo.autopilot import Autopilot
from daedalus.game_demo.levels import fallback_grid
from daedalus.game_demo.rules import CAUGHT, PLAYING, WON, LevelParams, Run, World, level_params


def play(world: World, limit_s: int = 120) -> str:
    bot = Autopilot(world)
    while world.state == PLAYING and world.ticks < limit_s * 60:
        world.step(bot.want())
    return world.state


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_bot_clears_the_first_levels_of_a_run(seed):
    run = Run(seed=1000 * seed)
    while run.level <= 4:
        world = World(fallback_grid(run.seed), (0, 0), (26, 26), run.params, seed=run.seed)
        state = play(world)
        assert state == WON, f"caught or stuck on level {run.level} (code {run.seed})"
        run.finish(world)
    assert run.cleared == 4


def test_bot_escapes_round_a_loop_when_the_minotaur_blocks_the_short_way():
    # A ring of cells round a wall block, the exit hanging off its far corner. The minotaur is as fast as the
    # player and starts between it and the exit: the short way is death, only going the other way round wins.
    grid = np.zeros((8, 8), dtype=np.uint8)
    grid[0, 0:5] = 1
    grid[4, 0:5] = 1
    grid[0:5, 0] = 1
    grid[0:5, 4] = 1
    grid[4:7, 4] = 1
    grid[6, 4:7] = 1
    params = LevelParams(player_ticks=8, minotaur_ticks=8, wake_ticks=0)
    world = World(grid, (0, 2), (6, 6), params, minotaur=(0, 4))
    bot = Autopilot(world)
    first = bot.want()
    assert first == ["left"]  # away from the minotaur, round the loop
    assert play(world, limit_s=20) == WON


def test_bot_is_caught_in_a_dead_end_with_a_fast_minotaur():
    # Fairness: no loop, the minotaur blocks the only way out and is faster; the bot cannot cheat past it.
    grid = np.zeros((4, 12), dtype=np.uint8)
    grid[0, :11] = 1
    world = World(grid, (0, 0), (0, 10), LevelParams(player_ticks=8, minotaur_ticks=6, wake_ticks=0),
                  minotaur=(0, 6))
    assert play(world, limit_s=20) == CAUGHT


def test_bot_survives_longer_in_braid_mazes_than_perfect_ones():
    # The same hard setting on the same mazes with and without loops: loops are how the bot escapes.
    params = level_params(10)
    braid_wins = perfect_wins = 0
    for seed in range(6):
        braid_wins += play(World(fallback_grid(seed, mode="braid"), (0, 0), (26, 26), params, seed=seed)) == WON
        perfect_wins += play(World(fallback_grid(seed, mode="perfect"), (0, 0), (26, 26), params, seed=seed)) == WON
    assert braid_wins > perfect_wins
