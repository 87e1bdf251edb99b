"""What each Mapper node shows besides its thumbnail: colour values, colours, legends, a tooltip.

Two steps, as in :mod:`tdacnn.view.cytoscape`: :func:`node_values` computes one
number per node for each *colour mode* the data supports (mean codensity, size,
mean orientation, mean lens value, the members' main network, iteration or input
channel); :func:`colorings` turns them into CSS colours and a :class:`Legend` per
mode.  Every mode's colours are computed at once and stored in the node data
(``data.c_<mode>``), so switching the colour needs no server round trip: the page
only swaps the stylesheet (``border-color: data(c_angle)``).

Per-point data (provenance, lens values) come in a :class:`PointInfo`; without
it only the modes the graph alone knows (density, size, orientation) exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np

from tdacnn.topology.graph import MapperGraph

__all__ = ["COLOR_MODES", "MODE_LABELS", "COLORSCALE", "CYCLIC_COLORSCALE", "CATEGORY_COLORS", "Legend", "PointInfo",
           "NodeValues", "node_values", "colorings", "node_tooltips", "value_listing"]

#: Every colour mode, in the order the colour-by control lists them.
COLOR_MODES = ("density", "size", "angle", "lens", "network", "iteration", "in_channel")
ColorMode = Literal["density", "size", "angle", "lens", "network", "iteration", "in_channel"]
#: Words for the colour-by control.
MODE_LABELS = {"density": "codensity", "size": "size", "angle": "orientation", "lens": "lens",
               "network": "network", "iteration": "iteration", "in_channel": "input ch."}
#: Sequential scale (densest or biggest node at its first colour).
COLORSCALE = "Viridis"
#: Cyclic scale for angles: 0° and 360° get the same colour.
CYCLIC_COLORSCALE = "Phase"
#: Colours of categories (networks, input channels), repeated past the last one.
CATEGORY_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#3182bd", "#31a354",
                   "#756bb1", "#e6550d", "#de9ed6", "#9c9ede")
#: Colour of a node whose value is unknown (no members with that provenance).
UNKNOWN_COLOR = "#bdbdbd"

_CATEGORICAL = {"network": "network", "in_channel": "input channel"}
_ORDINAL = {"iteration": "iteration"}


@dataclass(frozen=True)
class Legend:
    """What the colour of a node means, for a colour bar (or swatches) beside the graph.

    Attributes
    ----------
    title : str
    low, high : float
        Values at the two ends of the scale (``low`` is drawn in ``colors[0]``).
    low_label, high_label : str
        Words for the ends ("dense", "sparse").
    colors : list of str
        CSS colours from the ``low`` end to the ``high`` end.
    swatches : list of (str, str)
        For categories: (label, colour) pairs instead of a scale.
    cyclic : bool
        The scale wraps round (angles): ``low`` and ``high`` are the same place.
    """

    title: str
    low: float
    high: float
    low_label: str
    high_label: str
    colors: list[str] = field(default_factory=list)
    swatches: list[tuple[str, str]] = field(default_factory=list)
    cyclic: bool = False

    def gradient(self) -> str:
        """CSS ``linear-gradient`` from low (left) to high (right)."""
        return f"linear-gradient(to right, {', '.join(self.colors)})" if self.colors else "none"

    def to_dict(self) -> dict:
        return {"title": self.title, "low": self.low, "high": self.high, "low_label": self.low_label,
                "high_label": self.high_label, "colors": list(self.colors), "gradient": self.gradient(),
                "swatches": [list(s) for s in self.swatches], "cyclic": self.cyclic}


@dataclass(frozen=True)
class PointInfo:
    """Per-point data of the cloud the graph was built on (what node members index).

    Attributes
    ----------
    provenance : dict of str to ndarray of shape (m,)
        ``network, layer, iteration, out_channel, in_channel`` (-1: unknown).
    lens : ndarray of shape (m, d), optional
        The Mapper lens values; colour mode ``"lens"`` uses the first column.
    lens_label : str
        E.g. ``"PCA 1"``.
    lens_period : float, optional
        Period of a periodic lens (the angle lens: 2π); its node means are circular.
    """

    provenance: Mapping[str, np.ndarray] = field(default_factory=dict)
    lens: np.ndarray | None = None
    lens_label: str = "lens"
    lens_period: float | None = None


@dataclass(frozen=True)
class NodeValues:
    """One value per node (graph order) for each colour mode the data supports.

    Attributes
    ----------
    values : dict of str to ndarray of shape (n_nodes,)
        NaN where a node has no value (e.g. no member with a known network).
    spread : dict of str to ndarray of shape (n_nodes,)
        For provenance modes: how many distinct values each node holds.
    majority_count : dict of str to ndarray of shape (n_nodes,)
        For provenance modes: members holding the node's main value.
    distinct : dict of str to list of ndarray
        For provenance modes: each node's distinct known values, sorted.
    lens_label : str
    lens_cyclic : bool
    """

    values: dict[str, np.ndarray]
    spread: dict[str, np.ndarray] = field(default_factory=dict)
    majority_count: dict[str, np.ndarray] = field(default_factory=dict)
    distinct: dict[str, list[np.ndarray]] = field(default_factory=dict)
    lens_label: str = "lens"
    lens_cyclic: bool = False


def _field_stats(member_values: np.ndarray, node_of: np.ndarray, n_nodes: int):
    """Per node: main value (NaN if none known), its count, and the sorted distinct known values.

    ``member_values`` (total,) and ``node_of`` (total,) list every (node, member) pair;
    vectorised over nodes (one sort), ties going to the smallest value.
    """
    known = member_values >= 0
    v, nd = member_values[known].astype(np.int64), node_of[known]
    main = np.full(n_nodes, np.nan)
    main_count = np.zeros(n_nodes, dtype=np.int64)
    if len(v) == 0:
        return main, main_count, [np.zeros(0, dtype=np.int64)] * n_nodes
    width = int(v.max()) + 1
    pairs, counts = np.unique(nd * width + v, return_counts=True)  # sorted by node, then value
    pair_node, pair_value = pairs // width, pairs % width
    # the first pair of each node with its largest count: order by (node, -count, value)
    order = np.lexsort((pair_value, -counts, pair_node))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_node[order][1:] != pair_node[order][:-1]
    top = order[first]
    main[pair_node[top]] = pair_value[top]
    main_count[pair_node[top]] = counts[top]
    bounds = np.searchsorted(pair_node, np.arange(n_nodes + 1))
    distinct = [pair_value[bounds[i]:bounds[i + 1]] for i in range(n_nodes)]
    return main, main_count, distinct


def node_values(graph: MapperGraph, points: PointInfo | None = None) -> NodeValues:
    """Per-node values of every colour mode the graph (and ``points``) support.

    ``density`` (mean codensity) and ``size`` always; ``angle`` for 3×3 filters: the
    angle of the node's mean filter on the primary circle, i.e. the circular mean
    of its members' angles weighted by the strength of their edge (the DCT is
    linear); ``lens``: the members' mean lens value (circular for a periodic lens);
    ``network``, ``iteration``, ``in_channel``: the value most members share, where
    the graph's points hold more than one.

    Parameters
    ----------
    graph : MapperGraph
    points : PointInfo, optional
        Indexed by the node members.

    Returns
    -------
    NodeValues
    """
    nodes = graph.nodes
    values: dict[str, np.ndarray] = {
        "density": np.array([n.mean_codensity for n in nodes], dtype=np.float64),
        "size": np.array([n.size for n in nodes], dtype=np.float64),
    }
    if nodes and np.asarray(nodes[0].mean_filter).shape == (3, 3):
        from tdacnn.topology.orientation import orientation

        angles, frac = orientation(np.stack([np.asarray(n.mean_filter).reshape(9) for n in nodes]))
        values["angle"] = np.where(frac > 1e-9, angles, np.nan)
    out = NodeValues(values)
    if points is None or not nodes:
        return out
    members = np.concatenate([n.members for n in nodes])  # every (node, member) pair
    node_of = np.repeat(np.arange(len(nodes)), [n.size for n in nodes])
    sizes = np.maximum(values["size"], 1)
    lens_cyclic = False
    if points.lens is not None and len(points.lens):
        lens = np.asarray(points.lens, dtype=np.float64).reshape(len(points.lens), -1)[members, 0]
        if points.lens_period:
            lens_cyclic = True
            turn = lens * (2 * math.pi / points.lens_period)
            s_, c_ = (np.bincount(node_of, np.sin(turn), len(nodes)), np.bincount(node_of, np.cos(turn), len(nodes)))
            mean = np.mod(np.arctan2(s_, c_), 2 * math.pi) * points.lens_period / (2 * math.pi)
            values["lens"] = np.where(np.hypot(s_, c_) > 1e-9 * sizes, mean, np.nan)
        else:
            values["lens"] = np.bincount(node_of, lens, len(nodes)) / sizes
    spread, majority, distinct = {}, {}, {}
    for name in ("network", "iteration", "in_channel", "out_channel"):
        prov = points.provenance.get(name)
        if prov is None:
            continue
        prov = np.asarray(prov)
        main, main_count, dist = _field_stats(prov[members], node_of, len(nodes))
        spread[name] = np.array([len(d) for d in dist])
        majority[name], distinct[name] = main_count, dist
        if name in ("network", "iteration", "in_channel") and len(np.unique(prov[prov >= 0])) > 1:
            values[name] = main
    return NodeValues(values, spread, majority, distinct, points.lens_label, lens_cyclic)


_LUT_SIZE = 256
_luts: dict[str, list[str]] = {}


def _lut(scale: str) -> list[str]:
    """``_LUT_SIZE`` CSS colours sampled once from a plotly scale (sampling per node is slow)."""
    lut = _luts.get(scale)
    if lut is None:
        from plotly.colors import get_colorscale, sample_colorscale

        lut = sample_colorscale(get_colorscale(scale), np.linspace(0, 1, _LUT_SIZE).tolist())
        _luts[scale] = lut
    return lut


def _sample(scale: str, t: np.ndarray) -> list[str]:
    """Colours of ``t`` in [0, 1] (clipped) on a plotly scale, from its look-up table."""
    lut = _lut(scale)
    idx = np.rint(np.clip(np.asarray(t, dtype=np.float64), 0, 1) * (_LUT_SIZE - 1)).astype(int)
    return [lut[i] for i in idx]


def _with_unknown(v: np.ndarray, colors_of_known) -> list[str]:
    known = np.isfinite(v)
    out = [UNKNOWN_COLOR] * len(v)
    if known.any():
        for i, c in zip(np.flatnonzero(known), colors_of_known(v[known])):
            out[int(i)] = c
    return out


def _sequential(v: np.ndarray, reverse: bool = False) -> tuple[list[str], float, float]:
    known = v[np.isfinite(v)]
    lo, hi = (float(known.min()), float(known.max())) if len(known) else (0.0, 1.0)

    def colors(x):
        t = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        return _sample(COLORSCALE, 1.0 - t if reverse else t)

    return _with_unknown(v, colors), lo, hi


def _category_color(value: float) -> str:
    return CATEGORY_COLORS[int(value) % len(CATEGORY_COLORS)]


def colorings(nv: NodeValues) -> dict[str, tuple[list[str], Legend]]:
    """CSS colours (one per node) and the legend of each mode in ``nv``.

    Density: the densest node (smallest codensity) at the first colour of
    :data:`COLORSCALE`; size: the biggest at the first colour; angles on the
    cyclic :data:`CYCLIC_COLORSCALE`; networks and input channels as categories
    (:data:`CATEGORY_COLORS`); iterations on the sequential scale.  Nodes
    without a value are :data:`UNKNOWN_COLOR`.
    """
    ramp = _sample(COLORSCALE, np.linspace(0, 1, 7))
    out: dict[str, tuple[list[str], Legend]] = {}
    for mode in COLOR_MODES:
        v = nv.values.get(mode)
        if v is None:
            continue
        if mode == "density":
            colors, lo, hi = _sequential(v)
            out[mode] = colors, Legend("mean codensity (k-NN distance)", lo, hi, "dense", "sparse", ramp)
        elif mode == "size":
            colors, lo, hi = _sequential(v, reverse=True)
            out[mode] = colors, Legend("members per node", hi, lo, "big", "small", ramp)
        elif mode == "angle" or (mode == "lens" and nv.lens_cyclic):
            wheel = _sample(CYCLIC_COLORSCALE, np.linspace(0, 1, 13))
            colors = _with_unknown(v, lambda x: _sample(CYCLIC_COLORSCALE, np.mod(x, 2 * math.pi) / (2 * math.pi)))
            title = ("mean orientation on the primary circle" if mode == "angle"
                     else f"lens: {nv.lens_label} (circular mean)")
            out[mode] = colors, Legend(title, 0.0, 360.0, "0°", "360°", wheel, cyclic=True)
        elif mode == "lens":
            colors, lo, hi = _sequential(v)
            out[mode] = colors, Legend(f"lens: {nv.lens_label} (mean over members)", lo, hi, "", "", ramp)
        elif mode in _CATEGORICAL:
            colors = _with_unknown(v, lambda x: [_category_color(a) for a in x])
            shown = np.unique(v[np.isfinite(v)]).astype(int)
            swatches = [(str(int(a)), _category_color(a)) for a in shown]
            word = _CATEGORICAL[mode]
            title = f"main {word} of the members" + (" (colours repeat)" if len(shown) > len(CATEGORY_COLORS)
                                                      else "")
            out[mode] = colors, Legend(title, float(shown.min()) if len(shown) else 0.0,
                                       float(shown.max()) if len(shown) else 0.0, "", "", [], swatches)
        else:  # iteration: ordered
            colors, lo, hi = _sequential(v)
            out[mode] = colors, Legend(f"main {_ORDINAL[mode]} of the members", lo, hi, "", "", ramp)
    return out


def value_listing(values: np.ndarray, limit: int = 6, distinct: bool = False) -> str:
    """``"0, 3, 7"`` or ``"0–31"`` (a full run) or ``"0, 1, 2, 3, 4, 5, … (40)"``.

    ``distinct``: ``values`` are already sorted, distinct and known (>= 0).
    """
    v = np.asarray(values, dtype=np.int64)
    if not distinct:
        v = np.unique(v[v >= 0])
    if len(v) == 0:
        return ""
    if len(v) > 2 and v[-1] - v[0] == len(v) - 1:
        return f"{v[0]}–{v[-1]}"
    text = ", ".join(str(int(x)) for x in v[:limit])
    return text + (f", … ({len(v)})" if len(v) > limit else "")


def node_tooltips(graph: MapperGraph, nv: NodeValues) -> list[str]:
    """One short text per node (lines joined by ``\\n``): size, codensity, orientation,
    lens value and where its members come from."""
    tips = []
    for i, node in enumerate(graph.nodes):
        lines = [f"{node.id}: {node.size} filter{'s' if node.size != 1 else ''} · "
                 f"mean codensity {node.mean_codensity:.3g}"]
        if "angle" in nv.values:
            a = nv.values["angle"][i]
            lines.append("orientation: no edge component" if not np.isfinite(a)
                         else f"orientation {math.degrees(a):.0f}°")
        if "lens" in nv.values and np.isfinite(nv.values["lens"][i]):
            lv = nv.values["lens"][i]
            lines.append(f"{nv.lens_label} {math.degrees(lv):.0f}°" if nv.lens_cyclic else f"{nv.lens_label} {lv:.3g}")
        for name, word in (("network", "network"), ("iteration", "iteration"), ("out_channel", "output channel"),
                           ("in_channel", "input channel")):
            if name not in nv.distinct:
                continue
            values = nv.distinct[name][i]
            n_distinct = len(values)
            if n_distinct == 0:
                continue
            listing = value_listing(values, distinct=True)
            if name == "network" and n_distinct > 1:
                main = nv.values.get("network")
                top = f"; most from {int(main[i])} (×{int(nv.majority_count[name][i])})" \
                    if main is not None and np.isfinite(main[i]) else ""
                lines.append(f"{n_distinct} networks: {listing}{top}")
            elif n_distinct > 1:
                lines.append(f"{word}s {listing}")
            elif name != "iteration" or "iteration" in nv.values:
                lines.append(f"{word} {listing}")
        tips.append("\n".join(lines))
    return tips
