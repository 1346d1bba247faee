"""``daedalus train --init RUN``: a run that starts from another run's model and weights (fine-tuning), and the
options it refuses."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from daedalus.cli import main

TINY = ["--holdout", "8", "--batch-size", "16", "--epochs", "1", "--cycles", "1", "--eval-samples", "0",
        "--no-figures", "--quiet", "--threads", "1", "--tune-rounds", "0"]


def corpus(tmp_path, generator: str, size: str = "12") -> str:
    path = tmp_path / f"{generator}-{size}.npz"
    assert main(["dataset", "--generator", generator, "--count", "40", "--size", size, "--seed", "5",
                 "--out", str(path)]) == 0
    return str(path)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny raster run on Prim's mazes: the run the others start from."""
    tmp = tmp_path_factory.mktemp("base")
    run = tmp / "base"
    assert main(["train", "--data", corpus(tmp, "prim"), "--model", "raster", "--latent", "4", "--hidden", "32",
                 "--window", "none", *TINY, "--out", str(run)]) == 0
    return run


def test_a_run_from_init_keeps_its_model_and_starts_from_its_weights(base, tmp_path):
    data = corpus(tmp_path, "sidewinder")
    # A learning rate of ~0 leaves the weights where they start: the base run's, not a fresh model's.
    out = tmp_path / "tuned"
    assert main(["train", "--data", data, "--init", str(base), *TINY, "--lr", "1e-12", "--out", str(out)]) == 0
    fresh = tmp_path / "fresh"
    assert main(["train", "--data", data, "--model", "raster", "--latent", "4", "--hidden", "32", "--window", "none",
                 *TINY, "--lr", "1e-12", "--seed", "1", "--out", str(fresh)]) == 0
    start, tuned, scratch = (load_file(run / "model.safetensors") for run in (base, out, fresh))
    assert set(tuned) == set(start)
    assert all(np.allclose(tuned[k], start[k], atol=1e-6) for k in start)
    assert not all(np.allclose(scratch[k], start[k], atol=1e-6) for k in start)
    config = json.loads((out / "config.json").read_text())
    base_config = json.loads((base / "config.json").read_text())
    assert config["model"] == base_config["model"] and config["train"]["init"] == str(base)
    # Its prior is fitted to its own levels' codes (where the base run's latent space put them); a fresh run's is not.
    assert config["prior"] == "aggregate" and base_config["prior"] == "normal"
    assert config["data"]["path"].endswith("sidewinder-12.npz")
    # ... and with a real learning rate it moves from them, and exports like any run.
    moved = tmp_path / "moved"
    assert main(["train", "--data", data, "--init", str(base), *TINY, "--out", str(moved)]) == 0
    weights = load_file(moved / "model.safetensors")
    assert not all(np.allclose(weights[k], start[k], atol=1e-6) for k in start)
    assert main(["export", str(moved), "--out", str(tmp_path / "moved.onnx"), "--quality-samples", "8"]) == 0


def test_init_refuses_what_it_cannot_start_from_naming_it(base, tmp_path, capsys):
    data = corpus(tmp_path, "kruskal")
    cases = [
        (["--data", data, "--init", str(base), "--latent", "8"], "drop latent"),
        (["--data", data, "--init", str(base), "--model", "raster", "--window", "64"], "drop model, window"),
        (["--data", data, "--init", str(tmp_path / "nowhere")], "is not a trained run folder"),
        (["--init", str(base), "--size", "16"], "size 16x16 does not match init"),  # generated mazes
    ]
    for args, message in cases:
        out = tmp_path / "refused"
        assert main(["train", *args, *TINY, "--out", str(out)]) == 2, args
        assert message in capsys.readouterr().err, args
        assert not out.exists()
    # Generated mazes with no size are drawn at the init's.
    from daedalus.trainer.config import resolve_config

    assert resolve_config({"init": str(base)})["data"]["height"] == 12
    # A corpus of another size than the init's model draws is refused once it is read, before anything is written.
    out = tmp_path / "refused"
    assert main(["train", "--data", corpus(tmp_path, "kruskal", "16"), "--init", str(base), *TINY,
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "16x16" in error and "12x12" in error and str(base) in error
    assert not out.exists()
