"""``Level``: one generated maze with everything a game needs, and its JSON form (schema in docs/formats.md)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from daedalus.errors import UsageError
from daedalus.runtime.levelcode import LEVEL_CODE_VERSION

LEVEL_FORMAT = "daedalus-level"
LEVEL_VERSION = 1


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which costs more per level than
# sampling, decoding and repairing it. The arrays are read-only; treat the rest as read-only too.
@dataclass(eq=False)
class Level:
    """One level.

    Attributes:
        grid: ``(H, W)`` uint8, 1 = open floor, 0 = wall (read-only).
        start, exit: ``(row, col)`` where the player spawns and where the level ends; both open and connected.
        seed: the seed ``generate`` drew the latents from (None for levels made from given latents).
        z: ``(latent_dim,)`` float32, the level code: ``generator.from_latents(level.z)`` rebuilds this level.
        index: position in the ``generate`` call (level code = seed + index), None for given latents.
        mode: ``"perfect"`` or ``"braid"``.
        edits: positions repair changed against the thresholded decoder output.
        targets, tolerance, achieved, met: a level generated with targets (``generate(targets=...)``): what was
            asked, the relative tolerance, the values the level has (``daedalus.runtime.targets``) and whether every
            target holds; None for a level generated without targets.
        resample: K for a level that is the critic's choice of K candidate walks of its code (``generate(...,
            resample=K)``, docs/formats.md "Critic files and resampling"); None otherwise. ``z`` is the kept
            candidate's, so ``from_latents(z)`` rebuilds the level without the critic.
    """

    grid: np.ndarray
    start: tuple[int, int]
    exit: tuple[int, int]
    seed: int | None
    z: np.ndarray
    index: int | None = None
    mode: str = "perfect"
    edits: int = 0
    targets: dict | None = None
    tolerance: float | None = None
    achieved: dict | None = None
    met: bool | None = None
    resample: int | None = None
    _stats: dict | None = field(default=None, repr=False, compare=False)

    @cached_property
    def stats(self) -> dict:
        """The maze core's statistics (``daedalus.maze.stats.level_stats``) plus ``repair_edits``; computed on first
        access so that generation stays fast."""
        if self._stats is not None:
            return dict(self._stats)
        from daedalus.maze.stats import level_stats

        out = level_stats(self.grid, self.start, self.exit)
        out["repair_edits"] = int(self.edits)
        if self.targets is not None:
            from daedalus.maze.stats import longest_path

            out["longest_path"] = int(longest_path(self.grid))
            out.update(targets=dict(self.targets), tolerance=self.tolerance, achieved=dict(self.achieved or {}),
                       met=self.met)
        return out

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.grid.shape)

    def to_dict(self) -> dict:
        """The JSON-ready dict of schema ``daedalus-level`` version 1 (see docs/formats.md)."""
        height, width = self.grid.shape
        out = {
            "format": LEVEL_FORMAT,
            "version": LEVEL_VERSION,
            "height": int(height),
            "width": int(width),
            "grid": np.asarray(self.grid, dtype=np.uint8).tolist(),
            "start": [int(self.start[0]), int(self.start[1])],
            "exit": [int(self.exit[0]), int(self.exit[1])],
            "seed": None if self.seed is None else int(self.seed),
            "index": None if self.index is None else int(self.index),
            # Which mapping from level code to z made it (daedalus.runtime.levelcode; 1 = numpy's, before 2026-12).
            "level_code": LEVEL_CODE_VERSION,
            "mode": self.mode,
            "edits": int(self.edits),
            # float32 → Python float is exact, so the code survives the round trip bit for bit.
            "z": [float(v) for v in np.asarray(self.z, dtype=np.float32)],
        }
        if self.targets is not None:  # optional keys (issue 12): a version-1 reader ignores them
            out.update(targets=dict(self.targets), tolerance=self.tolerance, achieved=dict(self.achieved or {}),
                       met=bool(self.met))
        if self.resample is not None:
            out["resample"] = int(self.resample)
        return out

    def to_json(self, path: str | os.PathLike | None = None, indent: int | None = None) -> str:
        """The level as JSON text; also written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            from daedalus.files import atomic_write

            atomic_write(path, (text + "\n").encode("utf-8"))
        return text

    @classmethod
    def from_dict(cls, data: dict, source: str = "level") -> Level:
        """Rebuild a level from ``to_dict`` output.

        The grid goes through the maze core's ``validate_levels``: values exactly 0/1, the lattice rule, start and
        exit integer positions of open cells inside the grid, the exit reachable from the start.

        Raises:
            UsageError: naming ``source`` and the first bad field or value (``CorpusError`` for the grid checks).
        """
        from daedalus.maze.corpus import validate_levels

        if not isinstance(data, dict):
            raise UsageError(f"{source}: a level must be a JSON object, got {type(data).__name__}")
        if data.get("format") != LEVEL_FORMAT:
            raise UsageError(f"{source}: level format must be {LEVEL_FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != LEVEL_VERSION:
            raise UsageError(f"{source}: level version must be {LEVEL_VERSION}, got {data.get('version')!r}")
        try:
            # No dtype: a cast to int would truncate 0.5 to a wall and a start of 2.5 to 2; validate_levels refuses
            # them.
            grid = np.asarray(data["grid"])
            height, width = int(data["height"]), int(data["width"])
            start, exit = np.asarray(data["start"]), np.asarray(data["exit"])
            z = np.asarray(data["z"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{source}: level JSON is missing or has a malformed field: {error}") from None
        if grid.shape != (height, width) or grid.dtype.kind not in "iuf":  # JSON true/false is not a cell value
            raise UsageError(f"{source}: level grid must be {height}x{width} of 0/1, got shape {grid.shape} of "
                             f"{grid.dtype}")
        if start.shape != (2,) or exit.shape != (2,) or z.ndim != 1:
            raise UsageError(f"{source}: level start and exit must be [row, col] and z a flat list of numbers")
        validate_levels(grid, start, exit, source)
        grid = grid.astype(np.uint8)
        grid.setflags(write=False)
        z.setflags(write=False)
        targets = _targets_fields(data, source)
        resample = data.get("resample")
        if resample is not None and (isinstance(resample, bool) or not isinstance(resample, int) or resample < 1):
            raise UsageError(f"{source}: level resample must be a positive integer or absent, got {resample!r}")
        return cls(grid=grid, start=(int(start[0]), int(start[1])), exit=(int(exit[0]), int(exit[1])),
                   seed=data.get("seed"), z=z, index=data.get("index"), mode=str(data.get("mode", "perfect")),
                   edits=int(data.get("edits", 0)), resample=resample, **targets)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> Level:
        """Read a level from JSON text or from a ``.json`` file path.

        A ``str`` whose first non-blank character is ``{`` or ``[`` is JSON text; any other ``str`` and every
        ``os.PathLike`` is a path.
        """
        source = "level"
        if isinstance(text_or_path, os.PathLike) or not str(text_or_path).lstrip().startswith(("{", "[")):
            source = str(text_or_path)
            try:
                with open(text_or_path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as error:
                raise UsageError(f"cannot read level file {source!r}: {error.strerror}") from None
        else:
            text = str(text_or_path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"{source}: level is not valid JSON: {error}") from None
        return cls.from_dict(data, source)

    def to_text(self) -> str:
        """ASCII art: ``#`` wall, ``.`` floor, ``S`` start, ``E`` exit; one line per row."""
        chars = np.where(np.asarray(self.grid) != 0, ".", "#").astype("<U1")
        chars[self.start] = "S"
        chars[self.exit] = "E"
        return "\n".join("".join(row) for row in chars) + "\n"

    def render(self, scale: int = 8) -> np.ndarray:
        """An RGB image of the level (``daedalus.maze.draw.render``)."""
        from daedalus.maze.draw import render

        return render(self.grid, self.start, self.exit, scale)

    def to_png(self, path: str | os.PathLike, scale: int = 8) -> None:
        """Draw the level to a PNG file, atomically."""
        from daedalus.maze.draw import maze_png

        maze_png(self.grid, path, self.start, self.exit, scale)


def _targets_fields(data: dict, source: str) -> dict:
    """The optional ``targets``, ``tolerance``, ``achieved`` and ``met`` keys of a level made with targets."""
    if data.get("targets") is None:
        return {}
    targets, achieved = data.get("targets"), data.get("achieved", {})
    if not isinstance(targets, dict) or not isinstance(achieved, dict):
        raise UsageError(f"{source}: level targets and achieved must be JSON objects, got {targets!r} and "
                         f"{achieved!r}")
    tolerance, met = data.get("tolerance"), data.get("met")
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not isinstance(met, bool):
        raise UsageError(f"{source}: a level with targets needs a numeric tolerance and a true/false met, got "
                         f"{tolerance!r} and {met!r}")
    return {"targets": targets, "tolerance": float(tolerance), "achieved": achieved, "met": met}
