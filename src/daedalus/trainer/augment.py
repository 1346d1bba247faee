"""Training on a corpus's symmetries (``augment = "auto"``, docs/training.md "Symmetries"): which flips and quarter
turns a run shows its levels under, and each epoch's views of the training levels.

The symmetries are found in the data (``daedalus.maze.symmetry``) and fixed when a run starts
(``config["train"]["symmetries"]``: one group of transform names, or one per style of a many-style corpus). Each
epoch shows every training level under ``repeats`` different members of its group, drawn from the epoch's shared
generator, so that every process of a data-parallel run sees the same views.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from daedalus.maze.symmetry import TRANSFORMS, corpus_symmetries, largest_group, square_only, transform, transform_each

# With symmetries, a corpus smaller than this is shown under several of them each epoch (up to all of them).
AUGMENTED_EPOCH = 1600
_NAMES = list(TRANSFORMS)


def symmetries_for(model, data, config: dict) -> list:
    """The transforms training shows the levels under: the largest group the training levels pass the symmetry test
    for (``corpus_symmetries``) among the transforms under which the model can still draw every training level — for
    a many-style corpus one group per style, in the style order; just the identity with ``augment`` ``"none"`` or
    generated mazes that are fresh each epoch."""
    if config["train"].get("augment", "none") != "auto" or config["data"].get("fresh"):
        return ["identity"]
    square = data.train.shape[1] == data.train.shape[2]
    candidates = [name for name in TRANSFORMS if square or not square_only(name)]

    def group(grids: np.ndarray) -> list[str]:
        found = corpus_symmetries(grids, seed=config["train"]["seed"], allowed=candidates)
        return list(largest_group(name for name in found
                                  if name == "identity" or model.undrawable(transform(grids, name)) is None))

    if data.train_labels is None:
        return group(data.train)
    return [group(data.train[data.train_labels == style]) for style in range(int(data.train_labels.max()) + 1)]


def augmented_repeats(levels: int, symmetries: int) -> int:
    """How many different symmetries each level is shown under per epoch: enough for about ``AUGMENTED_EPOCH``
    levels an epoch, at most one per symmetry (1 without symmetries or for a corpus that large)."""
    if symmetries <= 1 or levels == 0:
        return 1
    return max(1, min(symmetries, math.ceil(AUGMENTED_EPOCH / levels)))


class EpochViews:
    """The views of ``count`` training levels each epoch, from ``config["train"]["symmetries"]`` (one group, or one
    per style with the levels' style ``labels``)."""

    def __init__(self, symmetries: list, labels: np.ndarray | None, count: int):
        if not symmetries or isinstance(symmetries[0], str):
            groups, index = [tuple(symmetries or ["identity"])], np.zeros(count, dtype=np.int64)
        else:
            groups, index = [tuple(g) for g in symmetries], np.asarray(labels, dtype=np.int64)
        self.groups = None if all(len(g) == 1 for g in groups) else [groups[i] for i in index]
        self.repeats = augmented_repeats(count, max(map(len, self.groups)) if self.groups else 1)

    def epoch(self, levels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``repeats`` views of every level, ``[repeats · count, H, W]`` (the levels themselves, drawing nothing,
        when every level has only the identity). Level i's k-th view is member ``(first_i + k)`` of its group, with
        ``first_i`` uniform over 8 (group sizes divide 8, so it is uniform over the group)."""
        if self.groups is None:
            return levels
        first = torch.randint(8, (len(levels),), generator=generator, device=levels.device).cpu().numpy()
        grids = levels.cpu().numpy()
        views = [np.array([_NAMES.index(g[(f + k) % len(g)]) for f, g in zip(first, self.groups)])
                 for k in range(self.repeats)]
        return torch.from_numpy(np.concatenate([transform_each(grids, _NAMES, v) for v in views])).to(levels.device)
