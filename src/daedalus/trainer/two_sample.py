"""A classifier two-sample test: can a small CNN tell one set of levels from another?

1. Take ``k = min(N, M)`` grids of each set (chosen at random from the seed), so that chance is exactly 0.5.
2. Split each set's ``k`` grids half and half into a training part and a held-out part.
3. Train a small CNN (three 3 × 3 convolutions, the first at cell resolution; global average and max pooling;
   batch normalisation; one linear layer) with Adam to say which set a grid came from, for a fixed budget: by
   default as many epochs as make at least ``STEPS`` optimiser steps.
4. Report its accuracy on the held-out part: 0.5 means the sets are indistinguishable to it, 1.0 that every level
   gives itself away.

The budget is fixed (no early stopping on the held-out part, which would bias the figure upwards). Randomness comes
from ``seed`` only; the global torch RNG is left as it was, and so is torch's thread count.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from daedalus.errors import UsageError

# The default budget is counted in optimiser steps, not epochs: a critic trained for a handful of steps (a small
# corpus, a fixed epoch count) would call any two sets "indistinguishable". 300 steps of 64 take a few seconds.
STEPS = 300
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


class _Critic(nn.Module):
    """Grid → one logit.

    Walls are −1 and floor +1, so the zero padding reads as "off the grid", a third value: the network sees the
    border. The first convolution has stride 2 and is centred on the cells (even-even positions), so each of its
    outputs describes one cell and its four links; the two after it see 3 × 3 and then 5 × 5 cells. Working at
    cell resolution is about three times cheaper than at position resolution and was as sensitive in our trials.
    Batch normalisation of the pooled features is what makes small global differences visible: a count that
    barely varies within a set (open links: exactly one fewer than the cells in a perfect maze) becomes a large
    standardised feature, so two extra links per maze are told apart at 1.0 instead of 0.5–0.9.
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.BatchNorm1d(2 * channels), nn.Linear(2 * channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        # Average pooling counts features (how many dead ends, junctions); max pooling flags any one odd spot.
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(pooled).squeeze(1)


def _as_sets(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 3 or b.ndim != 3:
        raise UsageError(f"two_sample_accuracy takes two batches (N, H, W), got shapes {a.shape} and {b.shape}")
    if a.shape[1:] != b.shape[1:]:
        raise UsageError(f"the two sets must hold grids of one size, got shapes {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise UsageError(f"each set needs at least 2 grids (one to train on, one held out), got shapes "
                         f"{a.shape} and {b.shape}")
    return a, b


def _tensor(grids: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.where(grids != 0, 1.0, -1.0).astype(np.float32)[:, None])


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = sum(int(((model(x[i:i + 1024]) > 0).float() == y[i:i + 1024]).sum())
                      for i in range(0, len(x), 1024))
    model.train()
    return correct / len(x)


def _recalibrate(model: nn.Module, x: torch.Tensor) -> None:
    """Replace the batch-norm running statistics by those of the final weights over the whole training part.

    The pooled features the critic relies on can vary very little within a set; statistics averaged over earlier
    weights are then off by many standard deviations and the held-out predictions collapse to one class (we saw
    0.5 on two of four seeds for sets the critic had learnt to tell apart at 1.0).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the chunks below
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 1024):
            model(x[i:i + 1024])


def two_sample_accuracy(a, b, seed: int = 0, epochs: int | None = None, threads: int | None = None) -> dict:
    """Held-out accuracy of a small CNN trained to tell the grids ``a`` from the grids ``b``.

    Args:
        a: ``(N, H, W)`` grids (nonzero = open), e.g. a model's levels.
        b: ``(M, H, W)`` grids of the same size, e.g. the corpus.
        seed: chooses the subsets, the split, the initial weights and the batch order.
        epochs: passes over the training part; None: as many as make at least ``STEPS`` optimiser steps.
        threads: torch CPU threads while it runs (restored afterwards); None keeps torch's setting.

    Returns:
        ``{"accuracy": held-out accuracy, "train_accuracy": accuracy on the training part, "n_train": ...,
        "n_test": ..., "epochs": ...}`` (counts over both sets together). 0.5 = indistinguishable.

    Raises:
        UsageError: when the sets are not ``(N, H, W)`` batches of one grid size with at least 2 grids each.
    """
    a, b = _as_sets(a, b)
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1):
        raise UsageError(f"epochs must be a positive integer or None, got {epochs!r}")
    rng = np.random.default_rng(seed)
    k = min(len(a), len(b))
    half = k // 2
    picks = [rng.permutation(len(grids))[:k] for grids in (a, b)]
    train_x = np.concatenate([a[picks[0][:half]], b[picks[1][:half]]])
    test_x = np.concatenate([a[picks[0][half:]], b[picks[1][half:]]])
    train_y = torch.tensor([0.0] * half + [1.0] * half)
    test_y = torch.tensor([0.0] * (k - half) + [1.0] * (k - half))
    # 2 * half training grids: every batch and recalibration chunk holds an even number, never the 1 that batch
    # normalisation cannot take.
    train_x, test_x = _tensor(train_x), _tensor(test_x)
    if epochs is None:
        epochs = -(-STEPS // -(-len(train_x) // BATCH_SIZE))

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**31)))
            model = _Critic()
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        loss_fn = nn.BCEWithLogitsLoss()
        for _ in range(int(epochs)):
            order = torch.from_numpy(rng.permutation(len(train_x)))
            for i in range(0, len(order), BATCH_SIZE):
                index = order[i:i + BATCH_SIZE]
                loss = loss_fn(model(train_x[index]), train_y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        _recalibrate(model, train_x)
        return {
            "accuracy": _accuracy(model, test_x, test_y),
            "train_accuracy": _accuracy(model, train_x, train_y),
            "n_train": len(train_x),
            "n_test": len(test_x),
            "epochs": int(epochs),
        }
    finally:
        torch.set_num_threads(previous_threads)
