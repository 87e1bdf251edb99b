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
=================  ==========================================================

Anything that needs more than plain tensors (a pickled ``nn.Module``, an
``argparse.Namespace``, a ``__reduce__`` that calls ``os.system``) is refused with
a :class:`~tdacnn.errors.UserError` that names what the file asked for; the
globals are found by reading the pickle's opcodes (``pickletools``), which
executes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Literal

import numpy as np

from tdacnn.errors import UserError

__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_TENSOR_BYTES",
    "Format",
    "TensorSource",
    "open_tensors",
    "sniff_format",
    "safe_upload_name",
]

log = logging.getLogger(__name__)

#: Largest file the browser upload accepts (bigger files: a server-side path or the CLI).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Largest single tensor tdacnn will materialise (VGG16's biggest conv layer is 9 MB).
MAX_TENSOR_BYTES = 4 * 1024**3
#: Largest safetensors JSON header accepted (the format itself caps it at 100 MB).
_MAX_HEADER_BYTES = 100 * 1024 * 1024

Format = Literal["torch-zip", "torch-legacy", "safetensors", "npy", "npz"]

_ST_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}  # fmt: skip

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
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except Exception as exc:  # noqa: BLE001 - BadZipFile, NotImplementedError, OverflowError ...
            raise UserError(f"{path.name} is a damaged or truncated zip archive ({_first_line(exc)})") from None
        if any(n.endswith("data.pkl") for n in names):
            return "torch-zip"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise UserError(f"{path.name} is a zip archive but neither a PyTorch checkpoint nor a .npz of arrays")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "torch-legacy"
    if size >= 10 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    raise UserError(
        f"{path.name} is not a weight file tdacnn can read "
        "(expected a PyTorch .pt/.pth/.bin, .safetensors, .npy or .npz)"
    )


# ---------------------------------------------------------------------------
# the tensor source
# ---------------------------------------------------------------------------
@dataclass
class TensorSource:
    """Names and shapes of every tensor in a file; data read one tensor at a time.

    Attributes
    ----------
    path : Path
    format : str
    names : list of str
        Tensor names in network order (stored order, or natural name order for
        safetensors, which does not keep the order of the model).
    shapes : dict of str to tuple of int
    extras : dict
        Non-tensor entries of a wrapping dict (``epoch``, ``iteration``, a tdacnn
        checkpoint's ``format``/``config``/``arch`` ...), plain Python values only.
    order : str
        ``"stored"`` or ``"natural-name"``.
    """

    path: Path
    format: str
    names: list[str]
    shapes: dict[str, tuple[int, ...]]
    extras: dict[str, Any] = field(default_factory=dict)
    order: str = "stored"
    _getter: Callable[[str], np.ndarray] | None = None
    _close: Callable[[], None] | None = None
    _native: Callable[[str], Any] | None = None

    def get(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a float32/float64 numpy array (a private copy).

        Raises
        ------
        UserError
            If the tensor holds NaN or infinite values, or is not numeric.
        """
        if name not in self.shapes:
            raise UserError(f"{self.path.name} has no tensor named {name!r}")
        try:
            arr = self._getter(name)  # type: ignore[misc]
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - sparse/quantized tensors, damaged data
            raise UserError(f"tensor {name!r} in {self.path.name} cannot be read ({_first_line(exc)})") from None
        if arr.dtype.kind not in "fiub":
            raise UserError(f"tensor {name!r} in {self.path.name} is not real-valued (dtype {arr.dtype})")
        arr = np.array(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32, copy=True)
        if not np.all(np.isfinite(arr)):
            raise UserError(f"tensor {name!r} in {self.path.name} contains NaN or infinite values")
        return arr

    def tensor(self, name: str) -> Any:
        """The tensor ``name`` as a ``torch.Tensor`` in its stored dtype (a private copy, unchecked)."""
        import torch

        if name not in self.shapes:
            raise UserError(f"{self.path.name} has no tensor named {name!r}")
        if self._native is not None:
            return self._native(name).detach().clone()
        return torch.from_numpy(np.array(self._getter(name), copy=True))  # type: ignore[misc]

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None
        self._getter = None

    def __enter__(self) -> "TensorSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def natural_key(name: str) -> list:
    """Sort key that orders ``features.2`` before ``features.10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


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
    }[fmt]
    src = opener(path, fmt)
    log.debug("opened %s as %s: %d tensors", path.name, fmt, len(src.names))
    if not src.names:
        src.close()
        raise UserError(f"{path.name} contains no tensors")
    return src


# ---- torch -----------------------------------------------------------------
def _open_torch(path: Path, fmt: Format) -> TensorSource:
    import pickle

    import torch

    from tdacnn.nets.pickle_scan import refusal
    from tdacnn.nets.unwrap import unwrap_checkpoint

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=(fmt == "torch-zip"))
    except pickle.UnpicklingError as exc:
        refusal_error = refusal(path, fmt)
        if refusal_error is not None:
            raise refusal_error from None
        raise UserError(f"{path.name} is a damaged or truncated PyTorch file ({_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes can make torch raise anything
        raise UserError(f"{path.name} is a damaged or truncated PyTorch file ({_reason(exc)})") from None
    tensors, extras = unwrap_checkpoint(obj, path.name)
    for name, t in tensors.items():
        if t.numel() * t.element_size() > MAX_TENSOR_BYTES:
            raise UserError(f"tensor {name!r} in {path.name} is too large ({tuple(t.shape)})")
    shapes = {n: tuple(int(s) for s in t.shape) for n, t in tensors.items()}

    def get(name: str) -> np.ndarray:
        t = tensors[name].detach()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.to(torch.float32)
        return t.numpy()

    return TensorSource(path, fmt, list(tensors), shapes, extras, "stored", get, tensors.clear, tensors.__getitem__)


def _reason(exc: BaseException) -> str:
    """A short reason: torch's weights-only errors put theirs after a long preamble."""
    text = str(exc)
    m = re.search(r"WeightsUnpickler error: ([^\n]+)", text)
    return (m.group(1) if m else _first_line(exc)).split(". ")[0][:160]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# ---- safetensors -------------------------------------------------------------
def _check_safetensors_header(path: Path) -> dict[str, Any]:
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
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{path.name}: tensor {name!r} has a damaged safetensors entry") from None
        nbytes = width * int(np.prod(shape, dtype=object))
        if min(shape, default=0) < 0 or nbytes > MAX_TENSOR_BYTES or end > data_len or begin < 0 or end - begin != nbytes:
            raise UserError(
                f"{path.name}: tensor {name!r} declares shape {tuple(shape)} ({nbytes} bytes) "
                f"but the file holds {data_len} bytes of data; it is damaged or hostile"
            )
    return header


def _open_safetensors(path: Path, fmt: Format) -> TensorSource:
    from safetensors import safe_open

    header = _check_safetensors_header(path)
    try:
        handle = safe_open(str(path), framework="pt")
        handle.__enter__()
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise UserError(f"{path.name} is not a readable safetensors file ({_first_line(exc)})") from None
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

    return TensorSource(path, fmt, names, shapes, extras, "natural-name", get, close, handle.get_tensor)


# ---- numpy -------------------------------------------------------------------
def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
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
    if dtype.hasobject:
        raise UserError(f"array {name!r} in {path.name} holds Python objects; tdacnn only reads numeric arrays")
    if dtype.kind not in "fiub":
        raise UserError(f"array {name!r} in {path.name} is not numeric (dtype {dtype})")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > MAX_TENSOR_BYTES or nbytes > room:
        raise UserError(
            f"array {name!r} in {path.name} declares shape {shape} ({nbytes} bytes) "
            f"but the file holds at most {room} bytes; it is damaged or hostile"
        )


def _open_npy(path: Path, fmt: Format) -> TensorSource:
    try:
        with open(path, "rb") as fh:
            shape, dtype = _npy_header(fh)
            offset = fh.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        raise UserError(f"{path.name} is not a readable .npy file ({_first_line(exc)})") from None
    name = path.stem
    _check_array_decl(path, name, shape, dtype, path.stat().st_size - offset)

    def get(_: str) -> np.ndarray:
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise UserError(f"{path.name} is not a readable .npy file ({_first_line(exc)})") from None

    return TensorSource(path, fmt, [name], {name: shape}, {}, "stored", get, None)


def _open_npz(path: Path, fmt: Format) -> TensorSource:
    shapes: dict[str, tuple[int, ...]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename[: -len(".npy")]
                with zf.open(info) as fh:
                    shape, dtype = _npy_header(fh)
                _check_array_decl(path, name, shape, dtype, info.file_size)
                shapes[name] = shape
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib.error, NotImplementedError ... from hostile archives
        raise UserError(f"{path.name} is not a readable .npz file ({_first_line(exc)})") from None
    npz = np.load(path, allow_pickle=False)

    def get(name: str) -> np.ndarray:
        try:
            return npz[name]
        except Exception as exc:  # noqa: BLE001 - as above, for the array data
            raise UserError(f"array {name!r} in {path.name} is damaged ({_first_line(exc)})") from None

    return TensorSource(path, fmt, list(shapes), shapes, {}, "stored", get, npz.close)
