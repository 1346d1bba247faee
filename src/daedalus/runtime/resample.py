"""Importance resampling by a critic: each level is the best-liked of K candidate walks, chosen at random in
proportion to ``exp(logit)`` of a critic file (a small CNN trained by ``daedalus critic`` to tell the decoder's
levels from its training corpus, so that ``exp(logit)`` estimates ``p_corpus / p_decoder``).

Why: a decoder misses its corpus in ways no per-style rule names; weighting its own draws by a learned density ratio
moves them toward the corpus for any style (EXPERIMENTS.md "Importance resampling"), at K times the decoding cost.

The choice is a pure function of the level code (docs/formats.md "Resampling"):
  1. ``base = mix(code ^ RESAMPLE_SALT)`` (``levelcode``'s SplitMix64 output function).
  2. Candidate 0 is the level code itself (the plain level); candidate ``j >= 1`` is ``base + j`` (mod 2**64).
  3. ``u = (mix(base ^ CHOICE_SALT) >> 11) * 2**-53`` in [0, 1).
  4. ``w_j = exp(s_j - max s)`` for the critic's float32 logits ``s_j`` (computed in float64); the level is the
     first candidate ``j`` with ``u * sum(w) < w_0 + ... + w_j`` (the last one if rounding leaves none).

numpy + onnxruntime only (no torch), like the rest of the runtime.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import numpy as np

from daedalus.errors import ModelError, UsageError
from daedalus.runtime.levelcode import _TWO_53, _mix

RESAMPLE_SALT = 0xD1B54A32D192ED03
CHOICE_SALT = 0x8CB92BA72F3D8DD7
CRITIC_FORMAT = "1"
CRITIC_INPUT, CRITIC_OUTPUT = "level", "logit"
MAX_RESAMPLE = 64


def check_resample(k) -> int:
    """``k`` candidates per level: an integer from 1 (no resampling) to ``MAX_RESAMPLE``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_RESAMPLE:
        raise UsageError(f"resample must be an integer from 1 to {MAX_RESAMPLE} (candidates per level), got {k!r}")
    return int(k)


def _bases(codes: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return _mix(np.asarray(codes, dtype=np.uint64) ^ np.uint64(RESAMPLE_SALT))


def candidate_codes(codes, k: int) -> np.ndarray:
    """``(len(codes), k)`` uint64: the level codes of each level's candidates (column 0: the level code itself)."""
    codes = np.asarray(codes, dtype=np.uint64).reshape(-1)
    out = np.empty((len(codes), k), dtype=np.uint64)
    out[:, 0] = codes
    if k > 1:
        with np.errstate(over="ignore"):
            out[:, 1:] = _bases(codes)[:, None] + np.arange(1, k, dtype=np.uint64)[None, :]
    return out


def choice_uniforms(codes) -> np.ndarray:
    """``(len(codes),)`` float64 in [0, 1): the number each level's choice among its candidates uses."""
    with np.errstate(over="ignore"):
        word = _mix(_bases(codes) ^ np.uint64(CHOICE_SALT))
    return (word >> np.uint64(11)).astype(np.float64) * _TWO_53


def choose(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """``(n,)`` int: the candidate kept per level from ``(n, k)`` critic logits, with probability ∝ ``exp(logit)``."""
    s = np.asarray(logits, dtype=np.float32).astype(np.float64)
    if not np.isfinite(s).all():
        raise ModelError("the critic returned NaN or inf logits")
    weights = np.exp(s - s.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    threshold = np.asarray(uniforms, dtype=np.float64)[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= threshold).sum(axis=1), s.shape[1] - 1)


def file_digest(path: Path) -> str:
    """sha256 of a file (the decoder a critic was trained against), hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def critic_files(model: str | os.PathLike, matching: bool = True) -> list[Path]:
    """The critic files beside a decoder ``M.onnx``: ``M.critic.onnx`` (what ``daedalus critic`` writes by default)
    and ``M.*.critic.onnx`` (one per style, e.g. the shipped ``default.prim.critic.onnx``), sorted. ``matching``:
    only those trained against this very file (metadata ``decoder_sha256``), so that ``m.small.critic.onnx``, the
    critic of a decoder ``m.small.onnx`` beside it, is not taken for one of ``m.onnx``'s."""
    from daedalus.runtime.onnxfile import inspect_onnx

    path = Path(model)
    stem = path.stem if path.suffix == ".onnx" else path.name
    found = sorted(p for p in path.parent.glob(f"{glob.escape(stem)}.*critic.onnx")
                   if p.is_file() and p.name.endswith(".critic.onnx"))
    if not matching or not found:
        return found
    digest = file_digest(path)
    kept = []
    for file in found:
        try:
            recorded = inspect_onnx(file.read_bytes(), str(file)).metadata.get("decoder_sha256", "")
        except (OSError, ModelError):
            continue
        if recorded in ("", digest):
            kept.append(file)
    return kept


class Critic:
    """A critic file opened with onnxruntime: input ``level`` float32 ``[batch, H, W]`` (1 = floor), output
    ``logit`` float32 ``[batch]``; metadata ``daedalus_critic``, ``height``, ``width``, ``decoder_sha256``, ``mode``
    and ``style`` (docs/formats.md "Critic files"). Use ``Critic.load(path)``."""

    def __init__(self, session, path: Path, metadata: dict):
        self._session = session
        self.path = path
        self.metadata = metadata
        self.shape = (int(metadata["height"]), int(metadata["width"]))
        self.decoder_sha256 = metadata.get("decoder_sha256", "")
        self.mode = metadata.get("mode") or "perfect"
        self.style = metadata.get("style") or None

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu", threads: int | None = 1) -> "Critic":
        """Open and check a critic file.

        Raises:
            ModelError: missing, not ONNX, not a critic (metadata, input or output), or of an unknown format.
        """
        from daedalus.runtime.onnxfile import inspect_onnx
        from daedalus.runtime.session import _read_file, choose_providers, onnxruntime, session_options

        path = Path(path)
        source = f"critic {str(path)!r}"
        if not path.is_file():
            raise ModelError(f"critic file {str(path)!r} does not exist (or is not a file); write one with "
                             "'daedalus critic --model M'")
        data = _read_file(path)
        metadata = inspect_onnx(data, source).metadata
        found = metadata.get("daedalus_critic")
        if found is None:
            raise ModelError(f"{source} is not a Daedalus critic (no daedalus_critic metadata; write one with "
                             "'daedalus critic --model M --data PATH')")
        if found != CRITIC_FORMAT:
            raise ModelError(f"{source} has critic format {found!r}, expected {CRITIC_FORMAT!r}")
        for key in ("height", "width"):
            if not metadata.get(key, "").isdigit():
                raise ModelError(f"{source}: metadata {key} must be a positive integer, got {metadata.get(key)!r}")
        try:
            session = onnxruntime().InferenceSession(data, sess_options=session_options(threads),
                                                     providers=choose_providers(device))
        except Exception as error:
            raise ModelError(f"onnxruntime cannot load {source}: {str(error).strip().splitlines()[0]}") from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [CRITIC_INPUT] or [o.name for o in outputs] != [CRITIC_OUTPUT]:
            raise ModelError(f"{source}: inputs {[i.name for i in inputs]} and outputs {[o.name for o in outputs]}, "
                             f"expected [{CRITIC_INPUT!r}] and [{CRITIC_OUTPUT!r}]")
        return cls(session, path, metadata)

    def check_decoder(self, shape: tuple[int, int], model_path: Path, digest: str | None = None) -> None:
        """Refuse a decoder this critic was not trained against (its ratio would be another model's). ``digest``:
        the model file's sha256 when the caller has it already."""
        source = f"critic {str(self.path)!r}"
        if self.shape != tuple(shape):
            raise UsageError(f"{source} scores {self.shape[0]}x{self.shape[1]} levels, the model draws "
                             f"{shape[0]}x{shape[1]}")
        if self.decoder_sha256 and self.decoder_sha256 != (digest or file_digest(model_path)):
            raise UsageError(f"{source} was trained against another decoder than {str(model_path)!r} "
                             "(decoder_sha256 differs); train one for it with 'daedalus critic'")

    def check_request(self, mode: str, style: str | None) -> None:
        """Refuse a mode or style this critic was not trained on."""
        source = f"critic {str(self.path)!r}"
        if mode != self.mode:
            raise UsageError(f"{source} was trained on {self.mode} levels, got mode {mode!r}")
        if style != self.style:
            raise UsageError(f"{source} was trained on style {self.style!r}, got style {style!r}")

    def logits(self, grids: np.ndarray) -> np.ndarray:
        """float32 ``(n,)`` logits of uint8 grids ``(n, H, W)``."""
        x = np.ascontiguousarray(grids, dtype=np.float32)
        try:
            (out,) = self._session.run([CRITIC_OUTPUT], {CRITIC_INPUT: x})
        except Exception as error:
            raise ModelError(f"critic {str(self.path)!r} failed on a batch of {len(x)}: "
                             f"{str(error).strip().splitlines()[0]}") from None
        out = np.asarray(out, dtype=np.float32).reshape(-1)
        if out.shape != (len(x),):
            raise ModelError(f"critic {str(self.path)!r} returned {out.shape}, expected ({len(x)},)")
        return out
