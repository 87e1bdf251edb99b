"""Explore callbacks as functions: the URL read back, automatic and explicit controls, layouts that are
fresh for a new cloud, sessions (the browser side is in test_browser_explore.py)."""

from __future__ import annotations

import base64
import json
from contextvars import copy_context

import numpy as np
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict

from tdacnn.app import explore
from tdacnn.app.controls import AUTO_CONTROLS, CONTROLS, DEFAULTS


def by_name(out) -> dict:
    names = [*CONTROLS, "layer_options", "iteration_options", "auto", "tab", "mode", "notice", "ready"]
    assert len(out) == len(names)
    return dict(zip(names, out))


def triggered(fn, *args, by: list[str]):
    """Call a callback as Dash would after ``by`` (``"explore-k.value"``, ...) changed."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": p, "value": None} for p in by]))
        return fn(*args)
    return copy_context().run(run)


def view_args(auto=None, memory=None, current=None, **over):
    v = {**DEFAULTS, "source": "run:synthetic", **over}
    return [*[v[n] for n in CONTROLS], True, list(AUTO_CONTROLS) if auto is None else auto, memory, current]


# ---- the URL ----------------------------------------------------------------------------
def test_load_url_gives_the_sources_choices_the_explicit_names_and_the_view(synthetic_home):
    out = by_name(explore.load_url("?source=run:synthetic&layer=2&iteration=100&k=40&tab=depth&mode=diagram"))
    assert (out["source"], out["layer"], out["iteration"], out["k"]) == ("run:synthetic", 2, 100, 40)
    assert [o["value"] for o in out["layer_options"]] == [1, 2]
    assert [o["value"] for o in out["iteration_options"]] == [0, 100, 500]
    assert "k" not in out["auto"] and set(out["auto"]) == set(AUTO_CONTROLS) - {"k"}
    assert (out["tab"], out["mode"], out["notice"], out["ready"]) == ("depth", "diagram", "", True)
    assert out["p"] is no_update and out["lens"] is no_update


def test_load_url_drops_bad_values_with_sentences(synthetic_home):
    out = by_name(explore.load_url("?source=run:synthetic&k=abc&layer=999&tab=nope"))
    assert out["k"] is no_update and out["layer"] == 1 and out["tab"] is no_update
    notes = [li.children for li in out["notice"][1].children]
    assert len(notes) == 3 and any("'abc' is not a number" in n for n in notes)
    assert set(out["auto"]) == set(AUTO_CONTROLS)  # k stays automatic


# ---- automatic and explicit -------------------------------------------------------------------
def test_track_auto():
    resolved = {"k": 20, "n_cubes": 8}
    auto = set(AUTO_CONTROLS)
    # the graph wrote its values into the controls: nothing changes
    assert explore.track_auto({"k": 20, "n_cubes": 8}, auto, resolved, ["k", "n_cubes"]) == auto
    # the user moved k: it is theirs now; n_cubes did not move
    assert explore.track_auto({"k": 23, "n_cubes": 8}, auto, resolved, ["k"]) == auto - {"k"}
    # an emptied box stays automatic
    assert explore.track_auto({"distance_cut": None}, auto, resolved, ["distance_cut"]) == auto


def test_parse_view_passes_automatic_controls_on_as_none(synthetic_home):
    resolved = {"k": 20, "p": 50.0}
    memory = {"resolved": resolved}
    data, query, auto = triggered(explore.parse_view, *view_args(memory=memory, k=20, p=50.0),
                                  by=["explore-k.value", "explore-p.value"])
    assert set(data["auto"]) == set(AUTO_CONTROLS) and "k=" not in query and auto is no_update
    # the same request again (the controls took the computed values): nothing is sent
    again = triggered(explore.parse_view, *view_args(memory=memory, current=data, k=20, p=50.0),
                      by=["explore-k.value"])
    assert again[0] is no_update
    # the user moves k: explicit, in the URL, out of the automatic names
    data, query, auto = triggered(explore.parse_view, *view_args(memory=memory, current=data, k=23, p=50.0),
                                  by=["explore-k.value"])
    assert data["density"]["k"] == 23 and "k" not in data["auto"] and "k=23" in query
    assert "k" not in auto and "p" in auto


def test_parse_view_waits_for_the_selectors_after_a_source_change(synthetic_home):
    out = triggered(explore.parse_view, *view_args(layer=3, iteration=900), by=["explore-source.value"])
    assert out == (no_update, no_update, no_update)  # layer 3 is not the source's: update_selectors fixes it
    data, *_ = triggered(explore.parse_view, *view_args(layer=2, iteration=100), by=["explore-source.value"])
    assert data["cloud"]["layer"] == 2


def test_parse_view_waits_for_the_url():
    args = view_args()
    args[len(CONTROLS)] = False  # explore-ready: the URL has not been read
    assert explore.parse_view(*args) == (no_update, no_update, no_update)


def test_reset_auto():
    auto = ["p"]
    out = triggered(explore.reset_auto, [0, 1], 0, auto, by=['{"name":"k","type":"explore-auto-reset"}.n_clicks'])
    assert out == ["k", "p"]
    out = triggered(explore.reset_auto, [0, 0], 1, auto, by=["explore-auto-all.n_clicks"])
    assert out == sorted(AUTO_CONTROLS)


# ---- graph: fresh for a new cloud, kept for the same one ---------------------------------------
def _positions(els):
    return {e["data"]["id"]: np.array([e["position"]["x"], e["position"]["y"]]) for e in els if "position" in e}


def request_data(**over):
    v = {**DEFAULTS, "source": "run:synthetic", **over}
    data, _ = explore.parse_controls(*[v[n] for n in CONTROLS])
    assert "error" not in data, data
    return data


def test_another_layer_is_laid_out_afresh(synthetic_home):
    *_, memory = explore.update_graph(request_data(layer=1, n_cubes=8), None)
    els, *_, memory2 = explore.update_graph(request_data(layer=2, n_cubes=8), memory)
    fresh, *_ = explore.update_graph(request_data(layer=2, n_cubes=8), None)
    p, f = _positions(els), _positions(fresh)
    assert p.keys() == f.keys() and all(np.allclose(p[i], f[i]) for i in p)  # as if loaded from its URL
    assert memory2["stamp"] == memory["stamp"] + 1 and memory2["space"] != memory["space"]
    assert set(memory2["resolved"]) == set(AUTO_CONTROLS) - {"n_cubes"}


def test_the_same_cloud_filtered_again_keeps_its_places(synthetic_home):
    from tdacnn.app import services
    from tdacnn.app.controls import ExploreRequest
    from tdacnn.view.layout import EDGE_LENGTH

    d1, d2 = request_data(layer=2, p=50, n_cubes=8), request_data(layer=2, p=60, n_cubes=8)
    els1, *_, memory = explore.update_graph(d1, None)
    els2, *_ = explore.update_graph(d2, memory)
    fresh, *_ = explore.update_graph(d2, None)
    r1, r2 = (services.compute_graph(ExploreRequest.from_dict(d)) for d in (d1, d2))
    # a node of the second graph and the node of the first it mostly is (members in the whole cloud)
    members = [{n.id: set(r.members_space()[n.members]) for n in r.graph.nodes} for r in (r1, r2)]
    pairs = []
    for nid, m in members[1].items():
        oid, best = max(((o, len(m & om) / len(m | om)) for o, om in members[0].items()), key=lambda t: t[1])
        if best >= 0.5:
            pairs.append((oid, nid))
    assert len(pairs) >= len(members[1]) // 3
    p1, p2, pf = _positions(els1), _positions(els2), _positions(fresh)
    moved = np.median([np.linalg.norm(p1[o] - p2[n]) for o, n in pairs])
    moved_fresh = np.median([np.linalg.norm(p1[o] - pf[n]) for o, n in pairs])
    assert moved < 0.5 * EDGE_LENGTH and moved < 0.5 * moved_fresh  # a fresh layout would move them more


def test_after_an_error_the_next_graph_is_drawn_afresh(synthetic_home):
    *_, failed = explore.update_graph(request_data(layer=1, k=320), None)
    assert failed["error"].startswith("k = 320 must be smaller")
    els, legend, summary, status, memory = explore.update_graph(request_data(layer=1), failed)
    assert els and status == "" and memory["stamp"] == 1 and "error" not in memory


def test_a_graph_too_big_to_draw_is_replaced_by_a_sentence(synthetic_home, monkeypatch):
    from tdacnn.app import dynamics, services
    from tdacnn.app.controls import ExploreRequest

    data = request_data(layer=2, distance_cut=0.001, n_cubes=4)  # every point its own node
    n = services.compute_graph(ExploreRequest.from_dict(data)).summary["nodes"]
    monkeypatch.setattr(services, "MAX_DRAWN_NODES", n - 1)
    els, legend, summary, status, memory = explore.update_graph(data, None)
    assert els == [] and summary == [] and "error" in memory
    assert status.startswith(f"this graph has {n:,} nodes in ") and "too many to draw" in status
    assert "raise the distance cut (now 0.001)" in status and "fewer intervals (now 4)" in status
    cell = dynamics.depth_cells(ExploreRequest.from_dict(data))[1]
    assert cell.error and "too many to draw" in cell.caption and not cell.elements
    monkeypatch.setattr(services, "MAX_DRAWN_NODES", n)
    els, *_ = explore.update_graph(data, None)
    assert sum("source" not in e["data"] for e in els) == n


# ---- sessions -----------------------------------------------------------------------------------
def upload(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return "data:application/json;base64," + base64.b64encode(raw).decode()


def test_load_session():
    goto, notice = explore.load_session(upload({"format": "tdacnn-session", "query": "?source=run:x&k=40"}), "s.json")
    assert goto == {"query": "?source=run:x&k=40"} and notice == ""
    goto, notice = explore.load_session(upload(b"{oops"), "notes.json")
    assert goto is no_update and notice.startswith("notes.json: this file is not a session: not JSON")
    assert explore.load_session(None, None) == (no_update, no_update)
