"""The hand-written maths pinned to the libraries that do the same: gudhi for the nerve's Betti numbers,
scipy.fft for the 3x3 DCT basis."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dctn

from tdacnn.topology.dct import DCT_BASIS, to_dct
from tdacnn.topology.nerve import build_graph, graph_summary

import gudhi  # in the test extras: installed by scripts/test.sh

#: (row frequency, column frequency) of each DCT basis vector e1..e8 (see tdacnn.topology.dct).
FREQUENCIES = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 1), (2, 1), (1, 2), (2, 2)]


def test_the_dct_basis_is_scipys_orthonormal_type_2_dct():
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(200, 3, 3))
    ours = to_dct(patches)
    theirs = np.stack([dctn(p, type=2, norm="ortho") for p in patches])
    for i, (kr, kc) in enumerate(FREQUENCIES):
        np.testing.assert_allclose(ours[:, i], theirs[:, kr, kc], atol=1e-12)
    # and the basis covers exactly the non-constant frequencies: the constant one is orthogonal to it
    np.testing.assert_allclose(DCT_BASIS @ DCT_BASIS.T, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(DCT_BASIS.sum(axis=1), 0, atol=1e-12)


def _random_cover(rng, n_points: int, n_sets: int, size: tuple[int, int]) -> list[tuple[str, np.ndarray]]:
    return [(f"n{i}", np.sort(rng.choice(n_points, size=rng.integers(*size), replace=False)))
            for i in range(n_sets)]


def _gudhi_betti(graph) -> tuple[int, int]:
    st = gudhi.SimplexTree()
    ids = {n.id: i for i, n in enumerate(graph.nodes)}
    for i in ids.values():
        st.insert([i])
    for e in graph.edges:
        st.insert([ids[e.source], ids[e.target]])
    for tri in graph.triangles:
        st.insert([ids[v] for v in tri])
    st.compute_persistence(homology_coeff_field=2, persistence_dim_max=True)
    betti = st.betti_numbers() + [0, 0]
    return betti[0], betti[1]


@pytest.mark.parametrize("seed", range(40))
def test_the_nerve_betti_numbers_are_gudhis(seed):
    """Random covers (sparse to dense: trees, loops, filled triangles, several components) → the same
    components and first Betti number over Z/2 as gudhi's simplex tree of the same nerve."""
    rng = np.random.default_rng(seed)
    n_points = int(rng.integers(20, 120))
    clusters = _random_cover(rng, n_points, int(rng.integers(3, 30)), (1, 8))
    graph = build_graph(clusters, rng.normal(size=(n_points, 9)), None, (3, 3))
    summary = graph_summary(graph)
    b0, b1 = _gudhi_betti(graph)
    assert (summary["components"], summary["betti1"]) == (b0, b1), summary


def test_a_hollow_and_a_filled_triangle():
    pts = np.zeros((6, 9))
    hollow = build_graph([("a", np.array([0, 1])), ("b", np.array([1, 2])), ("c", np.array([2, 0]))], pts, None, (3, 3))
    filled = build_graph([("a", np.array([0, 1, 5])), ("b", np.array([1, 2, 5])), ("c", np.array([2, 0, 5]))], pts,
                         None, (3, 3))
    assert graph_summary(hollow)["betti1"] == 1 == _gudhi_betti(hollow)[1]
    assert graph_summary(filled)["betti1"] == 0 == _gudhi_betti(filled)[1]
