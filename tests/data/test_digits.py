"""The bundled digits: the embedded default dataset."""

from __future__ import annotations

import numpy as np
import pytest

from tdacnn.data import check_dataset, dataset_info, load_dataset
from tdacnn.data.digits import _upscale, load_digits
from tdacnn.errors import UserError


def test_split_shapes_and_labels():
    xtr, ytr = load_dataset("digits")
    xte, yte = load_dataset("digits", train=False)
    assert xtr.shape == (1437, 1, 28, 28) and xte.shape == (360, 1, 28, 28)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert sorted(set(ytr.tolist())) == list(range(10)) and len(ytr) + len(yte) == 1797
    assert abs(float(xtr.mean())) < 0.01 and abs(float(xtr.std()) - 1) < 0.01


def test_upscaling_keeps_corners_and_range():
    raw, _ = load_digits(size=8)
    up = _upscale(raw.astype(np.float64), 28)
    assert np.allclose(up[:, 0, 0], raw[:, 0, 0]) and np.allclose(up[:, -1, -1], raw[:, -1, -1])
    assert up.min() >= 0 and up.max() <= 1


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("imagenet")
    with pytest.raises(UserError, match="unknown dataset"):
        dataset_info("svhn")


def test_check_dataset(shared_data, tmp_path):
    check_dataset("digits")
    check_dataset("mnist", shared_data)
    check_dataset("cifar10", shared_data)
    with pytest.raises(UserError, match="--data-root"):
        check_dataset("mnist", tmp_path)
