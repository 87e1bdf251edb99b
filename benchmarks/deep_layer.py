"""Deep-layer benchmark: first graph and barcode of a 262,144-filter layer (VGG16 conv layer 10, each input channel).

Builds a VGG16-shaped conv stack itself (torchvision's 13 conv shapes, seeded
He-normal random weights: after normalisation the 3×3 slices of a random layer
are uniform on the 7-sphere, the worst case for a k-NN search), stores it as a
run folder (``weights.npz``, what the app reads after a checkpoint is loaded) in a
fresh data directory and as a ``.pth`` state dict, and measures each path in its
own child process (peak RSS from ``wait4``: the path's own, imports included):

* **app, new**: ``services.compute_graph`` (cold cache, fresh ``TDACNN_HOME``,
  defaults from the data, density on a ``DensityParams.max_points`` sample), the
  Cytoscape elements, then ``services.compute_barcode``;
* **app, today**: the same with the app's former fixed defaults (k 30, p 50,
  6 intervals, overlap 0.5, cut 0.5) and every point (``max_points=None``);
* **cli, new**: ``tdacnn analyze FILE.pth --layer 10 --channels each --json``;
* **cli, today**: the stages of ``tdacnn analyze`` with its former defaults
  (k 100, p 30, 10 intervals, overlap 0.3, cut 0.5) and every point.

"Today's" paths take minutes (the k-NN table of 262,144 points): each is stopped
after ``--timeout`` seconds and reported as "> T s", and the ratio as a lower
bound.  Timings on a shared 2-core machine are noisy: the load average is
printed with them.

    python benchmarks/deep_layer.py [--json] [--layer 10] [--timeout 120] [--skip-old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: torchvision vgg16's conv layers, (in, out) in network order.
_CFG = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
        (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]  # fmt: skip
_OLD_APP = {"k": 30, "p": 50.0, "n_cubes": 6, "overlap": 0.5, "distance_cut": 0.5, "eps": 0.5, "min_samples": 3}
_OLD_CLI = {"k": 100, "p": 30.0, "n_cubes": 10, "overlap": 0.3, "distance_cut": 0.5}


def vgg16_conv_stack(seed: int = 0) -> list[np.ndarray]:
    """13 float32 weights of torchvision's VGG16 conv shapes, He-normal (std sqrt(2 / fan_in))."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((o, i, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2 / (9 * i))))
            for i, o in _CFG]


def build_sources(tmp: Path) -> tuple[Path, Path]:
    """The stack as a run folder ``tmp/vgg16-run`` and as a state dict ``tmp/vgg16.pth``."""
    import torch

    from tdacnn.weights import WeightEntry, WeightSet

    stack = vgg16_conv_stack()
    names = [f"features.{i}.weight" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)]
    WeightSet([WeightEntry(0, i + 1, -1, w, names[i]) for i, w in enumerate(stack)],
              {"note": "VGG16-shaped random weights (benchmarks/deep_layer.py)"}).save(tmp / "vgg16-run")
    torch.save({n: torch.from_numpy(w) for n, w in zip(names, stack)}, tmp / "vgg16.pth")
    return tmp / "vgg16-run", tmp / "vgg16.pth"


# ---- children -------------------------------------------------------------------
def _child_app(run: str, layer: int, old: bool) -> dict:
    """One cold first view in the app's services (this process is the web worker)."""
    import shutil
    from dataclasses import replace

    from tdacnn import config
    from tdacnn.app import controls, services
    from tdacnn.view.cytoscape import graph_elements

    shutil.copytree(run, config.runs_dir() / "vgg16")  # a run in the fresh data directory
    stages: list[tuple[float, str]] = []
    values = {"source": "run:vgg16", "layer": layer, "channels": "each", **(_OLD_APP if old else {})}
    request = controls.parse_request(values)
    if old:
        request = replace(request, density=replace(request.density, max_points=None))
    services.get_analysis().progress = lambda msg: stages.append((time.perf_counter() - t0, msg))
    t0 = time.perf_counter()
    result = services.compute_graph(request)
    t_compute = time.perf_counter() - t0
    graph_elements(result.graph, None, members_space=result.members_space(), space=result.space)
    t_graph = time.perf_counter() - t0
    services.compute_barcode(result.request)
    t_barcode = time.perf_counter() - t0
    dense = result.dense
    return {"first_graph_s": t_graph, "graph_compute_s": t_compute, "barcode_s": t_barcode - t_graph,
            "points": dense.n_parent, "sampled": dense.n_sampled, "kept": len(dense),
            "summary": result.summary, "density": dense.params.to_dict(),
            "stages": [[round(t, 2), m] for t, m in stages]}


def _child_cli_old(pth: str, layer: int) -> dict:
    """The stages of ``tdacnn analyze`` with its former defaults and every point."""
    from tdacnn.analysis import Analysis
    from tdacnn.commands.analyze import load_source
    from tdacnn.topology.mapper import graph_summary
    from tdacnn.topology.params import CloudParams, DensityParams, MapperParams, PersistenceParams

    stages: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    a = Analysis(progress=lambda msg: stages.append((time.perf_counter() - t0, msg)))
    cloud = load_source(pth, CloudParams(layer, None, "each"), analysis=a)
    dense = a.dense(cloud, DensityParams(_OLD_CLI["k"], _OLD_CLI["p"], max_points=None))
    graph = a.graph(dense, MapperParams(n_cubes=_OLD_CLI["n_cubes"], overlap=_OLD_CLI["overlap"],
                                        distance_cut=_OLD_CLI["distance_cut"]))
    t_graph = time.perf_counter() - t0
    a.barcode(dense, PersistenceParams())
    return {"first_graph_s": t_graph, "barcode_s": time.perf_counter() - t0 - t_graph, "points": len(cloud),
            "kept": len(dense), "summary": graph_summary(graph), "stages": [[round(t, 2), m] for t, m in stages]}


# ---- measuring ------------------------------------------------------------------
def _run(cmd: list[str], env: dict, timeout: float) -> dict:
    """Run ``cmd``; wall time, peak RSS (wait4: this child only), its last stdout line, or a timeout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [threading.Thread(target=lambda: out_chunks.append(proc.stdout.read())),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    timer.cancel()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # CPU seconds (all threads) say more than wall time on a busy machine
    res: dict = {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}
    if killed.is_set():
        res["timed_out"] = timeout
        return res
    if proc.returncode != 0:
        res["error"] = "".join(err_chunks).strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return res
    lines = "".join(out_chunks).strip().splitlines()
    out = json.loads(lines[-1]) if lines else {}
    out.pop("h1", None)  # the CLI's bars: hundreds of numbers, not what is measured here
    res.update(out)
    return res


def _env(home: Path) -> dict:
    env = {**os.environ, "TDACNN_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("REDIS_URL", None)
    return env


def measure(layer: int, timeout: float, skip_old: bool) -> dict:
    me = [sys.executable, str(Path(__file__).resolve())]
    res: dict = {"benchmark": "deep_layer", "layer": layer, "load_avg_before": os.getloadavg()[0],
                 "timeout_s": timeout, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="tdacnn-deep-") as tmp:
        tmp = Path(tmp)
        # built in a child: a child forked from a big parent would count the parent's pages in its peak RSS
        subprocess.run(me + ["--child", "build", str(tmp)], cwd=REPO, env=_env(tmp), check=True)
        run, pth = tmp / "vgg16-run", tmp / "vgg16.pth"
        res["layer_shape"] = [_CFG[layer - 1][1], _CFG[layer - 1][0], 3, 3]
        paths = {
            "app_new": me + ["--child", "app", str(run), "--layer", str(layer)],
            "cli_new": [sys.executable, "-c", "import sys; from tdacnn.cli import main; sys.exit(main())",
                        "analyze", str(pth), "--layer", str(layer), "--channels", "each", "--json"],
        }
        if not skip_old:
            paths["app_today"] = me + ["--child", "app-old", str(run), "--layer", str(layer)]
            paths["cli_today"] = me + ["--child", "cli-old", str(pth), "--layer", str(layer)]
        for name, cmd in paths.items():
            home = tmp / f"home-{name}"
            home.mkdir()
            res[name] = _run(cmd, _env(home), timeout if name.endswith("today") else 600)
    res["load_avg_after"] = os.getloadavg()[0]
    for kind in ("app", "cli"):
        new, old = res.get(f"{kind}_new"), res.get(f"{kind}_today")
        if not new or not old or "error" in new or "error" in old:
            continue
        key = "first_graph_s" if kind == "app" else "wall_s"
        t_new = new[key]
        t_old = old.get(key, old["wall_s"])
        res[f"{kind}_ratio_today_over_new"] = t_old / t_new
        res[f"{kind}_ratio_is_lower_bound"] = "timed_out" in old
        res[f"{kind}_memory_ratio_today_over_new"] = old["peak_rss_mb"] / new["peak_rss_mb"]
    return res


def _fmt_path(label: str, r: dict, kind: str) -> str:
    if "error" in r:
        return f"  {label:<11} failed: {r['error'][0]}"
    if "timed_out" in r:
        return (f"  {label:<11} no graph within {r['timed_out']:.0f} s (stopped; CPU {r['cpu_s']:.0f} s); "
                f"peak RSS ≥ {r['peak_rss_mb']:.0f} MB")
    if kind == "app":
        return (f"  {label:<11} first graph {r['first_graph_s']:.1f} s (compute {r['graph_compute_s']:.1f} s), "
                f"then barcode {r['barcode_s']:.1f} s; process CPU {r['cpu_s']:.1f} s; "
                f"peak RSS {r['peak_rss_mb']:.0f} MB; "
                f"{r['points']:,} points → {r['sampled']:,} sampled → {r['kept']:,} kept; "
                f"graph {r['summary']['nodes']} nodes, {r['summary']['components']} component(s)")
    return (f"  {label:<11} whole command {r['wall_s']:.1f} s (CPU {r['cpu_s']:.1f} s); "
            f"peak RSS {r['peak_rss_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--layer", type=int, default=10, help="VGG16 conv layer, 1-13 (default 10: 512x512x3x3)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before today's paths are stopped")
    ap.add_argument("--skip-old", action="store_true", help="measure the new paths only")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(REPO))
        kind, path = args.child
        if kind == "build":
            build_sources(Path(path))
            return 0
        out = (_child_app(path, args.layer, old=kind == "app-old") if kind.startswith("app")
               else _child_cli_old(path, args.layer))
        print(json.dumps(out, default=str))
        return 0

    res = measure(args.layer, args.timeout, args.skip_old)
    if args.json:
        print(json.dumps(res, default=str))
        return 0
    print(f"VGG16-shaped layer {args.layer} {tuple(res['layer_shape'])}, each input channel; "
          f"{res['cores']} cores, load average {res['load_avg_before']:.1f} → {res['load_avg_after']:.1f}")
    for name, label in (("app_new", "app, new"), ("app_today", "app, today"),
                        ("cli_new", "cli, new"), ("cli_today", "cli, today")):
        if name in res:
            print(_fmt_path(label, res[name], name[:3]))
    for kind in ("app", "cli"):
        if f"{kind}_ratio_today_over_new" in res:
            bound = "≥ " if res[f"{kind}_ratio_is_lower_bound"] else ""
            print(f"  {kind}: today / new = {bound}{res[f'{kind}_ratio_today_over_new']:.1f}x in time, "
                  f"{bound}{res[f'{kind}_memory_ratio_today_over_new']:.1f}x in peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
