"""Persistent homology of a cloud (Vietoris–Rips on max-min landmarks).

Engines: ``"ripser"`` (ripser.py, the reference) and ``"giotto"`` (giotto-ph's
Ripser, ``gph.ripser_parallel``); ``"auto"`` uses giotto-ph when it is installed
(see ``benchmarks/persistence.py`` for the side-by-side timing).  giotto-ph runs on
one thread: its multi-threaded path crashed the web app twice with a segmentation
fault inside ``ripser_parallel`` (the app's log, with ``faulthandler``, November 2026;
giotto-ph 0.2.4), while one thread was 1.3-2.1x faster than ripser.py and within
5-15 % of two threads on the shared 2-core machine (600 points, H1).
Both compute the same diagrams.  A finite ``PersistenceParams.thresh`` stops
the filtration there (much faster: most of the cost is in long edges); bars
still alive at ``thresh`` have death ``inf`` and count as dying at ``thresh``
for the significance rule.

Significance
------------
:func:`barcode` tests every bar against the same pipeline on clouds without shape
(random Gaussian filters for a cloud of normalised filters or patches): the rule,
its p-values and the measurements that chose it are in
:mod:`tdacnn.topology.significance` and ``docs/significance.md``.
:func:`diagrams` computes the diagrams alone.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.barcode import Barcode
from tdacnn.topology.params import PersistenceParams

__all__ = ["maxmin_landmarks", "barcode", "diagrams", "has_giotto", "SIGNIFICANCE_VERSION"]

log = logging.getLogger(__name__)

#: The version of the significance rule (:mod:`tdacnn.topology.significance`): part of the key of every
#: stored barcode (:mod:`tdacnn.store`), so a changed rule never serves verdicts made by the old one.
#: 1: the largest drop in sorted lengths (hand-tuned constants); 2: a rank-wise Monte Carlo test against
#: random filters (superseded while it was measured); 3: the max-statistic Monte Carlo test.
SIGNIFICANCE_VERSION = 3
#: One persistence computation at a time per process: two threads inside giotto-ph's
#: multi-threaded core at once (the app's warm-up and a request) deadlocked the web process.
#: Each call already uses every core, so serialising costs nothing.
_ENGINE_LOCK = threading.Lock()


def has_giotto() -> bool:
    try:
        import gph  # noqa: F401
    except ImportError:
        return False
    return True


def maxmin_landmarks(points: np.ndarray, n: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max-min (farthest point) subsample, as ripser's ``n_perm``.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    n : int
        Number of landmarks (``min(n, m)`` are returned).
    start : int
        First landmark.

    Returns
    -------
    idx : ndarray of shape (n,)
        Landmark indices in the order picked.
    radii : ndarray of shape (n,)
        Covering radius when each was picked (``radii[0]`` is inf).
    """
    x = np.asarray(points, dtype=np.float64)
    n = min(int(n), len(x))
    idx = np.empty(n, dtype=np.int64)
    radii = np.empty(n)
    sq = np.einsum("ij,ij->i", x, x)
    mind = np.full(len(x), np.inf)
    cur = int(start)
    for i in range(n):
        idx[i] = cur
        radii[i] = np.sqrt(max(mind[cur], 0.0)) if i else np.inf
        d2 = sq + sq[cur] - 2.0 * (x @ x[cur])
        np.minimum(mind, d2, out=mind)
        mind[cur] = -1.0  # never pick a landmark twice
        cur = int(np.argmax(mind))
    return idx, radii


def _diameter(x: np.ndarray) -> float:
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return float(np.sqrt(max(d2.max(), 0.0)))


def diagrams(points: np.ndarray, params: PersistenceParams | None = None,
             engine: Literal["auto", "ripser", "giotto"] = "auto") -> Barcode:
    """Vietoris–Rips diagrams of a cloud on ``params.n_perm`` max-min landmarks, not assessed.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    params : PersistenceParams
    engine : {"auto", "ripser", "giotto"}

    Returns
    -------
    Barcode
        ``diagrams[0..maxdim]``, longest bar first (infinite first); ``significant`` and
        ``p_values`` empty; ``meta`` holds the engine, the scale (landmark diameter), the
        landmark indices and the parameters.
    """
    params = params or PersistenceParams()
    x = np.asarray(points, dtype=np.float64)
    if len(x) < 2:
        raise UserError(f"persistence needs at least 2 points; got {len(x)}")
    if engine == "auto":
        engine = "giotto" if has_giotto() else "ripser"
    if params.n_perm is not None and params.n_perm < len(x):
        from tdacnn.topology.blas import one_blas_thread

        with one_blas_thread():  # 1 matrix-vector product per landmark
            lm, _ = maxmin_landmarks(x, params.n_perm)
    else:
        lm = np.arange(len(x))
    xl = x[lm]
    if engine == "giotto":
        import gph

        # no edge collapse: measured 5x slower on 600 landmarks of patches (benchmarks/persistence.py);
        # one thread: the multi-threaded path segfaulted (see the module docstring)
        with _ENGINE_LOCK:
            res = gph.ripser_parallel(xl, maxdim=params.maxdim, thresh=params.thresh, coeff=params.coeff,
                                      n_threads=1)
    elif engine == "ripser":
        from ripser import ripser

        with _ENGINE_LOCK:
            res = ripser(xl, maxdim=params.maxdim, thresh=params.thresh, coeff=params.coeff)
    else:
        raise UserError(f"unknown persistence engine {engine!r}; use auto, ripser or giotto")
    dgms = tuple(np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in res["dgms"])
    dgms = tuple(d[np.lexsort((d[:, 0], -(d[:, 1] - d[:, 0])))] for d in dgms)  # longest first
    meta = {"engine": engine, "scale": _diameter(xl), "landmarks": lm.tolist(), "params": params.to_dict()}
    return Barcode(dgms, int(len(x)), int(len(lm)), (), meta)


def barcode(points: np.ndarray, params: PersistenceParams | None = None,
            engine: Literal["auto", "ripser", "giotto"] = "auto", n_points: int | None = None,
            density=None) -> Barcode:
    """Vietoris–Rips barcode of a cloud, each bar tested against the null (:mod:`tdacnn.topology.significance`).

    Parameters
    ----------
    points : ndarray of shape (m, d)
    params : PersistenceParams
    engine : {"auto", "ripser", "giotto"}
    n_points, density : int and DensityParams, optional
        When ``points`` are the densest of a bigger cloud: its size and the filter that kept
        them (the null clouds go through the same filter).

    Returns
    -------
    Barcode
        :func:`diagrams` with ``p_values`` and ``significant`` per dimension (for H0: the
        infinite bar plus the significant finite ones, i.e. components).
    """
    from tdacnn.topology import significance

    params = params or PersistenceParams()
    raw = diagrams(points, params, engine)
    spec = significance.null_spec(points, params, n_points, density)
    return significance.assess(raw, significance.null_lengths(spec), spec)
