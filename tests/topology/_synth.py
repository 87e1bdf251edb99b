"""Synthetic clouds with known topology."""

from __future__ import annotations

import numpy as np


def circle(n: int, radius: float = 1.0, centre=(0.0, 0.0), noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """Noisy circle in the plane, shape (n, 2)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)] + rng.normal(0, noise, (n, 2))


def two_circles(n: int, seed: int = 0) -> np.ndarray:
    return np.vstack([circle(n // 2, seed=seed), circle(n - n // 2, centre=(4.0, 0.0), seed=seed + 1)])


def blob(n: int, seed: int = 0) -> np.ndarray:
    """A uniform disc: no loops."""
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.uniform(0, 1, n))
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[r * np.cos(t), r * np.sin(t)]


def filter_circle(n: int, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """3x3 linear-gradient filters at random angles plus noise, shape (n, 3, 3)."""
    from tdacnn.topology.dct import DCT_BASIS

    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    f = np.cos(t)[:, None] * DCT_BASIS[0] + np.sin(t)[:, None] * DCT_BASIS[1]
    return (f + rng.normal(0, noise, f.shape)).reshape(n, 3, 3)
