"""Nothing invalid gets in: ``Level.from_dict`` / ``Level.from_json`` refuse what no generated level can be."""

import json

import numpy as np
import pytest

from daedalus.errors import UsageError
from daedalus.maze.backtracker import backtracker
from daedalus.maze.stats import is_solvable
from daedalus.runtime.level import Level


def level_dict(seed: int = 0, **changes) -> dict:
    grid = backtracker(28, 28, np.random.default_rng(seed))
    level = Level(grid=grid, start=(0, 0), exit=(26, 26), seed=seed, z=np.zeros(4, dtype=np.float32), index=0)
    return {**level.to_dict(), **changes}


def test_a_valid_level_round_trips_through_dict_json_text_and_file(tmp_path):
    data = level_dict(3)
    level = Level.from_dict(data)
    assert level.grid.tolist() == data["grid"] and level.start == (0, 0) and level.exit == (26, 26)
    assert Level.from_json("  \n" + json.dumps(data)).grid.tolist() == data["grid"]
    path = tmp_path / "level.json"
    level.to_json(path)
    assert Level.from_json(path).grid.tolist() == data["grid"]
    assert Level.from_json(str(path)).grid.tolist() == data["grid"]


def test_an_unsolvable_grid_is_refused():
    data = level_dict(1)
    grid = np.array(data["grid"])
    grid[25, 26] = grid[26, 25] = 0  # wall the exit cell in
    assert not is_solvable(grid, (0, 0), (26, 26))
    with pytest.raises(UsageError, match=r"exit \[26, 26\] cannot be reached from start \[0, 0\]"):
        Level.from_dict({**data, "grid": grid.tolist()})


@pytest.mark.parametrize("key", ["start", "exit"])
@pytest.mark.parametrize("point", [[99, 99], [-1, -1], [0, 28], [-28, 0]])
def test_a_start_or_exit_outside_the_grid_is_refused_and_negative_values_do_not_wrap(key, point):
    with pytest.raises(UsageError, match=rf"{key} \[{point[0]}, {point[1]}\] is outside the 28x28 grid"):
        Level.from_dict(level_dict(**{key: point}))


@pytest.mark.parametrize("key", ["start", "exit"])
def test_a_start_or_exit_on_a_wall_is_refused(key):
    data = level_dict(2)
    grid = np.array(data["grid"])
    grid[2, 2] = 0
    with pytest.raises(UsageError, match=rf"{key} \[2, 2\] is on a wall"):
        Level.from_dict({**data, "grid": grid.tolist(), key: [2, 2]})
    with pytest.raises(UsageError, match=rf"{key} \[1, 1\] is not a cell"):
        Level.from_dict({**data, key: [1, 1]})  # odd-odd: always wall


def test_a_fractional_start_is_refused_not_truncated():
    with pytest.raises(UsageError, match=r"start \[0.5, 0\] is not a pair of integers"):
        Level.from_dict(level_dict(start=[0.5, 0]))


@pytest.mark.parametrize("value", [0.5, 0.999, 2, -1, float("nan")])
def test_fractional_or_non_binary_cells_are_refused(value):
    data = level_dict(4)
    grid = np.array(data["grid"], dtype=float)
    grid[1, 1] = value  # an odd-odd wall: 0.5 truncated to 0 would pass as a valid level
    with pytest.raises(UsageError, match=r"position \(1, 1\) is (0\.5|0\.999|2|-1|nan); a level holds only 0"):
        Level.from_dict({**data, "grid": grid.tolist()})


def test_a_string_cell_is_refused_not_converted():
    data = level_dict(6)
    data["grid"][0][0] = "1"
    with pytest.raises(UsageError, match=r"28x28 of 0/1, got shape \(28, 28\) of <U"):
        Level.from_dict(data)


def test_a_grid_of_true_and_false_is_refused():
    data = level_dict(6)
    with pytest.raises(UsageError, match=r"28x28 of 0/1, got shape \(28, 28\) of bool"):
        Level.from_dict({**data, "grid": [[bool(v) for v in row] for row in data["grid"]]})


def test_a_lattice_break_is_refused():
    data = level_dict(5)
    grid = np.array(data["grid"])
    grid[27, 4] = 1
    with pytest.raises(UsageError, match=r"position \(27, 4\) is 1 but the lattice rule keeps the last row wall"):
        Level.from_dict({**data, "grid": grid.tolist()})


@pytest.mark.parametrize("text", ["[1,2]", "  [1, 2]", "\n[]", "[{}]"])
def test_json_text_that_starts_with_a_bracket_is_json_not_a_file_path(text):
    with pytest.raises(UsageError, match="a level must be a JSON object, got list"):
        Level.from_json(text)


def test_broken_json_text_in_brackets_is_a_json_error_not_a_missing_file():
    with pytest.raises(UsageError, match="not valid JSON"):
        Level.from_json("[1, 2")


def test_a_refusal_read_from_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(level_dict(start=[99, 99])))
    with pytest.raises(UsageError, match=rf"^{path}: start \[99, 99\] is outside"):
        Level.from_json(path)
