"""Node gallery and exports of the Explore view.

Click a node: its member filters as thumbnails, where they came from (networks,
layers, iterations, channels) and their orientation histogram.  Select several
nodes: download their members as CSV or NPZ.  Also the graph as JSON (server side)
and as PNG (Cytoscape's own ``generateImage``, client side).
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
from tdacnn.view.thumbnails import filter_data_uri

__all__ = ["register", "show_gallery", "export_members", "export_graph_json", "export_graph_png",
           "members_csv", "members_npz", "provenance_lines", "GALLERY_MAX"]

log = logging.getLogger(__name__)

#: Thumbnails shown in a gallery (the rest are counted, and exportable).
GALLERY_MAX = 120


def _result(request_data: dict | None) -> services.GraphResult:
    if not request_data or "error" in request_data:
        raise UserError("set valid parameters first")
    return services.compute_graph(ExploreRequest.from_dict(request_data))


def provenance_lines(prov: dict[str, np.ndarray]) -> list[str]:
    """Short sentences: how many networks, which layers, iterations and channels."""
    if not prov or len(prov.get("network", [])) == 0:
        return []

    def values(name):
        v = np.unique(prov[name])
        return v[v >= 0]

    def listing(v, limit=8):
        items = ", ".join(str(int(x)) for x in v[:limit])
        return items + (f", … ({len(v)} in all)" if len(v) > limit else "")

    nets = values("network")
    out = [f"from {len(nets)} network{'s' if len(nets) != 1 else ''}: {listing(nets)}"]
    for name, word in (("layer", "layer"), ("iteration", "iteration"), ("out_channel", "output channel"),
                       ("in_channel", "input channel")):
        v = values(name)
        if len(v):
            out.append(f"{word}{'s' if len(v) != 1 else ''} {listing(v)}")
    return out


def _thumb(filt: np.ndarray, prov: dict[str, np.ndarray], i: int) -> html.Img:
    title = " · ".join(f"{k.replace('_', ' ')} {int(prov[k][i])}" for k in
                       ("network", "layer", "iteration", "out_channel", "in_channel") if int(prov[k][i]) >= 0)
    return html.Img(src=filter_data_uri(filt, size=36), title=title, className="thumb")


def show_gallery(node_data: dict | None, request_data: dict | None):
    """A clicked node → its gallery (thumbnails, provenance, orientation histogram)."""
    if not node_data:
        return html.Div("Click a node to see its filters.", className="hint")
    try:
        result = _result(request_data)
        filters, prov = services.node_members(result, [node_data["id"]])
    except (UserError, ValueError) as exc:
        return html.Div(str(exc), className="status")
    n = len(filters)
    thumbs = [_thumb(filters[i], prov, i) for i in range(min(n, GALLERY_MAX))]
    more = [html.Span(f"… and {n - GALLERY_MAX} more (export to get them all)", className="hint")] \
        if n > GALLERY_MAX else []
    children = [
        html.H4(f"Node {node_data['id']}: {n} filter{'s' if n != 1 else ''}"
                f" (mean codensity {float(node_data.get('codensity', 0)):.3g})"),
        html.Div([html.Img(src=node_data.get("thumb"), className="thumb-mean", title="mean filter"),
                  html.Ul([html.Li(line) for line in provenance_lines(prov)])], className="gallery-head"),
        html.Div(thumbs + more, className="thumbs", id="explore-gallery-thumbs"),
    ]
    if filters.shape[1:] == (3, 3):
        from tdacnn.topology.orientation import orientation

        angles, _ = orientation(filters.reshape(n, 9))
        children.append(dcc.Graph(figure=orientation_figure(angles, bins=24, height=220,
                                                            title="orientation of this node's filters"),
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
    if not selected:
        return no_update, "select nodes first (shift+click or shift+drag), then export"
    try:
        result = _result(request_data)
        node_ids = [d["id"] for d in selected]
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
    app.callback(Output("explore-gallery", "children"), Input("explore-graph", "tapNodeData"),
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
