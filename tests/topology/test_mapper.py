"""Mapper: synthetic truth, the KeplerMapper cross-check, invariants, parameter validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdacnn.errors import UserError
from tdacnn.topology.graph import MapperGraph
from tdacnn.topology.mapper import (build_graph, cluster_labels, compute_lens, cover_elements,
                                    graph_summary, mapper_graph)
from tdacnn.topology.params import MapperParams
from topology._synth import blob, circle, filter_circle, two_circles

SINGLE = dict(clusterer="single", distance_cut=0.3)


def _graph(x, **kw):
    return mapper_graph(x, None, MapperParams(**kw), kernel_shape=(1, x.shape[1]))


def test_circle_with_1d_lens_is_a_cycle():
    s = graph_summary(_graph(circle(600), lens="pca1", n_cubes=8, overlap=0.3, **SINGLE))
    assert s["components"] == 1 and s["cycle_rank"] == 1 and s["betti1"] == 1


def test_circle_with_2d_lens_has_betti1_one_though_cycle_rank_overcounts():
    g = _graph(circle(800), lens="pca2", n_cubes=8, overlap=0.3, **SINGLE)
    s = graph_summary(g)
    assert s["betti1"] == 1 and s["components"] == 1
    assert s["cycle_rank"] > 1 and len(g.triangles) > 0


def test_two_circles_and_a_blob():
    assert graph_summary(_graph(two_circles(1200), lens="pca2", n_cubes=10, overlap=0.3, **SINGLE))["betti1"] == 2
    s = graph_summary(_graph(blob(800), lens="pca2", n_cubes=6, overlap=0.3, clusterer="single", distance_cut=0.2))
    assert s["betti1"] == 0 and s["components"] == 1


def _unit_filter_circle(n):
    x = filter_circle(n).reshape(n, 9)
    x = x - x.mean(1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n_cubes, overlap", [(4, 0.3), (8, 0.3), (8, 0.5), (12, 0.4)])
def test_angle_lens_on_filter_circle_is_a_cycle(n_cubes, overlap):
    x = _unit_filter_circle(500)
    params = MapperParams(lens="angle", n_cubes=n_cubes, overlap=overlap, clusterer="single", distance_cut=0.4)
    g = mapper_graph(x, None, params, (3, 3))
    s = graph_summary(g)
    assert s["components"] == 1 and s["betti1"] == 1
    assert g.meta["cover_period"] == pytest.approx(2 * np.pi)
    # the loop closes through the wrap edge: an arc round angle 0 shares points with one round 2π
    cube = {nd.id: int(nd.id.split("_")[0][1:]) for nd in g.nodes}
    assert {(0, n_cubes - 1)} <= {tuple(sorted((cube[e.source], cube[e.target]))) for e in g.edges}
    # with KeplerMapper's interval cover (no wrap) the same lens cuts the circle open into a path
    lens = compute_lens(x, None, "angle", (3, 3))
    clusters = [(f"c{ci}_k{lab}", idx[labels == lab])
                for ci, idx in cover_elements(lens, n_cubes, overlap)
                for labels in [cluster_labels(x[idx], params)] for lab in range(labels.max() + 1)]
    s_path = graph_summary(build_graph(clusters, x, None, (3, 3)))
    assert s_path["components"] == 1 and s_path["betti1"] == 0


def test_angle_lens_needs_3x3_filters():
    with pytest.raises(UserError, match="angle lens is defined for 3x3 filters only"):
        mapper_graph(np.random.default_rng(0).normal(size=(30, 4)), None, MapperParams(lens="angle"), (2, 2))


def _circular_reference(v, n_cubes, overlap, period):
    """Brute force: arc i is centred on (i + 1/2) period / n with half-width period / (2 n (1 - overlap))."""
    centres = (np.arange(n_cubes) + 0.5) * period / n_cubes
    r = period / (2 * n_cubes * (1 - overlap))
    out = []
    for i, c in enumerate(centres):
        d = np.abs(np.mod(v, period) - c)
        idx = np.flatnonzero(np.minimum(d, period - d) <= r)
        if len(idx):
            out.append((i, idx.tolist()))
    return out


def test_periodic_cover_wraps_round_the_circle():
    period = 2 * np.pi
    v = np.array([0.01, period - 0.01, np.pi, 1.0, 5.0]).reshape(-1, 1)
    cover = dict(cover_elements(v, 6, 0.3, period=period))
    first, last = set(cover[0].tolist()), set(cover[5].tolist())
    assert {0, 1} <= first and {0, 1} <= last  # both ends of [0, 2π) are in the first and the last arc
    # the interval cover of the same values puts them at opposite ends, never together
    assert not any({0, 1} <= set(idx.tolist()) for _, idx in cover_elements(v, 6, 0.3))
    # one arc covers the whole circle
    assert [(i, idx.tolist()) for i, idx in cover_elements(v, 1, 0.3, period=period)] == [(0, [0, 1, 2, 3, 4])]
    with pytest.raises(UserError, match="period of a periodic lens must be a positive number"):
        cover_elements(v, 4, 0.3, period=0.0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), n_cubes=st.integers(1, 12), overlap=st.floats(0.05, 0.9),
       seed=st.integers(0, 10**6), turns=st.integers(-2, 2))
def test_periodic_cover_invariants(n, n_cubes, overlap, seed, turns):
    period = 2 * np.pi
    v = np.random.default_rng(seed).uniform(0, period, n)
    cover = [(i, idx.tolist()) for i, idx in cover_elements(v[:, None], n_cubes, overlap, period=period)]
    assert cover == _circular_reference(v, n_cubes, overlap, period)
    assert set().union(*(set(idx) for _, idx in cover)) == set(range(n))  # every point in some arc
    # an angle and the same angle a whole turn further are in the same arcs
    shifted = [(i, idx.tolist()) for i, idx in cover_elements((v + turns * period)[:, None], n_cubes, overlap,
                                                                   period=period)]
    assert shifted == cover or turns != 0 and _near_an_arc_end(v, n_cubes, overlap, period)


def _near_an_arc_end(v, n_cubes, overlap, period, tol=1e-9):
    """Shifting by whole turns moves values by float rounding: allow differences only at arc ends."""
    centres = (np.arange(n_cubes) + 0.5) * period / n_cubes
    r = period / (2 * n_cubes * (1 - overlap))
    d = np.abs(np.mod(v[:, None] - centres + period / 2, period) - period / 2)
    return bool(np.any(np.abs(d - r) < tol))


def _by_members(g):
    """Nodes as member tuples, edges as (members, members, overlap): comparable across engines."""
    mem = {n.id: tuple(n.members.tolist()) for n in g.nodes}
    edges = {tuple(sorted((mem[e.source], mem[e.target]))) + (e.overlap,) for e in g.edges}
    return set(mem.values()), edges


@pytest.mark.parametrize("lens", ["pca1", "pca2", "codensity"])
@pytest.mark.parametrize("clusterer", ["single", "dbscan"])
def test_same_nodes_and_edges_as_kmapper(lens, clusterer):
    x = np.vstack([two_circles(500, seed=3), blob(100, seed=4) * 0.5 + [8, 0]])
    cod = np.linalg.norm(x - x.mean(0), axis=1)
    p = MapperParams(lens=lens, n_cubes=7, overlap=0.35, clusterer=clusterer, eps=0.25, min_samples=4,
                     distance_cut=0.25)
    fast_nodes, fast_edges = _by_members(mapper_graph(x, cod, p, (1, 2)))
    ref_nodes, ref_edges = _by_members(mapper_graph(x, cod, p, (1, 2), engine="kmapper"))
    assert len(ref_nodes) >= 5
    # the one documented difference: kmapper skips a cube holding a single point,
    # which here becomes a one-point single-linkage node
    extra = fast_nodes - ref_nodes
    assert ref_nodes <= fast_nodes and all(len(m) == 1 for m in extra)
    if clusterer == "dbscan":
        assert not extra
    assert {e for e in fast_edges if e[0] not in extra and e[1] not in extra} == ref_edges


def test_dbscan_labels_match_sklearn():
    from sklearn.cluster import DBSCAN

    noise = np.random.default_rng(7).uniform(-4, 4, (40, 2))
    x = np.vstack([circle(200, seed=5), blob(80, seed=6) * 0.3 + [3, 3], noise])
    for eps, ms in [(0.2, 3), (0.35, 6), (0.1, 2)]:
        ours = cluster_labels(x, MapperParams(clusterer="dbscan", eps=eps, min_samples=ms))
        ref = DBSCAN(eps=eps, min_samples=ms).fit_predict(x)
        np.testing.assert_array_equal(ours, ref)


def test_cover_matches_kmapper_cover():
    import kmapper as km

    lens = np.random.default_rng(2).normal(size=(300, 2))
    ours = {tuple(idx.tolist()) for _, idx in cover_elements(lens, 5, 0.4)}
    cov = km.Cover(n_cubes=5, perc_overlap=0.4)
    cubes = cov.fit_transform(np.c_[np.arange(300), lens])
    assert ours == {tuple(c[:, 0].astype(int).tolist()) for c in cubes}


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 80), dim=st.integers(2, 9), seed=st.integers(0, 10**6),
       lens=st.sampled_from(["pca1", "pca2", "codensity"]), n_cubes=st.integers(1, 8),
       overlap=st.floats(0.05, 0.7), cut=st.floats(0.05, 2.0), clusterer=st.sampled_from(["single", "dbscan"]))
def test_invariants(n, dim, seed, lens, n_cubes, overlap, cut, clusterer):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    cod = rng.uniform(size=n)
    p = MapperParams(lens=lens, n_cubes=n_cubes, overlap=overlap, clusterer=clusterer, eps=cut,
                     min_samples=2, distance_cut=cut)
    g = mapper_graph(x, cod, p, (1, dim))
    covered = set()
    for node in g.nodes:
        assert node.size > 0  # every node non-empty
        np.testing.assert_allclose(node.mean_filter.ravel(), x[node.members].mean(axis=0))
        assert node.mean_codensity == pytest.approx(cod[node.members].mean())
        covered.update(node.members.tolist())
    if clusterer == "single":
        assert covered == set(range(n))  # every kept point lies in some node
    members = {nd.id: set(nd.members.tolist()) for nd in g.nodes}
    for e in g.edges:
        assert e.overlap == len(members[e.source] & members[e.target]) > 0
    for a, b, c in g.triangles:
        assert members[a] & members[b] & members[c]
    s = graph_summary(g)
    assert 0 <= s["betti1"] <= s["cycle_rank"]
    assert MapperGraph.from_dict(g.to_dict()).to_dict() == g.to_dict()


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_cubes=0), r"n_cubes \(number of intervals\) must be an integer from 1 to 200; got 0"),
    (dict(overlap=1.0), r"overlap must be a fraction in \(0, 1\); got 1.0"),
    (dict(overlap=0), r"overlap must be a fraction in \(0, 1\)"),
    (dict(lens="tsne"), "lens must be one of pca1, pca2, codensity, angle"),
    (dict(clusterer="kmeans"), "clusterer must be one of dbscan, single"),
    (dict(eps=-1.0), "eps must be a positive number"),
])
def test_parameter_validation(kwargs, message):
    with pytest.raises(UserError, match=message):
        MapperParams(**kwargs)


def test_empty_cloud():
    with pytest.raises(UserError, match="the point cloud is empty"):
        mapper_graph(np.zeros((0, 9)), None, MapperParams())
