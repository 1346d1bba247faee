"""KL schedules: pure functions of the step, with the shapes Fu et al. 2019 define."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.errors import UsageError
from daedalus.trainer.schedules import (
    check_schedule,
    kl_weight,
    learning_rate,
    schedule_peak,
    schedule_warning,
    schedule_weights,
)


@given(st.integers(1, 5000), st.floats(0, 10), st.data())
@settings(max_examples=200, deadline=None)
def test_none_is_constant(total, beta_max, data):
    step = data.draw(st.integers(0, total - 1))
    assert kl_weight(step, total, "none", beta_max) == beta_max


@given(st.integers(2, 5000), st.floats(0.05, 1.0))
@settings(max_examples=100, deadline=None)
def test_monotonic_rises_to_one_then_stays(total, ratio):
    weights = [kl_weight(s, total, "monotonic", 1.0, ratio=ratio) for s in range(total)]
    assert weights[0] == 0.0
    assert all(b >= a for a, b in zip(weights, weights[1:])), "monotonic schedule must never fall"
    assert all(0.0 <= w <= 1.0 for w in weights)
    assert all(w == 1.0 for s, w in enumerate(weights) if s >= ratio * total)


def test_monotonic_reaches_one_at_half_of_the_run():
    assert kl_weight(0, 400, "monotonic") == 0.0
    assert kl_weight(100, 400, "monotonic") == pytest.approx(0.5)
    assert kl_weight(200, 400, "monotonic") == 1.0
    assert kl_weight(399, 400, "monotonic") == 1.0


@given(st.integers(1, 20), st.integers(1, 200), st.floats(0.1, 1.0), st.floats(0.1, 5.0))
@settings(max_examples=100, deadline=None)
def test_cyclical_restarts_each_cycle(cycles, period, ratio, beta_max):
    total = cycles * period
    weights = [kl_weight(s, total, "cyclical", beta_max, cycles, ratio) for s in range(total)]
    for c in range(cycles):
        cycle = weights[c * period : (c + 1) * period]
        assert cycle[0] == 0.0, "every cycle starts from 0"
        assert all(b >= a for a, b in zip(cycle, cycle[1:])), "within a cycle the weight never falls"
        assert all(w == pytest.approx(beta_max) for s, w in enumerate(cycle) if s >= ratio * period)
        assert max(cycle) <= beta_max + 1e-12


def test_cyclical_matches_fu_et_al_values():
    # T = 100, M = 4, R = 0.5: each cycle is 25 steps, rising over 12.5 of them.
    assert kl_weight(0, 100, "cyclical", 1.0, 4, 0.5) == 0.0
    assert kl_weight(5, 100, "cyclical", 1.0, 4, 0.5) == pytest.approx(0.4)
    assert kl_weight(13, 100, "cyclical", 1.0, 4, 0.5) == 1.0
    assert kl_weight(25, 100, "cyclical", 1.0, 4, 0.5) == 0.0
    assert kl_weight(30, 100, "cyclical", 1.0, 4, 0.5) == pytest.approx(0.4)


def test_seed_per_epoch_cycle_is_one_setting():
    # The seed: 40 epochs of 10 steps, 0 -> 1 over the first half of every epoch.
    epochs, steps = 40, 10
    total = epochs * steps
    for epoch in range(epochs):
        weights = [kl_weight(epoch * steps + s, total, "cyclical", 1.0, epochs, 0.5) for s in range(steps)]
        assert weights == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0])


def test_schedule_weights_and_defaults():
    assert len(schedule_weights({"kind": "cyclical"}, 37)) == 37
    assert check_schedule({}) == {"kind": "cyclical", "beta_max": 1.0, "cycles": 4, "ratio": 0.5}


@pytest.mark.parametrize("bad", [{"kind": "sawtooth"}, {"cycles": 0}, {"ratio": 0.0}, {"ratio": 1.5},
                                 {"beta_max": -1.0}, {"beta_max": math.inf}])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(UsageError):
        check_schedule(bad)


def test_bad_steps_are_refused():
    with pytest.raises(ValueError):
        kl_weight(-1, 10)
    with pytest.raises(ValueError):
        kl_weight(0, 0)


@pytest.mark.parametrize("total, cycles, peak", [(1, 4, 0.0), (2, 4, 0.0), (4, 4, 0.0), (5, 4, 1.0), (8, 4, 1.0),
                                                 (400, 4, 1.0), (3, 1, 1.0), (2, 1, 1.0)])
def test_schedule_peak_is_the_largest_weight_of_the_run(total, cycles, peak):
    config = {"kind": "cyclical", "beta_max": 1.0, "cycles": cycles, "ratio": 0.5}
    assert schedule_peak(config, total) == peak == max(schedule_weights(config, total))


@given(st.sampled_from(["monotonic", "cyclical"]), st.integers(1, 300), st.integers(1, 12), st.floats(0.05, 1.0))
@settings(max_examples=200, deadline=None)
def test_schedule_peak_agrees_with_every_step(kind, total, cycles, ratio):
    config = {"kind": kind, "beta_max": 0.1, "cycles": cycles, "ratio": ratio}
    assert schedule_peak(config, total) == max(schedule_weights(config, total))


def test_a_run_too_short_for_its_cycles_is_named():
    short = schedule_warning({"kind": "cyclical", "beta_max": 0.1, "cycles": 4}, total_steps=2, steps_per_epoch=1)
    assert short.startswith("KL schedule cyclical (beta_max 0.1): with 4 cycles over 2 optimizer steps (1 per "
                            "epoch), beta never rises above 0, so the VAE trains as an autoencoder")
    assert "--cycles" in short
    assert schedule_warning({"kind": "cyclical", "beta_max": 0.1, "cycles": 4}, 400, 10) is None
    assert schedule_warning({"kind": "none", "beta_max": 0.1}, 1, 1) is None
    assert "beta rises only to 0.05" in schedule_warning({"kind": "monotonic", "beta_max": 0.1, "ratio": 1.0}, 2, 1)


@given(st.integers(1, 5000), st.floats(1e-6, 1.0), st.data())
@settings(max_examples=100, deadline=None)
def test_constant_learning_rate_never_moves(total, lr, data):
    step = data.draw(st.integers(0, total + 10))
    assert learning_rate(step, total, lr, "constant") == lr


@given(st.integers(2, 3000), st.floats(1e-6, 1.0))
@settings(max_examples=100, deadline=None)
def test_cosine_learning_rate_falls_from_lr_towards_zero(total, lr):
    rates = [learning_rate(step, total, lr, "cosine") for step in range(total)]
    assert rates[0] == lr
    assert all(b <= a for a, b in zip(rates, rates[1:])), "a cosine schedule must never rise"
    assert 0 < rates[-1] <= lr * (math.pi / total) ** 2  # 1 - cos(pi/T) over 2, near 0 at the last step
    assert learning_rate(total // 2, total, lr, "cosine") == pytest.approx(
        lr * 0.5 * (1 + math.cos(math.pi * (total // 2) / total)))
    assert learning_rate(total + 5, total, lr, "cosine") == rates[-1]


def test_cosine_learning_rate_is_half_way_at_the_middle():
    assert learning_rate(50, 100, 1e-3, "cosine") == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        learning_rate(0, 10, 1e-3, "step")
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        learning_rate(0, 0, 1e-3, "cosine")
