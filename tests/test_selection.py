"""The one configuration chooses its walk (model "auto", daedalus.trainer.selection): every decoder that can draw
the training levels trains, the one with the fewest held-out nats is kept; a decoder refuses levels it cannot draw,
naming the level, before anything is written."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from daedalus.cli import main
from daedalus.errors import UsageError
from daedalus.maze.generators import generate_batch
from daedalus.maze.scored_carve import depth_first_trees
from daedalus.trainer.config import resolve_config

TINY = ["--latent", "4", "--hidden", "32", "--holdout", "8", "--batch-size", "16", "--epochs", "2", "--cycles", "1",
        "--eval-samples", "0", "--no-figures", "--quiet", "--threads", "1"]


def corpus(tmp_path, generator: str, braid: float = 0.0):
    path = tmp_path / f"{generator}.npz"
    assert main(["dataset", "--generator", generator, "--braid", str(braid), "--count", "48", "--size", "12",
                 "--seed", "3", "--out", str(path)]) == 0
    return path


def test_only_depth_first_trees_are_depth_first_trees():
    rng = np.random.default_rng(0)
    assert depth_first_trees(generate_batch("backtracker", 20, 12, 12, rng)).all()
    assert not depth_first_trees(generate_batch("kruskal", 20, 12, 12, rng)).any()
    assert not depth_first_trees(generate_batch("backtracker", 20, 12, 12, rng, braid=1.0)).any()


def test_auto_is_the_default_and_options_of_one_candidate_leave_that_one():
    config = resolve_config({})
    assert config["model"]["name"] == "raster" and [m["name"] for m in config["alternatives"]] == ["carve"]
    assert "alternatives" not in resolve_config({"context_groups": 1})
    assert resolve_config({"temperature": 0.5})["model"]["name"] == "carve"
    assert "alternatives" not in resolve_config({"model": "raster"})
    with pytest.raises(UsageError, match="unknown model 'rastr', expected auto or one of"):
        resolve_config({"model": "rastr"})


def test_a_depth_first_corpus_trains_both_walks_and_keeps_the_likelier(tmp_path):
    data = corpus(tmp_path, "backtracker")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY, "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    selection = config["selection"]
    nats = {name: c["holdout_nats"] for name, c in selection["candidates"].items()}
    assert set(nats) == {"raster", "carve"} and selection["refused"] == {}
    # The held-out bound each candidate logged, and the lower one kept.
    for name in nats:
        log = [json.loads(line) for line in (run / "candidates" / name / "log.jsonl").read_text().splitlines()]
        assert nats[name] == pytest.approx(min(r["holdout_rec"] + r["holdout_kl"] for r in log), abs=1e-3)
    assert selection["chosen"] == min(nats, key=nats.get) == config["model"]["name"]
    winner = load_file(run / "candidates" / selection["chosen"] / "model.safetensors")
    kept = load_file(run / "model.safetensors")
    assert winner.keys() == kept.keys() and all(np.array_equal(winner[k], kept[k]) for k in kept)
    assert "alternatives" not in config
    # The run folder is a run folder: it exports and generates like any other.
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--quality-samples", "8"]) == 0
    assert main(["generate", "--model", str(tmp_path / "m.onnx"), "--count", "2", "--format", "txt",
                 "--out", str(tmp_path / "levels")]) == 0


def test_another_corpus_trains_one_walk_in_the_run_folder_and_says_why(tmp_path):
    data = corpus(tmp_path, "prim")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY, "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "raster" and not (run / "candidates").exists()
    assert config["selection"]["candidates"] == {}
    assert "prim.npz#" in config["selection"]["refused"]["carve"]
    assert "depth-first" in config["selection"]["refused"]["carve"]


def test_the_carve_model_refuses_a_level_it_cannot_draw_and_writes_nothing(tmp_path, capsys):
    data = corpus(tmp_path, "kruskal")
    assert main(["train", "--data", str(data), "--model", "carve", *TINY, "--out", str(tmp_path / "run")]) == 2
    assert "model 'carve' cannot learn this data: kruskal.npz#" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_perfect_only_raster_model_refuses_loops():
    from daedalus.trainer.raster_model import RasterVAE

    braided = generate_batch("backtracker", 6, 12, 12, np.random.default_rng(1), braid=1.0)
    model = RasterVAE(latent_dim=4, hidden=[16], height=12, width=12, loops=False)
    index, why = model.undrawable(np.concatenate([generate_batch("prim", 2, 12, 12, np.random.default_rng(2)),
                                                  braided]))
    assert index == 2 and "loop" in why
    assert RasterVAE(latent_dim=4, hidden=[16], height=12, width=12).undrawable(braided) is None


def test_a_selection_killed_between_candidates_resumes_to_the_same_end(tmp_path):
    from daedalus.trainer.train import train

    data = corpus(tmp_path, "backtracker")
    options = {"data": str(data), "latent": 4, "hidden": "32", "holdout": 8, "batch_size": 16, "epochs": 2,
               "cycles": 1, "eval_samples": 0, "figures": False, "count": 32}
    config = resolve_config(options)
    whole = train(config, tmp_path / "whole", progress=False)
    # One epoch per call, as kills would cut it: the first candidate, then the second, then the choice.
    cut = tmp_path / "cut"
    train(config, cut, progress=False, stop_after_epochs=1)
    assert not (cut / "config.json").exists() and (cut / "candidates" / "plan.json").exists()
    calls = 1
    while not (cut / "config.json").exists():
        train(None, cut, resume=True, progress=False, stop_after_epochs=1)
        calls += 1
    assert calls == 3
    ends = [json.loads((folder / "config.json").read_text())["selection"] for folder in (tmp_path / "whole", cut)]
    assert ends[0] == ends[1] and whole["epoch"] == 2
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_keep_best_keeps_the_weights_of_the_epoch_with_the_lowest_held_out_loss(tmp_path):
    """Twelve epochs on 24 levels: memorised long before the end; model.safetensors is the best epoch's."""
    from safetensors import safe_open

    data = corpus(tmp_path, "prim")
    for keep in ("best", "last"):
        run = tmp_path / keep
        assert main(["train", "--data", str(data), *TINY, "--epochs", "12", "--count", "24", "--hidden", "256",
                     "--lr", "0.01", "--keep", keep, "--out", str(run)]) == 0
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        beta = json.loads((run / "config.json").read_text())["schedule"]["beta_max"]
        nats = [r["holdout_rec"] + beta * r["holdout_kl"] for r in log]  # the loss the run minimises at full beta
        with safe_open(run / "model.safetensors", "np") as weights:
            step = int(weights.metadata()["step"])
        kept = [r for r in log if r["kept"]][-1]
        if keep == "best":
            assert kept["step"] == step < log[-1]["step"] and nats[log.index(kept)] == min(nats)
            assert all(r["kept"] == (n <= min(nats[:i], default=float("inf"))) for i, (r, n) in
                       enumerate(zip(log, nats)))
        else:
            assert step == log[-1]["step"] and all(r["kept"] for r in log)
    best, last = json.loads((tmp_path / "best" / "config.json").read_text()), \
        json.loads((tmp_path / "last" / "config.json").read_text())
    assert best["train"]["keep"] == "best" and last["train"]["keep"] == "last"


def test_a_carve_model_of_a_folder_of_styles_exports_and_draws_each_style(tmp_path):
    """What auto gives a folder of depth-first styles: the export fits each style (the carve walk needs no braid
    bonus of its own), and every style draws, in both modes, and blends."""
    from daedalus.maze.stats import is_perfect
    from daedalus.runtime import MazeGenerator

    folder = tmp_path / "styles"
    folder.mkdir()
    for name, seed in (("first", 1), ("second", 2)):
        assert main(["dataset", "--count", "40", "--size", "12", "--seed", str(seed),
                     "--out", str(folder / f"{name}.npz")]) == 0
    run = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--model", "carve", *TINY, "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--quality-samples", "8"]) == 0
    generator = MazeGenerator.load(tmp_path / "m.onnx", device="cpu")
    assert generator.styles == ["first", "second"]
    for style in generator.styles:
        assert all(is_perfect(level.grid) for level in generator.generate(4, seed=5, style=style))
        assert len(generator.generate(2, seed=5, style=style, mode="braid")) == 2
    assert len(generator.interpolate("first", "second", steps=3, seed=1)) == 3
