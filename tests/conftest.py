import sys
from pathlib import Path

import pytest

# The ONNX test-model builders live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def decoder_path(tmp_path_factory):
    """A real ONNX maze decoder (Gemm + Sigmoid + Reshape fitted to backtracker mazes) with full metadata."""
    import onnx_models

    return onnx_models.decoder(tmp_path_factory.mktemp("models") / "decoder.onnx")


@pytest.fixture(scope="session")
def generator(decoder_path):
    from daedalus.runtime import MazeGenerator

    return MazeGenerator.load(decoder_path, device="cpu")
