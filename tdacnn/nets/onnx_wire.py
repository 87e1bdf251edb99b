"""Read an ONNX model's graph without reading its weights: a scan of the protobuf wire format.

``onnx.load`` parses the whole file into memory (a 528 MB VGG16 takes over a
gigabyte).  tdacnn needs the graph's nodes and each initializer's name, type
and dims, and reads a weight's bytes only when that layer is asked for.  So the
file is memory-mapped and its ``ModelProto`` walked field by field
(``graph`` = field 7; in it ``node`` = 1 and ``initializer`` = 5): every node is
parsed with ``onnx.NodeProto``, and every initializer with ``onnx.TensorProto``
*without* its ``raw_data`` (field 9), whose place in the file is kept instead.
Nothing else is parsed.  Every length is checked against the bytes that hold it;
a malformed message gives :class:`WireError`.  numpy-free; ``onnx`` imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = ["OverBudget", "Scan", "WireError", "scan_model"]

# ModelProto, GraphProto and TensorProto field numbers (onnx.proto3)
_MODEL_IR_VERSION, _MODEL_PRODUCER, _MODEL_PRODUCER_VERSION, _MODEL_GRAPH = 1, 2, 3, 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_TENSOR_RAW_DATA = 9


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class OverBudget(Exception):
    """Parsing would copy more than the budget out of the file; ``args[0]``: the bytes it would copy."""


@dataclass
class Scan:
    """What :func:`scan_model` found.

    Attributes
    ----------
    nodes : list of onnx.NodeProto
        The main graph's nodes, in graph order.
    initializers : dict of str to (onnx.TensorProto, (start, stop) or None)
        Each initializer without its ``raw_data``, and where those bytes lie in the file.
    parsed_bytes : int
        Bytes copied out of the file to parse nodes and initializer headers.
    ir_version : int
    producer : str
    """

    nodes: list[Any] = field(default_factory=list)
    initializers: dict[str, tuple[Any, tuple[int, int] | None]] = field(default_factory=dict)
    parsed_bytes: int = 0
    ir_version: int = 0
    producer: str = ""


def _varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("a varint runs past its message")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(buf: Any, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """``(field number, wire type, value or 0, value start, value end)`` for each field in ``buf[start:end]``."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, nxt = _varint(buf, pos, end)
            yield number, wire, value, pos, nxt
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            nxt = pos + length
            if nxt > end:
                raise WireError(f"field {number} declares {length} bytes past the end of its message")
            yield number, wire, 0, pos, nxt
        elif wire in (1, 5):
            nxt = pos + (8 if wire == 1 else 4)
            if nxt > end:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, wire, 0, pos, nxt
        else:  # 3/4: deprecated groups, 6/7: invalid
            raise WireError(f"wire type {wire} of field {number}")
        pos = nxt


def _tensor_spans(buf: Any, start: int, end: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """The byte spans of the TensorProto at ``buf[start:end]`` other than ``raw_data``, and where that lies."""
    spans: list[tuple[int, int]] = []
    raw: tuple[int, int] | None = None
    pos = start
    for number, wire, _, vstart, vend in _fields(buf, start, end):
        if number == _TENSOR_RAW_DATA and wire == 2:
            raw = (vstart, vend)
        else:
            spans.append((pos, vend))
        pos = vend
    return spans, raw


def scan_model(buf: Any, budget: int) -> Scan:
    """Scan a serialised ``ModelProto`` (a memory map or bytes) for its graph's nodes and initializers.

    Parameters
    ----------
    buf : bytes-like
    budget : int
        Most bytes to copy out for parsing (nodes with their attributes, initializers
        without ``raw_data``); past it :class:`OverBudget` is raised before the copy.

    Raises
    ------
    WireError
        Malformed wire format, or a node or initializer ``onnx`` cannot parse.
    OverBudget
        Over ``budget`` (the caller turns it into the file-budget sentence).
    """
    from google.protobuf.message import DecodeError
    from onnx import NodeProto, TensorProto

    scan = Scan()
    size = len(buf)
    for number, wire, value, start, end in _fields(buf, 0, size):
        if number == _MODEL_IR_VERSION and wire == 0:
            scan.ir_version = value
        elif number in (_MODEL_PRODUCER, _MODEL_PRODUCER_VERSION) and wire == 2 and end - start < 4096:
            scan.producer = f"{scan.producer} {bytes(buf[start:end]).decode('utf-8', 'replace')}".strip()
        elif number == _MODEL_GRAPH and wire == 2:  # a repeated singular message merges: take each in turn
            for g_number, g_wire, _, g_start, g_end in _fields(buf, start, end):
                if g_wire != 2 or g_number not in (_GRAPH_NODE, _GRAPH_INITIALIZER):
                    continue
                if g_number == _GRAPH_NODE:
                    _charge(scan, g_end - g_start, budget)
                    data = bytes(buf[g_start:g_end])
                    try:
                        scan.nodes.append(NodeProto.FromString(data))
                    except (DecodeError, RecursionError, ValueError) as exc:
                        raise WireError(f"a damaged node ({exc})") from None
                else:
                    spans, raw = _tensor_spans(buf, g_start, g_end)
                    _charge(scan, sum(b - a for a, b in spans), budget)
                    data = b"".join(bytes(buf[a:b]) for a, b in spans)
                    try:
                        tensor = TensorProto.FromString(data)
                    except (DecodeError, RecursionError, ValueError) as exc:
                        raise WireError(f"a damaged initializer ({exc})") from None
                    scan.initializers.setdefault(tensor.name, (tensor, raw))
        elif number == _MODEL_GRAPH:
            raise WireError("its graph is not a message")
    return scan


def _charge(scan: Scan, nbytes: int, budget: int) -> None:
    """Count ``nbytes`` more as copied out for parsing, or raise :class:`OverBudget` past ``budget``."""
    scan.parsed_bytes += nbytes
    if scan.parsed_bytes > budget:
        raise OverBudget(scan.parsed_bytes)
