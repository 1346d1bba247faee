"""The raster walk's order (``walk_order``, docs/formats.md "Raster decoders" step 7): the trainer reads every level
under it and the runtime turns the walk's levels back; ``auto`` chooses it from the data alone (a corpus drawn from
the top down is walked from the bottom up, a corpus with no direction keeps rows from the top); a decoder with an
order says format 3; bad orders are refused with their value."""

import json

import numpy as np
import pytest
import torch

from daedalus.errors import ModelError, UsageError
from daedalus.maze.generators import generate_batch
from daedalus.maze.raster_walk import raster_events, raster_walk
from daedalus.maze.stats import is_perfect
from daedalus.maze.symmetry import CORNER_KEEPING, INVERSES, TRANSFORMS, transform
from daedalus.runtime import MazeGenerator
from daedalus.trainer.config import resolve_config
from daedalus.trainer.models import build_model, fit_to_data, model_config
from daedalus.trainer.walk_order import candidates, choose_walk_order, order_nats
from onnx_models import with_metadata
from test_window import TINY


def levels(generator: str, count: int, seed: int, size: int = 28) -> np.ndarray:
    return generate_batch(generator, count, size, size, np.random.default_rng(seed))


def test_every_order_has_an_inverse_and_the_corner_keeping_ones_keep_start_and_exit():
    grids = levels("kruskal", 4, 0, 12)
    for name in TRANSFORMS:
        assert np.array_equal(transform(transform(grids, name), INVERSES[name]), grids), name
        marks = np.zeros((1, 12, 12), dtype=np.uint8)
        marks[0, 0, 0], marks[0, 10, 10] = 1, 2
        moved = transform(marks, name)[0]
        keeps = {int(moved[0, 0]), int(moved[10, 10])} == {1, 2}
        assert keeps == (name in CORNER_KEEPING), name


def test_auto_walks_a_top_down_corpus_from_the_bottom_and_keeps_rows_for_one_without_a_direction():
    # Hunt-and-kill hunts from the top row down; its levels are more predictable walked from the bottom up.
    hunt = levels("hunt-and-kill", 1500, 1), levels("hunt-and-kill", 300, 2)
    order, nats = choose_walk_order(*hunt)
    assert order in ("rot180", "flip_rows") and set(nats) == set(TRANSFORMS)
    assert nats[order] < nats["identity"] - 2.0
    # The same corpus handed over turned a quarter gets the order that walks it the same way (rot90 after rot90 is
    # the rot180 it chose for the corpus as it was): the choice follows the style, not a fixed direction.
    turned, turned_nats = choose_walk_order(*(transform(grids, "rot90") for grids in hunt))
    assert turned == "rot90" and turned_nats["rot90"] < turned_nats["identity"] - 2.0
    # Kruskal has no direction (every order within the noise), Eller's algorithm is itself a row-by-row walk from
    # the top, and the braided backtracker's best order wins by less than MIN_GAIN: all keep the identity.
    for generator, braid in (("kruskal", 0), ("eller", 0), ("backtracker", 0.5)):
        train = generate_batch(generator, 1500, 28, 28, np.random.default_rng(1), braid)
        held = generate_batch(generator, 300, 28, 28, np.random.default_rng(2), braid)
        order, nats = choose_walk_order(train, held)
        assert order == "identity", (generator, nats)


def test_a_symmetric_corpus_keeps_the_identity_without_a_count():
    # Prim's levels look the same under all eight transforms: every order walks them as rows from the top do, so
    # none is a candidate, however the count model's noise would rank them.
    assert choose_walk_order(levels("prim", 400, 1), levels("prim", 100, 2)) == ("identity", {})


def test_the_orders_nats_are_the_count_model_s_and_too_few_held_out_levels_keep_the_identity():
    train, held = levels("sidewinder", 300, 1, 12), levels("sidewinder", 40, 2, 12)
    nats = order_nats(train, held, "flip_rows")
    assert nats.shape == (40,) and (nats > 0).all()
    # A held-out level that is also a training level costs less than an unseen one, on average.
    assert order_nats(train, train[:40], "flip_rows").mean() < nats.mean()
    assert choose_walk_order(train, held[:1]) == ("identity", {})
    assert candidates(12, 16, False) == ("identity", "rot180", "flip_cols", "flip_rows")
    assert set(candidates(12, 12, True)) == set(CORNER_KEEPING)
    # A decoder that draws any size (a shared cell decoder) keeps rows rows, so every shape stays drawable.
    assert candidates(12, 12, False, any_size=True) == candidates(12, 16, False)


def test_a_raster_model_reads_levels_under_its_order_and_draws_them_turned_back():
    grids = levels("sidewinder", 6, 0, 12)
    config = model_config("raster", 12, 12, latent_dim=4, hidden=[16], window_hidden=[8], walk_order="rot90")
    model = build_model(config)
    contexts, allowed, options = raster_events(transform(grids, "rot90"), groups=model.context_groups)
    target = model.target(torch.from_numpy(grids)).numpy()
    assert np.array_equal(target[..., model.context_groups], options)
    identity = build_model({**config, "walk_order": "identity"})
    identity.load_state_dict(model.state_dict())
    code = np.random.default_rng(1).standard_normal((5, 4))
    drawn = model.sample_grids(code, np.random.default_rng(2))
    plain = identity.sample_grids(code, np.random.default_rng(2))
    assert np.array_equal(drawn, transform(plain, "rot270")) and is_perfect(drawn).all()
    assert model.export_metadata()["walk_order"] == "rot90" and "walk_order" not in identity.export_metadata()


def test_bad_orders_are_refused_with_their_value():
    with pytest.raises(UsageError, match="walk_order must be auto or one of .*got 'sideways'"):
        resolve_config({"walk_order": "sideways"})
    with pytest.raises(UsageError, match="walk_order 'transpose' swaps rows and columns and needs square levels, "
                                         "got 12x16"):
        build_model(model_config("raster", 12, 16, walk_order="transpose"))
    with pytest.raises(UsageError, match="walk_order 'flip_rows' moves the start or the exit corner"):
        build_model({**model_config("raster", 12, 12, walk_order="flip_rows"), "closed_cells": True})
    with pytest.raises(UsageError, match="option walk_order does not apply to model 'carve'"):
        resolve_config({"model": "carve", "walk_order": "rot180"})


def test_auto_is_the_default_for_raster_decoders_only():
    assert resolve_config({})["model"]["walk_order"] == "auto"
    assert "walk_order" not in resolve_config({"model": "carve"})["model"]
    auto = resolve_config({})
    assert [m["name"] for m in (auto["model"], *auto["alternatives"])] == ["raster", "carve"]
    assert "walk_order" not in auto["alternatives"][0]
    # Fitting to the data chooses (and records what it compared); a named order stays as given.
    hunt = levels("hunt-and-kill", 600, 1), levels("hunt-and-kill", 200, 2)
    fitted = fit_to_data(model_config("raster", 28, 28, walk_order="auto"), *hunt)
    assert fitted["walk_order"] in ("rot180", "flip_rows")
    assert {"identity", fitted["walk_order"]} <= set(fitted["walk_order_nats"]) <= set(TRANSFORMS)
    assert build_model(fitted).walk_order == fitted["walk_order"]
    assert fit_to_data(model_config("raster", 28, 28, walk_order="flip_cols"), *hunt)["walk_order"] == "flip_cols"


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    from daedalus.cli import main

    tmp = tmp_path_factory.mktemp("order")
    assert main(["dataset", "--generator", "kruskal", "--count", "120", "--size", "12x16", "--seed", "3",
                 "--out", str(tmp / "kruskal.npz")]) == 0
    assert main(["train", "--data", str(tmp / "kruskal.npz"), *TINY, "--model", "raster", "--walk-order",
                 "identity", "--out", str(tmp / "run")]) == 0
    assert main(["export", str(tmp / "run"), "--out", str(tmp / "plain.onnx"), "--quality-samples", "8"]) == 0
    return tmp


def test_the_runtime_turns_the_walk_s_levels_back_by_the_metadata(identity_model):
    plain = MazeGenerator.load(identity_model / "plain.onnx", device="cpu")
    assert plain.metadata["daedalus_format"] in ("1", "2") and "walk_order" not in plain.metadata
    flipped = MazeGenerator.load(with_metadata(identity_model / "plain.onnx", identity_model / "flipped.onnx",
                                               walk_order="flip_rows", daedalus_format="3"), device="cpu")
    for mode in ("perfect", "braid"):
        a = np.stack([level.grid for level in plain.generate(12, seed=4, mode=mode)])
        b = np.stack([level.grid for level in flipped.generate(12, seed=4, mode=mode)])
        assert np.array_equal(b, transform(a, "flip_rows")), mode
        assert not np.array_equal(a, b)
    bad = with_metadata(identity_model / "plain.onnx", identity_model / "bad.onnx", walk_order="diagonal",
                        daedalus_format="3")
    with pytest.raises(ModelError, match="metadata walk_order must be one of .*got 'diagonal'"):
        MazeGenerator.load(bad, device="cpu")
    square_only = with_metadata(identity_model / "plain.onnx", identity_model / "square.onnx",
                                walk_order="transpose", daedalus_format="3")
    with pytest.raises(ModelError,
                       match="walk_order 'transpose' swaps rows and columns and needs square levels, got 12x16"):
        MazeGenerator.load(square_only, device="cpu")


def test_a_decoder_trained_with_an_order_exports_format_3_and_draws_torch_s_levels(identity_model):
    from daedalus.cli import main
    from daedalus.trainer.checkpoint import load_model

    tmp = identity_model
    assert main(["train", "--data", str(tmp / "kruskal.npz"), *TINY, "--model", "raster", "--walk-order",
                 "rot180", "--out", str(tmp / "rot180")]) == 0
    assert main(["export", str(tmp / "rot180"), "--out", str(tmp / "rot180.onnx"), "--quality-samples", "8"]) == 0
    config = json.loads((tmp / "rot180" / "config.json").read_text())
    assert config["model"]["walk_order"] == "rot180"
    generator = MazeGenerator.load(tmp / "rot180.onnx", device="cpu")
    assert generator.metadata["walk_order"] == "rot180" and generator.metadata["daedalus_format"] == "3"
    model, _ = load_model(tmp / "rot180")
    model.eval()
    z = generator.sample_latents(6, 9)
    with torch.no_grad():  # torch's walk, as the trainer draws (turned back), from the very z the runtime walks
        code, noise = torch.from_numpy(z[:, :model.latent_dim]), torch.from_numpy(z[:, model.latent_dim:])
        cell, mix, *window = (t.numpy() for t in model.tables(code))
        uniforms = (0.5 * (1.0 + torch.erf(noise * 0.7071067811865476))).numpy()
        drawn = model.turned_back(raster_walk(cell, mix, model.context_basis().numpy(), uniforms,
                                              window=model.window(*window) if window else None))
    runtime = np.stack([level.grid for level in generator.from_latents(z, mode="perfect")])
    assert np.array_equal(runtime, drawn) and is_perfect(runtime).all()
