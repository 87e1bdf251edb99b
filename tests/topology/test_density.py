"""k-NN table, codensity and the density filter against scikit-learn's exact search."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from tdacnn.errors import UserError
from tdacnn.topology.density import codensity, dense_indices, k_max_for, knn_table
from tdacnn.topology.points import normalize


def _cloud(n=600, seed=0):
    return normalize(np.random.default_rng(seed).normal(size=(n, 9)))[0]


def test_knn_table_matches_sklearn_exact():
    x = _cloud()
    table = knn_table(x, 40)
    d, _ = NearestNeighbors(n_neighbors=41, algorithm="brute").fit(x).kneighbors(x)
    assert table.shape == (600, 40)
    np.testing.assert_allclose(table, d[:, 1:], atol=1e-10)
    assert np.all(np.diff(table, axis=1) >= 0)


def test_rotation_to_span_keeps_distances_in_full_rank_data():
    x = np.random.default_rng(3).normal(size=(300, 5))  # not mean-centred: full rank
    d, _ = NearestNeighbors(n_neighbors=11).fit(x).kneighbors(x)
    np.testing.assert_allclose(knn_table(x, 10), d[:, 1:], atol=1e-10)


def test_codensity_and_reuse_for_smaller_k():
    x = _cloud(300)
    big = knn_table(x, 50)
    np.testing.assert_allclose(codensity(big, 7), knn_table(x, 7)[:, 6])
    with pytest.raises(UserError, match="outside the computed neighbour table"):
        codensity(big, 51)


def test_dense_indices_keeps_smallest_codensity():
    cod = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    assert dense_indices(cod, 40).tolist() == [1, 3]
    assert dense_indices(cod, 100).tolist() == [0, 1, 2, 3, 4]
    assert len(dense_indices(cod, 1)) == 1
    with pytest.raises(UserError, match=r"p must be a percentage in \(0, 100\]"):
        dense_indices(cod, 0)


def test_duplicates_count_as_neighbours():
    x = np.vstack([np.eye(3), np.eye(3)[:1]])
    t = knn_table(x, 2)
    assert t[0, 0] == 0.0 and t[3, 0] == 0.0


def test_knn_errors():
    with pytest.raises(UserError, match="k = 5 must be between 1 and the number of points minus one"):
        knn_table(np.zeros((5, 2)), 5)
    with pytest.raises(UserError, match="at least 2 points"):
        knn_table(np.zeros((1, 2)), 1)


def test_k_max_rounding():
    assert k_max_for(15, 10000) == 300
    assert k_max_for(301, 10000) == 400
    assert k_max_for(15, 100) == 99
