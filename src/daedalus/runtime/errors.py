"""The runtime's errors: everything onnxruntime raises is re-raised as one of these, naming the file or value."""

from daedalus.errors import DaedalusError, UsageError


class ModelError(DaedalusError):
    """A model file that is missing, unreadable, not ONNX, or not a Daedalus decoder (contract, metadata, opset,
    external data), or a decoder whose output breaks the contract (wrong shape, NaN)."""


class DeviceError(DaedalusError):
    """An execution device that was asked for and is not available (e.g. CUDA without the ``gpu`` extra)."""


__all__ = ["DaedalusError", "DeviceError", "ModelError", "UsageError"]
