"""Levels on demand (issue 12): the compiled and numpy attributes agree with an independent search, a targeted level
meets its targets and is exactly what its z decodes to, bad or unreachable requests are refused with the range, and
variations stay near their level."""

from collections import deque

import numpy as np
import pytest

from daedalus.errors import UsageError
from daedalus.maze import stats
from daedalus.runtime import Level, MazeGenerator
from daedalus.runtime.targets import (
    ATTRIBUTES,
    TargetError,
    parse_target,
    reachable_ranges,
    searcher_for,
    variations,
    within,
)


@pytest.fixture(scope="module")
def default():
    return MazeGenerator.load(device="cpu")


def _bfs(grid, source):
    height, width = grid.shape
    dist = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < height and 0 <= nc < width and grid[nr, nc] and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


def _longest_path_plain(grid):
    cells = [(r, c) for r in range(0, grid.shape[0], 2) for c in range(0, grid.shape[1], 2) if grid[r, c]]
    best = 0
    for cell in cells:
        dist = _bfs(grid, cell)
        best = max([best] + [dist[other] for other in cells if other in dist])
    return best


def _grids(default, mode, count=40, seed=5):
    return default.raw_levels(default.sample_latents(count, seed), mode)


@pytest.mark.parametrize("mode", ["perfect", "braid"])
def test_longest_path_is_the_largest_distance_between_two_cells(default, mode):
    grids = _grids(default, mode, 12)
    expected = [_longest_path_plain(grid) for grid in grids]
    assert stats.longest_path(grids).tolist() == expected
    assert stats.attributes(grids, backend="numpy")[:, 1].tolist() == expected


@pytest.mark.skipif(stats._native is None, reason="the compiled statistics are not built")
@pytest.mark.parametrize("mode", ["perfect", "braid"])
def test_compiled_attributes_agree_with_numpy_on_model_levels(default, mode):
    grids = _grids(default, mode, 200)
    assert np.array_equal(stats.attributes(grids, backend="c"), stats.attributes(grids, backend="numpy"))


@pytest.mark.skipif(stats._native is None, reason="the compiled statistics are not built")
def test_compiled_attributes_agree_with_numpy_on_any_grid():
    # Random floor: several pieces, loops, closed cells, an unsolvable start or exit.
    rng = np.random.default_rng(3)
    for shape, p in (((10, 12), 0.6), ((8, 6), 0.5), ((16, 16), 0.75), ((4, 4), 0.3)):
        grids = (rng.random((150, *shape)) < p).astype(np.uint8)
        grids[:10] = 0  # all wall
        start, exit = (0, 0), (shape[0] - 2, shape[1] - 2)
        c = stats.attributes(grids, start, exit, backend="c")
        n = stats.attributes(grids, start, exit, backend="numpy")
        assert np.array_equal(c, n)
        assert c[:, 0].tolist() == stats.solution_length(grids, start, exit).tolist()
        assert c[:10].tolist() == [[-1, 0, 0, 0, 0]] * 10
        # Any nonzero value is open floor, whatever the dtype (256 is not 0 once cast to uint8).
        assert np.array_equal(stats.attributes(grids.astype(np.int64) * 256, start, exit, backend="c"), c)


def test_parse_target_reads_name_and_value():
    assert parse_target("solution_length=200") == ("solution_length", 200.0)
    assert parse_target("style=prim") == ("style", "prim")
    for bad in ("solution_length", "=3", "dead_ends=many"):
        with pytest.raises(TargetError, match="--target"):
            parse_target(bad)


def test_the_default_model_reaches_the_ranges_the_issue_asks_for(default):
    """Issue 12: solution lengths from 60 to 360. The shipped decoder's estimated top is 356 (the window-network
    default of 2026-12-02; the one before reached 360): the ends of the issue's range must be requests it meets within
    the default tolerance, and the estimate must lie within that tolerance of them."""
    data = reachable_ranges(default, compute=False)
    assert data is not None, "default.targets.json must ship beside default.onnx"
    perfect = data["perfect"]
    assert perfect["solution_length"][0] <= 60 and perfect["solution_length"][1] >= 360 * 0.95
    for end in (60, 360):
        level = default.generate(1, seed=5, mode="perfect", targets={"solution_length": end}, tolerance=0.05)[0]
        assert level.met is True, (end, level.achieved)
    assert perfect["dead_ends"][0] <= 8 and perfect["dead_ends"][1] >= 80
    assert perfect["loops"] == [0, 0]
    assert data["braid"]["loops"][1] > 20


@pytest.mark.parametrize("mode, targets", [
    ("perfect", {"solution_length": 250}),
    ("perfect", {"dead_ends": 20, "solution_length": 120}),
    ("braid", {"loops": 4, "longest_path": 200}),
    # Prim's levels have 52 junctions on average (1 % below 44); 32 is well outside what the style draws unasked.
    # (30 was at the edge of the search's reach for both the default of 2026-12-02 and its successor: 5 and 4 of six
    # levels within 5 %.)
    ("perfect", {"junctions": 32, "style": "prim"}),
])
def test_targeted_levels_meet_their_targets_and_are_what_their_z_decodes(default, mode, targets):
    levels = default.generate(3, seed=11, mode=mode, targets=targets, tolerance=0.05)
    assert len(levels) == 3
    grids = np.stack([level.grid for level in levels])
    values = stats.attributes(grids, default.info.start, default.info.exit, backend="numpy")
    for i, level in enumerate(levels):
        assert level.met is True and level.targets == targets and level.tolerance == 0.05
        assert stats.is_solvable(level.grid, level.start, level.exit)
        again = default.from_latents(level.z, mode)
        assert np.array_equal(again.grid, level.grid)
        for name, target in targets.items():
            if name == "style":
                assert level.achieved["style"] == target
                continue
            value = values[i, stats.ATTRIBUTE_ORDER.index(name)]
            assert level.achieved[name] == value and within(value, target, 0.05)
            assert level.stats[name] == value
    assert len({level.grid.tobytes() for level in levels}) == 3  # three different levels


def test_targeted_levels_depend_on_the_seed_and_index_only(default):
    targets = {"solution_length": 180}
    five = default.generate(3, seed=4, targets=targets)
    assert np.array_equal(five[0].grid, default.generate(1, seed=4, targets=targets)[0].grid)
    assert [level.index for level in five] == [0, 1, 2]
    assert not np.array_equal(five[0].grid, default.generate(1, seed=5, targets=targets)[0].grid)


def test_targeted_levels_are_fresh_levels_not_the_search_banks(default):
    # The search starts from a bank of levels shared by every seed; a rare target that some bank levels already meet
    # must still give each seed a level of its own, not the same few bank levels again and again.
    targets = {"solution_length": 250}
    searcher = searcher_for(default, "perfect")
    z, outputs, _, _ = searcher.bank()
    bank = {grid.tobytes() for grid in searcher.decoding.levels(outputs, "perfect")[0]}
    levels = [default.generate(1, seed=seed, targets=targets)[0] for seed in range(8)]
    assert all(level.met for level in levels)
    assert not any(level.grid.tobytes() in bank for level in levels)
    assert len({level.grid.tobytes() for level in levels}) == 8


def test_the_level_json_carries_targets_and_achieved(default, tmp_path):
    (level,) = default.generate(1, seed=2, targets={"dead_ends": 40})
    data = level.to_dict()
    assert data["targets"] == {"dead_ends": 40} and data["met"] is True
    assert data["achieved"]["dead_ends"] == stats.dead_ends(level.grid)
    back = Level.from_json(level.to_json())
    assert back.targets == level.targets and back.achieved == level.achieved and back.met is True
    plain = default.generate(1, seed=2)[0].to_dict()
    assert "targets" not in plain and "met" not in plain


@pytest.mark.parametrize("targets, match", [
    ({"solution_length": 2000}, r"solution_length=2000 is outside .* perfect mode: \d+ to \d+"),
    ({"loops": 5}, r"loops=5 is outside .* perfect mode: 0 to 0"),
    ({"width": 3}, "unknown target 'width'"),
    ({"style": "hexagons"}, "the model's styles are"),
    ({"dead_ends": float("nan")}, "finite number"),
    ({}, "non-empty"),
])
def test_bad_requests_are_refused_with_what_is_reachable(default, targets, match):
    with pytest.raises(TargetError, match=match):
        default.generate(1, seed=0, targets=targets)


def test_a_bad_tolerance_is_refused(default):
    for tolerance in (-0.1, 1.0, float("nan"), "5%"):
        with pytest.raises(UsageError, match="tolerance"):
            default.generate(1, seed=0, targets={"dead_ends": 30}, tolerance=tolerance)


def test_a_miss_is_never_silent(default):
    # Zero tolerance on two attributes pulling apart: the search may miss; it must say so either way.
    request = {"solution_length": 300, "dead_ends": 80, "junctions": 70}
    levels = default.generate(2, seed=1, targets=request, tolerance=0.0, strict=False)
    for level in levels:
        hit = all(level.achieved[name] == value for name, value in request.items())
        assert level.met is hit
    if not all(level.met for level in levels):
        with pytest.raises(TargetError, match="missed the targets"):
            default.generate(2, seed=1, targets=request, tolerance=0.0)


def test_variations_stay_near_their_level(default):
    (level,) = default.generate(1, seed=9)
    same = variations(default, level, 2, seed=0, distance=0.0)
    assert all(np.array_equal(v.grid, level.grid) for v in same)
    near = variations(default, level, 8, seed=0, distance=0.1)
    far = variations(default, level, 8, seed=0, distance=1.0)

    def changed(levels):
        return np.mean([(v.grid != level.grid).sum() for v in levels])

    assert 0 < changed(near) < changed(far)
    assert [v.index for v in near] == list(range(8))
    # A level code names the latent generate(1, seed=code) draws.
    assert np.array_equal(variations(default, 9, 1, seed=0, distance=0.0)[0].grid, level.grid)


def test_the_attributes_are_the_issues(default):
    assert ATTRIBUTES == ("solution_length", "longest_path", "dead_ends", "junctions", "loops", "style")


# ---- the command line -------------------------------------------------------------------------------------------
def test_generate_target_writes_levels_that_meet_it(tmp_path, capsys):
    import json

    from daedalus.cli import main

    out = tmp_path / "levels"
    assert main(["generate", "--count", "3", "--seed", "8", "--format", "json", "--out", str(out),
                 "--target", "solution_length=200", "--target", "dead_ends=30"]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"level-8-{i}.json" for i in range(3)]
    for path in files:
        data = json.loads(path.read_text())
        assert data["targets"] == {"solution_length": 200.0, "dead_ends": 30.0} and data["met"] is True
        assert within(data["achieved"]["solution_length"], 200, 0.05)
        level = Level.from_dict(data)
        assert stats.solution_length(level.grid) == data["achieved"]["solution_length"]


def test_generate_refuses_an_unreachable_target_before_writing(tmp_path, capsys):
    from daedalus.cli import main

    out = tmp_path / "levels"
    assert main(["generate", "--count", "2", "--format", "json", "--out", str(out),
                 "--target", "solution_length=900"]) != 0
    err = capsys.readouterr().err
    assert "solution_length=900 is outside" in err and "52 to" in err
    assert not out.exists()
    assert main(["generate", "--count", "2", "--format", "json", "--out", str(out), "--target", "size=3"]) != 0
    assert "unknown target 'size'" in capsys.readouterr().err


def test_generate_like_writes_variations_of_a_level(tmp_path, default):
    from daedalus.cli import main

    (level,) = default.generate(1, seed=30)
    source = tmp_path / "source.json"
    level.to_json(source)
    out = tmp_path / "near.npz"
    assert main(["generate", "--count", "4", "--seed", "1", "--format", "npz", "--out", str(out),
                 "--like", str(source), "--distance", "0.05"]) == 0
    with np.load(out) as data:
        grids, latents = data["grids"], data["latents"]
    assert len(grids) == 4
    changed = [(grid != level.grid).sum() for grid in grids]
    assert max(changed) < 0.5 * (level.grid.size // 2)  # near: most of the maze stays
    assert np.abs(latents - level.z).max() < 0.5


def test_info_lists_the_reachable_targets(capsys):
    from daedalus.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "reachable targets (perfect): solution_length 52-" in out and "loops 0-0" in out


# ---- the game ---------------------------------------------------------------------------------------------------
def test_each_level_asks_for_a_longer_solution_and_fewer_loops():
    from daedalus.game_demo.rules import level_targets

    assert level_targets(1) is None and level_targets(1, "perfect") is None
    asks = [level_targets(n, "braid") for n in range(2, 30)]
    lengths = [a["solution_length"] for a in asks]
    loops = [a["loops"] for a in asks]
    assert lengths == sorted(lengths) and lengths[0] < lengths[5] and max(lengths) <= 340
    assert loops == sorted(loops, reverse=True) and loops[0] > loops[5] and min(loops) >= 4
    assert "loops" not in level_targets(3, "perfect")
    with pytest.raises(ValueError, match="level"):
        level_targets(0)


def test_the_game_gets_the_level_it_asked_for():
    from daedalus.game_demo.levels import LevelSource
    from daedalus.game_demo.rules import level_targets

    source = LevelSource(mode="braid", device="cpu")
    asked = level_targets(4, "braid")
    level = source.wait(77, timeout=60, targets=asked)
    assert level.source == "model" and level.request == asked
    assert within(level.achieved["solution_length"], asked["solution_length"], 0.05)
    assert level.board.dist(level.start, level.exit) == level.achieved["solution_length"]
    first = source.level(77)  # level 1 asks nothing
    assert first.request is None and not np.array_equal(first.grid, level.grid)


def test_generate_like_with_a_target_searches_from_around_the_level(tmp_path, default):
    import json

    from daedalus.cli import main

    out = tmp_path / "near"
    assert main(["generate", "--count", "2", "--seed", "3", "--format", "json", "--out", str(out),
                 "--like", "12", "--target", "dead_ends=35"]) == 0
    like = default.sample_latents(1, 12)[0]
    for path in sorted(out.iterdir()):
        data = json.loads(path.read_text())
        assert data["met"] is True and within(data["achieved"]["dead_ends"], 35, 0.05)
        # Started around the level's latent (spread 0.3), so much nearer to it than a fresh latent is.
        assert np.linalg.norm(np.array(data["z"]) - like) < 0.6 * np.linalg.norm(default.sample_latents(1, 99)[0]
                                                                                 - like)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_attributes_without_the_longest_path_leave_it_minus_one(default, backend):
    if backend == "c" and stats._native is None:
        pytest.skip("the compiled statistics are not built")
    grids = _grids(default, "braid", 20)
    full = stats.attributes(grids, backend=backend)
    short = stats.attributes(grids, backend=backend, longest=False)
    assert (short[:, 1] == -1).all()
    assert np.array_equal(np.delete(short, 1, axis=1), np.delete(full, 1, axis=1))


def test_a_model_without_ranges_gets_them_estimated_once_and_cached_beside_it(decoder_path, tmp_path):
    import json
    import shutil

    from daedalus.runtime.targets import ranges_path

    model = tmp_path / "mine.onnx"
    shutil.copy(decoder_path, model)
    generator = MazeGenerator.load(model, device="cpu")
    assert reachable_ranges(generator, compute=False) is None
    (level,) = generator.generate(1, seed=1, targets={"dead_ends": 30}, strict=False)
    cache = ranges_path(model)
    data = json.loads(cache.read_text())
    assert cache.name == "mine.targets.json" and data["version"] == 2 and data["perfect"]["loops"] == [0, 0]
    assert level.met == bool(within(level.achieved["dead_ends"], 30, 0.05))
    again = MazeGenerator.load(model, device="cpu")
    assert reachable_ranges(again, compute=False) == data
    # A ranges file of another model (another sha256) is not used.
    data["sha256"] = "0" * 64
    cache.write_text(json.dumps(data))
    assert reachable_ranges(MazeGenerator.load(model, device="cpu"), compute=False) is None
