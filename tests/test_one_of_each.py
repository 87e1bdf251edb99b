"""One of each: one connected-components routine (pinned to networkx), one layout for the app and the report."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tdacnn.topology.graph import component_lists, components


@pytest.mark.parametrize("seed", range(20))
def test_components_from_pairs_and_from_a_dense_adjacency_agree_with_networkx(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    pairs = rng.integers(0, n, size=(int(rng.integers(0, 2 * n)), 2))
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, pairs))
    expected = sorted(sorted(c) for c in nx.connected_components(g))
    adj = np.zeros((n, n), dtype=bool)
    adj[pairs[:, 0], pairs[:, 1]] = adj[pairs[:, 1], pairs[:, 0]] = True
    for labels in (components(n, pairs), components(n, adjacency=adj)):
        got = sorted(sorted(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels))
        assert got == expected
        firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(labels.max() + 1)]
        assert firsts == sorted(firsts)  # numbered in order of each component's smallest node
    lists = component_lists([f"n{i}" for i in range(n)], [(f"n{a}", f"n{b}") for a, b in pairs])
    assert [len(c) for c in lists] == sorted((len(c) for c in expected), reverse=True)


def test_the_report_draws_a_graph_where_the_app_does():
    from tdacnn.analysis import Analysis
    from tdacnn.config import DEFAULT_RUN
    from tdacnn.topology.params import CloudParams
    from tdacnn.view.layout import fresh_layout
    from tdacnn.view.static import graph_positions
    from tdacnn.weights import WeightSet

    a = Analysis()
    cloud = a.cloud(WeightSet.load(DEFAULT_RUN), CloudParams(1))
    density, mapper = a.suggest(cloud)
    graph = a.graph(a.dense(cloud, density), mapper)
    app = fresh_layout([n.id for n in graph.nodes], [(e.source, e.target) for e in graph.edges])
    report = graph_positions(graph)
    assert report.keys() == app.keys() and len(app) > 10
    assert all(report[k] == (x, -y) for k, (x, y) in app.items())  # the same picture, matplotlib's y up
