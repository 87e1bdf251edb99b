"""All networks of an ensemble in one model: the layout for CUDA.

The N networks' parameters are stacked along a leading axis, shapes
``(N,) + shape`` in the per-network model's parameter order.  One step runs
layer 1 as one convolution (shared minibatch) or a grouped convolution
(independent minibatches), layer 2 as a grouped convolution with ``groups=N``,
and the dense layers as batched matrix products.  The loss is the sum of the
networks' mean losses, and Adam, AdamW and SGD act elementwise, so each network
follows exactly the trajectory it would follow alone (up to float rounding).
Training state is saved per network in the format of :mod:`.single`, so a run
can be resumed by either layout.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from tdacnn.training.config import TrainConfig, batch_indices, network_seeds
from tdacnn.training.single import CONV_PARAMS, NetResult, TrainData, layers_at, load_state, make_optimizer, \
    save_state, state_path

__all__ = ["PARAM_NAMES", "stacked_forward", "train_batched"]

log = logging.getLogger(__name__)

PARAM_NAMES = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
               "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def stacked_forward(p: dict, x, shared: bool):
    """Logits of all networks.

    Parameters
    ----------
    p : dict of name -> tensor of shape (N,) + per-network shape
    x : tensor of shape (B, c, h, w) when ``shared`` else (N, B, c, h, w)

    Returns
    -------
    tensor of shape (N, B, n_classes)
    """
    import torch
    import torch.nn.functional as F

    w1, w2 = p["conv1.weight"], p["conv2.weight"]
    n, c1, cin = w1.shape[:3]
    c2 = w2.shape[1]
    if shared:
        h = F.conv2d(x, w1.reshape(n * c1, cin, 3, 3), p["conv1.bias"].reshape(-1))  # (B, N*c1, s, s)
    else:
        b = x.shape[1]
        xg = x.transpose(0, 1).reshape(b, n * cin, *x.shape[-2:])  # (B, N*cin, h, w)
        h = F.conv2d(xg, w1.reshape(n * c1, cin, 3, 3), p["conv1.bias"].reshape(-1), groups=n)
    h = F.relu(F.max_pool2d(h, 2))  # = maxpool(relu(h)), cheaper
    h = F.conv2d(h, w2.reshape(n * c2, c1, 3, 3), p["conv2.bias"].reshape(-1), groups=n)  # (B, N*c2, s, s)
    h = F.relu(F.max_pool2d(h, 2))
    b = h.shape[0]
    h = h.reshape(b, n, -1).transpose(0, 1)  # (N, B, c2*f*f)
    h = F.relu(torch.baddbmm(p["fc1.bias"].unsqueeze(1), h, p["fc1.weight"].transpose(1, 2)))  # (N, B, hidden)
    return torch.baddbmm(p["fc2.bias"].unsqueeze(1), h, p["fc2.weight"].transpose(1, 2))  # (N, B, classes)


def _split_optim_state(opt_state: dict, i: int, n: int) -> dict:
    """Network ``i``'s slice of a stacked optimiser state dict."""
    state = {
        k: {name: (v[i].clone() if hasattr(v, "dim") and v.dim() > 0 and v.shape[0] == n else v)
            for name, v in s.items()}
        for k, s in opt_state["state"].items()
    }
    return {"state": state, "param_groups": opt_state["param_groups"]}


def train_batched(
    cfg: TrainConfig,
    networks: list[int],
    data: TrainData,
    state_dir: Path | None = None,
    report: Callable[[list[int], int, np.ndarray, np.ndarray], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[NetResult]:
    """Train ``networks`` together in one stacked model on ``data``'s device.

    ``report(networks, iteration, losses (N,), accs (N,))`` is called after every step.
    """
    import torch
    import torch.nn.functional as F

    from tdacnn.nets.arch import build_model

    device = data.x_train.device
    arch = cfg.arch()
    n = len(networks)
    seeds = [network_seeds(cfg.seed, i, cfg.shared_batches) for i in networks]
    results = [NetResult(i) for i in networks]
    per_net = []
    for k, i in enumerate(networks):
        torch.manual_seed(seeds[k][0])
        per_net.append(dict(build_model(arch).named_parameters()))
    params = {name: torch.stack([m[name].detach() for m in per_net]).to(device).requires_grad_()
              for name in PARAM_NAMES}
    opt = make_optimizer([params[name] for name in PARAM_NAMES], cfg)

    start = 0
    if state_dir is not None:
        saved = [load_state(state_path(state_dir, i)) for i in networks]
        if any(s is not None for s in saved):
            its = {s[0].iterations_done if s is not None else 0 for s in saved}
            if len(its) != 1:
                from tdacnn.errors import UserError

                raise UserError("the saved networks of this run stopped at different iterations; "
                                "resume it with the backend that started it (pool or serial)")
            start = its.pop()
            for k, s in enumerate(saved):
                results[k], model_state, _ = s
                results[k].network = networks[k]
                with torch.no_grad():
                    for name in PARAM_NAMES:
                        params[name][k].copy_(model_state[name])
            # optimiser moments: stack the per-network states
            stacked = saved[0][2]
            for idx, st in stacked["state"].items():
                for key, v in st.items():
                    if hasattr(v, "dim") and v.dim() > 0:
                        st[key] = torch.stack([s[2]["state"][idx][key] for s in saved])
            opt.load_state_dict(stacked)
            log.info("batched: resuming %d networks at iteration %d", n, start)

    def snapshot(t: int) -> None:
        for k, r in enumerate(results):
            r.snapshots[t] = {layer: params[CONV_PARAMS[layer]][k].detach().cpu().numpy().copy()
                              for layer in layers_at(cfg, t)}

    def save() -> None:
        if state_dir is None:
            return
        ostate = opt.state_dict()
        for k, r in enumerate(results):
            model_state = {name: params[name][k].detach().cpu().clone() for name in PARAM_NAMES}
            save_state(state_path(state_dir, r.network), r, model_state, _split_optim_state(ostate, k, n))

    ntr = len(data.x_train)
    snaps = set(cfg.snapshots)
    if start == 0 and 0 in snaps:
        snapshot(0)
    t = start
    while t < cfg.iterations:
        if should_stop is not None and should_stop():
            break
        if cfg.shared_batches:
            idx = torch.from_numpy(batch_indices(ntr, cfg.batch_size, seeds[0][1], t)).to(device)
            xb, yb = data.x_train[idx], data.y_train[idx].expand(n, -1)  # (B, c, h, w), (N, B)
        else:
            idx = torch.from_numpy(np.stack([batch_indices(ntr, cfg.batch_size, s[1], t) for s in seeds])).to(device)
            xb, yb = data.x_train[idx], data.y_train[idx]  # (N, B, c, h, w), (N, B)
        logits = stacked_forward(params, xb, cfg.shared_batches)  # (N, B, classes)
        losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(n, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        t += 1
        need = t in snaps or t == cfg.iterations or (report is not None and t % 10 == 0)
        if need:  # reading losses back synchronises the device: not every step
            loss_np = losses.detach().cpu().numpy()
            acc_np = (logits.detach().argmax(2) == yb).float().mean(1).cpu().numpy()
            for k, r in enumerate(results):
                r.iterations_done, r.loss, r.acc = t, float(loss_np[k]), float(acc_np[k])
        if t in snaps:
            snapshot(t)
            if t == cfg.iterations:
                for k, a in enumerate(_evaluate_stacked(params, data, n)):
                    results[k].test_acc = a
            save()
        if report is not None and need:
            report(networks, t, loss_np, acc_np)
    for r in results:
        r.iterations_done = t
    return results


def _evaluate_stacked(params: dict, data: TrainData, n: int) -> list[float]:
    """Test accuracy of each stacked network."""
    import torch

    chunk = max(1, min(1000, 2000 // n))
    correct = torch.zeros(n, dtype=torch.int64, device=data.x_test.device)
    with torch.no_grad():
        for i in range(0, len(data.x_test), chunk):
            logits = stacked_forward(params, data.x_test[i : i + chunk], shared=True)
            correct += (logits.argmax(2) == data.y_test[i : i + chunk]).sum(1)
    return (correct.double() / max(len(data.x_test), 1)).cpu().tolist()
