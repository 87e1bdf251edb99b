"""Walk an HDF5 file without letting it reach outside itself or declare more than it holds.

The Keras readers (:mod:`tdacnn.nets.safeload_keras`) open ``.h5`` files through
these helpers, which refuse, with one sentence each, what a weight file never
needs and a hostile one could use:

* links to other files (``ExternalLink``) and soft links (Keras writes neither);
* datasets whose data lives in other files (external storage, virtual datasets);
* compression filters other than HDF5's built-in ones (a filter id makes HDF5
  look for a plugin);
* non-numeric datasets (strings, references, compound types) and declared sizes
  larger than :data:`~tdacnn.nets.tensor_source.MAX_TENSOR_BYTES`, or, for
  uncompressed data, larger than the file;
* attributes with more than :data:`MAX_ATTR_ITEMS` items, and files with more
  than :data:`MAX_OBJECTS` groups and datasets.

Reading a dataset's values still goes through
:class:`~tdacnn.nets.tensor_source.TensorSource`, which adds the declared sizes up
against :func:`tdacnn.limits.file_budget` before anything is read.  ``h5py`` is
imported lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.nets.tensor_source import MAX_TENSOR_BYTES, _first_line

__all__ = ["HDF5_MAGIC", "MAX_ATTR_ITEMS", "MAX_OBJECTS", "child", "children", "dataset_info", "is_dataset",
           "is_group", "open_h5", "read_dataset", "require_h5py", "resolve", "str_attr", "str_list_attr"]

#: The first 8 bytes of an HDF5 file (without a user block).
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: Most groups and datasets one walk visits (VGG16's Keras file has under 100).
MAX_OBJECTS = 200_000

#: Most items one attribute may hold (Keras's ``layer_names`` of a very deep net: a few thousand).
MAX_ATTR_ITEMS = 1_000_000

# H5Z filter ids built into HDF5 (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) and h5py's LZF.
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6, 32000}


def require_h5py(label: str) -> None:
    """Refuse with a sentence when ``h5py`` is not installed."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        raise UserError(f"{label} is a Keras (HDF5) file; reading it needs h5py (pip install h5py)") from None


def open_h5(source: Path | Any, label: str) -> Any:
    """An ``h5py.File`` opened read-only on a path or a seekable binary file object.

    Raises
    ------
    UserError
        If HDF5 cannot read it (damaged or truncated).
    """
    import h5py

    try:
        return h5py.File(source, "r", locking=False)
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError ... from hostile bytes
        raise UserError(f"{label} is a damaged or truncated HDF5 file ({_first_line(exc)})") from exc


def child(group: Any, key: str, label: str) -> Any:
    """The group or dataset ``key`` of ``group``, reached by a hard link only.

    Raises
    ------
    UserError
        A missing member, a soft link or a link into another file.
    """
    import h5py

    try:
        link = group.get(key, getlink=True)
    except Exception as exc:  # noqa: BLE001 - a damaged link table
        raise UserError(f"{label} is a damaged HDF5 file ({_first_line(exc)})") from exc
    if link is None:
        raise UserError(f"{label} names {quote(_join(group.name, key))} but holds no such entry; it is damaged")
    if isinstance(link, h5py.ExternalLink):
        raise UserError(f"{label} links {quote(_join(group.name, key))} to another file ({link.filename}); "
                        "tdacnn reads weights from the file itself only")
    if not isinstance(link, h5py.HardLink):
        raise UserError(f"{label} holds a soft link at {quote(_join(group.name, key))}; "
                        "weight files have none, so tdacnn does not follow it")
    try:
        return group[key]
    except Exception as exc:  # noqa: BLE001 - a damaged object header
        raise UserError(f"{label} is a damaged HDF5 file ({_first_line(exc)})") from exc


def resolve(group: Any, path: str, label: str) -> Any:
    """The object at ``path`` (``"conv2d/kernel:0"``) below ``group``, step by step through :func:`child`."""
    parts = path.split("/")
    if not path or any(p in ("", ".", "..") for p in parts):
        raise UserError(f"{label} names a weight {quote(path)} that is not a path inside its group; it is damaged")
    obj = group
    for part in parts:
        if not is_group(obj):
            raise UserError(f"{label} names a weight {quote(path)} that is not a path inside its group; it is damaged")
        obj = child(obj, part, label)
    return obj


def children(group: Any, label: str, counter: list[int]) -> Iterator[tuple[str, Any]]:
    """``(key, object)`` for each member of ``group``, in creation order when the file kept it,
    else in the natural order of the names (``conv2d_2`` before ``conv2d_10``).

    ``counter`` (a one-item list) counts objects visited across a walk, past :data:`MAX_OBJECTS` refused.
    """
    from tdacnn.nets.tensor_source import natural_key

    try:
        keys = list(group.keys())
        tracked = bool(group.id.get_create_plist().get_link_creation_order())
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{label} is a damaged HDF5 file ({_first_line(exc)})") from exc
    if not tracked:  # h5py lists names alphabetically; natural order keeps conv2d_2 before conv2d_10
        keys.sort(key=natural_key)
    for key in keys:
        counter[0] += 1
        if counter[0] > MAX_OBJECTS:
            raise UserError(f"{label} holds more than {MAX_OBJECTS:,} groups and datasets; "
                            "it is not a weight file tdacnn reads")
        yield key, child(group, key, label)


def is_dataset(obj: Any) -> bool:
    import h5py

    return isinstance(obj, h5py.Dataset)


def is_group(obj: Any) -> bool:
    import h5py

    return isinstance(obj, h5py.Group)


def _join(parent: str, key: str) -> str:
    return f"{parent.rstrip('/')}/{key}".lstrip("/")


def dataset_info(ds: Any, label: str, file_size: int) -> tuple[tuple[int, ...], int] | None:
    """``(shape, itemsize)`` of a numeric dataset, checked; None for a scalar or empty dataspace.

    Raises
    ------
    UserError
        External or virtual storage, an unknown filter, a non-numeric type, or a
        declared size over :data:`MAX_TENSOR_BYTES` (or, uncompressed, over the file's size).
    """
    name = quote(ds.name.lstrip("/"))
    try:
        shape = ds.shape
        dtype = ds.dtype
        external = ds.external
        virtual = ds.is_virtual
        plist = ds.id.get_create_plist()
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{label}: dataset {name} is damaged ({_first_line(exc)})") from exc
    if external or virtual:
        raise UserError(f"{label}: dataset {name} keeps its data in other files; "
                        "tdacnn reads weights from the file itself only")
    unknown = [f for f in filters if f not in _BUILTIN_FILTERS]
    if unknown:
        raise UserError(f"{label}: dataset {name} is compressed with HDF5 filter {unknown[0]}, "
                        "which tdacnn does not load (it reads gzip, lzf, szip and uncompressed data)")
    if shape is None or len(shape) == 0:
        return None
    itemsize = _itemsize(ds, dtype)
    if itemsize is None:
        raise UserError(f"{label}: dataset {name} is not numeric (dtype {dtype})")
    nbytes = int(np.prod(shape, dtype=object)) * itemsize
    room = file_size if not filters else MAX_TENSOR_BYTES
    if nbytes > MAX_TENSOR_BYTES or nbytes > room:
        raise UserError(f"{label}: dataset {name} declares shape {tuple(shape)} ({nbytes} bytes) but the file "
                        f"holds {file_size} bytes; it is damaged or hostile")
    return tuple(int(s) for s in shape), itemsize


def _bfloat16(ds: Any, dtype: np.dtype) -> bool:
    """Keras 3 writes bfloat16 weights as 2-byte opaque data tagged ``attrs["dtype"] == "bfloat16"``."""
    if dtype.kind != "V" or dtype.itemsize != 2:
        return False
    try:
        tag = ds.attrs.get("dtype")
    except Exception:  # noqa: BLE001
        return False
    return (tag.decode() if isinstance(tag, bytes) else tag) == "bfloat16"


def _itemsize(ds: Any, dtype: np.dtype) -> int | None:
    if dtype.kind in "fiub" and not dtype.hasobject and dtype.shape == ():
        return dtype.itemsize
    return 2 if _bfloat16(ds, dtype) else None


def read_dataset(ds: Any) -> np.ndarray:
    """All values of a checked dataset (:func:`dataset_info`) as a numpy array; bfloat16 widened to float32."""
    if _bfloat16(ds, ds.dtype):
        raw = np.frombuffer(ds[()].tobytes(), dtype="<u2").reshape(ds.shape)
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return ds[()]


def str_attr(obj: Any, name: str) -> str | None:
    """A string attribute (``model_config``, ``keras_version``), or None when absent or not a string."""
    value = _attr(obj, name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == () and isinstance(value.item(), bytes):
        return value.item().decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def str_list_attr(obj: Any, name: str) -> list[str] | None:
    """A list-of-strings attribute, also when Keras split it as ``name0``, ``name1`` ... (None when absent)."""
    if name in _attr_names(obj):
        parts = [_attr(obj, name)]
    else:
        parts, i = [], 0
        while f"{name}{i}" in _attr_names(obj):
            parts.append(_attr(obj, f"{name}{i}"))
            i += 1
        if not parts:
            return None
    out: list[str] = []
    for part in parts:
        for item in np.atleast_1d(np.asarray(part, dtype=object)).ravel():
            out.append(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item))
    return out


def _attr_names(obj: Any) -> list[str]:
    try:
        return list(obj.attrs.keys())
    except Exception:  # noqa: BLE001 - a damaged attribute table: treated as none
        return []


def _attr(obj: Any, name: str) -> Any:
    """An attribute's value once its declared size is checked (None if absent or unreadable)."""
    try:
        if name not in obj.attrs:
            return None
        attr_id = obj.attrs.get_id(name)
        if attr_id.shape and int(np.prod(attr_id.shape, dtype=object)) > MAX_ATTR_ITEMS:
            return None
        return obj.attrs[name]
    except Exception:  # noqa: BLE001 - a damaged attribute is as good as none: the caller says what is missing
        return None
