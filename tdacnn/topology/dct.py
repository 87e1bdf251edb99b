"""The DCT basis of 3×3 patches used by Carlsson et al. (2008), both ways.

Mean-zero 3×3 patches form an 8-dimensional space.  The basis below is the
one of Lee, Mumford & Pedersen (2003) used in the 2008 Klein-bottle paper,
built from the 1-D vectors ``u1 = (1, 0, -1)`` (linear) and ``u2 = (1, -2, 1)``
(quadratic) and the constant ``u0 = (1, 1, 1)``.  Unlike the paper, which scales
them to unit *D-norm*, each vector here has unit Euclidean norm, so the basis is
orthonormal on mean-zero patches and ``coords = patches @ DCT_BASIS.T``.

``e1`` and ``e2`` are the horizontal and vertical linear gradients: the primary
circle is ``cos t * e1 + sin t * e2``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DCT_BASIS", "DCT_NAMES", "to_dct", "from_dct"]

_u0 = np.array([1.0, 1.0, 1.0])
_u1 = np.array([1.0, 0.0, -1.0])
_u2 = np.array([1.0, -2.0, 1.0])


def _basis() -> np.ndarray:
    # outer(row profile, column profile): e1 varies along x (columns), e2 along y (rows)
    pairs = [(_u0, _u1), (_u1, _u0), (_u0, _u2), (_u2, _u0), (_u1, _u1), (_u2, _u1), (_u1, _u2), (_u2, _u2)]
    vecs = np.array([np.outer(r, c).ravel() for r, c in pairs])
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


#: ndarray of shape (8, 9): rows e1..e8, orthonormal, each orthogonal to the constant patch.
DCT_BASIS: np.ndarray = _basis()
DCT_BASIS.setflags(write=False)

#: What each basis vector looks like.
DCT_NAMES = ("linear x", "linear y", "quadratic x", "quadratic y", "saddle", "linear x · quadratic y",
             "quadratic x · linear y", "quadratic x · quadratic y")


def to_dct(patches: np.ndarray) -> np.ndarray:
    """DCT coordinates of 3×3 patches.

    Parameters
    ----------
    patches : ndarray of shape (n, 3, 3) or (n, 9)
        The constant part (mean) is ignored: it is orthogonal to the basis.

    Returns
    -------
    ndarray of shape (n, 8)
    """
    p = np.asarray(patches, dtype=np.float64)
    if p.ndim == 3:
        p = p.reshape(len(p), -1)
    if p.ndim != 2 or p.shape[1] != 9:
        raise ValueError(f"DCT coordinates need 3x3 patches of shape (n, 9) or (n, 3, 3); got {p.shape}")
    return p @ DCT_BASIS.T


def from_dct(coords: np.ndarray) -> np.ndarray:
    """Mean-zero 3×3 patches, shape (n, 9), from DCT coordinates of shape (n, 8)."""
    c = np.asarray(coords, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 8:
        raise ValueError(f"DCT coordinates must have shape (n, 8); got {c.shape}")
    return c @ DCT_BASIS
