"""daedalus.runtime against real ONNX decoders run by onnxruntime (built in tests/onnx_models.py)."""

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import onnx_models
from daedalus.errors import DaedalusError
from daedalus.maze import is_perfect, pieces
from daedalus.runtime import DeviceError, Level, MazeGenerator, ModelError, UsageError
from independent_bfs import bfs_reachable


def solvable(grid, start, exit):
    """Independent BFS: is ``exit`` reachable from ``start``, and is every open position reachable?"""
    seen = bfs_reachable(grid, start)
    return tuple(exit) in seen and len(seen) == int(grid.sum())


def test_runtime_imports_without_torch_or_pygame():
    code = ("import sys, daedalus.runtime, daedalus.runtime.cli; "
            "bad = [m for m in ('torch', 'pygame', 'onnx') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**53 - 1), mode=st.sampled_from(["perfect", "braid"]))
def test_generated_levels_are_solvable_and_perfect_when_asked(generator, seed, mode):
    levels = generator.generate(5, seed=seed, mode=mode)
    assert len(levels) == 5
    for i, level in enumerate(levels):
        assert level.grid.shape == (28, 28) and level.grid.dtype == np.uint8
        assert level.seed == seed and level.index == i and level.mode == mode
        assert solvable(level.grid, level.start, level.exit)
        assert level.grid[level.start] == 1 and level.grid[level.exit] == 1
        if mode == "perfect":
            assert is_perfect(level.grid)
        assert pieces(level.grid) == 1


@settings(max_examples=30, deadline=None)
@given(z=arrays(np.float32, (4, 8), elements=st.floats(-10, 10, width=32)), mode=st.sampled_from(["perfect", "braid"]))
def test_any_latent_in_range_gives_a_solvable_level(generator, z, mode):
    for level in generator.from_latents(z, mode):
        assert solvable(level.grid, level.start, level.exit)
        assert mode == "braid" or is_perfect(level.grid)
        assert (generator.from_latents(level.z, mode).grid == level.grid).all()


@pytest.mark.parametrize("value", [10.0, -10.0, 0.0, 1e6])
def test_extreme_latents_still_give_solvable_levels(generator, value):
    for mode in ("perfect", "braid"):
        z = np.full((3, generator.latent_dim), value, dtype=np.float32)
        z[1, ::2] *= -1
        for level in generator.from_latents(z, mode):
            assert solvable(level.grid, level.start, level.exit)
            assert mode == "braid" or is_perfect(level.grid)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_levels_and_a_level_rebuilds_from_its_code(generator, seed):
    first = generator.generate(40, seed=seed)
    again = generator.generate(7, seed=seed)  # level i does not depend on count
    for a, b in zip(first, again):
        assert (a.grid == b.grid).all() and (a.z == b.z).all()
    for level in first[::6]:
        rebuilt = generator.from_latents(level.z)
        assert (rebuilt.grid == level.grid).all() and rebuilt.edits == level.edits
        via_json = Level.from_json(level.to_json())
        assert (generator.from_latents(via_json.z).grid == level.grid).all()


def test_chunked_decoding_matches_one_chunk(decoder_path, generator):
    small = MazeGenerator.load(decoder_path, device="cpu", chunk_size=7)
    a, b = small.generate(30, seed=11), generator.generate(30, seed=11)
    assert all((x.grid == y.grid).all() for x, y in zip(a, b))
    assert small.raw_levels(np.zeros((20, small.latent_dim))).shape == (20, 28, 28)


def test_one_generator_many_threads(generator):
    seeds = list(range(16))
    expected = {s: np.stack([lv.grid for lv in generator.generate(20, seed=s)]) for s in seeds}
    barrier = threading.Barrier(4)

    def work(seed):
        if seed < 4:
            barrier.wait()  # start the first four at once
        return seed, np.stack([lv.grid for lv in generator.generate(20, seed=seed)])

    with ThreadPoolExecutor(4) as pool:
        for seed, grids in pool.map(work, seeds):
            assert (grids == expected[seed]).all()


def test_count_zero_and_bad_counts(generator):
    assert generator.generate(0, seed=1) == []
    for bad in (-1, 2.5, "3", True):
        with pytest.raises(UsageError, match="count"):
            generator.generate(bad)
    with pytest.raises(UsageError, match="mode"):
        generator.generate(2, mode="spiral")
    with pytest.raises(DaedalusError):
        generator.generate(2, seed=-4)


def test_bad_latents_are_named(generator):
    d = generator.latent_dim
    with pytest.raises(UsageError, match="nan"):
        generator.raw_levels(np.array([[np.nan] * d]))
    with pytest.raises(UsageError, match="inf"):
        generator.from_latents(np.array([np.inf] + [0.0] * (d - 1)))
    with pytest.raises(UsageError, match="finite"):
        generator.raw_levels(np.full((1, d), 1e300))  # overflows float32
    with pytest.raises(UsageError, match=rf"\(count, {d}\)"):
        generator.raw_levels(np.zeros((2, d + 1)))
    with pytest.raises(UsageError, match="dtype"):
        generator.raw_levels(np.array([["a"] * d]))
    with pytest.raises(UsageError, match="dtype"):
        generator.raw_levels(np.zeros((1, d), dtype=complex))
    # safe casts are made
    as_int = generator.from_latents(np.zeros(d, dtype=np.int64))
    as_f64 = generator.from_latents(np.zeros(d, dtype=np.float64))
    assert (as_int.grid == as_f64.grid).all() and as_int.z.dtype == np.float32


def test_interpolate_ends_at_both_latents(generator):
    a, b = generator.generate(2, seed=5)
    path = generator.interpolate(a, b.z, steps=5)
    assert len(path) == 5
    assert (path[0].grid == a.grid).all() and (path[-1].grid == b.grid).all()
    with pytest.raises(UsageError, match="steps"):
        generator.interpolate(a, b, steps=1)


def test_level_formats(generator, tmp_path):
    level = generator.generate(1, seed=9, mode="braid")[0]
    data = json.loads(level.to_json())
    assert data["format"] == "daedalus-level" and data["version"] == 1
    assert np.array_equal(np.array(data["grid"], dtype=np.uint8), level.grid)
    assert data["start"] == list(level.start) and data["exit"] == list(level.exit) and data["mode"] == "braid"
    back = Level.from_json(level.to_json(tmp_path / "level.json"))
    assert (back.grid == level.grid).all() and (back.z == level.z).all() and back.seed == 9
    assert Level.from_json(tmp_path / "level.json").index == 0
    text = level.to_text().splitlines()
    assert len(text) == 28 and all(len(row) == 28 for row in text)
    assert text[0][0] == "S" and text[26][26] == "E"
    assert sum(row.count("#") for row in text) == int((level.grid == 0).sum())
    level.to_png(tmp_path / "level.png")
    assert (tmp_path / "level.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = level.stats
    assert stats["solvable"] and stats["pieces"] == 1 and stats["repair_edits"] == level.edits
    with pytest.raises(UsageError, match="version"):
        Level.from_dict({**data, "version": 2})
    with pytest.raises(UsageError):
        Level.from_json("{not json")


def test_latent_prior_from_metadata(tmp_path):
    d = 4
    prior = {"kind": "gaussian", "mean": [5.0, -5.0, 0.0, 0.0], "scale_tril": np.diag([0.1, 0.1, 2.0, 1.0]).tolist()}
    path = onnx_models.decoder(tmp_path / "prior.onnx", latent_dim=d,
                               meta=onnx_models.metadata(d, latent_prior=json.dumps(prior)))
    z = MazeGenerator.load(path).sample_latents(4000, 1)
    assert np.allclose(z.mean(0), prior["mean"], atol=0.1)
    assert np.allclose(z.std(0), [0.1, 0.1, 2.0, 1.0], rtol=0.1)


def test_other_sizes(tmp_path):
    path = onnx_models.decoder(tmp_path / "small.onnx", latent_dim=3, height=10, width=16)
    gen = MazeGenerator.load(path)
    for level in gen.generate(20, seed=2):
        assert level.grid.shape == (10, 16) and level.exit == (8, 14)
        assert is_perfect(level.grid) and solvable(level.grid, level.start, level.exit)


# ---- broken models -------------------------------------------------------------------------------------------
def broken(tmp_path, kind):
    path = tmp_path / f"{kind}.onnx"
    if kind == "missing":
        return path
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = onnx_models.decoder(tmp_path / "whole.onnx").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is not a model\n" * 20)
    elif kind == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    elif kind == "foreign":
        onnx_models.foreign(path)
    elif kind == "no-metadata":
        onnx_models.decoder(path, meta={})
    elif kind == "partial-metadata":
        onnx_models.decoder(path, meta=onnx_models.metadata(threshold=None, start=None))
    elif kind == "bad-metadata":
        onnx_models.decoder(path, meta=onnx_models.metadata(exit="[3, 3]"))
    elif kind == "other-lattice":
        onnx_models.decoder(path, meta=onnx_models.metadata(lattice_rule="hexagonal"))
    elif kind == "old-format":
        onnx_models.decoder(path, meta=onnx_models.metadata(daedalus_format="0"))
    elif kind == "bad-threshold":
        onnx_models.decoder(path, meta=onnx_models.metadata(threshold="1.5"))
    elif kind == "bad-prior":
        onnx_models.decoder(path, meta=onnx_models.metadata(latent_prior='{"kind": "gaussian", "mean": [0]}'))
    elif kind == "wrong-latent-metadata":
        onnx_models.decoder(path, meta=onnx_models.metadata(latent_dim="5"))
    elif kind == "wrong-shape":
        onnx_models.decoder(path, out_rows=26)
    elif kind == "wrong-shape-symbolic":
        onnx_models.decoder(path, out_rows=26, symbolic_output=True)
    elif kind == "nan":
        onnx_models.decoder(path, nan=True)
    elif kind == "external":
        onnx_models.decoder(path, external=True)
    elif kind == "opset-too-new":
        onnx_models.decoder(path, opset=99)
    elif kind == "opset-too-old":
        onnx_models.decoder(path, opset=5)
    elif kind == "renamed-input":
        onnx_models.decoder(path, input_name="latent")
    return path


BROKEN = {
    "missing": "does not exist",
    "folder": "not a file",
    "empty": "empty",
    "truncated": "not a valid ONNX",
    "text": "not a valid ONNX",
    "png": "not a valid ONNX",
    "foreign": "not a Daedalus decoder",
    "no-metadata": "not a Daedalus decoder",
    "partial-metadata": "lacks start, threshold",
    "bad-metadata": r"exit=\[3, 3\] is not a cell",
    "wrong-latent-metadata": r"input z|latents must have shape|cannot load",
    "other-lattice": "lattice_rule 'hexagonal'",
    "old-format": "daedalus_format '0' is not supported",
    "bad-threshold": r"threshold=1.5, expected a number in \(0, 1\]",
    "bad-prior": "latent_prior",
    "wrong-shape": r"p_open",
    "wrong-shape-symbolic": r"26, 28.*expected .*28, 28",
    "nan": "non-finite",
    "external": "external data",
    "opset-too-new": "opset 99",
    "opset-too-old": "opset 5",
    "renamed-input": r"inputs \['latent'\], expected \['z'\]",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_models_raise_one_clear_model_error(tmp_path, kind):
    path = broken(tmp_path, kind)
    with pytest.raises(ModelError, match=BROKEN[kind]) as info:
        MazeGenerator.load(path, device="cpu")
    assert "[ONNXRuntimeError]" not in str(info.value) or kind == "wrong-latent-metadata"


def test_missing_default_model_is_a_clear_error(monkeypatch, tmp_path):
    from daedalus.runtime import session as module

    monkeypatch.setattr(module, "DEFAULT_MODEL", tmp_path / "default.onnx")
    with pytest.raises(ModelError, match="no default model"):
        MazeGenerator.load()


def test_shipped_default_model_keeps_the_contract():
    import onnx

    from daedalus.runtime.generator import DEFAULT_MODEL

    assert DEFAULT_MODEL.is_file(), f"the package must ship {DEFAULT_MODEL}"
    assert DEFAULT_MODEL.stat().st_size < 6 * 2**20, "the shipped decoder must stay a few MB"
    proto = onnx.load(str(DEFAULT_MODEL))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [15]
    assert [i.name for i in proto.graph.input] == ["z"]
    assert [o.name for o in proto.graph.output] == ["cell_logits", "context_mix", "context_basis", "uniforms",
                                                    "window_bias", "window_weights"]
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim[1:]] == [14, 14, 4]
    assert [d.dim_value for d in proto.graph.output[2].type.tensor_type.shape.dim] == [2 * 16384, 8, 4]
    assert [d.dim_value for d in proto.graph.output[4].type.tensor_type.shape.dim[1:]] == [64]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["context_groups"] == "2"  # the recommended configuration's two context groups
    assert meta["window_hidden"] == "64"  # and its window network
    assert meta["walk_order"] == "flip_rows" and meta["daedalus_format"] == "4"  # bottom up; a style tempered
    assert meta["decoding"] == "raster" and meta["model_name"] == "raster"
    # The many-style default (issue 11): at least six styles, one of them braided, each with its Gaussian.
    styles = json.loads(meta["styles"])
    assert len(styles) >= 6 and any("braid" in s["name"] for s in styles)
    assert all(len(s["mean"]) == int(meta["code_dim"]) for s in styles)
    # What issue 6 asks of the shipped model, as measured at export on 1,000 samples before repair.
    assert json.loads(meta["quality"])["perfect"] == 1.0
    for key in ("daedalus_format", "latent_dim", "height", "width", "lattice_rule", "start", "exit", "threshold",
                "model_name", "model_kind", "schedule", "training_seed", "training_data", "latent_prior",
                "quality"):
        assert key in meta, key
    assert json.loads(meta["training_data"])["kind"] == "corpus"
    gen = MazeGenerator.load()
    for level in gen.generate(64, seed=0):
        assert solvable(level.grid, level.start, level.exit) and is_perfect(level.grid)
        # decoding one latent alone must give the grid it gave inside a batch of 64
        assert (gen.from_latents(level.z).grid == level.grid).all()


# ---- devices -------------------------------------------------------------------------------------------------
def test_devices_and_providers(decoder_path):
    import onnxruntime as ort

    gen = MazeGenerator.load(decoder_path, device="auto")
    assert gen.provider in ort.get_available_providers() and gen.provider == gen.providers[0]
    explicit = MazeGenerator.load(decoder_path, device="cuda", providers=["CPUExecutionProvider"])
    assert explicit.provider == "CPUExecutionProvider"  # explicit providers win over device
    with pytest.raises(UsageError, match="device"):
        MazeGenerator.load(decoder_path, device="tpu")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(DeviceError, match=r"daedalus\[gpu\]"):
            MazeGenerator.load(decoder_path, device="cuda")
    else:
        assert MazeGenerator.load(decoder_path, device="cuda").provider == "CUDAExecutionProvider"


def test_warns_when_both_onnxruntime_distributions_are_installed(decoder_path, monkeypatch):
    from daedalus.runtime import session as module

    monkeypatch.setattr(module, "installed_runtimes", lambda: ["onnxruntime", "onnxruntime-gpu"])
    with pytest.warns(RuntimeWarning, match="both onnxruntime and onnxruntime-gpu"):
        MazeGenerator.load(decoder_path)


def test_edits_are_counted_against_the_thresholded_decoder_output(generator):
    levels = generator.generate(30, seed=21, mode="braid")
    p = generator.probabilities(np.stack([level.z for level in levels]))
    for level, probs in zip(levels, p):
        assert level.edits == int((level.grid != (probs >= generator.threshold)).sum())
        assert "stats" not in level.__dict__  # statistics stay lazy: generation does not compute them
    assert levels[0].stats["repair_edits"] == levels[0].edits


def test_raw_levels_are_the_thresholded_probabilities_and_decode_is_their_old_name(generator):
    z = generator.sample_latents(50, 8)
    p = generator.probabilities(z)
    assert p.dtype == np.float32 and p.shape == (50, 28, 28) and ((p >= 0) & (p <= 1)).all()
    raw = generator.raw_levels(z)
    assert raw.dtype == np.uint8 and np.array_equal(raw, (p >= generator.threshold).astype(np.uint8))
    with pytest.deprecated_call():  # the deprecated alias: levels, never probabilities
        assert np.array_equal(generator.decode(z), raw)
    one = generator.raw_levels(z[3])
    assert one.shape == (28, 28) and np.array_equal(one, raw[3])
    assert generator.probabilities(z[3]).shape == (28, 28)
    with pytest.raises(UsageError, match="mode"):
        generator.raw_levels(z, mode="spiral")


def test_overlapped_slices_give_the_same_levels_as_one_pass(decoder_path):
    # batches() decodes the next slice on a helper thread while it repairs the current one; how the work is cut
    # must not change any level.
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load(decoder_path, device="cpu", chunk_size=300)
    levels = generator.generate(1200, seed=5, mode="braid")
    z = generator.sample_latents(1200, 5)
    one_pass = generator.repair(generator.probabilities(z), "braid").grids
    assert [lv.index for lv in levels] == list(range(1200))
    assert np.array_equal(np.stack([lv.z for lv in levels]), z)
    assert np.array_equal(np.stack([lv.grid for lv in levels]), one_pass)
    assert [batch["first"] for batch in generator.batches(1200, seed=5)] == [0, 300, 600, 900]


@pytest.mark.parametrize("groups, message", [
    ("3", r"metadata context_groups must be 1 or 2 .* got '3'"),
    ("1", r"output context_basis is tensor\(float\) \[32768, 8, 4\], expected tensor\(float\) \[16384, 8, 4\]"),
])
def test_a_raster_decoder_whose_context_groups_disagree_with_its_tables_is_refused(tmp_path, groups, message):
    import onnx

    from daedalus.runtime.generator import DEFAULT_MODEL

    proto = onnx.load(str(DEFAULT_MODEL))
    next(p for p in proto.metadata_props if p.key == "context_groups").value = groups
    path = tmp_path / "groups.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelError, match=message):
        MazeGenerator.load(path).generate(2, seed=0)
