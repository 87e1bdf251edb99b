"""MNIST reader against the real files in ../shared/data (read in place, read-only)."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from tdacnn.data import load_dataset
from tdacnn.data.mnist import load_mnist, read_idx
from tdacnn.errors import UserError


def test_real_train_split(shared_data):
    images, labels = load_mnist(shared_data, train=True)
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.tolist()[:5] == [5, 0, 4, 1, 9]
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_real_test_split_normalised(shared_data):
    x, y = load_dataset("mnist", shared_data, train=False)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist()[:5] == [7, 2, 1, 0, 4]
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05


def test_raw_folder_and_uncompressed_files(shared_data, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(shared_data / "MNIST" / "raw" / f"{stem}.gz") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    images, labels = load_mnist(raw, train=False)  # root may be the raw folder itself
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]


def test_missing_files_say_how_to_fix(tmp_path):
    with pytest.raises(UserError, match="MNIST not found.*download=True"):
        load_dataset("mnist", tmp_path)


def test_truncated_gz_is_a_clear_error(shared_data, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        data = (shared_data / "MNIST" / "raw" / name).read_bytes()
        (raw / name).write_bytes(data[: len(data) // 2] if "images" in name else data)
    with pytest.raises(UserError, match="checksum"):
        load_mnist(tmp_path, train=False)
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_mnist(tmp_path, train=False, check=False)


def test_truncated_idx_is_a_clear_error(tmp_path):
    header = (0x0803).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(header + bytes(100))
    with pytest.raises(UserError, match="truncated"):
        read_idx(path, 3)
    path.write_bytes(b"junk" * 10)
    with pytest.raises(UserError, match="magic number"):
        read_idx(path, 3)


def test_download_without_internet_fails_clearly(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(UserError, match="could not download"):
        load_dataset("mnist", tmp_path, download=True)
