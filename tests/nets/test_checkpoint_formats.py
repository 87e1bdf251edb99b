"""A small CNN saved several ways gives the same layers and exactly the same filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tdacnn.nets.checkpoints import (
    CHECKPOINT_FORMAT,
    list_conv_layers,
    load_checkpoint,
    read_weightset,
    save_checkpoint,
)
from tdacnn.nets.layers import fold_batchnorm

from .conftest import SMALL_NAMES, SMALL_SHAPES

FORMATS = ["plain", "wrapped", "safetensors", "legacy"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_layers_listed_in_network_order(small_files, fmt):
    layers = list_conv_layers(small_files[fmt])
    assert [layer.index for layer in layers] == [1, 2, 3, 4]
    assert [layer.name for layer in layers] == SMALL_NAMES
    assert [layer.shape for layer in layers] == SMALL_SHAPES
    assert layers[1].label == "conv 2 of 4, 16×8×3×3 (batchnorm)"
    assert layers[0].in_channels == 1 and layers[0].out_channels == 8 and layers[0].kernel_size == (3, 3)
    assert layers[0].batchnorm.prefix == "bn1" and layers[1].batchnorm.prefix == "bn2"
    assert layers[2].batchnorm is None and layers[2].bias is None and layers[0].bias == "conv1.bias"
    assert layers[2].flags == ("non-3x3",)
    assert layers[3].flags == ("1x1",) and not layers[3].analysable
    # the first layer of a grayscale network has in=1 but is not depthwise
    assert layers[0].groups_hint is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_filters_extracted_exactly(small_files, small_model, fmt):
    ws = read_weightset(small_files[fmt])
    assert ws.layers() == [1, 2, 3, 4] and ws.networks() == [0] and ws.iterations() == [-1]
    sd = small_model.state_dict()
    for layer, name in enumerate(SMALL_NAMES, start=1):
        (entry,) = ws.select(layer)
        np.testing.assert_array_equal(entry.weight, sd[name].numpy())
        assert entry.layer_name == name
        assert entry.weight.dtype == np.float32


def test_wrapped_dict_ignores_optimizer_state(small_files):
    # the optimizer's momentum buffer is 4-D too, but the state dict is under "state_dict"
    layers = list_conv_layers(small_files["wrapped"])
    assert len(layers) == 4 and all("momentum" not in layer.name for layer in layers)


@pytest.mark.parametrize("key", ["model", "model_state_dict", "net"])
def test_other_wrapper_keys_and_module_prefix(small_model, tmp_path, key):
    sd = {f"module.{k}": v for k, v in small_model.state_dict().items()}
    path = tmp_path / "wrapped.pt"
    torch.save({key: sd, "global_step": 1234}, path)
    ws = read_weightset(path, layers=[2])
    (entry,) = ws.entries
    assert entry.layer_name == "module.conv2.weight" and entry.iteration == 1234
    np.testing.assert_array_equal(entry.weight, small_model.conv2.weight.detach().numpy())


def test_half_precision_and_bfloat16(small_model, tmp_path):
    from safetensors.torch import save_file

    w = small_model.conv2.weight.detach()
    torch.save({"c.weight": w.half()}, tmp_path / "h.pt")
    save_file({"c.weight": w.bfloat16().contiguous()}, tmp_path / "b.safetensors")
    half = read_weightset(tmp_path / "h.pt").entries[0].weight
    bf = read_weightset(tmp_path / "b.safetensors").entries[0].weight
    np.testing.assert_array_equal(half, w.half().float().numpy())
    np.testing.assert_array_equal(bf, w.bfloat16().float().numpy())


def test_fold_batchnorm_matches_torch(small_model, small_files):
    """conv -> BN (eval) equals the folded conv plus a bias: compare on a real input."""
    ws = read_weightset(small_files["plain"], layers=[1], fold_bn=True)
    folded = torch.from_numpy(ws.entries[0].weight)
    conv, bn = small_model.conv1, small_model.bn1
    x = torch.randn(2, 1, 10, 10, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = bn(conv(x))
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias + (conv.bias - bn.running_mean) * scale
        ours = torch.nn.functional.conv2d(x, folded, shift)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    # a layer without batch-norm is read unchanged
    ws3 = read_weightset(small_files["plain"], layers=[3], fold_bn=True)
    np.testing.assert_array_equal(ws3.entries[0].weight, small_model.conv3.weight.detach().numpy())


def test_fold_batchnorm_function():
    w = np.ones((2, 1, 3, 3), dtype=np.float32)
    out = fold_batchnorm(w, np.array([3.0, 0.0]), np.array([2.0, -1.0]), eps=1.0)
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], -1.0)


def test_tdacnn_checkpoint_round_trip(small_model, tmp_path):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class ArchConfig:
        name: str = "small-cnn"
        channels: tuple = (8, 16)
        kernel: int = 3
        batchnorm: bool = True

    cfg = ArchConfig()
    path = save_checkpoint(small_model.state_dict(), cfg, tmp_path / "ck" / "net_iter50.pt", iteration=400,
                           meta={"seed": 7})  # fmt: skip
    raw = torch.load(path, weights_only=True)  # loadable with weights_only, plain types only
    assert raw["format"] == CHECKPOINT_FORMAT and raw["arch"] == "small-cnn"
    assert raw["config"] == {"name": "small-cnn", "channels": [8, 16], "kernel": 3, "batchnorm": True}
    state, config = load_checkpoint(path)
    assert config == raw["config"] and ArchConfig(**{**config, "channels": tuple(config["channels"])}) == cfg
    for k, v in small_model.state_dict().items():
        assert torch.equal(state[k], v) and state[k].dtype == v.dtype
    ws = read_weightset(path)
    assert ws.iterations() == [400]  # the checkpoint's iteration wins over the file name
    assert ws.meta["config"] == raw["config"] and ws.meta["files"][0]["arch"] == "small-cnn"
    np.testing.assert_array_equal(ws.select(2)[0].weight, small_model.conv2.weight.detach().numpy())
    assert not list((tmp_path / "ck").glob("*.part"))


def test_load_checkpoint_of_foreign_file_has_no_config(small_files):
    state, config = load_checkpoint(small_files["safetensors"])
    assert config is None and set(state) >= set(SMALL_NAMES)


def test_save_checkpoint_rejects_non_plain_config(small_model, tmp_path):
    from tdacnn.errors import UserError

    with pytest.raises(UserError, match="plain data"):
        save_checkpoint(small_model.state_dict(), {"act": torch.nn.ReLU()}, tmp_path / "x.pt")
    assert not any(tmp_path.iterdir())


def test_in_memory_state_dict(small_model):
    layers = list_conv_layers(small_model.state_dict())
    assert [layer.shape for layer in layers] == SMALL_SHAPES
    ws = read_weightset(small_model.state_dict(), layers=["conv3.weight"])
    assert ws.layers() == [3]


def test_npy_and_npz_filter_files(tmp_path):
    rng = np.random.default_rng(0)
    stack = rng.normal(size=(50, 3, 3))
    full = rng.normal(size=(4, 2, 5, 5)).astype(np.float32)
    np.save(tmp_path / "filters.npy", stack)
    np.savez(tmp_path / "layers.npz", first=full, second=stack)
    (layer,) = list_conv_layers(tmp_path / "filters.npy")
    assert layer.shape == (50, 1, 3, 3) and layer.flags == ()
    ws = read_weightset(tmp_path / "filters.npy")
    np.testing.assert_array_equal(ws.entries[0].weight[:, 0], stack)
    layers = list_conv_layers(tmp_path / "layers.npz")
    assert [(la.name, la.shape) for la in layers] == [("first", (4, 2, 5, 5)), ("second", (50, 1, 3, 3))]
    ws = read_weightset(tmp_path / "layers.npz", layers=[1])
    np.testing.assert_array_equal(ws.entries[0].weight, full)
    flat = rng.normal(size=(30, 9))  # rows of flattened 3×3 patches
    np.save(tmp_path / "patches.npy", flat)
    assert list_conv_layers(tmp_path / "patches.npy")[0].shape == (30, 1, 3, 3)
    np.testing.assert_array_equal(read_weightset(tmp_path / "patches.npy").entries[0].weight, flat.reshape(30, 1, 3, 3))


def test_tdacnn_arch_checkpoint_rebuilds_the_model(tmp_path):
    """A checkpoint of tdacnn's own architecture rebuilds from the file alone: same config, same outputs."""
    from tdacnn.nets.arch import ArchConfig, build_model, get_arch

    cfg = get_arch("mnist_cnn", conv1=8, conv2=4, hidden=16)
    torch.manual_seed(5)
    model = build_model(cfg).eval()
    path = save_checkpoint(model.state_dict(), cfg, tmp_path / "mnist_cnn_iter300.pt")
    state, config = load_checkpoint(path)
    again = ArchConfig.from_dict(config)
    assert again == cfg
    rebuilt = build_model(again).eval()
    rebuilt.load_state_dict(state)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)
    ws = read_weightset(path)
    assert ws.layers() == [1, 2] and ws.iterations() == [300]
    assert ws.meta["files"][0]["arch"] == "mnist_cnn" and ws.meta["config"] == config
    np.testing.assert_array_equal(ws.select(1)[0].weight, model.conv1.weight.detach().numpy())
