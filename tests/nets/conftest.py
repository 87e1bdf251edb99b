"""Real checkpoints built once per session: a torchvision VGG16-BN and a small CNN saved several ways."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn


class SmallCNN(nn.Module):
    """Two 3×3 convs with batch-norm, a 5×5 conv, a 1×1 conv, a linear head (the shapes the paper uses, and odd ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 12, 5, bias=False)
        self.proj = nn.Conv2d(12, 6, 1)
        self.fc = nn.Linear(6, 10)


SMALL_SHAPES = [(8, 1, 3, 3), (16, 8, 3, 3), (12, 16, 5, 5), (6, 12, 1, 1)]
SMALL_NAMES = ["conv1.weight", "conv2.weight", "conv3.weight", "proj.weight"]


@pytest.fixture(scope="session")
def small_model() -> nn.Module:
    torch.manual_seed(0)
    model = SmallCNN()
    with torch.no_grad():  # non-trivial batch-norm statistics, so folding is visible
        for bn in (model.bn1, model.bn2):
            bn.running_var.uniform_(0.5, 2.0)
            bn.running_mean.normal_()
            bn.weight.uniform_(-1.5, 1.5)
    return model.eval()


@pytest.fixture(scope="session")
def small_files(small_model, tmp_path_factory) -> dict[str, Path]:
    """The small CNN saved as a plain state dict, wrapped, safetensors, legacy non-zip pickle."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("small")
    sd = small_model.state_dict()
    files = {
        "plain": root / "plain.pt",
        "wrapped": root / "wrapped.pth",
        "safetensors": root / "model.safetensors",
        "legacy": root / "legacy.bin",
    }
    torch.save(sd, files["plain"])
    torch.save({"state_dict": sd, "epoch": 3, "optimizer": {"state": {0: {"momentum_buffer": torch.ones(8, 1, 3, 3)}}}},
               files["wrapped"])  # fmt: skip
    save_file({k: v.contiguous() for k, v in sd.items()}, files["safetensors"])
    torch.save(sd, files["legacy"], _use_new_zipfile_serialization=False)
    return files


@pytest.fixture(scope="session")
def vgg16_bn_file(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """torchvision's vgg16_bn with random weights, saved as a state dict (about 550 MB on disk)."""
    from torchvision.models import vgg16_bn

    torch.manual_seed(1)
    sd = vgg16_bn().state_dict()
    path = tmp_path_factory.mktemp("vgg") / "vgg16_bn.pth"
    torch.save(sd, path)
    convs = {k: v for k, v in sd.items() if v.ndim == 4}
    return path, convs
