"""``MazeGenerator``: load an ONNX decoder, sample latents, decode, clip, repair, return ``Level``s.

numpy + onnxruntime + the maze core only: a game embeds this without torch. The model file is checked before
onnxruntime sees it (exists, parses as ONNX, no external data, an opset this onnxruntime runs, the Daedalus
metadata), then its inputs, outputs and one probe decode are checked against the contract. Every onnxruntime
error is re-raised as ``ModelError`` naming the file.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import onnxruntime as ort

from daedalus.maze.backtracker import as_generator
from daedalus.maze.grid import LATTICE_RULE, check_shape
from daedalus.maze.repair import MODES, repair
from daedalus.maze.scored_carve import carve
from daedalus.runtime.errors import DeviceError, ModelError, UsageError
from daedalus.runtime.level import Level
from daedalus.runtime.onnxfile import inspect_onnx

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default.onnx"
FORMAT_VERSION = "1"
REQUIRED_METADATA = ("daedalus_format", "latent_dim", "height", "width", "lattice_rule", "start", "exit", "threshold")
DEVICES = ("auto", "cpu", "cuda")
# How a model's output becomes a maze: threshold p_open, or walk carve_scores depth-first (always a perfect maze).
DECODINGS = ("threshold", "carve")
SCORES = "carve_scores"
# Braid levels from a carve decoder: its walk plus every wall whose p_open (the decoder's preference for the link)
# reaches this. 0.75 gives about 11 loops per 28 x 28 level, as many as the link VAE's braid levels had.
CARVE_BRAID_PREFERENCE = 0.75
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
# onnxruntime guarantees ai.onnx opsets from 7 and rejects opsets newer than it knows when the session is made.
MIN_OPSET = 7
DEFAULT_CHUNK = 1024
# Batches larger than this are cut into slices (at least this big) whose decode and repair overlap.
PIPELINE_SLICE = 256


def installed_runtimes() -> list[str]:
    """Which onnxruntime distributions are installed (they share one import name and must not be mixed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            version(name)
            found.append(name)
        except PackageNotFoundError:
            pass
    return found


def _warn_if_both_runtimes() -> None:
    if len(installed_runtimes()) == 2:
        warnings.warn(
            "both onnxruntime and onnxruntime-gpu are installed; they share the import name and one silently "
            "shadows the other. Keep one: 'pip uninstall -y onnxruntime onnxruntime-gpu' then "
            "'pip install onnxruntime-gpu' (GPU) or 'pip install onnxruntime' (CPU).",
            RuntimeWarning,
            stacklevel=3,
        )


def choose_providers(device: str = "auto", providers: Sequence | None = None) -> list:
    """The execution providers to ask onnxruntime for. An explicit ``providers`` list wins; otherwise CUDA first
    when asked for (``"cuda"``) or offered (``"auto"``), CPU always last.

    Raises:
        UsageError: for an unknown device. DeviceError: for ``"cuda"`` when onnxruntime offers no CUDA provider.
    """
    if providers is not None:
        providers = list(providers)
        if not providers:
            raise UsageError("providers must name at least one onnxruntime execution provider, got []")
        return providers
    if device not in DEVICES:
        raise UsageError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    available = ort.get_available_providers()
    if device == "cuda":
        if CUDA not in available:
            raise DeviceError(
                f"device 'cuda' asked for, but this onnxruntime offers only {', '.join(available)}. Install "
                "onnxruntime-gpu (what the daedalus[gpu] extra names), which replaces onnxruntime: "
                "'pip uninstall -y onnxruntime && pip install onnxruntime-gpu' (never both; see docs/runtime.md)"
            )
        return [CUDA, CPU]
    if device == "auto" and CUDA in available:
        return [CUDA, CPU]
    return [CPU]


@dataclass(frozen=True)
class ModelInfo:
    """The decoder contract read from a model's metadata."""

    latent_dim: int
    height: int
    width: int
    start: tuple[int, int]
    exit: tuple[int, int]
    threshold: float
    prior_mean: np.ndarray | None
    prior_scale_tril: np.ndarray | None
    metadata: dict
    decoding: str = "threshold"


def _read_contract(metadata: dict[str, str], source: str) -> ModelInfo:
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ModelError(f"{source} is not a Daedalus decoder: metadata_props lacks {', '.join(missing)} "
                         "(see docs/formats.md, ONNX decoder)")
    if metadata["daedalus_format"] != FORMAT_VERSION:
        raise ModelError(f"{source}: daedalus_format {metadata['daedalus_format']!r} is not supported, "
                         f"expected {FORMAT_VERSION!r}")

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
            try:
                mean = np.asarray(prior["mean"], dtype=np.float64)
                tril = np.asarray(prior["scale_tril"], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise ModelError(f"{source}: latent_prior gaussian needs numeric 'mean' and 'scale_tril'") from None
            if mean.shape != (latent_dim,) or tril.shape != (latent_dim, latent_dim):
                raise ModelError(f"{source}: latent_prior mean {mean.shape} / scale_tril {tril.shape}, expected "
                                 f"({latent_dim},) / ({latent_dim}, {latent_dim})")
            if not (np.isfinite(mean).all() and np.isfinite(tril).all()):
                raise ModelError(f"{source}: latent_prior holds non-finite numbers")
            tril = np.tril(tril)
        elif kind != "normal":
            raise ModelError(f"{source}: latent_prior kind {kind!r}, expected 'normal' or 'gaussian'")
    decoding = metadata.get("decoding", "threshold")
    if decoding not in DECODINGS:
        raise ModelError(f"{source}: metadata decoding={decoding!r}, expected one of {', '.join(DECODINGS)}")
    return ModelInfo(latent_dim, height, width, start, exit, threshold, mean, tril, dict(metadata), decoding)


def _check_file(path: Path) -> bytes:
    if not path.exists():
        raise ModelError(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise ModelError(f"model path {str(path)!r} is not a file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read model file {str(path)!r}: {error.strerror}") from None


class MazeGenerator:
    """Levels from an ONNX maze decoder. Safe to share between threads (onnxruntime sessions are; nothing here
    changes after ``load``).

    Use ``MazeGenerator.load(path)``; then ``generate(count, seed)``, ``from_latents(z)``, ``interpolate(a, b)``.
    """

    def __init__(self, session: ort.InferenceSession, path: Path, info: ModelInfo, chunk_size: int = DEFAULT_CHUNK):
        self._session = session
        self.path = path
        self.info = info
        self.chunk_size = int(chunk_size)
        self.provider = session.get_providers()[0]
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self._outputs = [self._output] + ([SCORES] if info.decoding == "carve" else [])

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", providers: Sequence | None = None,
             chunk_size: int = DEFAULT_CHUNK, threads: int | None = 1) -> "MazeGenerator":
        """Load and check a decoder.

        Args:
            path: the ``.onnx`` file; None loads the model shipped in the package.
            device: ``"auto"`` (CUDA when onnxruntime offers it, else CPU), ``"cpu"`` or ``"cuda"``.
            providers: onnxruntime execution providers; when given they win over ``device``.
            chunk_size: how many latents one decode call takes at most (bounds memory for big counts).
            threads: onnxruntime intra-op threads. Default 1: large batches decode one slice on a helper thread
                while numpy repairs the previous one, so one decode thread plus the repair fill two cores
                (measured 25k vs 17k levels/s with onnxruntime's default on a 2-core CPU). None: onnxruntime's
                default (all cores).

        Raises:
            ModelError: the file is missing, not ONNX, uses external data or an opset this onnxruntime lacks, or is
                not a Daedalus decoder. DeviceError: CUDA asked for and unavailable.
        """
        _warn_if_both_runtimes()
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise UsageError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if path is None:
            path = DEFAULT_MODEL
            if not path.is_file():
                raise ModelError(f"no default model is shipped at {str(path)!r}; pass a decoder exported with "
                                 "'daedalus export' (--model PATH, or MazeGenerator.load(path))")
        path = Path(path)
        source = f"model {str(path)!r}"
        data = _check_file(path)
        onnx = inspect_onnx(data, source)
        if onnx.external_tensors:
            raise ModelError(f"{source} keeps tensors in external data ({', '.join(onnx.external_tensors[:3])}); "
                             "expected one self-contained file (export without external data)")
        opset = onnx.default_opset
        if opset is None or opset < MIN_OPSET:
            raise ModelError(f"{source} uses ai.onnx opset {opset}, expected {MIN_OPSET} or newer (the oldest "
                             f"onnxruntime {ort.__version__} supports)")
        info = _read_contract(onnx.metadata, source)
        chosen = choose_providers(device, providers)

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            session = ort.InferenceSession(data, sess_options=options, providers=chosen)
        except Exception as error:  # onnxruntime raises its own pybind exception types
            text = str(error).strip().splitlines()[0]
            if "ValidateOpsetForDomain" in text or "opset" in text.lower():
                raise ModelError(f"{source} uses ai.onnx opset {opset}, which onnxruntime {ort.__version__} does "
                                 f"not support (expected {MIN_OPSET} up to what this onnxruntime knows; export with "
                                 "a lower opset or upgrade onnxruntime)") from None
            raise ModelError(f"onnxruntime cannot load {source}: {text}") from None
        got = session.get_providers()
        if device == "cuda" and providers is None and got[0] != CUDA:
            raise DeviceError(f"device 'cuda' asked for, but onnxruntime fell back to {got[0]} (CUDA or cuDNN "
                              "libraries missing?); install the gpu extra and a matching CUDA, or use device='cpu'")
        generator = cls(session, path, info, chunk_size)
        generator._check_signature(source)
        return generator

    def _check_signature(self, source: str) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        info = self.info
        if len(inputs) != 1 or inputs[0].name != "z":
            raise ModelError(f"{source} is not a Daedalus decoder: inputs {[i.name for i in inputs]}, expected ['z']")
        expected = ["p_open"] + ([SCORES] if info.decoding == "carve" else [])
        if [o.name for o in outputs] != expected:
            raise ModelError(f"{source} is not a Daedalus decoder: outputs {[o.name for o in outputs]}, "
                             f"expected {expected} (metadata decoding={info.decoding!r})")
        if info.decoding == "carve":
            scores = outputs[1]
            cells = [info.height // 2, info.width // 2, 4]
            fixed = [d for d in scores.shape[1:] if isinstance(d, int)]
            if scores.type != "tensor(float)" or len(scores.shape) != 4 or fixed and fixed != cells[-len(fixed):]:
                raise ModelError(f"{source}: output {SCORES} is {scores.type} {scores.shape}, expected "
                                 f"tensor(float) [batch, {cells[0]}, {cells[1]}, 4]")
        z, p = inputs[0], outputs[0]
        # A dim is an int when fixed, a str or None when symbolic; only a fixed wrong width is an error here.
        width_wrong = len(z.shape) == 2 and isinstance(z.shape[1], int) and z.shape[1] != info.latent_dim
        if z.type != "tensor(float)" or len(z.shape) != 2 or width_wrong:
            raise ModelError(f"{source}: input z is {z.type} {z.shape}, expected tensor(float) "
                             f"[batch, {info.latent_dim}]")
        if p.type != "tensor(float)" or len(p.shape) != 3:
            raise ModelError(f"{source}: output p_open is {p.type} {p.shape}, expected tensor(float) "
                             f"[batch, {info.height}, {info.width}]")
        for axis, want in ((1, info.height), (2, info.width)):
            if isinstance(p.shape[axis], int) and p.shape[axis] != want:
                raise ModelError(f"{source}: output p_open is {p.shape}, expected [batch, {info.height}, "
                                 f"{info.width}] as its metadata says")
        # Declared shapes can be symbolic; one probe decode checks what the graph really returns.
        self.decode(np.zeros((2, info.latent_dim), dtype=np.float32))

    # ---- properties -------------------------------------------------------------------------------------------
    @property
    def metadata(self) -> dict:
        """The model's metadata_props (strings)."""
        return dict(self.info.metadata)

    @property
    def latent_dim(self) -> int:
        return self.info.latent_dim

    @property
    def shape(self) -> tuple[int, int]:
        return self.info.height, self.info.width

    @property
    def threshold(self) -> float:
        return self.info.threshold

    @property
    def providers(self) -> list[str]:
        """The providers the session really runs on, in priority order."""
        return self._session.get_providers()

    # ---- latents ----------------------------------------------------------------------------------------------
    def _check_latents(self, z) -> np.ndarray:
        array = np.asarray(z)
        if array.dtype == object or array.dtype.kind not in "fiu":
            raise UsageError(f"latents must be real numbers (float32 preferred), got dtype {array.dtype}")
        if array.ndim != 2 or array.shape[1] != self.latent_dim:
            raise UsageError(f"latents must have shape (count, {self.latent_dim}), got {array.shape}")
        with np.errstate(over="ignore"):
            cast = array.astype(np.float32)
        if not np.isfinite(cast).all():
            row, col = np.argwhere(~np.isfinite(cast))[0]
            raise UsageError(f"latents must be finite float32 values, got {array[row, col]!r} at [{row}, {col}]")
        return cast

    def sample_latents(self, count: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """``(count, latent_dim)`` float32 latents from the model's prior (``N(0, I)`` unless its metadata says
        otherwise). Draws are sequential, so the first k rows do not depend on ``count``."""
        count = _check_count(count)
        rng = as_generator(rng)
        eps = rng.standard_normal((count, self.latent_dim))
        if self.info.prior_mean is not None:
            eps = self.info.prior_mean + eps @ self.info.prior_scale_tril.T
        return eps.astype(np.float32)

    # ---- the pipeline -----------------------------------------------------------------------------------------
    def decode(self, z, mode: str = "perfect") -> np.ndarray:
        """Open-floor probabilities ``(count, H, W)`` float32 for latents ``(count, latent_dim)`` (or one ``(d,)``
        latent → ``(H, W)``), decoded in chunks of ``chunk_size``. For a carve decoder (metadata
        ``decoding=carve``) this is the decoder's own maze: the depth-first walk over its ``carve_scores``, 1.0
        open and 0.0 wall; with ``mode="braid"`` also every link whose ``p_open`` reaches
        ``CARVE_BRAID_PREFERENCE`` (the loops braid levels keep).

        Raises:
            UsageError: bad latents. ModelError: the decoder failed or broke its contract (shape, NaN).
        """
        single = np.ndim(z) == 1
        z = self._check_latents(np.asarray(z)[None] if single else z)
        out = np.empty((len(z), *self.shape), dtype=np.float32)
        for begin in range(0, len(z), self.chunk_size):
            out[begin : begin + self.chunk_size] = self._decode_chunk(z[begin : begin + self.chunk_size], mode)
        return out[0] if single else out

    def _decode_chunk(self, z: np.ndarray, mode: str = "perfect") -> np.ndarray:
        return self._model_output(*self._run(z), mode)

    def _run(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """onnxruntime alone (what the pipeline's helper thread does): ``(p_open, carve_scores or None)``."""
        try:
            p, *scores = self._session.run(self._outputs, {self._input: z})
        except Exception as error:
            raise ModelError(f"decoder {str(self.path)!r} failed on a batch of {len(z)}: "
                             f"{str(error).strip().splitlines()[0]}") from None
        expected = (len(z), *self.shape)
        if p.shape != expected:
            raise ModelError(f"decoder {str(self.path)!r} returned p_open of shape {p.shape}, expected {expected}")
        # Probabilities sum to a finite number exactly when all are finite (a large finite sum cannot overflow).
        if not np.isfinite(p.sum(dtype=np.float64)) and not np.isfinite(p).all():
            raise ModelError(f"decoder {str(self.path)!r} returned non-finite probabilities (NaN or inf) for "
                             f"{int((~np.isfinite(p)).any(axis=(1, 2)).sum())} of {len(z)} latents")
        return p, (scores[0] if scores else None)

    def _model_output(self, p: np.ndarray, scores: np.ndarray | None, mode: str) -> np.ndarray:
        """What the model draws: ``p_open``, or for a carve decoder its walk (plus braid links in braid mode)."""
        if scores is None:
            return p
        walk = self._walk(scores, len(p))
        if mode == "braid":
            np.maximum(walk, (p >= CARVE_BRAID_PREFERENCE).astype(np.float32), out=walk)
        return walk

    def _levels_chunk(self, p: np.ndarray, scores: np.ndarray | None, mode: str):
        """Model output → repaired grids and edits. A carve decoder's walk is a spanning tree by construction (and
        its braid links only add loops to it), which repair would return unchanged: it is skipped."""
        drawn = self._model_output(p, scores, mode)
        if scores is not None:
            return drawn.astype(np.uint8), np.zeros(len(drawn), dtype=np.int64)
        result = self.repair(drawn, mode)
        return result.grids, result.edits

    def _walk(self, scores: np.ndarray, count: int) -> np.ndarray:
        """A carve decoder's mazes: the depth-first walk over its scores, as float32 0/1 grids."""
        # carve checks the shape and NaN itself; its ValueError names the problem.
        if len(scores) != count:
            raise ModelError(f"decoder {str(self.path)!r} returned {SCORES} for {len(scores)} latents, expected "
                             f"{count}")
        try:
            return carve(scores, self.shape, self.info.start).astype(np.float32)
        except ValueError as error:
            raise ModelError(f"decoder {str(self.path)!r} returned unusable {SCORES}: {error}") from None

    def repair(self, p_open: np.ndarray, mode: str = "perfect"):
        """Clip and repair decoder output with this model's threshold, start and exit (``daedalus.maze.repair``)."""
        _check_mode(mode)
        return repair(p_open, self.threshold, mode, self.info.start, self.info.exit)

    def batches(self, count: int, seed: int | None = None, mode: str = "perfect",
                z: np.ndarray | None = None) -> Iterator[dict]:
        """Generate in chunks of at most ``chunk_size`` without building ``Level`` objects (memory stays bounded).

        Yields dicts with ``grids`` (n, H, W) uint8, ``latents`` (n, d) float32, ``edits`` (n,) int64 and ``first``
        (the index of the chunk's first level). ``z`` given: decode those latents instead of sampling.

        Decoding and repair overlap: while numpy repairs one slice, onnxruntime (which releases the GIL) decodes
        the next on a helper thread, so the two stages share the cores instead of taking turns. Slices are
        independent (latents are drawn in order; each maze is decoded and repaired on its own), so the levels do
        not depend on how the work is cut.
        """
        _check_mode(mode)
        if z is None:
            count = _check_count(count)
            rng = as_generator(None if seed is None else _check_seed(seed))
        else:
            z = self._check_latents(z)
            count = len(z)
        # Cut into a few slices so that decoding one overlaps repairing another (see the docstring).
        step = self.chunk_size
        if count > PIPELINE_SLICE:
            step = min(step, max(PIPELINE_SLICE, -(-count // 4)))
        bounds = [(begin, min(step, count - begin)) for begin in range(0, count, step)]

        def latents_for(begin: int, size: int) -> np.ndarray:
            return self.sample_latents(size, rng) if z is None else z[begin : begin + size]

        if len(bounds) <= 1:
            for begin, size in bounds:
                latents = latents_for(begin, size)
                grids, edits = self._levels_chunk(*self._run(latents), mode)
                yield {"grids": grids, "latents": latents, "edits": edits, "first": begin}
            return
        # The helper thread runs onnxruntime only; the walk or the repair runs here, beside it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="daedalus-decode") as pool:
            latents = latents_for(*bounds[0])
            pending = pool.submit(self._run, latents)
            for i, (begin, _) in enumerate(bounds):
                outputs, current = pending.result(), latents
                if i + 1 < len(bounds):
                    latents = latents_for(*bounds[i + 1])
                    pending = pool.submit(self._run, latents)
                grids, edits = self._levels_chunk(*outputs, mode)
                yield {"grids": grids, "latents": current, "edits": edits, "first": begin}

    def levels_from_batch(self, batch: dict, seed: int | None, mode: str, indexed: bool = True) -> list[Level]:
        """``Level`` objects for one dict yielded by ``batches`` (``indexed``: number them from the batch's ``first``)."""
        grids, latents, edits = batch["grids"], batch["latents"], batch["edits"].tolist()
        grids.setflags(write=False)
        latents.setflags(write=False)
        start, exit, first = self.info.start, self.info.exit, batch["first"]
        return [
            Level(grids[i], start, exit, seed, latents[i], first + i if indexed else None, mode, edits[i])
            for i in range(len(grids))
        ]

    def generate(self, count: int, seed: int | None = None, mode: str = "perfect") -> list[Level]:
        """``count`` levels from latents drawn with ``seed``: the same seed gives the same levels, and level i is
        the same whatever ``count`` is (level code = seed + index, or the level's ``z``).

        Args:
            count: how many levels (0 gives an empty list).
            seed: non-negative int; None draws one from fresh entropy and records it in each level.
            mode: ``"perfect"`` (spanning-tree mazes) or ``"braid"`` (keeps the decoder's loops).

        Raises:
            UsageError: negative or non-integer count, bad seed or mode.
        """
        count = _check_count(count)
        _check_mode(mode)
        seed = _check_seed(fresh_seed() if seed is None else seed)
        levels: list[Level] = []
        for batch in self.batches(count, seed, mode):
            levels.extend(self.levels_from_batch(batch, seed, mode, True))
        return levels

    def from_latents(self, z, mode: str = "perfect") -> Level | list[Level]:
        """Levels for given latents: ``(latent_dim,)`` gives one ``Level``, ``(count, latent_dim)`` a list.
        ``from_latents(level.z)`` rebuilds ``level``'s grid."""
        single = np.ndim(z) == 1
        z = np.asarray(z)[None] if single else z
        levels: list[Level] = []
        for batch in self.batches(0, None, mode, z=z):
            levels.extend(self.levels_from_batch(batch, None, mode, False))
        return levels[0] if single else levels

    def interpolate(self, a, b, steps: int = 8, mode: str = "perfect") -> list[Level]:
        """``steps`` levels along the straight line from latent (or level) ``a`` to ``b``, both ends included."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise UsageError(f"steps must be an integer >= 2, got {steps!r}")
        ends = [np.asarray(x.z if isinstance(x, Level) else x) for x in (a, b)]
        za, zb = (self._check_latents(e.reshape(1, -1) if e.ndim == 1 else e)[0] for e in ends)
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        return self.from_latents((1 - t) * za + t * zb, mode)

    def __repr__(self) -> str:
        return (f"MazeGenerator({str(self.path)!r}, latent_dim={self.latent_dim}, shape={self.shape}, "
                f"provider={self.provider!r})")


def fresh_seed() -> int:
    """A seed from fresh OS entropy, small enough to share as a level code (uint32)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint32)[0])


def _check_count(count) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise UsageError(f"count must be a non-negative integer, got {count!r}")
    if count < 0:
        raise UsageError(f"count must be a non-negative integer, got {count}")
    return int(count)


def _check_seed(seed) -> int:
    # A level's code is seed + index, so the seed must be a plain integer that JSON and other engines can carry.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
