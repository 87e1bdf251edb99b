"""Mapper benchmark: a cover or clusterer change on 20,000 density-filtered points.

Cloud: natural 3x3 patches, 66,667 points filtered to the densest 30 % at
k = 15 (20,000 points).  Ours: ``Analysis.graph`` — the first graph (lens +
cover + clustering + nerve), then cover changes and clusterer changes, each
reusing the cached lens.  Baseline measured in the same run: KeplerMapper from
scratch (lens + ``Cover`` + the same clusterer, scikit-learn's single-linkage
``AgglomerativeClustering`` or ``DBSCAN``) for the same parameters.  Prints
milliseconds and ratios; ``--json`` prints one JSON object.  Timings on a shared
2-core machine are noisy (load average printed).

    python benchmarks/mapper.py [--n 66667] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=66667, help="patches before the density filter (keeps 30 %%)")
    ap.add_argument("--baseline-moves", type=int, default=2, help="how many of the moves to also run in kmapper")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tdacnn.analysis import Analysis
    from tdacnn.topology.mapper import compute_lens, graph_summary, mapper_graph
    from tdacnn.topology.params import DensityParams, MapperParams

    a = Analysis()
    dense = a.dense(a.natural(args.n, 0.0, 0), DensityParams(k=15, p=30, max_points=None))  # all 66,667: 20,000 kept
    res: dict = {"points": len(dense), "load_avg_before": os.getloadavg()[0]}

    first = MapperParams(lens="pca2", n_cubes=10, overlap=0.3, clusterer="single", distance_cut=0.5)
    t = time.perf_counter()
    g = a.graph(dense, first)
    res["first_graph_ms"] = (time.perf_counter() - t) * 1000
    res["first_graph"] = graph_summary(g)

    moves = [
        ("cubes 12", dict(n_cubes=12)), ("cubes 15", dict(n_cubes=15)), ("overlap 0.4", dict(overlap=0.4)),
        ("overlap 0.2", dict(overlap=0.2)), ("cut 0.3", dict(distance_cut=0.3)), ("cut 0.7", dict(distance_cut=0.7)),
        ("dbscan eps 0.3", dict(clusterer="dbscan", eps=0.3, min_samples=5)),
        ("pca1 cubes 10", dict(lens="pca1")),
    ]
    res["moves_ms"] = {}
    for name, change in moves:
        p = MapperParams(**{**first.to_dict(), **change})
        a.lens(dense, p.lens)  # a lens change is its own (cached) stage
        t = time.perf_counter()
        a.graph(dense, p)
        res["moves_ms"][name] = (time.perf_counter() - t) * 1000
    res["move_ms_max"] = max(res["moves_ms"].values())
    res["move_ms_median"] = float(np.median(list(res["moves_ms"].values())))

    if not args.no_baseline:
        res["kmapper_ms"] = {}
        res["speedup_vs_kmapper"] = {}
        x, cod = dense.cloud.points, dense.codensity
        for name, change in [("first", {})] + moves[: args.baseline_moves]:
            p = MapperParams(**{**first.to_dict(), **change})
            t = time.perf_counter()
            mapper_graph(x, cod, p, (3, 3), lens_values=compute_lens(x, cod, p.lens), engine="kmapper")
            ms = (time.perf_counter() - t) * 1000
            res["kmapper_ms"][name] = ms
            ours = res["first_graph_ms"] if name == "first" else res["moves_ms"][name]
            res["speedup_vs_kmapper"][name] = ms / ours
    res["load_avg_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res))
        return
    print(f"Mapper on {res['points']} filtered points  (load average {res['load_avg_before']:.1f})")
    print(f"  first graph (lens + cover + clusters + nerve): {res['first_graph_ms']:.0f} ms  {res['first_graph']}")
    for name, ms in res["moves_ms"].items():
        print(f"  move {name:<16} {ms:7.0f} ms")
    print(f"  max move {res['move_ms_max']:.0f} ms, median {res['move_ms_median']:.0f} ms")
    for name, ms in res.get("kmapper_ms", {}).items():
        print(f"  kmapper from scratch, {name:<16} {ms:7.0f} ms  -> ours {res['speedup_vs_kmapper'][name]:.1f}x faster")


if __name__ == "__main__":
    main()
