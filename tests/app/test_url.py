"""The Explore URL read back (every value checked, against the source it names) and session files."""

from __future__ import annotations

import json

import pytest

from tdacnn.app import url
from tdacnn.app.controls import ExploreRequest, parse_request, to_query
from tdacnn.errors import UserError

SOURCES = [{"value": "default", "label": "default"}, {"value": "run:synthetic", "label": "synthetic"}]


def read(search: str) -> url.UrlState:
    return url.read_query(search, sources=SOURCES, default_source="run:synthetic")


@pytest.mark.parametrize("search, words", [
    ("?k=abc", ["k (neighbours): 'abc' is not a number", "automatic"]),
    ("?n_cubes=-3", ["n_cubes", "automatic"]),
    ("?k=5000", ["k = 5000 is outside the slider's range 1 to 300"]),
    ("?overlap=2", ["overlap"]),
    ("?lens=foo", ["lens must be one of pca1, pca2, codensity, angle, umap; got 'foo'", "default (pca2)"]),
    ("?clusterer=kmeans", ["clusterer must be one of"]),
    ("?channels=7", ["channels must be one of each, sum, mean"]),
    ("?maxdim=5", ["maxdim must be one of 0, 1, 2"]),
    ("?coeff=4", ["coefficient prime p must be a prime"]),
    ("?tab=nope", ["tab 'nope' is not one of explore, dynamics, depth, jobs; explore is shown"]),
    ("?mode=pie", ["mode 'pie' is not one of barcode, diagram"]),
    ("?color=rainbow", ["color 'rainbow' is not one of density, size, angle", "codensity is shown"]),
])
def test_bad_values_are_dropped_with_a_sentence(synthetic_home, search, words):
    state = read(search)
    key = search[1:].split("=")[0]
    assert key not in state.controls and key not in state.view
    assert len(state.problems) == 1
    for w in words:
        assert w in state.problems[0], state.problems


def test_good_values_pass_typed(synthetic_home):
    state = read("?k=40&p=30&n_cubes=7&overlap=0.45&lens=pca1&clusterer=dbscan&eps=0.3&n_perm=all&maxdim=2"
                 "&coeff=3&thresh=1.5&tab=depth&mode=diagram&sel=a,b&bogus=1")
    assert state.problems == []
    assert state.controls == {"k": 40, "p": 30.0, "n_cubes": 7, "overlap": 0.45, "lens": "pca1",
                              "clusterer": "dbscan", "eps": 0.3, "n_perm": "all", "maxdim": 2, "coeff": 3,
                              "thresh": 1.5}
    assert state.view == {"tab": "depth", "mode": "diagram"}
    assert state.layer_options is None  # no source, layer or iteration asked: the selectors are left alone


def test_layer_and_iteration_checked_against_the_named_source(synthetic_home):
    state = read("?source=run:synthetic&layer=2&iteration=100")
    assert state.problems == []
    assert state.controls == {"source": "run:synthetic", "layer": 2, "iteration": 100}
    assert [o["value"] for o in state.layer_options] == [1, 2]
    assert [o["value"] for o in state.iteration_options] == [0, 100, 500]


def test_missing_layer_and_iteration_fall_back_with_a_sentence(synthetic_home):
    state = read("?source=run:synthetic&layer=999&iteration=7")
    assert state.controls["layer"] == 1 and state.controls["iteration"] == 500
    assert state.problems == [
        "layer '999' is not in run:synthetic (layers 1 to 2); layer 1 is shown",
        "iteration '7' was not saved for layer 1 of run:synthetic (saved: 0, 100, 500); iteration 500 is shown"]
    assert "layer 'x' is not in" in read("?layer=x").problems[0]  # checked against the default source


def test_unknown_source(synthetic_home):
    state = read("?source=run:gone&layer=2")
    assert "source" not in state.controls and state.controls["layer"] == 2  # layer 2 of the default source
    assert state.problems == ["source 'run:gone' is not available; run:synthetic is shown"]


# ---- sessions ----------------------------------------------------------------------------
def test_session_round_trip():
    r = parse_request({"source": "run:x", "layer": 2, "k": 40, "lens": "pca1"})
    session = url.session_file(r, to_query(r) + "&sel=a", {"tab": "depth"})
    assert url.session_query(json.dumps(session).encode()) == to_query(r) + "&sel=a"


def test_graph_export_is_a_session():
    r = parse_request({"source": "run:x", "layer": 2, "k": 40})
    q = url.session_query(json.dumps({"nodes": [], "request": r.to_dict(), "view": {"mode": "diagram"}}))
    assert "k=40" in q and "mode=diagram" in q
    assert ExploreRequest.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("content, match", [
    (b"\x89PNG\r\n\x1a\n\xff\xfe", "not text"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"nodes": []}', "neither a 'query' nor a 'request'"),
    (b'{"query": "k=1"}', "must start with '\\?'"),
    (b'{"request": {"source": "x"}}', "does not parse"),
    (b" " * (2**20 + 1), "a session file is a few kB"),
])
def test_bad_session_files_explain_themselves(content, match):
    with pytest.raises(UserError, match=match):
        url.session_query(content)
