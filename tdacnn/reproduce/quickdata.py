"""The small data root of ``--quick``: the first images of the real datasets.

Quick mode exists for tests: its few networks are trained for a few steps, and
the time goes into reading and evaluating whole datasets.  So it reads the real
files once and writes a subset — the first ``n_train`` / ``n_test`` MNIST images
as uncompressed IDX files (which the MNIST loader checks structurally), and a
link to the CIFAR-10 folder as it is (its test split is the smaller one) — under
the runs folder, where it is reused.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["quick_data_root", "write_idx", "QUICK_TRAIN", "QUICK_TEST"]

log = logging.getLogger(__name__)

#: Images per split in quick mode.
QUICK_TRAIN, QUICK_TEST = 2000, 500


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array (labels (n,) or images (n, h, w)) as an uncompressed IDX file."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x0800 + a.ndim).to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(header + a.tobytes())
    tmp.replace(path)


def _mnist_subset(src_root: Path, dest: Path, n_train: int, n_test: int) -> None:
    from tdacnn.data.mnist import load_mnist

    raw = dest / "MNIST" / "raw"
    if (raw / "t10k-labels-idx1-ubyte").is_file():
        return
    raw.mkdir(parents=True, exist_ok=True)
    for train, prefix, n in ((True, "train", n_train), (False, "t10k", n_test)):
        images, labels = load_mnist(src_root, train)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[:n])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[:n])


def _cifar_link(src_root: Path, dest: Path) -> None:
    from tdacnn.data.cifar10 import cifar10_folder

    src = cifar10_folder(src_root)
    out = dest / "cifar-10-batches-py"
    if src.is_dir() and not out.exists():
        out.symlink_to(src.resolve(), target_is_directory=True)


def quick_data_root(src_root: Path, dest: Path, n_train: int = QUICK_TRAIN, n_test: int = QUICK_TEST) -> Path:
    """A data root holding the first images of ``src_root``'s MNIST and its CIFAR-10 (made once).

    Returns ``src_root`` itself when it holds no MNIST.
    """
    from tdacnn.data._files import find_file
    from tdacnn.data.mnist import mnist_folder

    src_root = Path(src_root)
    if find_file(mnist_folder(src_root), "t10k-labels-idx1-ubyte") is None:
        return src_root  # nothing to cut: the missing-data errors then name the user's folder
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    _mnist_subset(src_root, dest, n_train, n_test)
    _cifar_link(src_root, dest)
    log.info("quick data root %s (first %d / %d images)", dest, n_train, n_test)
    return dest
