"""The decoder refactor keeps levels bit for bit: level hashes pinned from the carve decoder shipped until 2026-12
(a copy lives in tests/data), generated before the decoding classes existed."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from daedalus.runtime import MazeGenerator

CARVE = Path(__file__).parent / "data" / "carve-2026-11.onnx"
PINNED = {
    "perfect": "b9592f866106f004f04f418afe91014efdbdac9b5ce7701ef8078bb28da3b9e9",
    "braid": "dc4edc89ece869c0c6e67aa919284243861c6d255ce81812c3964cc2e240ef1f",
}


@pytest.mark.parametrize("mode", sorted(PINNED))
def test_carve_levels_are_unchanged_for_the_same_seed(mode):
    levels = MazeGenerator.load(CARVE).generate(40, seed=123, mode=mode)
    assert hashlib.sha256(b"".join(level.grid.tobytes() for level in levels)).hexdigest() == PINNED[mode]


def test_carve_levels_from_latents_are_unchanged():
    generator = MazeGenerator.load(CARVE)
    grids = np.stack([level.grid for level in generator.from_latents(generator.sample_latents(3, 5))])
    assert hashlib.sha256(grids.tobytes()).hexdigest() == \
        "8f591b0f0d6428928279f03e09a2ffde1b72e272871f32477491607e9ca4b42d"
