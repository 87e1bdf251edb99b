"""Frozen, validated parameters of each pipeline stage, with a stable hash.

A results store keys every stage by ``(input key, params.key())``; so changing the
Mapper cover never recomputes the density filter.  Validation lives here, in one
place: each ``__post_init__`` raises :class:`~tdacnn.errors.UserError` (a
``ValueError``) with one sentence naming the parameter, its value and its range.
Checks that need the data (k against the size of the cloud) are in
:func:`check_against_cloud`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Literal

from tdacnn.errors import UserError

__all__ = [
    "CloudParams",
    "DensityParams",
    "MapperParams",
    "PersistenceParams",
    "check_against_cloud",
    "MAX_POINTS",
    "is_prime",
    "LENSES",
    "LENS_DIMENSIONS",
    "available_lenses",
    "CLUSTERERS",
    "CHANNEL_MODES",
]

LENSES = ("pca1", "pca2", "codensity", "angle", "umap")
#: Lens name -> number of lens dimensions (each gets ``n_cubes`` intervals).
LENS_DIMENSIONS = {"pca1": 1, "pca2": 2, "codensity": 1, "angle": 1, "umap": 2}
#: Lenses that need an optional package (lens name -> module): ``pip install 'tdacnn[umap]'``.
_LENS_MODULES = {"umap": "umap"}
CLUSTERERS = ("dbscan", "single")
CHANNEL_MODES = ("each", "sum", "mean")


class _Params:
    """Mixin: a stable content hash and a JSON form."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    def key(self) -> str:
        """Stable across processes and runs (unlike ``hash()``)."""
        payload = json.dumps({"type": type(self).__name__, **self.to_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


def available_lenses() -> tuple[str, ...]:
    """The lenses of :data:`LENSES` whose optional package is installed (looked up, not imported)."""
    import importlib.util

    return tuple(name for name in LENSES
                 if name not in _LENS_MODULES or importlib.util.find_spec(_LENS_MODULES[name]) is not None)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class CloudParams(_Params):
    """Which filters become points, and how.

    Parameters
    ----------
    layer : int or None
        Conv layer number from 1 (None: the first layer).
    iteration : int or None
        Saved training iteration (None: the last one saved).
    channels : {"each", "sum", "mean"} or int
        Each input-channel slice as its own point (the paper), their sum, their
        mean, or only input channel ``c``.
    """

    layer: int | None = None
    iteration: int | None = None
    channels: Literal["each", "sum", "mean"] | int = "each"

    def __post_init__(self) -> None:
        _require(self.layer is None or (_is_int(self.layer) and self.layer >= 1),
                 f"layer must be a conv layer number ≥ 1; got {self.layer!r}")
        _require(self.iteration is None or _is_int(self.iteration),
                 f"iteration must be an integer; got {self.iteration!r}")
        _require(self.channels in CHANNEL_MODES or (_is_int(self.channels) and self.channels >= 0),
                 f"channels must be one of {', '.join(CHANNEL_MODES)} or an input-channel number ≥ 0; "
                 f"got {self.channels!r}")


#: Default :attr:`DensityParams.max_points`: clouds larger than this are density-filtered on a
#: seeded uniform sample of this many points.  Chosen by measurement.  Time: the exact k-NN search
#: at k = 300 on the worst case (uniform points on the 7-sphere, a random VGG16 layer) costs
#: 1.3 s of CPU for 10,000 points, 3.4-3.7 s for 20,000, 9.7 s for 40,000 and 452 s (wall, 2 cores)
#: for all 262,144.  Picture, on clouds where everything is affordable (defaults from the data,
#: seeds 0 and 1): layer 2 of the shipped run (40,960 filters) gives one component, betti1 1 and one
#: significant H1 bar in full and on both 20,000 samples (97 % of sampled points kept or dropped
#: alike), while one of the two 10,000 samples lost the graph's cycle; 100,000 natural patches
#: (k = 300 in full) give the same two H1 bars (0.547, 0.474 in full; 0.547, 0.488 on 20,000 with
#: k = 60, the same k/n) and betti1 2.  k counts neighbours in the sample: the same k on a
#: smaller cloud is a coarser density (k = 300 on 20,000 patches shows the primary circle only).
MAX_POINTS = 20_000


@dataclass(frozen=True)
class DensityParams(_Params):
    """Codensity filter: k-th nearest-neighbour distance, keep the densest ``p`` percent.

    Parameters
    ----------
    k : int
        The k-th nearest neighbour, counted in the cloud the density is estimated on
        (the sample, when there is one).
    p : float
        Percent of those points kept, densest first.
    max_points : int or None
        A larger cloud is first reduced to a seeded uniform sample of this many points
        (Carlsson et al. 2008 worked on 50,000-point samples); None: always every point.
    seed : int
        Seed of that sample.
    """

    k: int = 100
    p: float = 30.0
    max_points: int | None = MAX_POINTS
    seed: int = 0

    def __post_init__(self) -> None:
        _require(_is_int(self.k) and self.k >= 1, f"k must be an integer ≥ 1; got {self.k!r}")
        _require(isinstance(self.p, (int, float)) and not isinstance(self.p, bool) and 0 < self.p <= 100,
                 f"p must be a percentage in (0, 100]; got {self.p!r}")
        _require(self.max_points is None or (_is_int(self.max_points) and self.max_points >= 2),
                 f"max_points (the sample size) must be an integer ≥ 2 or None for all points; "
                 f"got {self.max_points!r}")
        _require(_is_int(self.seed) and self.seed >= 0, f"seed must be an integer ≥ 0; got {self.seed!r}")

    def n_used(self, n_points: int) -> int:
        """How many of ``n_points`` the density is estimated on (the sample size, or all)."""
        return int(n_points if self.max_points is None else min(n_points, self.max_points))


@dataclass(frozen=True)
class MapperParams(_Params):
    """Lens, cover and clusterer of the Mapper construction.

    Parameters
    ----------
    lens : {"pca1", "pca2", "codensity", "angle", "umap"}
        First or first two principal components, the codensity itself, the
        angle on the primary circle, or a seeded 2-D UMAP embedding (needs
        ``umap-learn``, :func:`~tdacnn.topology.estimators.umap_lens`).
    n_cubes : int
        Intervals per lens dimension (≥ 1).
    overlap : float
        Fraction of overlap of adjacent intervals, in (0, 1).
    clusterer : {"dbscan", "single"}
        DBSCAN (``eps``, ``min_samples``), or single-linkage cut at ``distance_cut``.
    """

    lens: Literal["pca1", "pca2", "codensity", "angle", "umap"] = "pca2"
    n_cubes: int = 10
    overlap: float = 0.3
    clusterer: Literal["dbscan", "single"] = "single"
    eps: float = 0.5
    min_samples: int = 3
    distance_cut: float = 0.5

    def __post_init__(self) -> None:
        _require(self.lens in LENSES, f"lens must be one of {', '.join(LENSES)}; got {self.lens!r}")
        _require(_is_int(self.n_cubes) and 1 <= self.n_cubes <= 200,
                 f"n_cubes (number of intervals) must be an integer from 1 to 200; got {self.n_cubes!r}")
        _require(isinstance(self.overlap, (int, float)) and 0 < self.overlap < 1,
                 f"overlap must be a fraction in (0, 1); got {self.overlap!r}")
        _require(self.clusterer in CLUSTERERS,
                 f"clusterer must be one of {', '.join(CLUSTERERS)}; got {self.clusterer!r}")
        _require(isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps > 0,
                 f"eps must be a positive number; got {self.eps!r}")
        _require(_is_int(self.min_samples) and self.min_samples >= 1,
                 f"min_samples must be an integer ≥ 1; got {self.min_samples!r}")
        _require(isinstance(self.distance_cut, (int, float)) and math.isfinite(self.distance_cut)
                 and self.distance_cut > 0,
                 f"distance_cut must be a positive number; got {self.distance_cut!r}")


@dataclass(frozen=True)
class PersistenceParams(_Params):
    """Vietoris–Rips persistence (ripser) on max-min landmarks.

    ``n_perm`` landmarks (None: all points); ``maxdim`` 1 gives H0 and H1, 2 adds H2.
    """

    maxdim: int = 1
    n_perm: int | None = 400
    thresh: float = math.inf
    coeff: int = 2

    def __post_init__(self) -> None:
        _require(self.maxdim in (0, 1, 2), f"maxdim must be 0, 1 or 2; got {self.maxdim!r}")
        _require(self.n_perm is None or (_is_int(self.n_perm) and self.n_perm >= 2),
                 f"n_perm (number of landmarks) must be an integer ≥ 2; got {self.n_perm!r}")
        _require(isinstance(self.thresh, (int, float)) and self.thresh > 0,
                 f"thresh must be positive; got {self.thresh!r}")
        _require(_is_int(self.coeff) and 2 <= self.coeff <= 10_007 and is_prime(self.coeff),
                 f"coeff must be a prime from 2 to 10007 (homology over Z/p); got {self.coeff!r}")


def is_prime(n: int) -> bool:
    """Whether the integer ``n`` is prime (trial division: for coefficient fields, small n)."""
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def check_against_cloud(n_points: int, density: DensityParams | None = None) -> None:
    """Checks that need the size of the cloud: it is not empty, and k < n (n: the sample size, if any)."""
    _require(n_points > 0, "the point cloud is empty: no filters left to analyse")
    if density is not None:
        used = density.n_used(n_points)
        _require(density.k < used,
                 f"k = {density.k} must be smaller than the number of points ({n_points})" if used == n_points
                 else f"k = {density.k} must be smaller than the number of sampled points ({used:,} of "
                      f"{n_points:,}; raise max_points or lower k)")
