"""Fault injection: real ONNX decoders (built with onnx.helper) that give NaN, inf, huge or out-of-range values,
wrong shapes, the same output for every latent, or faults only for some latents. Every path (``generate``,
``from_latents``, ``daedalus generate``, ``daedalus eval``, the game's level source) refuses with one clear line or
falls back with a visible note; none hands out degenerate levels silently."""

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_models
from daedalus.cli import main
from daedalus.errors import ModelError
from daedalus.game_demo.levels import LevelSource
from daedalus.runtime import MazeGenerator

D, H, W = 8, 28, 28
# z[:, 0] beyond this triggers the input-dependent faults: about 7 % of prior latents, none of the load probes.
TRIGGER = 1.5


def faulty(path: Path, fault: str) -> Path:
    """A Gemm + Sigmoid + Reshape decoder (``onnx_models.decoder``'s weights) with one fault.

    Faults everywhere: ``nan``, ``inf`` (no sigmoid and an infinite bias), ``huge`` (p_open up to 7), ``negative``
    (p_open - 0.5), ``constant`` (weights 0: every latent the same output). Faults for some latents only
    (``z[:, 0] > TRIGGER``): ``some-nan``, ``some-inf``, ``some-huge``.
    """
    weights, bias = onnx_models.pca_weights(D, H, W)
    if fault == "constant":
        weights = np.zeros_like(weights)
    if fault in ("nan", "inf"):
        bias = bias.copy()
        bias[3] = np.nan if fault == "nan" else np.inf
    inits = [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B"),
             numpy_helper.from_array(np.array([-1, H, W], dtype=np.int64), "shape")]
    nodes = [helper.make_node("Gemm", ["z", "W", "B"], ["logits"])]
    nodes.append(helper.make_node("Identity" if fault == "inf" else "Sigmoid", ["logits"], ["p"]))
    last = "p"
    if fault in ("huge", "negative"):
        value, op = (7.0, "Mul") if fault == "huge" else (-0.5, "Add")
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), "k"))
        nodes.append(helper.make_node(op, ["p", "k"], ["faulted"]))
        last = "faulted"
    elif fault.startswith("some-"):
        bad, good, op = {"some-nan": (np.nan, 0.0, "Add"), "some-inf": (np.inf, 0.0, "Add"),
                         "some-huge": (1e30, 1.0, "Mul")}[fault]
        inits += [numpy_helper.from_array(np.array(v, dtype=dt), n) for v, dt, n in [
            ([0], np.int64, "s0"), ([1], np.int64, "s1"), ([1], np.int64, "ax"), (TRIGGER, np.float32, "t"),
            (bad, np.float32, "bad"), (good, np.float32, "good")]]
        nodes += [helper.make_node("Slice", ["z", "s0", "s1", "ax"], ["z0"]),
                  helper.make_node("Greater", ["z0", "t"], ["hit"]),
                  helper.make_node("Where", ["hit", "bad", "good"], ["term"]),
                  helper.make_node(op, ["p", "term"], ["faulted"])]
        last = "faulted"
    nodes.append(helper.make_node("Reshape", [last, "shape"], ["p_open"]))
    graph = helper.make_graph(nodes, "faulty", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", D])],
                              [helper.make_tensor_value_info("p_open", TensorProto.FLOAT, ["batch", H, W])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    helper.set_model_props(model, onnx_models.metadata(D, H, W))


    onnx.save_model(model, str(path))
    return path


EVERYWHERE = {
    "nan": r"non-finite p_open \(NaN or inf\) in 2 of 2 rows",
    "inf": r"non-finite p_open \(NaN or inf\) in 2 of 2 rows",
    "huge": r"p_open outside \[0, 1\] \(from 0\.\d+ to 6\.\d+\) in 2 of 2 rows",
    "negative": r"p_open outside \[0, 1\] \(from -0\.\d+ to 0\.\d+\) in 2 of 2 rows",
    "constant": r"the same outputs for different latents",
    "wrong-shape": r"p_open .*26, 28.*expected .*28, 28",
}
SOME = {
    "some-nan": r"non-finite p_open \(NaN or inf\) in \d+ of \d+ rows",
    "some-inf": r"non-finite p_open \(NaN or inf\) in \d+ of \d+ rows",
    "some-huge": r"p_open outside \[0, 1\] \(from \S+ to \S+e\+(29|30)\) in \d+ of \d+ rows",
}


def model(tmp_path, fault) -> Path:
    path = tmp_path / f"{fault}.onnx"
    if fault == "wrong-shape":
        return onnx_models.decoder(path, out_rows=26, symbolic_output=True)
    return faulty(path, fault)


def one_line_error(capsys, pattern):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err


@pytest.mark.parametrize("fault", sorted(EVERYWHERE))
def test_a_decoder_broken_for_every_latent_is_refused_on_load_by_every_path(tmp_path, capsys, fault):
    path = model(tmp_path, fault)
    with pytest.raises(ModelError, match=EVERYWHERE[fault]):
        MazeGenerator.load(path, device="cpu")
    out = tmp_path / "levels"
    assert main(["generate", "--count", "5", "--seed", "1", "--model", str(path), "--format", "json",
                 "--out", str(out)]) == 2
    one_line_error(capsys, EVERYWHERE[fault])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written, nothing staged
    assert main(["eval", "--model", str(path), "--samples", "32", "--no-plot"]) == 2
    one_line_error(capsys, EVERYWHERE[fault])
    source = LevelSource(model=path)
    level = source.level(7)
    assert level.source == "backtracker" and source.message and "backtracker" in source.message
    assert re.search(EVERYWHERE[fault], source.message)


def seeds_by_fault(generator, count=40):
    """Level codes whose single latent triggers the fault, and codes whose latent does not."""
    firsts = np.array([generator.sample_latents(1, seed)[0, 0] for seed in range(count)])
    return np.flatnonzero(firsts > TRIGGER).tolist(), np.flatnonzero(firsts <= TRIGGER).tolist()


@pytest.mark.parametrize("fault", sorted(SOME))
def test_a_decoder_broken_for_some_latents_refuses_those_and_nothing_else(tmp_path, capsys, fault):
    path = model(tmp_path, fault)
    generator = MazeGenerator.load(path, device="cpu")  # the load probes do not trigger it
    bad, good = seeds_by_fault(generator)
    assert bad and good
    with pytest.raises(ModelError, match=SOME[fault]):
        generator.generate(64, seed=0)
    z = generator.sample_latents(2, 0)
    z[0, 0], z[1, 0] = TRIGGER + 1, TRIGGER - 1
    with pytest.raises(ModelError, match=SOME[fault].replace(r"\d+ of \d+", "1 of 2")):
        generator.from_latents(z)
    assert generator.from_latents(z[1]).grid.shape == (H, W)  # a good latent still gives its level
    out = tmp_path / "levels"
    assert main(["generate", "--count", "64", "--seed", "0", "--model", str(path), "--format", "png",
                 "--out", str(out)]) == 2
    one_line_error(capsys, SOME[fault])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert main(["eval", "--model", str(path), "--samples", "64", "--no-plot"]) == 2
    one_line_error(capsys, SOME[fault])
    source = LevelSource(model=path)
    assert source.level(good[0]).source == "model" and source.message is None
    level = source.level(bad[0])  # the game goes on with a visible note
    assert level.source == "backtracker" and f"level code {bad[0]}" in source.message
    assert re.search(SOME[fault], source.message)


def test_a_decoder_at_the_edges_of_the_contract_is_accepted(tmp_path):
    """p_open of exactly 0 and 1 (a saturated sigmoid) is a valid decoder, not a fault."""
    path = tmp_path / "sharp.onnx"
    onnx_models.decoder(path)
    generator = MazeGenerator.load(path, device="cpu")
    z = np.zeros((3, D), dtype=np.float32)
    z[0, 0], z[1, 0], z[2, 1] = 40.0, -40.0, 40.0  # far outside the prior: every sigmoid saturates
    p = generator.probabilities(z)
    assert p.min() == 0.0 and p.max() == 1.0
    assert len({level.grid.tobytes() for level in generator.from_latents(z)}) == 3
