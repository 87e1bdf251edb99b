"""Plugged-in lenses and clusterers: scikit-learn estimators and functions in the Mapper construction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering
from sklearn.decomposition import PCA

from tdacnn.analysis import Analysis
from tdacnn.config import DEFAULT_RUN
from tdacnn.errors import UserError
from tdacnn.topology.estimators import estimator_key
from tdacnn.topology.params import CloudParams, DensityParams, MapperParams
from tdacnn.weights import WeightSet


@pytest.fixture(scope="module")
def dense():
    a = Analysis()
    cloud = a.cloud(WeightSet.load(DEFAULT_RUN), CloudParams(1))
    return a.dense(cloud, DensityParams(k=20, p=50))


def _nodes(graph) -> set[tuple[int, ...]]:
    return {tuple(n.members.tolist()) for n in graph.nodes}


def test_scikit_learns_single_linkage_plugged_in_gives_the_built_in_graph(dense):
    params = MapperParams(lens="pca2", n_cubes=6, overlap=0.5, clusterer="single", distance_cut=0.4)
    ours = Analysis().graph(dense, params)
    theirs = Analysis().graph(dense, params, clusterer=AgglomerativeClustering(
        n_clusters=None, distance_threshold=0.4, linkage="single"))
    assert _nodes(theirs) == _nodes(ours) and len(ours.nodes) > 10
    assert theirs.meta["params"]["clusterer"].startswith("sklearn.cluster")


def test_dbscan_and_a_pca_lens_plugged_in_give_the_built_in_graph(dense):
    params = MapperParams(lens="pca2", n_cubes=5, overlap=0.4, clusterer="dbscan", eps=0.3, min_samples=3)
    ours = Analysis().graph(dense, params)
    # scikit-learn's PCA may flip a component's sign: the cover is symmetric, the nodes are the same
    theirs = Analysis().graph(dense, params, lens=PCA(n_components=2), clusterer=DBSCAN(eps=0.3, min_samples=3))
    assert _nodes(theirs) == _nodes(ours) and len(ours.nodes) > 5


CALLS: list[int] = []


def first_two(points):
    CALLS.append(len(points))
    return points[:, :2]


def test_a_clusterer_tdacnn_does_not_have_and_a_function_lens(dense):
    calls = CALLS
    calls.clear()
    a = Analysis()
    params = MapperParams(n_cubes=4, overlap=0.5)
    g = a.graph(dense, params, lens=first_two, clusterer=HDBSCAN(min_cluster_size=5, copy=True))
    assert len(g.nodes) >= 4
    members = np.concatenate([n.members for n in g.nodes])
    assert len(np.unique(members)) < len(dense)  # HDBSCAN's noise is in no node
    a.graph(dense, params, lens=first_two, clusterer=HDBSCAN(min_cluster_size=5, copy=True))
    assert len(calls) == 1  # the same function and estimator: cached
    g2 = a.graph(dense, params, lens=first_two, clusterer=HDBSCAN(min_cluster_size=9, copy=True))
    assert _nodes(g2) != _nodes(g)  # other parameters: another graph, not the cached one


def test_a_function_closing_over_a_value_is_never_cached(dense):
    scale = [1.0]

    def scaled(points):
        return points[:, :1] * scale[0]

    assert estimator_key(scaled) is None
    a = Analysis()
    params = MapperParams(n_cubes=4, overlap=0.5)
    a.graph(dense, params, lens=scaled)
    scale[0] = -1.0
    a.graph(dense, params, lens=scaled)  # computed again (no stale result), no error


def test_keys_follow_the_parameters():
    assert estimator_key(DBSCAN(eps=0.3)) != estimator_key(DBSCAN(eps=0.4))
    first, second = DBSCAN(eps=0.3), DBSCAN(eps=0.3)
    key = estimator_key(first)
    assert key is not None and first is not second and estimator_key(second) == key
    # a cache key: the same in another process (no object ids, no hash seeds)
    import subprocess
    import sys

    code = ("from sklearn.cluster import DBSCAN\nfrom tdacnn.topology.estimators import estimator_key\n"
            "print(estimator_key(DBSCAN(eps=0.3)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert other.stdout.strip() == key


def test_bad_estimators_are_one_sentence(dense):
    a = Analysis()
    params = MapperParams(n_cubes=4)
    with pytest.raises(UserError, match="fit_predict"):
        a.graph(dense, params, clusterer=PCA())
    with pytest.raises(UserError, match="fit_transform"):
        a.graph(dense, params, lens=42)
    with pytest.raises(UserError, match="one value .* per point"):
        a.graph(dense, params, lens=lambda p: p[:3])
    with pytest.raises(UserError, match="not finite"):
        a.graph(dense, params, lens=lambda p: np.full(len(p), np.nan))
    with pytest.raises(UserError, match="at most 3"):
        a.graph(dense, params, lens=lambda p: p[:, :4])

    class Broken:
        def fit_predict(self, x):
            raise RuntimeError("no")

    with pytest.raises(UserError, match="Broken failed on a cover element"):
        a.graph(dense, params, clusterer=Broken())
