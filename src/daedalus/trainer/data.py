"""Training data: backtracker mazes (the real task) and digits (the seed's sanity detour). numpy only.

Nothing is downloaded. Digits come from scikit-learn's bundled ``load_digits`` (8 × 8, upscaled to 28 × 28) or
from MNIST IDX files in a folder the user names.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.backtracker import backtracker_batch
from daedalus.maze.grid import check_shape

DATA_KINDS = ("mazes", "digits", "mnist")


@dataclass
class Dataset:
    """Float32 images in ``[0, 1]`` as ``[N, H, W]``; ``labels`` are digit classes (``None`` for mazes)."""

    train: np.ndarray
    holdout: np.ndarray
    train_labels: np.ndarray | None = None
    holdout_labels: np.ndarray | None = None


def check_data(config: dict) -> dict:
    """Validate a data configuration and fill in defaults. Raises UsageError naming the bad value."""
    kind = config.get("kind", "mazes")
    if kind not in DATA_KINDS:
        raise UsageError(f"unknown data {kind!r}, expected one of {', '.join(DATA_KINDS)}")
    out = {"kind": kind}
    for key, default in (("count", 1280 if kind == "mazes" else 0), ("holdout", 256), ("seed", 0)):
        value = config.get(key, default)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"data {key} must be a non-negative integer, got {value!r}")
        out[key] = value
    if out["holdout"] < 1:
        raise UsageError(f"data holdout must be >= 1 (the held-out set measures every epoch), got {out['holdout']}")
    if kind == "mazes":
        if out["count"] < 1:
            raise UsageError(f"data count must be >= 1 for mazes, got {out['count']}")
        try:
            out["height"], out["width"] = check_shape(config.get("height", 28), config.get("width", 28))
        except ValueError as error:
            raise UsageError(str(error)) from None
        out["fresh"] = bool(config.get("fresh", False))
    else:
        if (config.get("height"), config.get("width")) not in ((None, None), (28, 28)):
            raise UsageError(f"data {kind!r} is 28x28; a size applies to mazes only, "
                             f"got {config.get('height')}x{config.get('width')}")
        out["height"], out["width"] = 28, 28
    if kind == "mnist":
        path = config.get("path")
        if not path:
            raise UsageError("data 'mnist' needs the folder holding the MNIST IDX files (--mnist-dir)")
        if not Path(path).is_dir():
            raise UsageError(f"MNIST folder {str(path)!r} does not exist")
        out["path"] = str(path)
    return out


def maze_set(config: dict, epoch: int = 0) -> np.ndarray:
    """The training mazes of ``epoch`` as float32 ``[count, H, W]``.

    Epoch 0 (and every epoch unless ``fresh``) is ``backtracker_batch(count, H, W, rng=seed)`` — the same mazes as
    ``daedalus dataset --count COUNT --seed SEED``. With ``fresh``, epoch ``e > 0`` draws new mazes from the seed
    sequence ``[seed, 2, e]``, so a resumed run sees the same data as an uninterrupted one.
    """
    shape = (config["height"], config["width"])
    rng = np.random.default_rng([config["seed"], 2, epoch]) if (config.get("fresh") and epoch > 0) else config["seed"]
    return backtracker_batch(config["count"], *shape, rng=rng).astype(np.float32)


def maze_holdout(config: dict) -> np.ndarray:
    """Held-out mazes from their own seed stream ``[seed, 1]``, never in the training set's stream."""
    rng = np.random.default_rng([config["seed"], 1])
    return backtracker_batch(config["holdout"], config["height"], config["width"], rng=rng).astype(np.float32)


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8 × 8 digits (1,797, no download), upscaled to a 20 × 20 box centred in 28 × 28 as
    MNIST does. Returns float32 images ``[N, 28, 28]`` in ``[0, 1]`` and int64 labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError("the offline digits need scikit-learn: pip install 'daedalus[train]'") from None
    from scipy.ndimage import zoom

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0
    big = np.clip(zoom(small, (1, 20 / 8, 20 / 8), order=1), 0.0, 1.0)
    out = np.zeros((len(small), 28, 28), dtype=np.float32)
    out[:, 4:24, 4:24] = big
    return out, digits.target.astype(np.int64)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise UsageError(f"cannot read MNIST file {str(path)!r}: {error}") from None
    if len(data) < 8 or int.from_bytes(data[:4], "big") != magic:
        raise UsageError(f"{str(path)!r} is not an IDX file of the expected type (magic {magic:#010x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    start = 4 + 4 * ndim
    if len(data) - start != int(np.prod(dims)):
        raise UsageError(f"{str(path)!r} is truncated: header says {dims}, got {len(data) - start} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise UsageError(f"MNIST folder {str(folder)!r} has no {stem} (or {stem}.gz)")


def mnist(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST from its IDX files (``{split}-images-idx3-ubyte`` and ``{split}-labels-idx1-ubyte``, optionally
    gzipped) in ``folder``. Returns float32 ``[N, 28, 28]`` in ``[0, 1]`` and int64 labels."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"MNIST folder {str(folder)!r} does not exist")
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"), 0x00000803)
    labels = _read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"), 0x00000801)
    if len(images) != len(labels):
        raise UsageError(f"MNIST folder {str(folder)!r}: {len(images)} images but {len(labels)} labels")
    if images.shape[1:] != (28, 28):
        raise UsageError(f"MNIST images must be 28x28, got {images.shape[1:]}")
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)


def load_dataset(config: dict) -> Dataset:
    """The training and held-out data a (checked) data configuration names."""
    if config["kind"] == "mazes":
        return Dataset(maze_set(config, 0), maze_holdout(config))
    images, labels = sklearn_digits() if config["kind"] == "digits" else mnist(config["path"])
    # A fixed permutation from the seed, so the held-out digits are the same for every run with that seed.
    order = np.random.default_rng([config["seed"], 3]).permutation(len(images))
    holdout = min(config["holdout"], len(images) - 1)
    rest = order[holdout:]
    if config["count"]:
        rest = rest[: config["count"]]
    return Dataset(images[rest], images[order[:holdout]], labels[rest], labels[order[:holdout]])
