"""Fresh layouts of big Mapper-like graphs: no node drawn over another, the shape kept
(timings are in benchmarks/layout.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from scipy.spatial import cKDTree

from tdacnn.view import layout
from tdacnn.view.stress import spread_out, stress_layout


def mesh(n: int, seed: int = 0):
    """A Mapper-like graph: ``n`` nodes of a noisy annulus joined to their near neighbours (degree ~12)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = rng.uniform(0.6, 1.0, n)
    xy = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    pairs = cKDTree(xy).query_pairs(r=3.2 / np.sqrt(n))
    ids = [f"n{i}" for i in range(n)]
    return ids, [(ids[a], ids[b]) for a, b in sorted(pairs)]


def test_a_big_graph_has_no_node_over_another():
    ids, edges = mesh(400)
    pos = layout.fresh_layout(ids, edges)
    xy = np.array([pos[i] for i in ids])
    assert np.all(np.isfinite(xy))
    assert not cKDTree(xy).query_pairs(layout.MIN_DISTANCE * 0.999)  # the biggest node is 70 px < 72 px
    # neighbours stay about an edge apart: the picture is still the graph's
    index = {n: i for i, n in enumerate(ids)}
    lengths = [np.linalg.norm(xy[index[a]] - xy[index[b]]) for a, b in edges]
    assert np.median(lengths) < 2 * layout.EDGE_LENGTH


def test_the_annulus_keeps_its_hole():
    ids, edges = mesh(400)
    pos = layout.fresh_layout(ids, edges)
    comps = layout._components(ids, edges)
    main = [ids[i] for i in comps[0]]
    xy = np.array([pos[i] for i in main])
    centre = xy.mean(axis=0)
    r = np.linalg.norm(xy - centre, axis=1)
    assert np.percentile(r, 5) > 0.3 * np.percentile(r, 95)  # nothing drawn in the middle of the ring


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 60), st.floats(0.1, 3.0), st.integers(0, 10_000))
def test_spread_out_separates_crowds_and_leaves_the_rest(n, spread, seed):
    rng = np.random.default_rng(seed)
    crowd = rng.normal(scale=spread, size=(n, 2))
    far = np.array([[1000.0, 1000.0], [-1000.0, 1000.0]])  # alone: must not move
    out = spread_out(np.vstack([crowd, far]), min_dist=10.0)
    assert not cKDTree(out).query_pairs(10.0 * 0.999)
    assert np.allclose(out[-2:], far)


def test_spread_out_separates_points_on_one_spot():
    out = spread_out(np.zeros((5, 2)), min_dist=1.0)
    d = np.linalg.norm(out[:, None] - out[None], axis=2) + np.eye(5) * 9
    assert d.min() >= 0.999


def test_stress_layout_stops_early_near_the_converged_answer():
    ids, edges = mesh(150, seed=3)
    comps = layout._components(ids, edges)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    comp = comps[0]
    local = {ids[g]: i for i, g in enumerate(comp)}
    pairs = [(local[a], local[b]) for a, b in edges if a in local and b in local]
    r, c = zip(*pairs)
    dist = shortest_path(coo_matrix((np.ones(len(r)), (r, c)), shape=(len(comp),) * 2).tocsr(), directed=False,
                         unweighted=True)

    def stress(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        off = dist > 0
        return float((((d - dist) / np.where(off, dist, 1)) ** 2)[off].sum())

    early = stress(stress_layout(dist))
    full = stress(stress_layout(dist, iterations=300, tol=0.0))
    assert early <= 1.03 * full  # stopped when no node moves 2 px an iteration: within a few % of the end


class _CountingEdges(list):
    """An edge list that counts how often it is read through."""

    reads = 0

    def __iter__(self):
        type(self).reads += 1
        return super().__iter__()


def test_many_components_read_the_edges_a_few_times_not_once_per_component():
    # a tiny distance cut on 10,000 points gave 10,000 components and 12,000 edges: reading every
    # edge once per component took minutes before the graph reached the page
    ids = [f"n{i}" for i in range(600)]
    edges = _CountingEdges((ids[i], ids[i + 1]) for i in range(0, 600, 3))  # 200 pairs, 400 singletons
    _CountingEdges.reads = 0
    pos = layout.fresh_layout(ids, edges)
    reads = _CountingEdges.reads
    assert len(layout._components(ids, list(edges))) == 400
    assert reads <= 3, f"the edge list was read {reads} times for 400 components"
    xy = np.array([pos[i] for i in ids])
    assert not cKDTree(xy).query_pairs(layout.MIN_DISTANCE * 0.999)
    index = {n: i for i, n in enumerate(ids)}
    assert all(np.linalg.norm(xy[index[a]] - xy[index[b]]) < 2 * layout.EDGE_LENGTH for a, b in edges)
