"""The paper's architectures and their config."""

from __future__ import annotations

import pytest
import torch

from tdacnn.errors import UserError
from tdacnn.nets.arch import ARCHITECTURES, ArchConfig, arch_for_dataset, build_model, get_arch


@pytest.mark.parametrize("name,shape,features", [("mnist_cnn", (1, 28, 28), 800), ("cifar10_cnn", (3, 32, 32), 1152)])
def test_shapes(name, shape, features):
    cfg = get_arch(name)
    model = build_model(cfg)
    assert cfg.n_features == features
    assert model(torch.zeros(5, *shape)).shape == (5, 10)
    assert model.conv1.weight.shape == (64, shape[0], 3, 3) and model.conv2.weight.shape == (32, 64, 3, 3)


def test_config_round_trip_and_overrides():
    cfg = arch_for_dataset("digits", conv1=32)
    assert cfg.conv1 == 32 and cfg.name == "mnist_cnn"
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg
    assert set(ARCHITECTURES) == {"mnist_cnn", "cifar10_cnn"}


def test_bad_configs():
    with pytest.raises(UserError, match="conv1"):
        ArchConfig(conv1=0)
    with pytest.raises(UserError, match="too small"):
        ArchConfig(image_size=8)
    with pytest.raises(UserError, match="unknown architecture"):
        get_arch("resnet")
    with pytest.raises(UserError, match="unknown architecture fields"):
        ArchConfig.from_dict({"depth": 3})
