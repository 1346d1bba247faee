"""``daedalus eval`` on a real ONNX decoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from daedalus import maze
from daedalus.cli import main
from daedalus.runtime.eval_cli import training_grids


def test_eval_reports_raw_repaired_reference_and_baseline(decoder_path, tmp_path, capsys):
    plot = tmp_path / "range.png"
    assert main(["eval", "--model", str(decoder_path), "--samples", "300", "--seed", "1", "--json",
                 "--plot", str(plot)]) == 0
    # Strict JSON: NaN or Infinity would break other languages' parsers.
    report = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    raw, repaired, reference = report["raw"], report["repaired"], report["reference"]
    assert repaired["solvable"] == 1.0 and repaired["perfect"] == 1.0
    assert reference["perfect"] == 1.0 and reference["w_dead_ends"] == 0.0
    # Repair changed something, and the raw output of a blurred linear decoder is not a maze.
    assert 0 < report["edits"] <= report["edits_max"] < 1
    assert raw["perfect"] < 1.0 and raw["loops"] > 0
    assert report["training_set"] == 400 and 0.0 <= repaired["novelty"] <= 1.0
    assert report["baseline"]["count"] == 1
    assert set(report["goals"]) and report["goals"]["solvable after repair = 100 %"] is True
    assert plot.stat().st_size > 1000 and report["plot"] == str(plot)


def test_eval_table_lists_every_figure_and_the_goals(decoder_path, capsys):
    assert main(["eval", "--model", str(decoder_path), "--samples", "64", "--mode", "braid", "--no-plot"]) == 0
    out = capsys.readouterr().out
    for label in ("perfect rate", "dead ends", "W1/mean solution length", "repair edits", "goals:", "mean maze"):
        assert label in out


def test_training_set_is_rebuilt_from_metadata():
    meta = {"training_data": json.dumps({"kind": "mazes", "count": 20, "height": 12, "width": 16, "seed": 4})}
    assert np.array_equal(training_grids(meta), maze.backtracker_batch(20, 12, 16, rng=4))
    assert training_grids({"training_data": json.dumps({"kind": "digits"})}) is None
    assert training_grids({"training_data": "not json"}) is None


def test_bad_arguments_are_refused_before_any_work(decoder_path, tmp_path, capsys):
    assert main(["eval", "--model", str(decoder_path), "--samples", "0"]) == 2
    assert "--samples must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["eval", "--model", str(decoder_path), "--plot", str(tmp_path / "no" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "--model", str(tmp_path / "missing.onnx"), "--no-plot"]) == 2
    assert "missing.onnx" in capsys.readouterr().err


def test_eval_writes_no_file_unless_asked(decoder_path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--model", str(decoder_path), "--samples", "32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out).get("plot") is None
    assert not list(tmp_path.iterdir())  # no expressive_range.png dropped into the current folder


def test_the_reference_of_a_decoder_exported_at_another_size_is_drawn_at_its_size(tmp_path):
    from daedalus.errors import UsageError
    from daedalus.maze.generators import generate_batch
    from daedalus.runtime.eval_cli import reference_corpus

    corpus = tmp_path / "kruskal.npz"
    np.savez(corpus, grids=generate_batch("kruskal", 30, 12, 12, np.random.default_rng(0)))
    data = {"kind": "corpus", "height": 12, "width": 12, "path": str(corpus), "generator": "kruskal"}
    meta = {"training_data": json.dumps(data), "height": "16", "width": "20"}
    grids, described = reference_corpus(meta, None, 8, seed=0)
    assert grids.shape == (8, 16, 20) and described == "fresh kruskal mazes"
    assert all(maze.stats.is_perfect(g) for g in grids)
    # A corpus of another size than the model's is refused, naming both sizes.
    with pytest.raises(UsageError, match=r"holds 12x12 levels but the model draws 16x20"):
        reference_corpus(meta, str(corpus), 8, seed=0)
    no_generator = {"training_data": json.dumps({**data, "generator": None}), "height": "16", "width": "20"}
    with pytest.raises(UsageError, match=r"the training corpus .* holds 12x12 levels but the model draws 16x20"):
        reference_corpus(no_generator, None, 8, seed=0)


def test_eval_compares_in_braid_mode_with_a_corpus_of_loops_unless_told(decoder_path, tmp_path, capsys):
    from daedalus.maze.evaluation import corpus_mode
    from daedalus.maze.generators import generate_batch

    braided = generate_batch("backtracker", 40, 28, 28, np.random.default_rng(0), 0.5)
    perfect = generate_batch("backtracker", 40, 28, 28, np.random.default_rng(0))
    assert (corpus_mode(braided), corpus_mode(perfect)) == ("braid", "perfect")
    corpus = tmp_path / "braided.npz"
    np.savez(corpus, grids=braided)
    common = ["eval", "--model", str(decoder_path), "--samples", "64", "--data", str(corpus), "--json",
              "--no-untrained", "--no-two-sample"]
    assert main(common) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "braid" and report["repaired"]["loops"] > 0
    assert main([*common, "--mode", "perfect"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "perfect" and report["repaired"]["loops"] == 0


def test_a_corpus_without_dead_ends_leaves_their_distance_undefined_and_the_rest_measured(decoder_path, tmp_path,
                                                                                          capsys):
    # Every link open: no dead end, no straight cell, no turn, so W1/mean has no scale for them. The report
    # says so (null) instead of failing, and still measures the figures that are defined.
    grid = np.ones((28, 28), np.uint8)
    grid[1::2, 1::2] = 0
    grid[-1, :] = grid[:, -1] = 0
    corpus = tmp_path / "open.npz"
    np.savez(corpus, grids=np.stack([grid] * 8))
    assert main(["eval", "--model", str(decoder_path), "--samples", "64", "--data", str(corpus), "--json",
                 "--no-untrained", "--no-two-sample"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"]["dead_ends"] == 0
    for figures in (report["repaired"], report["style"]):
        assert figures["w_dead_ends"] is None
        assert figures["w_solution_length"] is not None and figures["w_solution_length"] > 0
    assert main(["eval", "--model", str(decoder_path), "--samples", "64", "--data", str(corpus),
                 "--no-untrained", "--no-two-sample"]) == 0
    assert "W1/mean dead ends" in capsys.readouterr().out


def test_several_critics_report_their_mean_and_each_one(decoder_path, capsys):
    common = ["eval", "--model", str(decoder_path), "--samples", "96", "--seed", "3", "--no-untrained"]
    assert main([*common, "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert "two_sample_runs" not in single
    assert main([*common, "--json", "--critics", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    runs = report["two_sample_runs"]["model"]
    assert len(runs) == 3 and all(0 <= r <= 1 for r in runs)
    # The first critic is the single one (same seed, same levels); the figure reported is the mean of all three.
    assert runs[0] == pytest.approx(single["two_sample"]["model"])
    assert report["two_sample"]["model"] == pytest.approx(np.mean(runs))
    assert report["repaired"]["two_sample"] == pytest.approx(np.mean(runs))
    assert main([*common, "--critics", "2"]) == 0
    assert "two-sample accuracy: the mean of 2 critics (model " in capsys.readouterr().out
    assert main([*common, "--critics", "0"]) == 2
    assert "--critics must be a positive integer, got 0" in capsys.readouterr().err
