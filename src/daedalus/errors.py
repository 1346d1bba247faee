"""The library's own errors. Every message names the bad value and what was expected."""


class DaedalusError(Exception):
    """Base class of every error Daedalus raises on purpose."""


class UsageError(DaedalusError, ValueError):
    """A bad argument or input value."""


class ModelError(DaedalusError):
    """A model file that is missing, unreadable, not ONNX, or not a Daedalus decoder (contract, metadata, opset,
    external data), or a decoder whose output breaks the contract (wrong shape, NaN)."""


class DeviceError(DaedalusError):
    """An execution device that was asked for and is not available (e.g. CUDA without the ``gpu`` extra)."""


class MissingExtraError(DaedalusError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""
