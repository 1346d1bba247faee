import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from daedalus.maze import backtracker_batch, batch_stats
from daedalus.maze.evaluation import (
    evaluate_grids,
    mean_maze_baseline,
    novelty,
    relative_wasserstein,
    set_figures,
    wasserstein_1d,
)

samples = st.lists(st.integers(-50, 50), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def mazes():
    return backtracker_batch(300, rng=0), backtracker_batch(300, rng=1)


@given(samples)
def test_w1_of_identical_samples_is_zero(a):
    assert wasserstein_1d(a, a) == 0.0
    assert wasserstein_1d(a, list(reversed(a))) == 0.0


@given(samples, st.integers(-20, 20))
def test_w1_of_shifted_sample_is_the_shift(a, shift):
    assert wasserstein_1d(a, np.asarray(a) + shift) == pytest.approx(abs(shift))


@settings(max_examples=50)
@given(samples, samples)
def test_w1_matches_scipy_and_is_symmetric(a, b):
    expected = scipy_stats.wasserstein_distance(a, b)
    assert wasserstein_1d(a, b) == pytest.approx(expected, abs=1e-9)
    assert wasserstein_1d(b, a) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=30)
@given(samples, samples, samples)
def test_w1_triangle_inequality(a, b, c):
    assert wasserstein_1d(a, c) <= wasserstein_1d(a, b) + wasserstein_1d(b, c) + 1e-9


def test_w1_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="empty"):
        wasserstein_1d([], [1.0])
    with pytest.raises(ValueError, match="non-finite"):
        wasserstein_1d([np.nan], [1.0])


def test_relative_wasserstein_scales_by_reference_mean():
    assert relative_wasserstein([12, 12], [10, 10]) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="positive"):
        relative_wasserstein([1], [0, 0])


def test_novelty_of_training_grids_themselves_is_zero(mazes):
    train, other = mazes
    assert novelty(train, train) == 0.0
    assert novelty(other, train) == 1.0
    mixed = np.concatenate([train[:100], other[:100]])
    assert novelty(mixed, train) == pytest.approx(0.5)


def test_novelty_ignores_the_open_value_but_not_one_position(mazes):
    train, _ = mazes
    assert novelty(train[:10] * 255, train) == 0.0
    changed = train[:10].copy()
    changed[:, 1, 1] = 1
    assert novelty(changed, train) == 1.0


def test_novelty_rejects_shape_mismatch(mazes):
    with pytest.raises(ValueError, match="training grids"):
        novelty(mazes[0], backtracker_batch(2, 20, 20, rng=0))


def test_mean_maze_baseline_is_lattice_shaped_and_thresholded(mazes):
    train, _ = mazes
    mean = mean_maze_baseline(train, 0.5)
    assert mean.shape == (28, 28) and mean.dtype == np.uint8
    assert mean[0::2, 0::2].all()  # every cell is open in every backtracker maze
    assert not mean[1::2, 1::2].any()
    assert mean_maze_baseline(train, 0.0).all()
    with pytest.raises(ValueError, match="threshold"):
        mean_maze_baseline(train, 1.5)


def test_backtracker_against_a_second_backtracker_sample_is_close(mazes):
    a, b = mazes
    stats_b = batch_stats(b)
    figures = set_figures(a, stats_b, training=b)
    for name in ("w_solution_length", "w_dead_ends", "w_corridor_length"):
        assert figures[name] < 0.1, (name, figures[name])
    assert figures["perfect"] == 1.0 and figures["distinct"] == 1.0 and figures["novelty"] == 1.0


def test_evaluate_grids_reports_raw_repaired_reference_and_baseline(mazes):
    train, reference = mazes
    raw = train[:50].copy()
    raw[:, 0, 1] = 1 - raw[:, 0, 1]  # one flipped link per level: repair changed 1 position of 784
    result = evaluate_grids(raw, train[:50], None, reference, training=train)
    assert result["edits"] == pytest.approx(1 / 784)
    assert result["repaired"]["perfect"] == 1.0 and result["repaired"]["novelty"] == 0.0
    assert result["raw"]["perfect"] == 0.0
    assert result["reference"]["perfect"] == 1.0
    # The thresholded mean maze is a poor maze: its solution is the straight corridor or nothing.
    assert result["baseline"]["perfect"] == 0.0
    assert set(result) == {"raw", "repaired", "reference", "baseline", "edits", "edits_max"}


def test_evaluate_grids_checks_shapes(mazes):
    train, reference = mazes
    with pytest.raises(ValueError, match="same shape"):
        evaluate_grids(train[:5], train[:4], None, reference)
    with pytest.raises(ValueError, match="edits"):
        evaluate_grids(train[:5], train[:5], [0.0], reference)


def test_expressive_range_plot_writes_a_png(tmp_path, mazes):
    pytest.importorskip("matplotlib")
    from daedalus.maze.range_plot import expressive_range_plot

    path = tmp_path / "range.png"
    expressive_range_plot(mazes[0][:100], mazes[1][:100], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=".png"):
        expressive_range_plot(mazes[0][:5], mazes[1][:5], tmp_path / "range.jpg")
