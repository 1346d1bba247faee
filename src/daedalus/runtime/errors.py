"""The runtime's errors (defined with the library's others in ``daedalus.errors``): everything onnxruntime raises is
re-raised as one of these, naming the file or value."""

from daedalus.errors import DaedalusError, DeviceError, ModelError, UsageError

__all__ = ["DaedalusError", "DeviceError", "ModelError", "UsageError"]
