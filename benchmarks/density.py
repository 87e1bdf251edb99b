"""Density benchmark: the k-NN table of 100,000 points in 9-D, and later (k, p) moves.

Cloud: natural 3x3 image patches (the real workload; ``--uniform`` for points
uniform on the sphere, the worst case for a tree).  Ours: ``knn_table`` (exact
cKDTree on all cores) then ``Analysis.dense`` for several (k, p) reusing the
table.  Baseline measured in the same run: scikit-learn's exact
``NearestNeighbors`` (default algorithm) for the same k.  Prints seconds and
the ratio baseline / ours, checks that the distances agree (recall 1.0), and
with ``--json`` prints one JSON object.  Timings on a shared 2-core machine
are noisy: the load average is printed with them.

    python benchmarks/density.py [--n 100000] [--k-max 300] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k-max", type=int, default=300)
    ap.add_argument("--uniform", action="store_true", help="uniform points on the 7-sphere instead of patches")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tdacnn.analysis import Analysis
    from tdacnn.topology.density import knn_table
    from tdacnn.topology.params import DensityParams
    from tdacnn.topology.patches import natural_patches
    from tdacnn.topology.points import normalize

    if args.uniform:
        cloud_pts = normalize(np.random.default_rng(0).normal(size=(args.n, 9)))[0]
    else:
        cloud_pts = natural_patches(args.n, seed=0).points
    res: dict = {"n": len(cloud_pts), "dim": 9, "k_max": args.k_max, "data": "uniform" if args.uniform else "patches",
                 "load_avg_before": os.getloadavg()[0]}

    t, c = time.perf_counter(), time.process_time()
    table = knn_table(cloud_pts, args.k_max)
    res["ours_first_search_s"] = time.perf_counter() - t
    res["ours_first_search_cpu_s"] = time.process_time() - c  # both threads; steadier on a busy machine

    # later moves: k and p change, the table is reused
    a = Analysis()
    from tdacnn.topology.cloud import PointCloud

    cloud = PointCloud(cloud_pts, (3, 3))
    a._memo[f"knn:{cloud.key()}:{args.k_max}"] = table  # seed the cache with the table just timed
    a.store[f"knn-index:{cloud.key()}"] = (args.k_max,)
    moves = []
    for k, p in [(15, 30), (100, 30), (300, 30), (50, 10), (200, 50)]:
        t = time.perf_counter()
        a.dense(cloud, DensityParams(k=k, p=p, max_points=None))  # the whole cloud: the table just timed
        moves.append(time.perf_counter() - t)
    res["later_move_s"] = {"max": max(moves), "mean": float(np.mean(moves))}

    if not args.no_baseline:
        from sklearn.neighbors import NearestNeighbors

        t, c = time.perf_counter(), time.process_time()
        d, _ = NearestNeighbors(n_neighbors=args.k_max + 1, n_jobs=-1).fit(cloud_pts).kneighbors(cloud_pts)
        res["baseline_sklearn_s"] = time.perf_counter() - t
        res["baseline_sklearn_cpu_s"] = time.process_time() - c
        res["speedup_vs_sklearn"] = res["baseline_sklearn_s"] / res["ours_first_search_s"]
        res["cpu_ratio_vs_sklearn"] = res["baseline_sklearn_cpu_s"] / res["ours_first_search_cpu_s"]
        res["max_abs_diff_vs_sklearn"] = float(np.abs(d[:, 1:] - table).max())
        res["recall"] = 1.0 if res["max_abs_diff_vs_sklearn"] < 1e-9 else None
    res["load_avg_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res))
        return
    print(f"{res['n']} points ({res['data']}), k_max = {args.k_max}  (load average {res['load_avg_before']:.1f})")
    print(f"  first k-NN search (exact cKDTree): {res['ours_first_search_s']:.2f} s "
          f"(CPU {res['ours_first_search_cpu_s']:.1f} s on {os.cpu_count()} cores)")
    print(f"  later (k, p) move, table reused:   max {res['later_move_s']['max'] * 1000:.0f} ms")
    if "baseline_sklearn_s" in res:
        print(f"  sklearn NearestNeighbors (exact):  {res['baseline_sklearn_s']:.2f} s  "
              f"-> ours is {res['speedup_vs_sklearn']:.2f}x faster (CPU time {res['cpu_ratio_vs_sklearn']:.2f}x); "
              f"max |diff| {res['max_abs_diff_vs_sklearn']:.1e}")


if __name__ == "__main__":
    main()
