"""Training data: generated mazes (any classic generator, the backtracker by default), a corpus of the user's own
levels (``--data PATH``: a dataset npz or a folder of level files, read and checked by ``daedalus.maze.corpus``), and
digits (the seed's sanity detour). numpy only.

Nothing is downloaded. Digits come from scikit-learn's bundled ``load_digits`` (8 × 8, upscaled to 28 × 28) or
from MNIST IDX files in a folder the user names.

A corpus folder whose files are all dataset npz files is a *many-style* corpus: each file is one style, named by
its file name without ``.npz``; ``Dataset.train_labels`` holds each level's style index.
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
CORPUS = "corpus"  # data given as a path


@dataclass
class Dataset:
    """Float32 images in ``[0, 1]`` as ``[N, H, W]``; ``labels`` are digit classes (``None`` for mazes)."""

    train: np.ndarray
    holdout: np.ndarray
    train_labels: np.ndarray | None = None
    holdout_labels: np.ndarray | None = None
    # Where each level came from, for messages ("file.npz#12"); None for generated mazes and digits.
    train_sources: list[str] | None = None
    holdout_sources: list[str] | None = None


def check_data(config: dict) -> dict:
    """Validate a data configuration and fill in defaults. Raises UsageError naming the bad value."""
    kind = config.get("kind", "mazes")
    if kind == CORPUS or kind not in DATA_KINDS:
        return _check_corpus(config, kind)
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
            out["height"], out["width"] = check_shape(config.get("height") or 28, config.get("width") or 28)
        except ValueError as error:
            raise UsageError(str(error)) from None
        out["fresh"] = bool(config.get("fresh", False))
        from daedalus.maze.generators import GENERATORS

        generator = config.get("generator") or "backtracker"
        if generator not in GENERATORS:
            raise UsageError(f"unknown generator {generator!r}, expected one of {', '.join(GENERATORS)}")
        braid = config.get("braid") or 0.0
        if isinstance(braid, bool) or not isinstance(braid, (int, float)) or not 0.0 <= braid <= 1.0:
            raise UsageError(f"braid must be a probability in [0, 1], got {braid!r}")
        if generator != "backtracker" or braid:
            out["generator"], out["braid"] = generator, float(braid)
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


def is_maze_data(config: dict) -> bool:
    """Whether a data configuration holds mazes (generated or a corpus), not digits."""
    return config.get("kind") in ("mazes", CORPUS)


def _check_corpus(config: dict, kind: str) -> dict:
    """A corpus given by path: read it once here so that a bad file is refused before training starts."""
    from daedalus.maze.corpus import read_corpus

    path = config.get("path") if kind == CORPUS else kind
    if not path or not Path(path).exists():
        raise UsageError(f"--data {path!r} is neither one of {', '.join(DATA_KINDS)} nor an existing dataset npz or "
                         "folder of level files")
    corpus = read_corpus(path)
    out = {"kind": CORPUS, "path": str(Path(path).resolve())}
    for key, default in (("count", 0), ("holdout", 256), ("seed", 0)):
        value = config.get(key)
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"data {key} must be a non-negative integer, got {value!r}")
        out[key] = value
    if len(corpus) < 2:
        raise UsageError(f"--data {path!r} holds {len(corpus)} level; training needs at least 2 (one held out)")
    out["height"], out["width"] = (int(v) for v in corpus.grids.shape[1:])
    asked = (config.get("height"), config.get("width"))
    if asked != (None, None) and asked != (out["height"], out["width"]):
        raise UsageError(f"size {asked[0]}x{asked[1]} does not match --data {path!r}, whose levels are "
                         f"{out['height']}x{out['width']}: leave --size out (a corpus's levels set the size)")
    for key in ("sha256", "format", "generator", "braid"):
        if key in corpus.description:
            out[key] = corpus.description[key]
    styles = corpus_styles(corpus)
    if styles is not None:
        out["styles"] = styles[0]
    return out


def corpus_styles(corpus) -> tuple[list[str], np.ndarray] | None:
    """``(style names, style index per level)`` of a many-style corpus (a folder of several dataset npz files), else
    None."""
    files = [source.split("#")[0] for source in corpus.sources]
    names = sorted(set(files))
    if len(names) < 2 or not all(name.lower().endswith(".npz") and "#" in source
                                 for name, source in zip(files, corpus.sources)):
        return None
    index = {name: i for i, name in enumerate(names)}
    return [name[: -len(".npz")] for name in names], np.array([index[f] for f in files], dtype=np.int64)


def corpus_set(config: dict) -> Dataset:
    """A corpus's levels split into training and held-out sets by a permutation from the data seed (the held-out
    share is at most a tenth of the corpus, and at least one level)."""
    from daedalus.maze.corpus import read_corpus

    corpus = read_corpus(config["path"])
    if config.get("sha256") and corpus.description.get("sha256") not in (None, config["sha256"]):
        raise UsageError(f"corpus {config['path']!r} changed since the run started (sha256 differs)")
    styles = corpus_styles(corpus)
    labels = styles[1] if styles is not None else None
    order = np.random.default_rng([config["seed"], 3]).permutation(len(corpus))
    holdout = max(1, min(config["holdout"], len(corpus) // 10))
    rest = order[holdout:]
    if config["count"]:
        rest = rest[: config["count"]]
    grids = corpus.grids.astype(np.float32)
    pick = (lambda idx: labels[idx]) if labels is not None else (lambda idx: None)
    return Dataset(grids[rest], grids[order[:holdout]], pick(rest), pick(order[:holdout]),
                   [corpus.sources[i] for i in rest], [corpus.sources[i] for i in order[:holdout]])


def generated_mazes(config: dict, count: int, rng) -> np.ndarray:
    """``count`` mazes of the configured generator (the backtracker unless ``generator`` says otherwise)."""
    shape = (config["height"], config["width"])
    generator = config.get("generator", "backtracker")
    if generator == "backtracker" and not config.get("braid"):
        return backtracker_batch(count, *shape, rng=rng)
    from daedalus.maze.generators import generate_batch

    return generate_batch(generator, count, *shape, np.random.default_rng(rng), config.get("braid", 0.0))


def maze_set(config: dict, epoch: int = 0, shard: tuple[int, int] | None = None) -> np.ndarray:
    """The training mazes of ``epoch`` as float32 ``[count, H, W]``.

    Epoch 0 (and every epoch unless ``fresh``) is ``backtracker_batch(count, H, W, rng=seed)`` — the same mazes as
    ``daedalus dataset --count COUNT --seed SEED``. With ``fresh``, epoch ``e > 0`` draws new mazes from the seed
    sequence ``[seed, 2, e]``, so a resumed run sees the same data as an uninterrupted one. ``shard = (rank,
    world_size)`` (a data-parallel run, fresh epochs only): that process's own ``ceil(count / world_size)`` mazes,
    from ``[seed, 2, e, rank]``.
    """
    count = config["count"]
    if config.get("fresh") and epoch > 0:
        key = [config["seed"], 2, epoch]
        if shard is not None:
            key.append(shard[0])
            count = -(-count // shard[1])
        rng = np.random.default_rng(key)
    else:
        rng = config["seed"]
    return generated_mazes(config, count, rng).astype(np.float32)


def maze_holdout(config: dict) -> np.ndarray:
    """Held-out mazes from their own seed stream ``[seed, 1]``, never in the training set's stream."""
    rng = np.random.default_rng([config["seed"], 1])
    return generated_mazes(config, config["holdout"], rng).astype(np.float32)


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
    if config["kind"] == CORPUS:
        return corpus_set(config)
    images, labels = sklearn_digits() if config["kind"] == "digits" else mnist(config["path"])
    # A fixed permutation from the seed, so the held-out digits are the same for every run with that seed.
    order = np.random.default_rng([config["seed"], 3]).permutation(len(images))
    holdout = min(config["holdout"], len(images) - 1)
    rest = order[holdout:]
    if config["count"]:
        rest = rest[: config["count"]]
    return Dataset(images[rest], images[order[:holdout]], labels[rest], labels[order[:holdout]])
