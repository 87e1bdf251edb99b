"""Open Keras weight files with ``h5py``, on the weights alone: never TensorFlow, never a model config.

=================  ==========================================================
``keras-h5``       Keras 2 HDF5 (``model.save("m.h5")`` or ``save_weights``):
                   ``[model_weights/]<layer>/<layer>/kernel:0``, in the order of
                   the ``layer_names`` attribute.
``keras-weights``  Keras 3 ``.weights.h5``: ``<path>/vars/<i>`` groups
                   (``layers/conv2d/vars/0``), in the file's order.
``keras-zip``      Keras 3 ``.keras``: a zip of ``config.json`` and
                   ``model.weights.h5`` (read in place when stored, as Keras
                   writes it; else unpacked to a temporary file once its
                   declared size passed the file budget).
=================  ==========================================================

HDF5 is a C library that was not written for hostile files (a damaged heap
can make it loop for ever), so every file is first opened and read once, whole,
in a child process with time and memory limits (:mod:`tdacnn.nets.h5_vet`);
only a file that passed is opened here.  Layers are named by their path in the
file and kept in the file's order; each
4-D weight's layout (HWIO, transposed, depthwise) is told as
:mod:`tdacnn.nets.keras_layout` says.  Every group, link, dataset and attribute
goes through :mod:`tdacnn.nets.safeload_h5`.  Used through
:func:`tdacnn.nets.safeload.open_tensors`.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from tdacnn.errors import UserError
from tdacnn.limits import check_archive, check_file_read
from tdacnn.nets import safeload_h5 as h5
from tdacnn.nets.h5_vet import vet
from tdacnn.nets.keras_layout import (
    CONTAINERS,
    KerasWeight,
    conv_layers,
    keras2_classes,
    keras3_layout,
    kind_of,
)
from tdacnn.nets.tensor_source import Format, TensorSource, _first_line, natural_key

log = logging.getLogger(__name__)

#: Largest ``config.json`` / ``model_config`` read (as plain JSON) from a Keras file.
MAX_CONFIG_BYTES = 64 * 1024**2

_WEIGHTS_MEMBER = "model.weights.h5"


def is_keras_zip(names: list[str]) -> bool:
    """Whether a zip's member names are those of a ``.keras`` archive."""
    return "config.json" in names and any(n.startswith("model.weights.") for n in names)


def _open_keras_h5(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` over a Keras 2 ``.h5`` or Keras 3 ``.weights.h5`` file."""
    h5.require_h5py(path.name)
    vet(path, fmt)
    return _open_h5_file(path, fmt)


def _open_keras_zip(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` over the ``model.weights.h5`` of a ``.keras`` archive."""
    h5.require_h5py(path.name)
    vet(path, fmt)
    return _open_zip_file(path, fmt)


def _open_h5_file(path: Path, fmt: Format) -> TensorSource:
    """:func:`_open_keras_h5` without the child process (what the child itself runs)."""
    f = h5.open_h5(path, path.name)
    try:
        return _source(path, f, path.stat().st_size, None, f.close)
    except BaseException:
        f.close()
        raise


def _open_zip_file(path: Path, fmt: Format) -> TensorSource:
    """:func:`_open_keras_zip` without the child process (what the child itself runs)."""
    label = path.name
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{label} is a damaged or truncated zip archive ({_first_line(exc)})") from exc
    with zf:
        check_archive(path, zf)
        names = zf.namelist()
        if _WEIGHTS_MEMBER not in names:
            other = [n for n in names if n.startswith("model.weights.")]
            raise UserError(f"{label} keeps its weights as {other[0] if other else 'nothing'}; tdacnn reads the "
                            f"{_WEIGHTS_MEMBER} Keras writes by default (save the model again with Keras 3)")
        config = _zip_config(path, zf)
        info = zf.getinfo(_WEIGHTS_MEMBER)
        start = _stored_start(path, info)
        if start is None:  # compressed: unpack once, within the budget (check_archive counted it)
            tmp = _unpack(path, zf, info)
    if start is not None:
        fh = open(path, "rb")
        raw: Any = _Window(fh, start, info.file_size)
        close_raw: Callable[[], None] = fh.close
    else:
        raw = tmp
        close_raw = lambda: Path(tmp).unlink(missing_ok=True)
    try:
        f = h5.open_h5(raw, f"{label} ({_WEIGHTS_MEMBER})")
    except BaseException:
        close_raw()
        raise

    def close() -> None:
        f.close()
        close_raw()

    try:
        return _source(path, f, info.file_size, config, close)
    except BaseException:
        close()
        raise


def _source(path: Path, f: Any, size: int, config: Any, close: Callable[[], None]) -> TensorSource:
    """Find the 4-D weights of an open Keras HDF5 file and wrap them in a :class:`TensorSource`."""
    label = path.name
    keras2_root = _keras2_root(f, label)
    if keras2_root is not None:
        fmt, (weights, datasets) = "keras-h5", _keras2_weights(f, keras2_root, label, size)
    elif config is not None or _has_vars(f, label):
        fmt, (weights, datasets) = ("keras-zip" if config is not None else "keras-weights",
                                    _keras3_weights(f, label, size, config))
    else:
        raise UserError(f"{label} is an HDF5 file but not Keras weights (no layer_names attribute, "
                        "no vars groups)")
    if not weights:
        raise UserError(f"{label} has no convolution weights (4-D kernels) among its Keras layers")
    names = [w.name for w in weights]
    shapes = {w.name: w.stored for w in weights}
    itemsizes = {w.name: datasets[w.name][1] for w in weights}

    def get(name: str):
        return h5.read_dataset(datasets[name][0])

    src = TensorSource(path, fmt, names, shapes, {}, "stored", get, close, itemsizes=itemsizes)
    src.layers = conv_layers(weights)
    log.debug("%s: %d Keras conv weights (%s)", label, len(weights), fmt)
    return src


# ---- Keras 2 ---------------------------------------------------------------
def _keras2_root(f: Any, label: str) -> Any:
    """The group holding ``layer_names`` (``model_weights`` of a full model, the root of a weights file)."""
    if "model_weights" in f:
        root = h5.child(f, "model_weights", label)
        if h5.str_list_attr(root, "layer_names") is not None:
            return root
    return f if h5.str_list_attr(f, "layer_names") is not None else None


def _keras2_weights(f: Any, root: Any, label: str, size: int) -> tuple[list[KerasWeight], dict[str, Any]]:
    classes = keras2_classes(_json(h5.str_attr(f, "model_config"), label, "model_config"))
    weights: list[KerasWeight] = []
    datasets: dict[str, Any] = {}
    layer_names = h5.str_list_attr(root, "layer_names") or []
    if len(layer_names) > h5.MAX_OBJECTS:
        raise UserError(f"{label} lists {len(layer_names):,} layers; it is not a weight file tdacnn reads")
    for lname in layer_names:
        group = h5.resolve(root, lname, label)
        for wname in h5.str_list_attr(group, "weight_names") or []:
            ds = h5.resolve(group, wname, label)
            owner = _owner(wname, lname)
            _add(weights, datasets, ds, label, size, classes.get(owner), wname.rsplit("/", 1)[-1], owner)
    return weights, datasets


def _owner(wname: str, lname: str) -> str:
    """The layer a Keras 2 weight belongs to: ``block1_conv1/kernel:0`` -> ``block1_conv1``."""
    parts = wname.split("/")
    return parts[-2] if len(parts) > 1 else lname


# ---- Keras 3 ---------------------------------------------------------------
def _has_vars(f: Any, label: str) -> bool:
    """Whether a Keras 3 weights file: Keras writes the model's own ``vars`` group at the root."""
    try:
        return "vars" in f or any(c in f for c in CONTAINERS)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{label} is a damaged HDF5 file ({_first_line(exc)})") from exc


def _keras3_weights(f: Any, label: str, size: int, config: Any) -> tuple[list[KerasWeight], dict[str, Any]]:
    classes, orders = keras3_layout(config) if config is not None else ({}, {})
    weights: list[KerasWeight] = []
    datasets: dict[str, Any] = {}
    counter = [0]

    def walk(group: Any, path: str, depth: int, named_by_class: bool) -> None:
        """Collect the 4-D ``vars`` below ``group``; ``named_by_class``: its name is its class's (in a list)."""
        if depth > 64:
            raise UserError(f"{label} nests groups more than 64 deep; it is not a weight file tdacnn reads")
        members = list(h5.children(group, label, counter))
        order = orders.get(path)
        if order:
            rank = {k: i for i, k in enumerate(order)}
            members.sort(key=lambda kv: (rank.get(kv[0], len(rank)), natural_key(kv[0])))
        for key, obj in members:
            sub = f"{path}/{key}" if path else key
            if not path and key == "optimizer":  # its slots mirror the kernels: not the network's weights
                continue
            if key == "vars" and h5.is_group(obj):
                cls = classes.get(path) or (path.rsplit("/", 1)[-1] if named_by_class else None)
                for vkey, ds in h5.children(obj, label, counter):
                    if h5.is_dataset(ds):
                        _add(weights, datasets, ds, label, size, cls, vkey)
            elif h5.is_group(obj):
                walk(obj, sub, depth + 1, path.rsplit("/", 1)[-1] in CONTAINERS)

    walk(f, "", 0, False)
    return weights, datasets


# ---- both ------------------------------------------------------------------
def _add(weights: list[KerasWeight], datasets: dict[str, Any], ds: Any, label: str, size: int,
         cls: str | None, leaf: str, layer_name: str = "") -> None:
    """Record ``ds`` if it is a 4-D weight (its size and storage checked first)."""
    if not h5.is_dataset(ds):
        raise UserError(f"{label} names a weight {ds.name!r} that is a group, not a dataset; it is damaged")
    info = h5.dataset_info(ds, label, size)
    if info is None or len(info[0]) != 4 or min(info[0]) < 1:
        return
    name = ds.name.lstrip("/")
    if name in datasets:
        return
    kind, problem = kind_of(cls, leaf.split(":")[0], layer_name)
    weights.append(KerasWeight(name, info[0], kind, problem))  # type: ignore[arg-type]
    datasets[name] = (ds, info[1])


def _json(text: str | None, label: str, what: str) -> Any:
    """A config parsed as plain JSON (None when absent); only class names and layer order are used."""
    if text is None:
        return None
    if len(text) > MAX_CONFIG_BYTES:
        raise UserError(f"{label}: its {what} is over {MAX_CONFIG_BYTES // 2**20} MiB; it is not a Keras file "
                        "tdacnn reads")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{label} has a damaged {what} ({_first_line(exc)})") from None


# ---- .keras archives -------------------------------------------------------
def _zip_config(path: Path, zf: zipfile.ZipFile) -> Any:
    info = zf.getinfo("config.json")
    if info.file_size > MAX_CONFIG_BYTES:
        raise UserError(f"{path.name}: its config.json is over {MAX_CONFIG_BYTES // 2**20} MiB; it is not a "
                        "Keras file tdacnn reads")
    try:
        text = zf.read(info).decode("utf-8")
    except Exception as exc:  # noqa: BLE001 - zlib.error, BadZipFile (CRC), UnicodeDecodeError
        raise UserError(f"{path.name} is a damaged .keras archive ({_first_line(exc)})") from exc
    config = _json(text, path.name, "config.json")
    if not isinstance(config, dict):
        raise UserError(f"{path.name} has a damaged config.json (not a JSON object)")
    return config


def _stored_start(path: Path, info: zipfile.ZipInfo) -> int | None:
    """Where a stored (uncompressed) member's bytes start in the archive; None if it is compressed."""
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    if info.flag_bits & 0x1:
        raise UserError(f"{path.name} is an encrypted zip archive; tdacnn cannot read it")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise UserError(f"{path.name} is a damaged .keras archive (bad local header for {_WEIGHTS_MEMBER})")
    n, m = struct.unpack("<HH", head[26:30])
    start = info.header_offset + 30 + n + m
    if start + info.file_size > path.stat().st_size:
        raise UserError(f"{path.name} is a truncated .keras archive ({_WEIGHTS_MEMBER} runs past its end)")
    return start


def _unpack(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """Unpack a compressed ``model.weights.h5`` to a temporary file, never past its declared size."""
    check_file_read(path, info.file_size, f": its {_WEIGHTS_MEMBER} would unpack to")
    fd, tmp = tempfile.mkstemp(prefix="tdacnn-keras-", suffix=".weights.h5")
    try:
        with open(fd, "wb") as out, zf.open(info) as member:
            left = info.file_size
            while left > 0:
                chunk = member.read(min(left, 1 << 20))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
    except Exception as exc:  # noqa: BLE001 - zlib.error, BadZipFile (CRC) ...
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path.name} is a damaged .keras archive ({_first_line(exc)})") from exc
    return tmp


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``fh`` from ``start`` (a stored zip member)."""

    def __init__(self, fh: Any, start: int, length: int) -> None:
        self._fh, self._start, self._length, self._pos = fh, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buf: Any) -> int:
        n = max(0, min(len(buf), self._length - self._pos))
        if n == 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(memoryview(buf)[:n])
        self._pos += got or 0
        return got or 0
