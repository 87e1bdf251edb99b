"""Mapper: lens, cover, clustering and nerve, as a typed :class:`MapperGraph`.

KeplerMapper is the reference implementation (``engine="kmapper"`` runs it).
The default ``engine="fast"`` reproduces its cover and clusterers exactly but
vectorised, and takes a precomputed lens, so a cover or clusterer change on a
cached lens costs only the per-cube clustering (see ``benchmarks/mapper.py``;
``tests/topology/test_mapper.py`` checks that both engines give the same nodes).

Semantics (same as KeplerMapper 2.x):

* **cover**: per lens dimension, ``n_cubes`` intervals of half-width
  ``range / (2 n_cubes (1 - overlap))`` centred on
  ``linspace(min + range/2n, max - range/2n, n_cubes)``; a point is in a cube
  when every coordinate is within ``[centre - r, centre + r]``.
* **single**: single-linkage clusters cut at ``distance_cut`` (points joined by
  a chain of steps shorter than the cut), as scikit-learn's
  ``AgglomerativeClustering(linkage="single", distance_threshold=cut)``.
* **dbscan**: scikit-learn's DBSCAN (``eps``, ``min_samples``); noise points
  are in no node.
* **nerve**: an edge joins two nodes that share at least one point, a triangle
  three nodes sharing one.

One difference: KeplerMapper skips cover elements with fewer points than
``min_samples`` of the clusterer (2 for single linkage); here a single point is
its own single-linkage cluster, so with ``clusterer="single"`` every point of
the cloud lies in some node.
"""

from __future__ import annotations

import itertools
import logging
from typing import Literal

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.graph import MapperEdge, MapperGraph, MapperNode
from tdacnn.topology.params import MapperParams

__all__ = ["compute_lens", "cover_elements", "cluster_labels", "mapper_graph", "build_graph", "graph_summary"]

log = logging.getLogger(__name__)



# ---------------------------------------------------------------- lens
def compute_lens(points: np.ndarray, codensity: np.ndarray | None, lens: str,
                 kernel_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Lens values of the points.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    codensity : ndarray of shape (m,) or None
        Needed for ``lens="codensity"``.
    lens : {"pca1", "pca2", "codensity", "angle"}
    kernel_shape : (kh, kw)
        ``"angle"`` needs 3×3 filters.

    Returns
    -------
    ndarray of shape (m, 1) or (m, 2)
        PCA components have a deterministic sign (largest loading positive).
    """
    x = np.asarray(points, dtype=np.float64)
    if lens in ("pca1", "pca2"):
        n_comp = 1 if lens == "pca1" else 2
        xc = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(xc, full_matrices=False)
        vt = vt[:n_comp]
        signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
        vt = vt * np.where(signs == 0, 1, signs)[:, None]
        out = xc @ vt.T
        if out.shape[1] < n_comp:  # fewer points than components
            out = np.hstack([out, np.zeros((len(x), n_comp - out.shape[1]))])
        return out
    if lens == "codensity":
        if codensity is None:
            raise UserError("the codensity lens needs the codensity of the points")
        return np.asarray(codensity, dtype=np.float64).reshape(-1, 1)
    if lens == "angle":
        if tuple(kernel_shape or ()) != (3, 3) and x.shape[1] != 9:
            raise UserError("the angle lens is defined for 3x3 filters only; choose pca1, pca2 or codensity")
        from tdacnn.topology.orientation import orientation

        return orientation(x)[0].reshape(-1, 1)
    raise UserError(f"unknown lens {lens!r}")


# ---------------------------------------------------------------- cover
def cover_elements(lens: np.ndarray, n_cubes: int, overlap: float) -> list[tuple[int, np.ndarray]]:
    """KeplerMapper's cubical cover: the non-empty cubes and their members.

    Parameters
    ----------
    lens : ndarray of shape (m, d_lens)

    Returns
    -------
    list of (cube index, ndarray of sorted member indices)
        Cube index runs over ``product(range(n_cubes), repeat=d_lens)`` (last dimension fastest).
    """
    lens = np.asarray(lens, dtype=np.float64)
    lo, hi = lens.min(axis=0), lens.max(axis=0)
    ranges = hi - lo
    inner_range = ((n_cubes - 1) / n_cubes) * ranges
    inset = (ranges - inner_range) / 2
    radius = ranges / (2 * n_cubes * (1 - overlap))
    inside = []  # per dimension: (m, n_cubes) membership
    for d in range(lens.shape[1]):
        centres = np.linspace(lo[d] + inset[d], hi[d] - inset[d], num=n_cubes)
        v = lens[:, d:d + 1]
        inside.append((v >= centres - radius[d]) & (v <= centres + radius[d]))
    out = []
    if len(inside) == 1:
        for i in range(n_cubes):
            idx = np.flatnonzero(inside[0][:, i])
            if len(idx):
                out.append((i, idx))
        return out
    # restrict each cube's search to points already inside along the first dimension
    for ci, combo in enumerate(itertools.product(range(n_cubes), repeat=lens.shape[1])):
        idx = np.flatnonzero(inside[0][:, combo[0]])
        for d in range(1, len(combo)):
            if not len(idx):
                break
            idx = idx[inside[d][idx, combo[d]]]
        if len(idx):
            out.append((ci, idx))
    return out


# ---------------------------------------------------------------- clustering
def _adjacency(x: np.ndarray, r: float, strict: bool) -> np.ndarray:
    """Boolean (n, n) matrix of pairs at distance < r (strict) or <= r, diagonal included.

    One matrix product; for unit-norm rows (every tdacnn cloud) a single comparison
    ``<x, y> > 1 - r²/2``.  Pairs within float rounding of exactly ``r`` are decided
    by the rounded value.
    """
    g = x @ x.T
    sq = np.einsum("ij,ij->i", x, x)
    if np.allclose(sq, 1.0, rtol=0, atol=1e-12):
        lim = 1.0 - r * r / 2.0
        adj = g > lim if strict else g >= lim
    else:
        g *= -2.0
        g += sq[:, None]
        g += sq[None, :]
        adj = g < r * r if strict else g <= r * r
    np.fill_diagonal(adj, True)
    return adj


def _components_dense(adj: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray:
    """Connected components of the subgraph on ``nodes`` (default all) of a dense adjacency.

    Breadth-first search on boolean rows: O(n²) byte operations, no edge list.
    Returns labels (n,) numbered in order of each component's smallest node; -1 off ``nodes``.
    """
    n = len(adj)
    allowed = np.ones(n, dtype=bool) if nodes is None else nodes.copy()
    labels = np.full(n, -1)
    lab = 0
    todo = allowed.copy()
    while todo.any():
        seed = int(np.argmax(todo))
        comp = np.zeros(n, dtype=bool)
        comp[seed] = True
        frontier = np.array([seed])
        while len(frontier):
            reach = adj[frontier].any(axis=0) if len(frontier) > 1 else adj[frontier[0]]
            new = reach & allowed & ~comp
            comp |= new
            frontier = np.flatnonzero(new)
        labels[comp] = lab
        todo &= ~comp
        lab += 1
    return labels


def _single_linkage(x: np.ndarray, cut: float, chunk: int = 4096) -> np.ndarray:
    """Components of the graph of pairs closer than ``cut``, by breadth-first search.

    Each step compares the newly reached points only with the points not reached
    yet, so a dense cover element (one big cluster) costs about n²/4 distance
    evaluations instead of n², and no edge list is ever built.
    Returns labels (n,) numbered in order of each component's smallest index.
    """
    n = len(x)
    sq = np.einsum("ij,ij->i", x, x)
    unit = np.allclose(sq, 1.0, rtol=0, atol=1e-12)
    lim = 1.0 - cut * cut / 2.0  # unit rows: |a - b| < cut  <=>  <a, b> > 1 - cut²/2

    def reached(front: np.ndarray, rest: np.ndarray) -> np.ndarray:
        hit = np.zeros(len(rest), dtype=bool)
        xr = x[rest]
        for i in range(0, len(front), chunk):
            f = front[i:i + chunk]
            g = xr @ x[f].T  # (len(rest), len(f))
            if unit:
                hit |= (g > lim).any(axis=1)
            else:
                hit |= ((sq[rest, None] + sq[None, f] - 2.0 * g) < cut * cut).any(axis=1)
        return hit

    labels = np.full(n, -1)
    remaining = np.arange(n)
    lab = 0
    while len(remaining):
        comp = [remaining[:1]]
        front, rest = remaining[:1], remaining[1:]
        while len(front) and len(rest):
            hit = reached(front, rest)
            front, rest = rest[hit], rest[~hit]
            comp.append(front)
        labels[np.concatenate(comp)] = lab
        lab += 1
        remaining = rest
    return labels


def cluster_labels(x: np.ndarray, params: MapperParams) -> np.ndarray:
    """Cluster one cover element.

    Parameters
    ----------
    x : ndarray of shape (n, d)

    Returns
    -------
    ndarray of int, shape (n,)
        Labels 0.. in order of each cluster's smallest index; -1 for DBSCAN noise.
        Single linkage: components of the graph of pairs closer than the cut.
        DBSCAN: exactly scikit-learn's labels (core points have >= min_samples
        points within eps, themselves included; a border point joins the
        lowest-numbered cluster among its core neighbours).
    """
    n = len(x)
    if params.clusterer == "single":
        if n == 1:
            return np.zeros(1, dtype=np.int64)
        return _single_linkage(x, params.distance_cut)
    if n < params.min_samples:
        return np.full(n, -1)
    adj = _adjacency(x, params.eps, strict=False)
    core = adj.sum(axis=1) >= params.min_samples
    if not core.any():
        return np.full(n, -1)
    labels = _components_dense(adj, core)
    border = np.flatnonzero(~core & adj[:, core].any(axis=1))
    if len(border):
        core_labels = np.where(core, labels, np.iinfo(np.int64).max)
        labels[border] = np.where(adj[border], core_labels[None, :], np.iinfo(np.int64).max).min(axis=1)
    return labels


# ---------------------------------------------------------------- graph
def build_graph(clusters: list[tuple[str, np.ndarray]], points: np.ndarray, codensity: np.ndarray | None,
                kernel_shape: tuple[int, int], meta: dict | None = None) -> MapperGraph:
    """Nodes, nerve edges (with overlap sizes) and nerve triangles from member lists.

    Parameters
    ----------
    clusters : list of (node id, member indices)
    points : ndarray of shape (m, kh * kw)
    codensity : ndarray of shape (m,) or None
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


def mapper_graph(points: np.ndarray, codensity: np.ndarray | None, params: MapperParams,
                 kernel_shape: tuple[int, int] | None = None, lens_values: np.ndarray | None = None,
                 engine: Literal["fast", "kmapper"] = "fast") -> MapperGraph:
    """The Mapper graph of a (density-filtered) cloud.

    Parameters
    ----------
    points : ndarray of shape (m, kh * kw)
    codensity : ndarray of shape (m,) or None
        Node colour (mean codensity) and the ``"codensity"`` lens.
    params : MapperParams
    kernel_shape : (kh, kw), default square
    lens_values : ndarray of shape (m, d_lens), optional
        A cached lens (from :func:`compute_lens`); computed when None.
    engine : {"fast", "kmapper"}
        Vectorised reimplementation, or KeplerMapper itself (the reference).

    Returns
    -------
    MapperGraph
        Node ids ``"c{cube}_k{cluster}"``; members index ``points``.  (With
        ``engine="kmapper"`` the cube number counts non-empty cubes only, as
        KeplerMapper numbers them; compare graphs by members, not ids.)
    """
    x = np.asarray(points, dtype=np.float64)
    if len(x) == 0:
        raise UserError("the point cloud is empty: no points left to build a Mapper graph")
    if kernel_shape is None:
        side = int(round(np.sqrt(x.shape[1])))
        kernel_shape = (side, x.shape[1] // side)
    lens = compute_lens(x, codensity, params.lens, kernel_shape) if lens_values is None else np.asarray(lens_values)
    if len(lens) != len(x):
        raise UserError(f"the lens has {len(lens)} values for {len(x)} points")
    meta = {"params": params.to_dict(), "n_points": int(len(x)), "engine": engine}
    if engine == "kmapper":
        clusters = _kmapper_clusters(x, lens, params)
    else:
        from threadpoolctl import threadpool_limits

        clusters = []
        # the matrix products here are small: one BLAS thread avoids thread start-up and
        # spin-waiting, which cost 2-5x on a busy machine (measured in benchmarks/mapper.py)
        with threadpool_limits(limits=1, user_api="blas"):
            for ci, idx in cover_elements(lens, params.n_cubes, params.overlap):
                labels = cluster_labels(x[idx], params)
                for lab in range(labels.max() + 1):
                    clusters.append((f"c{ci}_k{lab}", idx[labels == lab]))
    return build_graph(clusters, x, codensity, kernel_shape, meta)


def _kmapper_clusters(x: np.ndarray, lens: np.ndarray, params: MapperParams) -> list[tuple[str, np.ndarray]]:
    import kmapper as km
    from sklearn.cluster import DBSCAN, AgglomerativeClustering

    if params.clusterer == "single":
        clusterer = AgglomerativeClustering(n_clusters=None, distance_threshold=params.distance_cut,
                                            linkage="single")
    else:
        clusterer = DBSCAN(eps=params.eps, min_samples=params.min_samples)
    mapper = km.KeplerMapper(verbose=0)
    g = mapper.map(lens, x, clusterer=clusterer, cover=km.Cover(n_cubes=params.n_cubes,
                                                               perc_overlap=params.overlap))
    return [(nid.replace("cube", "c").replace("_cluster", "_k"), np.asarray(mem, dtype=np.int64))
            for nid, mem in g["nodes"].items()]


# ---------------------------------------------------------------- summary
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
    parent = list(range(v))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for ed in graph.edges:
        ra, rb = find(ids[ed.source]), find(ids[ed.target])
        if ra != rb:
            parent[ra] = rb
    comps = len({find(i) for i in range(v)})
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
