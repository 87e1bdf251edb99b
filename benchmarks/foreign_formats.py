"""Benchmark: VGG16's conv layers as PyTorch, Keras and ONNX files: list the layers, read one.

The same VGG16-shaped conv weights (13 layers, 56 MiB, random) are written as a
PyTorch state dict (the baseline), a Keras 2 ``.h5`` (``save_weights`` layout), a
Keras 3 ``.weights.h5``, a ``.keras`` archive and an ONNX model; ``--fc`` adds
VGG16's 103M-parameter classifier to each (about 470 MiB more), which tdacnn never
reads.  Each measurement runs in a fresh process (so the Keras files' one-off
check in a child process is counted, as on a first open): ``list_conv_layers`` then
``read_weightset(layers=[LAYER])``; printed are wall time, the time of doing it
again in the same process, peak RSS above the RSS after imports, and each
format's first time as a ratio to the PyTorch file's, measured in the same run.

    python benchmarks/foreign_formats.py [--json] [--layer 5] [--fc]

Timings on a shared machine are noisy; compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FORMATS = ["pth", "keras2-h5", "keras3-weights-h5", "dot-keras", "onnx"]


def make_files(folder: Path, fc: bool) -> dict[str, Path]:
    """VGG16's conv weights (and, with ``fc``, its classifier) written in each format."""
    import torch

    from tdacnn.nets.vgg import VGG16_CONV_SHAPES
    from tests.nets.foreign import write_dot_keras, write_keras2, write_keras3, write_onnx

    rng = np.random.default_rng(0)
    convs = [(rng.standard_normal(s, dtype=np.float32) * 0.01) for s in VGG16_CONV_SHAPES]
    fcs = [rng.standard_normal(s, dtype=np.float32) * 0.01 for s in ((4096, 25088), (4096, 4096))] if fc else []
    sd = {f"features.{i}.weight": torch.from_numpy(w) for i, w in enumerate(convs)}
    sd.update({f"classifier.{i}.weight": torch.from_numpy(w) for i, w in enumerate(fcs)})
    files = {"pth": folder / "vgg16.pth"}
    torch.save(sd, files["pth"])
    names = [f"block{b}_conv{c}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3)) for c in range(1, n + 1)]
    files["keras2-h5"] = write_keras2(folder / "vgg16.h5", [(n, "Conv2D", w) for n, w in zip(names, convs)],
                                      weights_only=True)
    files["keras3-weights-h5"] = write_keras3(folder / "vgg16.weights.h5", [
        ("Conv2D", "conv2d" if i == 0 else f"conv2d_{i}", w) for i, w in enumerate(convs)])
    files["dot-keras"] = write_dot_keras(folder / "vgg16.keras", ["Conv2D"] * len(convs), convs)
    files["onnx"] = write_onnx(folder / "vgg16.onnx", [("Conv", f"/features/{i}/Conv", w, 1)
                                                      for i, w in enumerate(convs)])
    if fc:  # the classifier, never read, into the Keras and ONNX files too
        import h5py
        import onnx
        from onnx import numpy_helper

        for key in ("keras2-h5", "keras3-weights-h5"):
            with h5py.File(files[key], "a") as f:
                for i, w in enumerate(fcs):
                    f.create_dataset(f"fc{i}_kernel", data=w.T)
        model = onnx.load(str(files["onnx"]))
        model.graph.initializer.extend(numpy_helper.from_array(w, f"fc{i}") for i, w in enumerate(fcs))
        onnx.save_model(model, str(files["onnx"]))
    return files


def _peak_above(base: int) -> float:
    """MiB of peak RSS (VmHWM) above ``base`` bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round((int(line.split()[1]) * 1024 - base) / 2**20, 1)
    return float("nan")


def _child(path: str, layer: int) -> dict:
    """One measurement, in its own process: wall time, and peak RSS above the RSS after imports."""
    import h5py  # noqa: F401 - imported before the baseline, as a worker process has them
    import onnx  # noqa: F401
    import psutil
    import torch  # noqa: F401

    from tdacnn.nets.checkpoints import list_conv_layers, read_weightset

    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS (Linux)
    base = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    layers = list_conv_layers(path)
    t_list = time.perf_counter() - t0
    ws = read_weightset(path, layers=[layer])
    total = time.perf_counter() - t0
    peak = _peak_above(base)
    t0 = time.perf_counter()  # again, as the app's next request does (the Keras check is remembered)
    list_conv_layers(path)
    read_weightset(path, layers=[layer])
    again = time.perf_counter() - t0
    w = ws.entries[0].weight
    return {"layers": len(layers), "shape": list(w.shape), "list_s": round(t_list, 3), "total_s": round(total, 3),
            "again_s": round(again, 3), "peak_mib": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--layer", type=int, default=5)
    parser.add_argument("--fc", action="store_true", help="add VGG16's classifier (never read) to every file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]))))
        return 0
    with tempfile.TemporaryDirectory(prefix="tdacnn-bench-") as tmp:
        files = make_files(Path(tmp), args.fc)
        results = {}
        for fmt in FORMATS:
            out = subprocess.run([sys.executable, __file__, "--child", str(files[fmt]), str(args.layer)],
                                 capture_output=True, text=True, check=True, cwd=REPO)
            results[fmt] = {**json.loads(out.stdout), "mib_on_disk": round(files[fmt].stat().st_size / 2**20, 1)}
    base = results["pth"]["total_s"]
    for r in results.values():
        r["ratio_to_pth"] = round(r["total_s"] / base, 2) if base else None
    if args.json:
        print(json.dumps({"layer": args.layer, "fc": args.fc, "results": results}))
        return 0
    print(f"VGG16 conv layers{' + classifier' if args.fc else ''}: list the layers, read layer {args.layer}")
    print(f"{'format':<20}{'on disk':>10}{'list':>8}{'total':>8}{'x .pth':>8}{'again':>8}{'peak':>10}  "
          "(the Keras 3 files hold Adam's slots too)")
    for fmt, r in results.items():
        print(f"{fmt:<20}{r['mib_on_disk']:>7.1f} MiB{r['list_s']:>7.2f}s{r['total_s']:>7.2f}s"
              f"{r['ratio_to_pth']:>8.2f}{r['again_s']:>7.2f}s{r['peak_mib']:>6.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
