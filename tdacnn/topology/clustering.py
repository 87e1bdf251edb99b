"""Clustering of one Mapper cover element: single linkage and DBSCAN, vectorised.

Both give exactly the labels of the reference implementations
(``tests/topology/test_mapper.py`` checks them against scikit-learn and
KeplerMapper):

* **single**: single-linkage clusters cut at ``distance_cut`` (points joined by
  a chain of steps shorter than the cut), as scikit-learn's
  ``AgglomerativeClustering(linkage="single", distance_threshold=cut)``.
* **dbscan**: scikit-learn's DBSCAN (``eps``, ``min_samples``); noise points
  are labelled -1 and end up in no node.

The callers run these under one BLAS thread (:func:`tdacnn.topology.blas.one_blas_thread`):
the matrix products are small, and thread start-up and spin-waiting cost more than they save.
"""

from __future__ import annotations

import numpy as np

from tdacnn.topology.graph import components

from tdacnn.topology.params import MapperParams

__all__ = ["cluster_labels"]


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

    Returns labels (n,) numbered in order of each component's smallest node; -1 off ``nodes``
    (:func:`tdacnn.topology.graph.components`, the one routine).
    """
    n = len(adj)
    idx = np.arange(n) if nodes is None else np.flatnonzero(nodes)
    labels = np.full(n, -1, dtype=np.int64)
    labels[idx] = components(len(idx), adjacency=adj[np.ix_(idx, idx)])
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
    params : MapperParams
        ``clusterer`` and its ``distance_cut`` or ``eps``, ``min_samples``.

    Returns
    -------
    ndarray of int, shape (n,)
        Labels 0.. in order of each cluster's smallest index; -1 for DBSCAN noise.
        Single linkage: components of the graph of pairs closer than the cut
        (a single point is its own cluster).
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
