"""Image datasets as arrays: the bundled digits (default), MNIST, CIFAR-10.

``load_dataset(name, root=None, train=True, download=False)`` returns
normalised float32 images of shape (n, c, h, w) and int64 labels, following
torchvision's conventions (``root``, ``train``, ``download``; files under
``<root>/MNIST/raw`` and ``<root>/cifar-10-batches-py``), so a torchvision data
root serves tdacnn and the other way round.

Why tdacnn reads the files itself rather than through ``torchvision.datasets``
(measured with torchvision 0.29, issue 15): torchvision's ``MNIST`` looks for the
*unzipped* files, so on a read-only folder of the official ``.gz`` files it
answers "Dataset not found" (``download=False``) or fails writing 55 MB of
unzipped copies into ``raw/`` (``download=True``); its ``CIFAR10`` checks the
MD5s of all seven official files, so it refuses a folder holding some of the
batches, and it reads them with a plain ``pickle.load``.  The files, mirrors and
checksums are torchvision's (a test pins them); the readers accept both
torchvision's unzipped layout and the ``.gz``-only one.  Loading the 60,000
MNIST training images takes 0.29 s here from ``.gz`` (0.04 s unzipped),
torchvision 0.08 s after its 0.5 s first unzip: no reason either way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from tdacnn.errors import UserError
from tdacnn.progress import ProgressFn

__all__ = ["DATASETS", "check_dataset", "dataset_info", "default_root", "load_dataset"]

DatasetName = Literal["digits", "mnist", "cifar10"]


#: name -> (channels, image size, classes)
DATASETS: dict[str, tuple[int, int, int]] = {
    "digits": (1, 28, 10),
    "mnist": (1, 28, 10),
    "cifar10": (3, 32, 10),
}


def dataset_info(name: str) -> tuple[int, int, int]:
    """(channels, image_size, n_classes) of dataset ``name``."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def default_root() -> Path:
    """``$TDACNN_DATA`` or ``<tdacnn home>/datasets``."""
    env = os.environ.get("TDACNN_DATA")
    if env:
        return Path(env).expanduser()
    from tdacnn.config import home

    return home() / "datasets"


def check_dataset(name: str, root: str | Path | None = None, download: bool = False,
                  progress: ProgressFn | None = None) -> None:
    """Fail fast (UserError) when ``name``'s files are missing, downloading them if asked.

    Cheap: looks for the files without reading them (``load_dataset`` checks contents).
    ``progress`` receives the download's :class:`~tdacnn.progress.Progress` records (bytes).
    """
    dataset_info(name)
    if name == "digits":
        return
    root = Path(root).expanduser() if root is not None else default_root()
    if name == "mnist":
        from tdacnn.data._files import find_file
        from tdacnn.data.mnist import MNIST_FILES, mnist_folder

        folder = mnist_folder(root)
        missing = [s for s in MNIST_FILES if not find_file(folder, s)]
        if missing and download:
            from tdacnn.data.download import download_mnist

            download_mnist(root, progress)
        elif missing:
            raise UserError(f"MNIST not found: {missing[0]}[.gz] is missing in {folder} — pass download=True "
                            "(--download) or point root (--data-root) at a folder holding MNIST/raw/")
        return
    from tdacnn.data.cifar10 import cifar10_folder

    folder = cifar10_folder(root)
    have_train = any((folder / f"data_batch_{i}").is_file() for i in range(1, 6))
    if not (have_train and (folder / "test_batch").is_file()):
        if download:
            from tdacnn.data.download import download_cifar10

            download_cifar10(root, progress)
        else:
            raise UserError(f"CIFAR-10 not found: {folder} lacks data_batch_* or test_batch — pass download=True "
                            "(--download) or point root (--data-root) at a folder holding cifar-10-batches-py/")


def load_dataset(
    name: DatasetName, root: str | Path | None = None, train: bool = True, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset as normalised arrays.

    Parameters
    ----------
    name : {"digits", "mnist", "cifar10"}
        ``digits`` is scikit-learn's bundled 8x8 digits upscaled to 28x28 (no files needed).
    root : path, optional
        Folder holding ``MNIST/raw/`` or ``cifar-10-batches-py/`` (default :func:`default_root`).
    train : bool
        Training split, else test split.
    download : bool
        Download MNIST / CIFAR-10 into ``root`` if missing (needs internet).

    Returns
    -------
    images : ndarray of float32, shape (n, c, h, w)
        Normalised with the dataset's usual mean and standard deviation.
    labels : ndarray of int64, shape (n,)

    Raises
    ------
    UserError
        Unknown name, missing files (with the fix), corrupt or truncated files.
    """
    dataset_info(name)
    if name == "digits":
        from tdacnn.data.digits import DIGITS_MEAN, DIGITS_STD, load_digits

        images, labels = load_digits(train)
        # mean/std of the upscaled training images
        return ((images - DIGITS_MEAN) / DIGITS_STD)[:, None].astype(np.float32), labels
    root = Path(root).expanduser() if root is not None else default_root()
    if download:
        check_dataset(name, root, download=True)
    if name == "mnist":
        from tdacnn.data.mnist import MNIST_MEAN, MNIST_STD, load_mnist

        raw, labels = load_mnist(root, train)
        images = (raw.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD
        return images[:, None].astype(np.float32), labels
    from tdacnn.data.cifar10 import CIFAR10_MEAN, CIFAR10_STD, load_cifar10

    raw, labels = load_cifar10(root, train)
    mean = np.asarray(CIFAR10_MEAN, np.float32)[None, :, None, None]
    std = np.asarray(CIFAR10_STD, np.float32)[None, :, None, None]
    return ((raw.astype(np.float32) / 255.0 - mean) / std).astype(np.float32), labels
