"""The Explore tab's components: controls, the graph with its overlay and zoom buttons, the barcode.

Ids are ``explore-…``; the controls' ids come from :func:`tdacnn.app.widgets.control_id`.
The callbacks that drive them are in :mod:`tdacnn.app.explore`.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from tdacnn.app import inspect, services
from tdacnn.app.controls import AUTO_CONTROLS, DEFAULTS
from tdacnn.app.persistence_controls import persistence_group
from tdacnn.app.url import MAX_SESSION_BYTES, OWNED_KEYS, SLIDER_RANGES, VIEW_DEFAULTS
from tdacnn.app.widgets import control_id, label, number_input, slider
from tdacnn.topology.params import CHANNEL_MODES, CLUSTERERS, available_lenses
from tdacnn.view.cytoscape import PRESET_LAYOUT, stylesheet
from tdacnn.view.figures import EXPORT_CONFIG, empty_figure

__all__ = ["layout", "watcher", "default_source", "lens_options", "ECHOED", "WHEEL_SENSITIVITY", "page_config"]

#: How often the page looks for new snapshots in the source on view (milliseconds).
WATCH_MS = 3000
#: How often a barcode waiting for its verdict is looked at again (milliseconds).
POLL_MS = 1500

_LENS_LABELS = {"pca1": "PCA 1", "pca2": "PCA 1+2", "codensity": "codensity", "angle": "circle angle",
                "umap": "UMAP (2-D)"}
_CLUSTER_LABELS = {"single": "single linkage (distance cut)", "dbscan": "DBSCAN (eps, min samples)"}
#: Sliders whose value is echoed in their label (clientside, no round trip).
ECHOED = ("k", "p", "n_cubes", "overlap")
#: Cytoscape's wheel zoom is 10**(sensitivity * notch / 250): about x1.25 a notch here (x2.5 at 1).
WHEEL_SENSITIVITY = 0.25


def lens_options() -> list[dict]:
    """The Lens radio's options: the built-in lenses whose package is installed (UMAP needs umap-learn)."""
    return [{"label": _LENS_LABELS[x], "value": x} for x in available_lenses()]


def page_config() -> dict:
    """What the page's scripts need to know (``explore-config``): automatic controls, URL keys."""
    return {"auto": list(AUTO_CONTROLS), "owned": list(OWNED_KEYS), "view_defaults": dict(VIEW_DEFAULTS)}


def default_source(sources: list[dict] | None = None) -> str | None:
    """The source shown on a fresh page: the first opened on the command line (``python app.py FILE``),
    else the shipped default run, else the first listed."""
    sources = services.list_sources() if sources is None else sources
    values = [o["value"] for o in sources]
    for wanted in (*services.opened_sources(), DEFAULTS["source"]):
        if wanted in values:
            return wanted
    return values[0] if values else None


def _selectors(source: str | None, ws_options: tuple[list, list, Any, Any]) -> list:
    layers, iterations, layer, iteration = ws_options
    return [
        label("Source", dcc.Dropdown(id=control_id("source"), options=services.list_sources(), value=source,
                                     clearable=False)),
        label("Layer", dcc.Dropdown(id=control_id("layer"), options=layers, value=layer, clearable=False)),
        label("Iteration", dcc.Dropdown(id=control_id("iteration"), options=iterations, value=iteration,
                                        clearable=False)),
        label("Channels", dcc.Dropdown(id=control_id("channels"), value=DEFAULTS["channels"], clearable=False,
                                       options=[{"label": {"each": "each input channel", "sum": "sum over inputs",
                                                           "mean": "mean over inputs"}[c], "value": c}
                                                for c in CHANNEL_MODES]),
              title="which 2-D slices of the weights become points"),
    ]


def _initial_options(source: str | None):
    return services.selector_choices(source)


def _slider(name: str, step: float):
    lo, hi = SLIDER_RANGES[name]
    return slider(name, lo, hi, step)


def _controls(source: str | None) -> html.Div:
    return html.Div([
        html.H4("Data"),
        *_selectors(source, _initial_options(source)),
        html.Div([
            html.H4("Density filter"),
            html.Button("all automatic", id="explore-auto-all", className="link-btn", n_clicks=0,
                        title="every density, cover and clustering value back to the one computed from the data"),
        ], className="group-head"),
        label("k (k-th nearest neighbour)", _slider("k", 1), echo="k", auto="k",
              title="codensity of a point = distance to its k-th nearest neighbour"),
        label("p (% densest kept)", _slider("p", 1), echo="p", auto="p"),
        html.H4("Mapper"),
        label("Lens", dcc.RadioItems(id=control_id("lens"), value=DEFAULTS["lens"], inline=True,
                                     options=lens_options()),
              title="UMAP (2-D) is offered where umap-learn is installed; its first use in a process takes seconds"),
        label("Intervals per lens dimension", _slider("n_cubes", 1), echo="n_cubes", auto="n_cubes"),
        label("Overlap", _slider("overlap", 0.05), echo="overlap", auto="overlap",
              title="fraction by which neighbouring intervals overlap"),
        label("Clusterer", dcc.RadioItems(id=control_id("clusterer"), value=DEFAULTS["clusterer"],
                                          options=[{"label": _CLUSTER_LABELS[c], "value": c} for c in CLUSTERERS])),
        html.Div([label("distance cut", number_input("distance_cut", "any", placeholder="auto"), auto="distance_cut"),
                  label("eps", number_input("eps", "any", placeholder="auto"), auto="eps"),
                  label("min samples", number_input("min_samples", 1, placeholder="auto"), auto="min_samples")],
                 className="ctl-row"),
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
        html.H4("Session"),
        html.Div([
            html.Button("Save session", id="explore-session-save", className="btn",
                        title="download this view (source, layer, every setting, tab, selection) as a JSON file"),
            # a file far too big for a session is refused at once, with a sentence (assets/upload_limit.js)
            html.Div(dcc.Upload(html.Button("Load session…", className="btn", id="explore-session-load-btn"),
                                id="explore-session-upload", accept=".json,application/json", multiple=False,
                                max_size=MAX_SESSION_BYTES),  # never sent: the server takes a few MB per request
                     **{"data-max-upload-bytes": str(MAX_SESSION_BYTES), "data-error-id": "explore-notice",
                        "data-oversize": "{name} is {size} MB: a session file is a few kB (save one with "
                                         "'Save session')"}),
        ], className="btn-row"),
        html.Div("A session file, or a graph's JSON export, brings its view back.", className="hint"),
        dcc.Download(id="explore-download"),
        dcc.Download(id="explore-session-download"),
    ], className="controls")


def _graph_column() -> html.Div:
    import dash_cytoscape as cyto

    return html.Div([
        *inspect.controls(),  # colour-by, find nodes, tooltip (tdacnn/app/inspect.py)
        html.Div([html.Div(id="explore-notice", role="status"),
                  html.Button("×", id="explore-notice-close", className="notice-close", n_clicks=0,
                              title="dismiss")], className="notice"),
        html.Div([
            cyto.Cytoscape(id="explore-graph", elements=[], stylesheet=stylesheet(), layout=PRESET_LAYOUT,
                           boxSelectionEnabled=True, minZoom=0.05, maxZoom=5, responsive=True,
                           wheelSensitivity=WHEEL_SENSITIVITY,
                           clearOnUnhover=True,  # the tooltip hides when the pointer leaves a node
                           style={"width": "100%", "height": "600px"}),
            # what is being computed, or why there is no graph: over the graph, never below the fold
            html.Div([html.Div(className="spinner"), html.Div(id="explore-graph-message")],
                     id="explore-graph-overlay", className="graph-overlay"),
            html.Div([
                html.Button("+", id="explore-zoom-in", className="zoom-btn", title="zoom in", n_clicks=0),
                html.Button("−", id="explore-zoom-out", className="zoom-btn", title="zoom out", n_clicks=0),
                html.Button("fit", id="explore-fit", className="zoom-btn", title="fit the whole graph in view",
                            n_clicks=0),
            ], className="zoom-bar"),
        ], className="graph-wrap"),
        html.Div(id="explore-legend", className="legend"),
        html.Div(id="explore-gallery", className="gallery"),
    ], className="graph-col")


def watcher() -> list:
    """The page-level watch of the source on view: a run being recorded or trained grows.

    Its weights file is looked at (a stat) every few seconds, on every tab: these
    components go outside ``dcc.Tabs``, which mounts only the selected tab's children
    (an interval inside Explore stopped while Dynamics was on view, so Dynamics never
    saw a new snapshot).
    """
    return [dcc.Store(id="explore-source-stamp"), dcc.Interval(id="explore-watch", interval=WATCH_MS)]


def layout() -> html.Div:
    """The Explore tab (built per page load, so the source list is fresh)."""
    source = default_source()
    side = html.Div([
        dcc.RadioItems(id="explore-barcode-mode", value=VIEW_DEFAULTS["mode"], inline=True,
                       options=[{"label": "barcode", "value": "barcode"},
                                {"label": "persistence diagram", "value": "diagram"}]),
        dcc.Loading(dcc.Graph(id="explore-barcode", figure=empty_figure("computing the barcode…"),
                              config=EXPORT_CONFIG), type="dot", delay_show=400),
        dcc.Loading(dcc.Graph(id="explore-orientation", figure=empty_figure("", height=260),
                              config={**EXPORT_CONFIG,
                                      "toImageButtonOptions": {"format": "png", "filename": "orientation"}}),
                    type="dot", delay_show=400),
        # the filtered cloud on the Klein bottle, and its barcodes over Z/2 and Z/3 (explore.update_klein,
        # explore.update_fields: the map is at once, the barcodes take their significance test's time)
        dcc.Loading(dcc.Graph(id="explore-klein", figure=empty_figure("", height=330),
                              config={**EXPORT_CONFIG,
                                      "toImageButtonOptions": {"format": "png", "filename": "klein"}}),
                    type="dot", delay_show=400),
        dcc.Loading(dcc.Graph(id="explore-fields", figure=empty_figure("", height=260),
                              config={**EXPORT_CONFIG,
                                      "toImageButtonOptions": {"format": "png", "filename": "z2-z3"}}),
                    type="dot", delay_show=400),
    ], className="side-col")
    return html.Div([
        dcc.Store(id="explore-request"),
        dcc.Store(id="explore-memory"),
        dcc.Store(id="explore-query"),
        dcc.Store(id="explore-auto", data=list(AUTO_CONTROLS)),
        dcc.Store(id="explore-config", data=page_config()),
        dcc.Store(id="explore-goto"),
        dcc.Store(id="explore-ready", data=False),  # True once the URL has been read (load_url)
        # on while a barcode's bars are being tested against random filters (the verdict comes later)
        dcc.Interval(id="explore-barcode-poll", interval=POLL_MS, disabled=True),
        dcc.Interval(id="explore-fields-poll", interval=POLL_MS, disabled=True),
        html.Div(id="explore-url-sink", hidden=True),
        html.Div(id="explore-barcode-sink", hidden=True),
        html.Div(id="explore-zoom-sink", hidden=True),
        html.Div([_controls(source), _graph_column(), side], className="explore"),
    ])
