"""ONNX export: the contract of docs/formats.md, checked against torch, refused cleanly when it cannot hold."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx.reference import ReferenceEvaluator

from daedalus.cli import main
from daedalus.export import export_decoder
from daedalus.maze import LATTICE_RULE
from daedalus.trainer import load_model
from daedalus.trainer.config import resolve_config
from daedalus.trainer.train import train

KEYS = ("daedalus_format", "latent_dim", "height", "width", "lattice_rule", "start", "exit", "threshold",
        "model_name", "model_kind", "schedule", "training_seed", "training_data", "latent_prior", "quality",
        "daedalus_version")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, options in {
        "link-vae": {"model": "link-vae", "latent": 6, "hidden": "32,32", "size": "12x16", "fresh": True},
        "seed-ae": {"model": "seed-ae"},
    }.items():
        config = resolve_config({"count": 64, "holdout": 16, "batch_size": 16, "epochs": 2, "eval_samples": 16,
                                 "figures": False, "seed": 3, **options})
        train(config, root / name, progress=False)
        out[name] = root / name
    return out


def metadata(path):
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.mark.parametrize("name", ["link-vae", "seed-ae"])
def test_export_writes_the_contract(runs, tmp_path, name):
    path = tmp_path / "decoder.onnx"
    export_decoder(runs[name], path, quality_samples=64)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [15]
    assert [i.name for i in proto.graph.input] == ["z"] and [o.name for o in proto.graph.output] == ["p_open"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value, "batch must be dynamic"
    out = proto.graph.output[0].type.tensor_type.shape.dim
    trained = load_model(runs[name])[0]
    assert out[0].dim_param and [d.dim_value for d in out[1:]] == [trained.height, trained.width], \
        "H and W must be static"
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)

    meta = metadata(path)
    assert set(KEYS) <= set(meta)
    model, config = load_model(runs[name])
    height, width = model.height, model.width
    assert meta["daedalus_format"] == "1" and meta["lattice_rule"] == LATTICE_RULE
    assert (int(meta["latent_dim"]), int(meta["height"]), int(meta["width"])) == (model.latent_dim, height, width)
    assert json.loads(meta["start"]) == [0, 0] and json.loads(meta["exit"]) == [height - 2, width - 2]
    assert float(meta["threshold"]) == 0.5 and meta["model_name"] == name
    assert meta["model_kind"] == config["model"]["kind"] and int(meta["training_seed"]) == 3
    assert json.loads(meta["schedule"]) == config["schedule"]
    data = json.loads(meta["training_data"])
    assert data["kind"] == "mazes" and (data["count"], data["height"], data["width"]) == (64, height, width)
    quality = json.loads(meta["quality"])
    for key in ("perfect", "loops", "pieces", "dead_ends", "solution_length", "border_corridor", "distinct"):
        assert key in quality
    assert quality["samples"] == 64 and quality["mode"] == "perfect"

    # onnxruntime and the reference evaluator agree with torch, at any batch size.
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(proto)
    for batch in (1, 5, 37):
        z = np.random.default_rng(batch).standard_normal((batch, model.latent_dim)).astype(np.float32)
        expected = model.decode(torch.from_numpy(z)).detach().numpy()
        got = session.run(["p_open"], {"z": z})[0]
        assert got.shape == (batch, height, width) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_allclose(reference.run(None, {"z": z})[0], expected, atol=1e-5)


def test_latent_prior_of_a_vae_is_normal_and_of_an_ae_is_fitted(runs, tmp_path):
    export_decoder(runs["link-vae"], tmp_path / "vae.onnx", quality_samples=16)
    assert json.loads(metadata(tmp_path / "vae.onnx")["latent_prior"]) == {"kind": "normal"}
    export_decoder(runs["seed-ae"], tmp_path / "ae.onnx", quality_samples=16)
    prior = json.loads(metadata(tmp_path / "ae.onnx")["latent_prior"])
    assert prior["kind"] == "gaussian" and len(prior["mean"]) == 2
    tril = np.array(prior["scale_tril"])
    assert tril.shape == (2, 2) and tril[0, 1] == 0 and (np.diag(tril) > 0).all()


def test_link_decoder_graph_is_small_and_engine_friendly(runs, tmp_path):
    export_decoder(runs["link-vae"], tmp_path / "d.onnx", quality_samples=16)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "d.onnx")).graph.node}
    assert ops <= {"Gemm", "Relu", "Sigmoid", "Gather", "Mul", "Add", "Reshape", "Constant"}, ops


def test_other_opset_is_written_when_asked(runs, tmp_path):
    assert main(["export", str(runs["link-vae"]), "--out", str(tmp_path / "d13.onnx"), "--opset", "13",
                 "--quality-samples", "16"]) == 0
    assert onnx.load(str(tmp_path / "d13.onnx")).opset_import[0].version == 13


def test_not_a_decoder_is_refused_with_one_line(runs, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    config = json.loads((runs["seed-ae"] / "config.json").read_text())
    config["model"] = {"name": "classifier", "kind": "resnet"}
    (bad / "config.json").write_text(json.dumps(config))
    assert main(["export", str(bad), "--out", str(tmp_path / "d.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not describe a decoder" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d.onnx").exists()


@pytest.mark.parametrize("argv, message", [
    (["RUN", "--out", "OUT/d.txt"], "must end in .onnx"),
    (["RUN", "--out", "OUT/missing/d.onnx"], "does not exist"),
    (["RUN", "--out", "OUT/d.onnx", "--opset", "3"], "opset must be an integer from 7 to 21, got 3"),
    (["/nonexistent/run", "--out", "OUT/d.onnx"], "run folder '/nonexistent/run' does not exist"),
    # Checked before the export runs (the run is good; only a probe file can tell /proc refuses writes).
    (["RUN", "--out", "/proc/d.onnx"], "--out '/proc/d.onnx': folder '/proc' is not writable"),
    (["/nonexistent/run", "--out", "/proc/d.onnx"], "--out '/proc/d.onnx': folder '/proc' is not writable"),
    (["RUN", "--out", "OUT/d.onnx", "--size", "20x24"], "one output per position of its 28x28 levels; only a raster "
     "decoder with a shared cell decoder (train --cell-decoder shared) draws other sizes"),
    (["RUN", "--out", "OUT/d.onnx", "--size", "7"], "--size 7: maze height must be an even integer >= 4, got 7"),
])
def test_bad_export_arguments(runs, tmp_path, capsys, argv, message):
    argv = [a.replace("RUN", str(runs["seed-ae"])).replace("OUT", str(tmp_path)) for a in argv]
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.onnx"))


def test_a_digits_run_is_not_exported_as_a_maze_decoder(tmp_path, capsys):
    config = resolve_config({"model": "seed-vae", "data": "digits", "holdout": 16, "batch_size": 64, "epochs": 1,
                             "eval_samples": 16, "figures": False, "seed": 0})
    train(config, tmp_path / "digits", progress=False)
    assert main(["export", str(tmp_path / "digits"), "--out", str(tmp_path / "d.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "trained on 'digits', not mazes" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d.onnx").exists()


def test_compact_constants_halves_tables_that_are_float16_and_keeps_every_value():
    from onnx import TensorProto, helper, numpy_helper

    from daedalus.export.onnx_export import compact_constants

    rng = np.random.default_rng(0)
    exact = rng.normal(size=(300, 256)).astype(np.float16).astype(np.float32)  # every value a float16
    inexact = rng.normal(size=(300, 256)).astype(np.float32)  # most values are not
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["node"], value=numpy_helper.from_array(exact[::-1].copy())),
         helper.make_node("Add", ["z", "exact"], ["a"]), helper.make_node("Add", ["z", "inexact"], ["b"]),
         helper.make_node("Add", ["z", "node"], ["c"])], "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [300, 256])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [300, 256]) for n in ("a", "b", "c")],
        [numpy_helper.from_array(exact, "exact"), numpy_helper.from_array(inexact, "inexact")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    before = proto.SerializeToString()
    assert compact_constants(proto) == exact.nbytes  # two tables of float16 values, half of each saved
    onnx.checker.check_model(proto, full_check=True)
    kinds = {i.name: i.data_type for i in proto.graph.initializer}
    assert kinds == {"exact_float16": TensorProto.FLOAT16, "inexact": TensorProto.FLOAT}
    constant = next(n for n in proto.graph.node if n.op_type == "Constant")
    assert constant.attribute[0].t.data_type == TensorProto.FLOAT16
    assert len(proto.SerializeToString()) < len(before) - exact.nbytes * 0.9
    z = rng.normal(size=(300, 256)).astype(np.float32)
    ours = ort.InferenceSession(proto.SerializeToString()).run(None, {"z": z})
    theirs = ort.InferenceSession(before).run(None, {"z": z})
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
