"""DCT basis of 3x3 patches and orientation on the primary circle."""

import numpy as np
import pytest

from tdacnn.topology.dct import DCT_BASIS, from_dct, to_dct
from tdacnn.topology.orientation import angle_histogram, axis_excess, orientation


def test_basis_is_orthonormal_and_mean_free():
    np.testing.assert_allclose(DCT_BASIS @ DCT_BASIS.T, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(DCT_BASIS.sum(axis=1), 0.0, atol=1e-12)


def test_paper_basis_vectors():
    # e1 and e2 of Carlsson et al. 2008: horizontal and vertical linear gradients
    np.testing.assert_allclose(DCT_BASIS[0].reshape(3, 3), np.array([[1, 0, -1]] * 3) / np.sqrt(6))
    np.testing.assert_allclose(DCT_BASIS[1].reshape(3, 3), np.array([[1, 0, -1]] * 3).T / np.sqrt(6))
    np.testing.assert_allclose(DCT_BASIS[7].reshape(3, 3),
                               np.outer([1, -2, 1], [1, -2, 1]) / np.linalg.norm(np.outer([1, -2, 1], [1, -2, 1])))


def test_round_trip():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(20, 3, 3))
    p -= p.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(from_dct(to_dct(p)), p.reshape(20, 9), atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        to_dct(np.zeros((3, 4)))


def test_orientation_of_pure_gradients():
    t = np.array([0.0, np.pi / 2, np.pi, 1.0])
    f = np.cos(t)[:, None] * DCT_BASIS[0] + np.sin(t)[:, None] * DCT_BASIS[1]
    ang, frac = orientation(f)
    np.testing.assert_allclose(ang, t, atol=1e-12)
    np.testing.assert_allclose(frac, 1.0)
    _, frac2 = orientation(DCT_BASIS[4:5])  # a saddle has no linear part
    assert frac2[0] == pytest.approx(0.0)


def test_histogram_and_axis_excess():
    counts, edges = angle_histogram(np.array([0.0, 0.1, np.pi]), bins=4)
    assert counts.tolist() == [2, 0, 1, 0] and len(edges) == 5
    on_axes = np.repeat([0.0, np.pi / 2, np.pi, 3 * np.pi / 2], 10)
    assert axis_excess(on_axes) == pytest.approx(4.0)  # all within pi/16 of an axis; chance: 1/4
    uniform = np.linspace(0, 2 * np.pi, 8000, endpoint=False)
    assert axis_excess(uniform) == pytest.approx(1.0, rel=0.01)
