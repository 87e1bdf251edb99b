"""The nerve of a Mapper cover, and the numbers that say what shape it has.

:func:`build_graph` turns clusters (node id, member indices) into a
:class:`~tdacnn.topology.graph.MapperGraph`: an edge joins two nodes that share
at least one point (its ``overlap`` is how many), a triangle three nodes that
share one.  :func:`graph_summary` counts nodes, edges, components, the cycle
rank of the plain graph and the first Betti number of the 2-complex (graph plus
triangles) over Z/2.
"""

from __future__ import annotations

import itertools

import numpy as np

from tdacnn.topology.graph import MapperEdge, MapperGraph, MapperNode, components

__all__ = ["build_graph", "graph_summary"]


def build_graph(clusters: list[tuple[str, np.ndarray]], points: np.ndarray, codensity: np.ndarray | None,
                kernel_shape: tuple[int, int], meta: dict | None = None) -> MapperGraph:
    """Nodes, nerve edges (with overlap sizes) and nerve triangles from member lists.

    Parameters
    ----------
    clusters : list of (node id, member indices)
    points : ndarray of shape (m, kh * kw)
    codensity : ndarray of shape (m,) or None
        Each node's ``mean_codensity`` (NaN when None).
    kernel_shape : (kh, kw)
        Shape of each node's ``mean_filter``.
    meta : dict, optional
        Stored as the graph's ``meta``.

    Returns
    -------
    MapperGraph
        Nodes in the order of ``clusters`` (members sorted); edges and triangles sorted.
    """
    from scipy.sparse import csr_matrix

    m = len(points)
    nodes = []
    for nid, members in clusters:
        mem = np.sort(np.asarray(members, dtype=np.int64))
        mc = float(np.mean(codensity[mem])) if codensity is not None else float("nan")
        nodes.append(MapperNode(nid, mem, mc, points[mem].mean(axis=0).reshape(kernel_shape)))
    edges, triangles = [], []
    if nodes:
        rows = np.concatenate([np.full(n.size, i) for i, n in enumerate(nodes)])
        cols = np.concatenate([n.members for n in nodes])
        inc = csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=(len(nodes), m))
        ov = (inc @ inc.T).tocoo()
        sel = ov.row < ov.col
        for a, b, w in sorted(zip(ov.row[sel], ov.col[sel], ov.data[sel])):
            edges.append(MapperEdge(nodes[a].id, nodes[b].id, int(w)))
        # triangles: every triple of nodes sharing a point
        by_point = inc.T.tocsr()
        deg = np.diff(by_point.indptr)
        tris = set()
        for d in np.unique(deg[deg >= 3]):
            pts = np.flatnonzero(deg == d)
            starts = by_point.indptr[pts]
            lists = np.unique(np.sort(by_point.indices[starts[:, None] + np.arange(d)], axis=1), axis=0)
            for combo in itertools.combinations(range(d), 3):
                tris.update(map(tuple, lists[:, combo].tolist()))
        triangles = [(nodes[a].id, nodes[b].id, nodes[c].id) for a, b, c in sorted(tris)]
    return MapperGraph(tuple(nodes), tuple(edges), tuple(triangles), dict(meta or {}))


def _gf2_rank(rows: list[int]) -> int:
    """Rank over Z/2 of vectors given as int bitmasks."""
    basis: dict[int, int] = {}  # pivot bit -> vector
    rank = 0
    for v in rows:
        while v:
            top = v.bit_length() - 1
            if top in basis:
                v ^= basis[top]
            else:
                basis[top] = v
                rank += 1
                break
    return rank


def graph_summary(graph: MapperGraph) -> dict[str, int]:
    """Counts that say what shape a Mapper graph has.

    Returns
    -------
    dict
        ``nodes``, ``edges``, ``components``; ``cycle_rank`` = E - V + C (independent
        loops of the plain graph); ``betti1``: first Betti number (over Z/2) of the
        nerve 2-complex (graph plus triangles) — the loops that are not filled in.
    """
    ids = {n.id: i for i, n in enumerate(graph.nodes)}
    v, e = len(ids), len(graph.edges)
    comps = len(np.unique(components(v, [(ids[ed.source], ids[ed.target]) for ed in graph.edges])))
    cycle_rank = e - v + comps
    eidx = {frozenset((ed.source, ed.target)): i for i, ed in enumerate(graph.edges)}
    rows = []
    for a, b, c in graph.triangles:
        mask = 0
        for pair in ((a, b), (b, c), (a, c)):
            mask |= 1 << eidx[frozenset(pair)]
        rows.append(mask)
    betti1 = cycle_rank - _gf2_rank(rows)
    return {"nodes": v, "edges": e, "components": comps, "cycle_rank": cycle_rank, "betti1": betti1}
