"""Open a ``.safetensors`` file safely: the header is checked by hand first.

The format is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw data.  Before
``safetensors.safe_open`` touches the file, every declared length, shape and
offset is checked against the file's real size and
:data:`~tdacnn.nets.tensor_source.MAX_TENSOR_BYTES`, so a small hostile file
cannot make tdacnn allocate or read more than it holds.  Nothing in the format
can run code.  Used through :func:`tdacnn.nets.safeload.open_tensors`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.nets.tensor_source import MAX_TENSOR_BYTES, Format, TensorSource, _first_line, natural_key

#: Largest safetensors JSON header accepted (the format itself caps it at 100 MB).
_MAX_HEADER_BYTES = 100 * 1024 * 1024

_ST_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip


def _check_safetensors_header(path: Path) -> dict[str, Any]:
    """The parsed JSON header of ``path``, once every entry's size and offsets fit the file.

    Raises
    ------
    UserError
        If the header length, the JSON or any tensor entry is damaged, or a
        tensor declares more bytes than the file (or ``MAX_TENSOR_BYTES``) holds.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > _MAX_HEADER_BYTES or n > size - 8:
            raise UserError(
                f"{path.name} declares a safetensors header of {n} bytes but the file holds {size} bytes; "
                "it is damaged or hostile"
            )
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"{path.name} has a damaged safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise UserError(f"{path.name} has a damaged safetensors header")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
            width = _ST_DTYPE_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path.name}: tensor {quote(name)} has a damaged safetensors entry") from exc
        nbytes = width * int(np.prod(shape, dtype=object))
        if min(shape, default=0) < 0 or nbytes > MAX_TENSOR_BYTES or end > data_len or begin < 0 or end - begin != nbytes:
            raise UserError(
                f"{path.name}: tensor {quote(name)} declares shape {tuple(shape)} ({nbytes} bytes) "
                f"but the file holds {data_len} bytes of data; it is damaged or hostile"
            )
    return header


def _open_safetensors(path: Path, fmt: Format) -> TensorSource:
    """A lazy :class:`TensorSource` over a safetensors file (tensors in natural name order)."""
    from safetensors import safe_open

    header = _check_safetensors_header(path)
    try:
        handle = safe_open(str(path), framework="pt")
        handle.__enter__()
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise UserError(f"{path.name} is not a readable safetensors file ({_first_line(exc)})") from exc
    names = sorted((k for k in header if k != "__metadata__"), key=natural_key)
    shapes = {k: tuple(int(s) for s in header[k]["shape"]) for k in names}
    meta = header.get("__metadata__") or {}
    extras = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}

    def get(name: str) -> np.ndarray:
        import torch

        t = handle.get_tensor(name)
        if t.dtype in (torch.float16, torch.bfloat16) or not t.dtype.is_floating_point:
            t = t.to(torch.float32)
        return t.numpy()

    def close() -> None:
        handle.__exit__(None, None, None)

    itemsizes = {k: _ST_DTYPE_BYTES[header[k]["dtype"]] for k in names}
    return TensorSource(path, fmt, names, shapes, extras, "natural-name", get, close, handle.get_tensor,
                        itemsizes=itemsizes)
