"""CIFAR-10 reader against the real 5,000-image subset, and its refusal of pickled code."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tdacnn.data import load_dataset
from tdacnn.data.cifar10 import load_cifar10, safe_unpickle
from tdacnn.errors import UserError


def test_real_subset(shared_data, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="tdacnn.data.cifar10"):
        images, labels = load_cifar10(shared_data, train=True)
    assert images.shape == (4000, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist()[:5] == [6, 9, 9, 4, 1]
    assert np.bincount(labels, minlength=10).sum() == 4000 and (np.bincount(labels) > 300).all()
    assert "found 4000 images in 1 of 5 batches" in caplog.text


def test_real_test_batch_normalised(shared_data):
    x, y = load_dataset("cifar10", shared_data / "cifar-10-batches-py", train=False)
    assert x.shape == (1000, 3, 32, 32) and x.dtype == np.float32 and len(y) == 1000
    assert y.tolist()[:5] == [3, 8, 8, 0, 6]
    assert np.all(np.abs(x.mean(axis=(0, 2, 3))) < 0.1)


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_pickled_code_is_refused(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        safe_unpickle(pickle.dumps({"data": Evil()}))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({"data": Evil(), "labels": [1]}))
    with pytest.raises(UserError, match="not a CIFAR-10 batch"):
        load_cifar10(tmp_path, train=False)


def test_truncated_batch_is_a_clear_error(shared_data, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = (shared_data / "cifar-10-batches-py" / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_cifar10(tmp_path, train=False)


def test_wrong_shapes_are_refused(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(UserError, match="expected \\(n, 3072\\)"):
        load_cifar10(tmp_path, train=False)


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(UserError, match="CIFAR-10 not found.*download=True"):
        load_dataset("cifar10", tmp_path)
