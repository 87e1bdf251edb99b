"""Callbacks called as plain functions, on a synthetic run (no browser)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from dash import no_update

from tdacnn.app import dynamics, explore, gallery, services
from tdacnn.app.controls import CONTROLS, DEFAULTS, ExploreRequest, from_query, parse_request, to_query
from tdacnn.errors import UserError


def values(**over):
    v = {**DEFAULTS, "source": "run:synthetic", **over}
    return [v[name] for name in CONTROLS]


def request_data(**over):
    data, query = explore.parse_controls(*values(**over))
    assert "error" not in data, data
    return data


# ---- parsing and the URL ---------------------------------------------------------
def test_parse_request_builds_stage_params():
    r = parse_request({"source": "run:x", "k": 20, "p": 50.0, "n_cubes": 7.0, "lens": "pca1"})
    assert (r.density.k, r.density.p, r.mapper.n_cubes, r.mapper.lens) == (20, 50.0, 7, "pca1")
    assert isinstance(r.mapper.n_cubes, int)


def test_empty_or_auto_values_are_left_to_the_data():
    r = parse_request({"source": "run:x", "distance_cut": None, "k": "auto", "p": "", "n_cubes": 7})
    assert {"distance_cut", "k", "p"} <= r.auto and "n_cubes" not in r.auto
    assert r.mapper.n_cubes == 7
    assert "k=" not in to_query(r) and "n_cubes=7" in to_query(r)


@pytest.mark.parametrize("over, match", [
    ({"eps": -1}, "eps must be a positive number"),
    ({"distance_cut": 0}, "distance_cut must be a positive number"),
    ({"k": "lots"}, "k .*: 'lots' is not a number"),
    ({"k": 2.5}, "k .* must be a whole number"),
    ({"overlap": 1.5}, "overlap must be a fraction"),
    ({"n_cubes": "many"}, "intervals: 'many' is not a number"),
    ({"channels": "bogus"}, "channels must be one of"),
])
def test_parse_request_explains_bad_values(over, match):
    with pytest.raises(UserError, match=match):
        parse_request({"source": "run:x", **over})


def test_query_round_trip():
    r = parse_request({"source": "run:x", "layer": 2, "k": 40, "overlap": 0.45, "clusterer": "dbscan"})
    q = to_query(r)
    assert q.startswith("?") and "k=40" in q and "&p=" not in q  # defaults are left out
    back = parse_request(from_query(q))
    assert back == r


def test_load_url_sets_only_given_controls():
    out = explore.load_url("?k=40&lens=pca1&bogus=1")
    by = dict(zip(CONTROLS, out))
    assert by["k"] == 40 and by["lens"] == "pca1"
    assert by["p"] is no_update and by["source"] is no_update
    *untouched, ready = explore.load_url("")
    assert all(v is no_update for v in untouched) and ready is True  # the page may ask for its first graph


def test_parse_controls_reports_errors_and_writes_query():
    data, query = explore.parse_controls(*values(eps=0))
    assert data == {"error": "eps must be a positive number; got 0.0"} and query is no_update
    data, query = explore.parse_controls(*values(k=45))
    assert data["density"]["k"] == 45 and "k=45" in query


# ---- selectors -------------------------------------------------------------------
def test_update_selectors_lists_layers_and_iterations(synthetic_home):
    layers, its, layer, it = explore.update_selectors("run:synthetic", None, None)
    assert [o["value"] for o in layers] == [1, 2]
    assert [o["value"] for o in its] == [0, 100, 500]
    assert (layer, it) == (1, 500)
    # valid values are kept (no_update), a missing iteration falls back to the last
    _, _, layer, it = explore.update_selectors("run:synthetic", 2, 100)
    assert layer is no_update and it is no_update
    _, _, _, it = explore.update_selectors("run:synthetic", 2, 999)
    assert it == 500
    assert explore.update_selectors("run:nothing", 1, 1) == ([], [], None, None)


def test_sources_listed(synthetic_home):
    assert any(o["value"] == "run:synthetic" for o in explore.refresh_sources("explore", None))


# ---- graph, barcode, orientation --------------------------------------------------
def test_update_graph_gives_elements_with_thumbs_and_summary(synthetic_home):
    els, legend, summary, status, memory = explore.update_graph(request_data(), None)
    assert status == ""
    nodes = [e for e in els if "position" in e]
    assert len(nodes) >= 3
    assert all(e["data"]["thumb"].startswith("data:image/png;base64,") for e in nodes)
    assert set(memory["positions"]) == {e["data"]["id"] for e in nodes}
    assert "node" in summary[0].children and "320 filters" in summary[1].children


def _positions(els):
    return {e["data"]["id"]: np.array([e["position"]["x"], e["position"]["y"]]) for e in els if "position" in e}


def _matches(g1, g2, min_jaccard=0.5):
    """(old id, new id) of each new node and the old node it mostly is (Jaccard of members)."""
    out = []
    for n in g2.nodes:
        best, score = None, 0.0
        for o in g1.nodes:
            shared = len(np.intersect1d(n.members, o.members))
            j = shared / (n.size + o.size - shared)
            if j > score:
                best, score = o.id, j
        if score >= min_jaccard:
            out.append((best, n.id))
    return out


def test_update_graph_keeps_positions_when_a_slider_moves(synthetic_home):
    from tdacnn.view.layout import EDGE_LENGTH

    d1, d2 = request_data(layer=2, n_cubes=10), request_data(layer=2, n_cubes=11)
    els1, *_, mem = explore.update_graph(d1, None)
    els2, *_ = explore.update_graph(d2, mem)
    fresh, *_ = explore.update_graph(d2, None)
    g1 = services.compute_graph(ExploreRequest.from_dict(d1)).graph
    g2 = services.compute_graph(ExploreRequest.from_dict(d2)).graph
    p1, p2, pf = _positions(els1), _positions(els2), _positions(fresh)
    pairs = _matches(g1, g2)
    assert len(pairs) >= len(g2.nodes) // 3, "many nodes persist across the slider move"
    moved = np.array([np.linalg.norm(p1[o] - p2[n]) for o, n in pairs])
    moved_fresh = np.array([np.linalg.norm(p1[o] - pf[n]) for o, n in pairs])
    assert np.median(moved) < 0.5 * EDGE_LENGTH  # nodes that persist stay about where they were
    assert np.median(moved) < 0.5 * np.median(moved_fresh)  # a fresh layout would move them much more


def test_update_graph_shows_data_errors(synthetic_home):
    out = explore.update_graph(request_data(k=300), None)  # layer 1 has 320 points: fine
    assert out[3] == ""
    out = explore.update_graph(request_data(layer=1, k=320), None)
    # the error clears the graph (no stale picture) and goes over it (memory["error"], shown by the page)
    assert out[0] == [] and out[1] == [] and out[2] == []
    assert "k = 320 must be smaller than the number of points (320)" in out[3] and out[4]["error"] == out[3]
    out = explore.update_graph({"error": "eps must be a positive number; got 0.0"}, None)
    assert out[3].startswith("eps must be")
    out = explore.update_graph(request_data(source="run:nothing"), None)
    assert "does not exist" in out[3] or "unknown source" in out[3]


def test_barcode_and_orientation(synthetic_home):
    fig = explore.update_barcode(request_data(layer=2), "barcode")
    assert "circle" in fig.layout.title.text
    dia = explore.update_barcode(request_data(layer=2), "diagram")
    assert any((t.name or "").startswith("H1") for t in dia.data)
    hist = explore.update_orientation(request_data())
    assert sum(hist.data[0].y) == 160  # the default p = 50 % of 320 filters
    blank = explore.update_barcode({"error": "x"}, "barcode")
    assert not blank.data and blank.layout.annotations[0].text == "no barcode: x"


# ---- gallery and exports ------------------------------------------------------------
def test_gallery_shows_members_with_provenance(synthetic_home):
    data = request_data()
    els, *_ = explore.update_graph(data, None)
    node = max((e["data"] for e in els if "position" in e), key=lambda d: d["size"])
    div = gallery.show_gallery(node, data)
    text = json.dumps(div.to_plotly_json(), default=str)
    assert f"Node {node['id']}: {node['size']} filters" in text
    assert "from " in text and "network" in text
    assert text.count("data:image/png;base64,") >= node["size"] + 1
    assert "Click a node" in json.dumps(gallery.show_gallery(None, data).to_plotly_json())


def test_export_members_csv_and_npz(synthetic_home):
    data = request_data()
    els, *_ = explore.update_graph(data, None)
    nodes = [e["data"] for e in els if "position" in e][:2]
    total = len(np.unique(np.concatenate([n.members for n in
                                          services.compute_graph(ExploreRequest.from_dict(data)).graph.nodes
                                          if n.id in {d["id"] for d in nodes}])))
    csv, msg = gallery.export_members(1, None, nodes, data, which="csv")
    lines = csv["content"].strip().split("\n")
    assert lines[0].startswith("network,layer,iteration,out_channel,in_channel,w0") and len(lines) == total + 1
    npz, _ = gallery.export_members(None, 1, nodes, data, which="npz")
    import base64

    with np.load(io.BytesIO(base64.b64decode(npz["content"]))) as z:
        assert z["filters"].shape == (total, 3, 3) and len(z["network"]) == total
    out, msg = gallery.export_members(1, None, [], data, which="csv")
    assert out is no_update and "select nodes first" in msg


def test_export_graph_json_and_png(synthetic_home):
    data = request_data()
    out, _ = gallery.export_graph_json(1, data)
    d = json.loads(out["content"])
    assert d["nodes"] and d["request"]["source"] == "run:synthetic" and "betti1" in d["summary"]
    assert gallery.export_graph_png(1)["type"] == "png"


# ---- dynamics and depth -------------------------------------------------------------
def test_dynamics_cells_rows_layers_columns_iterations(synthetic_home):
    rows = dynamics.dynamics_cells(ExploreRequest.from_dict(request_data(k=30)))
    assert [len(r) for r in rows] == [3, 3]
    assert rows[0][0].title == "layer 1 · iteration 0"
    assert all(c.h1 is not None and "H1:" in c.caption for r in rows for c in r)
    assert rows[1][-1].h1 >= 1  # layer 2 at the last iteration: filters on the circle
    assert dynamics.update_dynamics("explore", request_data()) is no_update


def test_depth_cells_one_per_layer(synthetic_home):
    cells = dynamics.depth_cells(ExploreRequest.from_dict(request_data(k=30)))
    assert [c.title for c in cells] == ["layer 1 · iteration 500", "layer 2 · iteration 500"]
    assert all(c.elements for c in cells)


def test_small_cloud_cell_reports_error(synthetic_home):
    rows = dynamics.dynamics_cells(ExploreRequest.from_dict(request_data(k=1000)), layers=(1,))
    assert rows[0][0].error and "must be smaller than the number of points" in rows[0][0].caption


def _poll_barcode(data: dict, timeout: float):
    """Call the barcode panel as its poll does until the poll turns off (or ``timeout`` s); its last answer."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        figure, poll_off = explore.barcode_panel(data, "barcode", 1)
        if poll_off or time.monotonic() > deadline:
            return figure, poll_off
        time.sleep(0.3)


def test_the_page_gets_the_bars_at_once_and_the_verdict_when_its_test_is_done(synthetic_home):
    """A cold store: the barcode panel draws the bars without waiting for the test against random filters
    (its title says the test runs, the poll stays on); the test runs in the background, and the panel
    then shows the verdict and turns the poll off."""
    from tdacnn.app import services
    from tdacnn.view.figures import PENDING_TITLE

    data = request_data(layer=1)
    figure, poll_off = explore.barcode_panel(data, "barcode")
    assert PENDING_TITLE in figure.layout.title.text and poll_off is False
    assert any(len(t.x) for t in figure.data)  # the bars are drawn already
    figure, poll_off = _poll_barcode(data, 300)
    assert poll_off, "the background test never finished"
    title = figure.layout.title.text
    assert PENDING_TITLE not in title and "against random filters" in title, title
    # the same verdict as waiting for it
    full = services.compute_barcode(explore._request(data))
    assert not full.pending and full.p_values


def test_a_killed_significance_test_is_said_on_the_page_and_the_server_lives_on(synthetic_home):
    """The test of the bars runs in a child process: killing it (a crash of ripser, the OOM killer) gives the
    page a sentence instead of a verdict, once, not a poll that never ends; the web process is unharmed."""
    import time

    from tdacnn.app import background
    from tdacnn.view.figures import PENDING_TITLE
    from tests.topology.test_null_process import null_children as children, started_null_children

    # the one background thread idle first (an earlier test may have left a test queued): the child is ours
    deadline = time.monotonic() + 300
    while not all(f.done() for f in list(background._running.values())) and time.monotonic() < deadline:
        time.sleep(0.2)
    data = request_data(layer=1)
    figure, poll_off = explore.barcode_panel(data, "barcode")
    assert PENDING_TITLE in figure.layout.title.text and poll_off is False
    killed = started_null_children(120)
    assert killed, "the test of the bars did not start a child process"
    for p in killed:
        p.kill()
    figure, poll_off = _poll_barcode(data, 120)
    said = " ".join(a.text for a in figure.layout.annotations).replace("<br>", " ")
    assert poll_off and "failed" in said and "SIGKILL" in said, said
    assert not children()  # not started again by the polls
    graph = explore.update_graph(data, None)  # the same process still draws
    assert graph[0], graph
