"""The classic generators (``daedalus.maze.generators``), braiding, and ``daedalus dataset --generator``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus import maze
from daedalus.cli import main
from daedalus.errors import UsageError
from daedalus.maze import generators
from daedalus.maze.stats import dead_ends, is_lattice, is_perfect, loops, pieces

NAMES = list(maze.GENERATORS)
EXPECTED = [
    "backtracker", "prim", "kruskal", "wilson", "aldous-broder", "eller", "sidewinder", "binary-tree",
    "hunt-and-kill", "growing-tree", "recursive-division",
]


def test_the_registry_holds_exactly_the_named_generators_behind_one_interface():
    assert sorted(NAMES) == sorted(EXPECTED)
    for name, cls in maze.GENERATORS.items():
        assert cls.name == name and issubclass(cls, generators.MazeGenerator)
        links = cls().links(3, 5, np.random.default_rng(0))
        assert links.dtype == bool and links.shape == (maze.num_links((6, 10)),)
        assert links.sum() == 3 * 5 - 1


@pytest.mark.parametrize("name", NAMES)
def test_every_generator_makes_perfect_mazes_at_any_even_size(name):
    rng = np.random.default_rng(11)
    for shape in [(4, 4), (4, 12), (12, 4), (6, 10), (40, 24), (28, 28)]:
        grids = maze.generate_batch(name, 6, *shape, rng)
        assert grids.shape == (6, *shape) and grids.dtype == np.uint8
        assert is_perfect(grids).all(), shape
        # The same check from scratch: lattice rule, every cell open, a tree (edges = positions - 1, one piece).
        assert is_lattice(grids).all() and grids[:, ::2, ::2].all()
        assert (pieces(grids) == 1).all() and (loops(grids) == 0).all()


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(EXPECTED), rows=st.integers(2, 9), cols=st.integers(2, 9), seed=st.integers(0, 2**32 - 1)
)
def test_any_size_and_seed_gives_a_perfect_maze(name, rows, cols, seed):
    assert is_perfect(maze.generate(name, 2 * rows, 2 * cols, np.random.default_rng(seed)))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_maze_and_only_the_given_generator_is_used(name):
    np.random.seed(0)
    a = maze.generate_batch(name, 4, 10, 14, np.random.default_rng(5), braid=0.3)
    np.random.seed(1)  # the global RNG plays no part
    b = maze.generate_batch(name, 4, 10, 14, np.random.default_rng(5), braid=0.3)
    assert np.array_equal(a, b)
    assert np.array_equal(a[0], maze.generate(name, 10, 14, np.random.default_rng(5), braid=0.3))
    # A batch is the mazes drawn one after another from one generator, and they are not all the same.
    rng = np.random.default_rng(5)
    assert np.array_equal(a, np.stack([maze.generate(name, 10, 14, rng, braid=0.3) for _ in range(4)]))
    assert len({g.tobytes() for g in a}) > 1


def test_backtracker_entry_matches_the_original():
    for shape, seed in [((28, 28), 0), ((16, 20), 3), ((40, 24), 7)]:
        rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(5):
            assert np.array_equal(maze.generate("backtracker", *shape, rng_a), maze.backtracker(*shape, rng_b))
        assert rng_a.random() == rng_b.random()  # the same number of draws, too
    assert np.array_equal(
        maze.generate_batch("backtracker", 20, 16, 20, np.random.default_rng(3)), maze.backtracker_batch(20, 16, 20, 3)
    )


def test_braid_adds_loops_and_keeps_every_cell_connected():
    rng = np.random.default_rng(2)
    for name in NAMES:
        perfect = maze.generate_batch(name, 10, 20, 16, np.random.default_rng(4))
        braided = np.stack([maze.braid(grid, 0.5, rng) for grid in perfect])
        assert is_lattice(braided).all() and braided[:, ::2, ::2].all() and (pieces(braided) == 1).all()
        assert loops(braided).sum() > 0 and (braided >= perfect).all(), name  # it only opens links
        # generate(..., braid=p) is the maze, then braid with the same generator.
        rng_a, rng_b = np.random.default_rng(6), np.random.default_rng(6)
        expected = maze.braid(maze.generate(name, 20, 16, rng_b), 0.5, rng_b)
        assert np.array_equal(maze.generate(name, 20, 16, rng_a, braid=0.5), expected)
    grid = maze.generate("prim", 28, 28, rng)
    full = maze.braid(grid, 1.0, rng)
    # p = 1 leaves no dead end; every opening removes at least one and adds one loop.
    assert dead_ends(full) == 0 and loops(full) >= dead_ends(grid) // 2
    assert loops(full) == int(full.sum() - grid.sum())
    assert np.array_equal(maze.braid(grid, 0.0, rng), grid)


def test_braid_skips_a_dead_end_that_an_earlier_opening_already_fixed():
    # 3 x 2 cells, one path: A=(0,0) - (0,1) - (1,1) - (2,1) - (2,0) - B=(1,0). The dead ends are A and B.
    grid = maze.links_to_grid(np.zeros(maze.num_links((6, 4)), dtype=bool), (6, 4))
    for position in [(0, 1), (1, 2), (3, 2), (4, 1), (3, 0)]:
        grid[position] = 1
    assert is_perfect(grid) and dead_ends(grid) == 2
    # A comes first and can only open down, to B; B is then no dead end and keeps its closed link to (1, 1).
    braided = maze.braid(grid, 1.0, np.random.default_rng(0))
    assert braided[1, 0] == 1 and braided[2, 1] == 0
    assert loops(braided) == 1 and dead_ends(braided) == 0


def test_bad_braid_and_bad_sizes_are_refused_with_the_value():
    grid = maze.backtracker(8, 8, 0)
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(UsageError, match="braid"):
            maze.braid(grid, bad, np.random.default_rng(0))
        with pytest.raises(UsageError, match="braid"):
            maze.generate("prim", 8, 8, np.random.default_rng(0), braid=bad)
    with pytest.raises(UsageError, match="got 7"):
        maze.generate("kruskal", 7, 8, np.random.default_rng(0))
    with pytest.raises(UsageError, match="count"):
        maze.generate_batch("kruskal", -1, 8, 8, np.random.default_rng(0))


def test_unknown_generator_is_refused_with_the_names():
    with pytest.raises(UsageError) as info:
        maze.generate("labyrinthine", 8, 8, np.random.default_rng(0))
    message = str(info.value)
    assert "'labyrinthine'" in message and all(name in message for name in EXPECTED)
    with pytest.raises(UsageError, match="'prims'"):
        maze.generate_batch("prims", 2, 8, 8, np.random.default_rng(0))


def test_styles_differ():
    def mean_dead_ends(name, **kwargs):
        return dead_ends(maze.generate_batch(name, 50, 28, 28, np.random.default_rng(1), **kwargs)).mean()

    means = {name: mean_dead_ends(name) for name in NAMES}
    assert means["prim"] > 2 * means["backtracker"]
    assert means["hunt-and-kill"] < 0.5 * means["kruskal"]
    assert means["backtracker"] < means["growing-tree"] < means["prim"]
    # 14 x 14 cells: the uniform spanning trees (wilson, aldous-broder) agree with each other, and with Kruskal
    # roughly (about 57-60 dead ends).
    assert abs(means["wilson"] - means["aldous-broder"]) < 4 and 50 < means["wilson"] < 64
    # Binary tree and sidewinder leave their mark on the border: the top row is one corridor.
    for name in ("binary-tree", "sidewinder"):
        assert maze.generate_batch(name, 10, 28, 28, np.random.default_rng(1))[:, 0, :27].all()
    growing = generators.GrowingTree(newest=1.0).links(14, 14, np.random.default_rng(0))
    assert dead_ends(maze.links_to_grid(growing, (28, 28))) < means["growing-tree"]


def test_wilson_and_aldous_broder_draw_every_spanning_tree_of_a_small_grid_equally_often():
    # A 2 x 3 grid of cells has 15 spanning trees; a uniform sampler hits each about 1/15 of the time.
    for name in ("wilson", "aldous-broder"):
        rng = np.random.default_rng(8)
        maker = maze.GENERATORS[name]()
        counts: dict[bytes, int] = {}
        for _ in range(3000):
            key = maker.links(2, 3, rng).tobytes()
            counts[key] = counts.get(key, 0) + 1
        assert len(counts) == 15
        assert max(counts.values()) < 1.35 * 200 and min(counts.values()) > 0.65 * 200, name


def test_dataset_cli_records_generator_and_braid(tmp_path, capsys):
    out = tmp_path / "eller.npz"
    assert main(["dataset", "--generator", "eller", "--braid", "0.25", "--count", "6", "--size", "12x16",
                 "--seed", "4", "--out", str(out), "--preview", str(tmp_path / "sheet.png")]) == 0
    data = np.load(out)
    expected = maze.generate_batch("eller", 6, 12, 16, np.random.default_rng(4), braid=0.25)
    assert np.array_equal(data["grids"], expected) and loops(data["grids"]).sum() > 0
    assert str(data["generator"]) == "eller" and float(data["braid"]) == 0.25
    assert json.loads(str(data["params"])) == {
        "generator": "eller", "braid": 0.25, "seed": 4, "count": 6, "height": 12, "width": 16,
    }
    assert (tmp_path / "sheet.png").stat().st_size > 0

    default = tmp_path / "default.npz"
    assert main(["dataset", "--count", "5", "--seed", "9", "--out", str(default)]) == 0
    data = np.load(default)
    assert str(data["generator"]) == "backtracker" and float(data["braid"]) == 0.0
    assert np.array_equal(data["grids"], maze.backtracker_batch(5, 28, 28, 9))
    capsys.readouterr()

    for args, message in [
        (["--braid", "1.5"], "--braid must be a probability in [0, 1], got '1.5'"),
        (["--braid", "lots"], "got 'lots'"),
        (["--generator", "prim", "--animate", str(tmp_path / "c.gif")], "--animate"),
    ]:
        assert main(["dataset", "--count", "3", "--out", str(tmp_path / "bad.npz"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad.npz").exists() and not (tmp_path / "c.gif").exists()

    with pytest.raises(SystemExit):  # argparse refuses a name outside the registry, listing the choices
        main(["dataset", "--generator", "nope", "--out", str(tmp_path / "bad.npz")])
    assert "backtracker" in capsys.readouterr().err
