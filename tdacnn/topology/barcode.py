"""`Barcode`: persistence intervals by dimension, their p-values, and how many are significant."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Barcode"]


@dataclass(frozen=True)
class Barcode:
    """Persistence diagrams of a Vietoris–Rips filtration.

    Attributes
    ----------
    diagrams : tuple of ndarray of shape (n_bars, 2)
        ``diagrams[d]`` holds (birth, death) of the H_d bars; death may be inf.
    n_points, n_landmarks : int
        Size of the cloud and of the max-min landmark subsample used.
    significant : tuple of int
        Per dimension, how many bars count as significant (the rule of
        :mod:`tdacnn.topology.significance`; for H0 the infinite bar counts too).
    meta : dict
        Engine, scale, landmarks, parameters; ``meta["significance"]``: the rule, alpha,
        the null and its per-rank length thresholds.
    p_values : tuple of ndarray of shape (n_bars,)
        ``p_values[d][i]``: the p-value of bar ``diagrams[d][i]`` against the null
        (empty when significance was not assessed).
    """

    diagrams: tuple[np.ndarray, ...]
    n_points: int
    n_landmarks: int
    significant: tuple[int, ...] = ()
    meta: dict = field(default_factory=dict)
    p_values: tuple[np.ndarray, ...] = ()

    @property
    def pending(self) -> bool:
        """True while the bars are known but their test against the null is not done yet (the app shows
        the bars at once and the verdict when it comes: ``meta["significance"]["pending"]``)."""
        return bool(self.meta.get("significance", {}).get("pending"))

    @property
    def h1_significant(self) -> int:
        return int(self.significant[1]) if len(self.significant) > 1 else 0

    def bars(self, dim: int) -> np.ndarray:
        return self.diagrams[dim] if dim < len(self.diagrams) else np.zeros((0, 2))

    def pvalues(self, dim: int) -> np.ndarray:
        """P-values of ``bars(dim)``, shape (n_bars,); all 1 when not assessed."""
        if dim < len(self.p_values):
            return np.asarray(self.p_values[dim], dtype=np.float64)
        return np.ones(len(self.bars(dim)))

    def to_dict(self) -> dict:
        return {
            "diagrams": [[[float(b), float(d)] for b, d in dg] for dg in self.diagrams],
            "n_points": int(self.n_points),
            "n_landmarks": int(self.n_landmarks),
            "significant": [int(s) for s in self.significant],
            "p_values": [[float(p) for p in ps] for ps in self.p_values],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())  # inf is written as Infinity, which json.loads reads back

    @classmethod
    def from_dict(cls, d: dict) -> "Barcode":
        dgms = tuple(np.asarray(dg, dtype=np.float64).reshape(-1, 2) for dg in d["diagrams"])
        pvals = tuple(np.asarray(ps, dtype=np.float64) for ps in d.get("p_values", ()))
        return cls(dgms, int(d["n_points"]), int(d["n_landmarks"]), tuple(d.get("significant", ())),
                   d.get("meta", {}), pvals)
