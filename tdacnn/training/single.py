"""Training one network after another: the per-network loop shared by the
in-process (``serial``) and the process-pool (``pool``) backends.

A network's training state (model, optimiser, snapshots so far) is written to
``state_dir/net_XXXX.pt`` at each snapshot iteration, so a cancelled or crashed
run resumes from its last snapshot.  State files hold tensors only and are read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tdacnn.training.config import TrainConfig, batch_indices, network_seeds

__all__ = ["NetResult", "TrainData", "make_optimizer", "images_per_pass", "layers_at", "state_path", "load_state",
           "save_state", "train_network", "evaluate", "load_train_data"]

log = logging.getLogger(__name__)

#: conv layer number -> parameter name in the model
CONV_PARAMS = {1: "conv1.weight", 2: "conv2.weight"}


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


def make_optimizer(params, cfg: TrainConfig):
    """The optimiser ``cfg`` asks for over ``params``.

    PyTorch's fused implementation where the installed torch has it for the
    device: one kernel for all parameters instead of a dozen small ops per
    tensor (0.06 vs 0.18 ms per Adam step on this CPU for the MNIST network),
    same update rule.
    """
    import torch

    params = list(params)
    if cfg.optimizer == "sgd":
        cls, kw = torch.optim.SGD, {"momentum": cfg.momentum}
    else:
        cls, kw = (torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam), {}
    try:
        return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True, **kw)
    except RuntimeError:  # an older torch without a fused kernel for this device
        return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **kw)


#: On the CPU a minibatch goes through the network in passes whose conv1 output
#: (the largest activation, kept for the backward pass) is at most this big, so
#: that it stays in cache; the passes' gradients are summed before the step, which
#: is the full batch's gradient.  Measured for the MNIST network (64 filters,
#: batch 64, one thread): 11.8-12.3 ms per step in one pass, 9.2-10.7 ms in four
#: passes of 16 images (2.7 MB each), 10.5-10.8 ms in eight.
PASS_BYTES = 3 << 20


def images_per_pass(cfg: TrainConfig, device_type: str) -> int:
    """Images per forward/backward pass: the whole batch on a GPU; on the CPU the batch
    split into equal passes whose conv1 output fits in :data:`PASS_BYTES`."""
    if device_type != "cpu":
        return cfg.batch_size
    arch = cfg.arch()
    side = arch.image_size - 2
    per_image = arch.conv1 * side * side * 4  # float32 bytes of conv1's output
    passes = -(-cfg.batch_size // max(1, PASS_BYTES // per_image))  # ceil
    return -(-cfg.batch_size // passes)


def layers_at(cfg: TrainConfig, iteration: int) -> tuple[int, ...]:
    """Conv layers recorded at snapshot ``iteration`` (all of them at the final one)."""
    if iteration == cfg.iterations or cfg.snapshot_layers is None:
        return tuple(CONV_PARAMS)
    return cfg.snapshot_layers


def state_path(state_dir: Path, network: int) -> Path:
    return Path(state_dir) / f"net_{network:04d}.pt"


def save_state(path: Path, result: NetResult, model_state: dict, optim_state: dict) -> None:
    """Write one network's training state atomically."""
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


def evaluate(model, x, y, batch: int = 256) -> float:
    """Accuracy of ``model`` on images ``x`` (n, c, h, w) with labels ``y`` (n,).

    Batches of 256 keep the activations in cache: for the MNIST network on
    10,000 test images, 0.55 s against 1.2-1.6 s with batches of 1,000.
    """
    import torch

    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / max(len(x), 1)


def train_network(
    cfg: TrainConfig,
    network: int,
    data: TrainData,
    state_dir: Path | None = None,
    report: Callable[[int, int, float, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> NetResult:
    """Train network ``network`` of the ensemble described by ``cfg``.

    Parameters
    ----------
    report : callable(network, iteration, loss, acc), optional
        Called after every step.
    should_stop : callable() -> bool, optional
        Checked between steps; training stops (keeping the last saved state) when true.

    Returns
    -------
    NetResult
        ``iterations_done < cfg.iterations`` when stopped early.
    """
    import torch
    import torch.nn.functional as F

    from tdacnn.nets.arch import build_model

    device = data.x_train.device
    init_seed, data_seed = network_seeds(cfg.seed, network, cfg.shared_batches)
    torch.manual_seed(init_seed)
    model = build_model(cfg.arch()).to(device)
    # channels-last lets oneDNN's convolutions and max-pooling run vectorised: measured
    # ~2x faster per step than the default layout on CPU (benchmarks/train.py)
    memory_format = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    pass_size = images_per_pass(cfg, device.type)
    model = model.to(memory_format=memory_format)
    opt = make_optimizer(model.parameters(), cfg)
    result = NetResult(network)
    path = state_path(state_dir, network) if state_dir is not None else None
    if path is not None:
        saved = load_state(path)
        if saved is not None:
            result, model_state, optim_state = saved
            result.network = network
            model.load_state_dict(model_state)
            opt.load_state_dict(optim_state)
            log.info("network %d: resuming at iteration %d", network, result.iterations_done)
    params = dict(model.named_parameters())

    def snapshot(t: int) -> None:
        result.snapshots[t] = {
            layer: params[CONV_PARAMS[layer]].detach().cpu().numpy().copy() for layer in layers_at(cfg, t)
        }

    n = len(data.x_train)
    snaps = set(cfg.snapshots)
    if result.iterations_done == 0 and 0 in snaps and 0 not in result.snapshots:
        snapshot(0)
    t = result.iterations_done
    while t < cfg.iterations:
        if should_stop is not None and should_stop():
            break
        idx = torch.from_numpy(batch_indices(n, cfg.batch_size, data_seed, t)).to(device)
        xb, yb = data.x_train[idx].contiguous(memory_format=memory_format), data.y_train[idx]
        opt.zero_grad(set_to_none=True)
        loss, parts = 0.0, []
        for xc, yc in zip(xb.split(pass_size), yb.split(pass_size)):
            # sum of per-image losses / batch: the passes' gradients add up to the batch mean's
            part = model(xc)
            chunk_loss = F.cross_entropy(part, yc, reduction="sum") / len(yb)
            chunk_loss.backward()
            loss = loss + chunk_loss.detach()
            parts.append(part.detach())
        logits = torch.cat(parts)
        opt.step()
        t += 1
        result.iterations_done = t
        result.loss = float(loss.detach())
        result.acc = float((logits.argmax(1) == yb).float().mean())
        if t in snaps:
            snapshot(t)
            if t == cfg.iterations:
                model.eval()
                result.test_acc = evaluate(model, data.x_test, data.y_test)
            if path is not None:
                save_state(path, result, model.state_dict(), opt.state_dict())
        if report is not None:
            report(network, t, result.loss, result.acc)
    if t >= cfg.iterations and result.test_acc is None:  # resumed from a finished state without accuracy
        result.test_acc = evaluate(model, data.x_test, data.y_test)
    return result


# ---- process-pool worker ------------------------------------------------------

def worker_main(cfg_dict: dict, state_dir: str | None, tasks, results, stop) -> None:
    """Entry point of a pool worker process (spawned, single-threaded).

    Pulls network indices from ``tasks`` until it gets None; sends progress and
    results through ``results`` as tuples ``(kind, payload)``; ends the process.
    """
    import os
    import sys

    import torch

    from tdacnn.training.allocator import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()
    pid = os.getpid()
    try:
        cfg = TrainConfig.from_dict(cfg_dict)
        data = load_train_data(cfg, "cpu")
        last = [0.0]

        def report(network: int, it: int, loss: float, acc: float) -> None:
            now = time.monotonic()
            if now - last[0] > 0.2 or it == cfg.iterations:
                last[0] = now
                results.put(("step", (network, it, loss, acc)))

        while True:
            network = tasks.get()
            if network is None:
                break
            res = train_network(cfg, network, data, Path(state_dir) if state_dir else None, report, stop.is_set)
            results.put(("result", res))
            if stop.is_set():
                break
    except BaseException as exc:  # reported to the parent, which raises it there
        from tdacnn.errors import UserError

        results.put(("error", (isinstance(exc, UserError), f"{type(exc).__name__}: {exc}" if not isinstance(exc, UserError) else str(exc))))
    finally:
        results.put(("done", pid))
        # Flush the queue, then leave without Python's interpreter teardown: with
        # torch (and the torch._dynamo the optimisers import) loaded, an orderly
        # exit took ~1 s per worker here, added to every training run.
        results.close()
        results.join_thread()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
