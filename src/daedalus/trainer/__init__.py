"""The trainer (torch): maze and digit datasets, AE/VAE models, KL schedules, the training loop, checkpoints, figures.

Importing this package is cheap; torch loads when a name that needs it is first used.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "load_model": "daedalus.trainer.checkpoint",
    "CheckpointError": "daedalus.trainer.checkpoint",
    "MazeAutoencoder": "daedalus.trainer.models",
    "MODELS": "daedalus.trainer.models",
    "DEFAULT_MODEL": "daedalus.trainer.models",
    "build_model": "daedalus.trainer.models",
    "model_config": "daedalus.trainer.models",
    "TreeVAE": "daedalus.trainer.tree_models",
    "PotentialTreeVAE": "daedalus.trainer.tree_models",
    "kl_weight": "daedalus.trainer.schedules",
    "SCHEDULES": "daedalus.trainer.schedules",
    "train": "daedalus.trainer.train",
    "resolve_config": "daedalus.trainer.config",
    "TrainingDiverged": "daedalus.trainer.train",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'daedalus.trainer' has no attribute {name!r}")
