"""Where 3×3 filters sit on the primary circle.

The primary circle is the family of linear gradients ``cos t * e1 + sin t * e2``
(:mod:`tdacnn.topology.dct`).  A filter's angle is the direction of its
linear-gradient component, ``atan2(<f, e2>, <f, e1>)``, in ``[0, 2π)``; its
*energy fraction* is how much of its (mean-centred) squared norm lies in that
plane — near 1 for a pure edge detector.  Angles that are multiples of π/2 are
horizontal and vertical edges, so a histogram of angles turns "the circle
over-represents horizontal and vertical edges" into a number
(:func:`axis_excess`).
"""

from __future__ import annotations

import numpy as np

from tdacnn.topology.dct import to_dct

__all__ = ["orientation", "angle_histogram", "axis_excess"]


def orientation(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle on the primary circle and energy fraction of each 3×3 filter.

    Parameters
    ----------
    points : ndarray of shape (n, 9) or (n, 3, 3)

    Returns
    -------
    angles : ndarray of shape (n,)
        In ``[0, 2π)``; 0 for a filter with no linear component.
    energy_fraction : ndarray of shape (n,)
        ``(c1² + c2²) / sum(c²)`` over the 8 DCT coordinates, in [0, 1] (0 for a constant filter).
    """
    c = to_dct(points)
    angles = np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi)
    angles[angles >= 2 * np.pi] = 0.0  # mod of a tiny negative angle rounds to 2π
    lin = c[:, 0] ** 2 + c[:, 1] ** 2
    total = np.sum(c**2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, lin / np.where(total > 0, total, 1.0), 0.0)
    return angles, frac


def angle_histogram(angles: np.ndarray, bins: int = 36, weights: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of angles over ``[0, 2π)``.

    Returns
    -------
    counts : ndarray of shape (bins,)
    edges : ndarray of shape (bins + 1,)
    """
    if bins < 1:
        raise ValueError(f"bins must be ≥ 1; got {bins}")
    return np.histogram(np.mod(angles, 2 * np.pi), bins=bins, range=(0.0, 2 * np.pi), weights=weights)


def axis_excess(angles: np.ndarray, half_width: float = np.pi / 16) -> float:
    """How over-represented horizontal and vertical edges are.

    The fraction of angles within ``half_width`` of a multiple of π/2, divided by
    the fraction a uniform distribution would put there (``4 * 2 * half_width / 2π``).
    1 means no preference; 2 means twice as many axis-aligned edges as chance.
    """
    a = np.asarray(angles, dtype=np.float64)
    if a.size == 0:
        return float("nan")
    dist = np.abs((np.mod(a, np.pi / 2) + np.pi / 4) % (np.pi / 2) - np.pi / 4)
    observed = np.mean(dist <= half_width)
    return float(observed / (8 * half_width / (2 * np.pi)))
