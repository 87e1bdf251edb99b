"""Training throughput: the ensemble trainer against plain PyTorch one network at a time.

Prints images/s (optimiser steps x batch size, summed over networks) for
N = 1, 8, 32, 100 networks of the paper's MNIST CNN (64/32 filters, 28x28,
batch 64, Adam), as ratios against a one-network-at-a-time plain PyTorch
baseline measured in the same run, and as a fraction of this machine's
float32 GEMM throughput (a 2048x2048 ``torch.mm``, measured in the same run).
Also estimates the time to train 40 and 100 MNIST networks for 1,000 iterations.

The baseline is a plain PyTorch training loop (``nn.Sequential``, default
layout, default threads, ``torch.optim.Adam``) run in a fresh process of its
own, as a user's script runs.  It is measured in a separate process because
glibc's malloc adapts to a process's history: in this benchmark's own process,
after the GEMM measurement had freed two 16 MB matrices, the same loop ran
twice as fast as in a fresh one, and the ratio would depend on what ran before.
A second baseline, the same loop with the malloc settings tdacnn's trainer
uses (``tdacnn.training.allocator``), is printed beside it, so the gain from
the allocator and the gain from the layout can be told apart.

What the trainer does on the CPU, and what was measured and left out (2-core
AMD EPYC with AVX-512, one thread per network, per optimiser step of batch 64):

- kept: channels-last tensors (oneDNN convolutions and vectorised pooling),
  ~2x per step over the default layout; glibc malloc settings that keep freed
  memory (16.7 -> 11.5 ms: every step was page-faulting ~40 MB of fresh zero
  pages); fused Adam/AdamW/SGD (0.18 -> 0.06 ms); each minibatch in passes
  whose conv1 output stays in cache (4 passes of 16 images: 11.8-12.3 ->
  9.2-10.7 ms); one spawned process per core.
- left out: ``torch.compile`` (inductor) was 2x slower per step (21.9 vs
  10.8 ms) after a 15 s compile; layer 1 as a custom autograd function
  (conv -> 2x2 max -> ReLU split into the four pooling phases, weight gradient
  as GEMMs) was 1.3-3x slower than oneDNN's convolution plus PyTorch's pooling
  kernel in eager mode; stacking networks into grouped convolutions or
  ``torch.func.vmap`` was slower on the CPU (see issue 7), so it is used on CUDA only.

    python benchmarks/train.py [--quick] [--json] [--dataset digits|mnist --data-root DIR]

Timings on a shared machine are noisy: compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 ``torch.mm`` rate of this machine, GFLOP/s."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def flops_per_image(arch) -> float:
    """Multiply-adds x 2 of one training step per image (forward + backward ~ 3x forward)."""
    s1 = arch.image_size - 2
    p1 = s1 // 2
    s2 = p1 - 2
    fwd = 2 * (s1 * s1 * arch.conv1 * arch.in_channels * 9 + s2 * s2 * arch.conv2 * arch.conv1 * 9
               + arch.n_features * arch.hidden + arch.hidden * arch.n_classes)
    # conv1's input needs no gradient: its backward is one GEMM, the others two
    conv1 = 2 * s1 * s1 * arch.conv1 * arch.in_channels * 9
    return 3 * fwd - conv1


def plain_baseline(x, y, arch, iterations: int, batch: int, seed: int = 0) -> float:
    """images/s of one network trained alone in plain PyTorch (default threads)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(arch.in_channels, arch.conv1, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(arch.conv1, arch.conv2, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(arch.n_features, arch.hidden), nn.ReLU(), nn.Linear(arch.hidden, arch.n_classes),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    for _ in range(iterations):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return iterations * batch / (time.perf_counter() - t)


def baseline_in_fresh_process(dataset: str, data_root: str | None, iterations: int, batch: int,
                              tuned_allocator: bool) -> float:
    """images/s of :func:`plain_baseline` run in a new Python process."""
    cmd = [sys.executable, __file__, "--baseline-only", "tuned" if tuned_allocator else "plain",
           "--dataset", dataset, "--iterations", str(iterations), "--batch", str(batch)]
    if data_root:
        cmd += ["--data-root", data_root]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"])


def _baseline_only(args) -> int:
    """``--baseline-only``: measure one baseline in this (fresh) process and print it as JSON."""
    if args.baseline_only == "tuned":
        from tdacnn.training.allocator import keep_freed_memory

        keep_freed_memory()
    import torch

    from tdacnn.data import load_dataset
    from tdacnn.training.config import TrainConfig

    arch = TrainConfig(dataset=args.dataset, data_root=args.data_root).arch()
    xs, ys = (torch.from_numpy(a) for a in load_dataset(args.dataset, args.data_root))
    plain_baseline(xs, ys, arch, 5, args.batch)  # first-call set-up, not timed
    print(json.dumps({"images_per_s": plain_baseline(xs, ys, arch, args.iterations, args.batch)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1, 8, 32 and fewer iterations")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--dataset", default="digits", choices=("digits", "mnist"))
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--networks", default=None, help="comma-separated N values")
    ap.add_argument("--mnist-root", default=None,
                    help="also train 4 networks for 1,000 iterations on real MNIST here and report test accuracy")
    ap.add_argument("--baseline-only", choices=("plain", "tuned"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.baseline_only:
        return _baseline_only(args)

    import torch

    from tdacnn.data import load_dataset
    from tdacnn.training.config import TrainConfig
    from tdacnn.training.ensemble import cpu_count, resolve_device, train_ensemble

    ns = [int(v) for v in args.networks.split(",")] if args.networks else ([1, 8, 32] if args.quick else [1, 8, 32, 100])
    iterations = args.iterations or (30 if args.quick else 300)
    batch = args.batch
    device = resolve_device("auto")
    cfg0 = TrainConfig(dataset=args.dataset, data_root=args.data_root)
    arch = cfg0.arch()
    xs, ys = (torch.from_numpy(a) for a in load_dataset(args.dataset, args.data_root))

    gemm = gemm_gflops()
    fpi = flops_per_image(arch)
    base_iterations = max(min(iterations, 300), 50)
    base = baseline_in_fresh_process(args.dataset, args.data_root, base_iterations, batch, tuned_allocator=False)
    tuned = baseline_in_fresh_process(args.dataset, args.data_root, base_iterations, batch, tuned_allocator=True)
    rows = []
    for n in ns:
        cfg = TrainConfig(dataset=args.dataset, data_root=args.data_root, n_networks=n, iterations=iterations,
                          batch_size=batch, snapshots=(0,), seed=1)
        t = time.perf_counter()
        res = train_ensemble(cfg)
        wall = time.perf_counter() - t
        rate = n * iterations * batch / wall
        steady = res.timings.get("steady_images_per_s") or rate
        rows.append({
            "networks": n, "iterations": iterations, "wall_s": round(wall, 2), "images_per_s": round(rate, 1),
            "speedup_vs_one_by_one": round(rate / base, 2),
            "speedup_vs_one_by_one_tuned_allocator": round(rate / tuned, 2),
            "steady_images_per_s": round(steady, 1), "steady_speedup_vs_one_by_one": round(steady / base, 2),
            "gflops": round(rate * fpi / 1e9, 2),
            "gemm_fraction": round(rate * fpi / 1e9 / gemm, 3), "backend": res.timings["backend"],
            "workers": res.timings["workers"],
        })
        if not args.json:
            r = rows[-1]
            print(f"N={n:4d}: {r['images_per_s']:9.0f} img/s  {r['speedup_vs_one_by_one']:5.2f}x one-by-one "
                  f"({r['speedup_vs_one_by_one_tuned_allocator']:.2f}x vs tuned malloc)  "
                  f"{r['gflops']:6.1f} GFLOP/s = {100 * r['gemm_fraction']:4.1f}% of GEMM  "
                  f"({r['backend']}, {r['workers']} worker(s), {r['wall_s']} s incl. start-up; "
                  f"after start-up {r['steady_images_per_s']:.0f} img/s = {r['steady_speedup_vs_one_by_one']:.2f}x)",
                  flush=True)
    best = max(rows, key=lambda r: r["networks"])
    rate = best["images_per_s"]
    est = {f"{n}_networks_1000_iterations_s": round(n * 1000 * batch / rate, 1) for n in (40, 100)}
    out = {
        "device": device, "cores": cpu_count(), "torch_threads": torch.get_num_threads(), "dataset": args.dataset,
        "arch": arch.to_dict(), "batch_size": batch, "flops_per_image": fpi,
        "gemm_2048_gflops": round(gemm, 1), "one_by_one_images_per_s": round(base, 1),
        "one_by_one_gemm_fraction": round(base * fpi / 1e9 / gemm, 3),
        "one_by_one_tuned_allocator_images_per_s": round(tuned, 1), "runs": rows,
        "estimate_from_rate_at_n": best["networks"], **est,
        "note": "shared machine: timings are noisy; ratios are measured in the same run",
    }
    if args.mnist_root:
        cfg = TrainConfig(dataset="mnist", data_root=args.mnist_root, n_networks=4, iterations=1000,
                          batch_size=batch, snapshots=(0,), seed=0)
        t = time.perf_counter()
        res = train_ensemble(cfg)
        wall = time.perf_counter() - t
        rate = 4 * 1000 * batch / wall
        out["mnist_4x1000"] = {
            "wall_s": round(wall, 1), "images_per_s": round(rate, 1),
            "test_acc": [round(a, 4) for a in res.test_acc],
            "estimate_40_networks_s": round(40 * 1000 * batch / rate, 1),
            "estimate_100_networks_s": round(100 * 1000 * batch / rate, 1),
        }
        if not args.json:
            m = out["mnist_4x1000"]
            print(f"real MNIST, 4 networks x 1,000 iterations: {m['wall_s']} s, test accuracy {m['test_acc']}")
    if args.json:
        print(json.dumps(out))
    else:
        print(f"GEMM 2048^2 float32: {gemm:.1f} GFLOP/s; one-by-one plain PyTorch (fresh process): {base:.0f} img/s "
              f"({100 * out['one_by_one_gemm_fraction']:.1f}% of GEMM), with tdacnn's malloc settings {tuned:.0f} img/s; "
              f"{fpi / 1e6:.1f} MFLOP per image-step")
        print(f"estimated time for 1,000 iterations: 40 networks {est['40_networks_1000_iterations_s']:.0f} s, "
              f"100 networks {est['100_networks_1000_iterations_s']:.0f} s (from the rate at N={best['networks']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
