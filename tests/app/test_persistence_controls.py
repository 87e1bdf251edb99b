"""The Explore tab's persistence controls: parsing, the URL, the barcode they drive, and that
changing them leaves the Mapper graph alone (no browser; the browser test is in test_browser.py)."""

from __future__ import annotations

import json
import math

import pytest
from dash import no_update

from tdacnn.app import dynamics, explore, services
from tdacnn.app.controls import CONTROLS, DEFAULTS, ExploreRequest, from_query, parse_request, to_query
from tdacnn.errors import UserError
from tdacnn.topology.params import PersistenceParams


def request_data(**over):
    v = {**DEFAULTS, "source": "run:synthetic", **over}
    data, _query = explore.parse_controls(*[v[name] for name in CONTROLS])
    assert "error" not in data, data
    return data


def panel_titles(fig) -> list[str]:
    """Subplot titles of a barcode figure ("H0  (n bars, m significant)", ...)."""
    return [a.text for a in fig.layout.annotations if (a.text or "").startswith("H")]


# ---- parsing -----------------------------------------------------------------------
def test_defaults_are_the_library_defaults():
    assert parse_request({"source": "run:x"}).persistence == PersistenceParams()
    assert {"n_perm", "maxdim", "coeff", "thresh"} <= set(CONTROLS)


@pytest.mark.parametrize("raw, n_perm", [("all", None), (" ALL ", None), ("", None), (None, None),
                                         ("250", 250), (250, 250), (80.0, 80)])
def test_landmarks_number_or_all(raw, n_perm):
    assert parse_request({"source": "run:x", "n_perm": raw}).persistence.n_perm == n_perm


def test_parse_persistence_controls():
    p = parse_request({"source": "run:x", "maxdim": 2, "coeff": 3, "thresh": 1.25, "n_perm": "100"}).persistence
    assert p == PersistenceParams(maxdim=2, n_perm=100, thresh=1.25, coeff=3)
    assert parse_request({"source": "run:x", "thresh": None}).persistence.thresh == math.inf


@pytest.mark.parametrize("over, match", [
    ({"n_perm": "lots"}, r"landmarks: 'lots' is not a number"),
    ({"n_perm": 1}, r"landmarks must be a whole number ≥ 2, or 'all'"),
    ({"n_perm": 2.5}, r"landmarks must be a whole number"),
    ({"maxdim": 3}, r"max dimension must be 0, 1 or 2; got 3"),
    ({"maxdim": None}, r"max dimension: enter a number"),
    ({"coeff": 4}, r"coefficient prime p must be a prime from 2 to 97 .*; got 4"),
    ({"coeff": 1}, r"coefficient prime p must be a prime"),
    ({"coeff": 101}, r"coefficient prime p must be a prime from 2 to 97"),
    ({"coeff": 10**30 + 1}, r"coefficient prime p must be a prime from 2 to 97"),  # at once
    ({"thresh": -1}, r"threshold must be a positive distance .*; got -1"),
    ({"thresh": "far"}, r"threshold: 'far' is not a number"),
    ({"thresh": "inf"}, r"threshold: enter a finite number"),
])
def test_bad_persistence_values_explain_themselves(over, match):
    with pytest.raises(UserError, match=match):
        parse_request({"source": "run:x", **over})


def test_bad_value_reaches_the_status_line():
    data, query = explore.parse_controls(*[{**DEFAULTS, "source": "run:x", "coeff": 6}[c] for c in CONTROLS])
    assert query is no_update and data["error"].startswith("coefficient prime p must be a prime")
    assert explore.update_graph(data, None)[3] == data["error"]
    # the barcode is replaced by the sentence (it is not left on screen as if it were current)
    assert "coefficient prime p must be a prime" in barcode_text(explore.update_barcode(data, "barcode"))


def barcode_text(fig) -> str:
    """The message of a blank figure (its annotation, lines joined)."""
    return " ".join(a.text for a in fig.layout.annotations).replace("<br>", " ")


# ---- the URL and the stored request ---------------------------------------------------
def test_query_round_trip_with_persistence():
    r = parse_request({"source": "run:x", "layer": 1, "n_perm": "all", "maxdim": 2, "coeff": 3, "thresh": 1.5})
    q = to_query(r)
    for part in ("n_perm=all", "maxdim=2", "coeff=3", "thresh=1.5"):
        assert part in q, q
    assert parse_request(from_query(q)) == r
    r2 = parse_request({"source": "run:x", "n_perm": 120})
    assert "n_perm=120" in to_query(r2) and parse_request(from_query(to_query(r2))) == r2


def test_default_persistence_stays_out_of_the_url_and_old_urls_still_work():
    q = to_query(parse_request({"source": "run:x", "layer": 2, "k": 40}))
    assert not any(name in q for name in ("n_perm", "maxdim", "coeff", "thresh"))
    old = parse_request(from_query("?source=run:x&layer=2&k=40&n_cubes=7"))
    assert old.persistence == PersistenceParams() and old.density.k == 40


def test_load_url_sets_persistence_controls():
    by = dict(zip(CONTROLS, explore.load_url("?maxdim=2&n_perm=all&coeff=3&thresh=0.8")))
    assert (by["maxdim"], by["n_perm"], by["coeff"], by["thresh"]) == (2, "all", 3, 0.8)
    out = explore.load_url("?thresh=inf&n_perm=nan")
    by = dict(zip(CONTROLS, out))
    assert by["thresh"] is no_update and by["n_perm"] is no_update  # dropped, never handed to a control
    notice = [li.children for li in out[-2][1].children]  # the sentences, one per dropped value (then "ready")
    assert any("threshold: enter a finite number" in s for s in notice)
    assert any("landmarks: enter a finite number" in s for s in notice)
    with pytest.raises(UserError, match="landmarks: enter a finite number"):
        parse_request({"source": "run:x", **from_query("?n_perm=nan")})


def test_request_dict_is_json_safe_and_reads_old_dicts():
    r = parse_request({"source": "run:x", "maxdim": 2, "thresh": None})
    d = r.to_dict()
    json.dumps(d, allow_nan=False)  # a Dash store: no Infinity
    assert d["persistence"]["thresh"] is None and ExploreRequest.from_dict(d) == r
    del d["persistence"]  # a request stored before the persistence controls existed
    assert ExploreRequest.from_dict(d).persistence == PersistenceParams()


def test_graph_key_ignores_persistence_barcode_key_does_not():
    a = parse_request({"source": "run:x"})
    b = parse_request({"source": "run:x", "maxdim": 2, "n_perm": "all", "coeff": 3, "thresh": 0.9})
    c = parse_request({"source": "run:x", "n_cubes": 7})
    assert a.key() == b.key() and a.barcode_key() != b.barcode_key()
    assert a.key() != c.key() and a.barcode_key() == c.barcode_key()


# ---- on the synthetic run -----------------------------------------------------------
def test_persistence_change_neither_recomputes_nor_redraws_the_graph(synthetic_home, monkeypatch):
    d1 = request_data()
    els, legend, summary, status, memory = explore.update_graph(d1, None)
    assert els and status == ""
    d2 = request_data(maxdim=2, n_perm="all", coeff=3)
    r1, r2 = ExploreRequest.from_dict(d1), ExploreRequest.from_dict(d2)
    g1, g2 = services.compute_graph(r1), services.compute_graph(r2)
    # one memo entry, each answer names its own request (with the values resolved from the data)
    assert g2.graph is g1.graph and g2.request == services.resolve(r2) and g2.request.persistence == r2.persistence

    def fail(_request):
        raise AssertionError("the graph was recomputed")

    monkeypatch.setattr(services, "compute_graph", fail)
    out = explore.update_graph(d2, memory)
    assert out == (no_update, no_update, no_update, "", no_update)
    # a Mapper change does compute (here: reaches the patched compute_graph)
    assert "the graph was recomputed" in explore.update_graph(request_data(n_cubes=9), memory)[3]


def test_barcode_follows_max_dimension_landmarks_and_field(synthetic_home):
    fig = explore.update_barcode(request_data(), "barcode")
    assert [t.split()[0] for t in panel_titles(fig)] == ["H0", "H1"]
    assert "circle" in fig.layout.title.text and "Z/2" in fig.layout.title.text
    fig2 = explore.update_barcode(request_data(maxdim=2, n_perm="all", coeff=3), "barcode")
    assert [t.split()[0] for t in panel_titles(fig2)] == ["H0", "H1", "H2"]
    assert "all 160 points" in fig2.layout.title.text and "Z/3" in fig2.layout.title.text
    assert any((t.name or "").startswith("H2") for t in fig2.data)
    fig0 = explore.update_barcode(request_data(maxdim=0, n_perm=50), "barcode")
    assert [t.split()[0] for t in panel_titles(fig0)] == ["H0"]
    assert "component" in fig0.layout.title.text and "50 landmarks of 160" in fig0.layout.title.text
    dia = explore.update_barcode(request_data(maxdim=2), "diagram")
    assert any((t.name or "").startswith("H2") for t in dia.data)
    short = services.compute_barcode(ExploreRequest.from_dict(request_data(thresh=0.3)))
    assert all(d <= 0.3 or math.isinf(d) for dg in short.diagrams for d in dg[:, 1])


def test_too_many_points_for_persistence_is_refused_in_one_sentence(synthetic_home, monkeypatch):
    monkeypatch.setitem(services.MAX_PERSISTENCE_POINTS, 1, 100)  # the filtered cloud has 160 points
    ok = request_data(n_perm=80)
    _, _, _, status, memory = explore.update_graph(ok, None)
    assert status == ""
    everything = request_data(n_perm="all")
    els, *_, status, _ = explore.update_graph(everything, None)
    assert els and status == ("persistence on all 160 filtered points is too slow for the app "
                              "(at most 100 up to H1): set landmarks to 100 or keep fewer points")
    assert explore.update_graph(everything, memory)[3] == status  # graph unchanged: the status alone
    # the barcode says why it is missing (the last one does not stay as if it were current)
    assert barcode_text(explore.update_barcode(everything, "barcode")).startswith("no barcode: persistence on all 160")
    with pytest.raises(UserError, match=r"^150 landmarks are too many for the app \(at most 100 up to H1\)"):
        services.compute_barcode(ExploreRequest.from_dict(request_data(n_perm=150)))
    assert explore.update_graph(request_data(n_perm=150, maxdim=2), memory)[3] == ""  # H2 limit is 400


def test_dynamics_reuse_explore_persistence_but_always_count_h1(synthetic_home):
    rows = dynamics.dynamics_cells(ExploreRequest.from_dict(request_data(maxdim=0, n_perm=60)), layers=(2,))
    assert all(c.h1 is not None and "H1:" in c.caption for c in rows[0])
    bc = services.compute_barcode(ExploreRequest.from_dict(request_data(layer=2, maxdim=0, n_perm=60)),
                                  PersistenceParams(maxdim=1, n_perm=60))
    assert len(bc.diagrams) == 2 and bc.n_landmarks == 60
