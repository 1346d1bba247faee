"""Fixtures shared by the test modules: one real ONNX maze decoder (built in tests/onnx_models.py) and a generator
on it, made once per test session."""

import pytest

import onnx_models


@pytest.fixture(scope="session")
def decoder_path(tmp_path_factory):
    """A real ONNX maze decoder (Gemm + Sigmoid + Reshape fitted to backtracker mazes) with full metadata."""
    return onnx_models.decoder(tmp_path_factory.mktemp("models") / "decoder.onnx")


@pytest.fixture(scope="session")
def generator(decoder_path):
    from daedalus.runtime import MazeGenerator

    return MazeGenerator.load(decoder_path, device="cpu")
