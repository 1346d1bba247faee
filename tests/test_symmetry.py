"""The symmetries of a corpus (daedalus.maze.symmetry) and training on them (augment "auto")."""

import json

import numpy as np
import pytest

from daedalus.cli import main
from daedalus.maze.generators import generate_batch
from daedalus.maze.stats import is_lattice, is_perfect
from daedalus.maze.symmetry import GROUPS, TRANSFORMS, corpus_symmetries, transform, transform_each

ALL = GROUPS[0]  # every symmetry of the square


def test_each_transform_is_the_symmetry_its_name_says_and_keeps_the_lattice():
    grids = generate_batch("prim", 6, 12, 12, np.random.default_rng(0))
    inner = grids[:, :-1, :-1]
    expected = {"identity": inner, "rot90": np.rot90(inner, 1, (1, 2)), "rot180": inner[:, ::-1, ::-1],
                "rot270": np.rot90(inner, 3, (1, 2)), "flip_cols": inner[:, :, ::-1], "flip_rows": inner[:, ::-1],
                "transpose": inner.transpose(0, 2, 1), "antitranspose": inner[:, ::-1, ::-1].transpose(0, 2, 1)}
    for name in TRANSFORMS:
        out = transform(grids, name)
        assert np.array_equal(out[:, :-1, :-1], expected[name]), name
        assert is_lattice(out).all() and is_perfect(out).all(), name
    # transpose keeps the first cell (the start) in place; antitranspose swaps it with the last.
    corner = np.zeros((1, 12, 12), dtype=np.uint8)
    corner[0, 0, 1] = 1
    assert transform(corner, "transpose")[0, 1, 0] == 1 and transform(corner, "antitranspose")[0, 9, 10] == 1
    # Every listed group is closed under composition.
    cells = np.arange(121).reshape(1, 11, 11)
    padded = np.zeros((1, 12, 12), dtype=np.int64)
    padded[:, :-1, :-1] = cells
    table = {name: transform(padded, name)[0, :-1, :-1].tobytes() for name in TRANSFORMS}
    for group in GROUPS:
        for a in group:
            for b in group:
                composed = transform(transform(padded, b), a)[0, :-1, :-1].tobytes()
                assert composed in {table[n] for n in group}, (group, a, b)


def test_non_square_levels_are_never_turned_a_quarter():
    with pytest.raises(ValueError, match="rot90 needs square levels, got 12x16"):
        transform(np.zeros((1, 12, 16), dtype=np.uint8), "rot90")
    grids = generate_batch("kruskal", 300, 12, 16, np.random.default_rng(1))
    assert corpus_symmetries(grids) == ("identity", "rot180", "flip_cols", "flip_rows")


@pytest.mark.parametrize("generator, expected", [
    ("kruskal", ALL),                          # a uniform-ish spanning tree: every symmetry of the square
    ("wilson", ALL),
    ("sidewinder", ("identity", "flip_cols")),  # its top row is one corridor, its runs go east-west
    ("binary-tree", ("identity", "antitranspose")),  # north or east from every cell: top row, right column
    ("backtracker", ("identity", "transpose")),  # depth-first from the first cell, which only transpose keeps
])
def test_a_corpus_keeps_exactly_the_symmetries_its_generator_has(generator, expected):
    grids = generate_batch(generator, 400, 16, 16, np.random.default_rng(2))
    assert corpus_symmetries(grids) == expected


def test_too_few_levels_keep_only_the_identity():
    grids = generate_batch("kruskal", 19, 16, 16, np.random.default_rng(3))
    assert corpus_symmetries(grids) == ("identity",)


def test_transform_each_turns_each_level_by_its_own_choice():
    grids = generate_batch("prim", 4, 12, 12, np.random.default_rng(4))
    names = ("identity", "rot90", "flip_rows")
    out = transform_each(grids, names, np.array([0, 1, 2, 1]))
    assert np.array_equal(out[0], grids[0])
    assert np.array_equal(out[1], transform(grids[1:2], "rot90")[0])
    assert np.array_equal(out[2], transform(grids[2:3], "flip_rows")[0])


TINY = ["--latent", "4", "--hidden", "32", "--holdout", "16", "--batch-size", "16", "--epochs", "1", "--cycles", "1",
        "--eval-samples", "0", "--no-figures", "--quiet", "--threads", "1"]


def test_training_records_the_symmetries_it_shows_and_each_walk_keeps_those_it_can_draw(tmp_path):
    kruskal, backtracker = tmp_path / "kruskal.npz", tmp_path / "backtracker.npz"
    np.savez(kruskal, grids=generate_batch("kruskal", 200, 16, 16, np.random.default_rng(5)))
    np.savez(backtracker, grids=generate_batch("backtracker", 200, 16, 16, np.random.default_rng(5)))
    assert main(["train", "--data", str(kruskal), *TINY, "--out", str(tmp_path / "k")]) == 0
    config = json.loads((tmp_path / "k" / "config.json").read_text())
    assert config["train"]["augment"] == "auto" and tuple(config["train"]["symmetries"]) == ALL
    assert main(["train", "--data", str(kruskal), *TINY, "--augment", "none", "--out", str(tmp_path / "n")]) == 0
    assert json.loads((tmp_path / "n" / "config.json").read_text())["train"]["symmetries"] == ["identity"]
    # A depth-first corpus: transpose keeps the carve walk's root, so both walks train on it.
    assert main(["train", "--data", str(backtracker), *TINY, "--out", str(tmp_path / "b")]) == 0
    for name in ("raster", "carve"):
        config = json.loads((tmp_path / "b" / "candidates" / name / "config.json").read_text())
        assert config["train"]["symmetries"] == ["identity", "transpose"], name


def test_the_carve_walk_drops_a_symmetry_that_moves_its_root(tmp_path):
    from daedalus.trainer.augment import symmetries_for
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.data import load_dataset
    from daedalus.trainer.models import build_model

    path = tmp_path / "backtracker.npz"
    np.savez(path, grids=generate_batch("backtracker", 200, 12, 12, np.random.default_rng(6)))
    config = resolve_config({"data": str(path), "model": "carve"})
    data = load_dataset(config["data"])
    model = build_model(config["model"])
    assert symmetries_for(model, data, config) == ["identity", "transpose"]
    # Turned half a turn, the corpus is depth-first from the last cell: the carve walk cannot draw it.
    assert model.undrawable(transform(data.train, "rot180")) is not None


def test_each_style_of_a_many_style_corpus_keeps_its_own_symmetries(tmp_path):
    folder = tmp_path / "styles"
    folder.mkdir()
    np.savez(folder / "kruskal.npz", grids=generate_batch("kruskal", 150, 16, 16, np.random.default_rng(7)))
    np.savez(folder / "sidewinder.npz", grids=generate_batch("sidewinder", 150, 16, 16, np.random.default_rng(7)))
    assert main(["train", "--data", str(folder), *TINY, "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["symmetries"] == [list(ALL), ["identity", "flip_cols"]]  # styles in file-name order


def test_each_epoch_shows_every_level_under_different_members_of_its_own_group():
    import torch

    from daedalus.trainer.augment import EpochViews

    grids = generate_batch("prim", 6, 12, 12, np.random.default_rng(8))
    labels = np.array([0, 0, 0, 1, 1, 1])
    views = EpochViews([list(ALL), ["identity"]], labels, len(grids))
    assert views.repeats == 8  # 6 levels: every member of the largest group, each epoch
    generator = torch.Generator().manual_seed(0)
    epoch = views.epoch(torch.from_numpy(grids.astype(np.float32)), generator).numpy()
    assert epoch.shape == (8 * 6, 12, 12)
    for i in range(6):
        seen = {epoch[k * 6 + i].tobytes() for k in range(8)}
        if labels[i] == 0:  # eight different views, each a symmetry of the level
            assert seen == {transform(grids[i:i + 1], name)[0].astype(np.float32).tobytes() for name in ALL}
        else:  # the second style has none: the level itself every time
            assert seen == {grids[i].astype(np.float32).tobytes()}
    assert EpochViews(["identity"], None, 6).epoch(torch.zeros(6, 12, 12), generator).shape == (6, 12, 12)
