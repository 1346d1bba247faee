"""Decoder → ONNX with the whole contract in ``metadata_props`` (docs/formats.md), checked against torch.

Importing this package is cheap; torch and onnx load on first use of :func:`export_decoder`.
"""

from __future__ import annotations


def export_decoder(*args, **kwargs):
    """See :func:`daedalus.export.onnx_export.export_decoder`."""
    from daedalus.export.onnx_export import export_decoder as _export

    return _export(*args, **kwargs)


__all__ = ["export_decoder"]
