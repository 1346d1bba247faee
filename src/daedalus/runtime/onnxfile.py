"""Read what the runtime must check in an ONNX file before onnxruntime sees it, without the ``onnx`` package.

The ``onnx`` package is not in the base install, so this walks the protobuf wire format directly: a ModelProto
is a list of tagged fields, and only a handful matter here (``ir_version``, ``opset_import``, ``graph``,
``metadata_props``, and in the graph the tensors that could point at external data). Any field that runs past
the end of its message means the file is truncated or not ONNX.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daedalus.runtime.errors import ModelError

# ModelProto, GraphProto, NodeProto, AttributeProto and TensorProto field numbers (onnx/onnx.proto3).
_MODEL_IR_VERSION, _MODEL_OPSET, _MODEL_GRAPH, _MODEL_METADATA = 1, 8, 7, 14
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_EXTERNAL = 1


class _Malformed(Exception):
    pass


@dataclass
class OnnxInfo:
    """What ``inspect_onnx`` found in a model file."""

    ir_version: int
    opsets: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    external_tensors: list[str] = field(default_factory=list)

    @property
    def default_opset(self) -> int | None:
        """The opset of the default (``ai.onnx``) domain, or None when the model does not import it."""
        return self.opsets.get("", self.opsets.get("ai.onnx"))


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Malformed("varint runs past the end")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint longer than 10 bytes")


def _fields(data: bytes, start: int, end: int):
    """Yield ``(number, wire_type, value)``: an int for varints, ``(start, end)`` for length-delimited fields."""
    pos = start
    while pos < end:
        tag, pos = _varint(data, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _Malformed("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos, end)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos, end)
            if pos + length > end:
                raise _Malformed("length-delimited field runs past the end")
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        if pos > end:
            raise _Malformed("fixed-size field runs past the end")


def _string(data: bytes, span: tuple[int, int]) -> str:
    try:
        return data[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Malformed("string field is not UTF-8") from error


def _pairs(data: bytes, span: tuple[int, int], key_field: int, value_field: int) -> tuple[object, object]:
    key = value = None
    for number, wire, value_ in _fields(data, *span):
        if number == key_field:
            key = _string(data, value_) if wire == 2 else value_
        elif number == value_field:
            value = _string(data, value_) if wire == 2 else value_
    return key, value


def _tensor_external(data: bytes, span: tuple[int, int]) -> str | None:
    name, external = "", False
    for number, wire, value in _fields(data, *span):
        if number == _TENSOR_NAME and wire == 2:
            name = _string(data, value)
        elif number == _TENSOR_EXTERNAL_DATA and wire == 2:
            external = True
        elif number == _TENSOR_DATA_LOCATION and wire == 0 and value == _EXTERNAL:
            external = True
    return (name or "<unnamed tensor>") if external else None


def _sparse_external(data: bytes, span: tuple[int, int], found: list[str]) -> None:
    for number, wire, value in _fields(data, *span):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES) and wire == 2:
            name = _tensor_external(data, value)
            if name:
                found.append(name)


def _graph_external(data: bytes, span: tuple[int, int], found: list[str], depth: int = 0) -> None:
    if depth > 32:
        raise _Malformed("subgraphs nested more than 32 deep")
    for number, wire, value in _fields(data, *span):
        if wire != 2:
            continue
        if number == _GRAPH_INITIALIZER:
            name = _tensor_external(data, value)
            if name:
                found.append(name)
        elif number == _GRAPH_SPARSE_INITIALIZER:
            _sparse_external(data, value, found)
        elif number == _GRAPH_NODE:
            for n_number, n_wire, attribute in _fields(data, *value):
                if n_number != _NODE_ATTRIBUTE or n_wire != 2:
                    continue
                for a_number, a_wire, a_value in _fields(data, *attribute):
                    if a_wire != 2:
                        continue
                    if a_number in (_ATTR_TENSOR, _ATTR_TENSORS):
                        name = _tensor_external(data, a_value)
                        if name:
                            found.append(name)
                    elif a_number in (_ATTR_SPARSE, _ATTR_SPARSES):
                        _sparse_external(data, a_value, found)
                    elif a_number in (_ATTR_GRAPH, _ATTR_GRAPHS):
                        _graph_external(data, a_value, found, depth + 1)


def inspect_onnx(data: bytes, source: str = "model") -> OnnxInfo:
    """Parse the parts of an ONNX ModelProto the runtime checks.

    Args:
        data: the file's bytes.
        source: how to name the file in errors (its path).

    Returns:
        ``OnnxInfo`` with the IR version, opset imports, metadata_props and the names of tensors stored outside.

    Raises:
        ModelError: when the bytes are empty, truncated or not an ONNX model.
    """
    if not data:
        raise ModelError(f"{source} is empty (0 bytes), expected an ONNX model")
    try:
        ir_version = None
        graph = None
        opsets: dict[str, int] = {}
        metadata: dict[str, str] = {}
        for number, wire, value in _fields(data, 0, len(data)):
            if number == _MODEL_IR_VERSION and wire == 0:
                ir_version = value
            elif number == _MODEL_OPSET and wire == 2:
                domain, version = _pairs(data, value, 1, 2)
                opsets[str(domain or "")] = int(version or 0)
            elif number == _MODEL_GRAPH and wire == 2:
                graph = value
            elif number == _MODEL_METADATA and wire == 2:
                key, text = _pairs(data, value, 1, 2)
                metadata[str(key or "")] = str(text or "")
        if ir_version is None or graph is None:
            raise _Malformed("no ir_version or no graph")
        external: list[str] = []
        _graph_external(data, graph, external)
    except _Malformed as error:
        raise ModelError(f"{source} is not a valid ONNX model (truncated or not ONNX: {error})") from None
    return OnnxInfo(ir_version=ir_version, opsets=opsets, metadata=metadata, external_tensors=external)


_GRAPH_OUTPUT, _VALUE_INFO_NAME = 12, 1
_NODE_INPUT, _NODE_OUTPUT = 1, 2


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _raw_fields(data: bytes, start: int, end: int):
    """Like ``_fields``, with each field's raw bytes (tag included): ``(number, wire, value, (tag_start, end))``."""
    pos = start
    for number, wire, value in _fields(data, start, end):
        if wire == 2:
            field_end = value[1]
        else:  # re-walk the fixed or varint value to find where it ends
            _, after = _varint(data, pos, end)
            field_end = _varint(data, after, end)[1] if wire == 0 else after + (8 if wire == 1 else 4)
        yield number, wire, value, (pos, field_end)
        pos = field_end


def without_outputs(data: bytes, names: set[str], source: str = "model") -> bytes:
    """The model with graph outputs ``names`` removed, and the nodes that only they needed (dead-code elimination
    over the top-level graph). onnxruntime runs every node of a graph whatever outputs a call asks for, so an
    output the runtime already holds (a constant table) is cheapest when it is not in the graph at all.

    Raises:
        ModelError: the file is not a readable ONNX model.
    """
    try:
        model_fields = list(_raw_fields(data, 0, len(data)))
        graph = [f for f in model_fields if f[0] == _MODEL_GRAPH and f[1] == 2]
        if len(graph) != 1:
            raise _Malformed("expected one graph")
        g_start, g_end = graph[0][2]
        fields = list(_raw_fields(data, g_start, g_end))
        outputs, nodes = {}, {}
        for i, (number, wire, value, _) in enumerate(fields):
            if number == _GRAPH_OUTPUT and wire == 2:
                outputs[i] = next((_string(data, v) for n, w, v in _fields(data, *value)
                                   if n == _VALUE_INFO_NAME and w == 2), "")
            elif number == _GRAPH_NODE and wire == 2:
                ins, outs = [], []
                for n, w, v in _fields(data, *value):
                    if w == 2 and n in (_NODE_INPUT, _NODE_OUTPUT):
                        (ins if n == _NODE_INPUT else outs).append(_string(data, v))
                nodes[i] = (ins, outs)
    except _Malformed as error:
        raise ModelError(f"{source} is not a readable ONNX model ({error})") from None
    drop = {i for i, name in outputs.items() if name in names}
    needed = {name for i, name in outputs.items() if i not in drop}
    live: set[int] = set()
    for i in sorted(nodes, reverse=True):  # ONNX nodes are topologically sorted: consumers come after producers
        ins, outs = nodes[i]
        if any(out in needed for out in outs):
            live.add(i)
            needed.update(ins)
    drop |= set(nodes) - live
    graph_bytes = b"".join(data[a:b] for i, (_, _, _, (a, b)) in enumerate(fields) if i not in drop)
    parts = []
    for number, wire, _, (a, b) in model_fields:
        if number == _MODEL_GRAPH and wire == 2:
            parts.append(_encode_varint(_MODEL_GRAPH << 3 | 2) + _encode_varint(len(graph_bytes)) + graph_bytes)
        else:
            parts.append(data[a:b])
    return b"".join(parts)
