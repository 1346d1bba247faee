"""The tree decoders (``tree``, ``ptree``) as first-class trainer models: training with their own loss, the run
folder round trip, no loops from ``ptree``, export with an aggregate prior, and levels from the runtime."""

import json

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.cli import main
from daedalus.maze.backtracker import backtracker_batch
from daedalus.maze.carve import parent_directions, tree_depths
from daedalus.maze.stats import is_solvable, loops
from daedalus.trainer import load_model
from daedalus.trainer.config import resolve_config
from daedalus.trainer.models import build_model
from daedalus.trainer.train import train

TINY = {"count": 64, "holdout": 16, "batch_size": 16, "eval_samples": 32, "figures": False, "latent": 8,
        "hidden": "64", "lr": 1e-2, "beta_max": 0.1, "free_bits": 0.25}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny trained run per tree model (temperature 0.05, aggregate prior), shared by the tests."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tree-runs")
    out = {}
    for name in ("tree", "ptree"):
        config = resolve_config({**TINY, "model": name, "epochs": 20, "temperature": 0.05, "prior": "aggregate"})
        train(config, root / name, progress=False)
        out[name] = root / name
    return out


def _history(run):
    return torch.load(run / "state.pt", weights_only=True)["history"]


@pytest.mark.parametrize("name", ["tree", "ptree"])
def test_loss_falls_and_the_log_has_prior_statistics(runs, name):
    history = _history(runs[name])
    first = np.mean([h[2] for h in history[:4]])  # reconstruction: the KL term rises with β by design
    last = np.mean([h[2] for h in history[-4:]])
    assert last < 0.8 * first, f"{name}: reconstruction did not fall: {first:.1f} -> {last:.1f}"
    record = json.loads((runs[name] / "log.jsonl").read_text().splitlines()[-1])
    for key in ("holdout_rec", "prior_loops", "prior_pieces", "prior_solvable", "prior_distinct"):
        assert key in record


@pytest.mark.parametrize("name", ["tree", "ptree"])
def test_load_model_rebuilds_the_decoder(runs, name):
    model, config = load_model(runs[name])
    assert type(model).__name__ == ("TreeVAE" if name == "tree" else "PotentialTreeVAE")
    assert config["model"]["temperature"] == 0.05 and model.temperature == 0.05
    if name == "ptree":
        assert model.potential_weight == config["model"]["potential_weight"] == 10.0
    assert config["prior"] == "aggregate" and config["train"]["free_bits"] == 0.25
    again = build_model(config["model"])
    assert again.config() == model.config()
    with torch.no_grad():
        p = model.decode(torch.randn(5, 8))
    assert p.shape == (5, 28, 28) and p.dtype == torch.float32
    assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0
    # Cells are open and odd-odd positions wall, by construction.
    assert torch.all(p[:, ::2, ::2] == 1.0) and torch.all(p[:, 1::2, 1::2] == 0.0)


def test_ptree_samples_never_have_a_loop(runs):
    model, _ = load_model(runs["ptree"])
    with torch.no_grad():
        for temperature in (1.0, 0.05):
            model.temperature = temperature
            z = torch.from_numpy(np.random.default_rng(7).standard_normal((400, 8)).astype(np.float32) * 3)
            grids = (model.decode(z).numpy() >= 0.5).astype(np.uint8)
            assert np.all(loops(grids) == 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 10.0))
def test_ptree_has_no_loop_for_any_weights(seed, scale):
    """Untrained weights of any size: the potential rule alone rules loops out."""
    torch.manual_seed(seed)
    model = build_model(resolve_config({"model": "ptree", "latent": 4, "hidden": "16"})["model"]).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(scale)
        grids = (model.decode(torch.randn(32, 4)).numpy() >= 0.5).astype(np.uint8)
    assert np.all(loops(grids) == 0)


def test_tree_target_of_a_perfect_maze_decodes_back_to_it():
    """The link rule ``P(a→b) + P(b→a)`` turns a maze's own parent field (one-hot logits) into that maze."""
    model = build_model(resolve_config({"model": "tree", "latent": 4, "hidden": "16"})["model"])
    grids = backtracker_batch(6, rng=3)
    parents = model.target(torch.from_numpy(grids.astype(np.float32)))
    onehot = torch.nn.functional.one_hot(parents.clamp(min=0), 4).float() * (parents >= 0).unsqueeze(-1)
    assert np.array_equal(model._to_grid(onehot).numpy().astype(np.uint8), grids)


def test_tree_depths_are_solution_distances():
    from daedalus.maze.stats import distances

    grids = backtracker_batch(4, rng=11)
    depths = tree_depths(parent_directions(grids))
    for grid, depth in zip(grids, depths):
        # Distances in positions: two per cell step.
        assert np.array_equal(distances(grid)[::2, ::2], 2 * depth)


def test_export_writes_the_contract_and_the_runtime_makes_solvable_levels(runs, tmp_path):
    from daedalus.runtime import MazeGenerator

    path = tmp_path / "ptree.onnx"
    assert main(["export", str(runs["ptree"]), "--out", str(path), "--quality-samples", "200"]) == 0
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta["model_name"] == "ptree" and meta["model_kind"] == "vae"
    assert json.loads(meta["model_config"])["temperature"] == 0.05
    prior = json.loads(meta["latent_prior"])
    assert prior["kind"] == "gaussian" and len(prior["mean"]) == 8
    tril = np.asarray(prior["scale_tril"])
    assert tril.shape == (8, 8) and np.allclose(tril, np.tril(tril)) and np.all(np.diag(tril) > 0)
    assert json.loads(meta["quality"])["loops"] == 0
    ops = {node.op_type for node in onnx.load(path).graph.node}
    # Constant shapes only: no Shape/ConstantOfShape, which some engines cannot read.
    assert ops <= {"Gemm", "Relu", "Softmax", "ReduceSum", "Clip", "Div", "Gather", "Mul", "Add", "Reshape",
                   "Constant", "Slice", "Concat", "Less", "Sub", "Cast"}, ops
    generator = MazeGenerator.load(path, device="cpu")
    levels = generator.generate(64, seed=5)
    assert all(is_solvable(level.grid, level.start, level.exit) for level in levels)


def test_ptree_exports_at_the_lowest_opset(runs, tmp_path):
    from daedalus.export.onnx_export import export_decoder

    meta = export_decoder(runs["ptree"], tmp_path / "p7.onnx", opset=7, quality_samples=50)
    assert onnx.load(tmp_path / "p7.onnx").opset_import[0].version == 7 and meta["max_abs_diff"] <= 1e-5


def test_export_overrides_prior_and_temperature(runs, tmp_path):
    from daedalus.export.onnx_export import export_decoder

    meta = export_decoder(runs["tree"], tmp_path / "tree.onnx", quality_samples=50, prior="normal", temperature=0.5)
    assert json.loads(meta["latent_prior"]) == {"kind": "normal"}
    assert json.loads(meta["model_config"])["temperature"] == 0.5
    ops = {node.op_type for node in onnx.load(tmp_path / "tree.onnx").graph.node}
    assert ops <= {"Gemm", "Relu", "Softmax", "ReduceSum", "Clip", "Div", "Gather", "Mul", "Add", "Reshape",
                   "Constant", "Slice"}, ops


@pytest.mark.parametrize("argv, message", [
    (["--model", "tree", "--loss", "bce"], "own loss"),
    (["--model", "link-vae", "--temperature", "0.1"], "does not apply"),
    (["--model", "tree", "--potential-weight", "3"], "does not apply"),
    (["--model", "ptree", "--temperature", "0"], "temperature"),
    (["--model", "tree", "--data", "digits"], "data must be mazes"),
    (["--free-bits", "-1"], "free_bits"),
    (["--prior", "uniform"], "prior"),
])
def test_bad_tree_options_give_one_line(tmp_path, capsys, argv, message):
    assert main(["train", "--out", str(tmp_path / "r"), "--epochs", "1", "--count", "4", *argv]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r" / "state.pt").exists()


def test_export_temperature_is_refused_for_a_link_model(tmp_path, capsys):
    config = resolve_config({**TINY, "model": "link-vae", "epochs": 1, "free_bits": 0.0})
    train(config, tmp_path / "run", progress=False)
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "x.onnx"), "--temperature", "0.1"]) != 0
    assert "--temperature applies to tree, ptree and carve decoders" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("name", ["tree", "ptree"])
def test_resume_ends_with_the_same_weights(tmp_path, name):
    torch.set_num_threads(1)
    config = resolve_config({**TINY, "model": name, "epochs": 3, "fresh": True, "count": 32, "eval_samples": 8})
    train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "killed", progress=False, stop_after_epochs=1)
    train(None, tmp_path / "killed", resume=True, progress=False)
    a, _ = load_model(tmp_path / "whole")
    b, _ = load_model(tmp_path / "killed")
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
