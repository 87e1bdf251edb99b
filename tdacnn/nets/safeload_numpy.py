"""Open ``.npy`` and ``.npz`` files safely: declared shapes are checked before any data is read.

Each array's header (one for ``.npy``, one per member for ``.npz``) is parsed
with ``numpy.lib.format`` and its declared size compared with the bytes the
file (or the zip member) really holds and with
:data:`~tdacnn.nets.tensor_source.MAX_TENSOR_BYTES`; object arrays are refused,
and data is loaded with ``allow_pickle=False``, so nothing can run code.  Used
through :func:`tdacnn.nets.safeload.open_tensors`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.nets.tensor_source import MAX_TENSOR_BYTES, Format, TensorSource, _first_line


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the ``.npy`` header at the position of ``fh``; the data is not read.

    Raises
    ------
    ValueError
        If the magic string or the header is damaged (callers turn it into a UserError).
    """
    from numpy.lib import format as npf

    import tokenize

    version = npf.read_magic(fh)
    try:
        if version == (1, 0):
            shape, fortran, dtype = npf.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = npf.read_array_header_2_0(fh)
    except tokenize.TokenError as exc:  # numpy parses the header dict with tokenize: a mangled one ends here
        raise ValueError(f"damaged array header: {exc.args[0]}") from None
    return tuple(int(s) for s in shape), dtype


def _check_array_decl(path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype, room: int) -> None:
    """Refuse an array that is not numeric or declares more than ``room`` (or ``MAX_TENSOR_BYTES``) bytes."""
    if dtype.hasobject:
        raise UserError(f"array {quote(name)} in {path.name} holds Python objects; tdacnn only reads numeric arrays")
    if dtype.kind not in "fiub":
        raise UserError(f"array {quote(name)} in {path.name} is not numeric (dtype {dtype})")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > MAX_TENSOR_BYTES or nbytes > room:
        raise UserError(
            f"array {quote(name)} in {path.name} declares shape {shape} ({nbytes} bytes) "
            f"but the file holds at most {room} bytes; it is damaged or hostile"
        )


def _open_npy(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` with the one array of a ``.npy`` file, named after the file, memory-mapped."""
    try:
        with open(path, "rb") as fh:
            shape, dtype = _npy_header(fh)
            offset = fh.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        raise UserError(f"{path.name} is not a readable .npy file ({_first_line(exc)})") from exc
    name = path.stem
    _check_array_decl(path, name, shape, dtype, path.stat().st_size - offset)

    def get(_: str) -> np.ndarray:
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise UserError(f"{path.name} is not a readable .npy file ({_first_line(exc)})") from exc

    return TensorSource(path, fmt, [name], {name: shape}, {}, "stored", get, None, itemsizes={name: dtype.itemsize})


def _open_npz(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` over the arrays of a ``.npz`` file, in stored order, each read on demand."""
    shapes: dict[str, tuple[int, ...]] = {}
    itemsizes: dict[str, int] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename[: -len(".npy")]
                with zf.open(info) as fh:
                    shape, dtype = _npy_header(fh)
                _check_array_decl(path, name, shape, dtype, info.file_size)
                shapes[name] = shape
                itemsizes[name] = dtype.itemsize
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib.error, NotImplementedError ... from hostile archives
        raise UserError(f"{path.name} is not a readable .npz file ({_first_line(exc)})") from exc
    npz = np.load(path, allow_pickle=False)

    def get(name: str) -> np.ndarray:
        try:
            return npz[name]
        except Exception as exc:  # noqa: BLE001 - as above, for the array data
            raise UserError(f"array {quote(name)} in {path.name} is damaged ({_first_line(exc)})") from exc

    return TensorSource(path, fmt, list(shapes), shapes, {}, "stored", get, npz.close, itemsizes=itemsizes)
