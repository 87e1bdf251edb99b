"""View layer: thumbnails, Cytoscape elements, stable positions, figures."""

from __future__ import annotations

import numpy as np
import pytest

from tdacnn.topology.barcode import Barcode
from tdacnn.topology.graph import MapperEdge, MapperGraph, MapperNode
from tdacnn.view import cytoscape, figures, layout, thumbnails
from tdacnn.view.multiples import make_cell


def gradient(theta: float) -> np.ndarray:
    """A 3x3 linear gradient at angle theta (an edge detector on the primary circle)."""
    y, x = np.mgrid[-1:2, -1:2]
    f = np.cos(theta) * x + np.sin(theta) * y
    return f / np.linalg.norm(f)


def ring_graph(n: int = 12, members_per: int = 10, shift: int = 0) -> MapperGraph:
    """A cycle of n nodes; node i holds points [i*m, (i+1)*m + 2) (overlapping neighbours), mod n*m."""
    total = n * members_per
    nodes = []
    for i in range(n):
        idx = np.arange(i * members_per + shift, (i + 1) * members_per + 2 + shift) % total
        nodes.append(MapperNode(f"n{i}", np.unique(idx), 0.1 + 0.05 * i, gradient(2 * np.pi * i / n)))
    edges = tuple(MapperEdge(f"n{i}", f"n{(i + 1) % n}", 2) for i in range(n))
    return MapperGraph(tuple(nodes), edges)


# ---- thumbnails -------------------------------------------------------------
def test_thumbnail_is_png_of_requested_size_and_not_blank():
    uri = thumbnails.filter_data_uri(gradient(0.3), size=48)
    assert uri.startswith("data:image/png;base64,")
    px = thumbnails.decode_data_uri(uri)
    assert px.shape == (48, 48)
    assert px.max() - px.min() > 100  # a gradient spans dark to light


def test_thumbnail_symmetric_scale_distinguishes_a_filter_from_its_negative():
    f = gradient(1.0)
    a = thumbnails.decode_data_uri(thumbnails.filter_data_uri(f, size=30)).astype(int)
    b = thumbnails.decode_data_uri(thumbnails.filter_data_uri(-f, size=30)).astype(int)
    assert not np.array_equal(a, b)
    assert np.all(np.abs(a + b - 255) <= 1)  # the negative is the gray inverse
    assert thumbnails.filter_to_gray(np.zeros((3, 3)))[1, 1] == 128


def test_thumbnail_cache_returns_same_uri():
    f = gradient(2.0)
    assert thumbnails.filter_data_uri(f) is thumbnails.filter_data_uri(f.copy())


def test_thumbnail_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        thumbnails.filter_to_gray(np.zeros(9))


# ---- elements ---------------------------------------------------------------
def test_elements_have_positions_thumbs_sizes_and_colors():
    g = ring_graph()
    els = cytoscape.graph_elements(g)
    nodes = [e for e in els if "source" not in e["data"]]
    edges = [e for e in els if "source" in e["data"]]
    assert len(nodes) == 12 and len(edges) == 12
    for e in nodes:
        assert e["data"]["thumb"].startswith("data:image/png;base64,")
        assert {"x", "y"} <= set(e["position"])
        assert e["data"]["color"].startswith("rgb")
    # the densest node (smallest codensity, n0) gets the first colour of the scale
    leg = cytoscape.legend(g)
    assert nodes[0]["data"]["color"] == leg.colors[0]
    assert leg.low < leg.high and leg.low_label == "dense"


def test_node_size_grows_with_members():
    g = ring_graph()
    big = MapperNode("big", np.arange(200), 0.2, gradient(0))
    g2 = MapperGraph(g.nodes + (big,), g.edges + (MapperEdge("n0", "big", 3),))
    px = {e["data"]["id"]: e["data"]["px"] for e in cytoscape.graph_elements(g2) if "px" in e["data"]}
    assert px["big"] > px["n0"]


def test_fresh_layout_draws_a_cycle_as_a_circle():
    pos = layout.fresh_layout([f"n{i}" for i in range(16)], [(f"n{i}", f"n{(i + 1) % 16}") for i in range(16)])
    xy = np.array(list(pos.values()))
    r = np.linalg.norm(xy - xy.mean(axis=0), axis=1)
    assert r.std() / r.mean() < 0.05  # all nodes at the same distance from the centre


def test_components_do_not_overlap():
    ids = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    edges = [(f"a{i}", f"a{(i + 1) % 6}") for i in range(6)] + [(f"b{i}", f"b{(i + 1) % 6}") for i in range(6)]
    pos = layout.fresh_layout(ids, edges)
    a = np.array([pos[i] for i in ids[:6]])
    b = np.array([pos[i] for i in ids[6:]])
    assert a[:, 0].max() < b[:, 0].min() or b[:, 0].max() < a[:, 0].min() or \
        a[:, 1].max() < b[:, 1].min() or b[:, 1].max() < a[:, 1].min()


def test_positions_stable_when_graph_changes_slightly():
    g1 = ring_graph()
    els1 = cytoscape.graph_elements(g1)
    mem = cytoscape.memory_from_elements(els1, g1, space="cloud")
    # same points, nodes shifted by one point and one extra node: most nodes persist
    g2 = ring_graph(shift=1)
    extra = MapperNode("new", np.array([500, 501, 502]), 0.5, gradient(0.1))
    g2 = MapperGraph(g2.nodes + (extra,), g2.edges + (MapperEdge("n0", "new", 1),))
    els2 = cytoscape.graph_elements(g2, mem, space="cloud")
    p1 = {e["data"]["id"]: np.array([e["position"]["x"], e["position"]["y"]]) for e in els1 if "position" in e}
    p2 = {e["data"]["id"]: np.array([e["position"]["x"], e["position"]["y"]]) for e in els2 if "position" in e}
    moves = [np.linalg.norm(p1[i] - p2[i]) for i in p1]
    assert max(moves) < 0.2 * layout.EDGE_LENGTH
    assert "new" in p2 and all(np.isfinite(p2["new"]))
    # a fresh layout of the same changed graph would not keep them (the test can fail)
    fresh = {e["data"]["id"]: np.array([e["position"]["x"], e["position"]["y"]])
             for e in cytoscape.graph_elements(g2) if "position" in e}
    assert max(np.linalg.norm(p1[i] - fresh[i]) for i in p1) > max(moves)


def test_positions_carried_by_similarity_across_spaces():
    g1 = ring_graph()
    els1 = cytoscape.graph_elements(g1)
    mem = cytoscape.memory_from_elements(els1, g1, space="cloud-A")
    els2 = cytoscape.graph_elements(ring_graph(), mem, space="cloud-B")  # members not comparable
    p1 = {e["data"]["id"]: (e["position"]["x"], e["position"]["y"]) for e in els1 if "position" in e}
    p2 = {e["data"]["id"]: (e["position"]["x"], e["position"]["y"]) for e in els2 if "position" in e}
    assert all(np.hypot(p1[i][0] - p2[i][0], p1[i][1] - p2[i][1]) < 1.0 for i in p1)


def test_split_node_children_do_not_coincide():
    parent = MapperGraph((MapperNode("p", np.arange(20), 0.1, gradient(0)),), ())
    els = cytoscape.graph_elements(parent)
    mem = cytoscape.memory_from_elements(els, parent, space="s")
    kids = MapperGraph((MapperNode("a", np.arange(10), 0.1, gradient(0)),
                        MapperNode("b", np.arange(10, 20), 0.1, gradient(0))), ())
    pos = [e["position"] for e in cytoscape.graph_elements(kids, mem, space="s")]
    assert np.hypot(pos[0]["x"] - pos[1]["x"], pos[0]["y"] - pos[1]["y"]) > 10


def test_stylesheet_paints_thumbnails():
    node = next(s for s in cytoscape.stylesheet() if s["selector"] == "node")
    assert node["style"]["background-image"] == "data(thumb)"
    assert node["style"]["background-fit"] == "cover"


def test_empty_graph_gives_no_elements():
    assert cytoscape.graph_elements(MapperGraph((), ())) == []


# ---- figures ----------------------------------------------------------------
def circle_barcode(sig: int = 1) -> Barcode:
    h0 = np.array([[0, 0.1], [0, 0.2], [0, 0.3], [0, np.inf]])
    h1 = np.array([[0.3, 1.5], [0.4, 0.45], [0.5, 0.52]])
    return Barcode((h0, h1), 100, 50, (1, sig))


def test_barcode_title_counts_circles_and_highlights_significant():
    fig = figures.barcode_figure(circle_barcode(1))
    assert fig.layout.title.text == "1 circle"
    red = [t for t in fig.data if t.line and t.line.color == figures.SIGNIFICANT_COLOR]
    assert red, "significant bars are drawn in the highlight colour"
    h1_red = [t for t in red if t.name == "H1 significant"][0]
    xs = [x for x in h1_red.x if x is not None]
    assert xs == [0.3, 1.5]  # the longest H1 bar
    assert figures.barcode_figure(circle_barcode(2)).layout.title.text == "2 circles"
    assert figures.circles_title(0) == "no circle"


def test_diagram_and_orientation_figures():
    fig = figures.diagram_figure(circle_barcode())
    assert any(t.name == "H1 significant" for t in fig.data)
    angles = np.r_[np.zeros(30), np.full(10, np.pi / 2), np.linspace(0, 2 * np.pi, 20, endpoint=False)]
    h = figures.orientation_figure(angles, bins=36)
    assert sum(h.data[0].y) == len(angles)
    assert h.data[0].y[0] >= 30


def test_small_multiple_cell_caption():
    cell = make_cell("layer 1 · iteration 10", ring_graph(), circle_barcode(1))
    assert cell.h1 == 1 and "1 significant bar" in cell.caption
    assert len([e for e in cell.elements if "position" in e]) == 12


def test_fresh_layout_accepts_duplicate_and_reversed_edges():
    pos = layout.fresh_layout(["a", "b", "c"], [("a", "b"), ("a", "b"), ("b", "a"), ("b", "c")])
    assert set(pos) == {"a", "b", "c"}
    assert np.hypot(pos["a"][0] - pos["b"][0], pos["a"][1] - pos["b"][1]) > 10


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 14), st.integers(0, 14)), max_size=40), st.integers(1, 15))
def test_every_node_gets_a_finite_distinct_position(edges, n):
    ids = [f"n{i}" for i in range(n)]
    pairs = [(f"n{a}", f"n{b}") for a, b in edges if a < n and b < n and a != b]
    pos = layout.fresh_layout(ids, pairs)
    xy = np.array([pos[i] for i in ids])
    assert xy.shape == (n, 2) and np.all(np.isfinite(xy))
    if n > 1:
        d = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(n) * 1e9
        assert d.min() > 1.0  # no two nodes on the same spot


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=12), min_size=1, max_size=8),
       st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=12), min_size=1, max_size=8))
def test_carried_positions_lie_in_the_hull_of_old_ones(old, new):
    old_m = {f"o{i}": np.unique(m) for i, m in enumerate(old)}
    old_p = {f"o{i}": (float(10 * i), float((i * 7) % 5)) for i in range(len(old))}
    new_m = {f"n{i}": np.unique(m) for i, m in enumerate(new)}
    carried = layout.carry_by_members(new_m, old_m, old_p)
    allx = [p[0] for p in old_p.values()]
    ally = [p[1] for p in old_p.values()]
    for nid, (x, y) in carried.items():
        assert min(allx) - 1e-9 <= x <= max(allx) + 1e-9 and min(ally) - 1e-9 <= y <= max(ally) + 1e-9
        shared = any(len(np.intersect1d(new_m[nid], m)) for m in old_m.values())
        assert shared
    # a node identical to an old node that shares points with no other keeps its exact place
    for nid, m in new_m.items():
        for oid, om in old_m.items():
            others = [o for o in old_m if o != oid and len(np.intersect1d(old_m[o], m))]
            if np.array_equal(m, om) and not others:
                assert np.allclose(carried[nid], old_p[oid])
