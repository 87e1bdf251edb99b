"""Checkpoints as the model zoos leave them on disk open like any file (issue 14, item 5).

torchvision keeps ``~/.cache/torch/hub/checkpoints/<name>-<hash>.pth`` (a plain state dict);
timm models come through the Hugging Face cache, where ``snapshots/<rev>/model.safetensors``
is a symlink into ``blobs/``.  Keras's VGG16 ImageNet release is a Keras 2 weights file
(``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``).  Random weights stand in for the
downloads: only the layouts matter here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.nets.vgg import VGG16_CONV_SHAPES, is_vgg16

from .foreign import write_keras2


def test_torchvision_hub_cache_checkpoint(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    sd = resnet18().state_dict()
    path = tmp_path / ".cache" / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(sd, path)
    layers = list_conv_layers(path)
    assert len(layers) == 20 and layers[0].name == "conv1.weight" and layers[0].shape == (64, 3, 7, 7)
    assert layers[0].batchnorm is not None and layers[0].batchnorm.prefix == "bn1"
    np.testing.assert_array_equal(read_weightset(path, layers=[2]).entries[0].weight,
                                  sd["layer1.0.conv1.weight"].numpy())


def test_timm_model_in_the_hugging_face_cache(tmp_path):
    from safetensors.torch import save_file
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3))
    repo = tmp_path / "hub" / "models--timm--tiny.a1_in1k"
    blob = repo / "blobs" / "9f2c0d7e"
    blob.parent.mkdir(parents=True)
    save_file(model.state_dict(), blob)
    link = repo / "snapshots" / "4a1b2c" / "model.safetensors"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../blobs/9f2c0d7e")
    layers = list_conv_layers(link)
    assert [layer.name for layer in layers] == ["0.weight", "3.weight"]
    np.testing.assert_array_equal(read_weightset(link, layers=[2]).entries[0].weight,
                                  model.state_dict()["3.weight"].numpy())


def test_keras_vgg16_notop_layout_is_recognised_as_vgg16(tmp_path):
    names = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
             "block3_conv3", "block4_conv1", "block4_conv2", "block4_conv3", "block5_conv1", "block5_conv2",
             "block5_conv3"]
    rng = np.random.default_rng(0)
    layers = [("input_1", "InputLayer", None)]
    for i, (name, shape) in enumerate(zip(names, VGG16_CONV_SHAPES)):
        layers.append((name, "Conv2D", rng.normal(size=shape).astype(np.float32) if i < 2 else
                       np.zeros(shape, np.float32)))
        if i in (1, 3, 6, 9, 12):  # the end of each block
            layers.append((name.split("_")[0] + "_pool", "MaxPooling2D", None))
    path = write_keras2(tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", layers, weights_only=True)
    found = list_conv_layers(path)
    assert is_vgg16(found)
    assert found[0].name == "block1_conv1/block1_conv1/kernel:0" and found[-1].name.startswith("block5_conv3/")
    np.testing.assert_array_equal(read_weightset(path, layers=[1]).entries[0].weight, layers[1][2])


@pytest.mark.parametrize("suffix", [".h5", ".keras", ".onnx"])
def test_the_new_suffixes_are_accepted_where_checkpoints_are_named(suffix):
    from tdacnn.app.checkpoint_files import CHECKPOINT_SUFFIXES
    from tdacnn.commands.analyze import CHECKPOINT_SUFFIXES as CLI_SUFFIXES

    assert suffix in CHECKPOINT_SUFFIXES and suffix in CLI_SUFFIXES
