"""What the source, layer and iteration selectors offer: sources, their weights, and the layers
that can be analysed (the others are offered disabled, with the reason).

Plain Python (no Dash); :mod:`tdacnn.app.services` re-exports every name here, so
callbacks and tests use ``services.layer_options`` etc.  Sources are listed and
resolved by :mod:`tdacnn.jobs.sources` (numpy only, no torch): ``list_sources``
(selector options ``[{"value", "label"}]``), ``load_source`` (id → WeightSet, or a
UserError) and ``opened_sources`` (the ids given on the server's command line, the
first shown first) are its own functions.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from tdacnn.jobs.sources import list_sources, load_source, opened_sources, source_path
from tdacnn.nets.layers import weight_problem  # numpy only
from tdacnn.weights import WeightSet

__all__ = ["list_sources", "load_source", "opened_sources", "layer_problem", "layer_problems", "initial_layer",
           "layer_options", "iteration_options", "source_stamp"]

_lock = threading.Lock()
#: ``id(ws) -> (weak reference to ws, {layer: reason})``: the reasons of a loaded weight set, found once.
_problems: dict[int, tuple[Any, dict[int, str]]] = {}


def layer_problem(ws: WeightSet, layer: int, iteration: int | None = None) -> str | None:
    """Why ``layer`` (at ``iteration``; at every saved one when None) cannot be analysed, or None.

    ``"1×1: no spatial pattern"``, ``"empty: every filter is constant"`` ...
    (:func:`tdacnn.nets.layers.weight_problem`).
    """
    entries = [e for e in ws.entries if e.layer == layer and (iteration is None or e.iteration == iteration)]
    problems = [weight_problem(e.weight) for e in entries]
    if not problems or any(p is None for p in problems):
        return None
    return next((p for p in problems if not p.startswith("empty")), problems[0])


def layer_problems(ws: WeightSet) -> dict[int, str]:
    """``{layer: reason}`` for the layers of ``ws`` that cannot be analysed (memoised per weight set)."""
    with _lock:
        held = _problems.get(id(ws))
        if held is not None and held[0]() is ws:
            return held[1]
    found = {layer: p for layer in ws.layers() if (p := layer_problem(ws, layer)) is not None}
    with _lock:
        if len(_problems) > 16:
            _problems.clear()
        _problems[id(ws)] = (weakref.ref(ws), found)
    return found


def initial_layer(source_id: str, ws: WeightSet) -> int | None:
    """The layer a fresh view of ``source_id`` opens on: ``ws.meta["default_view"]["layer"]``
    when the run names one, else the first 3×3 layer that can be analysed, else the first
    that can, else the first conv layer."""
    layers = ws.layers()
    if not layers:
        return None
    problems = layer_problems(ws)
    usable = [layer for layer in layers if layer not in problems]
    view = ws.meta.get("default_view") if isinstance(ws.meta, dict) else None
    wanted = view.get("layer") if isinstance(view, dict) else None
    if wanted in usable:
        return wanted
    square3 = [layer for layer in usable if _shape(ws, layer)[2:] == (3, 3)]
    return (square3 or usable or layers)[0]


def _shape(ws: WeightSet, layer: int) -> tuple[int, ...]:
    return tuple(next(e.weight.shape for e in ws.entries if e.layer == layer))


#: Notes about a layer's kernel size: the reason a layer cannot be analysed says it already.
_SHAPE_FLAGS = frozenset({"1x1", "non-3x3"})


def _notes(ws: WeightSet, layer: int) -> list[str]:
    """What the checkpoint said about ``layer`` (``transposed``, ``batchnorm``, ``depthwise?`` ...):
    the flags of :class:`tdacnn.nets.layers.ConvLayer`, kept by the load job in ``ws.meta["layers"]``."""
    layers = ws.meta.get("layers") if isinstance(ws.meta, dict) else None
    info = layers.get(str(layer), layers.get(layer)) if isinstance(layers, dict) else None
    flags = info.get("flags") if isinstance(info, dict) else None
    return [f for f in flags or () if isinstance(f, str) and f not in _SHAPE_FLAGS]


def layer_options(ws: WeightSet) -> list[dict]:
    """``[{"label": "layer 1 · conv1.weight (32×1×3×3)", "value": 1}, ...]``.

    A layer that cannot be analysed is offered disabled, its label saying why:
    ``"layer 7 · conv.weight (512×1536×1×1) — 1×1: no spatial pattern"``.  What the
    checkpoint said about a layer follows its shape, as ``tdacnn layers`` prints it:
    ``"layer 5 · deconv.weight (8×16×3×3, transposed)"``.
    """
    names = ws.layer_names()
    problems = layer_problems(ws)
    out = []
    for layer in ws.layers():
        name = f" · {names[layer]}" if names.get(layer) else ""
        label = f"layer {layer}{name} ({', '.join(['×'.join(map(str, _shape(ws, layer))), *_notes(ws, layer)])})"
        if layer in problems:
            out.append({"label": f"{label} — {problems[layer]}", "value": layer, "disabled": True})
        else:
            out.append({"label": label, "value": layer})
    return out


def iteration_options(ws: WeightSet, layer: int | None) -> list[dict]:
    """``[{"label": "iteration 500", "value": 500}, ...]`` for one layer (last one marked)."""
    if layer not in ws.layers():
        layer = ws.layers()[0] if ws.layers() else None
    its = ws.iterations(layer) if layer is not None else []
    out = []
    for i, it in enumerate(its):
        label = "unknown iteration" if it < 0 else f"iteration {it}"
        out.append({"label": label + (" (last)" if i == len(its) - 1 and len(its) > 1 else ""), "value": it})
    return out


def selector_choices(source_id: str | None, layer: int | None = None,
                     iteration: int | None = None) -> tuple[list[dict], list[dict], int | None, int | None]:
    """What the layer and iteration selectors offer for a source, and what they show.

    ``layer`` and ``iteration`` are kept when the source has them; otherwise the
    source's :func:`initial_layer` and that layer's last iteration.  An unknown or
    unreadable source offers nothing (the graph's status says why).

    Returns
    -------
    (layer options, iteration options, layer, iteration)
    """
    from tdacnn.errors import UserError

    if not source_id:
        return [], [], None, None
    try:
        ws = load_source(source_id)
    except (UserError, ValueError):
        return [], [], None, None
    layers = layer_options(ws)
    if layer not in [o["value"] for o in layers]:
        layer = initial_layer(source_id, ws)
    its = iteration_options(ws, layer)
    valid = [o["value"] for o in its]
    if iteration not in valid:
        iteration = valid[-1] if valid else None
    return layers, its, layer, iteration


def source_stamp(source_id: str | None) -> dict | None:
    """``{"source", "mtime"}`` of a source's weights file (a ``stat``, nothing read), or None.

    A run being recorded (:class:`tdacnn.Recorder`) or trained changes it with every
    snapshot: the page polls it to pick up new iterations.
    """
    from tdacnn.errors import UserError
    from tdacnn.weights import RUN_WEIGHTS_FILE

    if not source_id:
        return None
    try:
        return {"source": source_id, "mtime": (source_path(source_id) / RUN_WEIGHTS_FILE).stat().st_mtime_ns}
    except (UserError, ValueError, OSError):
        return None
