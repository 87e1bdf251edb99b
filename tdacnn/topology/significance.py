"""Which persistence bars are significant: a Monte Carlo test against structureless clouds.

The rule (:data:`tdacnn.topology.persistence.SIGNIFICANCE_VERSION` 3)
---------------------------------------------------------------------
A bar is compared with the bars that *the same pipeline* gives on clouds without
any shape.  For a cloud of normalised filters or patches (every row mean-centred
and of unit norm, as :func:`tdacnn.topology.points.normalize` makes them) the null
cloud is **as many random Gaussian filters**, normalised the same way (uniform
points on the unit sphere of the mean-zero subspace), put through the same density
filter (the same sample, ``k`` and ``p``) and the same persistence settings
(landmarks, field, threshold).  For any other array (the library's raw clouds) it is
a Gaussian with the cloud's mean and covariance, which has no loops either.

:data:`NULL_DRAWS` null clouds give, for each dimension ``d``, the length of their
longest H_d bar.  The p-value of an observed H_d bar of length ``L`` is the chance that
a null cloud has *any* bar at least as long — a max-statistic (single-step, Westfall–Young)
p-value, so the chance of calling any bar of a shapeless cloud significant is at most
alpha, however many bars there are:

* ``(1 + #{null longest ≥ L}) / (draws + 1)`` when any null cloud reaches ``L`` (the
  Monte Carlo p-value), else
* the upper tail at ``L`` of a Gumbel law fitted by moments to the null's longest
  bars (the largest of many short noise bars), capped at ``1 / (draws + 1)``.

A bar is significant when ``p ≤ alpha`` (:data:`ALPHA`, 0.01), i.e. when it is longer
than one threshold per dimension (the dashed line of the persistence diagram).  Comparing
the ``r``-th longest bar with the null's ``r``-th longest instead (a rank-wise test) called
three circles in 16 trained MNIST networks whose second and third bars are noise
(``docs/significance.md``).  For H0 the infinite bar (the whole cloud) always counts;
finite H0 bars are separate components when they pass the same test.  A bar still alive
at a finite ``thresh`` counts as dying there, in the data and the null alike.
The measurements that chose this rule are in ``docs/significance.md``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from tdacnn.topology.barcode import Barcode
from tdacnn.topology.params import DensityParams, PersistenceParams

__all__ = ["ALPHA", "NULL_DRAWS", "TOP", "NullSpec", "null_spec", "null_lengths", "ranked_lengths", "p_values",
           "threshold", "assess", "format_p", "on_sphere"]

#: Significance level: a bar is significant when its p-value is at most this.
ALPHA = 0.01
#: Null clouds per test (each: one density filter and one persistence computation).
NULL_DRAWS = 20
#: Longest bars kept per null cloud and dimension (the test uses the longest; the rest describe the null).
TOP = 10
_EULER = 0.5772156649015329
_MEMO: OrderedDict[str, tuple] = OrderedDict()  # nulls of this process (the results store keeps them across)
_MEMO_LOCK = threading.Lock()
_KEY_LOCKS: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class NullSpec:
    """How the null clouds of a test are made.

    Attributes
    ----------
    n_points : int
        Size of each null cloud before the density filter (the observed cloud's size).
    dim : int
        Coordinates per point.
    kind : {"sphere", "gaussian"}
        ``"sphere"``: normalised random Gaussian filters; ``"gaussian"``: the
        Gaussian of ``shape`` (mean and Cholesky factor of the covariance).
    persistence : PersistenceParams
    density : DensityParams or None
        The density filter applied to every null cloud (None: none).
    draws : int
    seed : int
    shape : tuple of float
        ``"gaussian"`` only: the mean (dim) then the Cholesky factor (dim × dim), flat.
    """

    n_points: int
    dim: int
    kind: Literal["sphere", "gaussian"]
    persistence: PersistenceParams
    density: DensityParams | None = None
    draws: int = NULL_DRAWS
    seed: int = 0
    shape: tuple = ()

    def key(self) -> str:
        dens = self.density.key() if self.density is not None else "none"
        shape = hashlib.sha256(np.asarray(self.shape, dtype=np.float64).tobytes()).hexdigest()[:16]
        return (f"{self.kind}:{self.n_points}:{self.dim}:{dens}:{self.persistence.key()}:{self.draws}:"
                f"{self.seed}:{shape}")

    def describe(self) -> str:
        """What the null clouds are, in words: ``"random filters"`` or ``"Gaussian noise"``."""
        return "random filters" if self.kind == "sphere" else "Gaussian noise"

    def to_dict(self) -> dict:
        """A JSON form (:meth:`from_dict` reads it back)."""
        return {"n_points": self.n_points, "dim": self.dim, "kind": self.kind,
                "persistence": self.persistence.to_dict(),
                "density": self.density.to_dict() if self.density is not None else None,
                "draws": self.draws, "seed": self.seed, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict) -> "NullSpec":
        return cls(int(d["n_points"]), int(d["dim"]), d["kind"], PersistenceParams.from_dict(d["persistence"]),
                   DensityParams.from_dict(d["density"]) if d.get("density") is not None else None,
                   int(d["draws"]), int(d["seed"]), tuple(float(v) for v in d["shape"]))


def on_sphere(points: np.ndarray, atol: float = 1e-6) -> bool:
    """Whether every row is mean-centred and of unit norm (a tdacnn cloud of filters or patches)."""
    x = np.asarray(points, dtype=np.float64)
    return (x.ndim == 2 and x.shape[1] >= 3 and len(x) > 0 and bool(np.allclose(x.mean(axis=1), 0.0, atol=atol))
            and bool(np.allclose(np.einsum("ij,ij->i", x, x), 1.0, atol=atol)))


def null_spec(points: np.ndarray, persistence: PersistenceParams, n_points: int | None = None,
              density: DensityParams | None = None, draws: int = NULL_DRAWS) -> NullSpec:
    """The null of a cloud.

    Parameters
    ----------
    points : ndarray of shape (m, d)
        The cloud whose barcode is tested (the density-filtered points, if any).
    persistence : PersistenceParams
    n_points : int, optional
        Size of the cloud before the density filter (default ``m``).
    density : DensityParams, optional
        The density filter that made ``points`` from ``n_points`` points.
    draws : int
    """
    x = np.asarray(points, dtype=np.float64)
    n = int(n_points if n_points is not None else len(x))
    if on_sphere(x):
        return NullSpec(n, x.shape[1], "sphere", persistence, density, draws)
    cov = np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]) if len(x) > 1 else np.eye(x.shape[1])
    chol = np.linalg.cholesky(cov + 1e-12 * (np.trace(cov) + 1.0) * np.eye(len(cov)))
    shape = tuple(np.round(np.concatenate([x.mean(axis=0), chol.ravel()]), 12).tolist())
    return NullSpec(n, x.shape[1], "gaussian", persistence, density, draws, shape=shape)


def _null_cloud(spec: NullSpec, rng: np.random.Generator) -> np.ndarray:
    from tdacnn.topology import density as _density
    from tdacnn.topology.points import normalize

    z = rng.standard_normal((spec.n_points, spec.dim))
    if spec.kind == "sphere":
        x = normalize(z)[0]
    else:
        s = np.asarray(spec.shape, dtype=np.float64)
        x = s[:spec.dim] + z @ s[spec.dim:].reshape(spec.dim, spec.dim).T
    d = spec.density
    if d is None:
        return x
    rows = _density.sample_indices(len(x), d.max_points, d.seed)  # as Analysis.dense
    base = x if rows is None else x[rows]
    cod = _density.codensity(_density.knn_table(base, d.k), d.k)
    return base[_density.dense_indices(cod, d.p)]


def ranked_lengths(diagram: np.ndarray, thresh: float = math.inf, top: int = TOP) -> np.ndarray:
    """The ``top`` longest bar lengths, longest first, padded with 0.

    Infinite bars count as dying at ``thresh`` when it is finite, and are left out otherwise
    (the whole cloud's H0 bar).

    Returns
    -------
    ndarray of shape (top,)
    """
    dg = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    death = np.where(np.isinf(dg[:, 1]), thresh, dg[:, 1])
    length = (death - dg[:, 0])[np.isfinite(death)]
    out = np.zeros(top)
    length = np.sort(length)[::-1][:top]
    out[:len(length)] = length
    return out


def null_lengths(spec: NullSpec) -> tuple[np.ndarray, ...]:
    """The null's ranked bar lengths, per dimension.

    Returns
    -------
    tuple of ndarray of shape (draws, TOP)
        Element ``d``, row ``i``: the longest H_d bars of null cloud ``i``, longest first.
        Memoised in this process by ``spec.key()``.
    """
    key = spec.key()
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:  # threads asking for the same null (the app's panels) wait for one computation
        with _MEMO_LOCK:
            if key in _MEMO:
                return _MEMO[key]
        result = _compute_null(spec)
        with _MEMO_LOCK:
            _MEMO[key] = result
            _KEY_LOCKS.pop(key, None)
            while len(_MEMO) > 64:
                _MEMO.popitem(last=False)
    return result


def _compute_null(spec: NullSpec) -> tuple[np.ndarray, ...]:
    from tdacnn.topology.persistence import diagrams

    out = [np.zeros((spec.draws, TOP)) for _ in range(spec.persistence.maxdim + 1)]
    # the H0 of the components test: infinite bars (components at thresh) are counted, not tested
    h0_thresh = math.inf
    for i in range(spec.draws):
        rng = np.random.default_rng([spec.seed, i, spec.n_points, spec.dim])
        x = _null_cloud(spec, rng)
        if len(x) < 2:
            continue
        dg = diagrams(x, spec.persistence).diagrams
        for d, bars in enumerate(dg):
            out[d][i] = ranked_lengths(bars, h0_thresh if d == 0 else spec.persistence.thresh)
    return tuple(out)


def _gumbel_tail(value: float, sample: np.ndarray) -> float:
    s = float(np.std(sample, ddof=1)) if len(sample) > 1 else 0.0
    if s <= 0.0:
        return 0.0 if value > float(np.max(sample)) else 1.0
    beta = s * math.sqrt(6.0) / math.pi
    mu = float(np.mean(sample)) - _EULER * beta
    return float(-math.expm1(-math.exp(-(value - mu) / beta)))


def p_values(lengths: np.ndarray, null: np.ndarray) -> np.ndarray:
    """P-values of bar lengths against the null's longest bars (rule above).

    Parameters
    ----------
    lengths : ndarray of shape (r,)
        Observed lengths (0: no bar).
    null : ndarray of shape (draws, TOP)
        :func:`null_lengths` of one dimension; column 0 (each null cloud's longest bar) is used.

    Returns
    -------
    ndarray of shape (r,)
        1 for empty bars.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    out = np.ones(len(lengths))
    if len(null) == 0:
        return out
    sample = np.asarray(null, dtype=np.float64)[:, 0]
    draws = len(sample)
    for i, value in enumerate(lengths):
        if value <= 0.0:
            continue
        exceed = int(np.sum(sample >= value))
        out[i] = ((1 + exceed) / (draws + 1) if exceed
                  else min(1.0 / (draws + 1), _gumbel_tail(float(value), sample)))
    return out


def threshold(null: np.ndarray, alpha: float = ALPHA) -> float:
    """The shortest significant length of one dimension (the diagram's dashed line).

    Parameters
    ----------
    null : ndarray of shape (draws, TOP)
    alpha : float

    Returns
    -------
    float
        inf without null clouds.
    """
    if len(null) == 0:
        return math.inf
    sample = np.asarray(null, dtype=np.float64)[:, 0]
    draws = len(sample)
    top = float(np.max(sample))
    if 2.0 / (draws + 1) <= alpha:  # enough draws for an empirical threshold
        return float(np.quantile(sample, 1 - alpha))
    s = float(np.std(sample, ddof=1)) if draws > 1 else 0.0
    if s <= 0.0 or 1.0 / (draws + 1) <= alpha:
        return top
    beta = s * math.sqrt(6.0) / math.pi
    mu = float(np.mean(sample)) - _EULER * beta
    return max(top, mu - beta * math.log(-math.log1p(-alpha)))


def _count(p: np.ndarray, alpha: float) -> int:
    n = 0
    for value in p:
        if value > alpha:
            break
        n += 1
    return n


def assess(barcode: Barcode, null: tuple[np.ndarray, ...], spec: NullSpec, alpha: float = ALPHA) -> Barcode:
    """The barcode with its p-values and significant counts (rule in the module docstring).

    Parameters
    ----------
    barcode : Barcode
        Diagrams sorted longest first (:func:`tdacnn.topology.persistence.diagrams`).
    null : tuple of ndarray of shape (draws, TOP)
        :func:`null_lengths` of ``spec``.
    spec : NullSpec
    alpha : float

    Returns
    -------
    Barcode
        ``p_values[d]`` aligned with ``diagrams[d]`` (infinite H0 bars: 0); ``significant[d]``;
        ``meta["significance"]``: the rule, ``alpha``, the null (kind, draws) and the length
        threshold of each dimension (a bar longer than it is significant).
    """
    thresh = barcode.meta.get("params", {}).get("thresh", spec.persistence.thresh)
    thresh = math.inf if thresh is None else float(thresh)
    pvals, sig, thresholds = [], [], []
    for d, dg in enumerate(barcode.diagrams):
        dg = np.asarray(dg, dtype=np.float64).reshape(-1, 2)
        death = np.where(np.isinf(dg[:, 1]), math.inf if d == 0 else thresh, dg[:, 1])
        length = death - dg[:, 0]
        finite = np.isfinite(length)
        p = np.ones(len(dg))
        p[~finite] = 0.0  # the whole cloud (H0)
        order = np.flatnonzero(finite)[np.argsort(-length[finite], kind="stable")]
        nd = null[d] if d < len(null) else np.zeros((0, TOP))
        p[order] = p_values(length[order], nd)
        pvals.append(p)
        sig.append(int(np.sum(~finite)) + _count(p[order], alpha))
        thresholds.append(threshold(nd, alpha))
    meta = {**barcode.meta, "significance": {
        "rule": f"Monte Carlo test against the longest bars of {spec.draws} clouds of {spec.describe()} through "
                f"the same pipeline; significant when p <= {alpha:g}",
        "alpha": alpha, "null": spec.describe(), "draws": spec.draws, "thresholds": thresholds}}
    return replace(barcode, significant=tuple(sig), p_values=tuple(pvals), meta=meta)


def format_p(p: float) -> str:
    """``"p < 0.001"``, ``"p = 0.03"``."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.095 else f"p = {p:.1f}"
