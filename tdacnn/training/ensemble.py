"""Train an ensemble of independently initialised networks, with weight snapshots.

``train_ensemble(config, progress=..., cancel=...)`` runs the one training loop
(:func:`tdacnn.training.engine.train_group`) with the layout measured fastest for
the device (see ``benchmarks/train.py``):

- CUDA: all networks stacked, one step for all (``batched``);
- CPU: worker processes, one per core, each training its share of the networks
  one after another on one thread (``pool``, :mod:`.pool`); they are started
  fresh (nothing of the calling process is inherited or changed) and die with it;
- ``serial``: one network after another in the calling process (for tests and
  debugging: no worker start-up, but without the workers' malloc settings).

Every layout gives each network the same seeds and minibatches; on the CPU each
network is trained on one thread in every layout, so its weights are bit-for-bit
the same whatever the layout, worker count, ensemble size or slice of the run
it is trained in (the stacked layout agrees up to float rounding).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from tdacnn.nets.arch import conv_layer_names
from tdacnn.progress import Progress, ProgressFn, Stopwatch
from tdacnn.training.config import TrainConfig
from tdacnn.training.state import NetResult, load_train_data, saved_iterations

__all__ = ["TrainResult", "train_ensemble", "resolve_device", "resolve_backend", "cpu_count"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Outcome of :func:`train_ensemble`.

    Attributes
    ----------
    weights : WeightSet
        Conv weights of every network at every snapshot taken.
    test_acc : list of float or None
        Test accuracy per network trained (None for networks that did not finish).
    status : {"complete", "partial", "cancelled"}
    iterations_done : list of int
        Steps completed per network trained.
    timings : dict
        ``train_s``, ``images_per_s``, ``steady_images_per_s``, ``backend``, ``device``, ``workers``.
    networks : list of int
        The networks trained (all of the run's, or a slice).
    """

    weights: Any
    test_acc: list[float | None]
    status: str
    iterations_done: list[int]
    timings: dict[str, Any] = field(default_factory=dict)
    networks: list[int] = field(default_factory=list)


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is a UserError."""
    import torch

    from tdacnn.errors import UserError

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return device


def resolve_backend(cfg: TrainConfig, device: str, n_networks: int | None = None) -> tuple[str, int]:
    """(backend, worker processes) for training ``n_networks`` (default all) of ``cfg`` on ``device``."""
    n = cfg.n_networks if n_networks is None else n_networks
    workers = max(1, min(cfg.workers or cpu_count(), n))
    backend = cfg.backend
    if backend == "auto":
        backend = "batched" if device == "cuda" else "pool"
    return backend, (workers if backend == "pool" else 1)


class _Tracker:
    """Turns per-network step reports into :class:`~tdacnn.progress.Progress` records."""

    def __init__(self, cfg: TrainConfig, networks: Sequence[int], progress: ProgressFn | None) -> None:
        self.cfg, self.progress = cfg, progress
        self.index = {net: j for j, net in enumerate(networks)}
        n = len(networks)
        self.done = np.zeros(n, dtype=np.int64)
        self.loss = np.full(n, np.nan)
        self.acc = np.full(n, np.nan)
        self.watch = Stopwatch()  # counts steps of all networks together
        self.start_steps = 0
        self.last_emit = 0.0

    def set_start(self, done: dict[int, int]) -> None:
        for net, it in done.items():
            self.done[self.index[net]] = it
        self.start_steps = int(self.done.sum())

    def step(self, network: int, it: int, loss: float, acc: float) -> None:
        j = self.index[network]
        self.done[j], self.loss[j], self.acc[j] = it, loss, acc
        self.mark_first()
        self.emit()

    def group_step(self, networks: list[int], it: int, losses: np.ndarray, accs: np.ndarray) -> None:
        for net, loss, acc in zip(networks, losses, accs):
            j = self.index[net]
            self.done[j], self.loss[j], self.acc[j] = it, loss, acc
        self.mark_first()
        self.emit()

    def mark_first(self) -> None:
        self.watch.mark(int(self.done.sum()))

    def steady_rate(self) -> float | None:
        """Steps per second since the first step was reported (start-up excluded)."""
        return self.watch.rate(int(self.done.sum()))

    def emit(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_emit < 0.1:
            return
        self.last_emit = now
        n = len(self.done)
        steps = int(self.done.sum())
        with np.errstate(all="ignore"):
            loss = float(np.nanmean(self.loss)) if np.isfinite(self.loss).any() else None
            acc = float(np.nanmean(self.acc)) if np.isfinite(self.acc).any() else None
        p = Progress(done=steps // n, total=self.cfg.iterations, unit="it", elapsed_s=self.watch.elapsed(),
                     eta_s=self.watch.eta(steps, n * self.cfg.iterations), networks=n,
                     networks_done=int((self.done >= self.cfg.iterations).sum()), loss=loss, accuracy=acc)
        self.progress(p.replace(text=p.line()))


def train_ensemble(
    config: TrainConfig,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    state_dir: str | Path | None = None,
    networks: Sequence[int] | None = None,
) -> TrainResult:
    """Train the networks of ``config`` and collect their conv-weight snapshots.

    Parameters
    ----------
    config : TrainConfig
    progress : callable(Progress), optional
        Called at most ~10 times a second with a :class:`~tdacnn.progress.Progress`:
        ``done`` (mean steps done per network) of ``total`` iterations, ``networks``,
        ``networks_done``, ``elapsed_s``, ``eta_s``, ``loss`` and ``accuracy`` (means
        over the networks of their last minibatch).
    cancel : callable() -> bool, optional
        Polled between steps; when it returns true, training stops and the
        result holds what was done (``status="cancelled"``).
    state_dir : path, optional
        Where per-network training state is saved at every snapshot; a later call
        with the same folder resumes from there.
    networks : sequence of int, optional
        Which networks of the run to train (default all ``config.n_networks``):
        network ``i`` gets exactly the weights it has in the whole run.

    Returns
    -------
    TrainResult
    """
    from tdacnn.data import check_dataset
    from tdacnn.weights import WeightEntry, WeightSet

    nets = list(range(config.n_networks)) if networks is None else [int(i) for i in networks]
    if not nets or any(not 0 <= i < config.n_networks for i in nets) or len(set(nets)) != len(nets):
        from tdacnn.errors import UserError

        raise UserError(f"networks to train must be distinct numbers from 0 to {config.n_networks - 1}")
    check_dataset(config.dataset, config.data_root, config.download)  # downloads once, before any worker
    device = resolve_device(config.device)
    backend, workers = resolve_backend(config, device, len(nets))
    state = Path(state_dir) if state_dir is not None else None
    tracker = _Tracker(config, nets, progress)
    t0 = time.monotonic()
    log.info("training %d networks for %d iterations on %s (%s, %d worker(s))",
             len(nets), config.iterations, device, backend, workers)
    cancelled = [False]

    def should_stop() -> bool:
        if not cancelled[0] and cancel is not None and cancel():
            cancelled[0] = True
        return cancelled[0]

    start = saved_iterations(state, nets)
    tracker.set_start(start)
    results: list[NetResult] = []
    if backend == "pool":
        from tdacnn.training.pool import train_in_workers

        results = train_in_workers(config, nets, state, workers, tracker.step, should_stop)
    else:
        from tdacnn.training.engine import train_group

        data = load_train_data(config, device)
        if backend == "batched":  # stacked, in groups that resume from one iteration
            for it in sorted(set(start.values())):
                if should_stop():
                    break
                group = [i for i in nets if start[i] == it]
                results += train_group(config, group, data, state, tracker.group_step, should_stop)
        else:
            with _one_thread():
                for i in nets:
                    if should_stop():
                        break
                    results += train_group(config, [i], data, state, tracker.group_step, should_stop)
    tracker.emit(force=True)

    by_net = {r.network: r for r in results}
    dtype = np.float16 if config.store_dtype == "float16" else np.float32
    names = conv_layer_names()
    entries = [
        WeightEntry(r.network, layer, it, w.astype(dtype), names[layer - 1])
        for r in sorted(results, key=lambda r: r.network)
        for it in sorted(r.snapshots) for layer, w in sorted(r.snapshots[it].items())
    ]
    elapsed = time.monotonic() - t0
    done = [by_net[i].iterations_done if i in by_net else start[i] for i in nets]
    steps = sum(done) - tracker.start_steps
    complete = all(d >= config.iterations for d in done)
    status = "complete" if complete else ("cancelled" if cancelled[0] else "partial")
    meta = {"arch": config.arch().to_dict(), "train": config.to_dict(), "dataset": config.dataset}
    return TrainResult(
        weights=WeightSet(entries, meta),
        test_acc=[by_net[i].test_acc if i in by_net else None for i in nets],
        status=status,
        iterations_done=done,
        timings={
            "train_s": round(elapsed, 3),
            "images_per_s": round(steps * config.batch_size / elapsed, 1) if elapsed > 0 else None,
            "steady_images_per_s": round(r * config.batch_size, 1) if (r := tracker.steady_rate()) else None,
            "backend": backend,
            "device": device,
            "workers": workers,
        },
        networks=nets,
    )


@contextlib.contextmanager
def _one_thread():
    """Run torch on one thread for the block (then restore the thread count).

    Every CPU layout trains each network on one thread, because oneDNN's
    reductions round differently with another thread count and training
    amplifies that (0.003 apart after 100 steps): so network i of seed s gets
    the same weights whether trained alone, in an ensemble of 40, serially or
    in worker processes of any number.  Speed comes from training networks side by side.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
