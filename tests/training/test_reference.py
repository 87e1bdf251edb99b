"""The reference test: every layout of the ensemble trainer gives the networks that
plain PyTorch gives when the same networks are trained one by one with the same seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tdacnn.data import load_dataset
from tdacnn.training.config import TrainConfig, batch_indices, network_seeds
from tdacnn.training.ensemble import train_ensemble
from tdacnn.training.engine import images_per_pass

CFG = dict(dataset="digits", n_networks=3, iterations=25, batch_size=32, snapshots=(0, 10), conv1=6, conv2=5,
           hidden=12, seed=7)


def plain_pytorch(cfg: TrainConfig) -> list[dict[int, np.ndarray]]:
    """Each network trained alone: nn.Sequential, torch.optim, the documented seeds and batches."""
    x, y = (torch.from_numpy(a) for a in load_dataset(cfg.dataset))
    out = []
    for i in range(cfg.n_networks):
        init_seed, data_seed = network_seeds(cfg.seed, i, cfg.shared_batches)
        torch.manual_seed(init_seed)
        net = nn.Sequential(
            nn.Conv2d(1, cfg.conv1, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(cfg.conv1, cfg.conv2, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(cfg.conv2 * 25, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 10),
        )
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
            opt = cls(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        snaps = {0: net[0].weight.detach().clone().numpy()}
        for t in range(cfg.iterations):
            idx = torch.from_numpy(batch_indices(len(x), cfg.batch_size, data_seed, t))
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if t + 1 in cfg.snapshots:
                snaps[t + 1] = net[0].weight.detach().clone().numpy()
        snaps["conv2"] = net[3].weight.detach().clone().numpy()
        out.append(snaps)
    return out


def _compare(result, reference, cfg):
    for i, ref in enumerate(reference):
        for it in cfg.snapshots:
            (entry,) = [e for e in result.weights.select(1, it) if e.network == i]
            np.testing.assert_allclose(entry.weight, ref[it], atol=2e-4, rtol=1e-3)
        (entry,) = [e for e in result.weights.select(2, cfg.iterations) if e.network == i]
        np.testing.assert_allclose(entry.weight, ref["conv2"], atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize("backend,optimizer,wd,shared", [
    ("serial", "adam", 0.0, False), ("batched", "adam", 0.0, False),
    ("batched", "adamw", 0.5, True), ("serial", "sgd", 1e-3, False), ("batched", "sgd", 1e-3, True),
])
def test_in_process_layouts_match_plain_pytorch(backend, optimizer, wd, shared):
    cfg = TrainConfig(**CFG, optimizer=optimizer, weight_decay=wd, shared_batches=shared, backend=backend,
                      lr=0.05 if optimizer == "sgd" else 1e-3)
    _compare(train_ensemble(cfg), plain_pytorch(cfg), cfg)


def test_process_pool_matches_plain_pytorch():
    cfg = TrainConfig(**CFG, backend="pool", workers=2)
    result = train_ensemble(cfg)
    assert result.timings["backend"] == "pool" and result.status == "complete"
    _compare(result, plain_pytorch(cfg), cfg)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_batch_in_several_cache_sized_passes_matches_plain_pytorch(optimizer):
    """Wide conv1 (64 filters): on the CPU each minibatch goes through in passes whose gradients add up."""
    cfg = TrainConfig(**{**CFG, "conv1": 64, "n_networks": 2}, optimizer=optimizer, backend="serial",
                      lr=0.05 if optimizer == "sgd" else 1e-3)
    assert images_per_pass(cfg, "cpu") == 16 and images_per_pass(cfg, "cuda") == cfg.batch_size == 32
    _compare(train_ensemble(cfg), plain_pytorch(cfg), cfg)


def test_networks_differ_and_shared_batches_only_share_data():
    a, b = network_seeds(0, 0), network_seeds(0, 1)
    assert a[0] != b[0] and a[1] != b[1]
    sa, sb = network_seeds(0, 0, True), network_seeds(0, 1, True)
    assert sa[0] != sb[0] and sa[1] == sb[1]
