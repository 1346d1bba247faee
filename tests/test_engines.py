"""Game engines load the decoders: every operator of the exported graphs is on Unity Sentis's list of supported ONNX
operators (docs/sentis-operators.txt, with its source), the opset is in Sentis's range (7 to 15), and there is no
control flow (Loop, If, Scan: the walks run outside the graph, docs/formats.md)."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from daedalus.runtime.session import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
SENTIS = ROOT / "docs" / "sentis-operators.txt"
CONTROL_FLOW = {"Loop", "If", "Scan", "SequenceMap"}


def sentis_operators() -> set[str]:
    lines = SENTIS.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def operators(model: onnx.ModelProto) -> set[str]:
    """Every op type in the graph, subgraphs included (a subgraph would be control flow)."""
    found = set()

    def visit(graph):
        for node in graph.node:
            found.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}")
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    visit(attribute.g)
                for sub in attribute.graphs:
                    visit(sub)

    visit(model.graph)
    return found


def check_for_sentis(path: Path) -> set[str]:
    model = onnx.load(str(path))
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    assert set(opsets) <= {"ai.onnx"}, f"{path.name}: custom operator domains {sorted(opsets)}"
    assert 7 <= opsets["ai.onnx"] <= 15, f"{path.name}: opset {opsets['ai.onnx']}, Sentis imports 7 to 15"
    used = operators(model)
    assert not used & CONTROL_FLOW, f"{path.name}: control flow {sorted(used & CONTROL_FLOW)}"
    missing = used - sentis_operators()
    assert not missing, f"{path.name}: operators Sentis does not import: {sorted(missing)}"
    return used


def test_the_list_names_its_source_and_leaves_out_control_flow():
    text = SENTIS.read_text(encoding="utf-8")
    assert "Source: Unity Sentis manual" in text and "supported-operators" in text
    names = sentis_operators()
    assert len(names) > 100 and not names & CONTROL_FLOW
    assert {"Gemm", "Erf", "Relu", "Reshape", "Slice"} <= names


def test_the_shipped_decoder_runs_on_sentis():
    used = check_for_sentis(DEFAULT_MODEL)
    # Erf is how the graph turns noise into uniforms: the reason Barracuda (which lacks Erf) cannot load it.
    assert "Erf" in used


def test_the_carve_decoder_of_2026_11_runs_on_sentis():
    check_for_sentis(ROOT / "tests" / "data" / "carve-2026-11.onnx")


def test_a_fresh_raster_export_runs_on_sentis(tmp_path):
    pytest.importorskip("torch")
    from daedalus.export.onnx_export import export_decoder
    from daedalus.maze import generators
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.train import train

    corpus = tmp_path / "wilson.npz"
    np.savez(corpus, grids=generators.generate_batch("wilson", 64, 8, 8, np.random.default_rng(0)))
    config = resolve_config({"data": str(corpus), "epochs": 1, "hidden": "16", "latent": 2, "eval_samples": 0,
                             "figures": False, "batch_size": 32})
    train(config, tmp_path / "run", progress=False)
    export_decoder(tmp_path / "run", tmp_path / "raster.onnx", quality_samples=8)
    check_for_sentis(tmp_path / "raster.onnx")
