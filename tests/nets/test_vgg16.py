"""VGG16-type networks give their 13 conv layers as layers 1–13, whatever the packaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tdacnn.errors import UserError
from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.nets.vgg import VGG16_CONV_SHAPES, fetch_vgg16_imagenet, is_vgg16

VGG16_BN_CONV_IDX = [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40]
VGG16_CONV_IDX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]


def test_vgg16_bn_layers_in_order(vgg16_bn_file):
    path, convs = vgg16_bn_file
    layers = list_conv_layers(path)
    assert len(layers) == 13 and is_vgg16(layers)
    assert [la.index for la in layers] == list(range(1, 14))
    assert [la.name for la in layers] == [f"features.{i}.weight" for i in VGG16_BN_CONV_IDX]
    assert [la.shape for la in layers] == list(VGG16_CONV_SHAPES)
    assert all(la.batchnorm is not None and la.batchnorm.prefix == f"features.{i + 1}"
               for la, i in zip(layers, VGG16_BN_CONV_IDX))  # fmt: skip
    assert layers[4].label == "conv 5 of 13, 256×128×3×3 (batchnorm)"


def test_vgg16_bn_filters_exact_layers_2_to_13(vgg16_bn_file):
    path, convs = vgg16_bn_file
    ws = read_weightset(path, layers=[2, 7, 13])
    assert ws.layers() == [2, 7, 13]
    for layer in (2, 7, 13):
        name = f"features.{VGG16_BN_CONV_IDX[layer - 1]}.weight"
        np.testing.assert_array_equal(ws.select(layer)[0].weight, convs[name].numpy())


@pytest.mark.parametrize("prefix", ["module.", "backbone.", "model.backbone."])
def test_repackaged_vgg16(tmp_path, prefix):
    from torchvision.models import vgg16

    with torch.device("meta"):
        names = list(vgg16().state_dict())  # real key order, no 500 MB allocation
    g = torch.Generator().manual_seed(0)
    sd = {}
    for name in names:
        if name.startswith("features."):
            idx = int(name.split(".")[1])
            k = VGG16_CONV_IDX.index(idx)
            out, inn = VGG16_CONV_SHAPES[k][:2]
            sd[prefix + name] = torch.randn((out, inn, 3, 3) if name.endswith("weight") else (out,), generator=g)
    sd[prefix + "classifier.0.weight"] = torch.zeros(8, 16)  # a small stand-in head (2-D, not a conv)
    torch.save({"model": sd, "epoch": 90}, tmp_path / "vgg16_repack.pth")
    layers = list_conv_layers(tmp_path / "vgg16_repack.pth")
    assert is_vgg16(layers)
    assert [la.name for la in layers] == [f"{prefix}features.{i}.weight" for i in VGG16_CONV_IDX]
    assert all(la.batchnorm is None for la in layers)
    ws = read_weightset(tmp_path / "vgg16_repack.pth", layers=[13])
    np.testing.assert_array_equal(ws.entries[0].weight, sd[f"{prefix}features.28.weight"].numpy())


def test_not_vgg16(small_files):
    assert not is_vgg16(list_conv_layers(small_files["plain"]))


def test_fetch_offline_says_how_to_supply_a_file(tmp_path, monkeypatch):
    import urllib.request

    class CutOff:  # the connection drops after the first block
        def __init__(self):
            self.headers = {"Content-Length": "1000"}
            self.blocks = [b"partial"]

        def read(self, n):
            if self.blocks:
                return self.blocks.pop()
            raise OSError("Network is unreachable")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: CutOff())
    with pytest.raises(UserError, match=r"cannot download .*tdacnn analyze path/to/vgg16-397923af.pth --layer 5"):
        fetch_vgg16_imagenet(tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []  # a half-finished download is not kept


def test_fetch_offline_real_network(tmp_path):
    """A real download attempt that cannot connect fails with the same clear message."""
    with pytest.raises(UserError, match="cannot download the ImageNet VGG16 weights"):
        fetch_vgg16_imagenet(tmp_path, progress=lambda p: None, url="http://127.0.0.1:9/vgg16.pth")
    assert list(tmp_path.iterdir()) == []
