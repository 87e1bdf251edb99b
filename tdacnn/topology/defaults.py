"""Default parameters computed from the data: one definition for the app, the CLI and the library.

A default tuned on one example is a bug waiting for the next cloud, so every
default here is a function of the cloud it applies to:

* **k** (density) — ``k = n/64``, clamped to ``[min(5, n-1), min(300, n-1)]``:
  at least a few neighbours on a tiny cloud, never more than the 300 of the
  natural-image studies on a huge one.  Half the ratio of the paper's MNIST
  setting (k = 200 on 6,400 filters): measured on the shipped run (1,280
  filters), k = 40 leaves a gap in the Mapper ring at every clustering scale
  tried (0.4–0.7) while k ≤ 30 closes it; the barcode shows the circle at both.
* **p** — 50 %, and 100 % on clouds under :data:`SMALL_CLOUD` points.  Measured on
  four clouds (the shipped run, a fresh 4-network digits run, a 30-filter layer, a
  VGG16-shaped layer): at p = 30 the shipped run's circle breaks into 2–3
  components at every clustering scale (its 40 networks leave some angles
  sparse), at p = 50 it is one ring; the other clouds give one component at either.
* **distance cut / eps** (clustering scale) — :data:`SCALE_FACTOR` times the 99th
  percentile of the filtered cloud's single-linkage merge heights (the step that
  joins all but its loosest 1 %).  A multiple of the median nearest-neighbour
  distance was tried first and failed on clouds with very dense cores (the
  shipped run's layer 2: median 0.06, 1,082 components); the merge-height
  percentile gave one component on all the clouds above.  DBSCAN's ``eps`` takes
  the same scale, ``min_samples`` 3.
* **cover** — overlap 0.5, and the number of intervals chosen by building the
  graph for a few candidates (:data:`CUBE_CANDIDATES`) and keeping, among those
  of a readable size (20–300 nodes, from 5 on clouds under 60 points:
  :func:`readable_nodes`), the one with the fewest components,
  then the size nearest :data:`TARGET_NODES`.

An explicit value always wins: :func:`suggest_density` and :func:`suggest_mapper` take the values
already fixed and compute only the others (:meth:`tdacnn.analysis.Analysis.suggest` chains them).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np

from tdacnn.topology.params import LENS_DIMENSIONS, DensityParams, MapperParams

__all__ = ["readable_nodes", "AUTO_NAMES", "DENSITY_NAMES", "MAPPER_NAMES", "default_k", "default_p", "clustering_scale",
           "suggest_density", "suggest_mapper", "CUBE_CANDIDATES", "TARGET_NODES", "SCALE_FACTOR",
           "DEFAULTS_VERSION"]

#: Parameters whose default comes from the data.
DENSITY_NAMES = ("k", "p")
MAPPER_NAMES = ("n_cubes", "overlap", "distance_cut", "eps", "min_samples")
AUTO_NAMES = DENSITY_NAMES + MAPPER_NAMES
#: Bumped when a rule changes (cached suggestions go stale).
DEFAULTS_VERSION = 2

#: Clustering scale = this × the 99th percentile of the filtered cloud's single-linkage merge heights.
SCALE_FACTOR = 1.5
#: The size of first graph aimed at (nodes), and the range that reads well on a page.
TARGET_NODES = 50
MIN_NODES, MAX_NODES = 20, 300
#: Interval counts tried per lens dimension (2-D lenses square them).
CUBE_CANDIDATES = {1: (6, 8, 10, 12, 16, 20, 24), 2: (3, 4, 5, 6, 7, 8, 10, 12)}
#: The cover overlap used when it is not fixed.
DEFAULT_OVERLAP = 0.5
DEFAULT_MIN_SAMPLES = 3
#: k = RATIO × n (see the module docstring).
RATIO = 1 / 64
#: Below this many points the density filter keeps everything by default.
SMALL_CLOUD = 100
#: The merge heights are measured on at most this many points (a seeded sample).
_SCALE_SAMPLE = 2000


def default_k(n_points: int) -> int:
    """The paper's ``k = 200·n/6400``, clamped to ``[min(5, n-1), min(300, n-1)]``.

    Raises
    ------
    ValueError
        If ``n_points < 2`` (no neighbour to measure a density with).
    """
    from tdacnn.errors import UserError

    if n_points < 2:
        raise UserError(f"a density estimate needs at least 2 points; this cloud has {n_points}")
    k = int(round(RATIO * n_points))
    return int(min(max(k, min(5, n_points - 1)), min(300, n_points - 1)))


def default_p(n_points: int) -> float:
    """Percent of the densest points kept: 50, or all of a cloud under :data:`SMALL_CLOUD` points.

    A density estimate on a few dozen points is mostly noise, and half of 30 filters
    is too few to draw a connected graph (measured: 6 components of 15 points).
    """
    return 100.0 if n_points < SMALL_CLOUD else 50.0


def suggest_density(n_points: int, fixed: Mapping[str, object] | None = None) -> DensityParams:
    """Density parameters for a cloud of ``n_points``; values in ``fixed`` win."""
    fixed = dict(fixed or {})
    k = fixed.get("k")
    p = fixed.get("p")
    return DensityParams(int(k) if k is not None else default_k(n_points),
                         float(p) if p is not None else default_p(n_points))


def clustering_scale(points: np.ndarray, seed: int = 0) -> float:
    """:data:`SCALE_FACTOR` × the 99th percentile of the single-linkage merge heights of ``points`` (n, d).

    The merge heights are the edge lengths of the minimum spanning tree; their 99th
    percentile is the step that joins all but the loosest 1 % of the cloud (on more
    than :data:`_SCALE_SAMPLE` points, of a seeded sample of them: a sparser sample
    has longer steps, so the scale errs towards joining).
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist

    x = np.asarray(points, dtype=np.float64)
    if len(x) > _SCALE_SAMPLE:
        x = x[np.random.default_rng(seed).choice(len(x), _SCALE_SAMPLE, replace=False)]
    if len(x) < 2:
        return 1.0
    # single linkage's merge heights are the minimum spanning tree's edge lengths (25x faster than
    # building the tree from the square distance matrix); zero-length steps (duplicates) left out
    heights = linkage(pdist(x), "single")[:, 2]
    heights = heights[heights > 0]
    if len(heights) == 0:  # every point the same: any positive cut gives the same graph
        return 1e-3
    return round(SCALE_FACTOR * float(np.quantile(heights, 0.99)), 4)


def readable_nodes(n_points: int) -> tuple[int, int]:
    """The node counts that read well for a filtered cloud of ``n_points``: 20–300, but on a
    cloud of a few dozen points from 5 (a third of the points): 25 nodes of 30 filters would be
    one node per filter, not a summary."""
    return min(MIN_NODES, max(5, n_points // 3)), MAX_NODES


def suggest_mapper(points: np.ndarray, build: Callable[[MapperParams], object], lens: str = "pca2",
                   clusterer: str = "single", fixed: Mapping[str, object] | None = None) -> MapperParams:
    """Mapper parameters for a filtered cloud; values in ``fixed`` win.

    Parameters
    ----------
    points : ndarray of shape (m, d)
        The density-filtered cloud.
    build : callable
        ``build(params) -> MapperGraph`` (e.g. ``lambda mp: analysis.graph(dense, mp)``),
        used to try the candidate covers when ``n_cubes`` is not fixed.
    lens, clusterer : str
    fixed : mapping
        Control values already chosen (any of :data:`MAPPER_NAMES`).

    Returns
    -------
    MapperParams
    """
    from tdacnn.topology.nerve import graph_summary

    fixed = dict(fixed or {})
    need_scale = any(fixed.get(n) is None for n in ("distance_cut", "eps"))
    scale = clustering_scale(points) if need_scale else 1.0
    params = MapperParams(
        lens=lens, clusterer=clusterer,
        n_cubes=int(fixed["n_cubes"]) if fixed.get("n_cubes") is not None else 10,
        overlap=float(fixed["overlap"]) if fixed.get("overlap") is not None else DEFAULT_OVERLAP,
        distance_cut=float(fixed["distance_cut"]) if fixed.get("distance_cut") is not None else scale,
        eps=float(fixed["eps"]) if fixed.get("eps") is not None else scale,
        min_samples=int(fixed["min_samples"]) if fixed.get("min_samples") is not None else DEFAULT_MIN_SAMPLES)
    if fixed.get("n_cubes") is not None:
        return params
    dims = LENS_DIMENSIONS.get(lens, 1)
    lo, hi = readable_nodes(len(points))
    target = min(TARGET_NODES, max(lo, len(points) // 3))  # a tiny cloud: about one node per 3 points
    best: tuple | None = None
    for n_cubes in CUBE_CANDIDATES[dims]:
        candidate = replace(params, n_cubes=n_cubes)
        s = graph_summary(build(candidate))
        if s["nodes"] == 0:
            continue
        readable = lo <= s["nodes"] <= hi
        score = (not readable, s["components"], abs(math.log(s["nodes"] / target)))
        if best is None or score < best[0]:
            best = (score, candidate)
        if s["nodes"] > hi:  # more intervals only give more nodes: stop (a tiny cut would take minutes)
            break
    return best[1] if best is not None else replace(params, n_cubes=CUBE_CANDIDATES[dims][0])
