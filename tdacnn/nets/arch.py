"""The paper's small CNNs (Gabrielsson & Carlsson) for MNIST-like and CIFAR-10 images.

conv 3x3 (``conv1`` filters) -> ReLU -> max-pool 2 -> conv 3x3 (``conv2``) -> ReLU
-> max-pool 2 -> dense ``hidden`` -> ReLU -> dense ``n_classes``.  Convolutions
are unpadded ("valid"), so a 28x28 image gives 32 x 5 x 5 features and a 32x32
image 32 x 6 x 6.  An :class:`ArchConfig` describes a network completely and is
stored in every run and checkpoint, so a model can be rebuilt from the file alone.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tdacnn.errors import UserError

__all__ = ["ArchConfig", "ARCHITECTURES", "get_arch", "arch_for_dataset", "build_model", "conv_layer_names"]


@dataclass(frozen=True)
class ArchConfig:
    """Architecture of one small CNN.

    Attributes
    ----------
    name : str
        Registry name (``"mnist_cnn"``, ``"cifar10_cnn"``).
    in_channels : int
        Image channels (1 or 3).
    image_size : int
        Side of the square input images.
    conv1, conv2 : int
        Number of 3x3 filters of the two conv layers.
    hidden : int
        Width of the hidden dense layer.
    n_classes : int
    """

    name: str = "mnist_cnn"
    in_channels: int = 1
    image_size: int = 28
    conv1: int = 64
    conv2: int = 32
    hidden: int = 64
    n_classes: int = 10

    def __post_init__(self) -> None:
        for f in ("in_channels", "conv1", "conv2", "hidden", "n_classes"):
            v = getattr(self, f)
            if not isinstance(v, int) or v < 1:
                raise UserError(f"architecture {f} must be a positive integer; got {v!r}")
        if self.feature_size < 1:
            raise UserError(f"images of {self.image_size}x{self.image_size} are too small for two conv+pool stages")

    @property
    def feature_size(self) -> int:
        """Side of the feature map after the second pooling."""
        s = (self.image_size - 2) // 2
        return (s - 2) // 2

    @property
    def n_features(self) -> int:
        """Inputs of the hidden dense layer."""
        return self.conv2 * self.feature_size**2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArchConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise UserError(f"unknown architecture fields {sorted(unknown)}")
        return cls(**d)


#: registry: name -> default configuration
ARCHITECTURES: dict[str, ArchConfig] = {
    "mnist_cnn": ArchConfig("mnist_cnn", 1, 28, 64, 32, 64, 10),
    "cifar10_cnn": ArchConfig("cifar10_cnn", 3, 32, 64, 32, 64, 10),
}
_DATASET_ARCH = {"digits": "mnist_cnn", "mnist": "mnist_cnn", "cifar10": "cifar10_cnn"}


def get_arch(name: str, **overrides: Any) -> ArchConfig:
    """The registered architecture ``name`` with fields overridden (e.g. ``conv1=32``)."""
    try:
        base = ARCHITECTURES[name]
    except KeyError:
        raise UserError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return replace(base, **overrides)


def arch_for_dataset(dataset: str, **overrides: Any) -> ArchConfig:
    """The paper's architecture for ``dataset`` (digits and MNIST share one)."""
    try:
        return get_arch(_DATASET_ARCH[dataset], **overrides)
    except KeyError:
        raise UserError(f"no architecture for dataset {dataset!r}") from None


def conv_layer_names() -> tuple[str, str]:
    """State-dict names of the conv weights, layer 1 then layer 2."""
    return ("conv1.weight", "conv2.weight")


def build_model(config: ArchConfig):
    """A fresh ``torch.nn.Module`` for ``config`` (PyTorch's default initialisation).

    Every model is an instance of one class, so ``torch.func.stack_module_state``
    can stack any number of them (the trainer's stacked layout does).
    """
    return _small_cnn_class()(config)


@functools.cache
def _small_cnn_class():
    """The one definition of the network (made on first use: torch is imported lazily)."""
    import torch
    from torch import nn

    class SmallCNN(nn.Module):
        """conv-relu-pool x2, dense-relu, dense.  Input (batch, c, h, w) -> logits (batch, classes)."""

        def __init__(self, cfg: ArchConfig) -> None:
            super().__init__()
            self.config = cfg
            self.conv1 = nn.Conv2d(cfg.in_channels, cfg.conv1, 3)
            self.conv2 = nn.Conv2d(cfg.conv1, cfg.conv2, 3)
            self.fc1 = nn.Linear(cfg.n_features, cfg.hidden)
            self.fc2 = nn.Linear(cfg.hidden, cfg.n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # relu(maxpool(h)) == maxpool(relu(h)) with the same gradients (relu is monotone),
            # and the relu then runs on a 4x smaller tensor: measured faster on CPU.
            x = torch.relu(torch.max_pool2d(self.conv1(x), 2))  # (b, conv1, s1, s1)
            x = torch.relu(torch.max_pool2d(self.conv2(x), 2))  # (b, conv2, s2, s2)
            x = torch.relu(self.fc1(x.flatten(1)))
            return self.fc2(x)

    SmallCNN.__qualname__ = "SmallCNN"
    SmallCNN.__module__ = __name__
    return SmallCNN


def __getattr__(name: str):
    # ``tdacnn.nets.arch.SmallCNN`` names the class (made on first access, importing torch)
    if name == "SmallCNN":
        return _small_cnn_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
