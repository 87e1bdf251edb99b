"""Layer discovery on names and shapes: transposed/grouped only when the file says so, HWIO, batch-norm, ordering."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.nets.layers import discover_conv_layers


def test_names_and_neighbours_never_make_a_conv_transposed_or_grouped(tmp_path):
    # what a state dict alone cannot tell: groups, and ConvTranspose2d when its shapes read either way
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3),  # 0
        nn.BatchNorm2d(32),  # 1
        nn.Conv2d(32, 32, 3, groups=32),  # 2 depthwise: (32, 1, 3, 3), readable as a plain conv
        nn.Conv2d(32, 64, 1),  # 3 pointwise
        nn.Conv2d(64, 64, 3, groups=4),  # 4 grouped: (64, 16, 3, 3)
    )
    sd = model.state_dict()
    # a text detector's plain convolutions under names that used to be read as transposed
    sd["upconv1.conv.0.weight"] = nn.Conv2d(1536, 512, 1).weight.detach()
    sd["upconv1.conv.3.weight"] = nn.Conv2d(512, 256, 3).weight.detach()
    sd["conv_cls.0.weight"] = nn.Conv2d(32, 32, 3).weight.detach()
    sd["decoder.deconv1.weight"] = nn.ConvTranspose2d(64, 8, 4, bias=False).weight.detach()  # no bias: says nothing
    path = tmp_path / "mixed.pt"
    torch.save(sd, path)
    layers = list_conv_layers(path)
    assert [la.groups_hint for la in layers] == [None] * 8
    assert not any(la.transposed for la in layers)
    assert all("transposed" not in la.flags and not any("group" in f or "depthwise" in f for f in la.flags)
               for la in layers)
    assert layers[0].batchnorm is not None and layers[0].batchnorm.prefix == "1"
    assert layers[1].flags == () and layers[2].flags == ("1x1",)
    up1x1, up3x3 = layers[4], layers[5]
    assert up1x1.shape == (512, 1536, 1, 1) and up1x1.problem == "1×1: no spatial pattern" and not up1x1.analysable
    assert up3x3.shape == (256, 512, 3, 3) and up3x3.analysable and up3x3.problem is None
    # "sum over inputs": one point per output channel (256), as the file stores it
    ws = read_weightset(path, layers=[6])
    from tdacnn.topology.params import CloudParams
    from tdacnn.topology.points import cloud_from_weightset

    assert len(cloud_from_weightset(ws, CloudParams(layer=6, channels="sum"))) == 256


def test_transposed_when_the_bias_says_so(tmp_path):
    sd = {"enc.weight": torch.randn(64, 3, 3, 3), "enc.bias": torch.randn(64)}
    up = nn.ConvTranspose2d(64, 8, 4)  # stored (in=64, out=8, 4, 4); bias (8,) = out
    sd["up.weight"], sd["up.bias"] = up.weight.detach(), up.bias.detach()
    path = tmp_path / "t.pt"
    torch.save(sd, path)
    enc, deconv = list_conv_layers(path)
    assert not enc.transposed and enc.bias == "enc.bias"
    assert deconv.transposed and deconv.stored_shape == (64, 8, 4, 4) and deconv.shape == (8, 64, 4, 4)
    assert deconv.bias == "up.bias" and "transposed" in deconv.flags and "non-3x3" in deconv.flags
    w = read_weightset(path, layers=[2]).entries[0].weight
    np.testing.assert_array_equal(w, sd["up.weight"].numpy().transpose(1, 0, 2, 3))
    # a square transposed conv (in == out) reads either way: the file does not say, so it stays plain
    sq = nn.ConvTranspose2d(16, 16, 3)
    (layer,) = discover_conv_layers(["u.weight", "u.bias"], {"u.weight": tuple(sq.weight.shape), "u.bias": (16,)})
    assert not layer.transposed


def test_recorded_module_types_decide(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.Conv2d(32, 32, 3, groups=32), nn.ConvTranspose2d(32, 16, 3),
                          nn.Conv2d(16, 16, 3, groups=4))
    types = {n: ({"type": type(m).__name__, "groups": m.groups, "in_channels": m.in_channels}
                 if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) else type(m).__name__)
             for n, m in model.named_modules()}
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("bias")}  # no bias to read shapes from
    path = tmp_path / "typed.pt"
    torch.save({"state_dict": sd, "module_types": types}, path)
    layers = list_conv_layers(path)
    assert [la.transposed for la in layers] == [False, False, True, False]
    assert [la.groups_hint for la in layers] == [None, "depthwise", None, "grouped"]
    assert layers[1].flags == ("depthwise",) and layers[2].shape == (16, 32, 3, 3)
    assert "transposed" in layers[2].flags


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
