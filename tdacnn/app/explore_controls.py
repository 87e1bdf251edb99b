"""The Explore view, controls side: the URL read back, sessions, and the controls turned into a request.

What each function does on the page is drawn in :mod:`tdacnn.app.explore` (which
registers them and re-exports them): :func:`load_url` and :func:`load_session`
fill the controls from a link or a session file, :func:`update_selectors` keeps
layer and iteration valid for the source, :func:`parse_view` turns the controls
into the request (automatic ones passed on as "from the data",
:func:`track_auto`), :func:`reset_auto` gives controls back to the data.
"""

from __future__ import annotations

import base64
from typing import Any, Iterable

from dash import callback_context, html, no_update
from dash.exceptions import PreventUpdate

from tdacnn.app import services, url
from tdacnn.app.controls import AUTO_CONTROLS, CONTROLS, ExploreRequest, parse_request, to_query
from tdacnn.app.explore_layout import default_source
from tdacnn.app.widgets import control_id
from tdacnn.errors import UserError

__all__ = ["load_url", "load_session", "update_selectors", "watch_source", "refresh_iterations", "parse_controls", "track_auto", "parse_view",
           "reset_auto"]


# ---- the URL and sessions --------------------------------------------------------
def load_url(search: str | None):
    """Page load: what the URL asks for, each value checked (:func:`tdacnn.app.url.read_query`).

    Returns
    -------
    tuple
        One value per control (:data:`CONTROLS`; no_update where the URL says
        nothing or the value was dropped), then the layer and iteration choices of
        the URL's source, the automatic names, the tab, the barcode mode, the
        notice (one sentence per value dropped), and ``True`` for ``explore-ready``
        (the page asks for no graph before the URL has been read).  All but the
        last are no_update for an empty query.
    """
    n_extra = 6
    if not (search or "").lstrip("?"):
        return (no_update,) * (len(CONTROLS) + n_extra) + (True,)
    state = url.read_query(search, default_source=default_source())
    explicit = {name for name in AUTO_CONTROLS if state.controls.get(name) is not None}
    controls = tuple(no_update if state.controls.get(n) is None else state.controls[n] for n in CONTROLS)
    notice = [html.Span("This link asked for values that cannot be shown:"),
              html.Ul([html.Li(p) for p in state.problems])] if state.problems else ""
    return (*controls,
            state.layer_options if state.layer_options is not None else no_update,
            state.iteration_options if state.iteration_options is not None else no_update,
            sorted(set(AUTO_CONTROLS) - explicit),
            state.view.get("tab", no_update), state.view.get("mode", no_update), notice, True)


def load_session(contents: str | None, filename: str | None):
    """An uploaded session file (or graph JSON export) → (query to open, notice)."""
    if not contents:
        return no_update, no_update
    try:
        _, _, data = contents.partition(",")
        query = url.session_query(base64.b64decode(data, validate=False))
    except (UserError, ValueError) as exc:
        return no_update, f"{filename or 'The file'}: {exc}"
    return {"query": query}, ""


def watch_source(_n, source: str | None, stamp: dict | None):
    """Poll: the source's weights file changed (a run being recorded or trained) → its new stamp."""
    new = services.source_stamp(source)
    if new is None or new == stamp:
        raise PreventUpdate
    return new


def refresh_iterations(stamp: dict | None, source: str | None, layer: int | None, iteration: int | None):
    """New snapshots in the source on view: the layer and iteration lists grow (the values shown stay)."""
    if not stamp or stamp.get("source") != source:
        raise PreventUpdate
    layers, its, _, _ = services.selector_choices(source, layer, iteration)
    if not layers:
        raise PreventUpdate
    return layers, its


# ---- controls → request ----------------------------------------------------------
def update_selectors(source: str | None, layer: int | None, iteration: int | None):
    """A new source or layer: refresh the layer and iteration choices (keep valid values)."""
    layers, its, new_layer, new_it = services.selector_choices(source, layer, iteration)
    if not source or not layers:
        return [], [], None, None
    return (layers, its, new_layer if new_layer != layer else no_update,
            new_it if new_it != iteration else no_update)


def parse_controls(*values):
    """Control values (in :data:`CONTROLS` order; None for an automatic one) → the request
    (a dict) and the URL query; or the error."""
    try:
        request = parse_request(dict(zip(CONTROLS, values)))
    except (UserError, ValueError) as exc:
        return {"error": str(exc)}, no_update
    return request.to_dict(), to_query(request)


def track_auto(values: dict[str, Any], auto: Iterable[str], resolved: dict[str, Any],
               changed: Iterable[str]) -> set[str]:
    """The names that stay automatic after ``changed`` controls moved.

    A control shows the value computed from the data while automatic; one that
    the user moved (a value different from ``resolved``) becomes explicit.  An
    emptied box stays, or becomes, automatic (:func:`parse_request` reads an
    empty value as "from the data").
    """
    auto = set(auto)
    for name in changed:
        if name in auto and values.get(name) not in (None, "") and values.get(name) != resolved.get(name):
            auto.discard(name)
    return auto


def _triggered_controls() -> list[str]:
    try:
        props = callback_context.triggered_prop_ids
    except Exception:  # noqa: BLE001 - called outside a callback (tests)
        return []
    names = {control_id(n): n for n in CONTROLS}
    return [names[p.rsplit(".", 1)[0]] for p in props if p.rsplit(".", 1)[0] in names]


def _selection_pending(source: Any, layer: Any, iteration: Any) -> bool:
    """Whether ``layer``/``iteration`` are not (yet) the source's: the selectors are about to fix them."""
    try:
        ws = services.load_source(source)
    except (UserError, ValueError):
        return False  # the graph callback explains it
    if layer is not None and layer not in ws.layers():
        return True
    return iteration is not None and layer is not None and iteration not in ws.iterations(layer)


def parse_view(*args):
    """Controls, the automatic names, the graph drawn and the current request → (request, query, automatic names).

    The registered form of :func:`parse_controls`: automatic controls are passed
    on as None (the data decides), and a request equal to the current one is not
    sent again (the values the graph computed, written back into the controls,
    ask for nothing new).  After a change of source or layer, a layer or
    iteration that the source does not have asks for nothing either:
    :func:`update_selectors` is about to replace it (no graph of a wrong layer,
    no passing error).
    """
    n = len(CONTROLS)
    values = dict(zip(CONTROLS, args[:n]))
    ready, auto_state, memory, current = (list(args[n:]) + [True, None, None, None])[:4]
    if not ready:  # the URL has not been read yet: its view, not the default one, is the first computed
        return no_update, no_update, no_update
    changed = _triggered_controls()
    if {"source", "layer"} & set(changed) and _selection_pending(values["source"], values["layer"],
                                                                 values["iteration"]):
        return no_update, no_update, no_update
    resolved = (memory or {}).get("resolved") or {}
    auto = track_auto(values, AUTO_CONTROLS if auto_state is None else auto_state, resolved, changed)
    data, query = parse_controls(*[None if name in auto else values[name] for name in CONTROLS])
    if "error" not in data:
        auto = set(ExploreRequest.from_dict(data).auto) & set(AUTO_CONTROLS)
    new_auto = sorted(auto)
    return (no_update if data == current else data, query,
            no_update if auto_state is not None and sorted(auto_state) == new_auto else new_auto)


def reset_auto(_clicks: Any, _all: Any, auto_state: list[str] | None):
    """An "auto" button (or "all automatic") → that control (or every one) back to the data."""
    trigger = getattr(callback_context, "triggered_id", None)
    auto = set(auto_state or ())
    if trigger == "explore-auto-all":
        auto = set(AUTO_CONTROLS)
    elif isinstance(trigger, dict) and trigger.get("name") in AUTO_CONTROLS:
        auto.add(trigger["name"])
    else:
        return no_update
    return sorted(auto)
