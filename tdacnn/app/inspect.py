"""Inspecting the Explore graph: colour-by, tooltips, find nodes, and the selection in the URL.

What runs where::

    colour-by radio, highlight ids, elements ─▶ (clientside) stylesheet, enabled modes, legend shown
    mouseoverNodeData ─▶ (clientside) tooltip next to the pointer (text precomputed in ``data.tip``)
    network / channel boxes, request ─▶ find_nodes ─▶ highlight ids, a sentence
    url.search ─▶ pending_selection ─▶ explore-sel-pending;  url_color ─▶ colour-by
    colour-by ─▶ (clientside) URL key ``color``
    explore-memory (a graph was drawn) ─▶ (clientside) select the pending ids, else clear a stale selection
    selectedNodeData ─▶ (clientside) URL key ``sel`` (history.replaceState, other keys kept)

(The URL keys ``sel`` and ``color`` are this module's; :mod:`tdacnn.app.url` writes the others and keeps these.)

Every mode's node colours are in the elements (``data.c_<mode>``,
:mod:`tdacnn.view.node_info`), every mode's legend in the legend box: switching
the colour swaps the stylesheet and the legend shown, without a server round
trip.  The JavaScript lives in ``assets/inspect.js`` (``window.dash_clientside.tdacnn``).
"""

from __future__ import annotations

import logging
from typing import Any

from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from tdacnn.app import services
from tdacnn.app.controls import ExploreRequest
from tdacnn.errors import UserError
from tdacnn.view.cytoscape import legends, stylesheet
from tdacnn.view.node_info import COLOR_MODES, MODE_LABELS, Legend, PointInfo
from tdacnn.view.selection import describe_search, matching, nodes_holding, parse_selection

__all__ = ["controls", "point_info", "legend_children", "find_nodes", "pending_selection", "url_color", "register",
           "LENS_LABELS", "FIND_FIELDS"]

log = logging.getLogger(__name__)

#: The lens named in legends and tooltips (the lens colour uses its first component).
LENS_LABELS = {"pca1": "PCA 1", "pca2": "PCA 1", "codensity": "codensity", "angle": "circle angle",
               "umap": "UMAP 1"}
#: The find boxes: provenance field → label.
FIND_FIELDS = {"network": "network", "out_channel": "output ch.", "in_channel": "input ch."}


def _find_id(name: str) -> str:
    return f"explore-find-{name}"


def controls() -> list:
    """The Inspect bar above the graph (colour-by, find nodes), with the stores and the tooltip it needs."""
    finder = [html.Span("Find nodes holding", className="inspect-label",
                        title="nodes with a member from this network (and channels) stand out; the rest are dimmed")]
    for name, word in FIND_FIELDS.items():
        finder += [html.Span(word, className="find-word"),
                   dcc.Input(id=_find_id(name), type="number", min=0, step=1, debounce=True, placeholder="any",
                             className="find-number")]
    return [
        html.Div([
            html.Div([html.Span("Colour by", className="inspect-label"),
                      dcc.RadioItems(id="explore-color-by", value="density", inline=True,
                                     options=[{"label": MODE_LABELS[m], "value": m} for m in COLOR_MODES])],
                     className="inspect-row"),
            html.Div(finder + [html.Span(id="explore-find-status", className="hint", role="status")],
                     className="inspect-row"),
        ], className="inspect-bar"),
        dcc.Store(id="explore-highlight"),
        dcc.Store(id="explore-styles", data={"sheets": {m: stylesheet(color_by=m) for m in COLOR_MODES},
                                             "modes": list(COLOR_MODES), "labels": MODE_LABELS}),
        dcc.Store(id="explore-sel-pending"),
        html.Div(id="explore-sel-sink", hidden=True),
        html.Div(id="explore-tooltip", className="node-tooltip", style={"display": "none"}),
    ]


# ---- what the graph callback draws with ---------------------------------------------
def point_info(result: services.GraphResult) -> PointInfo:
    """Provenance and lens of the points the graph's nodes hold (the density-filtered cloud)."""
    from tdacnn.topology.mapper import PERIODIC_LENSES

    lens_name = result.request.mapper.lens
    try:
        lens = services.get_analysis().lens(result.dense, lens_name)  # cached: the graph used it
    except (UserError, ValueError):
        lens = None
    return PointInfo(result.dense.cloud.provenance, lens, LENS_LABELS.get(lens_name, lens_name),
                     PERIODIC_LENSES.get(lens_name))


def _legend_body(leg: Legend) -> list:
    if leg.swatches:
        shown = leg.swatches[:30]
        more = [html.Span(f"+{len(leg.swatches) - len(shown)}", className="legend-end")] \
            if len(leg.swatches) > len(shown) else []
        return [html.Span(leg.title, className="legend-title"),
                *[html.Span(label, className="legend-swatch", style={"borderColor": color}, title=label)
                  for label, color in shown], *more]
    fmt = "{:.0f}" if leg.cyclic else "{:.3g}"
    low = leg.low_label if leg.cyclic else f"{leg.low_label} {fmt.format(leg.low)}".strip()
    high = leg.high_label if leg.cyclic else f"{fmt.format(leg.high)} {leg.high_label}".strip()
    return [html.Span(leg.title, className="legend-title"), html.Span(low, className="legend-end"),
            html.Span(className="legend-bar", style={"background": leg.gradient()}),
            html.Span(high, className="legend-end")]


def legend_children(graph, points: PointInfo | None = None) -> list:
    """One legend per colour mode the graph supports; the page shows the chosen one (CSS)."""
    out = [html.Div(_legend_body(leg), className=f"legend-mode mode-{mode}", **{"data-mode": mode})
           for mode, leg in legends(graph, points).items()]
    out.append(html.Span("node size: members", className="legend-note"))
    return out


# ---- callbacks ----------------------------------------------------------------------
def _request(data: dict | None) -> ExploreRequest:
    if not data or "error" in data:
        raise UserError((data or {}).get("error") or "no view requested yet")
    return ExploreRequest.from_dict(data)


def find_nodes(network: Any, out_channel: Any, in_channel: Any, request_data: dict | None):
    """The find boxes → the ids of the nodes holding such a filter (or None: no search) and a sentence."""
    criteria = {name: int(v) for name, v in zip(FIND_FIELDS, (network, out_channel, in_channel))
                if v is not None and v != ""}
    if not criteria:
        return None, ""
    try:
        result = services.compute_graph(_request(request_data))
        ids, n_points = nodes_holding(result.graph, result.dense.cloud.provenance, criteria)
        n_cloud = int(matching(result.cloud.provenance, criteria).sum())
    except (UserError, ValueError) as exc:
        return None, str(exc)
    return ids, describe_search(criteria, ids, n_points, len(result.graph.nodes), n_cloud)


def _query_value(search: str | None, key: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs((search or "").lstrip("?")).get(key)
    return values[-1] if values else None


def pending_selection(search: str | None):
    """Page load: the node ids of the URL's ``sel`` (selected once their graph is drawn), or None."""
    return parse_selection(_query_value(search, "sel")) or None


def url_color(search: str | None):
    """Page load: the colour mode of the URL's ``color``; a mode not known falls back to codensity (which
    takes ``color`` out of the URL; the notice says why: :func:`tdacnn.app.url.read_query`)."""
    from tdacnn.app.url import COLOR_KEY

    mode = _query_value(search, COLOR_KEY)
    if mode is None:
        return no_update
    return mode if mode in COLOR_MODES else "density"


def register(app) -> None:
    """Register the Inspect callbacks on ``app`` (the gallery's are in :mod:`tdacnn.app.gallery`)."""
    app.clientside_callback(ClientsideFunction("tdacnn", "restyle"),
                            Output("explore-graph", "stylesheet"), Output("explore-color-by", "options"),
                            Output("explore-legend", "className"),
                            Output("explore-color-by", "value", allow_duplicate=True),
                            Input("explore-color-by", "value"), Input("explore-highlight", "data"),
                            Input("explore-graph", "elements"), State("explore-styles", "data"),
                            prevent_initial_call="initial_duplicate")
    app.callback(Output("explore-color-by", "value", allow_duplicate=True), Input("url", "search"),
                 prevent_initial_call="initial_duplicate")(url_color)
    app.clientside_callback(ClientsideFunction("tdacnn", "writeColor"), Output("explore-sel-sink", "title"),
                            Input("explore-color-by", "value"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("tdacnn", "tooltip"),
                            Output("explore-tooltip", "children"), Output("explore-tooltip", "style"),
                            Input("explore-graph", "mouseoverNodeData"), prevent_initial_call=True)
    app.callback(Output("explore-highlight", "data"), Output("explore-find-status", "children"),
                 *[Input(_find_id(n), "value") for n in FIND_FIELDS], Input("explore-request", "data"),
                 prevent_initial_call=True)(find_nodes)
    app.callback(Output("explore-sel-pending", "data"), Input("url", "search"))(pending_selection)
    app.clientside_callback(ClientsideFunction("tdacnn", "restoreSelection"),
                            Output("explore-graph", "elements", allow_duplicate=True),
                            Output("explore-sel-pending", "data", allow_duplicate=True),
                            Input("explore-memory", "data"), State("explore-sel-pending", "data"),
                            State("explore-graph", "elements"), State("explore-request", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("tdacnn", "writeSelection"), Output("explore-sel-sink", "children"),
                            Input("explore-graph", "selectedNodeData"), State("explore-sel-pending", "data"),
                            prevent_initial_call=True)
