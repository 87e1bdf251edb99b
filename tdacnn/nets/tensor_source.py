"""What every weight-file opener returns: a :class:`TensorSource`.

Shared by :mod:`tdacnn.nets.safeload` (the one door users go through) and the
per-format openers (:mod:`tdacnn.nets.safeload_safetensors`,
:mod:`tdacnn.nets.safeload_numpy`), so that none of them imports another in a
cycle.  Holds the size cap every opener checks declared sizes against, the
natural name order, and the one-line error reasons all openers put in their
:class:`~tdacnn.errors.UserError` sentences.  numpy only (torch is imported
lazily, by :meth:`TensorSource.tensor` alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from tdacnn.errors import UserError, quote

__all__ = ["MAX_TENSOR_BYTES", "Format", "TensorSource", "natural_key"]

#: Largest single tensor tdacnn will materialise (VGG16's biggest conv layer is 9 MB).
MAX_TENSOR_BYTES = 4 * 1024**3

Format = Literal["torch-zip", "torch-legacy", "safetensors", "npy", "npz", "keras-h5", "keras-weights", "keras-zip",
                 "onnx"]


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
    itemsizes : dict of str to int
        Bytes per value as stored (4 when not given).
    layers : list of ConvLayer or None
        The conv layers as the file's own structure tells them (Keras, ONNX: layer
        classes, node types, kernel layouts); None: found from names and shapes
        (:func:`tdacnn.nets.layers.discover_conv_layers`).

    Everything read from the file through :meth:`get` and :meth:`tensor` is added up,
    from the declared shapes, before it is read: past :func:`tdacnn.limits.file_budget`
    the read is refused with a sentence (a small compressed file cannot make a job
    hold gigabytes).
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
    itemsizes: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    layers: list | None = None

    def _account(self, name: str, itemsize: int) -> None:
        """Count ``name``'s bytes as read (at ``itemsize`` a value), or refuse past the file budget."""
        from tdacnn.limits import check_file_read

        nbytes = int(np.prod(self.shapes[name], dtype=np.int64)) * itemsize
        check_file_read(self.path, self.bytes_read + nbytes, ": reading its tensors would take")
        self.bytes_read += nbytes

    def get(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a float32/float64 numpy array (a private copy).

        Raises
        ------
        UserError
            If the tensor holds NaN or infinite values, or is not numeric.
        """
        if name not in self.shapes:
            raise UserError(f"{self.path.name} has no tensor named {quote(name)}")
        self._account(name, 8 if self.itemsizes.get(name) == 8 else 4)  # float64 stays float64, the rest float32
        try:
            arr = self._getter(name)  # type: ignore[misc]
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - sparse/quantized tensors, damaged data
            raise UserError(f"tensor {quote(name)} in {self.path.name} cannot be read ({_first_line(exc)})") from exc
        if arr.dtype.kind not in "fiub":
            raise UserError(f"tensor {quote(name)} in {self.path.name} is not real-valued (dtype {arr.dtype})")
        arr = np.array(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32, copy=True)
        if not np.all(np.isfinite(arr)):
            raise UserError(f"tensor {quote(name)} in {self.path.name} contains NaN or infinite values")
        return arr

    def tensor(self, name: str) -> Any:
        """The tensor ``name`` as a ``torch.Tensor`` in its stored dtype (a private copy, unchecked)."""
        import torch

        if name not in self.shapes:
            raise UserError(f"{self.path.name} has no tensor named {quote(name)}")
        self._account(name, self.itemsizes.get(name, 4))
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


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none), at most 200 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
