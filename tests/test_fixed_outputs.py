"""Outputs that do not depend on the latents (a raster decoder's context_basis) are read once at load and dropped
from the session's graph: the levels stay the same, and an output that does vary is never kept."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from daedalus.runtime import MazeGenerator  # noqa: E402
from daedalus.runtime.onnxfile import without_outputs  # noqa: E402
from daedalus.runtime.session import DEFAULT_MODEL  # noqa: E402


def test_without_outputs_drops_the_output_and_only_the_nodes_it_needed():
    data = DEFAULT_MODEL.read_bytes()
    full, stripped = onnx.load_from_string(data), onnx.load_from_string(without_outputs(data, {"context_basis"}))
    onnx.checker.check_model(stripped)
    assert [o.name for o in stripped.graph.output] == ["cell_logits", "context_mix", "uniforms", "window_bias",
                                                       "window_weights"]
    assert len(stripped.graph.node) < len(full.graph.node)
    assert {p.key: p.value for p in stripped.metadata_props} == {p.key: p.value for p in full.metadata_props}
    kept = {n.output[0] for n in stripped.graph.node}
    assert {"cell_logits", "context_mix", "uniforms"} <= kept and "context_basis" not in kept


def test_the_default_decoder_keeps_its_basis_and_walks_the_same_levels():
    import onnxruntime as ort

    generator = MazeGenerator.load()
    # context_basis and the window network's weights are fixed; the window's bias comes from the code.
    assert generator._requested == ["cell_logits", "context_mix", "uniforms", "window_bias"]
    z = generator.sample_latents(64, 5)
    session = ort.InferenceSession(str(DEFAULT_MODEL), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"z": z})
    for mode in ("perfect", "braid"):
        expected = generator._decoding.raw(outputs, mode)
        np.testing.assert_array_equal(generator.raw_levels(z, mode), expected)


def test_an_unbatched_output_that_varies_with_the_latents_is_asked_for_every_time(tmp_path):
    """A graph whose context_basis moves with z (here: plus the first latent) must not be cached."""
    from onnx import helper

    model = onnx.load(str(DEFAULT_MODEL))
    graph = model.graph
    basis_node = next(n for n in graph.node if n.output[0] == "context_basis")
    basis_node.output[0] = "basis_fixed"
    graph.node.extend([
        helper.make_node("Slice", ["z", "zero", "one", "zero"], ["z0"]),
        helper.make_node("ReduceSum", ["z0"], ["shift"], keepdims=0),
        helper.make_node("Add", ["basis_fixed", "shift"], ["context_basis"]),
    ])
    graph.initializer.extend([onnx.numpy_helper.from_array(np.array([0], np.int64), "zero"),
                              onnx.numpy_helper.from_array(np.array([1], np.int64), "one")])
    path = tmp_path / "moving.onnx"
    onnx.save(model, str(path))
    generator = MazeGenerator.load(path)
    assert "context_basis" in generator._requested and list(generator._fixed) == [5]  # window_weights only
    z = generator.sample_latents(8, 1)
    assert generator.raw_levels(z).shape == (8, 28, 28)
