"""Open a weight file without ever running code from it.

One door for every format a user may bring:

=================  ==========================================================
``torch-zip``      ``torch.save`` (zip container, PyTorch >= 1.6): read with
                   ``torch.load(weights_only=True, mmap=True)``, so tensors are
                   paged in from disk only when a layer is asked for.
``torch-legacy``   the old non-zip ``torch.save`` stream: ``weights_only=True``
                   (no mmap, so the whole file is read).
``safetensors``    header checked by hand, then ``safe_open`` (lazy per tensor).
``npy``            one array, ``np.load(allow_pickle=False, mmap_mode="r")``.
``npz``            several arrays; each member's header is checked before it
                   is read, so a small file cannot declare a huge array.
``keras-h5``       Keras 2 ``.h5`` and Keras 3 ``.weights.h5`` (reported as
                   ``keras-weights`` once opened), and ``.keras`` archives
``keras-zip``      (:mod:`~tdacnn.nets.safeload_keras`): ``h5py`` on the
                   weights alone, read once in a child process first; HWIO
                   kernels turned to OIHW; the model config is never built.
``onnx``           ``Conv``/``ConvTranspose`` weights of an ONNX graph, with the
                   ``onnx`` package (no runtime); external data from beside
                   the model only.
=================  ==========================================================

Anything that needs more than plain tensors (a pickled ``nn.Module``, an
``argparse.Namespace``, a ``__reduce__`` that calls ``os.system``) is refused with
a :class:`~tdacnn.errors.UserError` that names what the file asked for; the
globals are found by reading the pickle's opcodes (``pickletools``), which
executes nothing.

This module sniffs the format and opens PyTorch files; the safetensors, numpy,
Keras and ONNX openers live in :mod:`tdacnn.nets.safeload_safetensors`,
:mod:`tdacnn.nets.safeload_numpy`, :mod:`tdacnn.nets.safeload_keras` and
:mod:`tdacnn.nets.safeload_onnx`, and :class:`TensorSource` in
:mod:`tdacnn.nets.tensor_source` (all re-exported here: import from this module).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.limits import check_archive, check_file_read
from tdacnn.nets.safeload_h5 import HDF5_MAGIC
from tdacnn.nets.safeload_keras import _open_keras_h5, _open_keras_zip, is_keras_zip
from tdacnn.nets.safeload_numpy import _open_npy, _open_npz
from tdacnn.nets.safeload_onnx import _open_onnx
from tdacnn.nets.safeload_safetensors import _open_safetensors
from tdacnn.nets.tensor_source import (
    MAX_TENSOR_BYTES,
    Format,
    TensorSource,
    _first_line,
    natural_key,
)

__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_TENSOR_BYTES",
    "Format",
    "TensorSource",
    "natural_key",
    "open_tensors",
    "sniff_format",
    "safe_upload_name",
]

log = logging.getLogger(__name__)

#: Largest file the browser upload accepts (bigger files: a server-side path or the CLI).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------
def safe_upload_name(name: str, default: str = "upload") -> str:
    """A file name safe to use on the server, made from a client-supplied name.

    Directories (POSIX or Windows), drive letters, ``..``, control characters and
    anything but letters, digits, ``.``, ``-``, ``_`` are dropped; the result never
    starts with a dot and is at most 100 characters.  Never use the client's name
    itself as a path.

    Examples
    --------
    >>> safe_upload_name("../../etc/passwd")
    'passwd'
    >>> safe_upload_name("C:\\\\Users\\\\me\\\\vgg 16.pth")
    'vgg_16.pth'
    """
    base = PureWindowsPath(PurePosixPath(str(name or "")).name).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    base = re.sub(r"\.{2,}", ".", base)
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 100 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 16 else base[:100]
    return base or default


# ---------------------------------------------------------------------------
# format detection
# ---------------------------------------------------------------------------
def sniff_format(path: Path) -> Format:
    """Tell the format of ``path`` from its first bytes (never from its name alone).

    Raises
    ------
    UserError
        If the file is missing, empty, or not one of the supported formats.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path.name} is empty")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK"):
        try:
            zf = zipfile.ZipFile(path)
        except Exception as exc:  # noqa: BLE001 - BadZipFile, NotImplementedError, OverflowError ...
            raise UserError(f"{path.name} is a damaged or truncated zip archive ({_first_line(exc)})") from exc
        with zf:  # declared sizes first: a small archive may unpack to gigabytes
            check_archive(path, zf)
            names = zf.namelist()
        if any(n.endswith("data.pkl") for n in names):
            return "torch-zip"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        if is_keras_zip(names):
            return "keras-zip"
        raise UserError(f"{path.name} is a zip archive but neither a PyTorch checkpoint nor a .npz of arrays "
                        "(nor a .keras model)")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "torch-legacy"
    if head.startswith(HDF5_MAGIC):
        return "keras-h5"
    if size >= 10 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    if head[:1] == b"\x08" and len(head) > 1 and 1 <= head[1] <= 30:  # ONNX ModelProto: field 1, ir_version, written first
        return "onnx"
    raise UserError(
        f"{path.name} is not a weight file tdacnn can read "
        "(expected a PyTorch .pt/.pth/.bin, .safetensors, .npy, .npz, Keras .h5/.keras or .onnx)"
    )


# ---------------------------------------------------------------------------
# opening
# ---------------------------------------------------------------------------
def open_tensors(path: str | Path) -> TensorSource:
    """Open any supported weight file as a :class:`TensorSource` (use as a context manager).

    Raises
    ------
    UserError
        Empty, damaged, truncated or unknown files; pickles that would run code or
        need classes; declared sizes larger than the file; no tensors at all.
    """
    path = Path(path)
    fmt = sniff_format(path)
    opener = {
        "torch-zip": _open_torch,
        "torch-legacy": _open_torch,
        "safetensors": _open_safetensors,
        "npy": _open_npy,
        "npz": _open_npz,
        "keras-h5": _open_keras_h5,
        "keras-zip": _open_keras_zip,
        "onnx": _open_onnx,
    }[fmt]
    src = opener(path, fmt)
    log.debug("opened %s as %s: %d tensors", path.name, fmt, len(src.names))
    if not src.names:
        src.close()
        raise UserError(f"{path.name} contains no tensors")
    return src


# ---- torch -----------------------------------------------------------------
def _open_torch(path: Path, fmt: Format) -> TensorSource:
    """A :class:`TensorSource` over a ``torch.save`` file, loaded with ``weights_only=True``."""
    import pickle

    import torch

    from tdacnn.nets.pickle_scan import refusal
    from tdacnn.nets.unwrap import unwrap_checkpoint

    if fmt == "torch-legacy":  # no mmap for the old format: torch reads the whole file into memory
        check_file_read(path, path.stat().st_size, "(an old-style torch.save file, read whole into memory) holds")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=(fmt == "torch-zip"))
    except pickle.UnpicklingError as exc:
        refusal_error = refusal(path, fmt)
        if refusal_error is not None:
            raise refusal_error from None
        raise UserError(f"{path.name} is a damaged or truncated PyTorch file ({_reason(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - hostile bytes can make torch raise anything
        raise UserError(f"{path.name} is a damaged or truncated PyTorch file ({_reason(exc)})") from exc
    tensors, extras = unwrap_checkpoint(obj, path.name)
    for name, t in tensors.items():
        if t.numel() * t.element_size() > MAX_TENSOR_BYTES:
            raise UserError(f"tensor {quote(name)} in {path.name} is too large ({tuple(t.shape)})")
    shapes = {n: tuple(int(s) for s in t.shape) for n, t in tensors.items()}
    itemsizes = {n: int(t.element_size()) for n, t in tensors.items()}

    def get(name: str) -> np.ndarray:
        t = tensors[name].detach()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.to(torch.float32)
        return t.numpy()

    return TensorSource(path, fmt, list(tensors), shapes, extras, "stored", get, tensors.clear, tensors.__getitem__,
                        itemsizes=itemsizes)


def _reason(exc: BaseException) -> str:
    """A short reason: torch's weights-only errors put theirs after a long preamble."""
    text = str(exc)
    m = re.search(r"WeightsUnpickler error: ([^\n]+)", text)
    return (m.group(1) if m else _first_line(exc)).split(". ")[0][:160]
