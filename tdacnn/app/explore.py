"""The Explore view: one Mapper graph with thumbnails, its barcode, and the controls.

Data flow on the page::

    url.search ─▶ load_url ─▶ controls ─▶ parse_controls ─▶ explore-request (Store)
                                                         ├─▶ update_graph ─▶ cytoscape, legend, summary, status
                                                         │   (persistence-only change: status only)
                                                         ├─▶ update_barcode ─▶ barcode / diagram
                                                         ├─▶ update_orientation ─▶ histogram
                                                         └─▶ (clientside) history.replaceState(query)

The URL is written with ``history.replaceState`` (not through ``dcc.Location``),
so writing it never re-triggers ``load_url``: no callback cycle.  Every callback
is a module-level function (tests call them directly) registered in
:func:`register`.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from tdacnn.app import services
from tdacnn.app.controls import CONTROLS, DEFAULTS, ExploreRequest, from_query, parse_request, to_query
from tdacnn.app.persistence_controls import barcode_view, persistence_group
from tdacnn.app.widgets import control_id
from tdacnn.app.widgets import label as _label
from tdacnn.app.widgets import number_input as _number_input
from tdacnn.app.widgets import slider as _slider
from tdacnn.errors import UserError
from tdacnn.topology.params import CHANNEL_MODES, CLUSTERERS, LENSES
from tdacnn.view.cytoscape import LayoutMemory, PRESET_LAYOUT, graph_elements, memory_from_elements, stylesheet
from tdacnn.view.figures import EXPORT_CONFIG, empty_figure, orientation_figure

__all__ = ["layout", "register", "default_source", "load_url", "update_selectors", "parse_controls", "update_graph",
           "update_barcode", "update_orientation", "control_id", "refresh_sources"]

log = logging.getLogger(__name__)

_LENS_LABELS = {"pca1": "PCA 1", "pca2": "PCA 1+2", "codensity": "codensity", "angle": "circle angle"}
_CLUSTER_LABELS = {"single": "single linkage (distance cut)", "dbscan": "DBSCAN (eps, min samples)"}


#: Sliders whose value is echoed in their label (clientside, no round trip).
_ECHOED = ("k", "p", "n_cubes", "overlap")


def _selectors(source: str, ws_options: tuple[list, list, Any, Any]) -> list:
    layers, iterations, layer, iteration = ws_options
    return [
        _label("Source", dcc.Dropdown(id=control_id("source"), options=services.list_sources(), value=source,
                                      clearable=False)),
        _label("Layer", dcc.Dropdown(id=control_id("layer"), options=layers, value=layer, clearable=False)),
        _label("Iteration", dcc.Dropdown(id=control_id("iteration"), options=iterations, value=iteration,
                                         clearable=False)),
        _label("Channels", dcc.Dropdown(id=control_id("channels"), value=DEFAULTS["channels"], clearable=False,
                                        options=[{"label": {"each": "each input channel", "sum": "sum over inputs",
                                                            "mean": "mean over inputs"}[c], "value": c}
                                                 for c in CHANNEL_MODES]),
               title="which 2-D slices of the weights become points"),
    ]


def _initial_options(source: str):
    try:
        ws = services.load_source(source)
    except (UserError, ValueError):
        return [], [], None, None
    layers = services.layer_options(ws)
    layer = services.initial_layer(source, ws)
    its = services.iteration_options(ws, layer)
    return layers, its, layer, (its[-1]["value"] if its else None)


def default_source(sources: list[dict] | None = None) -> str | None:
    """The source shown on a fresh page: the shipped default run, else the first listed."""
    sources = services.list_sources() if sources is None else sources
    if any(o["value"] == DEFAULTS["source"] for o in sources):
        return DEFAULTS["source"]
    return sources[0]["value"] if sources else None


def layout() -> html.Div:
    """The Explore tab (built per page load, so the source list is fresh)."""
    sources = services.list_sources()
    source = default_source(sources)
    controls = html.Div([
        html.H4("Data"),
        *_selectors(source, _initial_options(source) if source else ([], [], None, None)),
        html.H4("Density filter"),
        _label("k (k-th nearest neighbour)", _slider("k", 1, 300, 1), echo="k",
               title="codensity of a point = distance to its k-th nearest neighbour"),
        _label("p (% densest kept)", _slider("p", 1, 100, 1), echo="p"),
        html.H4("Mapper"),
        _label("Lens", dcc.RadioItems(id=control_id("lens"), value=DEFAULTS["lens"], inline=True,
                                      options=[{"label": _LENS_LABELS[x], "value": x} for x in LENSES])),
        _label("Intervals per lens dimension", _slider("n_cubes", 1, 40, 1), echo="n_cubes"),
        _label("Overlap", _slider("overlap", 0.05, 0.9, 0.05), echo="overlap",
               title="fraction by which neighbouring intervals overlap"),
        _label("Clusterer", dcc.RadioItems(id=control_id("clusterer"), value=DEFAULTS["clusterer"],
                                           options=[{"label": _CLUSTER_LABELS[c], "value": c} for c in CLUSTERERS])),
        html.Div([_label("distance cut", _number_input("distance_cut", 0.05)),
                  _label("eps", _number_input("eps", 0.05)),
                  _label("min samples", _number_input("min_samples", 1))], className="ctl-row"),
        *persistence_group(),
        html.Div(id="explore-status", className="status", role="status"),
        html.Div(id="explore-summary", className="summary"),
        html.H4("Export"),
        html.Div([
            html.Button("Graph PNG", id="explore-export-png", className="btn"),
            html.Button("Graph JSON", id="explore-export-json", className="btn"),
            html.Button("Selected → CSV", id="explore-export-csv", className="btn",
                        title="members of the selected nodes (shift-click or shift-drag to select)"),
            html.Button("Selected → NPZ", id="explore-export-npz", className="btn"),
            html.Button("Barcode PNG", id="explore-barcode-png", className="btn"),
            html.Button("Barcode SVG", id="explore-barcode-svg", className="btn"),
        ], className="btn-row"),
        html.Div("Shift+drag or shift+click selects several nodes.", className="hint"),
        dcc.Download(id="explore-download"),
    ], className="controls")

    import dash_cytoscape as cyto

    graph = html.Div([
        dcc.Loading(
            cyto.Cytoscape(id="explore-graph", elements=[], stylesheet=stylesheet(), layout=PRESET_LAYOUT,
                           boxSelectionEnabled=True, minZoom=0.1, maxZoom=5, responsive=True,
                           style={"width": "100%", "height": "600px"}),
            # the first view of a large cloud takes seconds (k-NN table): say so, keep the old graph visible
            type="circle", delay_show=500, target_components={"explore-graph": "elements"},
            overlay_style={"visibility": "visible", "opacity": 0.6}),
        html.Div(id="explore-legend", className="legend"),
        html.Div(id="explore-gallery", className="gallery"),
    ], className="graph-col")
    side = html.Div([
        dcc.RadioItems(id="explore-barcode-mode", value="barcode", inline=True,
                       options=[{"label": "barcode", "value": "barcode"},
                                {"label": "persistence diagram", "value": "diagram"}]),
        dcc.Loading(dcc.Graph(id="explore-barcode", figure=empty_figure("computing the barcode…"),
                              config=EXPORT_CONFIG), type="dot", delay_show=400),
        dcc.Graph(id="explore-orientation", figure=empty_figure("", height=260),
                  config={**EXPORT_CONFIG, "toImageButtonOptions": {"format": "png", "filename": "orientation"}}),
    ], className="side-col")
    return html.Div([
        dcc.Store(id="explore-request"),
        dcc.Store(id="explore-memory"),
        dcc.Store(id="explore-query"),
        html.Div(id="explore-url-sink", hidden=True),
        html.Div(id="explore-barcode-sink", hidden=True),
        html.Div([controls, graph, side], className="explore"),
    ])


# ---- callbacks -------------------------------------------------------------
def load_url(search: str | None):
    """Page load: control values from the URL query string (no_update where absent)."""
    values = from_query(search)
    return tuple(values.get(name, no_update) for name in CONTROLS)


def update_selectors(source: str | None, layer: int | None, iteration: int | None):
    """A new source or layer: refresh the layer and iteration choices (keep valid values)."""
    if not source:
        return [], [], None, None
    try:
        ws = services.load_source(source)
    except (UserError, ValueError):
        return [], [], None, None
    layers = services.layer_options(ws)
    valid_layers = [o["value"] for o in layers]
    new_layer = layer if layer in valid_layers else services.initial_layer(source, ws)
    its = services.iteration_options(ws, new_layer)
    valid_its = [o["value"] for o in its]
    new_it = iteration if iteration in valid_its else (valid_its[-1] if valid_its else None)
    return (layers, its, new_layer if new_layer != layer else no_update,
            new_it if new_it != iteration else no_update)


def parse_controls(*values):
    """Control values → the request (a dict) and the URL query; or the error."""
    try:
        request = parse_request(dict(zip(CONTROLS, values)))
    except (UserError, ValueError) as exc:
        return {"error": str(exc)}, no_update
    return request.to_dict(), to_query(request)


def _request(data: dict | None) -> ExploreRequest:
    if not data:
        raise UserError("no view requested yet")
    if "error" in data:
        raise UserError(data["error"])
    return ExploreRequest.from_dict(data)


def _memory(data: dict | None, request: ExploreRequest) -> LayoutMemory | None:
    """The previous drawing: members from the memoised previous graph when it is at hand."""
    if not data or not data.get("positions"):
        return None
    import numpy as np

    positions = {k: tuple(v) for k, v in data["positions"].items()}
    filters = {k: np.asarray(v) for k, v in data.get("filters", {}).items()}
    prev = data.get("request")
    if prev:
        try:
            old = services.compute_graph(ExploreRequest.from_dict(prev))
            return memory_from_elements([{"data": {"id": k}, "position": {"x": x, "y": y}}
                                         for k, (x, y) in positions.items()],
                                        old.graph, old.members_space(), old.space)
        except Exception:  # noqa: BLE001 - an old view that no longer computes: fall back to similarity
            log.debug("previous graph unavailable; matching nodes by mean filter", exc_info=True)
    return LayoutMemory(positions, filters)


def _summary(result: services.GraphResult) -> list:
    s = result.summary
    n_cloud, n_dense = len(result.cloud), len(result.dense.cloud)

    def plural(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    return [
        html.Div(f"{plural(s['nodes'], 'node')} · {plural(s['edges'], 'edge')} · "
                 f"{plural(s['components'], 'component')} · {plural(s.get('betti1', s.get('cycle_rank', 0)), 'loop')}",
                 className="summary-main"),
        html.Div(f"{n_cloud:,} filters → {n_dense:,} densest kept "
                 f"(k = {result.request.density.k}, p = {result.request.density.p:g}%)"
                 + (f"; {result.cloud.n_dropped} constant filters dropped" if result.cloud.n_dropped else ""),
                 className="summary-sub"),
    ]


def _legend(leg) -> list:
    return [
        html.Span(leg.title, className="legend-title"),
        html.Span(f"{leg.low_label} {leg.low:.3g}", className="legend-end"),
        html.Span(className="legend-bar", style={"background": leg.gradient()}),
        html.Span(f"{leg.high:.3g} {leg.high_label}", className="legend-end"),
        html.Span("node size: members", className="legend-note"),
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


def update_graph(request_data: dict | None, memory_data: dict | None):
    """The request → (elements, legend, summary, status, memory).

    When the graph drawn (``memory_data``) is already the request's — only the
    persistence settings changed — nothing is recomputed or redrawn: the status
    line alone is updated (with why the barcode cannot be computed, if so).
    """
    try:
        request = _request(request_data)
        if _same_graph(memory_data, request):
            return no_update, no_update, no_update, services.persistence_problem(request), no_update
        result = services.compute_graph(request)
        previous = _memory(memory_data, request)
        elements = graph_elements(result.graph, previous, members_space=result.members_space(),
                                  space=result.space)
    except (UserError, ValueError) as exc:
        return no_update, no_update, no_update, str(exc), no_update
    except Exception as exc:  # noqa: BLE001 - show one sentence, log the rest
        log.exception("graph failed")
        return no_update, no_update, no_update, f"could not compute the graph: {exc}", no_update
    from tdacnn.view.cytoscape import legend

    memory = {"request": request.to_dict(),
              "positions": {el["data"]["id"]: [el["position"]["x"], el["position"]["y"]]
                            for el in elements if "position" in el},
              "filters": {n.id: [round(float(v), 4) for v in n.mean_filter.ravel()] for n in result.graph.nodes}}
    status = "" if result.graph.nodes else "no nodes: loosen the clusterer (bigger distance cut/eps) or keep more points"
    status = " ".join(s for s in (status, services.persistence_problem(request)) if s)
    return elements, _legend(legend(result.graph)), _summary(result), status, memory


def update_barcode(request_data: dict | None, mode: str):
    """The request → barcode (or persistence diagram) of its density-filtered cloud, with its
    persistence settings; a bad setting keeps the last barcode (the status line says why)."""
    try:
        request = _request(request_data)
        bc = services.compute_barcode(request)
    except (UserError, ValueError):
        return no_update
    except Exception as exc:  # noqa: BLE001
        log.exception("barcode failed")
        return empty_figure(f"barcode failed: {exc}")
    return barcode_view(bc, mode, request.persistence.coeff)


def update_orientation(request_data: dict | None):
    """The request → orientation histogram of its density-filtered cloud."""
    try:
        request = _request(request_data)
        angles = services.compute_angles(request)
    except (UserError, ValueError):
        return no_update
    if len(angles) == 0:
        return empty_figure("orientation is defined for 3×3 filters", height=260)
    return orientation_figure(angles, title=f"orientation of the {len(angles):,} densest filters")


def refresh_sources(_tab: Any, _changed: Any):
    """Re-list the sources (a training run finished, a checkpoint was loaded)."""
    return services.list_sources()


_WRITE_URL = """
function(query) {
    if (query === undefined || query === null) { return window.dash_clientside.no_update; }
    const url = window.location.pathname + query + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
        window.history.replaceState(window.history.state, '', url);
    }
    return window.dash_clientside.no_update;
}
"""


_DOWNLOAD_BARCODE = """
function(png, svg) {
    const ctx = window.dash_clientside.callback_context;
    const fmt = (ctx.triggered.length && ctx.triggered[0].prop_id.startsWith('explore-barcode-svg')) ? 'svg' : 'png';
    const gd = document.querySelector('#explore-barcode .js-plotly-plot');
    if (gd && window.Plotly) { window.Plotly.downloadImage(gd, {format: fmt, filename: 'barcode', scale: 2}); }
    return window.dash_clientside.no_update;
}
"""


def register(app) -> None:
    """Register the Explore callbacks on ``app``."""
    from tdacnn.app import gallery

    controls = [Output(control_id(n), "value", allow_duplicate=True) for n in CONTROLS]
    app.callback(*controls, Input("url", "search"), prevent_initial_call="initial_duplicate")(load_url)
    app.callback(
        Output(control_id("layer"), "options"), Output(control_id("iteration"), "options"),
        Output(control_id("layer"), "value", allow_duplicate=True),
        Output(control_id("iteration"), "value", allow_duplicate=True),
        Input(control_id("source"), "value"), Input(control_id("layer"), "value"),
        State(control_id("iteration"), "value"), prevent_initial_call=True)(update_selectors)
    app.callback(Output("explore-request", "data"), Output("explore-query", "data"),
                 *[Input(control_id(n), "value") for n in CONTROLS])(parse_controls)
    app.callback(Output("explore-graph", "elements"), Output("explore-legend", "children"),
                 Output("explore-summary", "children"), Output("explore-status", "children"),
                 Output("explore-memory", "data"),
                 Input("explore-request", "data"), State("explore-memory", "data"))(update_graph)
    app.callback(Output("explore-barcode", "figure"), Input("explore-request", "data"),
                 Input("explore-barcode-mode", "value"))(update_barcode)
    app.callback(Output("explore-orientation", "figure"), Input("explore-request", "data"))(update_orientation)
    app.callback(Output(control_id("source"), "options"), Input("tabs", "value"),
                 Input("jobs-sources-version", "data"), prevent_initial_call=True)(refresh_sources)
    for name in _ECHOED:
        app.clientside_callback("function(v) { return (v === null || v === undefined) ? '' : String(v); }",
                                Output(f"{control_id(name)}-value", "children"), Input(control_id(name), "value"))
    app.clientside_callback(_DOWNLOAD_BARCODE, Output("explore-barcode-sink", "children"),
                            Input("explore-barcode-png", "n_clicks"), Input("explore-barcode-svg", "n_clicks"),
                            prevent_initial_call=True)
    app.clientside_callback(_WRITE_URL, Output("explore-url-sink", "children"), Input("explore-query", "data"),
                            prevent_initial_call=True)
    gallery.register(app)
