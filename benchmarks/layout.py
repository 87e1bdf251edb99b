"""Layout benchmark: a fresh drawing of a ~300- and a ~1,000-node Mapper graph.

Graphs: Mapper (PCA 1+2 lens, 50 % overlap, single linkage) of natural 3x3 image
patches (20,000 patches, densest 30 % at k = 15), with the number of intervals
chosen so that the graphs have about 300 and about 1,000 nodes.  Ours:
:func:`tdacnn.view.layout.fresh_layout` (classical MDS + stress majorization
with early stopping, then nodes pushed apart).  Baselines measured in the same
run on the same graphs: the previous ``fresh_layout`` (80 full-matrix stress
iterations, no overlap removal; kept below as ``_before``), and networkx's
``spring_layout`` (Fruchterman-Reingold, what one reaches for first).  For
each layout: seconds, and *covered pairs* — pairs of nodes whose centres are
closer than ``MIN_DISTANCE`` (the biggest node is drawn 70 px wide), i.e. nodes
drawn on top of each other — ours as drawn, the baselines scaled so that their
median edge is ``EDGE_LENGTH`` (90 px) long — and the width of the drawing in
edge lengths (pushing nodes apart makes it wider: the price of no overlap).
Prints ratios; ``--json`` prints one JSON object.  Timings on a shared 2-core
machine are noisy (load average printed).

    python benchmarks/layout.py [--targets 300,1000] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _before(ids, edges):
    """The previous fresh layout's core: dense (m, m, 2) stress iterations, 80 of them, no spreading."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, shortest_path

    from tdacnn.view.layout import EDGE_LENGTH

    index = {n: i for i, n in enumerate(ids)}
    m = len(ids)
    r = [index[a] for a, b in edges]
    c = [index[b] for a, b in edges]
    adj = coo_matrix((np.ones(len(r)), (r, c)), shape=(m, m)).tocsr()
    _, labels = connected_components(adj, directed=False)
    out = np.zeros((m, 2))
    x0 = 0.0
    for lab in np.unique(labels):
        comp = np.flatnonzero(labels == lab)
        dist = shortest_path(adj[comp][:, comp], directed=False, unweighted=True)
        k = len(comp)
        if k == 1:
            xy = np.zeros((1, 2))
        else:
            j = np.eye(k) - 1.0 / k
            b = -0.5 * j @ (dist**2) @ j
            vals, vecs = np.linalg.eigh(b)
            top = np.argsort(vals)[::-1][:2]
            xy = vecs[:, top] * np.sqrt(np.maximum(vals[top], 1e-9))
            xy = xy + 1e-3 * np.cos(np.arange(k * 2).reshape(k, 2) * 1.618)
            w = np.zeros_like(dist)
            w[dist > 0] = 1.0 / dist[dist > 0] ** 2
            wsum = w.sum(axis=1, keepdims=True)
            for _ in range(80):
                delta = xy[:, None, :] - xy[None, :, :]
                norm = np.sqrt((delta**2).sum(axis=2))
                np.fill_diagonal(norm, 1.0)
                target = xy[None, :, :] + (dist / np.maximum(norm, 1e-9))[:, :, None] * delta
                xy = (w[:, :, None] * target).sum(axis=1) / wsum
        xy = xy * EDGE_LENGTH
        out[comp] = xy - xy.min(axis=0) + [x0, 0.0]
        x0 += np.ptp(xy[:, 0]) + EDGE_LENGTH
    return {i: tuple(out[index[i]]) for i in ids}


def _spring(ids, edges):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(ids)
    g.add_edges_from(edges)
    return nx.spring_layout(g, seed=0)


def _scaled(pos, ids, edges):
    """Positions as an (m, 2) array, scaled so that the median edge is EDGE_LENGTH long."""
    from tdacnn.view.layout import EDGE_LENGTH

    index = {n: i for i, n in enumerate(ids)}
    xy = np.array([pos[i] for i in ids], dtype=np.float64)
    e = np.array([(index[a], index[b]) for a, b in edges])
    med = float(np.median(np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1))) if len(e) else EDGE_LENGTH
    return xy * (EDGE_LENGTH / med if med > 0 else 1.0)


def _covered(xy):
    from scipy.spatial import cKDTree

    from tdacnn.view.layout import MIN_DISTANCE

    return int(len(cKDTree(xy).query_pairs(MIN_DISTANCE * 0.999)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="300,1000", help="node counts to aim at")
    ap.add_argument("--patches", type=int, default=20000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import DensityParams, MapperParams
    from tdacnn.view.layout import EDGE_LENGTH, fresh_layout

    a = Analysis()
    dense = a.dense(a.natural(args.patches, 0.0, 0), DensityParams(k=15, p=30))
    res: dict = {"points": len(dense), "load_avg_before": os.getloadavg()[0], "graphs": []}
    for target in (int(t) for t in args.targets.split(",")):
        best = None
        for n_cubes in range(6, 41):
            g = a.graph(dense, MapperParams(lens="pca2", n_cubes=n_cubes, overlap=0.5, clusterer="single",
                                            distance_cut=0.25))
            if best is None or abs(len(g.nodes) - target) < abs(len(best[1].nodes) - target):
                best = (n_cubes, g)
            if len(g.nodes) >= target:
                break
        n_cubes, g = best
        ids = [n.id for n in g.nodes]
        edges = [(e.source, e.target) for e in g.edges]
        row: dict = {"target": target, "n_cubes": n_cubes, "nodes": len(ids), "edges": len(edges)}
        runs = [("ours", fresh_layout)] + ([] if args.no_baseline else [("before", _before), ("spring", _spring)])
        for name, fn in runs:
            t = time.perf_counter()
            pos = fn(ids, edges)
            row[f"{name}_s"] = time.perf_counter() - t
            # ours as drawn; the others scaled to the same median edge length (their own units are arbitrary)
            xy = np.array([pos[i] for i in ids]) if name == "ours" else _scaled(pos, ids, edges)
            row[f"{name}_covered_pairs"] = _covered(xy)
            row[f"{name}_extent_edges"] = float(np.ptp(xy, axis=0).max() / EDGE_LENGTH)
        if not args.no_baseline:
            row["speedup_vs_before"] = row["before_s"] / row["ours_s"]
            row["speedup_vs_spring"] = row["spring_s"] / row["ours_s"]
        res["graphs"].append(row)
    res["load_avg_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res))
        return
    print(f"fresh layout of Mapper graphs on {res['points']} patches  (load average {res['load_avg_before']:.1f})")
    for r in res["graphs"]:
        line = (f"  {r['nodes']:5d} nodes {r['edges']:5d} edges: ours {r['ours_s']:.2f} s, "
                f"{r['ours_covered_pairs']} covered pairs, {r['ours_extent_edges']:.0f} edges wide")
        if "before_s" in r:
            line += (f" | before {r['before_s']:.2f} s ({r['speedup_vs_before']:.1f}x), "
                     f"{r['before_covered_pairs']} covered, {r['before_extent_edges']:.0f} wide | "
                     f"spring {r['spring_s']:.2f} s "
                     f"({r['speedup_vs_spring']:.1f}x), {r['spring_covered_pairs']} covered, "
                     f"{r['spring_extent_edges']:.0f} wide")
        print(line)
    print(f"  load average after: {res['load_avg_after']:.1f}")


if __name__ == "__main__":
    main()
