"""Mapper graphs as dash-cytoscape elements, with thumbnails, colours and a legend.

Two steps, as in giotto-tda's Mapper plotting: :mod:`tdacnn.view.node_info`
computes what each node shows (a value and a colour per colour mode, a tooltip),
:func:`graph_elements` turns that, with sizes and positions, into the list of
dicts Cytoscape takes.  Each node carries its mean filter as a PNG data URI in
``data.thumb``; the :func:`stylesheet` paints it with ``background-image:
data(thumb)`` and draws the chosen mode's colour (``data.c_<mode>``) as the
node's border.

Positions are given explicitly (Cytoscape layout ``preset``) so that they can be
carried over between slider moves; see :mod:`tdacnn.view.layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np

from tdacnn.topology.graph import MapperGraph
from tdacnn.view import layout as _layout
from tdacnn.view import node_info as _info
from tdacnn.view.node_info import COLORSCALE, Legend, PointInfo
from tdacnn.view.thumbnails import filter_data_uri

__all__ = ["COLORSCALE", "Legend", "LayoutMemory", "graph_elements", "stylesheet", "legend", "legends",
           "memory_from_elements", "node_colors", "PRESET_LAYOUT", "PointInfo"]

#: Cytoscape layout for precomputed positions.
PRESET_LAYOUT = {"name": "preset", "fit": True, "padding": 30, "animate": False}

ColorBy = Literal["density", "size", "angle", "lens", "network", "iteration", "in_channel"]


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


def node_colors(graph: MapperGraph, color_by: ColorBy = "density",
                points: PointInfo | None = None) -> tuple[list[str], Legend]:
    """One CSS colour per node and the legend that explains them.

    ``"density"``: mean codensity, the densest node (smallest codensity) at the
    first colour of :data:`COLORSCALE`.  ``"size"``: member count, the biggest
    node at the first colour.  The other modes (:data:`~tdacnn.view.node_info.COLOR_MODES`)
    as :func:`tdacnn.view.node_info.colorings` draws them.

    Raises
    ------
    ValueError
        A mode the graph (and ``points``) cannot colour by.
    """
    modes = _info.colorings(_info.node_values(graph, points))
    if color_by not in modes:
        raise ValueError(f"color_by must be one of {', '.join(modes)} for this graph; got {color_by!r}")
    return modes[color_by]


def legend(graph: MapperGraph, color_by: ColorBy = "density", points: PointInfo | None = None) -> Legend:
    """The colour legend of :func:`graph_elements` for ``graph``."""
    return node_colors(graph, color_by, points)[1]


def legends(graph: MapperGraph, points: PointInfo | None = None) -> dict[str, Legend]:
    """The legend of every colour mode the graph (and ``points``) support, in control order."""
    return {mode: leg for mode, (_, leg) in _info.colorings(_info.node_values(graph, points)).items()}


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
                   min_px: float = 26.0, max_px: float = 70.0, points: PointInfo | None = None,
                   all_modes: bool = True) -> list[dict]:
    """Cytoscape elements of a Mapper graph.

    Parameters
    ----------
    graph : MapperGraph
    previous : LayoutMemory, optional
        The previous drawing: nodes that persist keep their place.
    members_space, space : see :func:`carried_positions`.
    color_by : str
        The mode of ``data.color`` (:data:`~tdacnn.view.node_info.COLOR_MODES`).
    thumb_px : int
        Side of the thumbnail images.
    min_px, max_px : float
        Node side for the smallest and the biggest node.
    points : PointInfo, optional
        Per-point provenance and lens of the cloud the members index: more colour
        modes and a provenance line in the tooltips.
    all_modes : bool
        Store every mode's colour (``data.c_<mode>``) and a tooltip (``data.tip``),
        for the colour-by control; small multiples leave them out.

    Returns
    -------
    list of dict
        Nodes first (``data``: id, size, px, color, thumb, codensity, label, and
        with ``all_modes`` c_<mode> for each mode the data support and tip;
        ``position``), then edges (``data``: id, source, target, overlap, width).
    """
    ids = [n.id for n in graph.nodes]
    edge_pairs = [(e.source, e.target) for e in graph.edges]
    spread: dict[str, float] = {}
    carried = carried_positions(graph, previous, members_space, space, spread)
    sizes = np.array([n.size for n in graph.nodes], dtype=np.float64)
    pos = _layout.place(ids, edge_pairs, carried, {n.id: n.size for n in graph.nodes}, spread)
    values = _info.node_values(graph, points)
    modes = _info.colorings(values)
    if color_by not in modes:
        raise ValueError(f"color_by must be one of {', '.join(modes)} for this graph; got {color_by!r}")
    colors = modes[color_by][0]
    tips = _info.node_tooltips(graph, values) if all_modes else None
    px = _node_px(sizes, min_px, max_px)
    elements: list[dict] = []
    for i, (node, color, side) in enumerate(zip(graph.nodes, colors, px)):
        x, y = pos[node.id]
        data = {"id": node.id, "label": str(node.size), "size": node.size, "px": round(float(side), 1),
                "color": color, "codensity": round(float(node.mean_codensity), 5),
                "thumb": filter_data_uri(node.mean_filter, size=thumb_px)}
        if all_modes:
            data.update({f"c_{mode}": mode_colors[i] for mode, (mode_colors, _) in modes.items()})
            data["tip"] = tips[i]
        elements.append({"data": data, "position": {"x": round(x, 2), "y": round(y, 2)}})
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


def stylesheet(selected_color: str = "#ff2d55", color_by: str | None = None) -> list[dict]:
    """The Cytoscape stylesheet: thumbnails on nodes, colour as the border, a halo on selected nodes.

    ``color_by``: draw the border from ``data.c_<color_by>`` (elements of
    :func:`graph_elements`); None: from ``data.color``.
    """
    border = "data(color)" if color_by is None else f"data(c_{color_by})"
    return [
        {"selector": "node", "style": {
            "shape": "round-rectangle",
            "width": "data(px)", "height": "data(px)",
            "background-color": "#808080",
            "background-image": "data(thumb)",
            "background-fit": "cover",
            "background-image-smoothing": "no",
            "border-width": 5, "border-color": border, "border-opacity": 1,
            "label": "data(label)", "font-size": 10, "color": "#555",
            "text-valign": "bottom", "text-margin-y": 3,
        }},
        # a halo, not a border colour: the border keeps the colour-by value of a selected node
        {"selector": "node:selected", "style": {
            "border-width": 6, "overlay-opacity": 0, "underlay-color": selected_color, "underlay-opacity": 0.9,
            "underlay-padding": 7, "underlay-shape": "round-rectangle",
        }},
        {"selector": "edge", "style": {
            "width": "data(width)", "line-color": "#9aa0a6", "curve-style": "haystack", "opacity": 0.8,
        }},
    ]
