"""The staged, cached analysis pipeline: weights → cloud → dense cloud → graph / barcode.

Every stage is a pure function of its input and a frozen parameter dataclass,
stored in ``store`` (any ``MutableMapping``: a ``dict``, a ``diskcache.Cache``)
under ``"<stage>:<input key>:<params key>"``; so moving one slider recomputes
only what is downstream of it, and a result computed once is reused by anyone
sharing the store.  The k-NN table of a cloud is searched once for a ``k_max``
(``max(k, 300)`` rounded up to a hundred) and reused for every k ≤ k_max and
every p.  A cloud larger than ``DensityParams.max_points`` is density-filtered on
a seeded uniform sample of that size (the k-NN table is the sample's).  Values
are plain picklable objects (numpy arrays and dataclasses).

Progress: ``Analysis(progress=callable)``, and within ``with analysis.reporting(callable):``
for the calls of one thread (one request of the app, which shares one Analysis
between threads), is called with one line before each stage that has to be
computed (not found in the store), e.g. ``"k-NN distances of 20,000 points (k ≤ 300)"``.

Example
-------
>>> a = Analysis()
>>> cloud = a.cloud(weightset, CloudParams(layer=1))
>>> dense = a.dense(cloud, DensityParams(k=100, p=30))
>>> graph = a.graph(dense, MapperParams(lens="pca2"))
>>> bars = a.barcode(dense, PersistenceParams(n_perm=400))
>>> density, mapper = a.suggest(cloud)          # parameters from the data, any of them fixed by name
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from tdacnn.topology import density as _density
from tdacnn.topology.barcode import Barcode
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.graph import MapperGraph
from tdacnn.topology.params import (CloudParams, DensityParams, MapperParams, PersistenceParams,
                                    check_against_cloud)

__all__ = ["Analysis", "DenseCloud"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseCloud:
    """The densest part of a cloud.

    Attributes
    ----------
    cloud : PointCloud
        The kept points (provenance follows them).
    codensity : ndarray of shape (m,)
        Distance to the k-th nearest neighbour in the cloud the density was estimated
        on: the parent cloud, or its sample when the parent has more than
        ``params.max_points`` points.
    indices : ndarray of shape (m,)
        Rows of the parent cloud that were kept (sorted).
    parent_key : str
        Key of the parent cloud.
    params : DensityParams
    n_parent : int
        Size of the parent cloud.
    n_sampled : int
        Size of the cloud the density was estimated on (``n_parent`` without a sample).
    """

    cloud: PointCloud
    codensity: np.ndarray
    indices: np.ndarray
    parent_key: str = ""
    params: DensityParams = field(default_factory=DensityParams)
    n_parent: int = 0
    n_sampled: int = 0

    def __len__(self) -> int:
        return len(self.cloud)

    @property
    def sampled(self) -> bool:
        """Whether the density was estimated on a sample of the parent cloud."""
        return 0 < self.n_sampled < self.n_parent

    def describe(self) -> str:
        """One line: ``"262,144 points → 20,000 sampled → 10,000 densest kept (k = 300, p = 50 %)"``."""
        steps = [f"{self.n_parent:,} points"]
        if self.sampled:
            steps.append(f"{self.n_sampled:,} sampled")
        steps.append(f"{len(self):,} densest kept")
        return " → ".join(steps) + f" (k = {self.params.k}, p = {self.params.p:g} %)"

    def key(self) -> str:
        return f"{self.parent_key}.{self.params.key()}"


class Analysis:
    """Cached pipeline stages; see the module docstring.

    Parameters
    ----------
    store : MutableMapping, optional
        Where results live (default: a private ``dict``).
    memo_size : int
        Recent k-NN tables also kept in process memory (they are large; a disk
        store would otherwise unpickle them on every slider move).
    """

    def __init__(self, store: MutableMapping | None = None, memo_size: int = 4,
                 progress: Callable[[str], None] | None = None) -> None:
        self.store: MutableMapping = store if store is not None else {}
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._memo_size = memo_size
        self._memo_lock = threading.Lock()  # the app shares one Analysis between callback threads
        self.progress = progress
        self._local = threading.local()  # per-thread progress (:meth:`reporting`)

    # ---- plumbing ------------------------------------------------------
    @contextlib.contextmanager
    def reporting(self, progress: Callable[[str], None]):
        """Within the block, this thread's stage messages also go to ``progress``."""
        previous = getattr(self._local, "progress", None)
        self._local.progress = progress
        try:
            yield self
        finally:
            self._local.progress = previous

    def _report(self, message: str) -> None:
        log.info("%s", message)
        for progress in (self.progress, getattr(self._local, "progress", None)):
            if progress is None:
                continue
            try:
                progress(message)
            except Exception as exc:  # noqa: BLE001 - a broken progress display must not stop the analysis
                log.warning("progress callback failed: %s", exc)

    def _cached(self, key: str, compute: Callable[[], Any], memo: bool = False, stage: str = "") -> Any:
        if memo:
            with self._memo_lock:
                if key in self._memo:
                    self._memo.move_to_end(key)
                    return self._memo[key]
        try:
            value = self.store[key]
            log.debug("cache hit %s", key)
        except KeyError:
            log.debug("computing %s", key)
            if stage:
                self._report(stage)
            value = compute()
            try:
                self.store[key] = value
            except Exception as exc:  # noqa: BLE001 - a full or read-only store must not break the analysis
                log.warning("could not store %s: %s", key, exc)
        if memo:
            with self._memo_lock:
                self._memo[key] = value
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        return value

    # ---- stages --------------------------------------------------------
    def cloud(self, weightset, params: CloudParams | None = None) -> PointCloud:
        """Points of one layer at one iteration (:func:`~tdacnn.topology.points.cloud_from_weightset`)."""
        from tdacnn.topology.points import cloud_from_weightset

        params = params or CloudParams()
        layers = weightset.layers()
        layer = params.layer if params.layer is not None else (layers[0] if layers else None)
        try:  # the cloud depends on that layer's weights only
            wkey = weightset.key(layer, params.iteration) if layer is not None else weightset.key()
        except ValueError:  # no such layer or iteration: cloud_from_weightset says so in one sentence
            wkey = weightset.key()
        return self._cached(f"cloud:{wkey}:{params.key()}",
                            lambda: cloud_from_weightset(weightset, params), stage="reading the filters")

    def natural(self, n_patches: int = 15000, blur_sigma: float = 0.0, seed: int = 0) -> PointCloud:
        """Natural-image patches (:func:`~tdacnn.topology.patches.natural_patches`)."""
        from tdacnn.topology.patches import natural_patches

        return self._cached(f"natural:{n_patches}:{blur_sigma:g}:{seed}",
                            lambda: natural_patches(n_patches, blur_sigma, seed))

    def knn(self, cloud: PointCloud, k: int) -> np.ndarray:
        """The cloud's sorted k-NN distance table, shape (n, k_max) with k_max ≥ k."""
        ckey = cloud.key()
        k_max = _density.k_max_for(k, len(cloud))
        index_key = f"knn-index:{ckey}"
        have = sorted(self.store.get(index_key, ())) if hasattr(self.store, "get") else []
        bigger = [km for km in have if km >= k]
        if bigger:
            k_max = bigger[0]
        table = self._cached(f"knn:{ckey}:{k_max}", lambda: _density.knn_table(cloud.points, k_max), memo=True,
                             stage=f"k-NN distances of {len(cloud):,} points (k ≤ {k_max})")
        if k_max not in have:
            try:
                self.store[index_key] = tuple(sorted(set(have) | {k_max}))
            except Exception:  # noqa: BLE001
                pass
        return table

    def dense(self, cloud: PointCloud, params: DensityParams | None = None) -> DenseCloud:
        """The densest ``p`` % of the cloud (or of its sample) by k-th neighbour distance.

        A cloud of more than ``params.max_points`` points is first reduced to a seeded
        uniform sample of that size (:func:`~tdacnn.topology.density.sample_indices`):
        k counts neighbours in the sample, p is a percentage of the sample, and the
        result's ``indices`` still index the whole cloud.  ``params`` None: from the data
        (:func:`tdacnn.topology.defaults.suggest_density`).
        """
        if params is None:
            from tdacnn.topology.defaults import suggest_density

            params = suggest_density(DensityParams().n_used(len(cloud)))
        check_against_cloud(len(cloud), params)
        ckey = cloud.key()

        def compute() -> DenseCloud:
            rows = _density.sample_indices(len(cloud), params.max_points, params.seed)
            base = cloud if rows is None else cloud.subset(rows)
            cod = _density.codensity(self.knn(base, params.k), params.k)
            idx = _density.dense_indices(cod, params.p)
            kept = idx if rows is None else rows[idx]
            return DenseCloud(cloud.subset(kept), cod[idx], kept, ckey, params, len(cloud), len(base))

        return self._cached(f"dense:{ckey}:{params.key()}", compute)

    def lens(self, dense: DenseCloud, lens: str) -> np.ndarray:
        """Lens values of a dense cloud, shape (m, 1 or 2) (cached: a cover change reuses them)."""
        from tdacnn.topology.mapper import compute_lens

        return self._cached(f"lens:{dense.key()}:{lens}",
                            lambda: compute_lens(dense.cloud.points, dense.codensity, lens,
                                                 dense.cloud.kernel_shape), memo=True)

    def graph(self, dense: DenseCloud, params: MapperParams | None = None, *, lens: Any = None,
              clusterer: Any = None) -> MapperGraph:
        """Mapper graph of a dense cloud (members index the dense cloud); ``params`` None: from the data
        (:func:`tdacnn.topology.defaults.suggest_mapper`, lens pca2, single linkage).

        ``lens`` (an object with ``fit_transform`` or a function of the points) and ``clusterer`` (an
        object with ``fit_predict``) plug in your own estimators in place of ``params.lens`` and
        ``params.clusterer`` (:mod:`tdacnn.topology.estimators`); the cover and the rest of ``params``
        still apply.  Their results are cached under their class and parameters.
        """
        from tdacnn.topology.estimators import apply_lens, check_clusterer, check_lens, estimator_key
        from tdacnn.topology.mapper import MAPPER_VERSION, mapper_graph

        if params is None:
            params = self._suggest_mapper(dense, "pca2", "single", {})
        check_against_cloud(len(dense))
        if lens is None and clusterer is None:
            return self._cached(
                f"graph:v{MAPPER_VERSION}:{dense.key()}:{params.key()}",  # a new mapper version: stored graphs go stale
                lambda: mapper_graph(dense.cloud.points, dense.codensity, params, dense.cloud.kernel_shape,
                                     lens_values=self.lens(dense, params.lens)),
                stage=f"Mapper graph of {len(dense):,} points")
        lens_key = clus_key = ""
        if lens is not None:
            check_lens(lens)
            lens_key = estimator_key(lens)
        if clusterer is not None:
            check_clusterer(clusterer)
            clus_key = estimator_key(clusterer)

        def values() -> np.ndarray:
            if lens is None:
                return self.lens(dense, params.lens)
            if lens_key is None:
                return apply_lens(lens, dense.cloud.points)
            return self._cached(f"lens:{dense.key()}:{lens_key}", lambda: apply_lens(lens, dense.cloud.points),
                                memo=True, stage=f"lens of {len(dense):,} points")

        def build() -> MapperGraph:
            return mapper_graph(dense.cloud.points, dense.codensity, params, dense.cloud.kernel_shape,
                                lens_values=values(), clusterer=clusterer,
                                lens_label=None if lens is None else (lens_key or "custom lens"))

        if lens_key is None or clus_key is None:  # an estimator without a stable key: never cached
            return build()
        return self._cached(f"graph:v{MAPPER_VERSION}:{dense.key()}:{params.key()}:lens={lens_key}:"
                            f"clusterer={clus_key}", build, stage=f"Mapper graph of {len(dense):,} points")

    def suggest(self, cloud: PointCloud, fixed: Mapping[str, Any] | None = None, lens: str = "pca2",
                clusterer: str = "single") -> tuple[DensityParams, MapperParams]:
        """Density and Mapper parameters for ``cloud`` from its data (:mod:`tdacnn.topology.defaults`).

        Parameters
        ----------
        cloud : PointCloud
        fixed : mapping, optional
            Values the user chose (any of ``k, p, n_cubes, overlap, distance_cut, eps,
            min_samples``; None means "from the data"): they are kept as given.
        lens, clusterer : str

        Returns
        -------
        (DensityParams, MapperParams)
        """
        from tdacnn.topology import defaults

        fixed = {k: v for k, v in (fixed or {}).items() if v is not None and k in defaults.AUTO_NAMES}
        # k counts neighbours in the cloud the density is estimated on: the sample, if any
        density = defaults.suggest_density(DensityParams().n_used(len(cloud)), fixed)
        dense = self.dense(cloud, density)
        mapper_fixed = {k: v for k, v in fixed.items() if k in defaults.MAPPER_NAMES}
        return density, self._suggest_mapper(dense, lens, clusterer, mapper_fixed)

    def _suggest_mapper(self, dense: DenseCloud, lens: str, clusterer: str,
                        fixed: Mapping[str, Any]) -> MapperParams:
        from tdacnn.topology import defaults

        key = f"defaults:v{defaults.DEFAULTS_VERSION}:{dense.key()}:{lens}:{clusterer}:{sorted(fixed.items())}"
        return self._cached(key, lambda: defaults.suggest_mapper(
            dense.cloud.points, lambda mp: self.graph(dense, mp), lens, clusterer, fixed),
            stage="choosing the cover and clustering scale")

    def barcode(self, dense: DenseCloud | PointCloud, params: PersistenceParams | None = None,
                wait: bool = True, null_in: Callable[[Any], tuple] | None = None) -> Barcode:
        """Persistence barcode of a dense cloud (or of any cloud), each bar with its p-value against the
        same pipeline on random filters (:mod:`tdacnn.topology.significance`; the null is cached by its
        point count and parameters, so every cloud of that size shares it).

        With ``wait=False`` and the null not computed yet, the bars come back at once without
        their test (:attr:`Barcode.pending`); calling again with ``wait=True`` completes it.
        ``null_in`` computes a null that is not cached yet (default: in this thread,
        :func:`~tdacnn.topology.significance.null_lengths`; the app passes
        :func:`~tdacnn.topology.null_process.null_lengths_in_child`).
        """
        from tdacnn.topology import significance
        from tdacnn.topology.persistence import diagrams

        params = params or PersistenceParams()
        cloud = dense.cloud if isinstance(dense, DenseCloud) else dense
        key = dense.key()
        check_against_cloud(len(cloud))
        used = len(cloud) if params.n_perm is None else min(params.n_perm, len(cloud))

        def compute() -> Barcode:
            raw = self._cached(f"diagrams:{key}:{params.key()}", lambda: diagrams(cloud.points, params),
                               stage=f"persistence (H0–H{params.maxdim}) on {used:,} points")
            spec = (significance.null_spec(cloud.points, params, dense.n_parent or None, dense.params)
                    if isinstance(dense, DenseCloud) else significance.null_spec(cloud.points, params))
            null = self._cached(f"null:{spec.key()}", lambda: (null_in or significance.null_lengths)(spec),
                                stage=f"significance: the same pipeline on {spec.draws} clouds of {spec.describe()}")
            return significance.assess(raw, null, spec)

        full_key = f"barcode:{key}:{params.key()}"
        if not wait and not self._has(full_key):
            spec = (significance.null_spec(cloud.points, params, dense.n_parent or None, dense.params)
                    if isinstance(dense, DenseCloud) else significance.null_spec(cloud.points, params))
            if not self._has(f"null:{spec.key()}"):
                raw = self._cached(f"diagrams:{key}:{params.key()}", lambda: diagrams(cloud.points, params),
                                   stage=f"persistence (H0–H{params.maxdim}) on {used:,} points")
                return replace(raw, significant=(), p_values=(),
                               meta={**raw.meta, "significance": {"pending": True, "null": spec.describe(),
                                                                  "draws": spec.draws}})
        return self._cached(full_key, compute)

    def _has(self, key: str) -> bool:
        """Whether ``key`` is computed already (in memory or in the store)."""
        with self._memo_lock:
            if key in self._memo:
                return True
        try:
            return key in self.store
        except Exception:  # noqa: BLE001 - a store that cannot answer has nothing for us
            return False
