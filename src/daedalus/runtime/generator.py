"""``MazeGenerator``: the pipeline a game calls — sample latents, decode them with onnxruntime, turn the outputs into
levels with the model's decoding, return ``Level``s.

numpy + onnxruntime + the maze core only: a game embeds this without torch. Opening and checking the file is
``daedalus.runtime.session``; what the outputs mean is the decoding class of ``daedalus.runtime.decodings``.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from daedalus.contract import INPUT_NAME, ModelInfo
from daedalus.errors import ModelError, UsageError
from daedalus.limits import check_memory
from daedalus.maze.backtracker import fresh_seed
from daedalus.runtime import levelcode
from daedalus.runtime.checks import check_count, check_latents, check_mode, check_seed
from daedalus.runtime.decodings import decoding_for
from daedalus.runtime.level import Level
from daedalus.runtime.resample import Critic, candidate_codes, check_resample, choice_uniforms, choose, file_digest
from daedalus.runtime.session import (
    DEFAULT_MODEL,
    check_signature,
    choose_providers,
    installed_runtimes,
    model_path,
    open_session,
    session_without_outputs,
)

__all__ = ["DEFAULT_MODEL", "MazeGenerator", "choose_providers", "fresh_seed", "installed_runtimes"]

DEFAULT_CHUNK = 1024
# What a Level costs in a list beside its grid and latent (the object, its array views, its fields): measured about
# 480 bytes with tracemalloc; the estimate only decides when generate() refuses a count it cannot hold.
LEVEL_OVERHEAD_BYTES = 512
# Batches larger than this are cut into slices (at least this big) that workers make side by side.
PIPELINE_SLICE = 128
# Workers for large batches: each decodes and walks (or repairs) whole slices. onnxruntime, the compiled walk and the
# level codes' normals release the GIL, so two workers fill two cores.
PIPELINE_WORKERS = max(2, min(4, os.cpu_count() or 2))


class MazeGenerator:
    """Levels from an ONNX maze decoder. Safe to share between threads (onnxruntime sessions are; nothing here
    changes after ``load``).

    Use ``MazeGenerator.load(path)``; then ``generate(count, seed)``, ``from_latents(z)``, ``interpolate(a, b)``.
    """

    def __init__(self, session, path: Path, info: ModelInfo,
                 chunk_size: int = DEFAULT_CHUNK):
        self._session = session
        # Critic files by the style they are for (None: the prior), for generate(..., resample=K); load fills it.
        self.critics: dict[str | None, Critic] = {}
        self.path = path
        self.info = info
        self.chunk_size = int(chunk_size)
        self.provider = session.get_providers()[0]
        self._decoding = decoding_for(info, repr(str(path)))
        # Outputs without a batch axis that the probe found independent of the latents (a raster decoder's 2 MB
        # context_basis): read once at load, checked once, and never asked of the graph again.
        self._fixed: dict[int, np.ndarray] = {}
        self._requested = list(info.outputs)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", providers: Sequence | None = None,
             chunk_size: int = DEFAULT_CHUNK, threads: int | None = 1,
             critic: str | os.PathLike | Sequence | None = None) -> "MazeGenerator":
        """Load and check a decoder.

        Args:
            path: the ``.onnx`` file; None loads the model shipped in the package.
            device: ``"auto"`` (CUDA when onnxruntime offers it, else CPU), ``"cpu"`` or ``"cuda"``.
            providers: onnxruntime execution providers; when given they win over ``device``.
            chunk_size: how many latents one decode call takes at most (bounds memory for big counts).
            threads: onnxruntime intra-op threads. Default 1: large batches are made slice by slice on
                ``PIPELINE_WORKERS`` threads, each decoding and walking its own slice, which fills the cores.
                None: onnxruntime's default (all cores).
            critic: a critic file written by ``daedalus critic`` for this decoder, or several (one per style of a
                many-style decoder, as each file's metadata says; ``resample.critic_files(path)`` lists those
                beside the model), which ``generate(..., resample=K)`` uses to keep one of K candidate walks per
                level (``daedalus.runtime.resample``).

        Raises:
            ModelError: the file is missing, not ONNX, uses external data or an opset this onnxruntime lacks, or is
                not a Daedalus decoder. DeviceError: CUDA asked for and unavailable.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise UsageError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        path = model_path(path)
        session, info = open_session(path, device, providers, threads)
        generator = cls(session, path, info, chunk_size)
        generator._check_signature(f"model {str(path)!r}")
        if critic is None or isinstance(critic, (str, os.PathLike)):
            paths = [] if critic is None else [critic]
        elif isinstance(critic, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in critic):
            paths = list(critic)
        else:
            raise UsageError(f"critic must be a path, a list of paths or None, got {critic!r}")
        digest = file_digest(path) if paths else None
        for file in paths:
            loaded = Critic.load(file, device="cpu", threads=threads)
            loaded.check_decoder(generator.shape, path, digest)
            if loaded.style is not None:
                generator._style(loaded.style)  # a style this decoder has
            if loaded.style in generator.critics:
                earlier = str(generator.critics[loaded.style].path)
                raise UsageError(f"two critics for style {loaded.style!r}: {earlier!r} and {str(file)!r}")
            generator.critics[loaded.style] = loaded
        return generator

    def _check_signature(self, source: str) -> None:
        check_signature(self._session, self.info, self._decoding.shapes(), source)
        # Declared shapes can be symbolic; one probe decode checks what the graph really returns, and that two
        # different latents (the prior's centre and a point inside it) give different outputs.
        probe = np.zeros((2, self.info.latent_dim), dtype=np.float32)
        probe[1] = np.linspace(-1.0, 1.0, self.info.latent_dim)
        outputs = self._run(probe)
        self._decoding.check_varies(outputs)
        self._keep_fixed_outputs(outputs, probe)

    def _keep_fixed_outputs(self, outputs: list[np.ndarray], probe: np.ndarray) -> None:
        unbatched = [i for i, shape in enumerate(self._decoding.shapes()) if None not in shape]
        if not unbatched:
            return
        again = self._run(-probe[1:])
        fixed = {i: outputs[i] for i in unbatched if np.array_equal(outputs[i], again[i])}
        if fixed:
            self._session = session_without_outputs(self._session, self.path, {self.info.outputs[i] for i in fixed})
            self._fixed = fixed
            self._requested = [name for i, name in enumerate(self.info.outputs) if i not in fixed]

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
        return check_latents(z, self.latent_dim)

    @property
    def critic(self) -> Critic | None:
        """The critic for the prior (no style), or the only one loaded; None without critics."""
        if None in self.critics:
            return self.critics[None]
        return next(iter(self.critics.values())) if len(self.critics) == 1 else None

    @property
    def decoding(self):
        """How this decoder's outputs become levels (``daedalus.runtime.decodings``: ``raw``, ``levels``)."""
        return self._decoding

    @property
    def styles(self) -> list[str]:
        """The style names of a many-style decoder (empty for one style)."""
        return [style.name for style in self.info.styles]

    def sample_latents(self, count: int, rng: int | np.random.Generator | None = None,
                       style: str | None = None) -> np.ndarray:
        """``(count, latent_dim)`` float32 latents of the level codes ``rng .. rng + count - 1`` (an int), drawn
        from the model's prior (``N(0, I)`` unless its metadata says otherwise) or from one style's distribution
        with the portable level code (``daedalus.runtime.levelcode``, docs/formats.md): row i depends on its code
        alone. A numpy Generator picks the first code (``integers(2**63)``); None a fresh one. The prior or style
        covers the first dimensions (the code); the rest (a walk's noise) are N(0, 1).

        Raises:
            UsageError: a bad count or code, or a style the model does not have.
        """
        count = check_count(count)
        if isinstance(rng, np.random.Generator):
            first = int(rng.integers(0, 2**63))
        else:
            first = fresh_seed() if rng is None else check_seed(rng)
        return self._code_latents(first, count, style)

    def _code_latents(self, first: int, count: int, style: str | None) -> np.ndarray:
        levelcode.check_codes(first, count)
        return self._latents_of(np.arange(count, dtype=np.uint64) + np.uint64(first), style)

    def mode_for(self, style: str | None = None) -> str:
        """The mode this decoder's levels (or one style's) are drawn in when the caller names none: metadata
        ``default_mode`` (``"braid"`` when most training levels had loops; the style's own ``corpus.mode`` for a
        style), ``"perfect"`` when the metadata says nothing. ``generate`` on the command line uses it.

        Raises:
            UsageError: an unknown style. ModelError: a mode in the metadata that is neither perfect nor braid.
        """
        chosen = self._style(style)
        mode = (chosen.corpus.get("mode") if chosen is not None else None) or self.metadata.get("default_mode")
        mode = mode or "perfect"
        if mode not in ("perfect", "braid"):
            raise ModelError(f"model {str(self.path)!r}: metadata default_mode must be perfect or braid, got {mode!r}")
        return mode

    def _latents_of(self, codes: np.ndarray, style: str | None) -> np.ndarray:
        mean, tril = self.info.prior_mean, self.info.prior_scale_tril
        chosen = self._style(style)
        if chosen is not None:
            mean, tril = chosen.mean, chosen.scale_tril
        return levelcode.latents_of(codes, self.latent_dim, mean, tril)

    def _check_resample(self, k, mode: str, style: str | None, z) -> int:
        k = check_resample(k)
        if k > 1:
            if style not in self.critics:
                which = "a critic" if style is None else f"a critic for style {style!r}"
                have = (f" (critics loaded for styles: {', '.join(repr(s) for s in self.critics)}; pick one with "
                        "style=NAME, --style NAME)") if self.critics else ""
                raise UsageError(f"resample={k} needs {which}: MazeGenerator.load(path, critic=CRITIC) (write one "
                                 f"with 'daedalus critic --model M --data PATH'){have}")
            if z is not None:
                raise UsageError("resample chooses among level codes; it does not apply to given latents")
            self.critics[style].check_request(mode, style)
        return k

    def _style(self, name: str | None):
        """The ``contract.Style`` of a name (None for None). Raises UsageError naming the styles."""
        if name is None:
            return None
        try:
            return self.info.style(name)
        except KeyError as error:
            raise UsageError(error.args[0]) from None

    # ---- the pipeline -----------------------------------------------------------------------------------------
    def _decode(self, z, per_chunk) -> np.ndarray:
        single = np.ndim(z) == 1
        z = self._check_latents(np.asarray(z)[None] if single else z)
        parts = [per_chunk(self._run(z[begin : begin + self.chunk_size]))
                 for begin in range(0, len(z), self.chunk_size)]
        out = np.concatenate(parts) if parts else np.empty((0, *self.shape), dtype=np.float32)
        return out[0] if single else out

    def raw_levels(self, z, mode: str = "perfect", style: str | None = None) -> np.ndarray:
        """The decoder's own levels before any repair, uint8 ``(count, H, W)`` for latents ``(count, latent_dim)``
        (or ``(H, W)`` for one ``(latent_dim,)``): thresholded ``p_open`` for a threshold decoder, the walk for a
        walk decoder (with its braid links in ``mode="braid"``).

        Raises:
            UsageError: bad latents or mode. ModelError: the decoder failed or broke its contract (shape, NaN, inf).
        """
        check_mode(mode)
        chosen = self._style(style)
        return self._decode(z, lambda outputs: self._decoding.raw(outputs, mode, chosen))

    def probabilities(self, z) -> np.ndarray:
        """Open-floor probabilities ``p_open`` float32 ``(count, H, W)`` of a decoder that has them (threshold and
        carve decoders; a raster decoder raises UsageError)."""
        return self._decode(z, self._decoding.probabilities)

    def decode(self, z, mode: str = "perfect") -> np.ndarray:
        """Deprecated name of :meth:`raw_levels` (before 2026-12 it returned probabilities for threshold decoders
        and walks for carve decoders; see docs/formats.md)."""
        import warnings

        warnings.warn("MazeGenerator.decode is deprecated: use raw_levels (levels before repair) or probabilities "
                      "(p_open)", DeprecationWarning, stacklevel=2)
        return self.raw_levels(z, mode)

    def _run(self, z: np.ndarray) -> list[np.ndarray]:
        """onnxruntime alone (what the pipeline's helper thread does): the outputs, checked."""
        try:
            outputs = self._session.run(self._requested, {INPUT_NAME: z})
        except Exception as error:
            raise ModelError(f"decoder {str(self.path)!r} failed on a batch of {len(z)}: "
                             f"{str(error).strip().splitlines()[0]}") from None
        for i in sorted(self._fixed):
            outputs.insert(i, self._fixed[i])
        self._decoding.check_outputs(outputs, len(z), checked=self._fixed)
        return outputs

    def raw_and_levels(self, z, mode: str = "perfect", style: str | None = None):
        """One decode of latents ``(count, latent_dim)`` giving both what ``raw_levels`` and ``batches`` give:
        ``(raw uint8 (count, H, W), levels uint8 (count, H, W), edits int64 (count,))`` (for ``daedalus eval``)."""
        check_mode(mode)
        chosen = self._style(style)
        z = self._check_latents(z)
        raw, levels, edits = [], [], []
        for begin in range(0, len(z), self.chunk_size):
            outputs = self._run(z[begin : begin + self.chunk_size])
            raw.append(self._decoding.raw(outputs, mode, chosen))
            grids, changed = self._decoding.levels(outputs, mode, chosen)
            levels.append(grids)
            edits.append(changed)
        return np.concatenate(raw), np.concatenate(levels), np.concatenate(edits)

    def repair(self, p_open: np.ndarray, mode: str = "perfect"):
        """Clip and repair decoder output with this model's threshold, start and exit (``daedalus.maze.repair``)."""
        check_mode(mode)
        return self._decoding.repair(p_open, mode)

    def batches(self, count: int, seed: int | None = None, mode: str = "perfect",
                z: np.ndarray | None = None, style: str | None = None, resample: int = 1) -> Iterator[dict]:
        """Generate in chunks of at most ``chunk_size`` without building ``Level`` objects (memory stays bounded).

        Yields dicts with ``grids`` (n, H, W) uint8, ``latents`` (n, d) float32, ``edits`` (n,) int64 and ``first``
        (the index of the chunk's first level). ``z`` given: decode those latents instead of sampling; ``style``:
        sample that style of a many-style decoder; ``resample`` K > 1: each level is one of K candidate walks,
        kept with probability ∝ exp(critic logit) (``daedalus.runtime.resample``; needs ``load(critic=...)``).

        Large batches are cut into slices that ``PIPELINE_WORKERS`` threads make side by side, each slice whole
        (sample, onnxruntime, walk or repair): onnxruntime, the compiled walk and the level codes release the GIL,
        so the work shares the cores instead of taking turns. Slices are independent (level i's latent comes from
        its code ``seed + i`` alone; each maze is decoded and repaired on its own), so the levels do not depend on
        how the work is cut; they are yielded in order.
        """
        check_mode(mode)
        chosen = self._style(style)
        k = self._check_resample(resample, mode, style, z)
        if z is None:
            count = check_count(count)
            seed = fresh_seed() if seed is None else check_seed(seed)
            levelcode.check_codes(seed, count)
        else:
            z = self._check_latents(z)
            count = len(z)
        # Cut into a few slices so that decoding one overlaps repairing another (see the docstring).
        step = self.chunk_size
        if count > PIPELINE_SLICE:
            step = min(step, max(PIPELINE_SLICE, -(-count // 4)))
        step = max(1, step // k)  # one slice decodes its K candidates in one run
        bounds = [(begin, min(step, count - begin)) for begin in range(0, count, step)]

        def latents_for(begin: int, size: int) -> np.ndarray:
            return self._code_latents(seed + begin, size, style) if z is None else z[begin : begin + size]

        def make(begin: int, size: int) -> dict:
            if k > 1:
                return resampled(begin, size)
            latents = latents_for(begin, size)
            grids, edits = self._decoding.levels(self._run(latents), mode, chosen)
            return {"grids": grids, "latents": latents, "edits": edits, "first": begin}

        def resampled(begin: int, size: int) -> dict:
            codes = np.arange(size, dtype=np.uint64) + np.uint64(seed + begin)
            latents = self._latents_of(candidate_codes(codes, k).reshape(-1), style)
            grids, edits = self._decoding.levels(self._run(latents), mode, chosen)
            scores = self.critics[style].logits(grids).reshape(size, k)
            kept = np.arange(size) * k + choose(scores, choice_uniforms(codes))
            return {"grids": grids[kept], "latents": latents[kept], "edits": edits[kept], "first": begin,
                    "resample": k}

        if len(bounds) <= 1:
            for begin, size in bounds:
                yield make(begin, size)
            return
        # At most one slice per worker waits beyond the ones being made, which bounds memory.
        with ThreadPoolExecutor(max_workers=PIPELINE_WORKERS, thread_name_prefix="daedalus-slice") as pool:
            pending: deque = deque()
            for begin, size in bounds:
                pending.append(pool.submit(make, begin, size))
                if len(pending) > PIPELINE_WORKERS:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def levels_from_batch(self, batch: dict, seed: int | None, mode: str, indexed: bool = True) -> list[Level]:
        """``Level`` objects for one dict yielded by ``batches`` (``indexed``: number them from its ``first``)."""
        grids, latents, edits = batch["grids"], batch["latents"], batch["edits"].tolist()
        grids.setflags(write=False)
        latents.setflags(write=False)
        start, exit, first = self.info.start, self.info.exit, batch["first"]
        resample = batch.get("resample")
        return [
            Level(grids[i], start, exit, seed, latents[i], first + i if indexed else None, mode, edits[i],
                  resample=resample)
            for i in range(len(grids))
        ]

    def generate(self, count: int, seed: int | None = None, mode: str = "perfect",
                 style: str | None = None, targets: dict | None = None, tolerance: float = 0.05,
                 strict: bool = True, resample: int = 1) -> list[Level]:
        """``count`` levels from latents drawn with ``seed``: the same seed gives the same levels, and level i is
        the same whatever ``count`` is (level code = seed + index, or the level's ``z``).

        Args:
            count: how many levels (0 gives an empty list).
            seed: non-negative int; None draws one from fresh entropy and records it in each level.
            mode: ``"perfect"`` (spanning-tree mazes) or ``"braid"`` (keeps the decoder's loops).
            style: one of ``styles`` (a many-style decoder); None samples the model's prior.
            targets: attributes the levels must have, e.g. ``{"solution_length": 200, "dead_ends": 30}``
                (``daedalus.runtime.targets.ATTRIBUTES``; ``style`` names a style): a latent search finds each
                level, which carries ``targets``, ``achieved`` and ``met``. Its ``z`` rebuilds it.
            tolerance: with targets, the relative tolerance: ``|achieved - target| <= tolerance * |target|``.
            strict: with targets, raise when a level misses after the search; False returns it with met=False.
            resample: K > 1 keeps, for each level, one of K candidate walks with probability ∝ exp(logit) of the
                critic given to ``load`` (``daedalus.runtime.resample``, docs/formats.md "Resampling"): levels
                closer to the corpus the critic was trained on, at about K times the cost. The choice depends on
                the level code alone; the level's ``z`` is the kept candidate's, so ``from_latents`` rebuilds it.

        Raises:
            UsageError: negative or non-integer count, bad seed, mode or style; ``TargetError`` (a UsageError) for
                an unknown attribute or a target outside the model's reachable range (the message gives it), and
                with ``strict`` for a level that missed.
        """
        count = check_count(count)
        check_mode(mode)
        seed = check_seed(fresh_seed() if seed is None else seed)
        check_memory(count * self._level_bytes(), f"generate({count}) (a list of Level objects; "
                     "MazeGenerator.batches streams any count in bounded memory)")
        if targets is not None:
            if resample != 1:
                raise UsageError("targets and resample do not combine: a latent search already chooses each level")
            from daedalus.runtime.targets import targeted_levels

            wanted = dict(targets or {})
            if style is not None:
                wanted.setdefault("style", style)
            return targeted_levels(self, count, seed, mode, wanted, tolerance, strict)
        levels: list[Level] = []
        for batch in self.batches(count, seed, mode, style=style, resample=resample):
            levels.extend(self.levels_from_batch(batch, seed, mode, True))
        return levels

    def _level_bytes(self) -> int:
        """About what one ``Level`` in a list costs: its grid, its latent and the object around them."""
        height, width = self.shape
        return height * width + 4 * self.latent_dim + LEVEL_OVERHEAD_BYTES

    def from_latents(self, z, mode: str = "perfect", style: str | None = None) -> Level | list[Level]:
        """Levels for given latents: ``(latent_dim,)`` gives one ``Level``, ``(count, latent_dim)`` a list.
        ``from_latents(level.z, level.mode)`` rebuilds ``level``'s grid (``style`` too for a level of a style whose
        braid links have their own bonus: a braided style of a many-style decoder)."""
        single = np.ndim(z) == 1
        z = np.asarray(z)[None] if single else z
        levels: list[Level] = []
        for batch in self.batches(0, None, mode, z=z, style=style):
            levels.extend(self.levels_from_batch(batch, None, mode, False))
        return levels[0] if single else levels

    def interpolate(self, a, b, steps: int = 8, mode: str = "perfect", seed: int = 0) -> list[Level]:
        """``steps`` levels along the straight line from ``a`` to ``b``, both ends included. An end is a latent, a
        ``Level`` or a style name (that style's mean code; the walk's noise is drawn once from ``seed`` and shared
        by every step, so a line between two styles blends the styles and nothing else)."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise UsageError(f"steps must be an integer >= 2, got {steps!r}")
        shared = self.sample_latents(1, check_seed(seed))[0]

        def latent(end) -> np.ndarray:
            if isinstance(end, str):
                mean = self._style(end).mean  # refuses an unknown style by name
                return np.concatenate([mean, shared[len(mean):]]).astype(np.float32)
            array = np.asarray(end.z if isinstance(end, Level) else end)
            return self._check_latents(array.reshape(1, -1) if array.ndim == 1 else array)[0]

        za, zb = latent(a), latent(b)
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        return self.from_latents((1 - t) * za + t * zb, mode)

    def __repr__(self) -> str:
        return (f"MazeGenerator({str(self.path)!r}, latent_dim={self.latent_dim}, shape={self.shape}, "
                f"provider={self.provider!r})")
