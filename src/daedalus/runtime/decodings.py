"""How a decoder's outputs become levels: one class per decoding kind, picked once at load by the ``decoding``
metadata (rembg's sessions: same methods, a registry by name). Nothing outside these classes asks what kind a
decoder is.

Every class takes the graph's outputs for a batch (in ``contract.OUTPUTS`` order) and gives:
- ``raw(outputs, mode)``: the decoder's own levels before any repair, uint8 ``(n, H, W)``;
- ``levels(outputs, mode)``: the levels handed to a game and the positions repair changed per level;
- ``probabilities(outputs)``: open-floor probabilities ``(n, H, W)``, for kinds that have them.
"""

from __future__ import annotations

import math

import numpy as np

from daedalus.contract import ModelInfo
from daedalus.errors import ModelError, UsageError
from daedalus.maze.raster_walk import (
    CONTEXTS,
    OPTIONS,
    Window,
    raster_walk,
    window_layers,
    window_tables,
    window_weight_count,
    window_widths,
)
from daedalus.maze.repair import repair
from daedalus.maze.scored_carve import carve
from daedalus.maze.symmetry import turned_back, walk_order_problem

# Braid levels from a carve decoder: its walk plus every wall whose p_open (the decoder's preference for the link)
# reaches this. 0.75 gives about 11 loops per 28 x 28 level, as many as the link VAE's braid levels had.
CARVE_BRAID_PREFERENCE = 0.75
# Loops per braid level a raster decoder keeps at least (the export calibrates its braid_loop_bonus to it): as many
# as the carve default's braid levels had, so the game keeps its escape routes whatever style the model learned.
BRAID_LOOPS = 10.0


class Decoding:
    """The base: shape checks shared by every kind."""

    kind = ""
    # Outputs that are probabilities: check_outputs refuses values outside [0, 1].
    probability_outputs: tuple[str, ...] = ()

    def __init__(self, info: ModelInfo, source: str):
        self.info, self.source = info, source
        self._outputs_by_count: dict[int, list[tuple[str, tuple]]] = {}

    def shapes(self) -> list[tuple]:
        """Each output's shape, ``None`` standing for the batch axis."""
        raise NotImplementedError

    def check_outputs(self, outputs: list[np.ndarray], count: int, checked=()) -> None:
        """Shapes as the contract says, every value finite (a decoder that emits inf or NaN is broken) and
        probabilities in [0, 1]. ``checked``: indices of outputs whose values were checked before (fixed outputs
        the pipeline keeps from its probe)."""
        for i, ((name, expected), array) in enumerate(zip(self._expected_outputs(count), outputs)):
            if array.shape != expected:
                raise ModelError(f"decoder {self.source} returned {name} of shape {array.shape}, expected "
                                 f"{expected}")
            if i in checked:
                continue
            # A sum is finite exactly when every term is (a large finite sum of float32 cannot overflow float64).
            if not math.isfinite(array.sum(dtype=np.float64)):
                bad = int((~np.isfinite(array.reshape(len(array), -1))).any(axis=1).sum())
                raise ModelError(f"decoder {self.source} returned non-finite {name} (NaN or inf) in {bad} of "
                                 f"{len(array)} rows")
            if name in self.probability_outputs and array.size and (array.min() < 0 or array.max() > 1):
                bad = int(((array < 0) | (array > 1)).reshape(len(array), -1).any(axis=1).sum())
                raise ModelError(f"decoder {self.source} returned {name} outside [0, 1] (from {array.min():.6g} to "
                                 f"{array.max():.6g}) in {bad} of {len(array)} rows; it must be a probability")

    def _expected_outputs(self, count: int) -> list[tuple[str, tuple]]:
        """Each output's name and shape for a batch of ``count`` (kept per count: the runtime checks every batch,
        and at batch 1 rebuilding them cost as much as the checks themselves)."""
        kept = self._outputs_by_count
        if count not in kept:
            if len(kept) > 64:
                kept.clear()
            kept[count] = [(name, tuple(count if d is None else d for d in shape))
                           for name, shape in zip(self.info.outputs, self.shapes())]
        return kept[count]

    def check_varies(self, outputs: list[np.ndarray]) -> None:
        """Outputs for two different latents must differ: a decoder that ignores its input would give the same
        level for every code (a broken export, weights of zero)."""
        per_latent = [array for array, shape in zip(outputs, self.shapes()) if shape and shape[0] is None]
        if all(np.array_equal(array[0], array[1]) for array in per_latent):
            raise ModelError(f"decoder {self.source} returned the same outputs for different latents: it ignores "
                             f"its input z, so every level would be the same")

    def raw(self, outputs: list[np.ndarray], mode: str, style=None) -> np.ndarray:
        """The decoder's own levels; ``style`` (a ``contract.Style``) when the latents were drawn from one."""
        raise NotImplementedError

    def levels(self, outputs: list[np.ndarray], mode: str, style=None) -> tuple[np.ndarray, np.ndarray]:
        """``(grids uint8 (n, H, W), edits int64 (n,))``. A walk is valid by construction: nothing to repair."""
        grids = self.raw(outputs, mode, style)
        return grids, np.zeros(len(grids), dtype=np.int64)

    # Whether a ``walk_temperature`` changes this decoder's levels (the export fits one then).
    tempered = False

    def tempered_levels(self, outputs: list[np.ndarray], mode: str, style, temperature: float) -> np.ndarray:
        """``raw`` as if the prior (``style`` None) or the style walked at ``temperature``: the same as ``raw`` for
        a kind that is not ``tempered``."""
        return self.raw(outputs, mode, style)

    def braid_metadata(self, outputs: list[np.ndarray]) -> dict[str, str]:
        """Metadata the export adds so that braid mode keeps enough loops (none for most kinds)."""
        return {}

    def style_braid_metadata(self, outputs: list[np.ndarray]) -> dict[str, float]:
        """The same for one style's latents, for its ``corpus`` entry (none for most kinds)."""
        return {}

    # The target search (daedalus.runtime.targets) moves latents many times per level. Dimensions from
    # ``noise_start`` on only reach the outputs through ``with_noise``, so a move among them needs no graph run; None:
    # every dimension goes through the graph.
    noise_start: int | None = None

    def with_noise(self, outputs: list[np.ndarray], noise: np.ndarray) -> list[np.ndarray]:
        """The outputs for latents whose dimensions from ``noise_start`` on are ``noise`` (n, latent_dim -
        noise_start) and whose other dimensions gave ``outputs``. Agrees with the graph to float32 rounding; a
        level the search keeps is decoded again by the graph."""
        raise NotImplementedError

    def probabilities(self, outputs: list[np.ndarray]) -> np.ndarray:
        raise UsageError(f"a {self.kind} decoder outputs walk scores, not open-floor probabilities; use raw_levels")

    def repair(self, p_open: np.ndarray, mode: str):
        """Clip and repair open-floor probabilities with this model's threshold, start and exit."""
        return repair(p_open, self.info.threshold, mode, self.info.start, self.info.exit)


class ThresholdDecoding(Decoding):
    """The design's clip + repair: positions with ``p_open >= threshold`` are open, then the smallest repair that
    makes a perfect (or braid) maze."""

    kind = "threshold"

    probability_outputs = ("p_open",)

    def shapes(self):
        return [(None, self.info.height, self.info.width)]

    def raw(self, outputs, mode, style=None):
        return (outputs[0] >= self.info.threshold).astype(np.uint8)

    def levels(self, outputs, mode, style=None):
        result = self.repair(outputs[0], mode)
        return result.grids, np.asarray(result.edits, dtype=np.int64)

    def probabilities(self, outputs):
        return outputs[0]


class CarveDecoding(Decoding):
    """The depth-first walk over ``carve_scores`` (docs/formats.md "Carve decoders"); braid levels add the links
    whose ``p_open`` reaches ``CARVE_BRAID_PREFERENCE``."""

    kind = "carve"

    probability_outputs = ("p_open",)

    def shapes(self):
        info = self.info
        return [(None, info.height, info.width), (None, info.height // 2, info.width // 2, 4)]

    def raw(self, outputs, mode, style=None):
        p_open, scores = outputs
        try:
            walk = carve(scores, (self.info.height, self.info.width), self.info.start)
        except ValueError as error:
            raise ModelError(f"decoder {self.source} returned unusable carve_scores: {error}") from None
        if mode == "braid":
            np.maximum(walk, (p_open >= CARVE_BRAID_PREFERENCE).astype(np.uint8), out=walk)
        return walk

    def probabilities(self, outputs):
        return outputs[0]


class RasterDecoding(Decoding):
    """The raster walk over ``cell_logits``, ``context_mix`` and ``context_basis`` with the graph's ``uniforms``
    (docs/formats.md "Raster decoders"): spanning trees in perfect mode; in braid mode the walk may close loops,
    with the decoder's learned preference plus the ``braid_loop_bonus`` metadata (0 unless its corpus had none).
    With the ``closed_cells`` metadata ``learned`` the walk may close cells (a corpus with wall cells); with
    ``window_hidden`` (the widths of a window network) the graph also returns ``window_bias`` and ``window_weights``,
    whose network scores every cell too. With ``walk_order`` (a flip or quarter turn, format 3) the walk draws the
    level under it and the level is turned back."""

    kind = "raster"
    tempered = True  # a walk_temperature divides the walk's scores (docs/formats.md, step 0)

    def __init__(self, info: ModelInfo, source: str):
        super().__init__(info, source)
        self.loop_bonus = float(info.metadata.get("braid_loop_bonus", 0.0))
        try:
            self.mix = int(info.metadata["context_mix"])
        except (KeyError, ValueError):
            raise ModelError(f"model {source}: a raster decoder needs the integer metadata context_mix "
                             f"(got {info.metadata.get('context_mix')!r})") from None
        groups = info.metadata.get("context_groups", "1")
        if groups not in ("1", "2"):
            raise ModelError(f"model {source}: metadata context_groups must be 1 or 2 (how many context groups "
                             f"context_basis holds), got {groups!r}")
        self.groups = int(groups)
        closed = info.metadata.get("closed_cells", "none")
        if closed not in ("none", "learned"):
            raise ModelError(f"model {source}: metadata closed_cells must be none or learned (whether the walk may "
                             f"close cells), got {closed!r}")
        self.closed_cells = closed == "learned"
        self.window_hidden: tuple[int, ...] = ()
        self._window_tables: tuple[np.ndarray, np.ndarray] | None = None  # (the weights, their tables)
        if "window_hidden" in info.metadata:  # the window network's hidden widths, comma-separated
            text = info.metadata["window_hidden"]
            try:
                self.window_hidden = window_widths(text)
            except ValueError as error:
                raise ModelError(f"model {source}: metadata window_hidden {error}") from None
            if not self.window_hidden:
                raise ModelError(f"model {source}: metadata window_hidden names no width ({text!r})")

        self.walk_order = info.metadata.get("walk_order", "identity")
        problem = walk_order_problem(self.walk_order, info.height, info.width, self.closed_cells)
        if problem is not None:
            raise ModelError(f"model {source}: metadata walk_order {problem}")
        # The prior's walk temperature (metadata walk_temperature) and each style's (its corpus entry); step 0.
        self.prior_temperature = prior_temperature(info.metadata, source)
        for style in info.styles:
            style_temperature(style, source)  # a bad value is refused at load, not at the first level of the style
        self._tempered_weights: dict[float, np.ndarray] = {}  # T -> window_weights with the output layer tempered
        code_dim = info.metadata.get("code_dim")
        # The graph's uniforms are Φ(noise) of the dimensions after the code (docs/formats.md "Raster decoders").
        self.noise_start = int(code_dim) if code_dim is not None else None

    def with_noise(self, outputs, noise):
        from scipy.special import erf

        noise = np.asarray(noise, dtype=np.float32)
        uniforms = (0.5 * (1.0 + erf(noise * np.float32(0.7071067811865476)))).astype(np.float32)
        return [*outputs[:3], uniforms, *outputs[4:]]

    def shapes(self):
        rows, cols = self.info.height // 2, self.info.width // 2
        mix = self.mix
        window = [(None, self.window_hidden[0]), (window_weight_count(self.window_hidden),)] if self.window_hidden \
            else []
        return [(None, rows, cols, OPTIONS), (None, mix), (CONTEXTS * self.groups, mix, OPTIONS),
                (None, rows * cols), *window]

    def loop_bonus_for(self, outputs) -> float:
        """The smallest bonus (bisection) with which braid levels of these outputs keep ``BRAID_LOOPS`` loops on
        average; 0 when the learned loops already reach it (a braid corpus)."""
        from daedalus.maze.stats import loops

        def enough(bonus: float) -> bool:
            return float(np.mean(loops(self._walk(outputs, True, bonus)))) >= BRAID_LOOPS

        if enough(0.0):
            return 0.0
        low, high = 0.0, 12.0
        for _ in range(12):
            middle = 0.5 * (low + high)
            low, high = (low, middle) if enough(middle) else (middle, high)
        return round(high, 4)

    def braid_metadata(self, outputs):
        """``braid_loop_bonus`` for latents from the prior (a style's own is in its ``corpus`` entry)."""
        return {"braid_loop_bonus": repr(self.loop_bonus_for(outputs))}

    def style_braid_metadata(self, outputs):
        """A style's own ``braid_loop_bonus`` (0 for a braided style, whose loops are learned)."""
        return {"braid_loop_bonus": self.loop_bonus_for(outputs)}

    def raw(self, outputs, mode, style=None):
        temperature = self.prior_temperature if style is None else style_temperature(style, self.source)
        return self.tempered_levels(outputs, mode, style, temperature)

    def tempered_levels(self, outputs, mode, style, temperature):
        braid = mode == "braid"
        bonus = self.loop_bonus if style is None else float(style.corpus.get("braid_loop_bonus", self.loop_bonus))
        return self._walk(outputs, braid, bonus if braid else 0.0, temperature)

    def _walk(self, outputs, loops: bool, bonus: float, temperature: float = 1.0) -> np.ndarray:
        cell_logits, context_mix, context_basis, uniforms, *window = outputs
        if temperature != 1.0:
            # docs/formats.md "Raster decoders", step 0: every score is the walk's at T 1 times s = 1 / T, because
            # each is linear in these numbers (the window network's through its output layer).
            scale = np.float32(1.0 / temperature)
            cell_logits, context_mix, bonus = cell_logits * scale, context_mix * scale, bonus / temperature
        window = self._window(*window, temperature=temperature) if self.window_hidden else None
        grids = raster_walk(cell_logits, context_mix, context_basis, uniforms, loops=loops, loop_bonus=bonus,
                            closed_cells=self.closed_cells, window=window)
        return turned_back(grids, self.walk_order)

    def _window(self, bias: np.ndarray, weights: np.ndarray, temperature: float = 1.0) -> Window:
        """The window network's numbers, its first layer's tables made once for the decoder's fixed weights (the
        pipeline hands the same array every call) and again only if other weights come. At a temperature other
        than 1 the output layer's weights and bias are multiplied by 1 / T (the first layer and its tables stay)."""
        kept = self._window_tables
        if kept is None or not (kept[0] is weights or np.array_equal(kept[0], weights)):
            first = window_layers(np.asarray(weights, dtype=np.float32), self.window_hidden)[0][0]
            kept = self._window_tables = (weights, window_tables(first))
            self._tempered_weights.clear()
        if temperature != 1.0:  # kept per T for these weights (other weights clear them above)
            scaled = self._tempered_weights.get(temperature)
            if scaled is None:
                scaled = np.array(weights, dtype=np.float32)
                scaled[-(self.window_hidden[-1] * OPTIONS + OPTIONS):] *= np.float32(1.0 / temperature)
                self._tempered_weights[temperature] = scaled
            weights = scaled
        return Window(bias, weights, self.window_hidden, kept[1])


def prior_temperature(metadata: dict, source: str) -> float:
    """The metadata ``walk_temperature`` (1 when absent): a finite number > 0."""
    text = metadata.get("walk_temperature", "1")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ModelError(f"model {source}: metadata walk_temperature {text!r} is not a finite number > 0")
    return value


def style_temperature(style, source: str) -> float:
    """A style's ``walk_temperature`` (1 when its corpus entry has none): a finite number > 0."""
    value = style.corpus.get("walk_temperature", 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ModelError(f"model {source}: style {style.name!r} has walk_temperature {value!r}, expected a finite "
                         f"number > 0")
    return float(value)


DECODINGS: dict[str, type[Decoding]] = {cls.kind: cls for cls in (ThresholdDecoding, CarveDecoding, RasterDecoding)}


def decoding_for(info: ModelInfo, source: str) -> Decoding:
    """The decoding class the model's ``decoding`` metadata names."""
    return DECODINGS[info.decoding](info, source)
