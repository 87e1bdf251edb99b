"""Plotly figures: barcode, persistence diagram, orientation histogram.

Pure functions ``data -> go.Figure`` (as giotto-tda's ``plot_diagram``); plotly is
imported inside them.  Significant bars are the ``barcode.significant[d]`` longest
bars of dimension ``d`` (the rule, a test against random filters, lives in
:mod:`tdacnn.topology.significance`); titles say what the verdict means
(:func:`verdict_title`) and the diagram draws the significance threshold.
"""

from __future__ import annotations

import math

import numpy as np

from tdacnn.topology.barcode import Barcode

__all__ = ["PENDING_TITLE", "circles_title", "verdict_title", "barcode_figure", "bar_traces", "diagram_figure", "orientation_figure", "empty_figure",
           "SIGNIFICANT_COLOR", "PLAIN_COLOR", "EXPORT_CONFIG"]

SIGNIFICANT_COLOR = "#d62728"
PLAIN_COLOR = "#8c8c8c"

#: ``dcc.Graph(config=...)`` for figures whose modebar downloads PNG (and SVG via the format switch).
EXPORT_CONFIG = {"displaylogo": False,
                 "toImageButtonOptions": {"format": "png", "filename": "barcode", "scale": 2}}


#: What a barcode's title says while its bars are being tested against random filters.
PENDING_TITLE = "testing the bars against random filters…"


def circles_title(n: int) -> str:
    """``0 -> "no circle"``, ``1 -> "1 circle"``, ``n -> "n circles"``."""
    return "no circle" if n == 0 else "1 circle" if n == 1 else f"{n} circles"


def verdict_title(barcode: Barcode) -> str:
    """The H1 verdict and what it means, e.g. ``"1 circle, p < 0.001 against random filters"``.

    ``"2 circles, each p < 0.001 …"`` (the largest p-value of the significant bars), ``"no circle
    (longest bar p = 0.48 against random filters)"``; just :func:`circles_title` when the barcode
    carries no p-values.
    """
    from tdacnn.topology.significance import format_p

    if barcode.pending:
        return PENDING_TITLE
    n = barcode.h1_significant
    head = circles_title(n)
    info = barcode.meta.get("significance")
    p = barcode.pvalues(1)
    if not info or len(barcode.p_values) < 2 or len(p) == 0:
        return head
    null = f"against {info.get('null', 'the null')}"
    if n == 0:
        return f"{head} (longest bar {format_p(float(p.min()))} {null})"
    worst = float(np.sort(p)[n - 1])
    return f"{head}, {'each ' if n > 1 else ''}{format_p(worst)} {null}"


def _threshold(barcode: Barcode, dim: int) -> float:
    """The shortest significant length of dimension ``dim`` (inf when unknown)."""
    info = barcode.meta.get("significance") or {}
    ts = info.get("thresholds") or []
    return float(ts[dim]) if dim < len(ts) and ts[dim] is not None else math.inf


def _layout(fig, title: str, height: int):
    fig.update_layout(title={"text": title, "x": 0.02, "font": {"size": 15}}, height=height,
                      margin={"l": 40, "r": 10, "t": 40, "b": 35}, plot_bgcolor="white",
                      paper_bgcolor="white", showlegend=False)
    return fig


def empty_figure(message: str = "", height: int = 300):
    """A blank figure with a centred message (instead of an error)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"color": "#777"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height)


def _ranked(bars: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Bars sorted longest first (infinite deaths drawn to ``top``) and their lengths."""
    b = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    death = np.where(np.isfinite(b[:, 1]), b[:, 1], top)
    order = np.argsort(-(death - b[:, 0]), kind="stable")
    return np.column_stack([b[order, 0], death[order]]), (death - b[:, 0])[order]


def bar_traces(barcode: Barcode, d: int, ranked: np.ndarray) -> list:
    """The bars of dimension ``d`` (``ranked``: (n, 2), longest first, infinite deaths capped) as two
    line traces: the significant bars thick and red, the others thin and grey."""
    import plotly.graph_objects as go

    n_sig = int(barcode.significant[d]) if d < len(barcode.significant) else 0
    traces = []
    for sig, color, width in ((False, PLAIN_COLOR, 3), (True, SIGNIFICANT_COLOR, 6)):
        xs, ys = [], []
        for i, (b, e) in enumerate(ranked):
            if (i < n_sig) == sig:
                xs += [b, e, None]
                ys += [i, i, None]
        if xs:
            traces.append(go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": width},
                                     hoverinfo="skip", name=f"H{d} {'significant' if sig else 'other'}"))
    return traces


def _top_value(barcode: Barcode) -> float:
    finite = [dg[np.isfinite(dg[:, 1]), 1] for dg in barcode.diagrams if len(dg)]
    finite = np.concatenate(finite) if finite else np.zeros(0)
    m = float(finite.max()) if finite.size else 1.0
    return m * 1.1 if m > 0 else 1.0


def barcode_figure(barcode: Barcode, dims: tuple[int, ...] = (0, 1), max_bars: int = 60, height: int = 360,
                   title: str | None = None):
    """Horizontal bars (birth to death), one panel per homology dimension.

    Parameters
    ----------
    barcode : Barcode
    dims : tuple of int
        Dimensions to draw, each in its own panel (H0 above H1).
    max_bars : int
        At most this many bars per dimension (the longest); the rest are noise.
    title : str, optional
        Default: the number of significant H1 bars in words ("1 circle").

    Returns
    -------
    plotly.graph_objects.Figure
        Significant bars in :data:`SIGNIFICANT_COLOR`, the rest gray; infinite bars
        drawn to the right edge with an arrow head.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dims = tuple(d for d in dims if d < len(barcode.diagrams)) or (0,)
    top = _top_value(barcode)
    fig = make_subplots(rows=len(dims), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[f"H{d}  ({len(barcode.bars(d))} bars, "
                                        f"{barcode.significant[d] if d < len(barcode.significant) else 0}"
                                        f" significant{_alpha_words(barcode)})" for d in dims],
                        row_heights=[1.0 / len(dims)] * len(dims))
    for row, d in enumerate(dims, start=1):
        ranked, lengths = _ranked(barcode.bars(d), top)
        ranked = ranked[:max_bars]
        for trace in bar_traces(barcode, d, ranked):
            fig.add_trace(trace, row=row, col=1)
        n_sig = int(barcode.significant[d]) if d < len(barcode.significant) else 0
        inf = np.flatnonzero(~np.isfinite(np.asarray(barcode.bars(d))[:, 1]))
        if len(inf):
            fig.add_trace(go.Scatter(x=[top] * min(len(inf), len(ranked)), y=list(range(min(len(inf), len(ranked)))),
                                     mode="markers", marker={"symbol": "triangle-right", "size": 9,
                                                             "color": SIGNIFICANT_COLOR if n_sig else PLAIN_COLOR},
                                     hoverinfo="skip", name="infinite"), row=row, col=1)
        fig.update_yaxes(autorange="reversed", showticklabels=False, showgrid=False, zeroline=False, row=row, col=1)
    fig.update_xaxes(range=[0, top * 1.02], showgrid=True, gridcolor="#eee", zeroline=False)
    fig.update_xaxes(title_text="filtration value (distance)", row=len(dims), col=1)
    if title is None:
        title = verdict_title(barcode)
    return _layout(fig, title, height)


def _alpha_words(barcode: Barcode) -> str:
    info = barcode.meta.get("significance")
    return f" at p ≤ {info['alpha']:g}" if info and "alpha" in info else ""


def diagram_figure(barcode: Barcode, dims: tuple[int, ...] = (0, 1), height: int = 360, title: str | None = None):
    """Persistence diagram: one marker per bar at (birth, death), the diagonal for reference.

    Infinite deaths are drawn on a dashed line at the top; significant bars are
    larger and in :data:`SIGNIFICANT_COLOR`.  For each drawn dimension d ≥ 1 whose barcode was
    tested, the significance threshold is the dashed line ``death = birth + t``: a bar above it
    has p ≤ alpha against the null.
    """
    import plotly.graph_objects as go

    top = _top_value(barcode)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"color": "#bbb", "dash": "dot"},
                             hoverinfo="skip", name="diagonal"))
    fig.add_trace(go.Scatter(x=[0, top], y=[top, top], mode="lines", line={"color": "#ddd", "dash": "dash"},
                             hoverinfo="skip", name="∞"))
    symbols = {0: "circle", 1: "diamond", 2: "square"}
    for d in dims:
        if d >= len(barcode.diagrams):
            continue
        ranked, lengths = _ranked(barcode.bars(d), top)
        n_sig = int(barcode.significant[d]) if d < len(barcode.significant) else 0
        sig = np.arange(len(ranked)) < n_sig
        t = _threshold(barcode, d)
        if d >= 1 and math.isfinite(t) and t < top:
            info = barcode.meta["significance"]
            fig.add_trace(go.Scatter(x=[0, top - t], y=[t, top], mode="lines",
                                     line={"color": SIGNIFICANT_COLOR, "dash": "dash", "width": 1},
                                     name=f"H{d} threshold: p = {info['alpha']:g} against {info['null']}",
                                     hovertemplate=f"H{d}: significant above death = birth + {t:.3f}<extra></extra>"))
        for mask, color, size, label in ((~sig, PLAIN_COLOR, 7, ""), (sig, SIGNIFICANT_COLOR, 11, " significant")):
            if mask.any():
                fig.add_trace(go.Scatter(x=ranked[mask, 0], y=ranked[mask, 1], mode="markers",
                                         marker={"color": color, "size": size, "symbol": symbols.get(d, "circle"),
                                                 "opacity": 0.85},
                                         name=f"H{d}{label}",
                                         hovertemplate=f"H{d}: birth %{{x:.3f}}, death %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(range=[0, top * 1.02], title_text="birth", gridcolor="#eee", zeroline=False)
    fig.update_yaxes(range=[0, top * 1.05], title_text="death", gridcolor="#eee", zeroline=False,
                     scaleanchor="x", scaleratio=1)
    if title is None:
        title = verdict_title(barcode)
    fig = _layout(fig, title, height)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.2})
    return fig


def orientation_figure(angles: np.ndarray, bins: int = 36, height: int = 260, title: str | None = None):
    """Histogram of angles on the primary circle, in degrees over [0, 360).

    Parameters
    ----------
    angles : ndarray of shape (n,)
        Radians in [0, 2π) (:func:`tdacnn.topology.orientation.orientation`).
    bins : int

    Returns
    -------
    plotly.graph_objects.Figure
        Bars; dotted lines at the axis directions (0°, 90°, 180°, 270°: horizontal
        and vertical edges), where a CNN's filters pile up.
    """
    import plotly.graph_objects as go

    a = np.mod(np.asarray(angles, dtype=np.float64), 2 * math.pi)
    counts, edges = np.histogram(a, bins=bins, range=(0.0, 2 * math.pi))
    deg = np.degrees(edges)
    centres = (deg[:-1] + deg[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(deg) * 0.92, marker={"color": "#4c72b0"},
                           hovertemplate="%{x:.0f}°: %{y} filters<extra></extra>", name="filters"))
    for axis in (0, 90, 180, 270, 360):
        fig.add_vline(x=axis, line={"color": "#c44", "dash": "dot", "width": 1})
    fig.update_xaxes(range=[0, 360], tickvals=[0, 45, 90, 135, 180, 225, 270, 315, 360],
                     title_text="angle on the primary circle (°)", gridcolor="#eee")
    fig.update_yaxes(title_text="filters", gridcolor="#eee")
    return _layout(fig, title if title is not None else f"orientation of {len(a)} filters", height)
