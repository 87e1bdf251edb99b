"""Where 3×3 filters sit on the Klein bottle of Carlsson et al. (2008).

Carlsson, Ishkhanov, de Silva & Zomorodian (IJCV 2008) found the dense core of
natural 3×3 patches organised by a Klein bottle: the patches of the polynomials

    f(x, y) = c·(a x + b y)² + d·(a x + b y),    a² + b² = 1,  c² + d² = 1,

evaluated on the 3×3 grid, mean-centred and normalised.  Here
``(a, b) = (cos α, sin α)`` and ``(c, d) = (sin φ, cos φ)``:

- ``α`` in ``[0, 2π)`` is the direction of the edge or line: the angle of
  :func:`tdacnn.topology.orientation.orientation` (``x`` and ``y`` are the
  linear profiles ``u1 = (1, 0, −1)`` of :mod:`tdacnn.topology.dct` along the
  columns and the rows, so the linear part is ``cos α e1 + sin α e2``);
- ``φ`` in ``[−π/2, π/2]`` is the *mixing angle*: 0 for a pure edge (a linear
  gradient), ±π/2 for a pure line (a quadratic ridge or valley).

``(α + π, π − φ)`` is the same patch as ``(α, φ)``; that identification makes
the torus of ``(α, φ)`` a Klein bottle, and every patch has exactly one
representative with ``φ`` in ``[−π/2, π/2]`` (on the edge ``φ = ±π/2``,
``α`` and ``α + π`` are the same line).  In this rectangle the *primary
circle* (edges, the circle of a CNN's first layer) is the line ``φ = 0``; the
two *secondary circles* are the vertical lines ``α ∈ {0, π}`` and
``α ∈ {π/2, 3π/2}``: the edges and lines of the two axis directions.

:func:`klein_coordinates` projects any cloud onto the model: the nearest model
point (exactly, for each α the best φ has a closed form; α is searched on a
grid and refined), its Euclidean distance, and the distances to the primary and
the secondary circles.  :func:`circle_fractions` turns them into the
fractions of ``tdacnn analyze --klein``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdacnn.topology.dct import to_dct

__all__ = ["KleinCoordinates", "klein_points", "klein_coordinates", "circle_fractions", "sample_klein",
           "NEAR_RADIUS", "KLEIN_VERSION", "SECONDARY_ALPHAS"]

#: Bump when the coordinates or the fractions change meaning (keys cached results).
KLEIN_VERSION = 1

#: A point is *near* a circle when its distance to it is at most this (unit-norm points; the chord between
#: two points 26° apart).  Random Gaussian 3×3 filters, the domain's null, come this near the three circles
#: 2 % of the time and the Klein bottle 6 % (200,000 of them; 5th percentiles 0.54 and 0.43); the dense
#: cores of natural patches (X(300, 30): 87 %) and of the shipped run's first layer (60 %) come that near.
NEAR_RADIUS = 0.45

#: The α of the two secondary circles (each is two vertical lines of the rectangle).
SECONDARY_ALPHAS = (0.0, np.pi / 2, np.pi, 3 * np.pi / 2)

_GRID = 180  # coarse α steps over [0, π): 1°, refined twice by 20
_CHUNK = 4096

# ---- the model, in DCT coordinates ------------------------------------------
# x, y: the profile u1 = (1, 0, -1) along the columns and along the rows (x = sqrt(6) e1, y = sqrt(6) e2)
_X = np.tile(np.array([1.0, 0.0, -1.0]), (3, 1))
_Y = _X.T.copy()


def _raw(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The linear part t = a x + b y and the centred quadratic part t² − mean(t²), in pixels.

    Returns two ndarrays of shape (n, 9).
    """
    a, b = np.cos(alpha)[:, None, None], np.sin(alpha)[:, None, None]
    t = a * _X + b * _Y
    q = t ** 2
    q = q - q.mean(axis=(1, 2), keepdims=True)
    return t.reshape(len(alpha), 9), q.reshape(len(alpha), 9)


def _quad_norm(alpha: np.ndarray) -> np.ndarray:
    """‖t² − mean‖ on the 3×3 grid: sqrt(2 + 3 sin² 2α) (‖t‖ is sqrt(6) for every α)."""
    return np.sqrt(2.0 + 3.0 * np.sin(2 * alpha) ** 2)


_LIN_NORM = np.sqrt(6.0)


def _project(c: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components of DCT coordinates ``c`` (n, 8) along the unit linear and quadratic patches of ``alpha``.

    ``alpha`` broadcasts against ``c[:, :1]``: shape (m,) (the same angles for every point) or (n, m).
    Returns two ndarrays of the broadcast shape (n, m).
    """
    ca, sa = np.cos(alpha), np.sin(alpha)
    lin = c[:, :1] * ca + c[:, 1:2] * sa
    # t² − mean = sqrt(2) cos²α e3 + sqrt(2) sin²α e4 + 2 sin 2α e5 (dct.py's basis; checked by the tests)
    quad = (np.sqrt(2.0) * (c[:, 2:3] * ca ** 2 + c[:, 3:4] * sa ** 2) + 2.0 * c[:, 4:5] * np.sin(2 * alpha)) \
        / _quad_norm(alpha)
    return lin, quad


def klein_points(alpha: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The model patches at ``(α, φ)``: the 2008 polynomials on the 3×3 grid, centred and normalised.

    Parameters
    ----------
    alpha, phi : ndarray of shape (n,)
        Radians; any values (the parametrisation is periodic).

    Returns
    -------
    ndarray of shape (n, 9)
        Mean-zero, unit-norm rows (row-major 3×3 patches).
    """
    alpha = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    alpha, phi = np.broadcast_arrays(alpha, phi)
    t, q = _raw(alpha)
    p = np.cos(phi)[:, None] * t + np.sin(phi)[:, None] * q
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def sample_klein(n: int, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` model patches at uniform random ``(α, φ)``, optionally with Gaussian noise, renormalised.

    Returns
    -------
    points : ndarray of shape (n, 9)
        Mean-zero, unit-norm.
    alpha : ndarray of shape (n,)
        In ``[0, 2π)``.
    phi : ndarray of shape (n,)
        In ``[−π/2, π/2)``.
    """
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.0, 2 * np.pi, n)
    phi = rng.uniform(-np.pi / 2, np.pi / 2, n)
    pts = klein_points(alpha, phi)
    if noise > 0:
        pts = pts + rng.normal(0.0, noise, pts.shape)
        pts = pts - pts.mean(axis=1, keepdims=True)
        pts = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    return pts, alpha, phi


@dataclass(frozen=True)
class KleinCoordinates:
    """Each point's nearest model patch and its distances.

    Attributes
    ----------
    alpha : ndarray of shape (n,)
        Direction of the nearest model patch's edge or line, in ``[0, 2π)``.
    phi : ndarray of shape (n,)
        Its mixing angle, in ``[−π/2, π/2]``: 0 an edge, ±π/2 a line.
    distance : ndarray of shape (n,)
        Euclidean distance from the (unit-norm) point to the model, in [0, √2].
    to_primary : ndarray of shape (n,)
        Distance to the primary circle (``φ = 0``).
    to_secondary : ndarray of shape (n,)
        Distance to the nearer of the two secondary circles.
    """

    alpha: np.ndarray
    phi: np.ndarray
    distance: np.ndarray
    to_primary: np.ndarray
    to_secondary: np.ndarray

    def __len__(self) -> int:
        return len(self.alpha)


def _chord(cos_sim: np.ndarray) -> np.ndarray:
    """Distance between two unit vectors with cosine ``cos_sim``."""
    return np.sqrt(np.clip(2.0 - 2.0 * cos_sim, 0.0, None))


def _best_alpha(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """α in [0, π) maximising the model fit ``lin² + quad²`` of each point, and that maximum's square root.

    The fit is π-periodic (α + π flips the sign of the linear part only): a 1° grid, then two rounds of a
    20-times finer grid around the best angle, and a parabola through the last three.
    """
    grid = np.linspace(0.0, np.pi, _GRID, endpoint=False)
    lin, quad = _project(c, grid)
    best = grid[np.argmax(lin ** 2 + quad ** 2, axis=1)]
    step = np.pi / _GRID
    offsets = np.linspace(-1.0, 1.0, 41)
    for _ in range(2):
        cand = best[:, None] + step * offsets[None, :]
        lin, quad = _project(c, cand)
        fit = lin ** 2 + quad ** 2
        best = cand[np.arange(len(c)), np.argmax(fit, axis=1)]
        step /= 20
    # a parabola through the best angle and its two neighbours: the fit is smooth, so this lands on the top
    lin, quad = _project(c, best[:, None] + step * np.array([-1.0, 0.0, 1.0]))
    lo, mid, hi = (lin ** 2 + quad ** 2).T
    curve = lo - 2 * mid + hi
    shift = np.where(curve < 0, 0.5 * (lo - hi) / np.where(curve < 0, curve, -1.0), 0.0)
    best = best + step * np.clip(shift, -1.0, 1.0)
    lin, quad = _project(c, best[:, None])
    return np.mod(best, np.pi), np.sqrt(lin[:, 0] ** 2 + quad[:, 0] ** 2)


def _coordinates(c: np.ndarray) -> tuple[np.ndarray, ...]:
    """The five arrays of :class:`KleinCoordinates` for unit DCT coordinates ``c`` (n, 8)."""
    alpha, fit = _best_alpha(c)
    lin, quad = (v[:, 0] for v in _project(c, alpha[:, None]))
    flip = lin < 0  # the representative with cos φ ≥ 0: (α, φ) ≡ (α + π, π − φ)
    alpha = np.where(flip, alpha + np.pi, alpha)
    lin = np.abs(lin)
    theta = np.arctan2(quad, lin)  # the mixing angle between the *unit* linear and quadratic patches
    # back to the polynomial's (c, d) = (sin φ, cos φ): tan φ = tan θ · ‖t‖ / ‖t² − mean‖
    phi = np.arctan2(np.sin(theta) / _quad_norm(alpha), np.cos(theta) / _LIN_NORM)
    primary = np.hypot(c[:, 0], c[:, 1])  # the best edge: the linear part's norm
    secondary = np.zeros(len(c))
    for a in SECONDARY_ALPHAS[:2]:  # α and α + π lie on the same secondary circle
        sl, sq = _project(c, np.array([a]))
        secondary = np.maximum(secondary, np.hypot(sl[:, 0], sq[:, 0]))
    return np.mod(alpha, 2 * np.pi), phi, _chord(fit), _chord(primary), _chord(secondary)


def klein_coordinates(points: np.ndarray) -> KleinCoordinates:
    """Klein-bottle coordinates and distances of 3×3 filters or patches.

    Parameters
    ----------
    points : ndarray of shape (n, 9) or (n, 3, 3)
        Any scale: each row is mean-centred and normalised first (as a
        :class:`~tdacnn.topology.cloud.PointCloud` already is).  A constant row has
        no direction: it gets ``α = φ = 0`` and distance 1 to everything.

    Returns
    -------
    KleinCoordinates
        Arrays of shape (n,).
    """
    c = to_dct(points)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.divide(c, norms, out=np.zeros_like(c), where=norms > 1e-12)
    parts = [_coordinates(c[i:i + _CHUNK]) for i in range(0, len(c), _CHUNK)] or [(np.zeros(0),) * 5]
    alpha, phi, dist, prim, sec = (np.concatenate(arrs) for arrs in zip(*parts))
    zero = norms[:, 0] <= 1e-12
    if zero.any():
        for arr, value in ((alpha, 0.0), (phi, 0.0), (dist, 1.0), (prim, 1.0), (sec, 1.0)):
            arr[zero] = value
    return KleinCoordinates(alpha, phi, dist, prim, sec)


def circle_fractions(coords: KleinCoordinates, radius: float = NEAR_RADIUS) -> dict[str, float]:
    """How a cloud divides between the primary circle, the two secondary circles and the rest.

    *primary*: within ``radius`` of the primary circle (the edges).  *secondary*: not primary, and within
    ``radius`` of either secondary circle (the lines, and the edges between edge and line, of the two axis
    directions).  *other*: farther than ``radius`` from all three circles, the three-circle model of
    Carlsson et al. (2008) — far from the model.  The circles meet at the four axis-aligned edges, which
    count as primary: an edge is an edge first.

    Parameters
    ----------
    coords : KleinCoordinates
    radius : float
        Euclidean distance (unit-norm points); default :data:`NEAR_RADIUS`.

    Returns
    -------
    dict
        ``primary``, ``secondary``, ``other`` (fractions of the points, summing to 1) and
        ``median_distance`` (the median distance to the Klein bottle); all NaN for an empty cloud.
    """
    n = len(coords)
    if n == 0:
        nan = float("nan")
        return {"primary": nan, "secondary": nan, "other": nan, "median_distance": nan}
    primary = coords.to_primary <= radius
    secondary = ~primary & (coords.to_secondary <= radius)
    n_primary, n_secondary = int(primary.sum()), int(secondary.sum())
    return {"primary": n_primary / n, "secondary": n_secondary / n, "other": (n - n_primary - n_secondary) / n,
            "median_distance": float(np.median(coords.distance))}
