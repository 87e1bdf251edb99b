"""The staged, cached analysis pipeline: weights → cloud → dense cloud → graph / barcode.

Every stage is a pure function of its input and a frozen parameter dataclass,
stored in ``store`` (any ``MutableMapping``: a ``dict``, a ``diskcache.Cache``)
under ``"<stage>:<input key>:<params key>"``; so moving one slider recomputes
only what is downstream of it, and a result computed once is reused by anyone
sharing the store.  The k-NN table of a cloud is searched once for a ``k_max``
(``max(k, 300)`` rounded up to a hundred) and reused for every k ≤ k_max and
every p.  Values are plain picklable objects (numpy arrays and dataclasses).

Example
-------
>>> a = Analysis()
>>> cloud = a.cloud(weightset, CloudParams(layer=1))
>>> dense = a.dense(cloud, DensityParams(k=100, p=30))
>>> graph = a.graph(dense, MapperParams(lens="pca2"))
>>> bars = a.barcode(dense, PersistenceParams(n_perm=400))
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
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
        Distance to the k-th nearest neighbour in the *parent* cloud.
    indices : ndarray of shape (m,)
        Rows of the parent cloud that were kept (sorted).
    parent_key : str
        Key of the parent cloud.
    params : DensityParams
    n_parent : int
        Size of the parent cloud.
    """

    cloud: PointCloud
    codensity: np.ndarray
    indices: np.ndarray
    parent_key: str = ""
    params: DensityParams = field(default_factory=DensityParams)
    n_parent: int = 0

    def __len__(self) -> int:
        return len(self.cloud)

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

    def __init__(self, store: MutableMapping | None = None, memo_size: int = 4) -> None:
        self.store: MutableMapping = store if store is not None else {}
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._memo_size = memo_size
        self._memo_lock = threading.Lock()  # the app shares one Analysis between callback threads

    # ---- plumbing ------------------------------------------------------
    def _cached(self, key: str, compute: Callable[[], Any], memo: bool = False) -> Any:
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
        return self._cached(f"cloud:{weightset.key()}:{params.key()}",
                            lambda: cloud_from_weightset(weightset, params))

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
        table = self._cached(f"knn:{ckey}:{k_max}", lambda: _density.knn_table(cloud.points, k_max), memo=True)
        if k_max not in have:
            try:
                self.store[index_key] = tuple(sorted(set(have) | {k_max}))
            except Exception:  # noqa: BLE001
                pass
        return table

    def dense(self, cloud: PointCloud, params: DensityParams | None = None) -> DenseCloud:
        """The densest ``p`` % of the cloud by k-th neighbour distance."""
        params = params or DensityParams()
        check_against_cloud(len(cloud), params)
        ckey = cloud.key()

        def compute() -> DenseCloud:
            cod = _density.codensity(self.knn(cloud, params.k), params.k)
            idx = _density.dense_indices(cod, params.p)
            return DenseCloud(cloud.subset(idx), cod[idx], idx, ckey, params, len(cloud))

        return self._cached(f"dense:{ckey}:{params.key()}", compute)

    def lens(self, dense: DenseCloud, lens: str) -> np.ndarray:
        """Lens values of a dense cloud, shape (m, 1 or 2) (cached: a cover change reuses them)."""
        from tdacnn.topology.mapper import compute_lens

        return self._cached(f"lens:{dense.key()}:{lens}",
                            lambda: compute_lens(dense.cloud.points, dense.codensity, lens,
                                                 dense.cloud.kernel_shape), memo=True)

    def graph(self, dense: DenseCloud, params: MapperParams | None = None) -> MapperGraph:
        """Mapper graph of a dense cloud (members index the dense cloud)."""
        from tdacnn.topology.mapper import MAPPER_VERSION, mapper_graph

        params = params or MapperParams()
        check_against_cloud(len(dense))
        return self._cached(
            f"graph:v{MAPPER_VERSION}:{dense.key()}:{params.key()}",  # a new mapper version: stored graphs go stale
            lambda: mapper_graph(dense.cloud.points, dense.codensity, params, dense.cloud.kernel_shape,
                                 lens_values=self.lens(dense, params.lens)))

    def barcode(self, dense: DenseCloud | PointCloud, params: PersistenceParams | None = None) -> Barcode:
        """Persistence barcode of a dense cloud (or of any cloud)."""
        from tdacnn.topology.persistence import barcode

        params = params or PersistenceParams()
        cloud = dense.cloud if isinstance(dense, DenseCloud) else dense
        key = dense.key()
        check_against_cloud(len(cloud))
        return self._cached(f"barcode:{key}:{params.key()}", lambda: barcode(cloud.points, params))
