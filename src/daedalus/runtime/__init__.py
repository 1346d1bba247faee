"""The runtime a game embeds: numpy + onnxruntime + the maze core, never torch.

    from daedalus.runtime import MazeGenerator
    generator = MazeGenerator.load()            # the shipped decoder; or .load("decoder.onnx", device="cuda")
    for level in generator.generate(10, seed=7):
        level.grid, level.start, level.exit      # (H, W) uint8 with 1 = floor; (row, col) pairs
"""

from daedalus.runtime.errors import DaedalusError, DeviceError, ModelError, UsageError
from daedalus.runtime.generator import DEFAULT_MODEL, MazeGenerator, choose_providers, installed_runtimes
from daedalus.runtime.level import LEVEL_FORMAT, LEVEL_VERSION, Level

__all__ = [
    "DEFAULT_MODEL",
    "DaedalusError",
    "DeviceError",
    "LEVEL_FORMAT",
    "LEVEL_VERSION",
    "Level",
    "MazeGenerator",
    "ModelError",
    "UsageError",
    "choose_providers",
    "installed_runtimes",
]
