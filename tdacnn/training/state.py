"""What training a network produces, and its saved state (for resuming).

A network's training state (parameters, optimiser moments, snapshots so far) is
written to ``state_dir/net_XXXX.pt`` at each snapshot iteration, so a cancelled
or crashed run resumes from its last snapshot, in any layout.  State files hold
tensors only, in the shapes of one network, and are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tdacnn.nets.arch import conv_layer_names
from tdacnn.training.config import TrainConfig

__all__ = ["NetResult", "TrainData", "load_train_data", "layers_at", "conv_param", "state_path", "save_state",
           "load_state", "saved_iterations", "Cancelled"]


class Cancelled(Exception):
    """Training stopped because its ``cancel()`` callback returned true."""


@dataclass
class NetResult:
    """What training one network produced.

    Attributes
    ----------
    network : int
    snapshots : dict
        iteration -> {layer -> ndarray float32 of shape (out, in, 3, 3)}
    iterations_done : int
    test_acc : float or None
        Accuracy on the test split once training finished.
    loss, acc : float
        Training loss / accuracy of the last minibatch.
    """

    network: int
    snapshots: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)
    iterations_done: int = 0
    test_acc: float | None = None
    loss: float = float("nan")
    acc: float = float("nan")


@dataclass
class TrainData:
    """Training and test split as torch tensors on the training device."""

    x_train: Any  # (n, c, h, w) float32
    y_train: Any  # (n,) int64
    x_test: Any
    y_test: Any


def load_train_data(cfg: TrainConfig, device: str = "cpu") -> TrainData:
    """Load ``cfg.dataset`` (both splits) as tensors on ``device``."""
    import torch

    from tdacnn.data import load_dataset

    xtr, ytr = load_dataset(cfg.dataset, cfg.data_root, train=True, download=cfg.download)
    xte, yte = load_dataset(cfg.dataset, cfg.data_root, train=False, download=False)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    return TrainData(t(xtr), t(ytr), t(xte), t(yte))


def conv_param(layer: int) -> str:
    """Parameter name of conv layer ``layer`` (1 or 2) in the network's state dict."""
    return conv_layer_names()[layer - 1]


def layers_at(cfg: TrainConfig, iteration: int) -> tuple[int, ...]:
    """Conv layers recorded at snapshot ``iteration`` (all of them at the final one)."""
    if iteration == cfg.iterations or cfg.snapshot_layers is None:
        return tuple(range(1, len(conv_layer_names()) + 1))
    return cfg.snapshot_layers


def state_path(state_dir: Path, network: int) -> Path:
    return Path(state_dir) / f"net_{network:04d}.pt"


def save_state(path: Path, result: NetResult, model_state: dict, optim_state: dict) -> None:
    """Write one network's training state atomically.

    Parameters
    ----------
    model_state : dict of name -> tensor of the network's own shape
    optim_state : dict
        ``torch.optim`` state dict of an optimiser over that network's parameters alone.
    """
    import torch

    snaps = {f"{it}/{layer}": torch.from_numpy(w) for it, d in result.snapshots.items() for layer, w in d.items()}
    state = {
        "iteration": result.iterations_done,
        "model": model_state,
        "optim": optim_state,
        "snapshots": snaps,
        "test_acc": -1.0 if result.test_acc is None else float(result.test_acc),
        "loss": float(result.loss),
        "acc": float(result.acc),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_state(path: Path) -> tuple[NetResult, dict, dict] | None:
    """(result so far, model state, optimiser state) saved at ``path``, or None."""
    import torch

    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    res = NetResult(network=-1, iterations_done=int(state["iteration"]), loss=state["loss"], acc=state["acc"])
    res.test_acc = None if state["test_acc"] < 0 else float(state["test_acc"])
    for key, w in state["snapshots"].items():
        it, layer = (int(v) for v in key.split("/"))
        res.snapshots.setdefault(it, {})[layer] = w.numpy()
    return res, state["model"], state["optim"]


def saved_iterations(state_dir: Path | None, networks: list[int]) -> dict[int, int]:
    """network -> iterations done in its saved state (0 where nothing is saved)."""
    if state_dir is None:
        return {i: 0 for i in networks}
    out = {}
    for i in networks:
        saved = load_state(state_path(state_dir, i))
        out[i] = saved[0].iterations_done if saved is not None else 0
    return out
