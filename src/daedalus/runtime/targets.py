"""Levels on demand: a latent search for levels whose statistics meet requested targets.

``MazeGenerator.generate(count, seed, targets={"solution_length": 200}, tolerance=0.05)`` comes here. The decoder
is fixed; the search moves the latent ``z`` until the level it decodes has the attributes asked for:

1. **Bank.** A fixed-seed sample of latents (the prior and every style), plus the *anchors* that the range
   estimate found at the extremes of each attribute, decoded and measured once per generator and mode.
2. **Start.** Each request scores the bank (``score``: the largest of the targets' errors, each in units of its
   tolerance) and draws its elites from the best entries with its own random generator, so that two seeds get two
   different levels.
3. **Moves.** Each round every elite gets children: most move the walk's noise (a preconditioned Crank-Nicolson
   step, ``sqrt(1 - b²) · noise + b · ε``, which keeps N(0, 1) noise N(0, 1)) and need no graph run when the
   decoding can apply noise itself (``Decoding.with_noise``); the others also move the code, decoded by the graph
   in one batch for every request. All requests of a call share each round's decode and statistics.
4. **Keep.** The best of elites and children stay elites. A request ends with the first child that meets every
   target, or after ``ROUNDS`` rounds with its best child: the search never loops forever.
5. **Check.** The chosen latents are decoded again by the normal pipeline (graph + decoding), so a level is exactly
   ``from_latents(level.z)``, and measured again: ``met`` says whether every target holds on the level returned.

A request outside the range the model reaches (``reachable_ranges``, estimated once per model file and cached in
a JSON file beside it, or in the user's cache folder) is refused before any search with the range in the message.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.stats import ATTRIBUTE_ORDER, attributes

ATTRIBUTES = (*ATTRIBUTE_ORDER, "style")
DEFAULT_TOLERANCE = 0.05
# Search sizes: elites per request, children per elite and round, rounds at most. 6 x 12 x 40 = 2,880 levels
# measured at most per request; most requests end in a few rounds.
ELITES, CHILDREN, ROUNDS = 6, 12, 40
CODE_MOVES = 0.25  # share of children that also move the code (a graph run each)
BANK_PER_SOURCE, BANK_SEED = 512, 20261201
NEAR_SPREAD = 0.3  # how far around a --like latent a search starts
CLIP = 5.0  # latents stay within ±CLIP: far outside the prior a decoder means nothing
RANGES_VERSION = 2
# The range estimate a model without a ranges file gets on its first targeted request: about 20 times fewer levels
# than the shipped file's (16 stages with the pair corners, scripts/target_ranges.py), so a narrower range.
ON_DEMAND = {"stages": 3, "rounds": 20, "elites": 4, "children": 8, "corners": False}


class TargetError(UsageError):
    """A request the model cannot meet: an unknown attribute, a bad value, or one outside the reachable range."""


# ---- requests ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """What one level must have: numeric targets by name (``ATTRIBUTE_ORDER``), a style name or None, and the
    tolerance (relative: ``|achieved - target| <= tolerance * |target|``)."""

    numeric: dict
    style: str | None
    tolerance: float

    def as_dict(self) -> dict:
        out = {name: self.numeric[name] for name in ATTRIBUTE_ORDER if name in self.numeric}
        if self.style is not None:
            out["style"] = self.style
        return out


def parse_target(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line: a number for the numeric attributes, a name for ``style``."""
    name, sep, value = str(text).partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise TargetError(f"--target must be NAME=VALUE with NAME one of {', '.join(ATTRIBUTES)}, got {text!r}")
    if name == "style":
        return name, value.strip()
    try:
        return name, float(value)
    except ValueError:
        raise TargetError(f"--target {name}: the value must be a number, got {value.strip()!r}") from None


def check_request(targets, tolerance, styles: list[str], ranges: dict, mode: str) -> Request:
    """The request for ``targets`` (a dict name -> value), checked against the attributes, the model's styles and
    the reachable ``ranges`` of ``mode`` (``reachable_ranges``).

    Raises:
        TargetError: naming the bad attribute or value and what was expected (the reachable range).
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.floating, np.integer)) \
            or not math.isfinite(tolerance) or not 0 <= tolerance < 1:
        raise TargetError(f"tolerance must be a number in [0, 1) (a fraction of each target), got {tolerance!r}")
    if not isinstance(targets, dict) or not targets:
        raise TargetError(f"targets must be a non-empty dict of attribute -> value, got {targets!r}")
    numeric, style = {}, None
    for name, value in targets.items():
        if name not in ATTRIBUTES:
            raise TargetError(f"unknown target {name!r}: the attributes are {', '.join(ATTRIBUTES)}")
        if name == "style":
            if not styles:
                raise TargetError(f"target style {value!r}: this model has one style")
            if value not in styles:
                raise TargetError(f"target style {value!r}: the model's styles are {', '.join(styles)}")
            style = str(value)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise TargetError(f"target {name} must be a finite number, got {value!r}")
        low, high = ranges[name]
        # A target is reachable when its tolerance window meets the range (390 ± 5 % holds a 376-step path).
        if value * (1 + tolerance) < low or value * (1 - tolerance) > high or value < 0:
            hint = "; perfect mazes have no loops: ask in braid mode" if name == "loops" and mode == "perfect" \
                else ""
            raise TargetError(f"target {name}={value:g} is outside what this model reaches in {mode} mode: "
                              f"{low} to {high}, within ±{tolerance:g} of the target (daedalus info lists the "
                              f"ranges{hint})")
        numeric[name] = float(value)
    return Request(numeric, style, float(tolerance))


def within(values: np.ndarray, target: float, tolerance: float) -> np.ndarray:
    """Whether values lie within ``tolerance * |target|`` of ``target`` (exactly the target for target 0)."""
    return np.abs(values - target) <= tolerance * abs(target) + 1e-9


# ---- styles ---------------------------------------------------------------------------------------------------
def style_log_densities(info, z: np.ndarray) -> np.ndarray:
    """``(n, styles)`` Gaussian log-densities of each latent's code under each style of ``info``."""
    out = np.empty((len(z), len(info.styles)))
    for j, style in enumerate(info.styles):
        k = len(style.mean)
        diff = np.asarray(z[:, :k], dtype=np.float64) - style.mean
        solved = np.linalg.solve(style.scale_tril, diff.T).T  # scale_tril is lower triangular
        log_det = np.log(np.abs(np.diag(style.scale_tril))).sum()
        out[:, j] = -0.5 * (solved**2).sum(axis=1) - log_det
    return out


def styles_of(info, z: np.ndarray) -> np.ndarray:
    """The index of the most likely style of each latent (-1 for a model without styles)."""
    if not info.styles:
        return np.full(len(z), -1, dtype=np.int64)
    return np.argmax(style_log_densities(info, z), axis=1)


# ---- scoring ----------------------------------------------------------------------------------------------------
def score(values: np.ndarray, style_index: np.ndarray, request: Request, style_names: list[str]) -> np.ndarray:
    """How far each candidate is from the request (lower is better; <= 1 when every numeric target is within
    tolerance). ``values``: ``attributes`` rows; a wrong style adds 1000."""
    errors = []
    for name, target in request.numeric.items():
        column = values[:, ATTRIBUTE_ORDER.index(name)]
        errors.append(np.abs(column - target) / max(request.tolerance * abs(target), 0.5))
    total = np.zeros(len(values)) if not errors else np.max(errors, axis=0) + 0.01 * np.sum(errors, axis=0)
    if request.style is not None:
        total = total + 1000.0 * (style_index != style_names.index(request.style))
    return total


def meets(values: np.ndarray, style_index: np.ndarray, request: Request, style_names: list[str]) -> np.ndarray:
    ok = np.ones(len(values), dtype=bool)
    for name, target in request.numeric.items():
        ok &= within(values[:, ATTRIBUTE_ORDER.index(name)], target, request.tolerance)
    if request.style is not None:
        ok &= style_index == style_names.index(request.style)
    return ok


# ---- the search -------------------------------------------------------------------------------------------------
def _batched(decoding) -> list[bool]:
    return [shape[0] is None for shape in decoding.shapes()]


def _rows(outputs, index, batched):
    return [o[index] if b else o for o, b in zip(outputs, batched)]


def _concat(parts, batched):
    return [np.concatenate([p[k] for p in parts]) if b else parts[0][k] for k, b in enumerate(batched)]


class Searcher:
    """The search of one generator and mode: its bank (decoded and measured on first use) and ``search``."""

    def __init__(self, generator, mode: str, anchors: np.ndarray | None = None):
        self.generator, self.mode = generator, mode
        self.decoding = generator.decoding
        self.info = generator.info
        self.batched = _batched(self.decoding)
        self.noise_start = self.decoding.noise_start
        self.styles = generator.styles
        self._anchors = anchors
        self._bank = None
        self._bank_keys = frozenset()  # the bank's grids as bytes, set with the bank

    # -- decoding and measuring candidates ----------------------------------------------------------------------
    def outputs(self, z: np.ndarray) -> list[np.ndarray]:
        parts = [self.generator._run(z[b : b + self.generator.chunk_size])
                 for b in range(0, len(z), self.generator.chunk_size)]
        return _concat(parts, self.batched)

    def measure(self, outputs, z: np.ndarray, style: bool = True, longest: bool = True):
        """The levels the outputs decode to (the search's own grids), their attributes and style index: ``(grids,
        values, style_index)``; without ``style`` the style index is -1, without ``longest`` the longest path (no
        request asked for them)."""
        grids, _ = self.decoding.levels(outputs, self.mode)
        styles = styles_of(self.info, z) if style else np.full(len(z), -1, dtype=np.int64)
        return grids, attributes(grids, self.info.start, self.info.exit, longest=longest), styles

    def bank(self):
        """``(z, outputs, values, style_index)`` of the bank (computed once)."""
        if self._bank is None:
            rng = np.random.default_rng(BANK_SEED)
            parts = [self.generator.sample_latents(BANK_PER_SOURCE, rng)]
            for name in self.styles:
                parts.append(self.generator.sample_latents(BANK_PER_SOURCE // 2, rng, name))
            if self._anchors is not None and len(self._anchors):
                parts.append(np.asarray(self._anchors, dtype=np.float32))
            z = np.concatenate(parts)
            outputs = self.outputs(z)
            grids, values, style_index = self.measure(outputs, z)
            self._bank = (z, outputs, values, style_index)
            self._bank_keys = frozenset(grid.tobytes() for grid in grids)
        return self._bank

    # -- moves ----------------------------------------------------------------------------------------------------
    def _children(self, z: np.ndarray, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` children of each row of ``z`` and whether each moved the code (needs a graph run)."""
        parents = np.repeat(z, count, axis=0).astype(np.float64)
        n, d = parents.shape
        start = self.noise_start if self.noise_start is not None else 0
        code_move = rng.random(n) < CODE_MOVES if start else np.ones(n, dtype=bool)
        beta = np.exp(rng.uniform(np.log(0.03), np.log(0.6), size=(n, 1)))
        eps = rng.standard_normal((n, d))
        # Half the children move all of the noise a little (pCN), half redraw the noise of a few positions (1 to 16):
        # a local change of the walk.
        local = rng.random(n) < 0.5
        pcn = np.sqrt(1 - beta**2) * parents[:, start:] + beta * eps[:, start:]
        redraw = rng.random((n, d - start)) < np.exp(rng.uniform(0, np.log(16), size=(n, 1))) / (d - start)
        parents[:, start:] = np.where(local[:, None], np.where(redraw, eps[:, start:], parents[:, start:]), pcn)
        if start:
            sigma = np.exp(rng.uniform(np.log(0.03), np.log(0.5), size=(n, 1)))
            parents[:, :start] += code_move[:, None] * sigma * eps[:, :start]
        return np.clip(parents, -CLIP, CLIP).astype(np.float32), code_move

    def _evaluate(self, z, parent_outputs, code_move, style: bool, longest: bool):
        """Outputs, grids and measurements of candidates: children that kept their parent's code reuse its outputs."""
        if self.noise_start is None:
            outputs = self.outputs(z)
        else:
            outputs = self.decoding.with_noise(parent_outputs, z[:, self.noise_start :])
            moved = np.nonzero(code_move)[0]
            if len(moved):
                fresh = self.outputs(z[moved])
                for k, b in enumerate(self.batched):
                    if b:
                        outputs[k] = outputs[k].copy()
                        outputs[k][moved] = fresh[k]
        grids, values, style_index = self.measure(outputs, z, style, longest)
        return outputs, grids, values, style_index

    def search(self, requests: list[Request], rngs: list[np.random.Generator], rounds: int = ROUNDS,
               elites: int = ELITES, children: int = CHILDREN,
               near: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """The best latent found for each request: ``(z, attribute values, met)``, all requests searched together.
        ``near``: a latent; the search starts from latents around it (``variations``' moves) instead of the bank."""
        if near is None:
            bank_z, bank_out, bank_values, bank_style = self.bank()
            starts = self._bank_keys
        state = []
        for request, rng in zip(requests, rngs):
            if near is not None:  # this request's own starting points, around the latent
                bank_z = np.clip(near + NEAR_SPREAD * rng.standard_normal((4 * elites, len(near))), -CLIP, CLIP)
                bank_z = bank_z.astype(np.float32)
                bank_out = self.outputs(bank_z)
                grids, bank_values, bank_style = self.measure(bank_out, bank_z, request.style is not None)
                starts = frozenset(grid.tobytes() for grid in grids)
            scores = score(bank_values, bank_style, request, self.styles)
            # Elites: drawn from the best entries, so that different seeds start from different latents.
            pool = np.argsort(scores, kind="stable")[: 4 * elites]
            pick = rng.choice(pool, size=min(elites, len(pool)), replace=False)
            state.append({"z": bank_z[pick], "out": _rows(bank_out, pick, self.batched),
                          "values": bank_values[pick], "style": bank_style[pick], "score": scores[pick],
                          "done": None, "starts": starts})
        for _ in range(rounds):
            active = [i for i, s in enumerate(state) if s["done"] is None]
            if not active:
                break
            zs, outs, moves, owners = [], [], [], []
            for i in active:
                s = state[i]
                z, move = self._children(s["z"], rngs[i], children)
                zs.append(z)
                moves.append(move)
                parent = np.repeat(np.arange(len(s["z"])), children)
                outs.append(_rows(s["out"], parent, self.batched))
                owners.append(np.full(len(z), i))
            z = np.concatenate(zs)
            outputs, grids, values, style_index = self._evaluate(
                z, _concat(outs, self.batched), np.concatenate(moves),
                style=any(requests[i].style is not None for i in active),
                longest=any("longest_path" in requests[i].numeric for i in active))
            owners = np.concatenate(owners)
            for i in active:
                s, mine = state[i], np.nonzero(owners == i)[0]
                request = requests[i]
                child_scores = score(values[mine], style_index[mine], request, self.styles)
                # A hit is a level of its own: not one of the starting points (the bank is shared by every
                # request and seed, so a bank level that already meets would come back for many of them).
                hits = [h for h in np.nonzero(meets(values[mine], style_index[mine], request, self.styles))[0]
                        if grids[mine[h]].tobytes() not in s["starts"]]
                if len(hits):
                    j = mine[hits[0]]
                    s["done"] = (z[j], values[j], True)
                    continue
                # Elitist: the best of parents and children stay.
                all_scores = np.concatenate([s["score"], child_scores])
                order = np.argsort(all_scores, kind="stable")[:elites]
                s["out"] = _rows(_concat([s["out"], _rows(outputs, mine, self.batched)], self.batched), order,
                                 self.batched)
                s["z"] = np.concatenate([s["z"], z[mine]])[order]
                s["values"] = np.concatenate([s["values"], values[mine]])[order]
                s["style"] = np.concatenate([s["style"], style_index[mine]])[order]
                s["score"] = all_scores[order]
        results = []
        for s in state:
            if s["done"] is not None:
                results.append(s["done"])
            else:
                results.append((s["z"][0], s["values"][0], False))
        return results


# ---- reachable ranges -------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ranges_path(model: Path) -> Path:
    """Where a model's ranges are cached: beside it (``NAME.targets.json``)."""
    return model.with_name(model.stem + ".targets.json")


def _user_cache(sha: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "daedalus" / f"{sha}.targets.json"


def estimate_ranges(generator, mode: str, stages: int = 16, rounds: int = 25, elites: int = 8, children: int = 16,
                    seed: int = 0, corners: bool = True):
    """The reachable range of each numeric attribute in ``mode``: the fixed-seed bank plus searches toward each
    extreme, in ``stages`` of ``rounds`` (each stage starts from the bank and the latents the stages before found).

    Returns:
        ``({name: [low, high]}, anchors)``: anchors are the latents each stage ended on, a ladder toward each
        extreme that later searches start from.
    """
    anchors = np.zeros((0, generator.latent_dim), dtype=np.float32)
    for stage in range(stages):
        searcher = Searcher(generator, mode, anchors)
        _, _, values, _ = searcher.bank()
        low, high = values.min(axis=0), values.max(axis=0)
        requests = []
        varying = [k for k in range(len(ATTRIBUTE_ORDER)) if low[k] < high[k]]  # loops of a perfect maze do not
        for k in varying:
            for extreme in (0.0, float(4 * high[k] + 100)):
                requests.append(Request({ATTRIBUTE_ORDER[k]: extreme}, None, 0.0))
        # The corners of every pair of attributes (at the extremes found so far): requests for two attributes at
        # once start near them (a long solution with few dead ends, a long path with many loops, ...).
        for i, a in enumerate(varying if corners else ()):
            for b in varying[i + 1 :]:
                for ta in (low[a], high[a]):
                    for tb in (low[b], high[b]):
                        requests.append(Request({ATTRIBUTE_ORDER[a]: float(ta), ATTRIBUTE_ORDER[b]: float(tb)},
                                                None, 0.0))
        if not requests:
            break
        rngs = [np.random.default_rng((seed, stage, i)) for i in range(len(requests))]
        found = searcher.search(requests, rngs, rounds=rounds, elites=elites, children=children)
        anchors = np.concatenate([anchors, np.stack([z for z, _, _ in found]).astype(np.float32)])
    final = Searcher(generator, mode, anchors)
    _, _, values, _ = final.bank()
    low, high = values.min(axis=0), values.max(axis=0)
    ranges = {name: [int(low[k]), int(high[k])] for k, name in enumerate(ATTRIBUTE_ORDER)}
    return ranges, anchors


def reachable_ranges(generator, compute: bool = True) -> dict | None:
    """The cached reachable ranges of a generator's model: ``{"perfect": {name: [low, high]}, "braid": {...},
    "anchors": {mode: encode_latents(...)}}``. Read from ``NAME.targets.json`` beside the model or the user cache
    (checked against the model file's sha256); estimated and written when absent (None when absent and not
    ``compute``)."""
    cached = getattr(generator, "_target_ranges", None)
    if cached is not None:
        return cached
    model = Path(generator.path)
    sha = _sha256(model)
    for path in (ranges_path(model), _user_cache(sha)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("sha256") == sha and data.get("version") == RANGES_VERSION:
            generator._target_ranges = data
            return data
    if not compute:
        return None
    data = estimate_all(generator, sha=sha, **ON_DEMAND)
    write_ranges(data, model, sha)
    generator._target_ranges = data
    return data


def estimate_all(generator, stages: int, sha: str | None = None, **search) -> dict:
    """The ranges file's content for a generator: both modes estimated (``estimate_ranges``, which ``search``'s
    keywords go to)."""
    sha = sha or _sha256(Path(generator.path))
    data = {"format": "daedalus-target-ranges", "version": RANGES_VERSION, "sha256": sha, "anchors": {}}
    for mode in ("perfect", "braid"):
        ranges, anchors = estimate_ranges(generator, mode, stages=stages, **search)
        data[mode] = ranges
        data["anchors"][mode] = encode_latents(anchors)
    return data


def ranges_report(generator) -> dict:
    """``{mode: {attribute: [low, high]}}`` for ``daedalus info``; empty when not estimated yet (the first
    targeted request estimates and caches them)."""
    data = reachable_ranges(generator, compute=False)
    return {} if data is None else {mode: dict(data[mode]) for mode in ("perfect", "braid")}


def encode_latents(z: np.ndarray) -> dict:
    """Latents for the ranges file: float16 (plenty for a search's starting points), little-endian, base64."""
    import base64

    array = np.ascontiguousarray(z, dtype="<f2")
    return {"dtype": "float16", "shape": list(array.shape), "base64": base64.b64encode(array.tobytes()).decode()}


def decode_latents(value, latent_dim: int) -> np.ndarray:
    """The latents ``encode_latents`` wrote (an empty array for a missing or malformed entry)."""
    import base64

    try:
        array = np.frombuffer(base64.b64decode(value["base64"]), dtype="<f2").reshape(value["shape"])
    except (TypeError, KeyError, ValueError):
        return np.zeros((0, latent_dim), dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != latent_dim or not np.isfinite(array).all():
        return np.zeros((0, latent_dim), dtype=np.float32)
    return array.astype(np.float32)


def write_ranges(data: dict, model: Path, sha: str) -> Path | None:
    """Write the ranges beside the model, or into the user cache when that folder is not writable."""
    from daedalus.files import atomic_write

    text = (json.dumps(data) + "\n").encode("utf-8")
    for path in (ranges_path(model), _user_cache(sha)):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text)
            return path
        except OSError:
            continue
    return None


def searcher_for(generator, mode: str) -> Searcher:
    """The generator's searcher for ``mode`` (kept on the generator: its bank is decoded once)."""
    cache = generator.__dict__.setdefault("_searchers", {})
    if mode not in cache:
        data = reachable_ranges(generator)
        anchors = decode_latents(data.get("anchors", {}).get(mode), generator.latent_dim)
        cache[mode] = Searcher(generator, mode, anchors)
    return cache[mode]


# ---- the entry points -------------------------------------------------------------------------------------------
def request_for(generator, targets: dict, tolerance: float, mode: str) -> Request:
    data = reachable_ranges(generator)
    return check_request(targets, tolerance, generator.styles, data[mode], mode)


def level_rngs(seed: int, first: int, count: int) -> list[np.random.Generator]:
    """The search's random generator of each level: level ``i`` of seed ``s`` searches the same way whatever
    ``count`` is."""
    return [np.random.default_rng((0x7A5E7, seed, first + i)) for i in range(count)]


def targeted_levels(generator, count: int, seed: int, mode: str, targets: dict, tolerance: float,
                    strict: bool, first: int = 0, near: np.ndarray | None = None):
    """``count`` ``Level``s meeting ``targets`` (``MazeGenerator.generate`` with targets); ``near``: a latent the
    search starts around (``generate --like L --target ...``: levels like L that meet the targets).

    Raises:
        TargetError: a bad or unreachable request; with ``strict``, also when a level misses after the search,
            naming the target and what was achieved.
    """
    from daedalus.runtime.level import Level

    request = request_for(generator, targets, tolerance, mode)
    searcher = searcher_for(generator, mode)
    found = []
    # Requests go through the search in groups, so one decode serves many of them and memory stays bounded.
    group = 64
    for begin in range(0, count, group):
        size = min(group, count - begin)
        found.extend(searcher.search([request] * size, level_rngs(seed, first + begin, size), near=near))
    if not found:
        return []
    z = np.stack([f[0] for f in found]).astype(np.float32)
    # The normal pipeline decodes the chosen latents again: the level is exactly from_latents(z).
    levels = []
    for batch in generator.batches(0, None, mode, z=z):
        levels.extend(generator.levels_from_batch(batch, seed, mode, False))
    values = attributes(np.stack([level.grid for level in levels]), generator.info.start, generator.info.exit)
    style_index = styles_of(generator.info, z) if request.style is not None else np.full(len(z), -1)
    ok = meets(values, style_index, request, generator.styles)
    out = []
    for i, level in enumerate(levels):
        achieved = {name: int(values[i, ATTRIBUTE_ORDER.index(name)]) for name in request.numeric}
        if request.style is not None:
            achieved["style"] = generator.styles[style_index[i]]
        out.append(Level(level.grid, level.start, level.exit, seed, level.z, first + i, mode, level.edits,
                         targets=request.as_dict(), tolerance=request.tolerance, achieved=achieved,
                         met=bool(ok[i])))
    missed = [level for level in out if not level.met]
    if strict and missed:
        level = missed[0]
        raise TargetError(f"{len(missed)} of {len(out)} levels missed the targets within {tolerance:g}: level "
                          f"{level.index} asked {level.targets}, got {level.achieved} (strict=False returns them "
                          "marked met=False)")
    return out


# ---- variations of a level --------------------------------------------------------------------------------------
DEFAULT_DISTANCE = 0.3


def latent_of(generator, like) -> np.ndarray:
    """The latent of ``like``: a ``Level``, a level JSON file or text, or a level code (an integer: the latent
    ``generate(1, seed=code)`` draws)."""
    from daedalus.runtime.level import Level

    if isinstance(like, Level):
        z = np.asarray(like.z, dtype=np.float32)
    elif isinstance(like, (int, np.integer)) and not isinstance(like, bool) or str(like).strip().isdigit():
        z = generator.sample_latents(1, int(like))[0]
    else:
        z = np.asarray(Level.from_json(like).z, dtype=np.float32)
    if z.shape != (generator.latent_dim,):
        raise UsageError(f"--like: the level's z has {z.shape[0]} values but this model's latent_dim is "
                         f"{generator.latent_dim}")
    return z


def variations(generator, like, count: int, seed: int, distance: float = DEFAULT_DISTANCE,
               mode: str = "perfect", first: int = 0) -> list:
    """``count`` levels near ``like`` in latent space: ``z_i = z + distance · ε_i``, ``ε_i ~ N(0, I)`` drawn from
    level i's own generator (``level_rngs``), so level i is the same whatever ``count`` is."""
    if isinstance(distance, bool) or not isinstance(distance, (int, float)) or not math.isfinite(distance) \
            or distance < 0:
        raise UsageError(f"distance must be a non-negative number, got {distance!r}")
    z = latent_of(generator, like)
    moved = [z + distance * rng.standard_normal(len(z)) for rng in level_rngs(seed, first, count)]
    if not moved:
        return []
    levels = generator.from_latents(np.clip(np.stack(moved), -CLIP, CLIP).astype(np.float32), mode)
    for i, level in enumerate(levels):
        level.seed, level.index = seed, first + i
    return levels


# ---- the command line -------------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    """``generate``'s options for targets and variations."""
    parser.add_argument("--target", action="append", type=_cli_target, metavar="NAME=VALUE",
                        help=f"an attribute the levels must have (repeatable): {', '.join(ATTRIBUTES)}; "
                        "daedalus info gives the reachable ranges")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="relative tolerance of each target (default 0.05: within 5%%)")
    parser.add_argument("--like", metavar="LEVEL_JSON_OR_CODE",
                        help="variations of one level (a level JSON file or a level code), near it in latent space; "
                        "with --target, levels that meet the targets searched for from around it")
    parser.add_argument("--distance", type=float, default=DEFAULT_DISTANCE,
                        help=f"with --like: how far the variations go (latent noise scale, default {DEFAULT_DISTANCE})")


def _cli_target(text: str):
    import argparse

    try:
        return parse_target(text)
    except TargetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cli_batches(generator, args, seed: int):
    """What ``generate`` writes, as ``generator.batches`` dicts plus ``levels`` (the ``Level`` objects, with their
    targets) — checked before any level is made, so that a bad request stops the command before it writes."""
    resample = getattr(args, "resample", 1)
    if args.like is None and not args.target:
        return generator.batches(args.count, seed, args.mode, style=args.style, resample=resample)
    if resample != 1:
        raise UsageError("--resample does not combine with --target or --like: those already choose each level")
    if args.like is not None and args.target:
        near = latent_of(generator, args.like)
        wanted = dict(args.target)
        if args.style is not None:
            wanted.setdefault("style", args.style)
        request_for(generator, wanted, args.tolerance, args.mode)

        def make(begin, size):
            return targeted_levels(generator, size, seed, args.mode, wanted, args.tolerance, False, first=begin,
                                   near=near)
    elif args.like is not None:
        latent_of(generator, args.like)  # refuses a bad level before anything is written

        def make(begin, size):
            return variations(generator, args.like, size, seed, args.distance, args.mode, first=begin)
    else:
        wanted = dict(args.target)
        if args.style is not None:
            wanted.setdefault("style", args.style)
        request_for(generator, wanted, args.tolerance, args.mode)

        def make(begin, size):
            return targeted_levels(generator, size, seed, args.mode, wanted, args.tolerance, False, first=begin)

    def run():
        missed = 0
        for begin in range(0, args.count, 256):
            levels = make(begin, min(256, args.count - begin))
            missed += sum(level.met is False for level in levels)
            yield {"grids": np.stack([level.grid for level in levels]),
                   "latents": np.stack([level.z for level in levels]),
                   "edits": np.array([level.edits for level in levels], dtype=np.int64),
                   "first": begin, "levels": levels}
        if missed:
            import sys

            print(f"warning: {missed} of {args.count} levels missed the targets within {args.tolerance:g} "
                  "(their JSON says met: false)", file=sys.stderr)

    return run()


def clamp_targets(generator, targets: dict, mode: str) -> dict:
    """``targets`` with each numeric value moved into the model's reachable range for ``mode`` (a game's
    difficulty curve asks the same of every model; what one cannot reach becomes the nearest it can)."""
    ranges = reachable_ranges(generator)[mode]
    return {name: value if name == "style" else min(max(value, ranges[name][0]), ranges[name][1])
            for name, value in targets.items()}
