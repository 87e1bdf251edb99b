"""Mapper: lens, cover, clustering and nerve, as a typed :class:`MapperGraph`.

KeplerMapper is the reference implementation (``engine="kmapper"`` runs it).
The default ``engine="fast"`` reproduces its cover and clusterers exactly but
vectorised, and takes a precomputed lens, so a cover or clusterer change on a
cached lens costs only the per-cube clustering (see ``benchmarks/mapper.py``;
``tests/topology/test_mapper.py`` checks that both engines give the same nodes).
This module holds the lens, the cover and the pipeline; the clusterers are in
:mod:`tdacnn.topology.clustering`, the nerve and :func:`graph_summary` in
:mod:`tdacnn.topology.nerve` (both re-exported here).

Semantics (same as KeplerMapper 2.x):

* **cover**: per lens dimension, ``n_cubes`` intervals of half-width
  ``range / (2 n_cubes (1 - overlap))`` centred on
  ``linspace(min + range/2n, max - range/2n, n_cubes)``; a point is in a cube
  when every coordinate is within ``[centre - r, centre + r]``.
* **periodic cover** (not in KeplerMapper): a lens with values on a circle —
  ``"angle"``, period 2π (:data:`PERIODIC_LENSES`) — is covered by ``n_cubes``
  arcs of the whole circle, centres ``(i + 1/2) period / n_cubes``, half-width
  ``period / (2 n_cubes (1 - overlap))``, distances measured around the circle;
  so the last arc overlaps the first and a circle of filters gives a cycle, not
  a path cut open at angle 0.  (``engine="kmapper"`` keeps KeplerMapper's
  interval cover.)
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
import math
from typing import Any, Literal

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.blas import one_blas_thread
from tdacnn.topology.clustering import cluster_labels
from tdacnn.topology.graph import MapperGraph
from tdacnn.topology.nerve import build_graph, graph_summary
from tdacnn.topology.params import MapperParams

__all__ = ["compute_lens", "cover_elements", "cluster_labels", "mapper_graph", "build_graph", "graph_summary",
           "PERIODIC_LENSES", "MAPPER_VERSION"]

log = logging.getLogger(__name__)

#: Lenses whose values lie on a circle, and their period: covered with wrapping arcs.
PERIODIC_LENSES: dict[str, float] = {"angle": 2 * math.pi}

#: Changes when the same parameters give a different graph (2: the angle lens's cover wraps
#: around the circle); a results store can put it in its graph keys.
MAPPER_VERSION = 2


# ---------------------------------------------------------------- lens
def compute_lens(points: np.ndarray, codensity: np.ndarray | None, lens: str,
                 kernel_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Lens values of the points.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    codensity : ndarray of shape (m,) or None
        Needed for ``lens="codensity"``.
    lens : {"pca1", "pca2", "codensity", "angle", "umap"}
    kernel_shape : (kh, kw)
        ``"angle"`` needs 3×3 filters; its values are angles in ``[0, 2π)``
        (:func:`~tdacnn.topology.orientation.orientation`), a periodic lens.

    Returns
    -------
    ndarray of shape (m, 1) or (m, 2)
        PCA components have a deterministic sign (largest loading positive);
        ``"umap"`` is seeded (:func:`~tdacnn.topology.estimators.umap_lens`).
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
    if lens == "umap":
        from tdacnn.topology.estimators import apply_lens, umap_lens

        return apply_lens(umap_lens(len(x)), x)
    raise UserError(f"unknown lens {lens!r}")


# ---------------------------------------------------------------- cover
def _interval_membership(v: np.ndarray, n_cubes: int, overlap: float) -> np.ndarray:
    """KeplerMapper's intervals over the range of ``v`` (m,): boolean (m, n_cubes)."""
    lo, hi = v.min(), v.max()
    rng = hi - lo
    inset = (rng - ((n_cubes - 1) / n_cubes) * rng) / 2
    radius = rng / (2 * n_cubes * (1 - overlap))
    centres = np.linspace(lo + inset, hi - inset, num=n_cubes)
    v = v[:, None]
    return (v >= centres - radius) & (v <= centres + radius)


def _arc_membership(v: np.ndarray, n_cubes: int, overlap: float, period: float) -> np.ndarray:
    """Arcs covering the whole circle ``[0, period)``: boolean (m, n_cubes)."""
    centres = (np.arange(n_cubes) + 0.5) * (period / n_cubes)
    radius = period / (2 * n_cubes * (1 - overlap))
    # signed distance around the circle, in [-period/2, period/2)
    dist = np.mod(v[:, None] - centres + period / 2, period) - period / 2
    return np.abs(dist) <= radius


def cover_elements(lens: np.ndarray, n_cubes: int, overlap: float,
                   period: float | None = None) -> list[tuple[int, np.ndarray]]:
    """The non-empty cubes of the cover and their members.

    Parameters
    ----------
    lens : ndarray of shape (m, d_lens)
    n_cubes : int
        Intervals per lens dimension.
    overlap : float
        In (0, 1): KeplerMapper's ``perc_overlap``.
    period : float, optional
        None: KeplerMapper's cubical cover of the lens's range.  A number: every
        lens dimension is an angle modulo ``period``, covered by ``n_cubes`` arcs
        of the whole circle, the last overlapping the first (module docstring).

    Returns
    -------
    list of (cube index, ndarray of sorted member indices)
        Cube index runs over ``product(range(n_cubes), repeat=d_lens)`` (last dimension fastest).
    """
    lens = np.asarray(lens, dtype=np.float64)
    if period is not None and not (math.isfinite(period) and period > 0):
        raise UserError(f"the period of a periodic lens must be a positive number; got {period!r}")
    inside = []  # per dimension: (m, n_cubes) membership
    for d in range(lens.shape[1]):
        if period is None:
            inside.append(_interval_membership(lens[:, d], n_cubes, overlap))
        else:
            inside.append(_arc_membership(lens[:, d], n_cubes, overlap, period))
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


# ---------------------------------------------------------------- graph
def mapper_graph(points: np.ndarray, codensity: np.ndarray | None, params: MapperParams,
                 kernel_shape: tuple[int, int] | None = None, lens_values: np.ndarray | None = None,
                 engine: Literal["fast", "kmapper"] = "fast", clusterer: Any = None,
                 lens_label: str | None = None) -> MapperGraph:
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
        Vectorised reimplementation, or KeplerMapper itself (the reference, whose
        cover never wraps).
    clusterer : object with ``fit_predict``, optional
        Used on each cover element instead of ``params.clusterer``
        (:mod:`tdacnn.topology.estimators`); label -1 is noise.
    lens_label : str, optional
        ``lens_values`` come from a plugged-in lens with this name (never periodic;
        ``params.lens`` is then ignored).

    Returns
    -------
    MapperGraph
        Node ids ``"c{cube}_k{cluster}"``; members index ``points``.  (With
        ``engine="kmapper"`` the cube number counts non-empty cubes only, as
        KeplerMapper numbers them; compare graphs by members, not ids.)  For a
        lens in :data:`PERIODIC_LENSES` the cover wraps round the circle and
        ``meta["cover_period"]`` holds the period.
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
    period = PERIODIC_LENSES.get(params.lens) if lens_label is None else None
    meta = {"params": params.to_dict(), "n_points": int(len(x)), "engine": engine}
    if lens_label is not None:
        meta["params"]["lens"] = lens_label
    if clusterer is not None:
        from tdacnn.topology.estimators import check_clusterer, estimator_key

        check_clusterer(clusterer)
        meta["params"]["clusterer"] = estimator_key(clusterer) or type(clusterer).__name__
        if engine != "fast":
            raise UserError("a plugged-in clusterer runs with engine='fast'")
    if period is not None and engine == "fast":
        meta["cover_period"] = period
    if engine == "kmapper":
        clusters = _kmapper_clusters(x, lens, params)
    else:
        clusters = []
        # the matrix products here are small: one BLAS thread avoids thread start-up and
        # spin-waiting, which cost 2-5x on a busy machine (measured in benchmarks/mapper.py)
        with one_blas_thread():
            for ci, idx in cover_elements(lens, params.n_cubes, params.overlap, period):
                labels = cluster_labels(x[idx], params) if clusterer is None else _plugged(clusterer, x[idx])
                for lab in range(labels.max() + 1):
                    clusters.append((f"c{ci}_k{lab}", idx[labels == lab]))
    return build_graph(clusters, x, codensity, kernel_shape, meta)


def _plugged(clusterer: Any, x: np.ndarray) -> np.ndarray:
    from tdacnn.topology.estimators import cluster_with

    return cluster_with(clusterer, x)


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
