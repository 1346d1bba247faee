"""The decoder contract, in one place: what an exported ONNX decoder is named, which metadata it carries and what
each decoding kind outputs. ``daedalus.export`` writes through it and ``daedalus.runtime`` reads through it
(docs/formats.md "ONNX decoder"). numpy only: both sides import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from daedalus.errors import ModelError
from daedalus.maze.grid import LATTICE_RULE, check_shape

FORMAT_VERSION = "1"
# Format 2 adds outputs a decoder has only when its metadata names them (OPTIONAL_OUTPUTS): a runtime that knows
# format 1 only would walk without them and draw other levels, so it must refuse such a file. Format 3 adds the
# raster walk's order (metadata walk_order other than identity): a runtime that knows format 2 at most would not
# turn its levels back.
FORMAT_VERSIONS = ("1", "2", "3", "4")
INPUT_NAME = "z"
# The graph's outputs per decoding kind, in order. A kind is one entry here, one trainer model and one runtime
# decoding class (daedalus.runtime.decodings).
OUTPUTS: dict[str, tuple[str, ...]] = {
    "threshold": ("p_open",),
    "carve": ("p_open", "carve_scores"),
    "raster": ("cell_logits", "context_mix", "context_basis", "uniforms"),
}
# Outputs a decoding kind adds after its own when a metadata key is present (in this order), e.g. a raster decoder
# with a window network (metadata window_hidden).
OPTIONAL_OUTPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "raster": {"window_hidden": ("window_bias", "window_weights")},
}
DEFAULT_DECODING = "threshold"


def output_names(decoding: str, metadata: dict) -> tuple[str, ...]:
    """The graph's outputs of a decoder of kind ``decoding`` with ``metadata``, in order."""
    extra = [names for key, names in OPTIONAL_OUTPUTS.get(decoding, {}).items() if key in metadata]
    return OUTPUTS[decoding] + tuple(name for names in extra for name in names)


def format_version(decoding: str, metadata: dict) -> str:
    """The oldest format that describes a decoder: 4 when its walk or a style's has a temperature other than 1
    (``walk_temperature``, top-level or in a style's ``corpus``), else 3 when its walk has an order other than rows
    from the top (``walk_order``), else 2 when it has optional outputs, else 1."""
    try:
        styles = json.loads(metadata.get("styles", "[]"))
    except ValueError:
        styles = []  # read_contract names the fault
    tempered = metadata.get("walk_temperature", "1") not in ("1", "1.0")
    if tempered or any(isinstance(entry, dict) and isinstance(entry.get("corpus"), dict)
                       and entry["corpus"].get("walk_temperature", 1.0) != 1.0 for entry in styles):
        return "4"
    if metadata.get("walk_order", "identity") != "identity":
        return "3"
    return "2" if len(output_names(decoding, metadata)) > len(OUTPUTS[decoding]) else "1"
REQUIRED_METADATA = ("daedalus_format", "latent_dim", "height", "width", "lattice_rule", "start", "exit", "threshold")
# onnxruntime guarantees ai.onnx opsets from 7; Unity Sentis reads up to 15, which is the export's default.
MIN_OPSET, MAX_OPSET, DEFAULT_OPSET = 7, 21, 15
PRIORS = ("normal", "aggregate")


@dataclass(frozen=True)
class Style:
    """How to sample one style of a many-style decoder: ``code = mean + scale_tril @ ε`` over the code part of z."""

    name: str
    mean: np.ndarray
    scale_tril: np.ndarray
    corpus: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """The decoder contract read from a model's metadata.

    ``latent_dim`` is the width of the graph's input ``z``; for a walk decoder it is ``code_dim + noise_dim`` (the
    learned code, then the walk's noise). ``prior_mean``/``prior_scale_tril`` cover the first ``len(prior_mean)``
    dimensions of z; the rest are N(0, 1).
    """

    latent_dim: int
    height: int
    width: int
    start: tuple[int, int]
    exit: tuple[int, int]
    threshold: float
    prior_mean: np.ndarray | None
    prior_scale_tril: np.ndarray | None
    metadata: dict
    decoding: str = DEFAULT_DECODING
    code_dim: int | None = None
    styles: tuple[Style, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        return output_names(self.decoding, self.metadata)

    @property
    def noise_dim(self) -> int:
        return self.latent_dim - (self.code_dim if self.code_dim is not None else self.latent_dim)

    def style(self, name: str) -> Style:
        for style in self.styles:
            if style.name == name:
                return style
        names = ", ".join(s.name for s in self.styles) or "none: this decoder has one style"
        raise KeyError(f"style {name!r} is not one of this decoder's styles ({names})")


def _gaussian(value, source: str, key: str, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        mean = np.asarray(value["mean"], dtype=np.float64)
        tril = np.asarray(value["scale_tril"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{source}: {key} needs numeric 'mean' and 'scale_tril'") from None
    k = len(mean) if mean.ndim == 1 else -1
    if k < 1 or (dim is not None and k > dim) or tril.shape != (k, k):
        raise ModelError(f"{source}: {key} mean {mean.shape} / scale_tril {tril.shape}, expected (k,) / (k, k) "
                         f"with 1 <= k <= {dim}")
    if not (np.isfinite(mean).all() and np.isfinite(tril).all()):
        raise ModelError(f"{source}: {key} holds non-finite numbers")
    return mean, np.tril(tril)


def read_contract(metadata: dict[str, str], source: str) -> ModelInfo:
    """Check a decoder's ``metadata_props`` against the contract and return what they say.

    Raises:
        ModelError: naming the key and the value that break the contract.
    """
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ModelError(f"{source} is not a Daedalus decoder: metadata_props lacks {', '.join(missing)} "
                         "(see docs/formats.md, ONNX decoder)")
    if metadata["daedalus_format"] not in FORMAT_VERSIONS:
        raise ModelError(f"{source}: daedalus_format {metadata['daedalus_format']!r} is not supported, "
                         f"expected one of {', '.join(map(repr, FORMAT_VERSIONS))}")

    def integer(key: str, low: int) -> int:
        try:
            value = int(metadata[key])
        except ValueError:
            raise ModelError(f"{source}: metadata {key}={metadata[key]!r} is not an integer") from None
        if value < low:
            raise ModelError(f"{source}: metadata {key}={value}, expected >= {low}")
        return value

    if metadata["lattice_rule"] != LATTICE_RULE:
        raise ModelError(f"{source}: lattice_rule {metadata['lattice_rule']!r} is not the one this runtime repairs "
                         f"({LATTICE_RULE!r})")
    latent_dim, height, width = integer("latent_dim", 1), integer("height", 4), integer("width", 4)
    try:
        check_shape(height, width)
    except ValueError as error:
        raise ModelError(f"{source}: metadata height/width: {error}") from None

    def position(key: str) -> tuple[int, int]:
        try:
            row, col = (int(v) for v in json.loads(metadata[key]))
        except (ValueError, TypeError):
            raise ModelError(f"{source}: metadata {key}={metadata[key]!r}, expected JSON [row, col]") from None
        if not (0 <= row < height - 1 and 0 <= col < width - 1 and row % 2 == 0 and col % 2 == 0):
            raise ModelError(f"{source}: metadata {key}=[{row}, {col}] is not a cell of the {height}x{width} "
                             "lattice (even row and column inside the grid)")
        return row, col

    start, exit = position("start"), position("exit")
    try:
        threshold = float(metadata["threshold"])
    except ValueError:
        raise ModelError(f"{source}: metadata threshold={metadata['threshold']!r} is not a number") from None
    if not 0.0 < threshold <= 1.0:
        raise ModelError(f"{source}: metadata threshold={threshold}, expected a number in (0, 1]")

    mean = tril = None
    if "latent_prior" in metadata:
        try:
            prior = json.loads(metadata["latent_prior"])
            kind = prior["kind"]
        except (ValueError, TypeError, KeyError):
            raise ModelError(f"{source}: metadata latent_prior={metadata['latent_prior']!r}, expected JSON "
                             '{"kind": "normal"} or {"kind": "gaussian", "mean": [..], "scale_tril": [[..]]}') from None
        if kind == "gaussian":
            mean, tril = _gaussian(prior, source, "latent_prior gaussian", latent_dim)
        elif kind != "normal":
            raise ModelError(f"{source}: latent_prior kind {kind!r}, expected 'normal' or 'gaussian'")
    decoding = metadata.get("decoding", DEFAULT_DECODING)
    if decoding not in OUTPUTS:
        raise ModelError(f"{source}: metadata decoding={decoding!r}, expected one of {', '.join(OUTPUTS)}")
    code_dim = integer("code_dim", 1) if "code_dim" in metadata else None
    if code_dim is not None and code_dim > latent_dim:
        raise ModelError(f"{source}: metadata code_dim={code_dim} exceeds latent_dim={latent_dim}")
    styles = _styles(metadata, source, code_dim or latent_dim)
    return ModelInfo(latent_dim, height, width, start, exit, threshold, mean, tril, dict(metadata), decoding,
                     code_dim, styles)


def _styles(metadata: dict[str, str], source: str, code_dim: int) -> tuple[Style, ...]:
    if "styles" not in metadata:
        return ()
    try:
        entries = json.loads(metadata["styles"])
    except ValueError:
        raise ModelError(f"{source}: metadata styles is not JSON") from None
    if not isinstance(entries, list):
        raise ModelError(f"{source}: metadata styles must be a JSON list of {{name, mean, scale_tril}}")
    styles = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ModelError(f"{source}: every entry of metadata styles needs a non-empty 'name', got {entry!r}"[:300])
        mean, tril = _gaussian(entry, source, f"style {entry['name']!r}", code_dim)
        styles.append(Style(entry["name"], mean, tril, dict(entry.get("corpus") or {})))
    if len({s.name for s in styles}) != len(styles):
        raise ModelError(f"{source}: metadata styles repeats a name")
    return tuple(styles)


def style_entry(name: str, mean: np.ndarray, scale_tril: np.ndarray, corpus: dict | None = None) -> dict:
    """One element of the ``styles`` metadata list (the export writes these)."""
    return {"name": name, "mean": np.asarray(mean, dtype=np.float64).round(6).tolist(),
            "scale_tril": np.asarray(scale_tril, dtype=np.float64).round(6).tolist(), "corpus": corpus or {}}
