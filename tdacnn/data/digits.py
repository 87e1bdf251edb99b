"""scikit-learn's bundled 8x8 handwritten digits, upscaled: the embedded default dataset.

Needs no download and no files.  The 1,797 images are split once, with a fixed
seed, into 1,437 training and 360 test images (80/20), and upscaled with
bilinear interpolation to ``size`` x ``size`` (28 by default, MNIST's size).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIGITS_N_TEST", "DIGITS_MEAN", "DIGITS_STD", "load_digits"]

DIGITS_N_TEST = 360
#: mean and standard deviation of the upscaled (28x28) training images
DIGITS_MEAN = 0.3364
DIGITS_STD = 0.3226
_SPLIT_SEED = 0


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upscaling (align corners) of (n, h, w) float images to (n, size, size)."""
    n, h, w = images.shape
    if size == h == w:
        return images.copy()
    ys = np.linspace(0, h - 1, size)
    xs = np.linspace(0, w - 1, size)
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 2)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 2)
    fy = (ys - y0)[None, :, None]
    fx = (xs - x0)[None, None, :]
    a = images[:, y0][:, :, x0]
    b = images[:, y0][:, :, x0 + 1]
    c = images[:, y0 + 1][:, :, x0]
    d = images[:, y0 + 1][:, :, x0 + 1]
    return (a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx)


def load_digits(train: bool = True, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits as images in [0, 1].

    Parameters
    ----------
    train : bool
        The 1,437 training images, else the 360 test images.
    size : int
        Output side length (>= 8).

    Returns
    -------
    images : ndarray of float32, shape (n, size, size), values in [0, 1]
    labels : ndarray of int64, shape (n,)
    """
    from sklearn.datasets import load_digits as _sk_load

    if size < 8:
        raise ValueError(f"digits size must be at least 8 pixels; got {size}")
    bunch = _sk_load()
    images = bunch.images.astype(np.float64) / 16.0
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(labels))
    idx = order[DIGITS_N_TEST:] if train else order[:DIGITS_N_TEST]
    return _upscale(images[idx], size).astype(np.float32), labels[idx]
