"""The carve decoder end to end: its loss is the walk's likelihood, it trains, exports with ``carve_scores``, and
the runtime's levels are perfect mazes before repair (repair changes nothing), reproducible from ``z``."""

import json

import numpy as np
import onnx
import pytest
import torch

import onnx_models
from daedalus.cli import main
from daedalus.maze.backtracker import backtracker_batch
from daedalus.maze.scored_carve import carve_events
from daedalus.maze.stats import is_perfect
from daedalus.trainer import load_model
from daedalus.trainer.config import resolve_config
from daedalus.trainer.models import build_model, model_config
from daedalus.trainer.train import train

TINY = {"count": 64, "holdout": 16, "batch_size": 16, "eval_samples": 32, "figures": False, "latent": 8,
        "hidden": "64", "lr": 1e-2, "beta_max": 0.01, "free_bits": 0.1}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("carve-run")
    train(resolve_config({**TINY, "model": "carve", "epochs": 15}), root / "carve", progress=False)
    return root / "carve"


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("carve-onnx") / "carve.onnx"
    assert main(["export", str(run), "--out", str(path), "--quality-samples", "200"]) == 0
    return path


def test_loss_with_flat_logits_is_the_backtrackers_uniform_choice():
    torch.manual_seed(0)
    model = build_model(model_config("carve", 28, 28, latent_dim=4, hidden=[16]))
    grids = torch.from_numpy(backtracker_batch(6, rng=1))
    keys = np.random.default_rng(2).random((6, 14, 14, 4))
    target = model.target(grids, keys=keys)
    rec = model.reconstruction(torch.zeros(6, 14, 14, 4), target)
    _, direction, available = carve_events(grids.numpy(), keys)
    expected = np.log(available.sum(-1)[direction >= 0].reshape(6, -1)).sum(axis=1)
    assert np.allclose(rec.numpy(), expected, rtol=1e-5)
    # A decoder that prefers the moves the maze made scores it better than uniform.
    logits = torch.zeros(6, 196, 4)
    parent = torch.from_numpy(target[..., 0].numpy())
    for b in range(6):
        for cell in range(196):
            if target[b, cell, 1] >= 0:
                logits[b, parent[b, cell], target[b, cell, 1]] += 1.0
    assert (model.reconstruction(logits.reshape(6, 14, 14, 4), target).numpy() < expected).all()


def test_training_lowers_the_walks_nll_and_samples_are_perfect(run):
    history = torch.load(run / "state.pt", weights_only=True)["history"]
    first = np.mean([h[2] for h in history[:3]])
    last = np.mean([h[2] for h in history[-3:]])
    assert last < first - 1.0, (first, last)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert record["prior_perfect"] == 1.0 and record["prior_loops"] == 0.0


def test_export_writes_both_outputs_and_the_carve_metadata(exported):
    proto = onnx.load(exported)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["decoding"] == "carve" and meta["code_dim"] == "8" and meta["noise_dim"] == "784"
    assert meta["latent_dim"] == str(8 + 784) and meta["model_name"] == "carve"
    assert [o.name for o in proto.graph.output] == ["p_open", "carve_scores"]
    dims = [d.dim_value for d in proto.graph.output[1].type.tensor_type.shape.dim[1:]]
    assert dims == [14, 14, 4]
    quality = json.loads(meta["quality"])
    assert quality["perfect"] == 1.0 and quality["distinct"] == 1.0


def test_runtime_levels_are_perfect_before_repair_and_rebuilt_from_z(exported):
    from daedalus.runtime import MazeGenerator

    generator = MazeGenerator.load(exported, device="cpu")
    raw = generator.raw_levels(generator.sample_latents(300, 4))
    assert raw.dtype == np.uint8 and set(np.unique(raw).tolist()) <= {0, 1}
    assert is_perfect(raw).all()
    with pytest.deprecated_call():
        assert np.array_equal(generator.decode(generator.sample_latents(300, 4)), raw), "decode: raw_levels' old name"
    levels = generator.generate(300, seed=4)
    assert all(level.edits == 0 for level in levels)
    assert np.array_equal(np.stack([level.grid for level in levels]), raw.astype(np.uint8))
    again = generator.from_latents(levels[7].z)
    assert np.array_equal(again.grid, levels[7].grid)
    assert len({level.grid.tobytes() for level in levels}) == 300
    # The batch path (pipelined slices) gives the same levels as one by one.
    assert np.array_equal(generator.generate(3, seed=4)[2].grid, levels[2].grid)


def test_eval_reports_raw_perfect_and_no_edits(exported, capsys, tmp_path):
    assert main(["eval", "--model", str(exported), "--samples", "300", "--json", "--plot",
                 str(tmp_path / "range.png")]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["raw"]["perfect"] == 1.0 and figures["edits"] == 0.0 and figures["edits_max"] == 0.0
    # Every goal but "far below the untrained decoder's": an untrained carve walk on backtracker data is already
    # close to the backtracker (two-sample accuracy 0.45-0.55 at 300 samples), so "far below" it is noise here.
    goals = {name: met for name, met in figures["goals"].items() if "untrained" not in name}
    assert len(goals) == len(figures["goals"]) - 1 and all(goals.values()), figures["goals"]
    assert figures["two_sample"]["model"] <= 0.60


def test_aggregate_prior_of_a_carve_decoder_covers_the_code_and_leaves_the_noise_normal(run, tmp_path):
    from daedalus.runtime import MazeGenerator

    path = tmp_path / "x.onnx"
    assert main(["export", str(run), "--out", str(path), "--prior", "aggregate", "--quality-samples", "50"]) == 0
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    prior = json.loads(meta["latent_prior"])
    # A Gaussian over the 8 code dimensions only: a full covariance over the walk's 784 noise values would not fit.
    assert prior["kind"] == "gaussian" and len(prior["mean"]) == 8 and np.array(prior["scale_tril"]).shape == (8, 8)
    generator = MazeGenerator.load(path, device="cpu")
    z = generator.sample_latents(200, 5)
    from daedalus.runtime import levelcode

    eps = levelcode.normals(np.arange(5, 205), generator.latent_dim)  # level codes 5..204
    assert np.array_equal(z[:, 8:], eps[:, 8:].astype(np.float32)), "the noise dimensions must stay N(0, 1) draws"
    expected = prior["mean"] + eps[:, :8] @ np.array(prior["scale_tril"]).T
    np.testing.assert_allclose(z[:, :8], expected, rtol=1e-5, atol=1e-5)
    assert is_perfect(generator.raw_levels(z)).all()


def test_runtime_refuses_a_carve_model_without_scores(tmp_path):
    from daedalus.runtime import MazeGenerator
    from daedalus.runtime.errors import ModelError

    path = onnx_models.decoder(tmp_path / "fake.onnx", meta={**onnx_models.metadata(), "decoding": "carve"})
    with pytest.raises(ModelError, match=r"outputs \['p_open'\], expected \['p_open', 'carve_scores'\]"):
        MazeGenerator.load(path, device="cpu")
    path = onnx_models.decoder(tmp_path / "odd.onnx", meta={**onnx_models.metadata(), "decoding": "sideways"})
    with pytest.raises(ModelError, match="metadata decoding='sideways', expected one of threshold, carve"):
        MazeGenerator.load(path, device="cpu")


def test_resume_ends_with_the_same_weights(tmp_path):
    torch.set_num_threads(1)
    config = resolve_config({**TINY, "model": "carve", "epochs": 3, "fresh": True, "count": 32, "eval_samples": 8})
    train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "killed", progress=False, stop_after_epochs=1)
    train(None, tmp_path / "killed", resume=True, progress=False)
    a, _ = load_model(tmp_path / "whole")
    b, _ = load_model(tmp_path / "killed")
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
