"""The raster walk's window network (docs/formats.md "Raster decoders", step 4): the compiled walk and the numpy
reference agree bit for bit with it, the bits the trainer reads from a maze are the bits the walk saw while drawing
it (so the teacher-forced likelihood is the walk's), and a trained decoder with one exports, loads and draws the
same levels in torch, onnxruntime and the runtime; bad widths are refused with their value."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze import raster_walk as walk_module
from daedalus.maze.raster_walk import (
    BACKENDS,
    CONTEXTS,
    WINDOW_BITS,
    WINDOW_GROUP_STARTS,
    WINDOW_GROUPS,
    WINDOW_LINKS,
    WINDOW_SEGMENTS,
    Window,
    _Sets,
    raster_events,
    raster_walk,
    window_layers,
    window_link_bits,
    window_scores,
    window_set_bits,
    window_weight_count,
)
from daedalus.maze.stats import is_perfect, pieces

TINY = ["--latent", "4", "--hidden", "32", "--holdout", "16", "--batch-size", "16", "--epochs", "2", "--cycles", "1",
        "--eval-samples", "0", "--no-figures", "--quiet", "--threads", "1"]


def _arrays(count, rows, cols, seed, scale=1.0, hidden=(8,), groups=1, mix=3):
    rng = np.random.default_rng(seed)
    window = Window((scale * rng.normal(size=(count, hidden[0]))).astype(np.float32),
                    (scale * rng.normal(size=window_weight_count(hidden))).astype(np.float32), tuple(hidden))
    return ((rng.normal(size=(count, rows, cols, 4))).astype(np.float32),
            rng.normal(size=(count, mix)).astype(np.float32),
            rng.normal(size=(groups * CONTEXTS, mix, 4)).astype(np.float32),
            rng.random((count, rows * cols))), window


def test_the_window_reads_65_bits_every_one_decided_before_the_cell():
    assert len(WINDOW_BITS) == 65 and len(WINDOW_LINKS) == 62
    assert all(dr < 0 or dc < 0 for _, dr, dc in WINDOW_LINKS)
    assert len(set(WINDOW_LINKS)) == len(WINDOW_LINKS)
    # Each segment is one row and one kind of link at consecutive columns (what lets the compiled walk slide it).
    for segment in WINDOW_SEGMENTS:
        assert len({(kind, dr) for kind, dr, _ in segment}) == 1
        assert [dc for _, _, dc in segment] == list(range(-4, -4 + len(segment)))
    assert sum(WINDOW_GROUPS) == 65


@pytest.mark.skipif(walk_module._native is None, reason="the compiled walk is not built in this install")
@settings(max_examples=20, deadline=None)
@given(rows=st.integers(2, 10), cols=st.integers(2, 10), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.3, 2.0, 20.0]), loops=st.booleans(), closed=st.booleans(),
       hidden=st.sampled_from([(1,), (8,), (5, 3), (16, 7, 2)]))
def test_compiled_walk_with_a_window_equals_the_reference(rows, cols, seed, scale, loops, closed, hidden):
    arrays, window = _arrays(12, rows, cols, seed, scale, hidden)
    ours = raster_walk(*arrays, loops=loops, closed_cells=closed, window=window, backend="c")
    reference = raster_walk(*arrays, loops=loops, closed_cells=closed, window=window, backend="numpy")
    np.testing.assert_array_equal(ours, reference)
    assert (pieces(ours) == 1).all()
    if not loops:
        assert is_perfect(ours).all() or closed


def test_the_window_changes_the_levels_and_a_zero_window_does_not():
    arrays, window = _arrays(50, 8, 8, 3, scale=3.0)
    plain = raster_walk(*arrays)
    assert not np.array_equal(raster_walk(*arrays, window=window), plain)
    zero = Window(np.zeros_like(window.bias), np.zeros_like(window.weights), window.hidden)
    for backend in BACKENDS if walk_module._native is not None else ("numpy",):
        np.testing.assert_array_equal(raster_walk(*arrays, window=zero, backend=backend), plain)


def test_window_scores_follow_the_documented_float32_order():
    rng = np.random.default_rng(5)
    hidden = (6, 4)
    weights = rng.normal(size=window_weight_count(hidden)).astype(np.float32)
    bias = rng.normal(size=(30, 6)).astype(np.float32)
    bits = rng.random((30, 65)) < 0.4
    layers = window_layers(weights, hidden)
    got = window_scores(bits, bias, layers)
    # The same sums written out one number at a time, in float32.
    for n in range(30):
        h = bias[n].copy()
        for size, start in zip(WINDOW_GROUPS, WINDOW_GROUP_STARTS):  # each group from +0 in bit order, in order
            group = np.zeros(6, dtype=np.float32)
            for i in np.flatnonzero(bits[n, start : start + size]):
                group = (group + layers[0][0][start + i]).astype(np.float32)
            h = (h + group).astype(np.float32)
        for w, b in layers[1:]:
            h = np.maximum(h, np.float32(0))
            acc = b.copy()
            for k in range(len(h)):
                acc = (acc + np.float32(h[k]) * w[k]).astype(np.float32)
            h = acc
        np.testing.assert_array_equal(got[n], h)
    assert got.dtype == np.float32 and got.shape == (30, 4)


@pytest.mark.parametrize("closed", [False, True])
def test_the_trainer_reads_the_bits_the_walk_saw(closed):
    """Replay the walk on its own levels: at every cell the window bits from the walk's state equal those the
    trainer computes from the finished maze (window_link_bits + the set bits of raster_events' contexts)."""
    arrays, _ = _arrays(40, 7, 9, 11, groups=2)
    grids = raster_walk(*arrays, loops=True, closed_cells=closed)
    contexts, _, options = raster_events(grids, loops=True, groups=2, closed_cells=closed)
    trained = np.concatenate([window_link_bits(grids), window_set_bits(contexts)], axis=-1)
    sets = _Sets(len(grids), 7, 9, loops=True, closed_cells=closed)
    for r in range(7):
        sets.start_row(r)
        for c in range(9):
            context, _ = sets.context_and_allowed(r, c, 2)
            np.testing.assert_array_equal(sets.window_bits(r, c, context), trained[:, r * 9 + c])
            sets.apply(r, c, options[:, r * 9 + c])
    assert trained[..., :62].any() and trained[..., 62:].any()


def test_bad_window_shapes_are_refused_with_what_was_expected():
    arrays, window = _arrays(4, 3, 3, 0, hidden=(8,))
    with pytest.raises(ValueError, match=r"window bias must be \(4, 8\), got \(3, 8\)"):
        raster_walk(*arrays, window=window._replace(bias=window.bias[:3]))
    with pytest.raises(ValueError, match=r"must hold 556 numbers, got 555"):
        raster_walk(*arrays, window=window._replace(weights=window.weights[:-1]))
    with pytest.raises(ValueError, match="window hidden widths must be 1 to 1024"):
        raster_walk(*arrays, window=window._replace(hidden=(0,)))
    # The widths are checked once per tuple of ints: a float width equal to a checked int one is still refused.
    raster_walk(*arrays, window=window)
    with pytest.raises(ValueError, match=r"window hidden widths must be 1 to 1024 .*got \(8\.0,\)"):
        raster_walk(*arrays, window=window._replace(hidden=(8.0,)))


def test_the_window_option_is_checked():
    from daedalus.errors import UsageError
    from daedalus.trainer.config import resolve_config

    config = resolve_config({"model": "raster", "window": "32,16"})
    assert config["model"]["window_hidden"] == [32, 16]
    assert resolve_config({"model": "raster", "window": "none"})["model"]["window_hidden"] == []
    for bad in ("wide", "0,4", "2000"):
        with pytest.raises(UsageError, match=f"window must be .*got {bad!r}|window must be .*got \\["):
            resolve_config({"model": "raster", "window": bad})
    assert resolve_config({"model": "raster", "context_mix": 16})["model"]["mix"] == 16
    with pytest.raises(UsageError, match="context_mix must be an integer >= 1, got 0"):
        resolve_config({"model": "raster", "context_mix": 0})


def train_window_model(folder, generator: str, window: str):
    """Train and export a raster decoder with a window network on 120 tiny levels of ``generator`` (two epochs);
    returns the .onnx path. The run is ``folder / "run"``."""
    from daedalus.cli import main

    data = folder / f"{generator}.npz"
    assert main(["dataset", "--generator", generator, "--count", "120", "--size", "12", "--seed", "3",
                 "--out", str(data)]) == 0
    assert main(["train", "--data", str(data), *TINY, "--model", "raster", "--window", window,
                 "--out", str(folder / "run")]) == 0
    assert main(["export", str(folder / "run"), "--out", str(folder / "window.onnx"), "--quality-samples", "8"]) == 0
    return folder / "window.onnx"


@pytest.fixture(scope="module")
def window_model(tmp_path_factory):
    """A raster decoder with a two-layer window network, 12 x 12 Kruskal levels, two epochs."""
    tmp = tmp_path_factory.mktemp("window")
    train_window_model(tmp, "kruskal", "16,8")
    return tmp


def test_a_window_decoder_exports_and_the_runtime_draws_torch_s_levels(window_model):
    from daedalus.runtime import MazeGenerator
    from daedalus.trainer.checkpoint import load_model

    config = json.loads((window_model / "run" / "config.json").read_text())
    assert config["model"]["window_hidden"] == [16, 8]
    generator = MazeGenerator.load(window_model / "window.onnx", device="cpu")
    assert generator.metadata["window_hidden"] == "16,8" and generator.metadata["daedalus_format"] == "2"
    model, _ = load_model(window_model / "run")
    model.eval()
    z = generator.sample_latents(64, 9)
    with torch.no_grad():
        outputs = [t.numpy() for t in model.export_outputs(torch.from_numpy(z))]
    assert outputs[5].shape == (window_weight_count((16, 8)),)
    from daedalus.runtime.decodings import decoding_for

    torch_levels = decoding_for(generator.info, "torch").raw(outputs, "perfect")
    runtime_levels = np.stack([level.grid for level in generator.from_latents(z, mode="perfect")])
    np.testing.assert_array_equal(runtime_levels, torch_levels)
    assert is_perfect(runtime_levels).all()
    # The window's part is not idle: the same outputs walked without it give other levels.
    plain = raster_walk(*outputs[:4])
    assert not np.array_equal(plain, torch_levels)


def test_the_contract_lists_the_window_outputs_and_refuses_an_unknown_format(window_model):
    from daedalus.contract import read_contract
    from daedalus.errors import ModelError
    from daedalus.runtime import MazeGenerator

    metadata = dict(MazeGenerator.load(window_model / "window.onnx", device="cpu").metadata)
    assert read_contract(metadata, "x").outputs[-2:] == ("window_bias", "window_weights")
    with pytest.raises(ModelError, match=r"daedalus_format '5' is not supported, expected one of '1', '2', '3', '4'"):
        read_contract({**metadata, "daedalus_format": "5"}, "x")
