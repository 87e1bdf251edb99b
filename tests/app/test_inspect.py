"""Inspecting a Mapper graph: colour modes, tooltips, selection summaries, find, the URL's ``sel``,
and the callbacks that use them (called as plain functions, no browser)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from dash import no_update

from tdacnn.analysis import Analysis
from tdacnn.app import dynamics, gallery, inspect, services
from tdacnn.app.controls import parse_request
from tdacnn.topology.graph import MapperEdge, MapperGraph, MapperNode
from tdacnn.topology.orientation import orientation
from tdacnn.topology.params import CloudParams, DensityParams, MapperParams
from tdacnn.view import cytoscape, node_info, selection
from tdacnn.view.node_info import PointInfo


def gradient(theta: float) -> np.ndarray:
    y, x = np.mgrid[-1:2, -1:2]
    f = np.cos(theta) * x + np.sin(theta) * y
    return f / np.linalg.norm(f)


def two_network_graph():
    """3 nodes over 9 points: points 0-3 from network 0, 4-8 from network 1; node b is mixed."""
    nodes = (MapperNode("a", np.array([0, 1, 2]), 0.1, gradient(0.0)),
             MapperNode("b", np.array([2, 3, 4, 5]), 0.2, gradient(math.pi / 2)),
             MapperNode("c", np.array([5, 6, 7, 8]), 0.3, gradient(math.pi)))
    graph = MapperGraph(nodes, (MapperEdge("a", "b", 1), MapperEdge("b", "c", 1)))
    prov = {"network": np.array([0, 0, 0, 0, 1, 1, 1, 1, 1]), "layer": np.ones(9, int),
            "iteration": np.full(9, 500), "out_channel": np.array([0, 1, 2, 3, 0, 1, 2, 3, 4]),
            "in_channel": np.zeros(9, int)}
    lens = np.arange(9, dtype=float).reshape(9, 1)
    return graph, PointInfo(prov, lens, "PCA 1")


# ---- colour modes ---------------------------------------------------------------------
def test_node_values_per_mode():
    graph, points = two_network_graph()
    nv = node_info.node_values(graph, points)
    assert set(nv.values) == {"density", "size", "angle", "lens", "network"}  # one iteration, one input channel
    want = orientation(np.stack([n.mean_filter.ravel() for n in graph.nodes]))[0]  # the repo's angle convention
    np.testing.assert_allclose(nv.values["angle"], want, atol=1e-9)
    assert len(np.unique(np.round(want, 6))) == 3
    np.testing.assert_allclose(nv.values["lens"], [1.0, 3.5, 6.5])  # mean lens value of the members
    assert nv.values["network"].tolist() == [0, 0, 1]  # b: 2 of network 0, 2 of network 1 -> the smaller
    assert nv.spread["network"].tolist() == [1, 2, 1] and nv.majority_count["network"].tolist() == [3, 2, 4]
    assert [d.tolist() for d in nv.distinct["out_channel"]] == [[0, 1, 2], [0, 1, 2, 3], [1, 2, 3, 4]]
    # without per-point data: only what the graph knows
    assert set(node_info.node_values(graph).values) == {"density", "size", "angle"}


def test_periodic_lens_takes_the_circular_mean():
    graph, points = two_network_graph()
    lens = np.array([0.1, 0.2, 2 * math.pi - 0.1, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]).reshape(9, 1)
    nv = node_info.node_values(graph, PointInfo(points.provenance, lens, "circle angle", 2 * math.pi))
    assert nv.lens_cyclic
    assert abs(nv.values["lens"][0] - 0.2 / 3) < 1e-3  # about 0.067, not the arithmetic mean (2.13)


def test_colorings_cyclic_angles_and_categories():
    graph, points = two_network_graph()
    modes = node_info.colorings(node_info.node_values(graph, points))
    colors, leg = modes["angle"]
    assert leg.cyclic and (leg.low, leg.high) == (0.0, 360.0) and len(set(colors)) == 3
    assert leg.colors[0] == leg.colors[-1]  # the wheel closes
    colors, leg = modes["network"]
    assert colors[0] == colors[1] != colors[2] and [s[0] for s in leg.swatches] == ["0", "1"]
    colors, leg = modes["density"]
    assert colors[0] == leg.colors[0] and leg.low_label == "dense"
    colors, leg = modes["size"]
    assert colors[2] == leg.colors[0]  # the biggest node at the first colour


def test_unknown_values_are_gray():
    graph, points = two_network_graph()
    prov = dict(points.provenance, network=np.array([-1, -1, -1, 0, 1, 1, 1, 1, 1]))
    colors, _ = node_info.colorings(node_info.node_values(graph, PointInfo(prov)))["network"]
    assert colors[0] == node_info.UNKNOWN_COLOR and colors[1] != node_info.UNKNOWN_COLOR


def test_tooltips_say_size_codensity_orientation_and_provenance():
    graph, points = two_network_graph()
    tips = node_info.node_tooltips(graph, node_info.node_values(graph, points))
    assert tips[1].split("\n")[0] == "b: 4 filters · mean codensity 0.2"
    deg = math.degrees(orientation(graph.nodes[1].mean_filter.reshape(1, 9))[0][0])
    assert f"orientation {deg:.0f}°" in tips[1] and "PCA 1 3.5" in tips[1]
    assert "2 networks: 0, 1; most from 0 (×2)" in tips[1]
    assert "network 1" in tips[2] and "output channels 1–4" in tips[2] and "iteration" not in tips[2]


def test_elements_carry_every_mode_and_a_tooltip():
    graph, points = two_network_graph()
    els = cytoscape.graph_elements(graph, points=points)
    data = [e["data"] for e in els if "position" in e]
    assert {k for k in data[0] if k.startswith("c_")} == {"c_density", "c_size", "c_angle", "c_lens", "c_network"}
    assert all(d["color"] == d["c_density"] for d in data) and data[0]["tip"].startswith("a: 3 filters")
    assert cytoscape.graph_elements(graph, color_by="network", points=points)[0]["data"]["color"] == \
        data[0]["c_network"]
    with pytest.raises(ValueError, match="color_by must be one of"):
        cytoscape.graph_elements(graph, color_by="network")  # no provenance given
    small = cytoscape.graph_elements(graph, all_modes=False)[0]["data"]
    assert "tip" not in small and not any(k.startswith("c_") for k in small)


def test_stylesheet_colours_the_border_by_mode():
    node = next(r for r in cytoscape.stylesheet(color_by="angle") if r["selector"] == "node")
    assert node["style"]["border-color"] == "data(c_angle)"
    selected = next(r for r in cytoscape.stylesheet() if r["selector"] == "node:selected")
    assert "border-color" not in selected["style"]  # a halo: the border keeps the node's colour


def test_legend_children_one_per_mode():
    graph, points = two_network_graph()
    kids = inspect.legend_children(graph, points)
    modes = [k.to_plotly_json()["props"].get("data-mode") for k in kids[:-1]]
    assert modes == ["density", "size", "angle", "lens", "network"]


# ---- selection ------------------------------------------------------------------------
def test_summarize_counts_add_up_to_the_union():
    graph, points = two_network_graph()
    idx = np.unique(np.concatenate([graph.nodes[0].members, graph.nodes[1].members]))  # 0..5
    pts = np.stack([gradient(0.1 * i) for i in range(9)])
    prov = {k: v[idx] for k, v in points.provenance.items()}
    s = selection.summarize(pts[idx], prov, ["a", "b"], n_memberships=7)
    assert s.n_filters == 6 and s.n_memberships - s.n_filters == 1
    assert s.counts["network"] == [(0, 4), (1, 2)]
    assert all(sum(c for _, c in pairs) == 6 for pairs in s.counts.values())
    np.testing.assert_allclose(s.mean_filter, pts[idx].mean(axis=0))
    assert s.angles.shape == (6,)


def test_nodes_holding_a_network_or_a_filter():
    graph, points = two_network_graph()
    assert selection.nodes_holding(graph, points.provenance, {"network": 1}) == (["b", "c"], 5)
    assert selection.nodes_holding(graph, points.provenance, {"network": 1, "out_channel": 4}) == (["c"], 1)
    assert selection.nodes_holding(graph, points.provenance, {"network": 7}) == ([], 0)
    with pytest.raises(ValueError, match="unknown provenance field"):
        selection.nodes_holding(graph, points.provenance, {"colour": 1})
    assert selection.describe_search({"network": 1}, ["b", "c"], 5, 3) == "network 1: 5 filters kept, in 2 of 3 nodes"
    assert "no filter among the densest kept (it has 32" in selection.describe_search({"network": 7}, [], 0, 3, 32)


def test_parse_and_format_selection():
    assert selection.parse_selection("c3_k0, c1_k2,,c3_k0,<script>") == ["c3_k0", "c1_k2"]
    assert selection.parse_selection(None) == []
    assert selection.format_selection(["c3_k0", "c1_k2"]) == "c1_k2,c3_k0"


def test_node_ids_are_deterministic_for_the_same_parameters(synthetic_home):
    ws = services.load_source("run:synthetic")
    graphs = []
    for _ in range(2):
        a = Analysis()  # no shared cache: computed twice from scratch
        dense = a.dense(a.cloud(ws, CloudParams(layer=2)), DensityParams(k=30, p=50))
        graphs.append(a.graph(dense, MapperParams(lens="pca2", n_cubes=6, overlap=0.5)))
    first, second = ([(n.id, n.members.tolist()) for n in g.nodes] for g in graphs)
    assert first == second


# ---- callbacks ------------------------------------------------------------------------
def request_data(**over):
    return parse_request({"source": "run:synthetic", "layer": 1, "k": 30, "p": 50, **over}).to_dict()


def test_gallery_shows_a_multi_selection_as_one_set(synthetic_home):
    data = request_data()
    result = services.compute_graph(parse_request({"source": "run:synthetic", "layer": 1, "k": 30, "p": 50}))
    a, b = sorted(result.graph.nodes, key=lambda n: -n.size)[:2]
    union = np.union1d(a.members, b.members)
    div = gallery.show_gallery([{"id": a.id}, {"id": b.id}, {"id": a.id}], data)
    text = json.dumps(div.to_plotly_json(), default=str)
    assert f"2 nodes selected: {len(union)} filters" in text
    network_row = next(r for r in _walk(div) if r["props"].get("data-field") == "network")
    counts = [int(c["props"]["data-count"]) for c in _walk(network_row)
              if "count-chip" in str(c["props"].get("className"))]
    assert len(counts) >= 2 and sum(counts) == len(union)
    # one node: its own heading; a tap's dict works as well as a selection list
    one = json.dumps(gallery.show_gallery({"id": a.id}, data).to_plotly_json(), default=str)
    assert f"Node {a.id}: {a.size} filters" in one
    # an id of an older graph among current ones is left out
    div = gallery.show_gallery([{"id": a.id}, {"id": "c999_k9"}], data)
    assert f"Node {a.id}" in json.dumps(div.to_plotly_json(), default=str)


def _walk(tree):
    """Every component of a Dash tree, as its ``to_plotly_json()`` dict."""
    if hasattr(tree, "to_plotly_json"):
        tree = tree.to_plotly_json()
    if isinstance(tree, dict) and "props" in tree:
        yield tree
        for v in tree["props"].values():
            yield from _walk(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _walk(v)


def test_find_nodes_callback(synthetic_home):
    data = request_data()
    ids, text = inspect.find_nodes(3, None, None, data)
    result = services.compute_graph(parse_request({"source": "run:synthetic", "layer": 1, "k": 30, "p": 50}))
    want = [n.id for n in result.graph.nodes if (result.dense.cloud.provenance["network"][n.members] == 3).any()]
    assert ids == want and text.startswith("network 3: ") and f"in {len(want)} of " in text
    assert inspect.find_nodes(None, None, None, data) == (None, "")
    ids, text = inspect.find_nodes(3, None, None, {"error": "k (neighbours): enter a number"})
    assert ids is None and text == "k (neighbours): enter a number"


def test_point_info_has_provenance_and_lens(synthetic_home):
    result = services.compute_graph(parse_request({"source": "run:synthetic", "layer": 1, "lens": "angle"}))
    pts = inspect.point_info(result)
    assert len(pts.lens) == len(result.dense.cloud) and pts.lens_period == pytest.approx(2 * math.pi)
    assert set(pts.provenance) >= {"network", "out_channel"}


def test_pending_selection_from_the_url():
    assert inspect.pending_selection("?source=default&sel=c1_k0,c2_k1") == ["c1_k0", "c2_k1"]
    assert inspect.pending_selection("?sel=c1_k0%2Cc2_k1") == ["c1_k0", "c2_k1"]
    assert inspect.pending_selection("?k=3") is None and inspect.pending_selection(None) is None
    assert inspect.url_color("?color=angle&k=3") == "angle"
    assert inspect.url_color("?color=rainbow") == "density" and inspect.url_color(None) is no_update
    assert inspect.url_color("?k=3") is no_update


def test_cells_know_their_layer_and_iteration(synthetic_home):
    rows = dynamics.dynamics_cells(parse_request({"source": "run:synthetic", "k": 30}))
    assert [(c.layer, c.iteration) for c in rows[1]] == [(2, 0), (2, 100), (2, 500)]
