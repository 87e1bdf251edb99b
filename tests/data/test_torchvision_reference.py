"""torchvision's datasets as the reference for tdacnn.data (issue 15): same files, same checksums, and why
tdacnn still reads them itself.

torchvision is no longer a dependency of tdacnn (it used it for one URL, now a constant checked here); the
tests use it as this reference and to build VGG16s.  The readers are ours because torchvision's cannot read the two layouts tdacnn must read (measured with
torchvision 0.29): a read-only ``MNIST/raw`` holding only the official ``.gz`` files (torchvision checks
for the *unzipped* names and, with ``download=True``, writes 55 MB of unzipped copies into ``raw/``), and
a CIFAR-10 folder holding some of the batches (torchvision checks the MD5s of all seven files).  If the
last two tests start failing, torchvision has learnt to: then use it and delete our readers.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from torchvision.datasets import CIFAR10, MNIST

from tdacnn.data.cifar10 import CIFAR10_FOLDER, CIFAR10_MD5, load_cifar10
from tdacnn.data.download import CIFAR10_TAR_MD5, CIFAR10_URL, MNIST_MIRRORS
from tdacnn.data.mnist import MNIST_FILES, load_mnist


def test_the_vgg16_weights_url_is_torchvisions():
    """tdacnn fetches VGG16's ImageNet weights without importing torchvision (no longer a dependency)."""
    from torchvision.models import VGG16_Weights

    from tdacnn.nets.vgg import VGG16_FILE, VGG16_URL

    assert VGG16_URL == VGG16_Weights.IMAGENET1K_V1.url and VGG16_URL.endswith("/" + VGG16_FILE)


def test_mirrors_urls_and_checksums_are_torchvisions():
    assert MNIST_FILES == {name.removesuffix(".gz"): md5 for name, md5 in MNIST.resources}
    assert MNIST_MIRRORS == tuple(MNIST.mirrors)
    assert (CIFAR10_URL, CIFAR10_TAR_MD5, CIFAR10_FOLDER) == (CIFAR10.url, CIFAR10.tgz_md5, CIFAR10.base_folder)
    assert CIFAR10_MD5 == dict(CIFAR10.train_list + CIFAR10.test_list)


def _copy(src, dest):
    """A copy of a shared-data folder: torchvision must never be pointed at ../shared/data (it may write)."""
    shutil.copytree(src, dest)
    return dest


def test_torchvision_cannot_read_the_gz_only_mnist_layout_but_reads_the_same_pixels_unzipped(shared_data, tmp_path):
    root = tmp_path / "data"
    _copy(shared_data / "MNIST", root / "MNIST")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        MNIST(root, train=False, download=False)
    images, labels = load_mnist(root, train=False)
    ds = MNIST(root, train=False, download=True)  # no download: unzips the .gz files it finds, in place
    assert np.array_equal(ds.data.numpy(), images) and np.array_equal(ds.targets.numpy(), labels)


def test_torchvision_cannot_read_a_cifar10_subset(shared_data, tmp_path):
    root = tmp_path / "data"
    _copy(shared_data / CIFAR10_FOLDER, root / CIFAR10_FOLDER)
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        CIFAR10(root, train=False, download=False)
    images, labels = load_cifar10(root, train=False)
    assert images.shape == (1000, 3, 32, 32) and len(labels) == 1000
