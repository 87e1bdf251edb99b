"""The Explore view's URL and session files: which keys it owns, and reading them back safely.

The URL of a view holds every control that differs from "automatic" or its
default (:func:`tdacnn.app.controls.to_query`) plus the view state
:data:`VIEW_DEFAULTS` (``tab``, barcode ``mode``).  Keys owned by other parts
of the page (``sel``, the selection: :mod:`tdacnn.app.inspect`) are left alone
when the URL is rewritten (``assets/explore.js``).

:func:`read_query` is the one way back from a query string to control values:
each value is checked as the control itself would check it (a number where a
number is expected, within the slider's range, a layer and iteration that exist
in *that* source), and a value that does not pass is dropped with one sentence
saying so — it never reaches a component (a text in a slider broke the page).

A session file is the URL of a view with the request it made
(:func:`session_file`); :func:`session_query` reads one back, or the JSON export
of a graph (``{"request": ...}``), into a query string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

from tdacnn.app.controls import CONTROLS, DEFAULTS, ExploreRequest, from_query, parse_request, to_query
from tdacnn.errors import UserError
from tdacnn.topology.params import CHANNEL_MODES, CLUSTERERS, LENSES
from tdacnn.view.node_info import COLOR_MODES

__all__ = ["VIEW_DEFAULTS", "TABS", "MODES", "COLOR_KEY", "OWNED_KEYS", "SLIDER_RANGES", "UrlState", "read_query",
           "session_file", "session_query", "SESSION_FORMAT", "MAX_SESSION_BYTES"]

#: View state in the URL beside the controls, with the values left out of it.
VIEW_DEFAULTS = {"tab": "explore", "mode": "barcode"}
TABS = ("explore", "dynamics", "depth", "jobs")
MODES = ("barcode", "diagram")
#: The colour-by key (written by :mod:`tdacnn.app.inspect`; checked here, with the other values).
COLOR_KEY = "color"
#: Keys this view writes; any other key of the URL is kept as it is.
OWNED_KEYS = tuple(CONTROLS) + tuple(VIEW_DEFAULTS)
#: (min, max) of the sliders: a URL value outside would draw a thumb off the track.
SLIDER_RANGES = {"k": (1, 300), "p": (1, 100), "n_cubes": (1, 40), "overlap": (0.05, 0.9)}
#: Radio and dropdown choices.
_CHOICES: dict[str, tuple] = {"lens": LENSES, "clusterer": CLUSTERERS, "channels": CHANNEL_MODES,
                              "maxdim": (0, 1, 2)}
SESSION_FORMAT = "tdacnn-session"
#: A session file is a few kilobytes; anything far bigger is not one.
MAX_SESSION_BYTES = 2**20


@dataclass
class UrlState:
    """What a query string asks for, checked.

    Attributes
    ----------
    controls : dict
        Valid control values given (name → value as the component takes it).
    view : dict
        Valid view-state values given (``tab``, ``mode``).
    problems : list of str
        One sentence per value that was dropped, and what is shown instead.
    layer_options, iteration_options : list of dict or None
        The choices of the source the URL names (set when it names a source,
        layer or iteration), so that the dropdowns take its values.
    """

    controls: dict[str, Any] = field(default_factory=dict)
    view: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    layer_options: list[dict] | None = None
    iteration_options: list[dict] | None = None


def _raw_pairs(search: str | None) -> dict[str, str]:
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def _check_value(name: str, value: Any) -> Any:
    """``value`` as the control takes it, or UserError (one sentence)."""
    if name in _CHOICES:
        choices = _CHOICES[name]
        if value not in choices:
            raise UserError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    request = parse_request({"source": "x", name: value})  # the controls' own check of the value
    checked = request.controls()[name]
    if name in SLIDER_RANGES:
        lo, hi = SLIDER_RANGES[name]
        if not lo <= checked <= hi:
            raise UserError(f"{name} = {value!r} is outside the slider's range {lo:g} to {hi:g}")
    return checked


def _fallback(name: str) -> str:
    from tdacnn.app.controls import AUTO_CONTROLS

    if name in AUTO_CONTROLS:
        return "the automatic value is used"
    default = DEFAULTS.get(name)
    return f"the default ({default}) is used" if default is not None else "the default is used"


def read_query(search: str | None, sources: list[dict] | None = None,
               load: Callable[[str], Any] | None = None, default_source: str | None = None) -> UrlState:
    """Control values and view state from a query string, each checked.

    Parameters
    ----------
    search : str or None
        ``"?source=run:x&layer=3&k=40&tab=depth"``.
    sources : list of dict, optional
        The selectable sources (``[{"value", "label"}]``); default: every listed one.
    load : callable, optional
        ``load(source_id) -> WeightSet`` (default :func:`tdacnn.app.services.load_source`).
    default_source : str, optional
        The source shown when the URL names none (layer and iteration are checked against it).

    Returns
    -------
    UrlState
    """
    from tdacnn.app import services

    sources = services.list_sources() if sources is None else sources
    load = load or services.load_source
    raw = _raw_pairs(search)
    typed = from_query(search)
    state = UrlState()
    for name, value in raw.items():
        if name in VIEW_DEFAULTS:
            allowed = TABS if name == "tab" else MODES
            if value in allowed:
                state.view[name] = value
            else:
                state.problems.append(f"{name} {value!r} is not one of {', '.join(allowed)}; "
                                      f"{VIEW_DEFAULTS[name]} is shown")
        elif name == COLOR_KEY:
            if value not in COLOR_MODES:  # the colour-by control falls back (tdacnn.app.inspect.url_color)
                state.problems.append(f"color {value!r} is not one of {', '.join(COLOR_MODES)}; codensity is shown")
        elif name in CONTROLS and name not in ("source", "layer", "iteration"):
            try:
                state.controls[name] = _check_value(name, typed[name])
            except (UserError, ValueError) as exc:
                state.problems.append(f"{exc}; {_fallback(name)}")
    _read_source(raw, typed, sources, load, default_source, state)
    return state


def _read_source(raw: Mapping[str, str], typed: Mapping[str, Any], sources: list[dict],
                 load: Callable[[str], Any], default_source: str | None, state: UrlState) -> None:
    """Source, layer and iteration: each checked against the source the URL names (or the default one)."""
    from tdacnn.app import services

    if not any(k in raw for k in ("source", "layer", "iteration")):
        return
    values = [o["value"] for o in sources]
    source = raw.get("source")
    if source is not None and source not in values:
        state.problems.append(f"source {source!r} is not available; "
                              + (f"{default_source} is shown" if default_source else "choose one"))
        source = None
    if source is not None:
        state.controls["source"] = source
    source = source or default_source
    if source is None:
        return
    try:
        ws = load(source)
    except (UserError, ValueError) as exc:
        state.problems.append(str(exc))
        return
    state.layer_options = services.layer_options(ws)
    layers = ws.layers()
    layer = services.initial_layer(source, ws)
    if "layer" in raw:
        wanted = typed["layer"]
        if isinstance(wanted, int) and wanted in layers:
            layer = wanted
        else:
            span = f"{layers[0]} to {layers[-1]}" if layers else "none"
            state.problems.append(f"layer {raw['layer']!r} is not in {source} (layers {span}); "
                                  f"layer {layer} is shown")
    state.controls["layer"] = layer
    state.iteration_options = services.iteration_options(ws, layer)
    its = [o["value"] for o in state.iteration_options]
    iteration = its[-1] if its else None
    if "iteration" in raw:
        wanted = typed["iteration"]
        if isinstance(wanted, int) and wanted in its:
            iteration = wanted
        else:
            state.problems.append(f"iteration {raw['iteration']!r} was not saved for layer {layer} of {source} "
                                  f"(saved: {', '.join(map(str, its)) or 'none'}); iteration {iteration} is shown")
    state.controls["iteration"] = iteration


def session_file(request: ExploreRequest, query: str, view: Mapping[str, str] | None = None) -> dict:
    """A session: the view's URL query and the request it made (JSON-safe).

    The browser saves the same shape itself (``assets/explore.js``, from the
    address bar: it holds keys owned by other parts of the page too).
    """
    return {"format": SESSION_FORMAT, "version": 1, "query": query, "request": request.to_dict(),
            "view": dict(view or {})}


def session_query(content: bytes | str) -> str:
    """The query string a session file (or a graph's JSON export) restores.

    Raises
    ------
    UserError
        Not JSON, not a session or graph export, or a request that does not parse.
    """
    if isinstance(content, bytes):
        if len(content) > MAX_SESSION_BYTES:
            raise UserError(f"this file is {len(content) / 2**20:.1f} MB: a session file is a few kB")
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("this file is not a session: it is not text (a session is a .json file)") from None
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise UserError(f"this file is not a session: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UserError("this file is not a session: expected a JSON object with a 'query' or a 'request'")
    query = data.get("query")
    if isinstance(query, str):
        if query and not query.startswith("?"):
            raise UserError(f"the session's query must start with '?'; got {query[:40]!r}")
        return query
    if isinstance(data.get("request"), dict):
        try:
            request = ExploreRequest.from_dict(data["request"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"the request in this file does not parse ({exc})") from exc
        pairs = _raw_pairs(to_query(request))
        view = data.get("view") if isinstance(data.get("view"), dict) else {}
        pairs.update({k: str(v) for k, v in view.items() if k in VIEW_DEFAULTS and v != VIEW_DEFAULTS[k]})
        return "?" + urlencode(pairs) if pairs else ""
    raise UserError("this file is not a session: it has neither a 'query' nor a 'request' "
                    "(save one with 'Save session', or export a graph as JSON)")

