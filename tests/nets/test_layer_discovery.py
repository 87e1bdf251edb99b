"""Layer discovery on names and shapes: depthwise, grouped, transposed, HWIO, batch-norm, ordering."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.nets.layers import discover_conv_layers


def test_depthwise_grouped_transposed_recognised(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3),  # 0
        nn.BatchNorm2d(32),  # 1
        nn.Conv2d(32, 32, 3, groups=32),  # 2 depthwise: (32, 1, 3, 3)
        nn.Conv2d(32, 64, 1),  # 3 pointwise
        nn.Conv2d(64, 64, 3, groups=4),  # 4 grouped: (64, 16, 3, 3)
    )
    sd = model.state_dict()
    sd["decoder.deconv1.weight"] = nn.ConvTranspose2d(64, 8, 4).weight.detach()  # stored (in=64, out=8, 4, 4)
    path = tmp_path / "mixed.pt"
    torch.save(sd, path)
    layers = list_conv_layers(path)
    assert [la.groups_hint for la in layers] == [None, "depthwise", None, "grouped", None]
    assert layers[0].batchnorm is not None and layers[0].batchnorm.prefix == "1"
    assert layers[1].flags == ("depthwise?",)
    assert layers[2].flags == ("1x1",)
    deconv = layers[4]
    assert deconv.transposed and deconv.stored_shape == (64, 8, 4, 4) and deconv.shape == (8, 64, 4, 4)
    assert "transposed" in deconv.flags and "non-3x3" in deconv.flags
    w = read_weightset(path, layers=[5]).entries[0].weight
    np.testing.assert_array_equal(w, sd["decoder.deconv1.weight"].numpy().transpose(1, 0, 2, 3))


def test_resnet_downsample_is_not_called_grouped():
    from torchvision.models import resnet18

    sd = resnet18().state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    layers = discover_conv_layers(list(sd), shapes)
    assert len(layers) == 20
    assert all(la.groups_hint is None for la in layers)
    assert all(la.batchnorm is not None for la in layers)  # conv1->bn1, downsample.0->downsample.1
    assert layers[0].name == "conv1.weight" and layers[0].flags == ("non-3x3", "batchnorm")
    by_name = {la.name: la for la in layers}
    assert by_name["layer2.0.downsample.0.weight"].batchnorm.prefix == "layer2.0.downsample.1"


def test_batchnorm_found_by_name_when_order_is_lost():
    # safetensors sorts names: bn1 comes before conv1; the name pattern still pairs them
    shapes = {"bn1.running_mean": (4,), "bn1.running_var": (4,), "bn1.weight": (4,), "conv1.weight": (4, 3, 3, 3)}
    (layer,) = discover_conv_layers(sorted(shapes), shapes, stored_order=False)
    assert layer.batchnorm.prefix == "bn1" and layer.batchnorm.weight == "bn1.weight"


def test_tensorflow_layout_transposed_on_read(tmp_path):
    w = np.random.default_rng(0).normal(size=(3, 3, 16, 32)).astype(np.float32)  # (kh, kw, in, out)
    np.savez(tmp_path / "tf.npz", conv=w)
    sd = {"block1_conv1/kernel": torch.from_numpy(w)}
    (layer,) = list_conv_layers(sd)
    assert layer.layout == "HWIO" and layer.shape == (32, 16, 3, 3) and "hwio" in layer.flags
    out = read_weightset(sd).entries[0].weight
    np.testing.assert_array_equal(out, w.transpose(3, 2, 0, 1))


def test_safetensors_natural_order(tmp_path):
    from safetensors.torch import save_file

    sd = {f"features.{i}.weight": torch.full((2, 2, 3, 3), float(i)) for i in (0, 2, 5, 10, 12)}
    save_file(sd, tmp_path / "m.safetensors")
    names = [la.name for la in list_conv_layers(tmp_path / "m.safetensors")]
    assert names == [f"features.{i}.weight" for i in (0, 2, 5, 10, 12)]


def test_to_dict_is_json_ready(small_files):
    import json

    d = list_conv_layers(small_files["plain"])[0].to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["index"] == 1 and d["shape"] == [8, 1, 3, 3] and d["batchnorm"] == "bn1"
