"""`TrainConfig`: everything that determines an ensemble training run.

Two runs with equal configs produce the same weights (per network, up to the
float rounding of the device and thread count).  Network ``i`` of a run gets its
own initialisation seed and, unless ``shared_batches``, its own data order, both
derived from ``seed`` and ``i`` by :func:`network_seeds`.
"""

from __future__ import annotations

import functools

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from tdacnn.errors import UserError

__all__ = ["TrainConfig", "network_seeds", "batch_indices", "steps_per_epoch"]

Optimizer = Literal["adam", "adamw", "sgd"]
Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class TrainConfig:
    """Parameters of an ensemble training run.

    Attributes
    ----------
    dataset : {"digits", "mnist", "cifar10"}
    data_root : str or None
        Folder holding the dataset files (see :func:`tdacnn.data.load_dataset`).
    download : bool
        Download MNIST / CIFAR-10 when missing.
    n_networks : int
        Number of independently initialised networks.
    iterations : int
        Optimiser steps per network.
    batch_size : int
    optimizer : {"adam", "adamw", "sgd"}
        ``adamw`` is Adam with decoupled weight decay; ``sgd`` uses ``momentum``.
    lr, momentum, weight_decay : float
    snapshots : tuple of int
        Iterations at which the conv weights are recorded (0 = initialisation);
        the final iteration is always recorded; values above ``iterations`` are dropped.
    snapshot_layers : tuple of int or None
        Conv layers kept at the intermediate snapshots (None = all); the final
        snapshot always keeps every conv layer.
    store_dtype : {"float32", "float16"}
        Precision of the stored snapshots.
    seed : int
    device : {"auto", "cpu", "cuda"}
    shared_batches : bool
        All networks see the same minibatch sequence (they still differ in their
        initialisation); otherwise each network has its own data order.
    conv1, conv2, hidden : int or None
        Architecture overrides (None = the paper's 64 / 32 / 64).
    workers : int or None
        CPU worker processes (None = one per core, capped by ``n_networks``).
    backend : {"auto", "serial", "pool", "batched"}
        How networks are laid out on the device: ``auto`` picks ``batched`` (all
        networks stacked) on CUDA and ``pool`` (worker processes, one per core, each
        training one network at a time on one thread) on the CPU; ``serial`` trains
        one network after another in the calling process.
    """

    dataset: str = "digits"
    data_root: str | None = None
    download: bool = False
    n_networks: int = 8
    iterations: int = 1000
    batch_size: int = 64
    optimizer: Optimizer = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    snapshots: tuple[int, ...] = (0, 100, 200, 400, 1000)
    snapshot_layers: tuple[int, ...] | None = None
    store_dtype: Literal["float32", "float16"] = "float32"
    seed: int = 0
    device: Device = "auto"
    shared_batches: bool = False
    conv1: int | None = None
    conv2: int | None = None
    hidden: int | None = None
    workers: int | None = None
    backend: Literal["auto", "serial", "pool", "batched"] = "auto"

    def __post_init__(self) -> None:
        from tdacnn.data import DATASETS

        if self.dataset not in DATASETS:
            raise UserError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        for name, lo in (("n_networks", 1), ("iterations", 1), ("batch_size", 1), ("seed", 0)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise UserError(f"{name} must be an integer >= {lo}; got {v!r}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise UserError(f"optimizer must be adam, adamw or sgd; got {self.optimizer!r}")
        if not (self.lr > 0 and np.isfinite(self.lr)):
            raise UserError(f"learning rate must be a positive number; got {self.lr!r}")
        if not (0 <= self.momentum < 1):
            raise UserError(f"momentum must be in [0, 1); got {self.momentum!r}")
        if not (self.weight_decay >= 0 and np.isfinite(self.weight_decay)):
            raise UserError(f"weight decay must be >= 0; got {self.weight_decay!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"device must be auto, cpu or cuda; got {self.device!r}")
        if self.backend not in ("auto", "serial", "pool", "batched"):
            raise UserError(f"backend must be auto, serial, pool or batched; got {self.backend!r}")
        if self.store_dtype not in ("float32", "float16"):
            raise UserError(f"store_dtype must be float32 or float16; got {self.store_dtype!r}")
        if self.workers is not None and self.workers < 1:
            raise UserError(f"workers must be >= 1; got {self.workers!r}")
        snaps = tuple(int(s) for s in self.snapshots)
        if any(s < 0 for s in snaps):
            raise UserError(f"snapshot iterations must be >= 0; got {list(snaps)}")
        snaps = tuple(sorted({s for s in snaps if s <= self.iterations} | {int(self.iterations)}))
        object.__setattr__(self, "snapshots", snaps)
        if self.snapshot_layers is not None:
            layers = tuple(sorted({int(l) for l in self.snapshot_layers}))
            if not layers or any(l not in (1, 2) for l in layers):
                raise UserError(f"snapshot layers must be among 1, 2; got {list(self.snapshot_layers)}")
            object.__setattr__(self, "snapshot_layers", layers)
        self.arch()  # validates the architecture overrides

    def arch(self):
        """The :class:`~tdacnn.nets.arch.ArchConfig` of the trained networks."""
        from tdacnn.nets.arch import arch_for_dataset

        over = {k: getattr(self, k) for k in ("conv1", "conv2", "hidden") if getattr(self, k) is not None}
        return arch_for_dataset(self.dataset, **over)

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["snapshots"] = list(self.snapshots)
        d["snapshot_layers"] = list(self.snapshot_layers) if self.snapshot_layers else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        for k in ("snapshots", "snapshot_layers"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)

    def training_key(self) -> dict[str, Any]:
        """The fields that determine the weights (not where or how fast they are computed)."""
        d = self.to_dict()
        for k in ("device", "workers", "backend", "download", "data_root"):
            d.pop(k)
        return d


def network_seeds(seed: int, network: int, shared_batches: bool = False) -> tuple[int, int]:
    """(initialisation seed, data-order seed) of network ``network`` of a run seeded ``seed``."""
    init = int(np.random.SeedSequence([seed, network, 1]).generate_state(1)[0])
    data = int(np.random.SeedSequence([seed, 0 if shared_batches else network + 1, 2]).generate_state(1)[0])
    return init, data


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Full minibatches per pass over the data (the last partial batch is dropped)."""
    return max(n_train // batch_size, 1)


def batch_indices(n_train: int, batch_size: int, data_seed: int, iteration: int) -> np.ndarray:
    """Indices of the minibatch used at step ``iteration`` (0-based).

    Each epoch is a fresh permutation drawn from ``(data_seed, epoch)``, so any step's
    batch can be computed directly (which makes resuming exact).

    Returns
    -------
    ndarray of int64, shape (batch_size,)
    """
    spe = steps_per_epoch(n_train, batch_size)
    epoch, j = divmod(iteration, spe)
    return _epoch_permutation(n_train, data_seed, epoch)[j * batch_size : (j + 1) * batch_size].copy()


@functools.lru_cache(maxsize=4)
def _epoch_permutation(n_train: int, data_seed: int, epoch: int) -> np.ndarray:
    """The (read-only) order of epoch ``epoch``: drawn once, not at every step (0.5 ms for MNIST)."""
    perm = np.random.default_rng([data_seed, epoch]).permutation(n_train)
    perm.flags.writeable = False
    return perm
