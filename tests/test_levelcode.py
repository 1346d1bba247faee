"""The portable level code (docs/formats.md "Level codes"): SplitMix64 words and Box–Muller normals match a plain
integer implementation and the documented test vectors, and a level's latent depends on its code alone."""

import math

import numpy as np
import pytest

from daedalus.errors import UsageError
from daedalus.runtime import MazeGenerator, levelcode

MASK = 2**64 - 1
GOLDEN = 0x9E3779B97F4A7C15

# The test vectors of docs/formats.md: (code, word 0, word 1, float32 bits of eps[0..3]).
VECTORS = {
    0: (0xA706DD2F4D197E6F, 0xB382A305F4414F5E),
    1: (0x5E41AB087439611E, 0xF18D6CE93D6CF1EE),
    2**64 - 1: (0x5DC20AA7B2A27137, 0xBDA5668A01D7049C),
}
LATENTS = {  # first four float32 values of z for the code, as written in docs/formats.md
    0: (-0.27887493, -0.88106465, -0.76422286, -1.146291),
}


def mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def reference_normal(code: int, d: int) -> float:
    key = mix((code + GOLDEN) & MASK)
    j = d // 2
    a = mix((key + (2 * j + 1) * GOLDEN) & MASK)
    b = mix((key + (2 * j + 2) * GOLDEN) & MASK)
    u1 = ((a >> 11) + 1) * 2.0**-53
    u2 = (b >> 11) * 2.0**-53
    r, t = math.sqrt(-2.0 * math.log(u1)), 6.283185307179586 * u2
    return r * (math.cos(t) if d % 2 == 0 else math.sin(t))


@pytest.mark.parametrize("code", sorted(VECTORS))
def test_words_match_the_documented_vectors(code):
    assert tuple(int(w) for w in levelcode.words([code], 2)[0]) == VECTORS[code]


def test_latents_match_the_documented_vectors():
    for code, values in LATENTS.items():
        np.testing.assert_array_equal(levelcode.latents(code, 1, 4)[0], np.array(values, dtype=np.float32))


@pytest.mark.parametrize("code", [0, 1, 7, 123456789, 2**40 + 3, 2**63, 2**64 - 1])
def test_numpy_normals_match_a_plain_integer_implementation(code):
    got = levelcode.latents(code, 1, 9)[0]
    want = np.array([reference_normal(code, d) for d in range(9)], dtype=np.float32)
    np.testing.assert_array_equal(got, want)


def test_a_row_depends_on_its_code_alone():
    many = levelcode.latents(1000, 50, 228)
    for i in (0, 17, 49):
        np.testing.assert_array_equal(levelcode.latents(1000 + i, 1, 228)[0], many[i])
    # A longer z extends a shorter one: dimension d does not depend on the width either.
    np.testing.assert_array_equal(levelcode.latents(5, 3, 228)[:, :31], levelcode.latents(5, 3, 31))


def test_normals_look_standard():
    z = levelcode.latents(0, 20000, 8).astype(np.float64)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]) < 0.03, "neighbouring codes must be unrelated"
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.03, "the two halves of a Box-Muller pair are independent"


def test_a_gaussian_prior_covers_the_first_dimensions():
    mean = np.array([1.0, -2.0])
    tril = np.array([[2.0, 0.0], [0.5, 0.25]])
    eps = levelcode.normals(np.array([3], dtype=np.uint64), 5)[0]
    got = levelcode.latents(3, 1, 5, mean, tril)[0]
    want = np.concatenate([mean + tril @ eps[:2], eps[2:]]).astype(np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("first,count", [(-1, 1), (2**64, 1), (2**64 - 2, 3), (1.5, 1), (True, 1)])
def test_codes_outside_uint64_are_refused(first, count):
    with pytest.raises(UsageError, match="level code"):
        levelcode.latents(first, count, 4)


def test_generate_uses_the_level_code():
    generator = MazeGenerator.load()
    levels = generator.generate(4, seed=41)
    np.testing.assert_array_equal(levels[2].z, levelcode.latents(43, 1, generator.latent_dim)[0])
    assert np.array_equal(levels[3].grid, generator.generate(1, seed=44)[0].grid)
    np.testing.assert_array_equal(generator.sample_latents(4, 41), np.stack([level.z for level in levels]))


@pytest.mark.skipif(levelcode._native is None, reason="the compiled level codes are not built in this install")
@pytest.mark.parametrize("dim", [1, 7, 228])
def test_compiled_normals_agree_with_the_reference(dim):
    codes = np.concatenate([np.arange(3000, dtype=np.uint64),
                            np.array([2**63, 2**64 - 1, 123456789123456789], dtype=np.uint64)])
    ours, reference = levelcode.normals(codes, dim, "c"), levelcode.normals(codes, dim, "numpy")
    # libms may differ by an ulp in float64; the latents, rounded to float32, are the same.
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(ours.astype(np.float32), reference.astype(np.float32))


def test_an_unknown_normals_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        levelcode.normals([1], 4, "fortran")
