"""Node gallery and exports of the Explore view.

Click a node, or select several (shift-click, shift-drag a box): the union of
their members as one set — thumbnails, mean filter, where they came from, counts
by network / iteration / channel and their orientation histogram
(:mod:`tdacnn.view.selection` computes it).  The CSV and NPZ exports download the
same selection.  Also the graph as JSON (server side) and as PNG (Cytoscape's own
``generateImage``, client side).
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from tdacnn.app import services
from tdacnn.app.controls import ExploreRequest
from tdacnn.errors import UserError
from tdacnn.view.figures import orientation_figure
from tdacnn.view.selection import COUNT_FIELDS, SelectionSummary, provenance_lines, summarize
from tdacnn.view.thumbnails import filter_data_uri

__all__ = ["register", "show_gallery", "export_members", "export_graph_json", "export_graph_png",
           "members_csv", "members_npz", "provenance_lines", "GALLERY_MAX", "COUNT_CHIPS"]

log = logging.getLogger(__name__)

#: Thumbnails shown in a gallery (the rest are counted, and exportable).
GALLERY_MAX = 120
#: Count chips shown per provenance field (the most frequent values; the rest summed).
COUNT_CHIPS = 40


def _result(request_data: dict | None) -> services.GraphResult:
    if not request_data or "error" in request_data:
        raise UserError("set valid parameters first")
    return services.compute_graph(ExploreRequest.from_dict(request_data))


def _thumb(filt: np.ndarray, prov: dict[str, np.ndarray], i: int) -> html.Img:
    title = " · ".join(f"{k.replace('_', ' ')} {int(prov[k][i])}" for k in
                       ("network", "layer", "iteration", "out_channel", "in_channel") if int(prov[k][i]) >= 0)
    return html.Img(src=filter_data_uri(filt, size=36), title=title, className="thumb")


def _selected_ids(selection) -> list[str]:
    """Node ids of a ``tapNodeData`` dict or a ``selectedNodeData`` list (order kept, no repeats)."""
    if not selection:
        return []
    items = [selection] if isinstance(selection, dict) else list(selection)
    out: list[str] = []
    for d in items:
        node_id = d.get("id") if isinstance(d, dict) else None
        if node_id is not None and node_id not in out:
            out.append(str(node_id))
    return out


def _counts(summary: SelectionSummary) -> html.Div:
    """One row per provenance field: value ×count chips (each row adds up to the union)."""
    rows = []
    for name, pairs in summary.counts.items():
        if len(pairs) < 2 and name != "network":
            continue  # one value for all: the provenance lines say it
        shown = sorted(pairs, key=lambda p: -p[1])[:COUNT_CHIPS]
        chips = [html.Span([html.B("?" if v < 0 else str(v)), f" ×{c}"], className="count-chip",
                           title=f"{COUNT_FIELDS[name]} {'unknown' if v < 0 else v}: {c} filters",
                           **{"data-value": str(v), "data-count": str(c)})
                 for v, c in sorted(shown)]
        rest = sum(c for _, c in pairs) - sum(c for _, c in shown)
        if rest:
            chips.append(html.Span(f"+{len(pairs) - len(shown)} more ×{rest}", className="count-chip rest",
                                   **{"data-value": "rest", "data-count": str(rest)}))
        rows.append(html.Div([html.Span(f"by {COUNT_FIELDS[name]}", className="count-field"), *chips],
                             className="count-row", **{"data-field": name}))
    return html.Div(rows, className="counts", id="explore-gallery-counts")


def show_gallery(selection, request_data: dict | None):
    """Selected node(s) → one gallery of the union of their members.

    ``selection`` is ``selectedNodeData`` (a list: shift-click, box selection) or one
    node's data (a click).  Shown: the members' thumbnails, their mean filter,
    where they came from, counts by network / iteration / channel and their
    orientation histogram.
    """
    node_ids = _selected_ids(selection)
    if not node_ids:
        return html.Div("Click a node to see its filters; shift-click or shift-drag to select several.",
                        className="hint")
    try:
        result = _result(request_data)
        present = {n.id: n for n in result.graph.nodes}
        node_ids = [i for i in node_ids if i in present] or node_ids  # a stale id still gets its sentence
        filters, prov = services.node_members(result, node_ids)
    except (UserError, ValueError) as exc:
        return html.Div(str(exc), className="status")
    summary = summarize(filters, prov, node_ids, sum(present[i].size for i in node_ids))
    n = summary.n_filters
    thumbs = [_thumb(filters[i], prov, i) for i in range(min(n, GALLERY_MAX))]
    more = [html.Span(f"… and {n - GALLERY_MAX} more (export to get them all)", className="hint")] \
        if n > GALLERY_MAX else []
    if len(node_ids) == 1:
        node = present[node_ids[0]]
        heading = (f"Node {node.id}: {n} filter{'s' if n != 1 else ''}"
                   f" (mean codensity {float(node.mean_codensity):.3g})")
    else:
        overlap = summary.n_memberships > n
        heading = (f"{len(node_ids)} nodes selected: {n} filter{'s' if n != 1 else ''}"
                   + (f" ({summary.n_memberships} with overlaps)" if overlap else ""))
    children = [
        html.H4(heading, **{"data-filters": str(n), "data-nodes": ",".join(node_ids)}),
        html.Div([html.Img(src=filter_data_uri(summary.mean_filter, size=64), className="thumb-mean",
                           title="mean filter of the selection"),
                  html.Ul([html.Li(line) for line in provenance_lines(prov)])], className="gallery-head"),
        _counts(summary),
        html.Div(thumbs + more, className="thumbs", id="explore-gallery-thumbs"),
    ]
    if summary.angles is not None:
        which = "this node's" if len(node_ids) == 1 else "the selection's"
        children.append(dcc.Graph(figure=orientation_figure(summary.angles, bins=24, height=220,
                                                            title=f"orientation of {which} {n} filters"),
                                  config={"displaylogo": False}))
    return html.Div(children, id="explore-gallery-node")


def members_csv(filters: np.ndarray, prov: dict[str, np.ndarray]) -> str:
    """One row per filter: provenance then the filter values, row-major."""
    n = len(filters)
    flat = filters.reshape(n, -1)
    keys = ["network", "layer", "iteration", "out_channel", "in_channel"]
    header = keys + [f"w{i}" for i in range(flat.shape[1])]
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    for i in range(n):
        buf.write(",".join([str(int(prov[k][i])) for k in keys] + [f"{x:.6g}" for x in flat[i]]) + "\n")
    return buf.getvalue()


def members_npz(filters: np.ndarray, prov: dict[str, np.ndarray], node_ids: list[str]) -> bytes:
    """``filters`` (n, kh, kw), provenance arrays and the node ids, as an ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, filters=filters, nodes=np.array(node_ids), **prov)
    return buf.getvalue()


def export_members(_csv: int | None, _npz: int | None, selected: list | None, request_data: dict | None,
                   which: str | None = None):
    """Download the members of the selected nodes as CSV or NPZ (``which``: "csv"/"npz")."""
    from dash import ctx

    which = which or ("npz" if ctx.triggered_id == "explore-export-npz" else "csv")
    node_ids = _selected_ids(selected)
    if not node_ids:
        return no_update, "select nodes first (click, shift+click or shift+drag), then export"
    try:
        result = _result(request_data)
        filters, prov = services.node_members(result, node_ids)
    except (UserError, ValueError) as exc:
        return no_update, str(exc)
    stem = f"members-{len(node_ids)}-nodes"
    if which == "npz":
        return dcc.send_bytes(members_npz(filters, prov, node_ids), f"{stem}.npz"), ""
    return dcc.send_string(members_csv(filters, prov), f"{stem}.csv"), ""


def export_graph_json(_n: int | None, request_data: dict | None):
    """Download the current graph (nodes with members, edges, parameters) as JSON."""
    try:
        result = _result(request_data)
    except (UserError, ValueError) as exc:
        return no_update, str(exc)
    d = result.graph.to_dict()
    d["request"] = result.request.to_dict()
    d["summary"] = result.summary
    return dcc.send_string(json.dumps(d), "mapper-graph.json"), ""


def export_graph_png(_n: int | None):
    """Ask Cytoscape for a PNG of the graph (downloaded by the browser)."""
    return {"type": "png", "action": "download", "filename": "mapper-graph", "options": {"full": True, "scale": 2}}


def register(app) -> None:
    # the selection, not the last tap: shift-click and box selection add nodes to it
    app.callback(Output("explore-gallery", "children"), Input("explore-graph", "selectedNodeData"),
                 State("explore-request", "data"))(show_gallery)
    app.callback(Output("explore-download", "data", allow_duplicate=True),
                 Output("explore-status", "children", allow_duplicate=True),
                 Input("explore-export-csv", "n_clicks"), Input("explore-export-npz", "n_clicks"),
                 State("explore-graph", "selectedNodeData"), State("explore-request", "data"),
                 prevent_initial_call=True)(export_members)
    app.callback(Output("explore-download", "data", allow_duplicate=True),
                 Output("explore-status", "children", allow_duplicate=True),
                 Input("explore-export-json", "n_clicks"), State("explore-request", "data"),
                 prevent_initial_call=True)(export_graph_json)
    app.callback(Output("explore-graph", "generateImage"), Input("explore-export-png", "n_clicks"),
                 prevent_initial_call=True)(export_graph_png)
