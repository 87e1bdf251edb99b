"""Benchmark: layer list and one layer's point cloud from a VGG16-size (~530 MB) state dict.

Compares tdacnn's streaming path (``list_conv_layers`` + ``read_weightset(layers=[5])``
over a memory-mapped ``torch.load(weights_only=True, mmap=True)``) against the naive
path (a full ``torch.load(weights_only=True)`` of every tensor, then the same
layer), both measured in the same run.  Each measurement runs in a fresh child
process so that peak memory (``ru_maxrss``) is its own; the figures printed are
wall time and peak RSS (VmHWM, reset after imports) above the RSS after imports.

    python benchmarks/checkpoint_load.py [--json] [--repeats 3] [--layer 5]

The same weights are also read from a ``.safetensors`` copy (lazy ``safe_open``).

Timings on a shared machine are noisy; compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_vgg16_file(path: Path) -> int:
    """A torchvision-VGG16-shaped state dict with random weights (also as ``.safetensors``); its size in bytes."""
    import torch
    from safetensors.torch import save_file
    from torchvision.models import vgg16

    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in vgg16().state_dict().items()}
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(s, generator=g) * 0.01 for k, s in shapes.items()}
    torch.save(sd, path)
    save_file(sd, path.with_suffix(".safetensors"))
    return path.stat().st_size


def _vm_hwm() -> int:
    """Peak resident set size of this process (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def _child(method: str, path: str, layer: int) -> dict:
    """One measurement (runs in its own process)."""
    import numpy as np
    import psutil
    import torch  # noqa: F401 - imported before the baseline RSS, as in both paths

    from tdacnn.topology.params import CloudParams
    from tdacnn.topology.points import cloud_from_weightset
    from tdacnn.weights import WeightSet

    _reset_peak()
    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    if method.startswith("tdacnn"):
        from tdacnn.nets.checkpoints import list_conv_layers, read_weightset

        if method == "tdacnn-safetensors":
            path = str(Path(path).with_suffix(".safetensors"))
        layers = list_conv_layers(path)
        t_list = time.perf_counter() - t0
        ws = read_weightset(path, layers=[layer])
    else:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        convs = [(k, v) for k, v in sd.items() if v.ndim == 4]
        layers = convs
        t_list = time.perf_counter() - t0
        name, w = convs[layer - 1]
        ws = WeightSet.from_arrays([w.numpy().copy()], layer=layer, layer_name=name)
    cloud = cloud_from_weightset(ws, CloudParams(layer=layer))
    total = time.perf_counter() - t0
    peak = _vm_hwm()
    return {
        "method": method,
        "n_layers": len(layers),
        "n_points": int(cloud.points.shape[0]),
        "points_checksum": float(np.round(np.abs(cloud.points).sum(), 3)),
        "list_s": t_list,
        "total_s": total,
        "peak_rss_above_start_mb": (peak - rss0) / 2**20,
    }


def _measure(method: str, path: Path, layer: int) -> dict:
    cmd = [sys.executable, __file__, "--child", method, str(path), "--layer", str(layer)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{method} child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layer", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(REPO))
        print(json.dumps(_child(args.child[0], args.child[1], args.layer)))
        return 0

    with tempfile.TemporaryDirectory(prefix="tdacnn-bench-") as tmp:
        path = Path(tmp) / "vgg16_random.pth"
        size = make_vgg16_file(path)
        runs: dict[str, list[dict]] = {"tdacnn": [], "tdacnn-safetensors": [], "naive": []}
        for _ in range(args.repeats):  # alternate, so page-cache state is shared fairly
            for method in runs:
                runs[method].append(_measure(method, path, args.layer))
    med = {m: {k: statistics.median(r[k] for r in rs) for k in ("list_s", "total_s", "peak_rss_above_start_mb")}
           for m, rs in runs.items()}  # fmt: skip
    same = len({rs[0]["points_checksum"] for rs in runs.values()}) == 1
    result = {
        "benchmark": "checkpoint_load",
        "file_mb": size / 2**20,
        "layer": args.layer,
        "n_conv_layers": runs["tdacnn"][0]["n_layers"],
        "n_points": runs["tdacnn"][0]["n_points"],
        "same_points": same,
        "repeats": args.repeats,
        "tdacnn": med["tdacnn"],
        "tdacnn_safetensors": med["tdacnn-safetensors"],
        "naive_full_load": med["naive"],
        "time_ratio_naive_over_tdacnn": med["naive"]["total_s"] / med["tdacnn"]["total_s"],
        "memory_ratio_naive_over_tdacnn": med["naive"]["peak_rss_above_start_mb"]
        / max(med["tdacnn"]["peak_rss_above_start_mb"], 1e-9),
        "note": "medians over repeats, each in a fresh process; shared 2-core machine, timings are noisy",
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"VGG16-size state dict: {result['file_mb']:.0f} MB, {result['n_conv_layers']} conv layers; "
              f"layer {args.layer} -> {result['n_points']} points (same in all paths: {same})")  # fmt: skip
        for label, key in (("tdacnn .pth (mmap)", "tdacnn"), ("tdacnn .safetensors", "tdacnn-safetensors"),
                           ("naive full torch.load", "naive")):
            m = med[key]
            print(f"  {label:<26} list {m['list_s']:.3f} s   list+cloud {m['total_s']:.3f} s   "
                  f"peak RSS +{m['peak_rss_above_start_mb']:.0f} MB")  # fmt: skip
        print(f"  naive / tdacnn: time x{result['time_ratio_naive_over_tdacnn']:.1f}, "
              f"memory x{result['memory_ratio_naive_over_tdacnn']:.1f}  ({result['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
