"""Train an ensemble of independently initialised networks, with weight snapshots.

``train_ensemble(config, progress=..., cancel=...)`` picks the fastest layout
measured for the device (see ``benchmarks/train.py``):

- CUDA: all networks stacked into one model, one step for all (``batched``);
- CPU with several cores: a pool of single-threaded worker processes, each
  training its share of networks one after another (``pool``).  Processes are
  started with the ``spawn`` method, so this works from a forked child (the
  Dash job runner) without inheriting its OpenMP or CUDA state, its sockets or
  its other files; each worker dies with the process that started it
  (``PR_SET_PDEATHSIG``), and one that dies stops the training at once;
- otherwise one network after another in this process (``serial``).

Every layout gives each network the same seeds and minibatches; on the CPU
each network is trained on one thread in every layout, so its weights are
bit-for-bit the same whatever the layout, worker count or ensemble size (the
CUDA layout agrees up to float rounding).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import queue as queue_mod
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tdacnn.training.config import TrainConfig
from tdacnn.training.single import NetResult, load_train_data, train_network

__all__ = ["TrainResult", "train_ensemble", "resolve_device", "resolve_backend", "cpu_count"]

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    """Outcome of :func:`train_ensemble`.

    Attributes
    ----------
    weights : WeightSet
        Conv weights of every network at every snapshot taken.
    test_acc : list of float or None
        Test accuracy per network (None for networks that did not finish).
    status : {"complete", "partial", "cancelled"}
    iterations_done : list of int
        Steps completed per network.
    timings : dict
        ``train_s``, ``images_per_s``, ``backend``, ``device``, ``workers``.
    """

    weights: Any
    test_acc: list[float | None]
    status: str
    iterations_done: list[int]
    timings: dict[str, Any] = field(default_factory=dict)


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


def resolve_backend(cfg: TrainConfig, device: str) -> tuple[str, int]:
    """(backend, worker processes) for ``cfg`` on ``device``."""
    if cfg.backend != "auto":
        workers = cfg.workers or min(cpu_count(), cfg.n_networks)
        return cfg.backend, (workers if cfg.backend == "pool" else 1)
    if device == "cuda":
        return "batched", 1
    workers = min(cfg.workers or cpu_count(), cfg.n_networks)
    return ("pool", workers) if workers > 1 else ("serial", 1)


class _Tracker:
    """Turns per-network step reports into the progress dict."""

    def __init__(self, cfg: TrainConfig, progress: Progress | None) -> None:
        self.cfg, self.progress = cfg, progress
        self.done = np.zeros(cfg.n_networks, dtype=np.int64)
        self.loss = np.full(cfg.n_networks, np.nan)
        self.acc = np.full(cfg.n_networks, np.nan)
        self.t0 = time.monotonic()
        self.start_steps = 0
        self.last_emit = 0.0
        self.first: tuple[float, int] | None = None  # (time, steps) of the first step reported

    def set_start(self, done: dict[int, int]) -> None:
        for i, it in done.items():
            self.done[i] = it
        self.start_steps = int(self.done.sum())

    def step(self, network: int, it: int, loss: float, acc: float) -> None:
        self.done[network], self.loss[network], self.acc[network] = it, loss, acc
        self.mark_first()
        self.emit()

    def mark_first(self) -> None:
        if self.first is None:
            self.first = (time.monotonic(), int(self.done.sum()))

    def steady_rate(self) -> float | None:
        """Steps per second since the first step was reported (start-up excluded)."""
        if self.first is None:
            return None
        elapsed = time.monotonic() - self.first[0]
        steps = int(self.done.sum()) - self.first[1]
        return steps / elapsed if elapsed > 0 and steps > 0 else None

    def emit(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_emit < 0.1:
            return
        self.last_emit = now
        total = self.cfg.n_networks * self.cfg.iterations
        steps = int(self.done.sum())
        elapsed = now - self.t0
        # the rate since the first step (worker start-up left out: counted in, the first reports
        # gave ETAs of hours), once it has run a second; unknown before
        rate = self.steady_rate() if self.first is not None and now - self.first[0] >= 1.0 else None
        eta = (total - steps) / rate if rate else None
        with np.errstate(all="ignore"):
            loss = float(np.nanmean(self.loss)) if np.isfinite(self.loss).any() else None
            acc = float(np.nanmean(self.acc)) if np.isfinite(self.acc).any() else None
        self.progress({
            "iteration": steps // self.cfg.n_networks,
            "total": self.cfg.iterations,
            "networks": self.cfg.n_networks,
            "networks_done": int((self.done >= self.cfg.iterations).sum()),
            "eta_s": eta,
            "elapsed_s": elapsed,
            "loss": loss,
            "acc": acc,
        })


def train_ensemble(
    config: TrainConfig,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    state_dir: str | Path | None = None,
) -> TrainResult:
    """Train ``config.n_networks`` networks and collect their conv-weight snapshots.

    Parameters
    ----------
    config : TrainConfig
    progress : callable(dict), optional
        Called at most ~10 times a second with ``iteration`` (mean steps done per
        network), ``total``, ``networks``, ``networks_done``, ``eta_s``,
        ``elapsed_s``, ``loss`` and ``acc`` (mean over networks of the last minibatch).
    cancel : callable() -> bool, optional
        Polled between steps; when it returns true, training stops and the
        result holds what was done (``status="cancelled"``).
    state_dir : path, optional
        Where per-network training state is saved at every snapshot; a later call
        with the same folder resumes from there.

    Returns
    -------
    TrainResult
    """
    from tdacnn.weights import WeightEntry, WeightSet

    from tdacnn.data import check_dataset

    check_dataset(config.dataset, config.data_root, config.download)  # downloads once, before any worker
    device = resolve_device(config.device)
    backend, workers = resolve_backend(config, device)
    state = Path(state_dir) if state_dir is not None else None
    tracker = _Tracker(config, progress)
    t0 = time.monotonic()
    log.info("training %d networks for %d iterations on %s (%s, %d worker(s))",
             config.n_networks, config.iterations, device, backend, workers)
    networks = list(range(config.n_networks))
    cancelled = [False]

    def should_stop() -> bool:
        if not cancelled[0] and cancel is not None and cancel():
            cancelled[0] = True
        return cancelled[0]

    if state is not None:
        from tdacnn.training.single import load_state, state_path

        tracker.set_start({i: s[0].iterations_done for i in networks
                           if (s := load_state(state_path(state, i))) is not None})

    if backend == "pool":
        results = _train_pool(config, networks, state, workers, tracker, should_stop)
    else:
        data = load_train_data(config, device)
        if backend == "batched":
            from tdacnn.training.batched import train_batched

            def report(nets, it, losses, accs):
                for k, i in enumerate(nets):
                    tracker.done[i], tracker.loss[i], tracker.acc[i] = it, losses[k], accs[k]
                tracker.mark_first()
                tracker.emit()

            results = train_batched(config, networks, data, state, report, should_stop)
        else:
            from tdacnn.training.allocator import keep_freed_memory

            keep_freed_memory()
            results = []
            with _one_thread():
                for i in networks:
                    if should_stop():
                        break
                    results.append(train_network(config, i, data, state, tracker.step, should_stop))
    tracker.emit(force=True)

    results = sorted(results, key=lambda r: r.network)
    by_net = {r.network: r for r in results}
    dtype = np.float16 if config.store_dtype == "float16" else np.float32
    arch = config.arch()
    names = {1: "conv1.weight", 2: "conv2.weight"}
    entries = [
        WeightEntry(r.network, layer, it, w.astype(dtype), names[layer])
        for r in results for it in sorted(r.snapshots) for layer, w in sorted(r.snapshots[it].items())
    ]
    elapsed = time.monotonic() - t0
    done = [by_net[i].iterations_done if i in by_net else 0 for i in networks]
    steps = sum(done) - tracker.start_steps
    complete = all(d >= config.iterations for d in done)
    status = "complete" if complete else ("cancelled" if cancelled[0] else "partial")
    meta = {"arch": arch.to_dict(), "train": config.to_dict(), "dataset": config.dataset}
    return TrainResult(
        weights=WeightSet(entries, meta),
        test_acc=[by_net[i].test_acc if i in by_net else None for i in networks],
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
    )


@contextlib.contextmanager
def _one_thread():
    """Run torch on one thread for the block (then restore the thread count).

    Every CPU layout trains each network on one thread, because oneDNN's
    reductions round differently with another thread count and training
    amplifies that (0.003 apart after 100 steps): so network i of seed s gets
    the same weights whether trained alone, in an ensemble of 40, serially or
    in a pool of any size.  Speed comes from training networks side by side.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _main_not_reimported():
    """Hide ``__main__``'s file and spec while spawning workers.

    A spawned child normally re-imports the parent's main script, which runs any
    unguarded top-level code (a user's script, the web app) a second time.  The
    workers need nothing from ``__main__`` (their target lives in this package),
    so it is hidden for the moment the preparation data is taken.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _worker_entry(parent_pid: int, *args: Any) -> None:
    """A pool worker: die with the process that started it, then train (:func:`~tdacnn.training.single.worker_main`)."""
    from tdacnn.lifeline import die_with_parent
    from tdacnn.training.single import worker_main

    die_with_parent(parent_pid)
    worker_main(*args)


def _train_pool(cfg: TrainConfig, networks: list[int], state: Path | None, workers: int,
                tracker: _Tracker, should_stop: Callable[[], bool]) -> list[NetResult]:
    """Train ``networks`` in ``workers`` spawned single-threaded processes."""
    import multiprocessing as mp

    from tdacnn.errors import UserError

    ctx = mp.get_context("spawn")
    tasks, results_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    for i in networks:
        tasks.put(i)
    for _ in range(workers):
        tasks.put(None)
    args = (os.getpid(), cfg.to_dict(), str(state) if state else None, tasks, results_q, stop)
    procs = [ctx.Process(target=_worker_entry, args=args, daemon=True) for _ in range(workers)]
    with _main_not_reimported():
        for p in procs:
            p.start()
    results: list[NetResult] = []
    error: tuple[bool, str] | None = None
    finished = 0
    try:
        while finished < workers:
            if should_stop():
                stop.set()
            try:
                kind, payload = results_q.get(timeout=0.1)
            except queue_mod.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or (not any(p.is_alive() for p in procs) and results_q.empty()):
                    # a worker died without saying goodbye (killed, out of memory): its networks will
                    # never finish, so stop the others now rather than when they are done
                    if finished < workers and error is None:
                        status = f" (exit status {dead[0]})" if dead else ""
                        error = (False, f"a training worker process died unexpectedly{status}")
                    break
                continue
            if kind == "step":
                tracker.step(*payload)
            elif kind == "result":
                results.append(payload)
            elif kind == "error":
                error = error or payload
                stop.set()
            elif kind == "done":
                finished += 1
    finally:
        stop.set()
        deadline = time.monotonic() + 10
        for p in procs:
            p.join(timeout=max(deadline - time.monotonic(), 0.1))
            if p.is_alive():
                p.kill()
                p.join()
    if error is not None:
        is_user, msg = error
        raise UserError(msg) if is_user else RuntimeError(f"training failed in a worker: {msg}")
    return results
