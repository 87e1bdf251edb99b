"""The layer list explains itself: unanalysable layers disabled with the reason, a fresh view on a 3×3 layer,
and such a layer asked for anyway gets that reason as its sentence (``tdacnn.app.services``)."""

from __future__ import annotations

import numpy as np
import pytest

from tdacnn.app import services
from tdacnn.app.controls import parse_request
from tdacnn.errors import UserError
from tdacnn.weights import WeightEntry, WeightSet


def _weights(first_zero_at: int | None = None) -> WeightSet:
    rng = np.random.default_rng(0)
    entries = []
    for net in range(3):
        for it in (0, 100):
            entries.append(WeightEntry(net, 1, it, rng.normal(size=(16, 3, 1, 1)), "stem.weight"))
            entries.append(WeightEntry(net, 2, it, rng.normal(size=(8, 16, 5, 5)), "conv5.weight"))
            entries.append(WeightEntry(net, 3, it, rng.normal(size=(12, 8, 3, 3)), "conv3.weight"))
            zero = first_zero_at is not None and it <= first_zero_at
            w = np.zeros((6, 12, 3, 3)) if zero else rng.normal(size=(6, 12, 3, 3))
            entries.append(WeightEntry(net, 4, it, w, "late.weight"))
    return WeightSet(entries, {})


def test_options_disable_what_cannot_be_analysed_and_say_why():
    ws = _weights(first_zero_at=100)  # layer 4 all zeros at every iteration
    opts = services.layer_options(ws)
    assert opts[0] == {"label": "layer 1 · stem.weight (16×3×1×1) — 1×1: no spatial pattern", "value": 1,
                       "disabled": True}
    assert opts[1] == {"label": "layer 2 · conv5.weight (8×16×5×5)", "value": 2}
    assert opts[2] == {"label": "layer 3 · conv3.weight (12×8×3×3)", "value": 3}
    assert opts[3]["disabled"] and opts[3]["label"].endswith("— empty: every filter is constant")


def test_a_layer_empty_only_at_first_is_offered():
    ws = _weights(first_zero_at=0)  # zeros at iteration 0 only (e.g. zero-initialised), trained at 100
    assert "disabled" not in services.layer_options(ws)[3]
    assert services.layer_problem(ws, 4, 0) == "empty: every filter is constant"
    assert services.layer_problem(ws, 4, 100) is None


def test_initial_layer_is_the_first_analysable_3x3_unless_the_run_names_one():
    ws = _weights()
    assert services.initial_layer("x", ws) == 3
    ws.meta["default_view"] = {"layer": 2}
    assert services.initial_layer("x", ws) == 2
    ws.meta["default_view"] = {"layer": 1}  # named, but 1×1: not opened on
    assert services.initial_layer("x", ws) == 3


def test_asking_for_an_unanalysable_layer_gives_its_reason(monkeypatch):
    ws = _weights(first_zero_at=0)
    monkeypatch.setattr(services, "load_source", lambda _sid: ws)
    request = parse_request({"source": "x", "layer": 1, "k": 5})
    with pytest.raises(UserError) as err:
        services.compute_graph(request)
    assert str(err.value) == ("layer 1 (stem.weight) cannot be analysed: 1×1: no spatial pattern; "
                              "choose another layer, e.g. layer 3")
    with pytest.raises(UserError, match=r"layer 4 \(late.weight\) cannot be analysed: empty: every filter is constant"):
        services.compute_graph(parse_request({"source": "x", "layer": 4, "iteration": 0, "k": 5}))


def test_what_the_checkpoint_says_about_a_layer_follows_its_shape():
    # as the load job keeps it (tdacnn.nets.layers flags): a real ConvTranspose2d, a conv with batchnorm
    ws = _weights()
    ws.meta["layers"] = {"1": {"name": "stem.weight", "flags": ["1x1"]},
                         "2": {"name": "conv5.weight", "flags": ["non-3x3", "batchnorm"]},
                         "3": {"name": "conv3.weight", "flags": ["transposed"]}}
    labels = [o["label"] for o in services.layer_options(ws)]
    assert labels[0] == "layer 1 · stem.weight (16×3×1×1) — 1×1: no spatial pattern"  # said once, by the reason
    assert labels[1] == "layer 2 · conv5.weight (8×16×5×5, batchnorm)"
    assert labels[2] == "layer 3 · conv3.weight (12×8×3×3, transposed)"
    assert labels[3] == "layer 4 · late.weight (6×12×3×3)"
