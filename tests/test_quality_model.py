"""The quality study's decoders (experiments/quality/model.py): ONNX export matches torch, and the structural
promises hold (tree decoders open at most one parent link per cell; ptree never draws a loop)."""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "quality"))

from model import build, tree_depths  # noqa: E402

from daedalus.maze import backtracker_batch, is_lattice, loops, solution_length  # noqa: E402
from daedalus.maze.carve import parent_directions  # noqa: E402


class Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


@pytest.mark.parametrize("name", ["links", "tree", "ptree"])
def test_decoder_exports_to_onnx_opset_15_and_matches_torch(tmp_path, name):
    torch.manual_seed(0)
    model = build(name, latent_dim=8, hidden=32).eval()
    path = tmp_path / "decoder.onnx"
    torch.onnx.export(Decoder(model), (torch.zeros(2, 8),), str(path), input_names=["z"], output_names=["p_open"],
                      opset_version=15, dynamic_axes={"z": {0: "batch"}, "p_open": {0: "batch"}}, dynamo=False)
    z = np.random.default_rng(1).standard_normal((37, 8)).astype(np.float32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).numpy()
    assert got.shape == (37, 28, 28)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert ((got >= 0) & (got <= 1)).all()
    assert is_lattice(got >= 0.5).all()


@pytest.mark.parametrize("seed", range(3))
def test_ptree_never_draws_a_loop(seed):
    torch.manual_seed(seed)
    model = build("ptree", latent_dim=8, hidden=32, temperature=0.05).eval()
    with torch.no_grad():
        p = model.decode(torch.randn(64, 8) * 3).numpy()
    assert (loops(p >= 0.5) == 0).all()


def test_tree_depths_equal_half_the_solution_to_every_cell():
    grids = backtracker_batch(4, rng=5)
    depths = tree_depths(parent_directions(grids))
    np.testing.assert_array_equal(depths[:, -1, -1] * 2, solution_length(grids))
    assert (depths[:, 0, 0] == 0).all()
