"""Bad arguments: one line naming the value (never a usage block first), seeds JSON can carry, output checked
before the work."""

import json

import pytest

from daedalus.cli import main
from daedalus.errors import UsageError
from daedalus.maze.backtracker import MAX_SEED
from daedalus.runtime.level import Level


@pytest.mark.parametrize("argv, message", [
    (["generate", "--count", "x", "--format", "npz", "--out", "a.npz"],
     "daedalus generate: error: argument --count: expected a non-negative integer, got 'x'"),
    (["generate", "--count", "2"], "daedalus generate: error: the following arguments are required: --format, --out"),
    (["generate", "--count", "1", "--format", "gif", "--out", "x"], "argument --format: invalid choice: 'gif'"),
    (["bogus"], "daedalus: error: argument COMMAND: invalid choice: 'bogus'"),
    (["play", "--seed", str(MAX_SEED + 1)], f"argument --seed: expected at most 2**53 = {MAX_SEED}"),
    (["generate", "--count", "1", "--seed", str(2**64), "--format", "npz", "--out", "a.npz"], "at most 2**53"),
    (["dataset", "--count", "-1", "--out", "a.npz"], "argument --count"),
])
def test_a_parser_error_is_one_line_naming_the_argument(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err, err
    assert message in err and "--help" in err


def test_seeds_beyond_what_json_holds_exactly_are_refused(generator):
    with pytest.raises(UsageError, match=rf"seed must be at most 2\*\*53 = {MAX_SEED}.*got {MAX_SEED + 1}"):
        generator.generate(1, seed=MAX_SEED + 1)
    (level,) = generator.generate(1, seed=MAX_SEED)  # the largest is fine and survives JSON (a double) exactly
    assert json.loads(level.to_json())["seed"] == MAX_SEED == int(float(MAX_SEED))
    assert Level.from_json(level.to_json()).seed == MAX_SEED


def test_generate_cli_refuses_a_huge_seed_before_loading_the_model(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--count", "1", "--seed", str(2**60), "--model", str(tmp_path / "missing.onnx"),
              "--format", "json", "--out", str(tmp_path / "levels")])
    assert "at most 2**53" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
