"""MNIST from the original IDX files (gzipped or not), torchvision's layout.

Files are looked up in ``<root>/MNIST/raw/`` (torchvision's layout), or directly
in ``root`` when it already is that folder.  The official files are checked
against their published MD5s; an uncompressed copy is accepted as is and
checked structurally (magic number, sizes).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tdacnn.data._files import find_file, md5sum, read_bytes
from tdacnn.errors import UserError

__all__ = ["MNIST_FILES", "MNIST_MEAN", "MNIST_STD", "mnist_folder", "read_idx", "load_mnist"]

log = logging.getLogger(__name__)

#: official file stem -> MD5 of the official ``.gz`` file (torchvision's ``MNIST.resources``)
MNIST_FILES = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: the usual normalisation constants (of the training images scaled to [0, 1])
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def mnist_folder(root: str | Path) -> Path:
    """The folder holding the raw files: ``root/MNIST/raw`` or ``root`` itself."""
    root = Path(root).expanduser()
    for cand in (root / "MNIST" / "raw", root / "raw", root):
        if any(find_file(cand, stem) for stem in MNIST_FILES):
            return cand
    return root / "MNIST" / "raw"


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes.

    Parameters
    ----------
    path : Path
        ``.gz`` or uncompressed IDX file.
    ndim : int
        Expected number of dimensions (1 for labels, 3 for images).

    Returns
    -------
    ndarray of uint8, of shape (n,) or (n, rows, cols)
    """
    data = read_bytes(path)
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"{path} is truncated: only {len(data)} bytes")
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x0800 + ndim:
        raise UserError(f"{path} is not an IDX file of {ndim}-D unsigned bytes (magic number {magic:#x})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise UserError(
            f"{path} is corrupt or truncated: header says {expected} values, file holds {len(data) - offset}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def load_mnist(root: str | Path, train: bool = True, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST images and labels.

    Parameters
    ----------
    root : path
        Folder holding ``MNIST/raw/`` (or the raw folder itself).
    train : bool
        The 60,000 training images, else the 10,000 test images.
    check : bool
        Verify MD5s of official ``.gz`` files (uncompressed copies are checked structurally only).

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
    labels : ndarray of int64, shape (n,)
    """
    folder = mnist_folder(root)
    prefix = "train" if train else "t10k"
    paths = {}
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = f"{prefix}-{kind}"
        path = find_file(folder, stem)
        if path is None:
            raise UserError(
                f"MNIST not found: {stem}[.gz] is missing in {folder} — pass download=True "
                f"or point root at a folder holding MNIST/raw/"
            )
        if check and path.suffix == ".gz" and md5sum(path) != MNIST_FILES[stem]:
            raise UserError(f"{path} does not match the official MNIST checksum (corrupt or truncated); "
                            "delete it and download it again")
        paths[kind] = path
    images = read_idx(paths["images-idx3-ubyte"], 3)
    labels = read_idx(paths["labels-idx1-ubyte"], 1).astype(np.int64)
    if len(images) != len(labels):
        raise UserError(f"MNIST files in {folder} disagree: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise UserError(f"{paths['labels-idx1-ubyte']} holds labels above 9: not MNIST")
    log.info("MNIST %s: %d images from %s", prefix, len(images), folder)
    return images, labels
