"""CIFAR-10 from the official "python version" batches, read without running pickled code.

The batches are pickles; a pickle can name any callable, so they are read with
a restricted unpickler that only rebuilds plain containers, bytes and numpy
arrays, and refuses everything else.  A folder holding only some of the batches
(e.g. a subset for tests) is accepted; the number of images found is logged and
returned.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import numpy as np

from tdacnn.data._files import md5sum
from tdacnn.errors import UserError

__all__ = [
    "CIFAR10_FOLDER", "CIFAR10_MD5", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_CLASSES",
    "cifar10_folder", "safe_unpickle", "load_cifar10",
]

log = logging.getLogger(__name__)

CIFAR10_FOLDER = "cifar-10-batches-py"
#: official batch name -> MD5 (torchvision's ``CIFAR10.train_list + test_list``);
#: a mismatch is logged, not fatal (subsets)
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in pickle protocol 2
}


class _SafeUnpickler(pickle.Unpickler):
    """Rebuilds only dicts, lists, str, bytes, numbers and numpy arrays."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def safe_unpickle(data: bytes):
    """Unpickle ``data`` allowing only plain data and numpy arrays (``encoding="bytes"``)."""
    return _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()


def cifar10_folder(root: str | Path) -> Path:
    """``root/cifar-10-batches-py`` or ``root`` itself when it holds batches."""
    root = Path(root).expanduser()
    if (root / CIFAR10_FOLDER).is_dir():
        return root / CIFAR10_FOLDER
    if any((root / name).is_file() for name in CIFAR10_MD5):
        return root
    return root / CIFAR10_FOLDER


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        obj = safe_unpickle(path.read_bytes())
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refusing"):
            raise UserError(f"{path} is not a CIFAR-10 batch: {exc}") from None
        raise UserError(f"{path} is corrupt or truncated ({exc})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, OSError) as exc:
        raise UserError(f"{path} is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise UserError(f"{path} is not a CIFAR-10 batch (not a dict)")
    obj = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in obj or "labels" not in obj:
        raise UserError(f"{path} is not a CIFAR-10 batch (no 'data' or 'labels')")
    data = np.asarray(obj["data"])
    labels = np.asarray(obj["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise UserError(
            f"{path} is corrupt: data of shape {data.shape} ({data.dtype}) with {len(labels)} labels; "
            "expected (n, 3072) uint8 and n labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise UserError(f"{path} holds labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | Path, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw CIFAR-10 images and labels from whichever official batches are present.

    Parameters
    ----------
    root : path
        Folder holding ``cifar-10-batches-py/`` (or that folder itself).
    train : bool
        The training batches ``data_batch_1..5`` (those present), else ``test_batch``.

    Returns
    -------
    images : ndarray of uint8, shape (n, 3, 32, 32)
    labels : ndarray of int64, shape (n,)
    """
    folder = cifar10_folder(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    present = [folder / n for n in names if (folder / n).is_file()]
    if not present:
        raise UserError(
            f"CIFAR-10 not found: no {'data_batch_1..5' if train else 'test_batch'} in {folder} — "
            "pass download=True or point root at a folder holding cifar-10-batches-py/"
        )
    parts = [_read_batch(p) for p in present]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    unofficial = [p.name for p in present if md5sum(p) != CIFAR10_MD5[p.name]]
    log.info(
        "CIFAR-10 %s: found %d images in %d of %d batches in %s%s",
        "train" if train else "test", len(images), len(present), len(names), folder,
        f" ({', '.join(unofficial)} differ from the official files: a subset?)" if unofficial else "",
    )
    return images, labels
