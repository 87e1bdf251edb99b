"""`PointCloud`: normalised filters or patches, with the provenance of every point.

Functions that build clouds (from weight tensors, weight sets, image patches,
arrays) live beside this type in the topology package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PointCloud", "PROVENANCE_FIELDS"]

#: Provenance arrays every cloud carries, one int per point (-1 where not applicable,
#: e.g. in_channel for summed channels, or everything for image patches).
PROVENANCE_FIELDS = ("network", "layer", "iteration", "out_channel", "in_channel")


@dataclass(frozen=True)
class PointCloud:
    """Normalised points with provenance.

    Attributes
    ----------
    points : ndarray of shape (n_points, kh * kw)
        Mean-centred, unit-norm rows (float64).
    kernel_shape : tuple of int
        (kh, kw): how a row reshapes back into a filter.
    provenance : dict of str to ndarray of shape (n_points,)
        Keys :data:`PROVENANCE_FIELDS`; int64.
    n_dropped : int
        Input slices dropped because their centred norm was ~0 (constant filters).
    source : str
        Human-readable origin ("run digits-40, layer 1, iteration 880").
    """

    points: np.ndarray
    kernel_shape: tuple[int, int]
    provenance: dict[str, np.ndarray] = field(default_factory=dict)
    n_dropped: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2:
            raise ValueError(f"points must be 2-D (n_points, dim); got shape {pts.shape}")
        kh, kw = (int(s) for s in self.kernel_shape)
        if pts.shape[1] != kh * kw:
            raise ValueError(f"points have {pts.shape[1]} coordinates but kernel_shape is {kh}x{kw}")
        prov = {}
        for name in PROVENANCE_FIELDS:
            arr = np.asarray(self.provenance.get(name, np.full(len(pts), -1)), dtype=np.int64)
            if arr.shape != (len(pts),):
                raise ValueError(f"provenance {name!r} has shape {arr.shape}, expected ({len(pts)},)")
            prov[name] = arr
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "kernel_shape", (kh, kw))
        object.__setattr__(self, "provenance", prov)

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, idx: np.ndarray) -> "PointCloud":
        """The cloud restricted to rows ``idx`` (provenance follows)."""
        idx = np.asarray(idx)
        return PointCloud(self.points[idx], self.kernel_shape,
                          {k: v[idx] for k, v in self.provenance.items()}, self.n_dropped, self.source)

    def filters(self) -> np.ndarray:
        """Points reshaped to filters, shape (n_points, kh, kw)."""
        return self.points.reshape(len(self.points), *self.kernel_shape)

    def key(self) -> str:
        """Content hash of the points and their provenance (computed once: the cloud is frozen)."""
        cached = self.__dict__.get("_key")
        if cached is None:
            cached = self._hash()
            self.__dict__["_key"] = cached  # frozen dataclass: bypass __setattr__; pickles with the cloud
        return cached

    def _hash(self) -> str:
        h = hashlib.sha256()
        h.update(repr((self.points.shape, self.kernel_shape)).encode())
        h.update(np.ascontiguousarray(self.points).tobytes())
        for name in PROVENANCE_FIELDS:
            h.update(self.provenance[name].tobytes())
        return h.hexdigest()[:24]

    def save(self, path) -> None:
        """Write as ``.npz`` (points, kernel shape, provenance)."""
        np.savez_compressed(path, points=self.points, kernel_shape=np.array(self.kernel_shape),
                            n_dropped=np.array(self.n_dropped), source=np.array(self.source),
                            **{f"prov_{k}": v for k, v in self.provenance.items()})

    @classmethod
    def load(cls, path) -> "PointCloud":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["points"], tuple(z["kernel_shape"]),
                       {k: z[f"prov_{k}"] for k in PROVENANCE_FIELDS}, int(z["n_dropped"]), str(z["source"]))
