"""Plot the three KL schedules for a 40-epoch run of 10 steps per epoch to docs/figures/kl-schedules.png.

    python experiments/plot_schedules.py [OUT.png]
"""

import sys
from pathlib import Path

from daedalus.trainer.figures import _plt, _save
from daedalus.trainer.schedules import schedule_weights

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    plt = _plt()
    total = 400
    settings = [
        ("none (β = 1)", {"kind": "none"}),
        ("monotonic (0 → 1 over the first half)", {"kind": "monotonic", "ratio": 0.5}),
        ("cyclical, Fu et al. (M = 4, R = 0.5)", {"kind": "cyclical", "cycles": 4, "ratio": 0.5}),
        ("cyclical, the seed's (one cycle per epoch)", {"kind": "cyclical", "cycles": 40, "ratio": 0.5}),
    ]
    fig, axes = plt.subplots(len(settings), 1, figsize=(7, 6), sharex=True)
    for ax, (title, config) in zip(axes, settings):
        ax.plot(schedule_weights(config, total), color="tab:purple")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-0.05, 1.1)
        ax.set_ylabel("β")
    axes[-1].set_xlabel("step (40 epochs × 10 steps)")
    fig.tight_layout()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "figures" / "kl-schedules.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
