"""Critic tuning (daedalus.trainer.tune): the last stage of a run, done once, resumable to the same weights, skipped
(and saying why) where it cannot apply."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from daedalus.cli import main
from daedalus.trainer import checkpoint as ckpt
from daedalus.trainer import tune as tuning
from daedalus.trainer.config import resolve_config
from daedalus.trainer.data import load_dataset
from daedalus.trainer.train import train, weights_digest

SMALL = {"size": 12, "epochs": 1, "batch_size": 32, "holdout": 16, "eval_samples": 0, "figures": False,
         "latent": 4, "hidden": "32", "window": "8", "context_hidden": 16}


def _corpus(tmp_path, count, generator="prim", braid="0"):
    path = tmp_path / f"{generator}-{count}.npz"
    assert main(["dataset", "--generator", generator, "--braid", braid, "--count", str(count), "--size", "12",
                 "--seed", "1", "--out", str(path)]) == 0
    return path


def _weights(run):
    return {k: v.clone() for k, v in load_file(run / ckpt.WEIGHTS_FILE).items()}


@pytest.fixture(scope="module")
def untuned(tmp_path_factory):
    """A raster run on 240 Prim levels (224 to train on), trained with tuning off: (run folder, its config with
    tuning on)."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("tune")
    data = _corpus(tmp, 240)
    run = tmp / "run"
    train(resolve_config({**SMALL, "data": str(data), "tune_rounds": 0}), run, progress=False)
    assert json.loads((run / tuning.TUNE_FILE).read_text()) == {"skipped": "tune_rounds is 0"}
    config = ckpt.read_config(run)
    config["train"] = {**config["train"], "tune_rounds": 2, "tune_steps": 3}
    return run, config


def _tuned_copy(untuned, where):
    run, config = untuned
    shutil.copytree(run, where)
    (where / tuning.TUNE_FILE).unlink()
    return where, config


def test_tuning_changes_the_decoder_once_and_records_it(untuned, tmp_path):
    run, config = _tuned_copy(untuned, tmp_path / "run")
    before = _weights(run)
    data = load_dataset(config["data"])
    report = tuning.tune_run(run, config, data, "cpu")
    after = _weights(run)
    assert [r["round"] for r in report["rounds"]] == [1, 2] and report["steps"] == 3
    assert all(0.0 <= r["critic_accuracy"] <= 1.0 for r in report["rounds"])
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("decoder.") for k in changed)
    model, _ = ckpt.load_model(run)
    assert report["weights_sha256"] == weights_digest(model) == tuning.tuned_digest(run)
    # Done once: a second call (a resume of a finished run) leaves the tuned weights as they are.
    assert tuning.tune_run(run, config, data, "cpu") == report
    assert all(torch.equal(after[k], v) for k, v in _weights(run).items())


def test_a_kill_during_tuning_resumes_to_the_same_weights(untuned, tmp_path):
    whole, config = _tuned_copy(untuned, tmp_path / "whole")
    data = load_dataset(config["data"])
    want = tuning.tune_run(whole, config, data, "cpu")["weights_sha256"]
    # Killed after tune.json landed, before the tuned weights did: the untuned weights do not match its digest.
    killed, _ = _tuned_copy(untuned, tmp_path / "killed")
    (killed / tuning.TUNE_FILE).write_text((whole / tuning.TUNE_FILE).read_text())
    assert tuning.tuned_digest(killed) == want != weights_digest(ckpt.load_model(killed)[0])
    assert tuning.tune_run(killed, config, data, "cpu")["weights_sha256"] == want
    assert weights_digest(ckpt.load_model(killed)[0]) == want


def test_policy_gradient_moves_the_walk_towards_what_the_critic_rewards():
    """With a reward that is the level's count of straight-through cells, a few steps at a large rate make the
    walk draw more of them: the sign of the gradient is right."""
    from daedalus.maze.stats import straights
    from daedalus.trainer.models import build_model, model_config

    torch.manual_seed(0)
    model = build_model(model_config("raster", 12, 12, latent_dim=4, hidden=[32], window_hidden=[8],
                                     context_hidden=16))
    rng = np.random.default_rng(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def mean_straights(seed):
        code = np.random.default_rng(seed).standard_normal((400, 4)).astype(np.float32)
        return float(np.mean(straights(model.sample_grids(code, np.random.default_rng(seed), loops=False))))

    before = mean_straights(1)
    for _ in range(40):
        code = rng.standard_normal((64, 4)).astype(np.float32)
        levels = model.sample_grids(code, rng, loops=False)
        reward = torch.tensor(np.asarray(straights(levels), dtype=np.float32))
        loss = ((reward - reward.mean()) * model.level_nll(torch.from_numpy(code), levels)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert mean_straights(1) > before + 2.0


def test_level_nll_is_the_walk_s_own_likelihood():
    """Levels drawn from a code are likelier under that code than under another (the walk follows its code)."""
    from daedalus.trainer.models import build_model, model_config

    torch.manual_seed(1)
    model = build_model(model_config("raster", 12, 12, latent_dim=4, hidden=[32], window_hidden=[8],
                                     context_hidden=16)).eval()
    with torch.no_grad():
        model.decoder[-1].weight.mul_(20.0)  # a decoder whose codes say a lot
    code = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    levels = model.sample_grids(code, np.random.default_rng(0), loops=False)
    with torch.no_grad():
        own = model.level_nll(torch.from_numpy(code), levels)
        other = model.level_nll(torch.from_numpy(np.roll(code, 1, axis=0)), levels)
    assert torch.isfinite(own).all() and (own > 0).all()
    assert float((own < other).float().mean()) > 0.9


def test_tuning_is_skipped_where_it_cannot_apply_and_says_why(tmp_path):
    from daedalus.trainer.models import build_model

    config = resolve_config({**SMALL, "data": str(_corpus(tmp_path, 50))})
    raster = build_model(config["model"])
    grids = np.zeros((250, 12, 12), dtype=np.float32)
    assert tuning.skip_reason(raster, grids, None, 0) == "tune_rounds is 0"
    assert tuning.skip_reason(raster, grids[:50], None, 12) == ("50 training levels (critic tuning needs at "
                                                                 "least 150)")
    assert tuning.skip_reason(raster, grids, np.repeat([0, 1], 125), 12) == (
        "no style has 150 training levels (the most: 125; critic tuning needs at least 150 of a style)")
    assert tuning.skip_reason(raster, grids, np.repeat([0, 1], [200, 50]), 12) is None
    assert tuning.skip_reason(raster, grids, None, 12) is None
    carve = build_model(resolve_config({"size": 12, "model": "carve", "latent": 4, "hidden": "32"})["model"])
    assert tuning.skip_reason(carve, grids, None, 12) == ("the carve decoder has no exact likelihood of its own "
                                                          "levels to tune")
    # A run on too few levels says so in its folder and on the command line.
    run = tmp_path / "run"
    assert main(["train", "--data", str(_corpus(tmp_path, 50)), "--out", str(run), "--quiet", "--no-figures",
                 "--size", "12", "--epochs", "1", "--latent", "4", "--hidden", "32", "--window", "8",
                 "--eval-samples", "0", "--holdout", "8"]) == 0
    assert json.loads((run / tuning.TUNE_FILE).read_text())["skipped"].startswith("45 training levels")
    assert tuning.summary(run).startswith("critic tuning skipped: 45 training levels")


@pytest.mark.parametrize("option, value, expected", [
    ("tune_rounds", -1, "tune_rounds must be an integer >= 0, got -1"),
    ("tune_steps", 0, "tune_steps must be an integer >= 1, got 0"),
    ("tune_weight", float("nan"), "tune_weight must be a number >= 0"),
    ("tune_weight", -0.5, "tune_weight must be a number >= 0"),
])
def test_bad_tuning_options_are_refused_naming_the_value(option, value, expected):
    from daedalus.errors import UsageError

    with pytest.raises(UsageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        resolve_config({option: value})


def test_the_one_configuration_tunes():
    train_options = resolve_config({})["train"]
    assert (train_options["tune_rounds"], train_options["tune_steps"], train_options["tune_weight"]) == (12, 30, 0.3)


def test_a_many_style_corpus_is_tuned_style_by_style(tmp_path):
    """Each style with enough levels gets its own critic (the record names it), a style with too few is left out,
    and the decoder changes; the style Gaussians export writes are refitted to the tuned decoder."""
    torch.set_num_threads(1)
    corpus = tmp_path / "styles"
    corpus.mkdir()
    for generator, count in (("prim", 170), ("sidewinder", 170), ("backtracker", 40)):
        shutil.move(_corpus(tmp_path, count, generator), corpus / f"{generator}.npz")
    run = tmp_path / "run"
    train(resolve_config({**SMALL, "data": str(corpus), "tune_rounds": 0}), run, progress=False)
    config = ckpt.read_config(run)
    config["train"] = {**config["train"], "tune_rounds": 1, "tune_steps": 2}
    (run / tuning.TUNE_FILE).unlink()
    before = _weights(run)
    data = load_dataset(config["data"])
    assert sorted(config["data"]["styles"]) == ["backtracker", "prim", "sidewinder"]
    report = tuning.tune_run(run, config, data, "cpu")
    [record] = report["rounds"]
    assert sorted(record["styles"]) == ["prim", "sidewinder"]
    for style in record["styles"].values():
        assert 0.0 <= style["critic_accuracy"] <= 1.0 and np.isfinite(style["mean_reward"])
    assert record["critic_accuracy"] == pytest.approx(
        np.mean([s["critic_accuracy"] for s in record["styles"].values()]), abs=1e-4)
    after = _weights(run)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert ", 2 styles" in tuning.summary(run)
