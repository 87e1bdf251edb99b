"""Open an ONNX model's conv weights with the ``onnx`` package: no runtime, nothing executed.

The model is memory-mapped and its graph scanned without reading the weights
(:mod:`tdacnn.nets.onnx_wire`: nodes parsed with ``onnx.NodeProto``,
initialisers with ``onnx.TensorProto`` less their ``raw_data``), and its graph's
``Conv`` and ``ConvTranspose`` nodes are read in graph order; each node's weight
is the initializer (or ``Constant`` node) named by its second input, and the
layer is named after the node (the weight's name when the node has none).
Weights are ``(out, in/group, kh, kw)`` for ``Conv`` and ``(in, out/group, kh,
kw)`` for ``ConvTranspose``, as in PyTorch; ``group`` > 1 is reported as
grouped or depthwise.

Declared sizes are checked before any data is read: a tensor kept in the model
must hold exactly the bytes its dims declare; one kept in an external-data file
must name a plain relative path that stays in the model's own folder (symlinks
resolved), and its offset and length must fit that file.  Used through
:func:`tdacnn.nets.safeload.open_tensors`.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.limits import check_file_read
from tdacnn.nets.layers import ConvLayer
from tdacnn.nets.tensor_source import (
    MAX_TENSOR_BYTES,
    Format,
    TensorSource,
    _first_line,
)

__all__ = ["EXTERNAL_DATA_KEY"]

log = logging.getLogger(__name__)

#: Key of ``TensorSource.extras`` listing the external-data files a model reads (names in its folder).
EXTERNAL_DATA_KEY = "external_data"

_CONV_OPS = ("Conv", "ConvTranspose")
# TensorProto.DataType -> bytes per value, for the numeric types a weight may have.
_ITEMSIZES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
# ... and the repeated field that holds the values when raw_data is not used.
_TYPED_FIELD = {1: "float_data", 2: "int32_data", 3: "int32_data", 4: "int32_data", 5: "int32_data",
                6: "int32_data", 7: "int64_data", 9: "int32_data", 10: "int32_data", 11: "double_data",
                12: "uint64_data", 13: "uint64_data", 16: "int32_data"}


def _open_onnx(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` over the conv weights of an ONNX model, in graph order."""
    import mmap

    from tdacnn.limits import file_budget
    from tdacnn.nets.onnx_wire import OverBudget, WireError, scan_model

    label = path.name
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError(f"{label} is an ONNX model; reading it needs the onnx package (pip install onnx)") from None
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        scan = scan_model(mm, file_budget())
    except OverBudget as exc:
        mm.close()
        check_file_read(path, int(exc.args[0]), ": parsing its graph (nodes and constants) would take over")
        raise
    except Exception as exc:  # noqa: BLE001 - WireError, and anything else hostile bytes provoke
        mm.close()
        reason = str(exc) if isinstance(exc, WireError) else _first_line(exc)
        raise UserError(f"{label} is a damaged or truncated ONNX model ({reason})") from exc
    try:
        return _source(path, fmt, scan, mm)
    except BaseException:
        mm.close()
        raise


def _source(path: Path, fmt: Format, scan: Any, mm: Any) -> TensorSource:
    label = path.name
    # name -> (tensor without raw_data, where raw_data lies in the file or None)
    tensors: dict[str, tuple[Any, tuple[int, int] | None]] = dict(scan.initializers)
    for node in scan.nodes:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    tensors.setdefault(node.output[0], (attr.t, None))
    base = path.resolve().parent
    names: list[str] = []
    found: dict[str, Any] = {}
    layers: list[tuple[str, tuple[int, ...], bool, str | None]] = []
    external: set[str] = set()
    n_conv = 0
    for i, node in enumerate(scan.nodes):
        if node.op_type not in _CONV_OPS or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        n_conv += 1
        entry = tensors.get(node.input[1])
        if entry is None:  # computed by the graph (a quantised model's DequantizeLinear ...): nothing stored
            continue
        tensor, raw = entry
        shape = _check(tensor, raw, label, base, external)
        if len(shape) != 4 or min(shape) < 1:
            continue
        name = node.name or node.input[1] or f"{node.op_type}_{i}"
        while name in found:
            name += "'"
        group = next((int(a.i) for a in node.attribute if a.name == "group"), 1)
        transposed = node.op_type == "ConvTranspose"
        hint = None  # depthwise: one input channel a group (Conv: in/group == 1; ConvTranspose: in == group)
        if group > 1:
            hint = "depthwise" if (shape[0] == group if transposed else shape[1] == 1) else "grouped"
        found[name] = entry
        names.append(name)
        layers.append((name, shape, transposed, hint))
    if not names:
        raise UserError(f"{label} has no convolution weights stored in the model: "
                        + (f"its {n_conv} Conv node(s) take their weights from other nodes" if n_conv
                           else "its graph has no Conv or ConvTranspose node"))
    shapes = {n: s for n, s, _, _ in layers}
    itemsizes = {n: _ITEMSIZES[found[n][0].data_type] for n in names}

    def get(name: str) -> np.ndarray:
        return _values(*found[name], shapes[name], base, mm)

    def close() -> None:
        found.clear()
        mm.close()

    extras: dict[str, Any] = {"producer": scan.producer, "ir_version": scan.ir_version}
    if external:
        extras[EXTERNAL_DATA_KEY] = sorted(external)
    src = TensorSource(path, fmt, names, shapes, extras, "stored", get, close, itemsizes=itemsizes)
    src.layers = _conv_layers(layers)
    log.debug("%s: %d ONNX conv weights", label, len(names))
    return src


def _conv_layers(layers: list[tuple[str, tuple[int, ...], bool, str | None]]) -> list[ConvLayer]:
    n = len(layers)
    out = []
    for index, (name, stored, transposed, hint) in enumerate(layers, start=1):
        shape = (stored[1], stored[0], stored[2], stored[3]) if transposed else stored
        out.append(ConvLayer(index, name, shape, stored, n, transposed=transposed, groups_hint=hint))  # type: ignore[arg-type]
    return out


def _check(tensor: Any, raw: tuple[int, int] | None, label: str, base: Path, external: set[str]) -> tuple[int, ...]:
    """The tensor's shape, once its declared size is checked against what holds its values.

    Raises
    ------
    UserError
        Negative dims, a non-numeric type, more bytes declared than stored, or external
        data outside the model's folder or past the end of its file.
    """
    name = quote(tensor.name)
    shape = tuple(int(d) for d in tensor.dims)
    if any(d < 0 for d in shape):
        raise UserError(f"{label}: tensor {name} declares a negative dimension {shape}; it is damaged")
    itemsize = _ITEMSIZES.get(tensor.data_type)
    if itemsize is None:
        raise UserError(f"{label}: tensor {name} is not a numeric weight (ONNX data type {tensor.data_type})")
    nbytes = int(np.prod(shape, dtype=object)) * itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise UserError(f"{label}: tensor {name} declares shape {shape} ({nbytes} bytes); it is damaged or hostile")
    if tensor.data_location == 1:  # TensorProto.EXTERNAL
        target, offset, length = _external(tensor, label, base)
        size = target.stat().st_size
        if length is not None and length != nbytes or offset + nbytes > size:
            raise UserError(f"{label}: tensor {name} declares shape {shape} ({nbytes} bytes) at offset {offset} of "
                            f"{target.name}, which holds {size} bytes; it is damaged or hostile")
        external.add(target.name)
        return shape
    in_bytes = raw is not None or bool(tensor.raw_data)  # raw_data in the file, or in a Constant node (parsed)
    if in_bytes:
        held, want = (raw[1] - raw[0] if raw else len(tensor.raw_data)), nbytes
    else:  # typed fields: one value an item
        held, want = len(getattr(tensor, _TYPED_FIELD[tensor.data_type])), int(np.prod(shape, dtype=object))
    if held != want:
        raise UserError(f"{label}: tensor {name} declares shape {shape} ({nbytes} bytes) but the model holds "
                        f"{held} {'bytes' if in_bytes else 'values'} for it; it is damaged or hostile")
    return shape


def _external(tensor: Any, label: str, base: Path) -> tuple[Path, int, int | None]:
    """``(file, offset, length)`` of a tensor's external data, the file checked to be in ``base``."""
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    try:
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError as exc:
        raise UserError(f"{label}: tensor {quote(tensor.name)} has a damaged external-data entry") from exc
    escape = (not location or "\x00" in location or PurePosixPath(location).is_absolute()
              or PureWindowsPath(location).is_absolute() or PureWindowsPath(location).drive
              or ".." in PurePosixPath(location.replace("\\", "/")).parts)
    target = (base / location).resolve() if not escape else None
    if target is None or not target.is_relative_to(base):
        raise UserError(f"{label}: tensor {quote(tensor.name)} keeps its data in {quote(location)}, outside the "
                        "model's folder; tdacnn reads external data only from files beside the model")
    if not target.is_file():
        raise UserError(f"{label}: tensor {quote(tensor.name)} keeps its data in {quote(location)}, which is not a "
                        "file beside the model; copy it there with the model")
    if offset < 0 or (length is not None and length < 0):
        raise UserError(f"{label}: tensor {quote(tensor.name)} has a damaged external-data entry")
    return target, offset, length


def _values(tensor: Any, raw: tuple[int, int] | None, shape: tuple[int, ...], base: Path, mm: Any) -> np.ndarray:
    """The values of a checked tensor (:func:`_check`): from the model's bytes, its typed fields or its
    external file."""
    from onnx import helper, numpy_helper

    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.data_location == 1:
        target, offset, _ = _external(tensor, "", base)
        with open(target, "rb") as fh:
            fh.seek(offset)
            arr = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype).reshape(shape)
    elif raw is not None:
        arr = np.frombuffer(mm, dtype=dtype, count=count, offset=raw[0]).reshape(shape).copy()
    else:
        arr = numpy_helper.to_array(tensor)
    if arr.dtype.kind not in "fiub":  # bfloat16 and other ml_dtypes floats
        arr = arr.astype(np.float32)
    return arr
