"""The Explore view's callbacks: one Mapper graph with thumbnails, its barcode, and the controls.

Data flow on the page (components in :mod:`tdacnn.app.explore_layout`; the
controls' side, up to the request, in :mod:`tdacnn.app.explore_controls`)::

    url.search ─▶ load_url ─▶ controls, tab, barcode mode, automatic names, notice, explore-ready
    controls, explore-ready, explore-auto ─▶ parse_view ─▶ explore-request (Store), explore-query, explore-auto
        explore-request ─▶ (clientside markBusy) "computing …" over the graph when the graph changes
                        ├─▶ update_graph ─▶ cytoscape, legend, summary, status, explore-memory
                        │   (persistence-only change: status only; an error clears the graph)
                        ├─▶ update_barcode ─▶ barcode / diagram (an error replaces it with its sentence)
                        └─▶ update_orientation ─▶ histogram
    explore-memory ─▶ (clientside afterGraph) fit the new graph, the overlay (error / no nodes),
                      the values computed from the data into the automatic controls
    explore-query, tab, barcode mode ─▶ (clientside writeUrl) history.replaceState, other keys kept

A control is *automatic* while its name is in ``explore-auto``: the request
leaves it to the data (:data:`tdacnn.app.controls.AUTO_CONTROLS`), the graph
reports the value used (``GraphResult.resolved``) and the control shows it,
marked "auto".  Moving the control off that value makes it explicit (it goes
into the URL and survives a change of layer or source); its "auto" button, or
"all automatic", gives it back to the data.

Node positions are carried over only when the same cloud (source, layer,
iteration, channels: the same points) is filtered or clustered again; any other
graph is laid out afresh, and every new graph is fitted to the view.

The URL is written with ``history.replaceState`` (not through ``dcc.Location``),
so writing it never re-triggers ``load_url``: no callback cycle.  Every callback
is a module-level function (tests call them directly; those of
:mod:`tdacnn.app.explore_controls` are re-exported here) registered in
:func:`register`; the JavaScript is in ``assets/explore.js``.
"""

from __future__ import annotations

import logging
import textwrap
from typing import Any

from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update

from tdacnn.app import inspect, services
from tdacnn.app.controls import AUTO_CONTROLS, CONTROLS, ExploreRequest
from tdacnn.app.explore_controls import (load_session, load_url, parse_controls, parse_view, reset_auto, track_auto,
                                         update_selectors, watch_source, refresh_iterations)
from tdacnn.app.explore_layout import ECHOED, default_source, layout
from tdacnn.app.persistence_controls import barcode_view
from tdacnn.app.widgets import AUTO_RESET, control_id, ctl_id
from tdacnn.errors import UserError
from tdacnn.view.cytoscape import LayoutMemory, graph_elements, memory_from_elements
from tdacnn.view.figures import empty_figure, orientation_figure

__all__ = ["layout", "register", "default_source", "load_url", "update_selectors", "parse_controls", "parse_view",
           "track_auto", "reset_auto", "update_graph", "update_barcode", "update_orientation", "update_klein",
           "update_fields", "barcode_panel", "fields_panel", "control_id",
           "refresh_sources", "load_session"]

log = logging.getLogger(__name__)

NO_NODES = "no nodes: loosen the clusterer (bigger distance cut/eps) or keep more points"


# ---- request → graph, barcode, histogram ------------------------------------------
def _request(data: dict | None) -> ExploreRequest:
    if not data:
        raise UserError("no view requested yet")
    if "error" in data:
        raise UserError(data["error"])
    return ExploreRequest.from_dict(data)


def _memory(data: dict | None, result: services.GraphResult) -> LayoutMemory | None:
    """The drawing on the page, to keep nodes in place — only when it shows the same cloud."""
    if not data or not data.get("positions") or data.get("space") != result.space or not data.get("request"):
        return None
    try:
        old = services.compute_graph(ExploreRequest.from_dict(data["request"]))
    except Exception:  # noqa: BLE001 - an old view that no longer computes: draw afresh
        log.debug("previous graph unavailable; fresh layout", exc_info=True)
        return None
    return memory_from_elements([{"data": {"id": k}, "position": {"x": x, "y": y}}
                                 for k, (x, y) in data["positions"].items()],
                                old.graph, old.members_space(), old.space)


def _summary(result: services.GraphResult) -> list:
    s = result.summary
    n_cloud, n_dense = len(result.cloud), len(result.dense.cloud)

    def plural(n, word):
        return f"{n:,} {word}{'' if n == 1 else 's'}"

    return [
        html.Div(f"{plural(s['nodes'], 'node')} · {plural(s['edges'], 'edge')} · "
                 f"{plural(s['components'], 'component')} · {plural(s.get('betti1', s.get('cycle_rank', 0)), 'loop')}",
                 className="summary-main"),
        html.Div(f"{n_cloud:,} filters → {n_dense:,} densest kept "
                 f"(k = {result.request.density.k}, p = {result.request.density.p:g}%)"
                 + (f"; {result.cloud.n_dropped} constant filters dropped" if result.cloud.n_dropped else ""),
                 className="summary-sub"),
    ]


def _same_graph(memory_data: dict | None, request: ExploreRequest) -> bool:
    """Whether the graph on the page (``memory_data``) is the request's: only persistence settings changed."""
    prev = (memory_data or {}).get("request")
    if not prev or not memory_data.get("positions"):
        return False
    try:
        return ExploreRequest.from_dict(prev).key() == request.key()
    except (KeyError, TypeError, ValueError):
        return False


def _stamp(memory_data: dict | None) -> int:
    stamp = (memory_data or {}).get("stamp")
    return stamp if isinstance(stamp, int) else 0


def _failed(message: str, request_data: dict | None, memory_data: dict | None):
    """No graph: everything it drew is cleared, the sentence goes over the graph and in the status line."""
    return [], [], [], message, {"error": message, "stamp": _stamp(memory_data),
                                 "request": None if "error" in (request_data or {}) else request_data}


def update_graph(request_data: dict | None, memory_data: dict | None):
    """The request → (elements, legend, summary, status, memory).

    ``memory`` describes the graph drawn: the request it answers, the cloud
    (``space``), node positions, the values computed from the data
    (``resolved``), a ``stamp`` that changes with every new graph (the page fits
    it to the view), or ``error`` when there is no graph.  When the graph drawn
    is already the request's — only the persistence settings changed — nothing
    is recomputed or redrawn: the status line alone is updated.
    """
    try:
        request = _request(request_data)
        if _same_graph(memory_data, request):
            return no_update, no_update, no_update, services.persistence_problem(request), no_update
        result = services.compute_graph(request)
        services.check_drawable(result)
        previous = _memory(memory_data, result)
        points = inspect.point_info(result)  # provenance and lens: colour modes and tooltips
        elements = graph_elements(result.graph, previous, members_space=result.members_space(),
                                  space=result.space, points=points)
    except (UserError, ValueError) as exc:
        return _failed(str(exc), request_data, memory_data)
    except Exception as exc:  # noqa: BLE001 - show one sentence, log the rest
        log.exception("graph failed")
        return _failed(f"could not compute the graph: {exc}", request_data, memory_data)
    memory = {"request": request.to_dict(), "space": result.space, "stamp": _stamp(memory_data) + 1,
              "resolved": dict(result.resolved),
              "positions": {el["data"]["id"]: [el["position"]["x"], el["position"]["y"]]
                            for el in elements if "position" in el},
              "message": "" if result.graph.nodes else NO_NODES}
    status = " ".join(s for s in (memory["message"], services.persistence_problem(request)) if s)
    return elements, inspect.legend_children(result.graph, points), _summary(result), status, memory


def update_barcode(request_data: dict | None, mode: str, wait: bool = True):
    """The request → barcode (or persistence diagram) of its density-filtered cloud, with its
    persistence settings; when it cannot be computed, a blank figure saying why.  With ``wait=False``
    the bars come at once and the verdict later (:func:`barcode_panel`)."""
    return _barcode(request_data, mode, wait)[0]


def _barcode(request_data: dict | None, mode: str, wait: bool):
    try:
        request = _request(request_data)
        bc = services.compute_barcode(request, wait=wait)
    except (UserError, ValueError) as exc:
        return empty_figure("<br>".join(textwrap.wrap(f"no barcode: {exc}", 55))), False
    except Exception as exc:  # noqa: BLE001
        log.exception("barcode failed")
        return empty_figure(f"barcode failed: {exc}"), False
    return barcode_view(bc, mode, request.persistence.coeff), bc.pending


def barcode_panel(request_data: dict | None, mode: str, _poll: Any = None):
    """The barcode callback: the bars at once; while their test against random filters runs, the
    poll stays on and redraws the figure with the verdict when it is there."""
    figure, pending = _barcode(request_data, mode, wait=False)
    return figure, not pending


def update_orientation(request_data: dict | None):
    """The request → orientation histogram of its density-filtered cloud (blank when there is none)."""
    try:
        request = _request(request_data)
        angles = services.compute_angles(request)
    except (UserError, ValueError):
        return empty_figure("", height=260)
    if len(angles) == 0:
        return empty_figure("orientation is defined for 3×3 filters", height=260)
    return orientation_figure(angles, title=f"orientation of the {len(angles):,} densest filters")


def update_klein(request_data: dict | None):
    """The request → its filtered cloud on the Klein bottle, fractions in the caption (blank when none)."""
    from tdacnn.view.klein import klein_figure

    try:
        coords, fractions = services.compute_klein(_request(request_data))
    except (UserError, ValueError) as exc:
        return empty_figure("<br>".join(textwrap.wrap(f"no Klein-bottle map: {exc}", 55)), height=330)
    except Exception as exc:  # noqa: BLE001
        log.exception("Klein-bottle map failed")
        return empty_figure(f"Klein-bottle map failed: {exc}", height=330)
    return klein_figure(coords.alpha, coords.phi, fractions)


def update_fields(request_data: dict | None, wait: bool = True):
    """The request → its barcodes over Z/2 and Z/3 side by side (blank, saying why, when none)."""
    return _fields(request_data, wait)[0]


def _fields(request_data: dict | None, wait: bool):
    from tdacnn.view.klein import fields_figure

    try:
        bars = services.compute_field_barcodes(_request(request_data), wait=wait)
    except (UserError, ValueError) as exc:
        return empty_figure("<br>".join(textwrap.wrap(f"no Z/2, Z/3 barcodes: {exc}", 55)), height=260), False
    except Exception as exc:  # noqa: BLE001
        log.exception("Z/2, Z/3 barcodes failed")
        return empty_figure(f"Z/2, Z/3 barcodes failed: {exc}", height=260), False
    return fields_figure(bars.get(2), bars.get(3)), any(b.pending for b in bars.values())


def fields_panel(request_data: dict | None, _poll: Any = None):
    """The Z/2 | Z/3 callback: bars at once, verdicts when their tests are done (as :func:`barcode_panel`)."""
    figure, pending = _fields(request_data, wait=False)
    return figure, not pending


def refresh_sources(_tab: Any, _changed: Any):
    """Re-list the sources (a training run finished, a checkpoint was loaded)."""
    return services.list_sources()


_DOWNLOAD_BARCODE = """
function(png, svg) {
    const ctx = window.dash_clientside.callback_context;
    const fmt = (ctx.triggered.length && ctx.triggered[0].prop_id.startsWith('explore-barcode-svg')) ? 'svg' : 'png';
    const gd = document.querySelector('#explore-barcode .js-plotly-plot');
    if (gd && window.Plotly) { window.Plotly.downloadImage(gd, {format: fmt, filename: 'barcode', scale: 2}); }
    return window.dash_clientside.no_update;
}
"""


def _js(name: str) -> ClientsideFunction:
    return ClientsideFunction("tdacnnExplore", name)


def register(app) -> None:
    """Register the Explore callbacks on ``app``."""
    from tdacnn.app import gallery

    auto_values = [Output(control_id(n), "value", allow_duplicate=True) for n in AUTO_CONTROLS]
    app.callback(*[Output(control_id(n), "value", allow_duplicate=True) for n in CONTROLS],
                 Output(control_id("layer"), "options", allow_duplicate=True),
                 Output(control_id("iteration"), "options", allow_duplicate=True),
                 Output("explore-auto", "data", allow_duplicate=True), Output("tabs", "value"),
                 Output("explore-barcode-mode", "value"), Output("explore-notice", "children", allow_duplicate=True),
                 Output("explore-ready", "data"),
                 Input("url", "search"), prevent_initial_call="initial_duplicate")(load_url)
    app.callback(
        Output(control_id("layer"), "options"), Output(control_id("iteration"), "options"),
        Output(control_id("layer"), "value", allow_duplicate=True),
        Output(control_id("iteration"), "value", allow_duplicate=True),
        Input(control_id("source"), "value"), Input(control_id("layer"), "value"),
        State(control_id("iteration"), "value"), prevent_initial_call=True)(update_selectors)
    app.callback(Output("explore-request", "data"), Output("explore-query", "data"),
                 Output("explore-auto", "data"),
                 *[Input(control_id(n), "value") for n in CONTROLS], Input("explore-ready", "data"),
                 Input("explore-auto", "data"), State("explore-memory", "data"),
                 State("explore-request", "data"))(parse_view)
    app.callback(Output("explore-auto", "data", allow_duplicate=True),
                 Input({"type": AUTO_RESET, "name": ALL}, "n_clicks"), Input("explore-auto-all", "n_clicks"),
                 State("explore-auto", "data"), prevent_initial_call=True)(reset_auto)
    app.callback(Output("explore-graph", "elements"), Output("explore-legend", "children"),
                 Output("explore-summary", "children"), Output("explore-status", "children"),
                 Output("explore-memory", "data"),
                 Input("explore-request", "data"), State("explore-memory", "data"))(update_graph)
    app.callback(Output("explore-barcode", "figure"), Output("explore-barcode-poll", "disabled"),
                 Input("explore-request", "data"), Input("explore-barcode-mode", "value"),
                 Input("explore-barcode-poll", "n_intervals"))(barcode_panel)
    app.callback(Output("explore-orientation", "figure"), Input("explore-request", "data"))(update_orientation)
    app.callback(Output("explore-klein", "figure"), Input("explore-request", "data"))(update_klein)
    app.callback(Output("explore-fields", "figure"), Output("explore-fields-poll", "disabled"),
                 Input("explore-request", "data"), Input("explore-fields-poll", "n_intervals"))(fields_panel)
    app.callback(Output("explore-source-stamp", "data"), Input("explore-watch", "n_intervals"),
                 State(control_id("source"), "value"), State("explore-source-stamp", "data"),
                 prevent_initial_call=True)(watch_source)
    app.callback(Output(control_id("layer"), "options", allow_duplicate=True),
                 Output(control_id("iteration"), "options", allow_duplicate=True),
                 Input("explore-source-stamp", "data"), State(control_id("source"), "value"),
                 State(control_id("layer"), "value"), State(control_id("iteration"), "value"),
                 prevent_initial_call=True)(refresh_iterations)
    app.callback(Output(control_id("source"), "options"), Input("tabs", "value"),
                 Input("jobs-sources-version", "data"), prevent_initial_call=True)(refresh_sources)
    app.callback(Output("explore-goto", "data"), Output("explore-notice", "children", allow_duplicate=True),
                 Input("explore-session-upload", "contents"), State("explore-session-upload", "filename"),
                 prevent_initial_call=True)(load_session)

    # clientside (assets/explore.js): no round trip
    app.clientside_callback(_js("markBusy"), Output("explore-graph-message", "children", allow_duplicate=True),
                            Output("explore-graph-overlay", "className", allow_duplicate=True),
                            Output("explore-summary", "className", allow_duplicate=True),
                            Input("explore-request", "data"), State("explore-memory", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(_js("afterGraph"), Output("explore-graph", "layout"),
                            Output("explore-graph-message", "children"), Output("explore-graph-overlay", "className"),
                            Output("explore-summary", "className"), *auto_values, Input("explore-memory", "data"), State("explore-auto", "data"),
                            State("explore-config", "data"), *[State(control_id(n), "value") for n in AUTO_CONTROLS],
                            prevent_initial_call=True)
    app.clientside_callback(_js("autoMarks"), *[Output(ctl_id(n), "className") for n in AUTO_CONTROLS],
                            Input("explore-auto", "data"), State("explore-config", "data"))
    app.clientside_callback(_js("writeUrl"), Output("explore-url-sink", "children"), Input("explore-query", "data"),
                            Input("tabs", "value"), Input("explore-barcode-mode", "value"),
                            State("explore-config", "data"), prevent_initial_call=True)
    app.clientside_callback(_js("zoom"), Output("explore-zoom-sink", "children"), Input("explore-zoom-in", "n_clicks"),
                            Input("explore-zoom-out", "n_clicks"), Input("explore-fit", "n_clicks"),
                            prevent_initial_call=True)
    app.clientside_callback(_js("saveSession"), Output("explore-session-download", "data"),
                            Input("explore-session-save", "n_clicks"), State("explore-request", "data"),
                            State("explore-memory", "data"), prevent_initial_call=True)
    app.clientside_callback("function(n) { return n ? '' : window.dash_clientside.no_update; }",
                            Output("explore-notice", "children", allow_duplicate=True),
                            Input("explore-notice-close", "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(_js("goto"), Output("explore-url-sink", "children", allow_duplicate=True),
                            Input("explore-goto", "data"), prevent_initial_call=True)
    for name in ECHOED:
        app.clientside_callback("function(v) { return (v === null || v === undefined) ? '…' : String(v); }",
                                Output(f"{control_id(name)}-value", "children"), Input(control_id(name), "value"))
    app.clientside_callback(_DOWNLOAD_BARCODE, Output("explore-barcode-sink", "children"),
                            Input("explore-barcode-png", "n_clicks"), Input("explore-barcode-svg", "n_clicks"),
                            prevent_initial_call=True)
    gallery.register(app)
    inspect.register(app)
