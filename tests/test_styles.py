"""The many-style shipped decoder: styles are listed, drawn by name, refused by name, blended; the one recommended
configuration is the trainer's default; a corpus folder of dataset files is one style per file."""

import json
from pathlib import Path

import numpy as np
import pytest

from daedalus.errors import UsageError
from daedalus.maze.stats import batch_stats, is_perfect, loops
from daedalus.runtime import MazeGenerator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped():
    return MazeGenerator.load()


def test_styles_are_listed_and_each_draws_its_own_levels(shipped):
    assert len(shipped.styles) >= 6 and "binary-tree" in shipped.styles and "prim" in shipped.styles
    binary = np.stack([lv.grid for lv in shipped.generate(200, seed=1, style="binary-tree")])
    prim = np.stack([lv.grid for lv in shipped.generate(200, seed=1, style="prim")])
    assert is_perfect(binary).all() and is_perfect(prim).all()
    # Binary-tree mazes have a fully open top row (every cell links north or west); Prim's almost never do.
    assert binary[:, 0, 1:-2:2].all(axis=1).mean() > 0.5 > prim[:, 0, 1:-2:2].all(axis=1).mean() + 0.3
    assert batch_stats(prim)["dead_ends"].mean() > batch_stats(binary)["dead_ends"].mean()


def test_an_unknown_style_is_refused_naming_the_styles(shipped):
    with pytest.raises(UsageError, match="style 'eller' is not one of this decoder's styles.*prim"):
        shipped.generate(3, seed=0, style="eller")


def test_braid_levels_keep_loops_for_every_style_and_the_braided_style_its_own(shipped):
    for style in (None, "prim", "backtracker-braid"):
        grids = np.stack([lv.grid for lv in shipped.generate(100, seed=2, mode="braid", style=style)])
        assert 7 <= loops(grids).mean() <= 14, style
    # The braided style's loops are learned: the bonus that brings it to BRAID_LOOPS is a fraction of what any perfect
    # style needs to make all of its loops (the shipped decoder: 0.68 against 5.8-12).
    bonus = {s.name: s.corpus["braid_loop_bonus"] for s in shipped.info.styles}
    assert bonus["backtracker-braid"] < 0.25 * min(v for k, v in bonus.items() if k != "backtracker-braid")


def test_interpolate_blends_two_styles_with_shared_noise(shipped):
    steps = shipped.interpolate("binary-tree", "prim", steps=5, seed=3)
    assert len(steps) == 5 and all(is_perfect(level.grid) for level in steps)
    z = np.stack([level.z for level in steps])
    code = len(shipped.info.style("prim").mean)
    assert np.allclose(z[:, code:], z[0, code:])  # the walk's noise is the same at every step
    assert np.allclose(z[0, :code], shipped.info.style("binary-tree").mean, atol=1e-5)


def test_the_recommended_configuration_is_the_trainers_default():
    from daedalus.trainer.config import resolve_config

    assert resolve_config({}) == resolve_config({}, ROOT / "configs" / "styles.toml")
    assert resolve_config({})["model"]["name"] == "raster"


def test_a_corpus_folder_of_dataset_files_is_one_style_per_file(tmp_path):
    from daedalus.cli import main
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.data import load_dataset

    for name, seed in (("prim", 1), ("sidewinder", 2)):
        assert main(["dataset", "--generator", name, "--count", "30", "--size", "12", "--seed", str(seed),
                     "--out", str(tmp_path / f"{name}.npz")]) == 0
    config = resolve_config({"data": str(tmp_path), "epochs": 1})
    assert config["data"]["styles"] == ["prim", "sidewinder"] and config["data"]["height"] == 12
    data = load_dataset(config["data"])
    assert len(data.train) + len(data.holdout) == 60 and set(np.unique(data.train_labels)) == {0, 1}
    json.dumps(config)  # the run's config.json holds it


def test_a_bad_level_in_the_corpus_stops_training_before_anything_is_written(tmp_path, capsys):
    from daedalus.cli import main

    grids = np.stack([np.ones((12, 12), dtype=np.uint8)] * 3)
    np.savez(tmp_path / "bad.npz", grids=grids)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "bad.npz"), "--out", str(out), "--epochs", "1"]) == 2
    assert "bad.npz level 0" in capsys.readouterr().err
    assert not out.exists()


def test_a_size_that_does_not_match_the_corpus_is_refused_naming_both(tmp_path, capsys):
    from daedalus.cli import main
    from daedalus.trainer.config import resolve_config

    data = tmp_path / "prim.npz"
    assert main(["dataset", "--generator", "prim", "--count", "4", "--size", "12x16", "--out", str(data)]) == 0
    assert resolve_config({"data": str(data)})["data"]["height"] == 12  # no size: the corpus's own
    assert resolve_config({"data": str(data), "size": "12x16"})["data"]["width"] == 16
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--size", "28", "--out", str(out), "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "size 28x28" in error and "12x16" in error and "prim.npz" in error
    assert not out.exists()
    assert resolve_config({})["data"]["height"] == 28  # generated mazes: 28 x 28 unless told


def test_context_groups_is_an_option_of_the_raster_model_only():
    from daedalus.trainer.config import resolve_config

    assert resolve_config({})["model"]["context_groups"] == 2
    assert resolve_config({"context_groups": 1})["model"]["context_groups"] == 1
    with pytest.raises(UsageError, match="context_groups must be 1 or 2, got 3"):
        resolve_config({"context_groups": 3})
    with pytest.raises(UsageError, match="option context_groups does not apply to model 'carve'"):
        resolve_config({"model": "carve", "context_groups": 1})


def test_cell_decoder_is_an_option_of_the_raster_model_only_and_dense_by_default():
    from daedalus.trainer.config import resolve_config

    assert resolve_config({})["model"]["cell_decoder"] == "dense"
    assert resolve_config({"cell_decoder": "shared"})["model"]["cell_decoder"] == "shared"
    with pytest.raises(UsageError, match="cell_decoder must be one of dense, shared, modulated, got 'conv'"):
        resolve_config({"cell_decoder": "conv"})
    with pytest.raises(UsageError, match="option cell_decoder does not apply to model 'link-vae'"):
        resolve_config({"model": "link-vae", "cell_decoder": "shared"})


def test_context_hidden_sets_the_width_of_the_context_tables_mlps():
    from daedalus.trainer.config import resolve_config

    assert resolve_config({})["model"]["context_hidden"] == 128
    assert resolve_config({"context_hidden": 256})["model"]["context_hidden"] == 256
    with pytest.raises(UsageError, match="context_hidden must be an integer >= 1, got 0"):
        resolve_config({"context_hidden": 0})
    with pytest.raises(UsageError, match="option context_hidden does not apply to model 'carve'"):
        resolve_config({"model": "carve", "context_hidden": 64})
