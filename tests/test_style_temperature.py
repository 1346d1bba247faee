"""A walk temperature per style (docs/formats.md "Raster decoders", step 0): read from the style's corpus entry,
applied only to that style, refused when it is not a number > 0, recorded in the format version, and fitted by the
two-sample test."""

import json
import math

import numpy as np
import onnx
import pytest

import onnx_models
from daedalus.contract import format_version, read_contract
from daedalus.errors import ModelError, UsageError
from daedalus.export import temperatures
from daedalus.runtime import MazeGenerator
from daedalus.runtime.generator import DEFAULT_MODEL


def with_temperatures(path, values: dict):
    """A copy of the shipped decoder at ``path`` whose styles named in ``values`` have that ``walk_temperature``."""
    proto = onnx.load(str(DEFAULT_MODEL))
    for entry in proto.metadata_props:
        if entry.key == "styles":
            styles = json.loads(entry.value)
            for style in styles:
                style["corpus"].pop("walk_temperature", None)
                if style["name"] in values:
                    style["corpus"]["walk_temperature"] = values[style["name"]]
            entry.value = json.dumps(styles)
    onnx.save(proto, str(path))
    return path


def same_code_other_noise(generator, style, count=40):
    z = generator.sample_latents(count, 7, style=style)
    code = len(generator.info.style(style).mean)
    z[1::2, :code] = z[0::2, :code]  # pairs: one code, two draws of the walk's noise
    return z


def test_a_sharp_temperature_makes_a_style_walk_its_best_option_and_leaves_the_others_alone(tmp_path):
    plain = MazeGenerator.load(with_temperatures(tmp_path / "plain.onnx", {}))
    sharp = MazeGenerator.load(with_temperatures(tmp_path / "sharp.onnx", {"prim": 1e-6}))
    z = same_code_other_noise(plain, "prim")
    # At T = 1 the noise changes the level; at T -> 0 the walk takes each cell's best option whatever its noise.
    at_one = plain.raw_levels(z, style="prim")
    assert (at_one[0::2] != at_one[1::2]).any(axis=(1, 2)).all()
    cold = sharp.raw_levels(z, style="prim")
    assert (cold[0::2] == cold[1::2]).all()
    # Another style, and the prior, walk as before, bit for bit.
    kruskal = plain.sample_latents(20, 3, style="kruskal")
    assert np.array_equal(sharp.raw_levels(kruskal, style="kruskal"), plain.raw_levels(kruskal, style="kruskal"))
    assert np.array_equal(sharp.raw_levels(z), plain.raw_levels(z))
    # The style's own levels stay valid perfect mazes, and generate(style=) uses the temperature too.
    from daedalus.maze.stats import is_perfect

    assert is_perfect(cold).all()
    # generate(style=) walks at the style's temperature too, in its threaded pipeline as in raw_levels.
    levels = sharp.generate(300, seed=11, style="prim")
    z300 = np.stack([level.z for level in levels])
    grids = np.stack([level.grid for level in levels])
    assert np.array_equal(grids, sharp.raw_levels(z300, style="prim"))
    assert not np.array_equal(grids, plain.raw_levels(z300, style="prim"))
    assert np.array_equal(sharp.from_latents(levels[5].z, style="prim").grid, levels[5].grid)


def test_a_temperature_of_one_is_the_walk_without_one(tmp_path):
    plain = MazeGenerator.load(with_temperatures(tmp_path / "plain.onnx", {}))
    one = MazeGenerator.load(with_temperatures(tmp_path / "one.onnx", {"prim": 1.0}))
    z = plain.sample_latents(30, 5, style="prim")
    assert np.array_equal(one.raw_levels(z, style="prim"), plain.raw_levels(z, style="prim"))
    # A middle temperature changes some levels and not every cell: it reweights the same options.
    warm = MazeGenerator.load(with_temperatures(tmp_path / "warm.onnx", {"prim": 0.8}))
    moved = warm.raw_levels(z, style="prim") != plain.raw_levels(z, style="prim")
    assert moved.any() and moved.mean() < 0.5


@pytest.mark.parametrize("bad", [0, -1.5, "hot", True, math.inf])
def test_a_walk_temperature_that_is_not_a_positive_number_is_refused_naming_the_style(tmp_path, bad):
    path = with_temperatures(tmp_path / "bad.onnx", {"wilson": bad})
    with pytest.raises(ModelError, match=r"style 'wilson' has walk_temperature .* expected a finite number > 0"):
        MazeGenerator.load(path)


def test_a_temperature_other_than_one_needs_format_four():
    metadata = {"walk_order": "flip_rows", "styles": json.dumps([{"name": "a", "corpus": {"walk_temperature": 1}}])}
    assert format_version("raster", metadata) == "3"
    metadata["styles"] = json.dumps([{"name": "a", "corpus": {"walk_temperature": 0.8}}])
    assert format_version("raster", metadata) == "4"
    assert format_version("raster", {"styles": "not json"}) == "1"  # read_contract names that fault


def test_the_fit_finds_the_temperature_a_corpus_was_drawn_at(tmp_path, monkeypatch):
    """References drawn from one style at T 0.5 and from another at T 1: the fit picks the sharper of the two
    temperatures tried for the first and keeps 1 for the second."""
    monkeypatch.setattr(temperatures, "TEMPERATURES", (0.6, 1.0))
    monkeypatch.setattr(temperatures, "SAMPLES", 300)
    sharp = MazeGenerator.load(with_temperatures(tmp_path / "sharp.onnx", {"recursive-division": 0.5}))
    plain_path = with_temperatures(tmp_path / "plain.onnx", {})
    plain = MazeGenerator.load(plain_path)
    references = {
        "recursive-division": sharp.raw_levels(sharp.sample_latents(300, 10**6, style="recursive-division"),
                                               style="recursive-division"),
        "prim": plain.raw_levels(plain.sample_latents(300, 10**6, style="prim"), style="prim"),
        "wilson": np.zeros((10, 28, 28), dtype=np.uint8),  # too few levels to tell: left alone
    }
    proto = onnx.load(str(plain_path))
    metadata = {p.key: p.value for p in proto.metadata_props}
    styles = {s["name"]: s["corpus"] for s in
              temperatures.fit_style_temperatures(proto.SerializeToString(), metadata, references, seed=0)}
    assert styles["recursive-division"]["walk_temperature"] == 0.6
    assert styles["prim"]["walk_temperature"] == 1.0
    fit = styles["recursive-division"]["walk_temperature_fit"]
    assert set(fit) == {"0.6", "1.0"} and fit["0.6"] < fit["1.0"] - temperatures.MARGIN
    assert "walk_temperature" not in styles["wilson"] and "walk_temperature" not in styles["kruskal"]
    # The fitted entries make a file the runtime reads, of format 4.
    metadata["styles"] = json.dumps(list(styles_list := [
        {**s, "corpus": styles[s["name"]]} for s in json.loads(metadata["styles"])]))
    metadata["daedalus_format"] = format_version("raster", metadata)
    assert metadata["daedalus_format"] == "4" and len(styles_list) == len(styles)
    assert read_contract(metadata, "fitted").style("recursive-division").corpus["walk_temperature"] == 0.6


def test_export_refuses_an_unknown_walk_temperatures_choice(tmp_path):
    from daedalus.export.onnx_export import export_decoder

    with pytest.raises(UsageError, match="--walk-temperatures must be one of fit, none, got 'warm'"):
        export_decoder(tmp_path, tmp_path / "m.onnx", walk_temperatures="warm")


def test_info_names_the_styles_walked_at_another_temperature(tmp_path, capsys):
    from daedalus.cli import main

    path = with_temperatures(tmp_path / "warm.onnx", {"prim": 0.9})
    assert main(["info", "--model", str(path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("styles: "))
    assert "prim (walk temperature 0.9)" in line and "kruskal," in line and "kruskal (" not in line


def with_metadata(path, **keys):
    """A copy of the shipped decoder at ``path`` with metadata ``keys`` set (None removes a key) and the format
    version its metadata needs."""
    kept = {p.key: p.value for p in onnx.load(str(DEFAULT_MODEL)).metadata_props}
    kept.update(keys)
    return onnx_models.with_metadata(DEFAULT_MODEL, path, **keys,
                                     daedalus_format=format_version("raster", {k: v for k, v in kept.items()
                                                                                if v is not None}))


def test_the_prior_walks_at_the_top_level_temperature_and_a_style_at_its_own(tmp_path):
    plain = MazeGenerator.load(with_metadata(tmp_path / "plain.onnx"))
    sharp = MazeGenerator.load(with_metadata(tmp_path / "sharp.onnx", walk_temperature="1e-06"))
    assert sharp.metadata["daedalus_format"] == "4"
    z = same_code_other_noise(plain, "prim")
    cold = sharp.raw_levels(z)  # no style: the prior's temperature
    assert (cold[0::2] == cold[1::2]).all()
    # A style without a walk_temperature of its own walks at 1 whatever the top-level key says.
    assert np.array_equal(sharp.raw_levels(z, style="prim"), plain.raw_levels(z, style="prim"))


@pytest.mark.parametrize("bad", ["0", "-2", "hot", "nan", "inf"])
def test_a_top_level_walk_temperature_that_is_not_a_positive_number_is_refused(tmp_path, bad):
    path = with_metadata(tmp_path / "bad.onnx", walk_temperature=bad)
    with pytest.raises(ModelError, match=rf"metadata walk_temperature '{bad}' is not a finite number > 0"):
        MazeGenerator.load(path)


def test_the_prior_fit_finds_the_temperature_its_training_levels_were_drawn_at(tmp_path, monkeypatch):
    monkeypatch.setattr(temperatures, "TEMPERATURES", (0.6, 1.0))
    monkeypatch.setattr(temperatures, "SAMPLES", 300)
    one_style = with_metadata(tmp_path / "one.onnx", styles=None)
    sharp = MazeGenerator.load(with_metadata(tmp_path / "sharp.onnx", styles=None, walk_temperature="0.5"))
    plain = MazeGenerator.load(one_style)
    metadata = {p.key: p.value for p in onnx.load(str(one_style)).metadata_props}
    raw = one_style.read_bytes()
    drawn_sharp = sharp.raw_levels(sharp.sample_latents(300, 10**6))
    fitted = temperatures.fit_prior_temperature(raw, metadata, drawn_sharp, seed=0)
    assert fitted["walk_temperature"] == "0.6" and set(json.loads(fitted["walk_temperature_fit"])) == {"0.6", "1.0"}
    drawn_plain = plain.raw_levels(plain.sample_latents(300, 10**6))
    assert temperatures.fit_prior_temperature(raw, metadata, drawn_plain, seed=0)["walk_temperature"] == "1.0"
    assert temperatures.fit_prior_temperature(raw, metadata, drawn_plain[:100], seed=0) == {}  # too few to tell
