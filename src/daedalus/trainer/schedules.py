"""KL-weight schedules as pure functions of the step (nanoGPT's ``get_lr`` style): no state, trivially resumable.

``none``: a constant weight ``beta_max``. ``monotonic``: 0 → ``beta_max`` linearly over the first ``ratio`` of the
run, then flat. ``cyclical`` (Fu et al. 2019, "Cyclical Annealing Schedule"): the run is split into ``cycles``
equal cycles; within each, the weight rises linearly from 0 to ``beta_max`` over the first ``ratio`` of the cycle,
then stays flat. The seed's per-epoch cycle is ``cycles = epochs, ratio = 0.5``.
"""

from __future__ import annotations

import math

from daedalus.errors import UsageError

SCHEDULES = ("none", "monotonic", "cyclical")
# Learning-rate schedules: Adam's rate held, or a half cosine from ``lr`` down to 0 over the run (Loshchilov &
# Hutter's SGDR without restarts).
LR_SCHEDULES = ("constant", "cosine")


class ScheduleWarning(UserWarning):
    """A run too short for its KL schedule: β never reaches ``beta_max``."""


def check_schedule(config: dict) -> dict:
    """Validate a schedule configuration; return it with defaults filled in.

    Args:
        config: ``{"kind": .., "beta_max": .., "cycles": .., "ratio": ..}`` (missing keys take defaults).

    Raises:
        UsageError: naming the bad value and what was expected.
    """
    kind = config.get("kind", "cyclical")
    if kind not in SCHEDULES:
        raise UsageError(f"unknown KL schedule {kind!r}, expected one of {', '.join(SCHEDULES)}")
    beta_max = float(config.get("beta_max", 1.0))
    cycles = config.get("cycles", 4)
    ratio = float(config.get("ratio", 0.5))
    if not math.isfinite(beta_max) or beta_max < 0:
        raise UsageError(f"KL beta_max must be a finite number >= 0, got {beta_max}")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise UsageError(f"KL schedule cycles must be an integer >= 1, got {cycles!r}")
    if not 0 < ratio <= 1:
        raise UsageError(f"KL schedule ratio must lie in (0, 1], got {ratio}")
    return {"kind": kind, "beta_max": beta_max, "cycles": cycles, "ratio": ratio}


def _check_step(step: int, total_steps: int) -> None:
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")


def kl_weight(
    step: int, total_steps: int, kind: str = "cyclical", beta_max: float = 1.0, cycles: int = 4, ratio: float = 0.5
) -> float:
    """The KL weight β at ``step`` (0-based) of a run of ``total_steps`` optimizer steps.

    Args:
        step: the current step, 0 ≤ step (steps past the end keep the last cycle's shape).
        total_steps: steps in the whole run, ≥ 1.
        kind: ``"none"``, ``"monotonic"`` or ``"cyclical"``.
        beta_max: the weight the schedule rises to.
        cycles: number of cycles over the run (cyclical only).
        ratio: the fraction of the run (monotonic) or of each cycle (cyclical) spent rising.

    Returns:
        β as a float in ``[0, beta_max]``.
    """
    _check_step(step, total_steps)
    if kind == "none":
        return float(beta_max)
    if kind == "monotonic":
        return float(beta_max) * min(1.0, step / (ratio * total_steps))
    if kind == "cyclical":
        period = total_steps / cycles
        # Fu et al.: tau = mod(t - 1, ceil(T / M)) / (T / M) with 1-based t; our step is 0-based.
        tau = (step % math.ceil(period)) / period
        return float(beta_max) * min(1.0, tau / ratio)
    raise ValueError(f"unknown KL schedule {kind!r}, expected one of {', '.join(SCHEDULES)}")


def schedule_peak(config: dict, total_steps: int) -> float:
    """The largest β the schedule ``config`` reaches in a run of ``total_steps`` steps (without visiting every step:
    a cyclical schedule's first cycle holds its peak, a monotonic one's last step).

    A run with no more steps than cycles spends every step at the start of a cycle, where β is 0.
    """
    config = check_schedule(config)
    first_cycle = math.ceil(total_steps / config["cycles"]) + 1 if config["kind"] == "cyclical" else 1
    steps = {*range(min(total_steps, first_cycle)), total_steps - 1}
    return max(kl_weight(step, total_steps, **config) for step in steps)


def schedule_warning(config: dict, total_steps: int, steps_per_epoch: int) -> str | None:
    """A line saying why the schedule ``config`` never raises β to ``beta_max`` in this run, or None."""
    config = check_schedule(config)
    if config["kind"] == "none" or config["beta_max"] == 0:
        return None
    peak = schedule_peak(config, total_steps)
    if peak >= config["beta_max"]:
        return None
    cause = (f"{config['cycles']} cycles over {total_steps} optimizer steps ({steps_per_epoch} per epoch)"
             if config["kind"] == "cyclical" else f"a monotonic rise over {total_steps} optimizer steps")
    effect = "never rises above 0, so the VAE trains as an autoencoder" if peak == 0 else f"rises only to {peak:.3g}"
    return (f"KL schedule {config['kind']} (beta_max {config['beta_max']:g}): with {cause}, beta {effect}; use "
            f"fewer --cycles, more --epochs or a smaller --batch-size")


def schedule_weights(config: dict, total_steps: int) -> list[float]:
    """β for every step of a run under the schedule ``config`` (for plots)."""
    config = check_schedule(config)
    return [kl_weight(step, total_steps, **config) for step in range(total_steps)]


def learning_rate(step: int, total_steps: int, lr: float, kind: str = "constant") -> float:
    """Adam's learning rate at ``step`` (0-based) of a run of ``total_steps`` optimizer steps.

    ``constant``: ``lr`` throughout. ``cosine``: ``lr · (1 + cos(π · step / total_steps)) / 2``, from ``lr`` at the
    first step to nearly 0 at the last (a step past the end keeps the last step's rate).
    """
    _check_step(step, total_steps)
    if kind == "constant":
        return float(lr)
    if kind == "cosine":
        return float(lr) * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps - 1) / total_steps))
    raise ValueError(f"unknown learning-rate schedule {kind!r}, expected one of {', '.join(LR_SCHEDULES)}")
