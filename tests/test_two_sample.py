"""What ``daedalus eval --data`` measures: the cell-shape statistics (junctions, straights, turns), the figures
against any corpus (``corpus_figures``) and the classifier two-sample test (``two_sample_accuracy``)."""

import numpy as np
import pytest
import torch

from daedalus.errors import UsageError
from daedalus.maze import backtracker_batch, batch_stats, dead_ends, degrees, junctions, level_stats, straights, turns
from daedalus.maze.evaluation import corpus_figures
from daedalus.maze.grid import cell_mask, link_mask
from daedalus.trainer.two_sample import two_sample_accuracy


def grid_from(height: int, width: int, positions) -> np.ndarray:
    grid = np.zeros((height, width), dtype=np.uint8)
    for r, c in positions:
        grid[r, c] = 1
    return grid


def comb(n: int, height: int = 28, width: int = 28, rng=0) -> np.ndarray:
    """Perfect mazes that look nothing like a backtracker's: every vertical link open, one random row of cells
    joined horizontally."""
    rng = np.random.default_rng(rng)
    grids = np.zeros((n, height, width), dtype=np.uint8)
    grids[:, : height - 1, : width - 1 : 2] = 1  # cells and vertical links
    for grid, row in zip(grids, rng.integers(0, height // 2, size=n)):
        grid[2 * row, : width - 1] = 1
    return grids


def with_extra_links(grids: np.ndarray, count: int, rng=0) -> np.ndarray:
    """``grids`` with ``count`` closed links of each opened at random (braided: ``count`` loops each)."""
    rng = np.random.default_rng(rng)
    out = grids.copy()
    links = link_mask(grids.shape[1:])
    for grid in out:
        closed = np.argwhere(links & (grid == 0))
        chosen = closed[rng.choice(len(closed), count, replace=False)]
        grid[chosen[:, 0], chosen[:, 1]] = 1
    return out


# --- the cell-shape statistics, on grids counted by hand -----------------------------------------------------

def test_u_shape_has_two_turns_and_two_dead_ends():
    # 2 x 2 cells; top link and both vertical links open: the top cells turn, the bottom cells end.
    grid = grid_from(4, 4, [(0, 0), (0, 2), (2, 0), (2, 2), (0, 1), (1, 0), (1, 2)])
    assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (0, 0, 2, 2)


def test_ring_is_four_turns():
    grid = grid_from(4, 4, [(0, 0), (0, 2), (2, 0), (2, 2), (0, 1), (1, 0), (1, 2), (2, 1)])
    assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (0, 0, 4, 0)


def test_plus_is_one_junction_with_four_dead_ends():
    # 3 x 3 cells; only the centre cell, its four links and the four middle-edge cells are open.
    grid = grid_from(6, 6, [(2, 2), (1, 2), (3, 2), (2, 1), (2, 3), (0, 2), (4, 2), (2, 0), (2, 4)])
    assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (1, 0, 0, 4)


def test_t_is_a_junction_of_three_links():
    grid = grid_from(6, 6, [(2, 2), (1, 2), (2, 1), (2, 3), (0, 2), (2, 0), (2, 4)])
    assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (1, 0, 0, 3)


def test_horizontal_and_vertical_corridors_are_straights():
    row = grid_from(6, 6, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)])
    column = row.T.copy()
    for grid in (row, column):
        assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (0, 1, 0, 2)


def test_small_comb_counts():
    # 3 x 3 cells, top row joined: two corner turns, one junction, the middle row straight, the bottom row ends.
    grid = np.zeros((6, 6), dtype=np.uint8)
    grid[:5, :5:2] = 1
    grid[0, :5] = 1
    assert (junctions(grid), straights(grid), turns(grid), dead_ends(grid)) == (1, 3, 2, 3)


def test_closed_cells_count_for_nothing_and_any_grid_works():
    # Every position open (no lattice): cell (0, 0) has two links (a turn), the three others three or four.
    grid = np.ones((4, 4), dtype=np.uint8)
    assert (junctions(grid), straights(grid), turns(grid)) == (3, 0, 1)
    # A closed cell with open links around it is not a cell of any kind.
    grid = grid_from(6, 6, [(1, 2), (3, 2), (2, 1), (2, 3)])
    assert (junctions(grid), straights(grid), turns(grid)) == (0, 0, 0)


def test_single_grid_gives_int_and_batch_gives_array():
    batch = backtracker_batch(5, 10, 12, rng=3)
    for stat in (junctions, straights, turns):
        assert isinstance(stat(batch[0]), int)
        values = stat(batch)
        assert values.shape == (5,) and values[2] == stat(batch[2])


@pytest.mark.parametrize("shape", [(4, 4), (10, 16), (28, 28)])
def test_cells_of_a_perfect_maze_split_by_degree(shape):
    batch = backtracker_batch(30, *shape, rng=7)
    cells = cell_mask(shape)
    degree = degrees(batch)[:, cells]
    assert (junctions(batch) == (degree >= 3).sum(axis=1)).all()
    assert (straights(batch) + turns(batch) == (degree == 2).sum(axis=1)).all()
    assert (dead_ends(batch) + straights(batch) + turns(batch) + junctions(batch) == cells.sum()).all()


def test_batch_stats_and_level_stats_carry_the_shapes():
    batch = backtracker_batch(3, rng=1)
    table = batch_stats(batch)
    one = level_stats(batch[1])
    for name in ("junctions", "straights", "turns"):
        assert one[name] == table[name][1]


# --- corpus_figures -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpora():
    return backtracker_batch(200, rng=0), backtracker_batch(200, rng=1), comb(200, rng=2)


def test_corpus_figures_of_the_same_generator_are_close(corpora):
    a, b, _ = corpora
    figures = corpus_figures(a, b)
    for name in ("dead_ends", "junctions", "straights", "turns", "solution_length", "corridor_length"):
        assert figures[f"w_{name}"] < 0.1, name
    assert figures["perfect"] == figures["solvable"] == figures["distinct"] == 1.0
    assert figures["loops"] == 0.0 and figures["loops_ratio"] is None
    assert figures["junctions"] == pytest.approx(np.mean(junctions(a)))


def test_corpus_figures_of_a_comb_are_far(corpora):
    a, b, c = corpora
    near, far = corpus_figures(b, a), corpus_figures(c, a)
    for name in ("dead_ends", "junctions", "straights", "turns", "solution_length", "corridor_length"):
        assert far[f"w_{name}"] > 3 * near[f"w_{name}"], name
    # A comb has almost no turns and goes straight to the exit.
    for name in ("straights", "turns", "solution_length"):
        assert far[f"w_{name}"] > 0.5, name
    assert far["perfect"] == 1.0 and far["turns"] < 1 and far["solution_length"] == 52


def test_loops_ratio_compares_mean_loops(corpora):
    a, b, _ = corpora
    braided, corpus = with_extra_links(a[:50], 2), with_extra_links(b[:50], 4, rng=1)
    figures = corpus_figures(braided, corpus)
    assert figures["loops"] == 2.0 and figures["loops_ratio"] == pytest.approx(0.5)


def test_corpus_figures_refuses_mismatched_or_empty_sets(corpora):
    a, _, _ = corpora
    with pytest.raises(UsageError, match=r"\(28, 28\).*\(16, 16\)"):
        corpus_figures(a, backtracker_batch(3, 16, 16, rng=0))
    with pytest.raises(UsageError, match="at least one"):
        corpus_figures(a[:0], a)


# --- two_sample_accuracy ------------------------------------------------------------------------------------
# One torch thread: on shared cores two threads spin-wait each other and run several times slower.

@pytest.fixture(scope="module")
def mazes():
    return backtracker_batch(300, 28, 28, 10), backtracker_batch(300, 28, 28, 11)


def test_two_draws_of_the_backtracker_are_indistinguishable(mazes):
    result = two_sample_accuracy(*mazes, seed=0, threads=1)
    assert result["n_train"] == 300 and result["n_test"] == 300
    assert 0.4 <= result["accuracy"] <= 0.6
    # It had the full budget (and learnt the training part by heart): not an untrained critic that says 0.5.
    assert result["epochs"] * 5 >= 300 and result["train_accuracy"] > 0.7


def test_a_comb_is_told_apart_at_once(mazes):
    assert two_sample_accuracy(mazes[0], comb(300, rng=3), seed=0, epochs=3, threads=1)["accuracy"] >= 0.9


def test_two_extra_links_are_told_apart(mazes):
    # Two loops in 196 cells: the statistics barely move, the classifier sees it.
    braided = with_extra_links(mazes[1], 2)
    assert two_sample_accuracy(mazes[0], braided, seed=0, threads=1)["accuracy"] >= 0.9


def test_two_sample_accuracy_is_deterministic_and_leaves_torch_as_it_was(mazes):
    a, b = mazes[0][:100], mazes[1][:80]
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    first = two_sample_accuracy(a, b, seed=5, epochs=3, threads=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    assert two_sample_accuracy(a, b, seed=5, epochs=3, threads=1) == first
    assert first["n_train"] == 80 and first["n_test"] == 80  # balanced: min(100, 80) of each


def test_two_sample_accuracy_refuses_bad_sets(mazes):
    a, _ = mazes
    with pytest.raises(UsageError, match=r"\(300, 28, 28\).*\(4, 16, 16\)"):
        two_sample_accuracy(a, backtracker_batch(4, 16, 16, rng=0))
    with pytest.raises(UsageError, match=r"\(0, 28, 28\)"):
        two_sample_accuracy(a, a[:0])
    with pytest.raises(UsageError, match=r"\(28, 28\)"):
        two_sample_accuracy(a, a[0])
    with pytest.raises(UsageError, match="epochs"):
        two_sample_accuracy(a, a, epochs=0)
