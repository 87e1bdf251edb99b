"""What a Recorder snapshot costs, against one training step of the network it records.

A plain PyTorch CNN (two 3x3 convs, 32 and 64 filters, a linear head) trained by
SGD on scikit-learn's bundled digits, batch 64, on the CPU; ``--networks`` copies
recorded together, as an ensemble would be.  Measured in the same run: the median
time of one training step of all the networks, and of one ``Recorder.snapshot``
after ``--snapshots`` earlier snapshots (the weights file holds every snapshot so
far and is rewritten atomically each time, so the cost grows with the run).
Prints the ratio snapshot / step, and what it adds to training when snapshotting
every 100 steps; ``--json`` prints one JSON object.

    python benchmarks/recorder.py [--networks 8] [--snapshots 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=8)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30, help="training steps timed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    import tdacnn

    torch.manual_seed(0)
    d = load_digits()
    x = torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)

    def net():
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                             nn.Flatten(), nn.Linear(64 * 64, 10))

    nets = [net() for _ in range(args.networks)]
    opts = [torch.optim.SGD(n.parameters(), lr=0.05) for n in nets]

    def step():
        idx = torch.randint(0, len(x), (64,))
        for n, o in zip(nets, opts):
            o.zero_grad()
            nn.functional.cross_entropy(n(x[idx]), y[idx]).backward()
            o.step()

    step()  # warm-up
    step_s = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        step_s.append(time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as tmp:
        rec = tdacnn.Recorder(os.path.join(tmp, "run"))
        snap_s = []
        for k in range(args.snapshots + 1):
            t = time.perf_counter()
            rec.snapshot(nets, k * 100)
            snap_s.append(time.perf_counter() - t)
        size = os.path.getsize(os.path.join(tmp, "run", "weights.npz"))
        rec.close()

    res = {
        "networks": args.networks, "snapshots": args.snapshots + 1,
        "step_s": statistics.median(step_s),
        "first_snapshot_s": snap_s[0], "last_snapshot_s": snap_s[-1],
        "weights_file_mb": size / 2**20,
        "load_avg": os.getloadavg()[0],
    }
    res["last_snapshot_over_step"] = res["last_snapshot_s"] / res["step_s"]
    res["overhead_every_100_steps"] = res["last_snapshot_s"] / (100 * res["step_s"])
    if args.json:
        print(json.dumps(res))
        return
    print(f"{args.networks} networks, one training step (batch 64): {1000 * res['step_s']:.1f} ms "
          f"(load average {res['load_avg']:.1f})")
    print(f"  snapshot 1: {1000 * res['first_snapshot_s']:.1f} ms; snapshot {res['snapshots']}: "
          f"{1000 * res['last_snapshot_s']:.1f} ms ({res['weights_file_mb']:.1f} MB file) = "
          f"{res['last_snapshot_over_step']:.2f} training steps")
    print(f"  snapshotting every 100 steps adds {100 * res['overhead_every_100_steps']:.2f} % to training")


if __name__ == "__main__":
    main()
