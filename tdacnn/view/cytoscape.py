"""Mapper graphs as dash-cytoscape elements, with thumbnails, colours and a legend.

Two steps, as in giotto-tda's Mapper plotting: :func:`node_table` computes what
each node shows (size, colour, thumbnail, position), :func:`graph_elements` turns
that into the list of dicts Cytoscape takes.  Each node carries its mean filter as
a PNG data URI in ``data.thumb``; the :func:`stylesheet` paints it with
``background-image: data(thumb)`` and draws the colour as the node's border.

Positions are given explicitly (Cytoscape layout ``preset``) so that they can be
carried over between slider moves; see :mod:`tdacnn.view.layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np

from tdacnn.topology.graph import MapperGraph
from tdacnn.view import layout as _layout
from tdacnn.view.thumbnails import filter_data_uri

__all__ = ["COLORSCALE", "Legend", "LayoutMemory", "graph_elements", "stylesheet", "legend",
           "memory_from_elements", "node_colors", "PRESET_LAYOUT"]

#: Plotly colour scale for nodes; the dense (or big) end is its first colour.
COLORSCALE = "Viridis"
#: Cytoscape layout for precomputed positions.
PRESET_LAYOUT = {"name": "preset", "fit": True, "padding": 30, "animate": False}

ColorBy = Literal["density", "size"]


@dataclass(frozen=True)
class Legend:
    """What the colour of a node means, for a colour bar beside the graph.

    Attributes
    ----------
    title : str
    low, high : float
        Values at the two ends of the scale (``low`` is drawn in ``colors[0]``).
    low_label, high_label : str
        Words for the ends ("dense", "sparse").
    colors : list of str
        CSS colours from the ``low`` end to the ``high`` end.
    """

    title: str
    low: float
    high: float
    low_label: str
    high_label: str
    colors: list[str] = field(default_factory=list)

    def gradient(self) -> str:
        """CSS ``linear-gradient`` from low (left) to high (right)."""
        return f"linear-gradient(to right, {', '.join(self.colors)})"

    def to_dict(self) -> dict:
        return {"title": self.title, "low": self.low, "high": self.high, "low_label": self.low_label,
                "high_label": self.high_label, "colors": list(self.colors), "gradient": self.gradient()}


@dataclass(frozen=True)
class LayoutMemory:
    """What the previous drawing looked like, to keep nodes in place.

    Attributes
    ----------
    positions : dict of node id to (x, y)
    filters : dict of node id to ndarray of shape (kh, kw)
        Mean filters, to match nodes when members are not comparable.
    members : dict of node id to ndarray, optional
        Members in ``space`` (e.g. indices into the unfiltered cloud).
    space : str
        Key of the index space of ``members`` (e.g. the cloud's key); members are
        compared only between graphs of the same space.
    """

    positions: dict[str, tuple[float, float]]
    filters: dict[str, np.ndarray] = field(default_factory=dict)
    members: dict[str, np.ndarray] | None = None
    space: str = ""


def _scale_colors(t: np.ndarray) -> list[str]:
    from plotly.colors import sample_colorscale

    if len(t) == 0:
        return []
    return sample_colorscale(COLORSCALE, np.clip(np.asarray(t, dtype=np.float64), 0, 1).tolist())


def _normalise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return v, 0.0, 1.0
    lo, hi = float(np.min(v)), float(np.max(v))
    t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return t, lo, hi


def node_colors(graph: MapperGraph, color_by: ColorBy = "density") -> tuple[list[str], Legend]:
    """One CSS colour per node and the legend that explains them.

    ``"density"``: mean codensity, the densest node (smallest codensity) at the
    first colour of :data:`COLORSCALE`.  ``"size"``: member count, the biggest
    node at the first colour.
    """
    if color_by == "density":
        t, lo, hi = _normalise([n.mean_codensity for n in graph.nodes])
        colors = _scale_colors(t)
        leg = Legend("mean codensity (k-NN distance)", lo, hi, "dense", "sparse",
                     _scale_colors(np.linspace(0, 1, 7)))
    elif color_by == "size":
        t, lo, hi = _normalise([n.size for n in graph.nodes])
        colors = _scale_colors(1.0 - t)
        leg = Legend("members per node", hi, lo, "big", "small", _scale_colors(np.linspace(0, 1, 7)))
    else:
        raise ValueError(f"color_by must be 'density' or 'size'; got {color_by!r}")
    return colors, leg


def legend(graph: MapperGraph, color_by: ColorBy = "density") -> Legend:
    """The colour legend of :func:`graph_elements` for ``graph``."""
    return node_colors(graph, color_by)[1]


def _node_px(sizes: np.ndarray, min_px: float, max_px: float) -> np.ndarray:
    """Node side in pixels: area grows with the member count (sqrt scale)."""
    if len(sizes) == 0:
        return sizes.astype(np.float64)
    r = np.sqrt(sizes / max(float(sizes.max()), 1.0))
    return min_px + (max_px - min_px) * r


def carried_positions(graph: MapperGraph, previous: LayoutMemory | None, members_space: np.ndarray | None,
                      space: str, spread: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Positions for the nodes of ``graph`` that can be carried over from ``previous``.

    Parameters
    ----------
    members_space : ndarray of shape (n_filtered,), optional
        Maps node members (indices into the filtered cloud) to ``space`` (e.g. the
        density filter's indices into the full cloud). None: members are already
        in ``space``.
    """
    if previous is None or not previous.positions:
        return {}
    if previous.members is not None and previous.space and previous.space == space:
        new = {n.id: (members_space[n.members] if members_space is not None else n.members)
               for n in graph.nodes}
        return _layout.carry_by_members(new, previous.members, previous.positions, spread)
    return _layout.carry_by_similarity({n.id: n.mean_filter for n in graph.nodes}, previous.filters,
                                       previous.positions)


def graph_elements(graph: MapperGraph, previous: LayoutMemory | None = None, *,
                   members_space: np.ndarray | None = None, space: str = "",
                   color_by: ColorBy = "density", thumb_px: int = 48,
                   min_px: float = 26.0, max_px: float = 70.0) -> list[dict]:
    """Cytoscape elements of a Mapper graph.

    Parameters
    ----------
    graph : MapperGraph
    previous : LayoutMemory, optional
        The previous drawing: nodes that persist keep their place.
    members_space, space : see :func:`carried_positions`.
    color_by : {"density", "size"}
    thumb_px : int
        Side of the thumbnail images.
    min_px, max_px : float
        Node side for the smallest and the biggest node.

    Returns
    -------
    list of dict
        Nodes first (``data``: id, size, px, color, thumb, codensity, label;
        ``position``), then edges (``data``: id, source, target, overlap, width).
    """
    ids = [n.id for n in graph.nodes]
    edge_pairs = [(e.source, e.target) for e in graph.edges]
    spread: dict[str, float] = {}
    carried = carried_positions(graph, previous, members_space, space, spread)
    sizes = np.array([n.size for n in graph.nodes], dtype=np.float64)
    pos = _layout.place(ids, edge_pairs, carried, {n.id: n.size for n in graph.nodes}, spread)
    colors, _ = node_colors(graph, color_by)
    px = _node_px(sizes, min_px, max_px)
    elements: list[dict] = []
    for node, color, side in zip(graph.nodes, colors, px):
        x, y = pos[node.id]
        elements.append({
            "data": {"id": node.id, "label": str(node.size), "size": node.size, "px": round(float(side), 1),
                     "color": color, "codensity": round(float(node.mean_codensity), 5),
                     "thumb": filter_data_uri(node.mean_filter, size=thumb_px)},
            "position": {"x": round(x, 2), "y": round(y, 2)},
        })
    max_overlap = max((e.overlap for e in graph.edges), default=1) or 1
    for e in graph.edges:
        elements.append({"data": {"id": f"{e.source}--{e.target}", "source": e.source, "target": e.target,
                                  "overlap": int(e.overlap),
                                  "width": round(1.5 + 4.5 * np.sqrt(e.overlap / max_overlap), 2)}})
    return elements


def memory_from_elements(elements: Sequence[Mapping], graph: MapperGraph | None = None,
                         members_space: np.ndarray | None = None, space: str = "") -> LayoutMemory:
    """The :class:`LayoutMemory` of drawn elements (and, if given, their graph)."""
    positions = {el["data"]["id"]: (float(el["position"]["x"]), float(el["position"]["y"]))
                 for el in elements if "position" in el and "source" not in el.get("data", {})}
    if graph is None:
        return LayoutMemory(positions)
    filters = {n.id: np.asarray(n.mean_filter) for n in graph.nodes}
    members = {n.id: (members_space[n.members] if members_space is not None else n.members) for n in graph.nodes}
    return LayoutMemory(positions, filters, members, space)


def stylesheet(selected_color: str = "#ff2d55") -> list[dict]:
    """The Cytoscape stylesheet: thumbnails on nodes, colour as the border."""
    return [
        {"selector": "node", "style": {
            "shape": "round-rectangle",
            "width": "data(px)", "height": "data(px)",
            "background-color": "#808080",
            "background-image": "data(thumb)",
            "background-fit": "cover",
            "background-image-smoothing": "no",
            "border-width": 5, "border-color": "data(color)", "border-opacity": 1,
            "label": "data(label)", "font-size": 10, "color": "#555",
            "text-valign": "bottom", "text-margin-y": 3,
        }},
        {"selector": "node:selected", "style": {
            "border-width": 8, "border-color": selected_color, "overlay-opacity": 0,
        }},
        {"selector": "edge", "style": {
            "width": "data(width)", "line-color": "#9aa0a6", "curve-style": "haystack", "opacity": 0.8,
        }},
    ]
