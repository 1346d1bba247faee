"""The chase rules, without pygame: walls, the minotaur's pursuit, catching, winning and progression."""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.game_demo.levels import fallback_grid
from daedalus.game_demo.rules import (
    CAUGHT,
    DIRECTIONS,
    LEFT,
    PLAYING,
    RIGHT,
    WON,
    LevelParams,
    Run,
    World,
    level_params,
    next_seed,
)
from daedalus.maze import distances

AWAKE = LevelParams(player_ticks=8, minotaur_ticks=10, wake_ticks=0, start_fraction=0.5)
NAMES = sorted(DIRECTIONS)


def corridor(length: int, den: bool = False) -> np.ndarray:
    """A straight corridor of ``length`` cells along row 0; ``den`` adds a pocket below its start at (2, 0)."""
    grid = np.zeros((4, 2 * length + 2), dtype=np.uint8)
    grid[0, : 2 * length + 1] = 1
    if den:
        grid[1:3, 0] = 1
    return grid


def test_rules_never_import_pygame():
    assert "daedalus.game_demo.rules" in sys.modules
    import subprocess

    code = "import sys, daedalus.game_demo.rules, daedalus.game_demo.autopilot, daedalus.game_demo.levels; " \
           "print('pygame' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), moves=st.lists(st.sampled_from(NAMES + [None]), min_size=50, max_size=300))
def test_player_never_enters_a_wall_and_moves_one_tile_at_a_time(seed, moves):
    world = World(fallback_grid(seed), (0, 0), (26, 26), LevelParams(wake_ticks=10**6), seed=seed)
    previous = world.player.pos
    for want in moves:
        for _ in range(3):
            world.step(want)
            p = world.player
            assert world.grid[p.pos] == 1
            if p.target is not None:
                assert world.grid[p.target] == 1
                assert abs(p.target[0] - p.pos[0]) + abs(p.target[1] - p.pos[1]) == 1
            assert abs(p.pos[0] - previous[0]) + abs(p.pos[1] - previous[1]) <= 1
            previous = p.pos


def test_player_stops_at_a_wall():
    world = World(corridor(3), (0, 0), (0, 6), AWAKE, minotaur=(0, 6))
    for _ in range(40):
        world.step("up")  # wall above, border: nothing happens
    assert world.player.pos == (0, 0) and world.player.target is None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), moves=st.lists(st.sampled_from(NAMES), min_size=20, max_size=80))
def test_every_minotaur_step_shortens_its_path_to_the_player(seed, moves):
    world = World(fallback_grid(seed), (0, 0), (26, 26), AWAKE, seed=seed)
    steps = 0
    for want in moves:
        for _ in range(6):
            before = world.minotaur.target
            pos = world.minotaur.pos
            if world.step(want) != PLAYING:
                return
            m = world.minotaur
            if m.target is not None and m.target != before:
                # The reference BFS (maze.stats.distances), from the tile the minotaur aimed at.
                dist = distances(world.grid, world.chase_goal())
                assert dist[m.target] == dist[m.pos] - 1
                assert m.pos == pos or m.pos == before
                steps += 1
    assert steps > 0


def test_minotaur_sleeps_until_its_wake_tick():
    params = LevelParams(wake_ticks=30)
    world = World(corridor(8), (0, 0), (0, 16), params, minotaur=(0, 12))
    for _ in range(29):
        world.step(None)
    assert world.minotaur.pos == (0, 12) and world.minotaur.target is None
    world.step(None)
    assert world.minotaur.target == (0, 11)


def test_catching_a_standing_player():
    world = World(corridor(4), (0, 0), (0, 8), AWAKE, minotaur=(0, 4))
    for _ in range(100):
        if world.step(None) != PLAYING:
            break
    assert world.state == CAUGHT
    assert world.gap() < 0.75
    # Nothing moves once the level is over.
    ticks = world.ticks
    assert world.step(RIGHT) == CAUGHT and world.ticks == ticks


def test_running_into_the_minotaur_is_caught_not_passed():
    world = World(corridor(6), (0, 0), (0, 12), AWAKE, minotaur=(0, 10))
    states = [world.step(RIGHT) for _ in range(200)]
    assert CAUGHT in states and WON not in states
    assert world.player.where()[1] < world.minotaur.where()[1] + 0.75


def test_reaching_the_exit_wins_in_the_expected_time():
    params = LevelParams(player_ticks=8, minotaur_ticks=20, wake_ticks=10**6)
    world = World(corridor(5, den=True), (0, 0), (0, 10), params, minotaur=(2, 0))
    while world.step(RIGHT) == PLAYING:
        pass
    assert world.state == WON and world.ticks == 10 * 8


def test_turning_back_mid_move_keeps_the_covered_fraction():
    world = World(corridor(3), (0, 0), (0, 6), LevelParams(wake_ticks=10**6), minotaur=(0, 6))
    for _ in range(11):
        world.step(RIGHT)  # one tile and 3/8 of the next
    assert world.player.pos == (0, 1) and world.player.progress == 3
    assert world.player.where()[1] == pytest.approx(1 + 3 / 8)
    world.step(LEFT)
    assert world.player.target == (0, 1) and world.player.pos == (0, 2)
    assert world.player.where()[1] == pytest.approx(1 + 2 / 8)


def test_bad_direction_and_bad_tiles_are_rejected():
    world = World(corridor(3), (0, 0), (0, 6))
    with pytest.raises(ValueError, match="north"):
        world.step("north")
    with pytest.raises(ValueError, match="exit"):
        World(corridor(3), (0, 0), (1, 1))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), level=st.integers(1, 12))
def test_minotaur_starts_far_and_off_the_exit(seed, level):
    params = level_params(level)
    world = World(fallback_grid(seed), (0, 0), (26, 26), params, seed=seed)
    dist = distances(world.grid, (0, 0))
    assert world.minotaur.pos != world.exit
    assert dist[world.minotaur.pos] >= params.start_fraction * dist.max()
    assert world.minotaur.pos[0] % 2 == 0 and world.minotaur.pos[1] % 2 == 0
    # Same seed, same start.
    assert World(fallback_grid(seed), (0, 0), (26, 26), params, seed=seed).minotaur.pos == world.minotaur.pos


def test_difficulty_rises_and_starts_winnable():
    curve = [level_params(n) for n in range(1, 20)]
    assert curve[0].minotaur_ticks > curve[0].player_ticks  # level 1: the minotaur is slower
    for easier, harder in zip(curve, curve[1:]):
        assert harder.minotaur_ticks <= easier.minotaur_ticks
        assert harder.wake_ticks <= easier.wake_ticks
        assert harder.start_fraction <= easier.start_fraction
    assert curve[-1].minotaur_ticks < curve[-1].player_ticks  # late levels: faster than the player
    with pytest.raises(ValueError, match="0"):
        level_params(0)


def test_run_progression_and_score():
    run = Run(seed=41)
    won = World(corridor(3, den=True), (0, 0), (0, 6), run.params, minotaur=(2, 0))
    while won.step(RIGHT) == PLAYING:
        pass
    assert won.state == WON
    run.finish(won)
    assert (run.level, run.seed, run.cleared) == (2, next_seed(41), 1)
    assert run.score >= 100
    assert run.params.minotaur_ticks < level_params(1).minotaur_ticks
    caught = World(corridor(3), (0, 0), (0, 6), AWAKE, minotaur=(0, 2))
    while caught.step(None) == PLAYING:
        pass
    score = run.score
    run.finish(caught)
    assert (run.level, run.cleared, run.score) == (2, 1, score)
    assert run.history == [(1, 41, WON), (2, 42, CAUGHT)]
    with pytest.raises(ValueError, match="playing"):
        run.finish(World(corridor(3), (0, 0), (0, 6)))


def test_level_codes_follow_each_other_up_to_the_largest_seed_and_wrap_to_zero():
    from daedalus.maze.backtracker import MAX_SEED

    assert next_seed(41) == 42
    assert next_seed(2**31 - 1) == 2**31  # no wrap at 2**31: play --seed accepts codes up to 2**53
    assert next_seed(MAX_SEED) == 0
