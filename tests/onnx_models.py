"""Real ONNX decoders for the runtime's tests, built with ``onnx.helper`` (no torch, no network).

The good decoder is a linear "PCA decoder" of backtracker mazes: ``p_open = sigmoid(k * (z @ W + mean - 1/2))``
where the rows of ``W`` are the top principal components of real mazes, so its outputs look like blurred mazes
(not random noise) and repair has real work to do. Variants break one part of the contract each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from daedalus.maze import LATTICE_RULE, backtracker_batch, default_exit, default_start


def pca_weights(latent_dim: int, height: int, width: int, seed: int = 0, sharpness: float = 6.0):
    """Weights ``(latent_dim, H*W)`` and bias ``(H*W,)`` of a linear decoder fitted to backtracker mazes."""
    mazes = backtracker_batch(400, height, width, seed).reshape(400, -1).astype(np.float64)
    mean = mazes.mean(axis=0)
    _, s, vt = np.linalg.svd(mazes - mean, full_matrices=False)
    weights = vt[:latent_dim] * (s[:latent_dim] / np.sqrt(len(mazes)))[:, None]
    return (sharpness * weights).astype(np.float32), (sharpness * (mean - 0.5)).astype(np.float32)


def metadata(latent_dim: int = 8, height: int = 28, width: int = 28, **overrides) -> dict[str, str]:
    """Full Daedalus metadata_props for a decoder (docs/formats.md); ``overrides`` replace or (value None) drop."""
    meta = {
        "daedalus_format": "1",
        "latent_dim": str(latent_dim),
        "height": str(height),
        "width": str(width),
        "lattice_rule": LATTICE_RULE,
        "start": json.dumps(list(default_start((height, width)))),
        "exit": json.dumps(list(default_exit((height, width)))),
        "threshold": "0.5",
        "model_name": "pca-test",
        "model_kind": "ae",
        "schedule": json.dumps({"kind": "none"}),
        "training_seed": "0",
        "training_data": json.dumps({"kind": "mazes", "count": 400, "height": height, "width": width, "seed": 0,
                                     "fresh": False}),
        "quality": json.dumps({}),
        "daedalus_version": "test",
    }
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return meta


def decoder(
    path: str | Path,
    latent_dim: int = 8,
    height: int = 28,
    width: int = 28,
    *,
    seed: int = 0,
    opset: int = 15,
    out_rows: int | None = None,
    symbolic_output: bool = False,
    nan: bool = False,
    external: bool = False,
    input_name: str = "z",
    output_name: str = "p_open",
    meta: dict | None = None,
) -> Path:
    """Write a Gemm + Sigmoid + Reshape decoder to ``path`` and return the path.

    Args:
        out_rows: make the graph really output ``out_rows`` rows instead of ``height`` (a wrong shape).
        symbolic_output: declare the output's dims as symbols (so only running it reveals a wrong shape).
        nan: one bias is NaN, so every output holds NaN.
        external: store the weights as external data next to the file.
        meta: metadata_props to write (default: ``metadata(latent_dim, height, width)``).
    """
    path = Path(path)
    rows = height if out_rows is None else out_rows
    weights, bias = pca_weights(latent_dim, height, width, seed)
    if rows != height:
        weights, bias = weights[:, : rows * width], bias[: rows * width]
    if nan:
        bias = bias.copy()
        bias[3] = np.nan
    nodes = [
        helper.make_node("Gemm", [input_name, "W", "B"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape"], [output_name]),
    ]
    initializers = [
        numpy_helper.from_array(weights, "W"),
        numpy_helper.from_array(bias, "B"),
        numpy_helper.from_array(np.array([-1, rows, width], dtype=np.int64), "shape"),
    ]
    out_dims = ["batch", "h", "w"] if symbolic_output else ["batch", rows, width]
    graph = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", latent_dim])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_dims)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="daedalus-tests")
    model.ir_version = 8
    helper.set_model_props(model, metadata(latent_dim, height, width) if meta is None else meta)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path


def foreign(path: str | Path) -> Path:
    """A valid ONNX model that is no Daedalus decoder: ``y = x + 1``, no metadata."""
    path = Path(path)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "adder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [numpy_helper.from_array(np.ones(3, dtype=np.float32), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save_model(model, str(path))
    return path



def with_metadata(source, target, **changes):
    """A copy of the ONNX file ``source`` at ``target`` with metadata ``changes`` set (a value of None removes the
    key); returns ``target``."""
    proto = onnx.load(str(source))
    entries = {entry.key: entry.value for entry in proto.metadata_props}
    entries.update(changes)
    del proto.metadata_props[:]
    for key, value in entries.items():
        if value is not None:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(proto, str(target))
    return target
