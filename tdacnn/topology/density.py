"""Codensity: the distance to the k-th nearest neighbour, and the densest p %.

The k-NN search is the expensive part, so it is done once for the largest k
needed (:func:`knn_table`) and any ``k <= k_max`` or ``p`` is then a column
lookup and a partial sort (:func:`codensity`, :func:`dense_indices`).

The search is exact: a ``scipy.spatial.cKDTree`` queried on all cores.  Points
are first rotated onto their own span (an orthonormal change of basis, so
distances are unchanged): mean-centred 3×3 filters live in an 8-dimensional
subspace of R⁹, and one dimension fewer speeds up the tree.

A huge cloud (a deep layer: 512×512 slices = 262,144 points) is first reduced to a
seeded uniform sample of ``DensityParams.max_points`` points (:func:`sample_indices`),
as Carlsson et al. (2008) worked on 50,000-point samples of 4.5 million patches:
the search grows faster than n·k, the more so on unstructured clouds (uniform
points on the 7-sphere at k = 300: 262,144 points took 452 s on 2 cores, a
20,000 sample 3.7 s of CPU; ``benchmarks/deep_layer.py``, and
:data:`~tdacnn.topology.params.MAX_POINTS` for how the sample size was chosen).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from tdacnn.errors import UserError

__all__ = ["knn_table", "codensity", "dense_indices", "k_max_for", "sample_indices"]

log = logging.getLogger(__name__)


def k_max_for(k: int, n_points: int, floor: int = 300, step: int = 100) -> int:
    """The k to search for so that later k changes never search again.

    ``max(k, floor)`` rounded up to a multiple of ``step``, capped at ``n_points - 1``.
    """
    return int(max(1, min(n_points - 1, math.ceil(max(k, floor) / step) * step)))


def sample_indices(n_points: int, max_points: int | None, seed: int = 0) -> np.ndarray | None:
    """A seeded uniform sample of ``max_points`` of ``n_points`` rows, or None to use them all.

    Parameters
    ----------
    n_points : int
    max_points : int or None
        None, or ``max_points >= n_points``: no sample (returns None).
    seed : int
        The same (n_points, max_points, seed) always gives the same rows.

    Returns
    -------
    ndarray of shape (max_points,), int64, sorted; or None
    """
    if max_points is None or n_points <= max_points:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_points, size=int(max_points), replace=False)).astype(np.int64)


def _own_span(x: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Coordinates of ``x`` in an orthonormal basis of its span (drops null directions)."""
    _, s, vt = np.linalg.svd(x[: min(len(x), 20000)], full_matrices=False)
    keep = s > rtol * (s[0] if len(s) and s[0] > 0 else 1.0)
    if keep.all():
        return x
    y = x @ vt[keep].T
    # a point outside the sampled span would lose distance; fall back if any does
    if len(x) > 20000 and not np.allclose(np.sum(y**2, axis=1), np.sum(x**2, axis=1), rtol=1e-9, atol=1e-12):
        return x
    return np.ascontiguousarray(y)


def knn_table(points: np.ndarray, k_max: int, workers: int = -1, chunk: int = 8192) -> np.ndarray:
    """Sorted distances to the ``k_max`` nearest neighbours (self excluded), exact.

    Parameters
    ----------
    points : ndarray of shape (n, d)
    k_max : int
        ``1 <= k_max < n``.
    workers : int
        Threads for the tree query (-1: all cores).
    chunk : int
        Rows queried at a time: the query also returns an (n, k_max + 1) int64 index
        array, so querying all rows at once would hold three tables at the peak.

    Returns
    -------
    ndarray of shape (n, k_max), float64
        Row i, column j: distance from point i to its (j+1)-th nearest other point.
        A duplicate point counts as a neighbour at distance 0.
    """
    from scipy.spatial import cKDTree

    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise UserError(f"a density estimate needs at least 2 points; got {n}")
    if not (isinstance(k_max, (int, np.integer)) and 1 <= k_max < n):
        raise UserError(f"k = {k_max} must be between 1 and the number of points minus one ({n - 1})")
    y = _own_span(x)
    # leafsize 128: with k ~ 300 bigger leaves cost less CPU (measured -24 % vs 32 on patches)
    tree = cKDTree(y, leafsize=128, balanced_tree=False, compact_nodes=False)
    out = np.empty((n, int(k_max)), dtype=np.float64)
    for start in range(0, n, chunk):
        dist, _ = tree.query(y[start:start + chunk], k=int(k_max) + 1, workers=workers)
        # column 0 is the point itself (distance 0); a duplicate would tie with it, which changes nothing
        out[start:start + chunk] = dist[:, 1:]
    return out


def codensity(table: np.ndarray, k: int) -> np.ndarray:
    """Distance to the k-th nearest neighbour, shape (n,); small means dense."""
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= table.shape[1]):
        raise UserError(f"k = {k} is outside the computed neighbour table (1..{table.shape[1]})")
    return table[:, k - 1].copy()


def dense_indices(codens: np.ndarray, p: float) -> np.ndarray:
    """Indices of the densest ``p`` percent of points (smallest codensity), sorted.

    ``round(p / 100 * n)`` points, at least 1; ties are broken by index.
    """
    n = len(codens)
    if not 0 < p <= 100:
        raise UserError(f"p must be a percentage in (0, 100]; got {p!r}")
    m = min(n, max(1, int(round(p / 100 * n))))
    if m == n:
        return np.arange(n)
    order = np.argsort(codens, kind="stable")[:m]
    return np.sort(order)
