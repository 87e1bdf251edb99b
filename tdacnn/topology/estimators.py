"""Your own lens or clusterer in the Mapper construction, in the manner of giotto-tda and KeplerMapper.

* a **clusterer** is any object with scikit-learn's ``fit_predict(X) -> labels``
  (``AgglomerativeClustering``, ``DBSCAN``, ``HDBSCAN``, ``OPTICS``, your own): it is
  cloned (``sklearn.base.clone``) and fitted on each cover element; label -1 is
  noise (in no node);
* a **lens** is any object with ``fit_transform(X) -> (m, d)`` (``PCA``, ``Isomap``,
  ``umap.UMAP``) or a function ``f(points) -> (m,)`` or ``(m, d)``.

The built-in lenses and clusterers (:data:`~tdacnn.topology.params.LENSES`,
:data:`~tdacnn.topology.params.CLUSTERERS`) stay the fast defaults.  One built-in
lens is an estimator from an optional package: ``lens="umap"`` is :func:`umap_lens`
(``pip install 'tdacnn[umap]'``).  A plugged-in
estimator's results are cached under :func:`estimator_key`: its class and
parameters (``get_params``), or a function's name and compiled code; a function
that closes over variables has no stable key and is recomputed every time.
"""

from __future__ import annotations

import hashlib
import marshal
from typing import Any, Callable

import numpy as np

from tdacnn.errors import UserError

__all__ = ["estimator_key", "check_clusterer", "check_lens", "apply_lens", "cluster_with", "umap_lens"]


def _name(obj: Any) -> str:
    t = obj if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', type(obj).__name__)}"


def estimator_key(obj: Any) -> str | None:
    """A stable text key of a lens or clusterer, or None when it has none (results are then not cached).

    scikit-learn-style objects: class path and ``repr`` of ``get_params(deep=True)`` (sorted).
    Functions: qualified name and a hash of their compiled code and defaults; None if they close over
    variables (their behaviour depends on values the key cannot see).
    """
    if hasattr(obj, "get_params"):
        try:
            params = obj.get_params(deep=True)
        except Exception:  # noqa: BLE001 - an estimator whose parameters cannot be read has no key
            return None
        return f"{_name(obj)}({sorted((k, repr(v)) for k, v in params.items())!r})"
    code = getattr(obj, "__code__", None)
    if code is not None and not getattr(obj, "__closure__", None):
        digest = hashlib.sha256(marshal.dumps(code) + repr(getattr(obj, "__defaults__", None)).encode()).hexdigest()
        return f"{_name(obj)}:{digest[:16]}"
    return None


def check_clusterer(obj: Any) -> Any:
    """``obj`` if it has a callable ``fit_predict``; else a sentence (UserError)."""
    if not callable(getattr(obj, "fit_predict", None)):
        raise UserError(f"a clusterer needs scikit-learn's fit_predict(X) method; {type(obj).__name__} has none")
    return obj


def check_lens(obj: Any) -> Any:
    """``obj`` if it has ``fit_transform`` or is callable; else a sentence (UserError)."""
    if not (callable(getattr(obj, "fit_transform", None)) or callable(obj)):
        raise UserError(f"a lens is an object with fit_transform(X) or a function of the points; "
                        f"got {type(obj).__name__}")
    return obj


def apply_lens(lens: Any, points: np.ndarray) -> np.ndarray:
    """Lens values of ``points`` (m, d_in) → ndarray (m, d), d ≥ 1, all finite.

    Raises
    ------
    UserError
        The lens failed, or gave values of the wrong shape or not finite.
    """
    check_lens(lens)
    fit: Callable[[np.ndarray], Any] = lens.fit_transform if hasattr(lens, "fit_transform") else lens
    try:
        values = np.asarray(fit(np.asarray(points, dtype=np.float64)), dtype=np.float64)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's lens can fail any way: say which and how
        raise UserError(f"the lens {_name(lens)} failed on {len(points)} points: {type(exc).__name__}: {exc}") from exc
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or len(values) != len(points) or values.shape[1] < 1:
        raise UserError(f"the lens {_name(lens)} must give one value (or row of values) per point: "
                        f"{len(points)} points gave shape {values.shape}")
    if not np.isfinite(values).all():
        raise UserError(f"the lens {_name(lens)} gave values that are not finite (NaN or infinity)")
    if values.shape[1] > 3:
        raise UserError(f"a lens of {values.shape[1]} dimensions makes a cover of n_cubes^{values.shape[1]} "
                        "elements; use at most 3")
    return values


def umap_lens(n_points: int, seed: int = 0) -> Any:
    """The built-in ``"umap"`` lens: umap-learn's ``UMAP`` in 2-D, seeded, for a cloud of ``n_points``.

    2-D, seeded (``random_state=seed``: the same cloud always gives the same picture; umap-learn then
    runs on one thread), euclidean, with 30 neighbours (at most ``n_points - 1``) and ``min_dist`` 1.0
    instead of umap-learn's 15 and 0.1: a lens for a cover wants the points spread evenly, not in
    tight clumps with gaps between them that the cover cannot bridge.  Measured on 22 circles of 3×3
    edge filters (600 filters at noise 0.03-0.15, or 800 at 0.15 plus 200 random ones; the data's
    default density and cover), the Mapper graph was one cycle (one component, betti1 1) for 17
    with these values, 10 with 30 neighbours and ``min_dist`` 0.1, and 4 of the first 10 with
    umap-learn's defaults.  UMAP still tears a loop where the density filter left a gap (the clean
    circles): the linear lenses do not.  The first call in a process compiles umap-learn's numba
    code: seconds (see the README's lens text).

    Parameters
    ----------
    n_points : int
        Size of the cloud it will embed (at least 4).
    seed : int

    Returns
    -------
    umap.UMAP
        Use it through :func:`apply_lens` (``fit_transform(X) -> (n_points, 2)``).

    Raises
    ------
    UserError
        umap-learn is not installed, or the cloud is too small to embed.
    """
    if n_points < 4:
        raise UserError(f"the UMAP lens needs at least 4 points to embed; this cloud has {n_points}")
    try:
        import umap
    except ImportError as exc:
        raise UserError("the UMAP lens needs umap-learn: pip install 'tdacnn[umap]' (or umap-learn)") from exc
    # results are stored under the lens's name: a change here changes graphs, so bump mapper.MAPPER_VERSION
    return umap.UMAP(n_components=2, n_neighbors=min(30, n_points - 1), min_dist=1.0, random_state=seed, n_jobs=1)


def cluster_with(clusterer: Any, x: np.ndarray) -> np.ndarray:
    """Labels of one cover element by a clone of ``clusterer``: 0.. in order of first appearance, -1 noise.

    A single point that the clusterer refuses (scikit-learn's agglomerative clustering raises on
    one sample) is its own cluster; a clusterer that calls it noise (DBSCAN) is followed.
    """
    try:
        from sklearn.base import clone

        model = clone(clusterer)
    except Exception:  # noqa: BLE001 - not a scikit-learn estimator: used as it is
        model = clusterer
    try:
        raw = np.asarray(model.fit_predict(np.asarray(x, dtype=np.float64)))
    except Exception as exc:  # noqa: BLE001 - a user's clusterer can fail any way: say which and how
        if len(x) == 1:
            return np.zeros(1, dtype=np.int64)
        raise UserError(f"the clusterer {_name(clusterer)} failed on a cover element of {len(x)} points: "
                        f"{type(exc).__name__}: {exc}") from exc
    if raw.shape != (len(x),):
        raise UserError(f"the clusterer {_name(clusterer)} must give one label per point; "
                        f"{len(x)} points gave shape {raw.shape}")
    labels = np.full(len(x), -1, dtype=np.int64)
    keep = raw != -1
    if keep.any():
        _, first, inverse = np.unique(raw[keep], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))  # numbered in order of first appearance
        labels[keep] = order[inverse]
    return labels
