"""Small multiples: many little Mapper graphs in a grid (training dynamics, depth).

Each cell holds the elements of one small graph (coloured by node size, as in the
paper's Figures 5 and 6), a title and a caption with its number of significant
H1 bars.  The app turns cells into Cytoscape components; this module only
computes what they show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tdacnn.topology.barcode import Barcode
from tdacnn.topology.graph import MapperGraph
from tdacnn.view.cytoscape import graph_elements
from tdacnn.view.figures import circles_title

__all__ = ["Cell", "make_cell", "error_cell", "small_stylesheet"]


@dataclass(frozen=True)
class Cell:
    """One small multiple.

    Attributes
    ----------
    title : str
        E.g. ``"layer 1 · iteration 500"``.
    elements : list of dict
        Cytoscape elements (empty when the cell failed).
    caption : str
        E.g. ``"H1: 1 significant bar (1 circle) · 34 nodes"``, or the error.
    h1 : int or None
        Significant H1 bars (None when not computed).
    error : bool
    layer, iteration : int, optional
        What the cell shows, to open it in Explore.
    pending : bool
        Its bars are still being tested against random filters (the caption says so).
    """

    title: str
    elements: list[dict] = field(default_factory=list)
    caption: str = ""
    h1: int | None = None
    error: bool = False
    layer: int | None = None
    iteration: int | None = None
    pending: bool = False


def make_cell(title: str, graph: MapperGraph, barcode: Barcode | None = None) -> Cell:
    """A cell for ``graph`` (nodes coloured by size), captioned with its H1 count."""
    elements = graph_elements(graph, color_by="size", thumb_px=24, min_px=14, max_px=40, all_modes=False)
    n_nodes = len(graph.nodes)
    if barcode is None:
        return Cell(title, elements, f"{n_nodes} nodes", None)
    if barcode.pending:
        return Cell(title, elements, f"H1: testing the bars against random filters… · {n_nodes} nodes", None,
                    pending=True)
    h1 = barcode.h1_significant
    bars = "bar" if h1 == 1 else "bars"
    return Cell(title, elements, f"H1: {h1} significant {bars} ({circles_title(h1)}) · {n_nodes} nodes", h1)


def error_cell(title: str, message: str) -> Cell:
    """A cell that says why it is empty."""
    return Cell(title, [], message, None, True)


def small_stylesheet() -> list[dict]:
    """Stylesheet for small multiples: thumbnails, thin borders, no labels."""
    return [
        {"selector": "node", "style": {
            "shape": "round-rectangle", "width": "data(px)", "height": "data(px)",
            "background-color": "#808080", "background-image": "data(thumb)", "background-fit": "cover",
            "background-image-smoothing": "no",
            "border-width": 3, "border-color": "data(color)"}},
        {"selector": "edge", "style": {"width": 1.5, "line-color": "#9aa0a6", "curve-style": "haystack"}},
    ]
