"""Static pictures with matplotlib: Mapper graphs, barcodes, orientation histograms.

Pure functions from typed results to a matplotlib ``Figure`` (and :func:`to_png`
for the bytes), used by ``tdacnn reproduce`` for its report.  matplotlib is an
optional extra (``pip install 'tdacnn[report]'``): it runs on the non-interactive
``Agg`` backend and is imported inside the functions, so the app never loads it.

Filters are drawn on a symmetric gray scale (0 mid-gray, ``+max|f|`` white,
``-max|f|`` black), as the app's thumbnails are.
"""

from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import numpy as np

from tdacnn.errors import UserError

__all__ = ["require_matplotlib", "MISSING_MATPLOTLIB", "to_png", "graph_positions", "graph_figure", "draw_graph",
           "barcode_figure", "draw_barcode", "orientation_figure", "dynamics_figure", "depth_figure", "filters_figure"]


#: The one sentence where matplotlib (an optional extra) is missing.
MISSING_MATPLOTLIB = "the report needs matplotlib: pip install 'tdacnn[report]'"


def require_matplotlib() -> None:
    """Raise :class:`~tdacnn.errors.UserError` (:data:`MISSING_MATPLOTLIB`) unless matplotlib imports.

    ``tdacnn reproduce`` calls it before it trains anything; every figure here calls it too.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise UserError(MISSING_MATPLOTLIB) from exc


def _plt():
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def to_png(fig, dpi: int = 100, palette: bool = False) -> bytes:
    """PNG bytes of a figure (the figure is closed afterwards).

    Parameters
    ----------
    palette : bool
        Quantise to a 256-colour palette (about a third of the size; for reports).
    """
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    if not palette:
        return buf.getvalue()
    from PIL import Image

    buf.seek(0)
    img = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


# ------------------------------------------------------------------ Mapper graph
def graph_positions(graph, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Node positions: the app's own layout (:func:`tdacnn.view.layout.fresh_layout`), so that a
    report draws a graph as the dashboard does.

    Parameters
    ----------
    graph : MapperGraph
    seed : int
        Unused (the layout is deterministic); kept for callers.

    Returns
    -------
    dict of node id to (x, y)
        In matplotlib's orientation (y up; the browser's y points down).
    """
    from tdacnn.view.layout import fresh_layout

    pos = fresh_layout([n.id for n in graph.nodes], [(e.source, e.target) for e in graph.edges])
    return {n: (x, -y) for n, (x, y) in pos.items()}


def draw_graph(ax, graph, title: str = "", thumbnails: bool = True, max_thumbnails: int = 120,
               thumb_zoom: float | None = None, colorbar: bool = True, pos=None) -> None:
    """Draw a Mapper graph into ``ax``: nodes coloured by mean codensity, mean-filter thumbnails.

    Parameters
    ----------
    ax : matplotlib Axes
    graph : MapperGraph
    thumbnails : bool
        Label nodes with their mean filter (the ``max_thumbnails`` largest nodes).
    thumb_zoom : float, optional
        Thumbnail magnification (pixels per filter pixel / 1); chosen from the node count when None.
    pos : dict, optional
        Positions from :func:`graph_positions`.
    """
    from matplotlib.colors import Normalize
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    plt = _plt()
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    if not graph.nodes:
        ax.text(0.5, 0.5, "empty graph", ha="center", va="center", transform=ax.transAxes)
        return
    pos = pos or graph_positions(graph)
    for e in graph.edges:
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        ax.plot([x1, x2], [y1, y2], color="#888888", lw=0.8, zorder=1)
    xy = np.array([pos[n.id] for n in graph.nodes])
    cod = np.array([n.mean_codensity for n in graph.nodes], dtype=float)
    sizes = np.array([n.size for n in graph.nodes], dtype=float)
    s = 20 + 180 * np.sqrt(sizes / sizes.max())
    # the app's colouring: Viridis, the densest node (smallest codensity) at its first colour
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=cod, s=s, cmap="viridis", zorder=2, edgecolors="k", linewidths=0.3)
    if colorbar:
        cb = plt.colorbar(sc, ax=ax, fraction=0.035, pad=0.01)
        cb.set_label("mean codensity (k-NN distance; low = dense)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    if thumbnails:
        order = np.argsort(-sizes, kind="stable")[:max_thumbnails]
        zoom = thumb_zoom if thumb_zoom is not None else (4.0 if len(graph.nodes) <= 40 else 3.0
                                                          if len(graph.nodes) <= 90 else 2.2)
        for i in order:
            f = np.asarray(graph.nodes[i].mean_filter, dtype=float)
            m = float(np.abs(f).max()) or 1.0
            im = OffsetImage(f, cmap="gray", norm=Normalize(-m, m), zoom=zoom, interpolation="nearest")
            ab = AnnotationBbox(im, tuple(xy[i]), frameon=True, pad=0.05, zorder=3,
                                bboxprops={"edgecolor": plt.get_cmap("viridis")(sc.norm(cod[i])), "lw": 1.2})
            ax.add_artist(ab)
    ax.margins(0.08)
    ax.set_aspect("equal", adjustable="datalim")


def graph_figure(graph, title: str = "", subtitle: str = "", thumbnails: bool = True, size: float = 8.0):
    """A figure of one Mapper graph (see :func:`draw_graph`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    draw_graph(ax, graph, title, thumbnails)
    if subtitle:
        fig.text(0.5, 0.01, subtitle, ha="center", fontsize=8, color="#444444")
    return fig


# ------------------------------------------------------------------ barcode
def draw_barcode(ax, barcode, dim: int = 1, title: str = "", max_bars: int = 40) -> None:
    """Horizontal bars of dimension ``dim``, longest first, significant ones in red.

    Parameters
    ----------
    ax : matplotlib Axes
    barcode : Barcode
    """
    bars = np.asarray(barcode.bars(dim), dtype=float).reshape(-1, 2)
    n_sig = int(barcode.significant[dim]) if dim < len(barcode.significant) else 0
    finite = np.isfinite(bars[:, 1])
    top = float(bars[finite, 1].max()) if finite.any() else 1.0
    bars = bars[:max_bars]
    ends = np.where(np.isfinite(bars[:, 1]), bars[:, 1], top * 1.05)
    for i, (b, d) in enumerate(zip(bars[:, 0], ends)):
        ax.plot([b, d], [i, i], color="#c0392b" if (dim > 0 and i < n_sig) else "#34495e", lw=3 if i < n_sig else 1.5,
                solid_capstyle="butt")
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel("filtration value (Euclidean distance)", fontsize=8)
    ax.tick_params(labelsize=7)
    label = f"H{dim}: {len(barcode.bars(dim))} bars"
    if dim > 0:
        label += f", {n_sig} significant"
    ax.set_title(f"{title}\n{label}" if title else label, fontsize=9)


def barcode_figure(barcode, title: str = "", dims: Sequence[int] = (0, 1)):
    """A figure with the H0 and H1 barcodes side by side."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.6), squeeze=False)
    for ax, d in zip(axes[0], dims):
        draw_barcode(ax, barcode, d)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ orientation
def orientation_figure(angles: Mapping[str, np.ndarray], bins: int = 36, title: str = ""):
    """Histograms of filter angles on the primary circle, one curve per cloud.

    Parameters
    ----------
    angles : dict of label to ndarray of shape (n,)
        Angles in radians (``[0, 2π)``), e.g. from :func:`tdacnn.topology.orientation.orientation`.
    bins : int

    Notes
    -----
    Each curve is normalised to a density (1 = uniform), so clouds of different
    sizes compare; dotted lines mark horizontal and vertical edges (multiples of 90°).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    edges = np.linspace(0, 360, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    for label, a in angles.items():
        a = np.degrees(np.mod(np.asarray(a, dtype=float), 2 * np.pi))
        counts, _ = np.histogram(a, bins=edges)
        dens = counts / max(counts.sum(), 1) * bins
        ax.step(centres, dens, where="mid", lw=1.6, label=f"{label} (n={len(a)})")
    for x in (0, 90, 180, 270, 360):
        ax.axvline(x, color="#999999", ls=":", lw=0.8)
    ax.axhline(1.0, color="#555555", lw=0.6)
    ax.set_xlim(0, 360)
    ax.set_xticks(range(0, 361, 45))
    ax.set_xlabel("angle on the primary circle (degrees; multiples of 90 = horizontal/vertical edges)", fontsize=8)
    ax.set_ylabel("density (1 = uniform)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ small multiples
def dynamics_figure(rows: Sequence[dict], title: str = ""):
    """Longest and second-longest H1 bar against training iteration, per series.

    Parameters
    ----------
    rows : sequence of dict
        Each with ``series`` (e.g. "MNIST layer 1"), ``iteration``, ``h1_lengths``
        (sorted, longest first) and ``verdict`` ("circle" or not).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    series: dict[str, list[dict]] = {}
    for r in rows:
        series.setdefault(r["series"], []).append(r)
    for i, (name, rs) in enumerate(series.items()):
        rs = sorted(rs, key=lambda r: r["iteration"])
        its = [max(r["iteration"], 1) for r in rs]
        first = [r["h1_lengths"][0] if r["h1_lengths"] else 0.0 for r in rs]
        second = [r["h1_lengths"][1] if len(r["h1_lengths"]) > 1 else 0.0 for r in rs]
        color = f"C{i}"
        ax.plot(its, first, "-o", color=color, label=f"{name}: longest H1 bar", ms=4)
        ax.plot(its, second, "--", color=color, alpha=0.6, lw=1, label=f"{name}: 2nd longest")
        for it, y, r in zip(its, first, rs):
            if r.get("verdict") == "seen":
                ax.plot(it, y, marker="*", color=color, ms=13, mec="k", mew=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("training iteration (0 plotted at 1); star = circle seen", fontsize=8)
    ax.set_ylabel("H1 bar length", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6.5, ncol=2)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def depth_figure(graphs: Sequence[tuple[str, object]], ncols: int = 4, title: str = ""):
    """Small multiples: one Mapper graph per layer (thumbnails on the larger nodes)."""
    plt = _plt()
    n = max(len(graphs), 1)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (label, g) in zip(axes.flat, graphs):
        draw_graph(ax, g, label, thumbnails=True, max_thumbnails=24, thumb_zoom=2.0, colorbar=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def filters_figure(filters: np.ndarray, title: str = "", ncols: int = 16, max_filters: int = 64):
    """A grid of 2-D filters (e.g. a sample of the cloud), symmetric gray scale.

    Parameters
    ----------
    filters : ndarray of shape (n, kh, kw)
    """
    plt = _plt()
    f = np.asarray(filters, dtype=float)[:max_filters]
    n = max(len(f), 1)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.45, nrows * 0.45 + (0.4 if title else 0)),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, k in zip(axes.flat, f):
        m = float(np.abs(k).max()) or 1.0
        ax.imshow(k, cmap="gray", vmin=-m, vmax=m, interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
