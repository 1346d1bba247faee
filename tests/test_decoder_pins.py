"""Levels pinned bit for bit, from the carve decoder shipped until 2026-12 (a copy lives in tests/data).

Two things are pinned apart, so that a change to one cannot hide behind the other:
- the decoding: the hashes generated before the decoding classes existed, from the latents that level codes
  version 1 drew (numpy's PCG64 + ziggurat normals from the seed), fed through ``from_latents``;
- the level codes: version 2 (``daedalus.runtime.levelcode``, SplitMix64 + Box-Muller, docs/formats.md), which
  ``generate(seed=...)`` and ``sample_latents`` use since issue 14. Those hashes were re-pinned on purpose when the
  level code changed meaning; the decoding pins above did not move.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from daedalus.runtime import MazeGenerator

CARVE = Path(__file__).parent / "data" / "carve-2026-11.onnx"
DECODING = {
    "perfect": "b9592f866106f004f04f418afe91014efdbdac9b5ce7701ef8078bb28da3b9e9",
    "braid": "dc4edc89ece869c0c6e67aa919284243861c6d255ce81812c3964cc2e240ef1f",
}
LEVEL_CODES = {
    "perfect": "ed8b30385541288f101a5ceb6d70f027f9d67f3ef84f9915c3ec8e05ebbb0c7d",
    "braid": "95fc53e3c9d19f6ea06ce11dc5906d49425e0e25e97fde34131679c8f1fa98d3",
}


def digest(levels) -> str:
    return hashlib.sha256(b"".join(level.grid.tobytes() for level in levels)).hexdigest()


def version_1_latents(count: int, seed: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


@pytest.mark.parametrize("mode", sorted(DECODING))
def test_carve_decoding_is_unchanged_for_the_same_latents(mode):
    generator = MazeGenerator.load(CARVE)
    levels = generator.from_latents(version_1_latents(40, 123, generator.latent_dim), mode=mode)
    assert digest(levels) == DECODING[mode]


@pytest.mark.parametrize("mode", sorted(LEVEL_CODES))
def test_carve_levels_are_unchanged_for_the_same_level_codes(mode):
    assert digest(MazeGenerator.load(CARVE).generate(40, seed=123, mode=mode)) == LEVEL_CODES[mode]


def test_carve_levels_from_latents_are_unchanged():
    generator = MazeGenerator.load(CARVE)
    grids = np.stack([level.grid for level in generator.from_latents(version_1_latents(3, 5, generator.latent_dim))])
    assert hashlib.sha256(grids.tobytes()).hexdigest() == \
        "8f591b0f0d6428928279f03e09a2ffde1b72e272871f32477491607e9ca4b42d"
    level_code = np.stack([level.grid for level in generator.from_latents(generator.sample_latents(3, 5))])
    assert hashlib.sha256(level_code.tobytes()).hexdigest() == \
        "1f438525a64ea1b55097b615938a03fe596275eaa9352bd6ced2624d93dd5d37"
