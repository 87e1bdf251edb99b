"""Dynamics and Depth tabs: small multiples with the Explore view's parameters.

Dynamics (the seed's Figure 5): rows layer 1 and layer 2, columns the saved
training iterations.  Depth (Figure 6): one graph per conv layer at the last
saved iteration.  Every cell uses the density, Mapper and persistence parameters
currently set in Explore (persistence always up to H1, whatever Explore's max
dimension), nodes are coloured by size, and the caption gives the number of
significant H1 bars.  They compute only while their tab is open (each stage is
cached, so reopening is instant).  A click on a cell opens its layer and iteration
in Explore.
"""

from __future__ import annotations

import logging
from typing import Any
from dataclasses import replace

from dash import Input, Output, dcc, html, no_update

from tdacnn.app import services
from tdacnn.app.controls import ExploreRequest
from tdacnn.errors import UserError
from tdacnn.view.multiples import Cell, error_cell, make_cell, small_stylesheet

__all__ = ["dynamics_layout", "depth_layout", "dynamics_cells", "depth_cells", "update_dynamics", "update_depth",
           "open_in_explore", "register", "CELL_TYPE"]

log = logging.getLogger(__name__)

#: Pattern-matching id type of a clickable small multiple (``{"type", "layer", "iteration"}``).
CELL_TYPE = "multiples-cell"


def _cell(request: ExploreRequest, layer: int, iteration: int, title: str, wait: bool = True) -> Cell:
    req = replace(request, cloud=replace(request.cloud, layer=layer, iteration=iteration))
    try:
        result = services.compute_graph(req)
        services.check_drawable(result)
        barcode = services.compute_barcode(req, replace(request.persistence, maxdim=1), wait=wait)
    except (UserError, ValueError) as exc:
        return replace(error_cell(title, str(exc)), layer=layer, iteration=iteration)
    return replace(make_cell(title, result.graph, barcode), layer=layer, iteration=iteration)


def dynamics_cells(request: ExploreRequest, layers: tuple[int, ...] = (1, 2), wait: bool = True) -> list[list[Cell]]:
    """Rows of cells: one row per layer in ``layers`` (present in the source), one column per iteration.
    With ``wait=False`` a cell whose bars are still being tested says so (``Cell.pending``)."""
    ws = services.load_source(request.source)
    rows = []
    for layer in [layer for layer in layers if layer in ws.layers()]:
        rows.append([_cell(request, layer, it, f"layer {layer} · " + (f"iteration {it}" if it >= 0 else "final"),
                           wait) for it in ws.iterations(layer)])
    return rows


def depth_cells(request: ExploreRequest, wait: bool = True) -> list[Cell]:
    """One cell per conv layer, at the request's iteration where saved, else the layer's last."""
    ws = services.load_source(request.source)
    cells = []
    for layer in ws.layers():
        its = ws.iterations(layer)
        it = request.cloud.iteration if request.cloud.iteration in its else its[-1]
        cells.append(_cell(request, layer, it, f"layer {layer}" + (f" · iteration {it}" if it >= 0 else ""), wait))
    return cells


def _render(cell: Cell, size: int = 210) -> html.Div:
    import dash_cytoscape as cyto

    body = (cyto.Cytoscape(elements=cell.elements, stylesheet=small_stylesheet(),
                           layout={"name": "preset", "fit": True, "padding": 10},
                           userZoomingEnabled=False, userPanningEnabled=False, autoungrabify=True,
                           style={"width": f"{size}px", "height": f"{size}px"})
            if cell.elements else html.Div(className="cell-empty", style={"height": f"{size}px"}))
    parts = [html.Div(cell.title, className="cell-title"), body,
             html.Div(cell.caption, className="cell-caption error" if cell.error else "cell-caption")]
    if cell.layer is None:
        return html.Div(parts, className="cell")
    # a click anywhere on the cell (the small graph takes no input) opens it in Explore
    return html.Div(parts, className="cell clickable", n_clicks=0, title="open this layer and iteration in Explore",
                    id={"type": CELL_TYPE, "layer": cell.layer,
                        "iteration": cell.iteration if cell.iteration is not None else -1})


def _request(data):
    if not data or "error" in data:
        raise UserError((data or {}).get("error") or "set valid parameters in Explore first")
    return ExploreRequest.from_dict(data)


def _loading(grid_id: str, text: str) -> dcc.Loading:
    """The grid, and while it is computed a sentence saying what (many graphs: it can take a minute)."""
    busy = html.Div([html.Div(className="multiples-spinner"), html.Span(text)], className="multiples-busy")
    return dcc.Loading(html.Div(id=grid_id, className="multiples"), custom_spinner=busy, delay_show=300)


def dynamics_layout() -> html.Div:
    return html.Div([
        html.P("Mapper graphs of layers 1 and 2 at each saved training iteration, with the parameters set in "
               "Explore (nodes coloured by size: dark = big). Under each: significant H1 bars. "
               "Click a graph to open it in Explore.", className="hint"),
        _loading("dynamics-grid", "computing the graphs of layers 1 and 2 at every saved iteration …"),
        dcc.Interval(id="dynamics-poll", interval=2000, disabled=True),  # on while verdicts are coming
    ], className="tab-body")


def depth_layout() -> html.Div:
    return html.Div([
        html.P("One Mapper graph per conv layer (last saved iteration), with the parameters set in Explore. "
               "Click a graph to open it in Explore.", className="hint"),
        _loading("depth-grid", "computing one graph per conv layer … (a layer of a deep network takes seconds "
                               "the first time)"),
        dcc.Interval(id="depth-poll", interval=2000, disabled=True),
    ], className="tab-body")


def update_dynamics(tab: str | None, request_data: dict | None, _stamp: dict | None = None, wait: bool = True):
    """Tab "dynamics" open → the grid of small multiples (again when the source gains snapshots)."""
    return _dynamics(tab, request_data, wait)[0]


def _dynamics(tab: str | None, request_data: dict | None, wait: bool):
    if tab != "dynamics":
        return no_update, True
    try:
        rows = dynamics_cells(_request(request_data), wait=wait)
    except (UserError, ValueError) as exc:
        return html.Div(str(exc), className="status"), True
    if not rows:
        return html.Div("this source has no layer 1 or 2", className="status"), True
    pending = any(c.pending for row in rows for c in row)
    return [html.Div([_render(c) for c in row], className="multiples-row") for row in rows], not pending


def dynamics_panel(tab: str | None, request_data: dict | None, _stamp: Any = None, _poll: Any = None):
    """The Dynamics callback: graphs at once, each cell's verdict when its test is done (a poll redraws)."""
    return _dynamics(tab, request_data, wait=False)


def update_depth(tab: str | None, request_data: dict | None, wait: bool = True):
    """Tab "depth" open → one small graph per conv layer."""
    return _depth(tab, request_data, wait)[0]


def _depth(tab: str | None, request_data: dict | None, wait: bool):
    if tab != "depth":
        return no_update, True
    try:
        cells = depth_cells(_request(request_data), wait=wait)
    except (UserError, ValueError) as exc:
        return html.Div(str(exc), className="status"), True
    pending = any(c.pending for c in cells)
    return html.Div([_render(c) for c in cells], className="multiples-row wrap"), not pending


def depth_panel(tab: str | None, request_data: dict | None, _poll: Any = None):
    """The Depth callback (as :func:`dynamics_panel`)."""
    return _depth(tab, request_data, wait=False)


def open_in_explore(clicks: list | None):
    """A click on a Dynamics or Depth cell → the Explore tab on that cell's layer and iteration."""
    from dash import ctx

    target = ctx.triggered_id
    if not isinstance(target, dict) or not any(t.get("value") for t in ctx.triggered):
        return no_update, no_update, no_update  # cells appearing, not a click
    return "explore", target["layer"], target["iteration"]


def register(app) -> None:
    from dash import ALL

    from tdacnn.app.widgets import control_id

    # the request is an Input: a page opened on ?tab=depth gets its request after the tab (the URL is read first)
    app.callback(Output("dynamics-grid", "children"), Output("dynamics-poll", "disabled"), Input("tabs", "value"),
                 Input("explore-request", "data"), Input("explore-source-stamp", "data"),
                 Input("dynamics-poll", "n_intervals"))(dynamics_panel)
    app.callback(Output("depth-grid", "children"), Output("depth-poll", "disabled"), Input("tabs", "value"),
                 Input("explore-request", "data"), Input("depth-poll", "n_intervals"))(depth_panel)
    app.callback(Output("tabs", "value", allow_duplicate=True),
                 Output(control_id("layer"), "value", allow_duplicate=True),
                 Output(control_id("iteration"), "value", allow_duplicate=True),
                 Input({"type": CELL_TYPE, "layer": ALL, "iteration": ALL}, "n_clicks"),
                 prevent_initial_call=True)(open_in_explore)
