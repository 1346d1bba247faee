"""Where levels come from: the runtime's ONNX model when it loads and works, the maze core's backtracker when not.

``LevelSource`` hides the choice. It never raises: when ``daedalus.runtime`` is missing, the model file cannot be
loaded or a generation fails, it sets ``message`` (the game shows it on screen) and returns a backtracker level for
the same seed, with a few extra walls opened in braid mode so the chase still has loops. ``prefetch``/``poll``
prepare a level on a background thread, so the next stage is ready without stalling a frame.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daedalus.game_demo.rules import Board, Position
from daedalus.maze.backtracker import backtracker
from daedalus.maze.grid import DEFAULT_SIZE, check_shape, default_exit, default_start, link_positions

MODES = ("braid", "perfect")
DEVICES = ("auto", "cpu", "cuda")
# Share of the backtracker's closed links a braid fallback level opens (24 of 169 at 28 x 28): enough loops to
# escape through, few enough that it still reads as a maze.
FALLBACK_BRAID = 1 / 7


@dataclass(frozen=True)
class GameLevel:
    """A level ready to play.

    Attributes:
        board: the maze with its distance table (``rules.Board``).
        start, exit: the player's start and goal.
        seed: the level code; the same seed and settings give the same level.
        source: ``"model"`` or ``"backtracker"``.
        request: the targets asked of the generator (``rules.level_targets``), None for none.
        achieved: what the level has of each requested attribute (None: no request, or a backtracker level).
    """

    board: Board
    start: Position
    exit: Position
    seed: int
    source: str
    request: dict | None = None
    achieved: dict | None = None

    @property
    def grid(self) -> np.ndarray:
        return self.board.grid


def fallback_grid(seed: int, shape: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE), mode: str = "braid") -> np.ndarray:
    """A backtracker maze for ``seed``; in braid mode, ``FALLBACK_BRAID`` of its closed links opened (chosen by
    the same seeded generator), which keeps the lattice rule and adds loops.

    Returns:
        ``(H, W)`` uint8 grid, 1 = open.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    rng = np.random.default_rng(seed)
    grid = backtracker(*shape, rng)
    if mode == "braid":
        links = link_positions(grid.shape)
        closed = links[grid[links[:, 0], links[:, 1]] == 0]
        count = int(round(FALLBACK_BRAID * len(closed)))
        pick = rng.choice(len(closed), size=count, replace=False)
        grid[closed[pick, 0], closed[pick, 1]] = 1
    return grid


class _Job:
    """One level prepared on a daemon thread (a daemon, so quitting never waits for a decode)."""

    def __init__(self, work):
        self.result = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(work,), daemon=True, name="daedalus-level").start()

    def _run(self, work) -> None:
        try:
            self.result = work()
        except Exception:  # poll() sees None and builds the level on the caller's thread instead
            self.result = None
        finally:
            self.done.set()


class LevelSource:
    """Levels for the game, from the model or, failing that, from the backtracker.

    Args:
        model: path of an ONNX decoder; None = the runtime's shipped default model.
        mode: ``"braid"`` (keeps loops, the default) or ``"perfect"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``, passed to the runtime.
        size: grid size of fallback levels when no model is loaded.
        use_model: False skips the runtime altogether (backtracker levels, no message).

    Attributes:
        message: None while the model works; otherwise one line saying why backtracker levels are played.
        description: a short line naming where levels come from (shown on the title screen).
    """

    def __init__(self, model: str | Path | None = None, mode: str = "braid", device: str = "auto",
                 size: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE), use_model: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        self.model, self.mode, self.device = model, mode, device
        self.size = check_shape(*size)
        self.use_model = use_model
        self.message: str | None = None
        self._generator = None
        self._loaded = not use_model
        self._lock = threading.Lock()
        self._jobs: dict[int, _Job] = {}

    @property
    def description(self) -> str:
        if self.message:
            return f"backtracker levels ({self.mode}): {self.message}"
        if self._generator is None:
            return f"backtracker levels ({self.mode})" if self._loaded else f"model levels ({self.mode}), loading"
        where = getattr(self._generator, "provider", None) or getattr(self._generator, "device", None)
        return f"model levels ({self.mode}{', ' + str(where) if where else ''})"

    def _fail(self, what: str, error: BaseException) -> None:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.message = f"{what}: {text} - playing backtracker levels"

    def _load(self):
        if not self._loaded:
            self._loaded = True
            try:
                try:
                    from daedalus.runtime import MazeGenerator
                except ImportError as error:
                    raise RuntimeError(f"the runtime is not available ({error})") from error
                self._generator = MazeGenerator.load(path=self.model, device=self.device)
            except Exception as error:  # any failure (missing runtime, bad file, onnxruntime) means fall back
                where = "default model" if self.model is None else f"model {str(self.model)!r}"
                self._fail(f"cannot load the {where}", error)
        return self._generator

    def level(self, seed: int, targets: dict | None = None) -> GameLevel:
        """The level for ``seed``, computed now (blocking); with ``targets``, one the runtime searched for
        (``generate(targets=...)``, each target moved into the model's reachable range). Never raises for model
        trouble: falls back."""
        seed = int(seed)
        with self._lock:
            generator = self._load()
            if generator is not None:
                try:
                    if targets:
                        from daedalus.runtime.targets import clamp_targets

                        asked = clamp_targets(generator, targets, self.mode)
                        (found,) = generator.generate(1, seed=seed, mode=self.mode, targets=asked, strict=False)
                    else:
                        (found,) = generator.generate(1, seed=seed, mode=self.mode)
                    return self._checked(found, seed)
                except Exception as error:  # a broken model must not end the run
                    self._fail(f"the model failed on level code {seed}", error)
                    self._generator = None
        board = Board(fallback_grid(seed, self.size, self.mode))
        board.core  # computed here, off the frame loop
        return GameLevel(board, default_start(board.shape), default_exit(board.shape), seed, "backtracker")

    def _checked(self, found, seed: int) -> GameLevel:
        """A runtime level as a GameLevel, after checking what the game relies on."""
        grid = np.asarray(found.grid)
        if grid.ndim != 2 or min(grid.shape) < 4:
            raise ValueError(f"level grid has shape {grid.shape}, expected (H, W)")
        start = tuple(int(v) for v in found.start)
        exit = tuple(int(v) for v in found.exit)
        board = Board(grid)
        if board.dist(start, exit) < 0:
            raise ValueError(f"level has no path from start {start} to exit {exit}")
        board.core  # computed here, off the frame loop
        found_seed = getattr(found, "seed", None)
        return GameLevel(board, start, exit, seed if found_seed is None else int(found_seed), "model",
                         getattr(found, "targets", None), getattr(found, "achieved", None))

    @staticmethod
    def _key(seed: int, targets: dict | None):
        return int(seed), tuple(sorted((targets or {}).items()))

    def prefetch(self, seed: int, targets: dict | None = None) -> None:
        """Start preparing ``seed``'s level (with ``targets``) on a background thread (no-op when already
        started)."""
        key = self._key(seed, targets)
        if key not in self._jobs:
            self._jobs[key] = _Job(lambda: self.level(key[0], targets))

    def poll(self, seed: int, targets: dict | None = None) -> GameLevel | None:
        """``seed``'s level if it is ready, else None (and it is being prepared); never blocks."""
        self.prefetch(seed, targets)
        key = self._key(seed, targets)
        job = self._jobs[key]
        if not job.done.is_set():
            return None
        del self._jobs[key]
        if job.result is None:  # the thread died on something unexpected: build the fallback here
            return self.level(seed, targets)
        return job.result

    def close(self, timeout: float = 5.0) -> bool:
        """Let the levels still being prepared finish (up to ``timeout`` seconds in all): a daemon thread still
        inside onnxruntime or the compiled walk when the interpreter shuts down aborts the process. Returns whether
        every one finished (False: the caller must not run the interpreter's shutdown; ``daedalus play`` then ends
        the process at once)."""
        deadline = time.monotonic() + timeout
        for job in list(self._jobs.values()):
            job.done.wait(max(0.0, deadline - time.monotonic()))
        return self.idle()

    def idle(self) -> bool:
        """Whether no level is being prepared on a background thread."""
        return all(job.done.is_set() for job in self._jobs.values())

    def wait(self, seed: int, timeout: float | None = None, targets: dict | None = None) -> GameLevel | None:
        """``seed``'s level, waiting up to ``timeout`` seconds for it (None on timeout)."""
        self.prefetch(seed, targets)
        self._jobs[self._key(seed, targets)].done.wait(timeout)
        return self.poll(seed, targets)
