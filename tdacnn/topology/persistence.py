"""Persistent homology of a cloud (Vietoris–Rips on max-min landmarks).

Engines: ``"ripser"`` (ripser.py, the reference) and ``"giotto"`` (giotto-ph's
multi-threaded Ripser, ``gph.ripser_parallel``); ``"auto"`` uses giotto-ph when
it is installed (see ``benchmarks/persistence.py`` for the side-by-side timing).
Both compute the same diagrams.  A finite ``PersistenceParams.thresh`` stops
the filtration there (much faster: most of the cost is in long edges); bars
still alive at ``thresh`` have death ``inf`` and count as dying at ``thresh``
for the significance rule.

Significance rule for H_d bars (:func:`significant_bars`)
--------------------------------------------------------
Sort the finite bar lengths ``L1 >= L2 >= ...``.  Only bars at least
``min_relative`` (default 0.1) of the cloud's scale — the diameter of the
landmark set — and at least the landmark spacing — the median H0 bar, below
which Rips noise loops live — are candidates; if there are none, no bar is significant.
Otherwise the count is where the largest drop in the sorted lengths occurs,
looking at the drops ``L_i - L_{i+1}`` for the candidates (``L_{i+1}`` may be a
non-candidate, or 0 past the last bar), provided that drop is a real gap:
``L_i >= GAP_RATIO * L_{i+1}`` (1.5); else none is significant (a sphere's
many similar noise loops).  On the filters of 40 MNIST networks (2,560 points,
k=200, p=30) the primary circle's bar is 0.60 against 0.19 for the next, while
the landmark spacing is 0.47: a floor of 1.5 spacings (the first version of
this rule) missed it.  A clean circle gives one long bar and
a drop to noise (1); two circles two long bars (2); a blob only short bars (0).
For H0 the infinite bar counts too: ``significant[0]`` is the number of
components.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.barcode import Barcode
from tdacnn.topology.params import PersistenceParams

__all__ = ["maxmin_landmarks", "barcode", "significant_bars", "MIN_RELATIVE", "SPACING_FACTOR", "GAP_RATIO",
           "has_giotto", "SIGNIFICANCE_VERSION"]

log = logging.getLogger(__name__)

#: The version of the significance rule (:func:`significant_bars`): part of the key of every stored
#: barcode (:mod:`tdacnn.store`), so a changed rule never serves verdicts made by the old one.
SIGNIFICANCE_VERSION = 1
#: Default minimum length of a significant bar, as a fraction of the landmark diameter.
MIN_RELATIVE = 0.1
#: A significant bar is also at least this many times the median H0 bar (the landmark spacing).
SPACING_FACTOR = 1.0
#: The last significant bar is at least this many times longer than the next one.
GAP_RATIO = 1.5
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


def significant_bars(diagram: np.ndarray, scale: float | None = None, min_relative: float = MIN_RELATIVE,
                     floor: float = 0.0) -> int:
    """How many bars of a diagram count as significant (rule in the module docstring).

    Parameters
    ----------
    diagram : ndarray of shape (n_bars, 2)
        (birth, death); infinite deaths are ignored.
    scale : float, optional
        Size of the cloud (the landmark diameter); default: the largest finite death.
    min_relative : float
        Candidates are at least ``min_relative * scale`` long.
    floor : float
        And at least this long (:func:`barcode` passes the median H0 bar).
    """
    dg = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    dg = dg[np.isfinite(dg[:, 1])]
    if len(dg) == 0:
        return 0
    lengths = np.sort(dg[:, 1] - dg[:, 0])[::-1]
    if scale is None:
        scale = float(dg[:, 1].max())
    n_cand = int(np.sum(lengths >= max(min_relative * scale, floor)))
    if n_cand == 0:
        return 0
    padded = np.append(lengths, 0.0)
    drops = padded[:n_cand] - padded[1:n_cand + 1]
    count = int(np.argmax(drops)) + 1
    return count if padded[count - 1] >= GAP_RATIO * padded[count] else 0


def _diameter(x: np.ndarray) -> float:
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return float(np.sqrt(max(d2.max(), 0.0)))


def barcode(points: np.ndarray, params: PersistenceParams | None = None,
            engine: Literal["auto", "ripser", "giotto"] = "auto", min_relative: float = MIN_RELATIVE) -> Barcode:
    """Vietoris–Rips barcode of a cloud on ``params.n_perm`` max-min landmarks.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    params : PersistenceParams
    engine : {"auto", "ripser", "giotto"}

    Returns
    -------
    Barcode
        ``diagrams[0..maxdim]``, longest bar first; ``significant`` per dimension
        (for H0: the infinite bar plus the significant finite ones, i.e. components);
        ``meta`` holds the engine, the scale, the
        rule and the landmark indices.
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

        # no edge collapse: measured 5x slower on 600 landmarks of patches (benchmarks/persistence.py)
        with _ENGINE_LOCK:
            res = gph.ripser_parallel(xl, maxdim=params.maxdim, thresh=params.thresh, coeff=params.coeff,
                                      n_threads=-1)
    elif engine == "ripser":
        from ripser import ripser

        with _ENGINE_LOCK:
            res = ripser(xl, maxdim=params.maxdim, thresh=params.thresh, coeff=params.coeff)
    else:
        raise UserError(f"unknown persistence engine {engine!r}; use auto, ripser or giotto")
    dgms = tuple(np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in res["dgms"])
    dgms = tuple(d[np.lexsort((d[:, 0], -(d[:, 1] - d[:, 0])))] for d in dgms)  # longest first
    scale = _diameter(xl)
    # noise loops live at the landmark spacing (the median H0 bar); a significant bar is longer
    h0 = dgms[0][np.isfinite(dgms[0][:, 1])]
    floor = SPACING_FACTOR * float(np.median(h0[:, 1] - h0[:, 0])) if len(h0) else 0.0
    # with a finite thresh a bar still alive there is reported with death inf; for the rule it
    # counts as dying at thresh (a lower bound on its length)
    capped = [d if (k == 0 or not np.isfinite(params.thresh))
              else np.where(np.isinf(d), params.thresh, d) for k, d in enumerate(dgms)]
    sig = [significant_bars(d, scale, min_relative, floor) for d in capped]
    sig[0] += int(np.sum(~np.isfinite(dgms[0][:, 1])))  # components: the infinite bar(s) too
    sig = tuple(sig)
    meta = {"engine": engine, "scale": scale, "min_relative": min_relative,
            "rule": "largest drop in sorted lengths among bars >= max(min_relative * diameter, median H0 bar), "
                    "if that bar is >= 1.5 times the next",
            "floor": floor,
            "landmarks": lm.tolist(), "params": params.to_dict()}
    return Barcode(dgms, int(len(x)), int(len(lm)), sig, meta)
