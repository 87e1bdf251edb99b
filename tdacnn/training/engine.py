"""The one training loop: a group of networks of one architecture, one step for all.

The group's parameters are stacked along a leading axis, shapes ``(k,) + shape``
in the network's own parameter order (``torch.func.stack_module_state``), and
the network is the one :class:`~tdacnn.nets.arch.SmallCNN`, called through
``torch.func.functional_call``: once for a group of one, under ``torch.func.vmap``
for a larger group.  The loss is the sum of the networks' mean losses, and
Adam, AdamW and SGD act elementwise, so each network follows the trajectory it
would follow alone (bit for bit in a group of one, up to float rounding in a
stack).  How the device is used is the caller's choice (``ensemble.py``):

- CPU: groups of one network, in channels-last layout, one thread per network,
  each minibatch in cache-sized passes (see :data:`PASS_BYTES`);
- CUDA: one stacked group of many networks.

``vmap`` over ``functional_call`` was measured against the hand-written stacked
forward it replaces (grouped convolutions, batched matrix products; kept in
``benchmarks/train.py --stacked-check``), 8 MNIST networks on one CPU thread:
equal logits and gradients (to 1e-7 and 2e-6); at load average ~1, 0.70-0.76x
its speed (e.g. 73 vs 55 ms per network and step), at load 2-12 0.89-1.12x.
The stacked layout is the CUDA one (on the CPU one network per thread is 2-3x
faster than either), and it has not been timed on a GPU: if vmap's cost holds
there, the hand-written forward is the one to bring back.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from tdacnn.training.config import TrainConfig, batch_indices, network_seeds
from tdacnn.training.state import NetResult, TrainData, conv_param, layers_at, load_state, save_state, state_path

__all__ = ["train_group", "make_optimizer", "images_per_pass", "PASS_BYTES"]

log = logging.getLogger(__name__)

#: ``report(networks, iteration, losses (k,), accs (k,))``
GroupReport = Callable[[list[int], int, np.ndarray, np.ndarray], None]

#: On the CPU a minibatch goes through the network in passes whose conv1 output
#: (the largest activation, kept for the backward pass) is at most this big, so
#: that it stays in cache; the passes' gradients are summed before the step, which
#: is the full batch's gradient.  Measured for the MNIST network (64 filters,
#: batch 64, one thread, AMD EPYC): 11.8-12.3 ms per step in one pass, 9.2-10.7 ms
#: in four passes of 16 images (2.7 MB each), 10.5-10.8 ms in eight.
PASS_BYTES = 3 << 20


def make_optimizer(params, cfg: TrainConfig):
    """The optimiser ``cfg`` asks for over ``params``.

    PyTorch's fused implementation where the installed torch has it for the
    device: one kernel for all parameters instead of a dozen small ops per
    tensor (0.06 vs 0.18 ms per Adam step on the CPU for the MNIST network),
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


def forward(base, params: dict, x, shared: bool):
    """Logits of every network of the group.

    Parameters
    ----------
    base : SmallCNN
        The network whose ``forward`` is used (its own parameters are not; it may live on ``meta``).
    params : dict of name -> tensor of shape (k,) + per-network shape
    x : tensor of shape (B, c, h, w) when ``shared`` (or k = 1), else (k, B, c, h, w)

    Returns
    -------
    tensor of shape (k, B, n_classes)
    """
    from torch.func import functional_call, vmap

    k = next(iter(params.values())).shape[0]
    if k == 1:  # no vmap: the layout of x (channels-last on the CPU) reaches oneDNN as it is
        return functional_call(base, {n: p[0] for n, p in params.items()}, (x if shared else x[0],)).unsqueeze(0)
    one = lambda p, xs: functional_call(base, p, (xs,))  # noqa: E731
    return vmap(one, in_dims=(0, None if shared else 0))(params, x)


def _stack_optim_states(states: list[dict]) -> dict:
    """One optimiser state dict over stacked parameters from the networks' own."""
    import torch

    first = states[0]
    stacked = {idx: {key: (torch.stack([s["state"][idx][key] for s in states])
                           if hasattr(v, "dim") and v.dim() > 0 else v) for key, v in st.items()}
               for idx, st in first["state"].items()}
    return {"state": stacked, "param_groups": first["param_groups"]}


def _split_optim_state(state: dict, j: int) -> dict:
    """Network ``j``'s own optimiser state dict from a stacked one."""
    return {"state": {idx: {key: (v[j].clone() if hasattr(v, "dim") and v.dim() > 0 else v) for key, v in st.items()}
                      for idx, st in state["state"].items()},
            "param_groups": state["param_groups"]}


def train_group(
    cfg: TrainConfig,
    networks: list[int],
    data: TrainData,
    state_dir: Path | None = None,
    report: GroupReport | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[NetResult]:
    """Train ``networks`` of the ensemble ``cfg`` together on ``data``'s device.

    Parameters
    ----------
    networks : list of int
        Network numbers (each seeded from ``(cfg.seed, number)``).  When resuming,
        their saved states must be at one iteration (the callers group them so).
    state_dir : path, optional
        Per-network state is saved here at every snapshot, and resumed from.
    report : callable(networks, iteration, losses, accs), optional
        Called after every step on the CPU, every 10th elsewhere (reading the
        losses back synchronises a GPU), and at every snapshot.
    should_stop : callable() -> bool, optional
        Checked between steps; training stops (keeping the last saved state) when true.

    Returns
    -------
    list of NetResult
        In the order of ``networks``; ``iterations_done < cfg.iterations`` when stopped early.
    """
    import torch
    import torch.nn.functional as F
    from torch.func import stack_module_state

    from tdacnn.nets.arch import build_model

    device = data.x_train.device
    arch, k = cfg.arch(), len(networks)
    seeds = [network_seeds(cfg.seed, i, cfg.shared_batches) for i in networks]
    models = []
    for init_seed, _ in seeds:
        torch.manual_seed(init_seed)
        models.append(build_model(arch))
    stacked, _ = stack_module_state(models)
    cpu = device.type == "cpu"
    # channels-last lets oneDNN's convolutions and max-pooling run vectorised: measured
    # ~2x faster per step than the default layout on the CPU (benchmarks/train.py); a
    # group of one holds its conv weights so that network 0's own view is channels-last
    layout = torch.channels_last if cpu and k == 1 else torch.contiguous_format
    # (empty_like, not .contiguous: with one input channel both layouts pass as contiguous, so
    # .contiguous keeps the default strides, and oneDNN then picks its slow default-layout kernels)
    params = {n: (torch.empty_like(p[0], memory_format=layout).copy_(p[0]).unsqueeze(0) if k == 1 and p.dim() == 5
                  else p).detach().to(device).requires_grad_() for n, p in stacked.items()}
    with torch.device("meta"):
        base = build_model(arch)
    opt = make_optimizer(params.values(), cfg)
    results = [NetResult(i) for i in networks]

    start = 0
    saved = [load_state(state_path(state_dir, i)) for i in networks] if state_dir is not None else []
    if any(s is not None for s in saved):
        if len({s[0].iterations_done if s is not None else 0 for s in saved}) != 1:
            raise ValueError("networks trained as one group must resume from one iteration")
        with torch.no_grad():
            for j, (res, model_state, _) in enumerate(saved):
                res.network, results[j] = networks[j], res
                for n, p in params.items():
                    p[j].copy_(model_state[n])
        opt.load_state_dict(_stack_optim_states([s[2] for s in saved]))
        start = results[0].iterations_done
        log.info("networks %s: resuming at iteration %d", networks, start)

    shared = cfg.shared_batches or k == 1  # one network: its own batches are the group's
    pass_size, every = images_per_pass(cfg, device.type), (1 if cpu else 10)

    def snapshot(t: int) -> None:
        for j, r in enumerate(results):
            r.snapshots[t] = {layer: params[conv_param(layer)][j].detach().cpu().numpy().copy()
                              for layer in layers_at(cfg, t)}

    def save() -> None:
        if state_dir is None:
            return
        ostate = opt.state_dict()
        for j, r in enumerate(results):
            own = {n: p[j].detach().cpu().clone() for n, p in params.items()}
            save_state(state_path(state_dir, r.network), r, own, _split_optim_state(ostate, j))

    ntr, snaps = len(data.x_train), set(cfg.snapshots)
    if start == 0 and 0 in snaps:
        snapshot(0)
    t = start
    while t < cfg.iterations:
        if should_stop is not None and should_stop():
            break
        if shared:
            idx = torch.from_numpy(batch_indices(ntr, cfg.batch_size, seeds[0][1], t)).to(device)
        else:
            idx = torch.from_numpy(np.stack([batch_indices(ntr, cfg.batch_size, s[1], t) for s in seeds])).to(device)
        xb, yb = data.x_train[idx].contiguous(memory_format=layout), data.y_train[idx]  # (B, ...) or (k, B, ...)
        dim = 0 if shared else 1
        opt.zero_grad(set_to_none=True)
        parts = []
        for xc, yc in zip(xb.split(pass_size, dim), yb.split(pass_size, dim)):
            logits = forward(base, params, xc, shared)  # (k, b, classes)
            target = yc.expand(k, -1) if shared else yc  # (k, b)
            # sum over networks of each one's batch mean; passes add up to the whole batch's gradient
            (F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum") / cfg.batch_size).backward()
            parts.append(logits.detach())
        opt.step()
        t += 1
        if t in snaps or t == cfg.iterations or (report is not None and t % every == 0):
            logits, target = torch.cat(parts, 1), (yb.expand(k, -1) if shared else yb)
            losses = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none").view(k, -1).mean(1)
            loss_np = losses.cpu().numpy().astype(np.float64)
            acc_np = (logits.argmax(2) == target).double().mean(1).cpu().numpy()
            for j, r in enumerate(results):
                r.iterations_done, r.loss, r.acc = t, float(loss_np[j]), float(acc_np[j])
            if t in snaps:
                snapshot(t)
                if t == cfg.iterations:
                    for r, a in zip(results, _evaluate(base, params, data, layout)):
                        r.test_acc = a
                save()
            if report is not None:
                report(networks, t, loss_np, acc_np)
    for r in results:
        r.iterations_done = t
    if t >= cfg.iterations and any(r.test_acc is None for r in results):  # resumed from finished states
        for r, a in zip(results, _evaluate(base, params, data, layout)):
            r.test_acc = a
    return results


def _evaluate(base, params: dict, data: TrainData, layout) -> list[float]:
    """Test accuracy of each network of the group.

    Chunks of 256 images for one network keep the activations in cache (MNIST test
    split on the CPU: 0.55 s against 1.2-1.6 s with chunks of 1,000).
    """
    import torch

    k = next(iter(params.values())).shape[0]
    chunk = 256 if k == 1 else max(1, min(1000, 2000 // k))
    correct = torch.zeros(k, dtype=torch.int64, device=data.x_test.device)
    with torch.no_grad():
        for i in range(0, len(data.x_test), chunk):
            x = data.x_test[i : i + chunk].contiguous(memory_format=layout)
            correct += (forward(base, params, x, shared=True).argmax(2) == data.y_test[i : i + chunk]).sum(1)
    return (correct.double() / max(len(data.x_test), 1)).cpu().tolist()
