"""The Klein-bottle figures: a density map of the filters on the Klein bottle, and Z/2 beside Z/3.

Pure functions ``data -> go.Figure`` (plotly imported inside), as the other
figures of :mod:`tdacnn.view.figures`.  The map is the rectangle of
:mod:`tdacnn.topology.klein`: the edge/line direction α across (0–360°), the
mixing angle φ up (−90° a line, 0 an edge, +90° the opposite line); the
primary circle is the line φ = 0, the secondary circles the lines α = 0°/180°
and 90°/270°.  :func:`fields_figure` draws the H1 (and H2) bars of the same cloud over Z/2 and
Z/3: a Klein bottle has two H1 classes and one H2 class over Z/2, one and none
over Z/3 — a circle has one over both.
"""

from __future__ import annotations

import math

import numpy as np

from tdacnn.topology.barcode import Barcode
from tdacnn.view.figures import _layout, _ranked, _top_value, bar_traces, circles_title

__all__ = ["klein_figure", "fields_figure", "fractions_caption", "density_grid", "CIRCLE_COLOR"]

CIRCLE_COLOR = "#d62728"
_BARS = 12  # the longest bars drawn per field and dimension


def fractions_caption(fractions: dict) -> str:
    """``"71 % primary · 16 % secondary · 13 % other · median distance 0.18"`` (the numbers of
    :func:`tdacnn.topology.klein.circle_fractions`)."""
    if not fractions or any(not math.isfinite(fractions.get(k, math.nan)) for k in ("primary", "secondary", "other")):
        return "no points"
    return (f"{100 * fractions['primary']:.0f} % primary · {100 * fractions['secondary']:.0f} % secondary · "
            f"{100 * fractions['other']:.0f} % other · median distance {fractions['median_distance']:.2f}")


def density_grid(alpha: np.ndarray, phi: np.ndarray, bins: tuple[int, int] = (36, 18)
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of points per cell of the (α, φ) rectangle.

    Parameters
    ----------
    alpha : ndarray of shape (n,)
        Radians in [0, 2π).
    phi : ndarray of shape (n,)
        Radians in [−π/2, π/2].
    bins : (int, int)
        Cells across (α) and up (φ).

    Returns
    -------
    counts : ndarray of shape (bins[1], bins[0])
        Rows φ (bottom first), columns α.
    alpha_centres : ndarray of shape (bins[0],)
        Degrees.
    phi_centres : ndarray of shape (bins[1],)
        Degrees.
    """
    a = np.degrees(np.mod(np.asarray(alpha, dtype=np.float64), 2 * math.pi))
    p = np.clip(np.degrees(np.asarray(phi, dtype=np.float64)), -90.0, 90.0)
    counts, a_edges, p_edges = np.histogram2d(a, p, bins=bins, range=[[0.0, 360.0], [-90.0, 90.0]])
    return counts.T, (a_edges[:-1] + a_edges[1:]) / 2, (p_edges[:-1] + p_edges[1:]) / 2


def _field_title(barcode: Barcode | None, coeff: int, message: str) -> str:
    if barcode is None:
        return f"Z/{coeff}: {message}"
    if len(barcode.diagrams) < 2:
        return f"Z/{coeff}: H0 only"
    if barcode.pending:
        return f"Z/{coeff}: testing…"
    h2 = ""
    if len(barcode.diagrams) > 2:
        n2 = int(barcode.significant[2]) if len(barcode.significant) > 2 else 0
        h2 = f", {n2} void{'' if n2 == 1 else 's'}"
    return f"Z/{coeff}: {circles_title(barcode.h1_significant)}{h2}"


def _add_bars(fig, barcode: Barcode, col: int, row0: int, dims: tuple[int, ...], top: float) -> None:
    for row, d in enumerate(dims, start=row0):
        if d >= len(barcode.diagrams):
            continue
        ranked, _ = _ranked(barcode.bars(d), top)
        for trace in bar_traces(barcode, d, ranked[:_BARS]):
            fig.add_trace(trace, row=row, col=col)
        fig.update_yaxes(autorange="reversed", showticklabels=False, showgrid=False, zeroline=False,
                         title_text=f"H{d}" if col == 1 else None, row=row, col=col)
        fig.update_xaxes(range=[0, top * 1.02], gridcolor="#eee", zeroline=False, row=row, col=col)


def klein_figure(alpha: np.ndarray, phi: np.ndarray, fractions: dict, height: int = 330):
    """Density map of points on the Klein bottle, the circles marked, the fractions in the caption.

    Parameters
    ----------
    alpha, phi : ndarray of shape (n,)
        Klein-bottle coordinates (:class:`tdacnn.topology.klein.KleinCoordinates`).
    fractions : dict
        :func:`tdacnn.topology.klein.circle_fractions`: the caption, under the title.

    Returns
    -------
    plotly.graph_objects.Figure
        Counts per 10° × 10° cell on a log colour scale (they span orders of magnitude); the primary
        circle dashed across, the secondary circles dotted up.
    """
    import plotly.graph_objects as go

    counts, a_c, p_c = density_grid(alpha, phi)
    fig = go.Figure(go.Heatmap(
        x=a_c, y=p_c, z=np.log10(counts + 1.0), colorscale="Viridis", customdata=counts, zmin=0,
        hovertemplate="α %{x:.0f}°, φ %{y:.0f}°: %{customdata:.0f} points<extra></extra>",
        colorbar={"title": {"text": "log10(1+n)", "side": "right", "font": {"size": 10}}, "thickness": 10}))
    line = {"color": CIRCLE_COLOR, "dash": "dash", "width": 1.5}
    fig.add_trace(go.Scatter(x=[0, 360], y=[0, 0], mode="lines", line=line, hoverinfo="skip", name="primary"))
    for a in (0, 90, 180, 270, 360):
        fig.add_trace(go.Scatter(x=[a, a], y=[-90, 90], mode="lines", line={**line, "dash": "dot"},
                                 hoverinfo="skip", name="secondary"))
    for x, y, text in ((315, 0, "primary"), (135, 78, "secondary")):
        fig.add_annotation(x=x, y=y, text=text, showarrow=False, yshift=9, bgcolor="rgba(255,255,255,0.7)",
                           font={"color": CIRCLE_COLOR, "size": 10})
    fig.update_xaxes(range=[0, 360], tickvals=[0, 90, 180, 270, 360], title_text="edge/line direction α (°)")
    fig.update_yaxes(range=[-90, 90], tickvals=[-90, -45, 0, 45, 90], ticktext=["line", "", "edge", "", "line"],
                     title_text="mixing angle φ")
    title = (f"Klein bottle · {len(np.asarray(alpha)):,} densest filters<br>"
             f"<span style='font-size:11px;color:#555'>{fractions_caption(fractions)}</span>")
    fig = _layout(fig, title, height)
    fig.update_layout(margin={"l": 50, "r": 10, "t": 58, "b": 35})
    return fig


def fields_figure(z2: Barcode | None, z3: Barcode | None, message: str = "", height: int | None = None):
    """The longest H1 (and H2) bars of one cloud over Z/2 and over Z/3, side by side.

    Parameters
    ----------
    z2, z3 : Barcode or None
        The same cloud's barcode over each field; None: the panel says ``message`` (short).
    height : int, optional
        Default 280 (H1 only) or 400 (H1 and H2).

    Returns
    -------
    plotly.graph_objects.Figure
        One column per field, one row per dimension, significant bars in red; the column titles count
        the significant bars ("Z/2: 2 circles, 1 void").
    """
    from plotly.subplots import make_subplots

    present = [b for b in (z2, z3) if b is not None]
    dims = (1, 2) if any(len(b.diagrams) > 2 for b in present) else (1,)
    fig = make_subplots(rows=len(dims), cols=2, horizontal_spacing=0.06, vertical_spacing=0.12,
                        subplot_titles=[_field_title(z2, 2, message), _field_title(z3, 3, message)])
    top = max((_top_value(b) for b in present), default=1.0)
    for col, bc in ((1, z2), (2, z3)):
        if bc is not None:
            _add_bars(fig, bc, col, 1, dims, top)
        else:
            for row in range(1, len(dims) + 1):
                fig.update_xaxes(visible=False, row=row, col=col)
                fig.update_yaxes(visible=False, row=row, col=col)
    fig.update_xaxes(title_text="distance", row=len(dims), col=1)
    fig.update_xaxes(title_text="distance", row=len(dims), col=2)
    title = ("The same bars over Z/2 and Z/3<br><span style='font-size:11px;color:#555'>a Klein bottle: 2 circles, "
             "1 void over Z/2; 1 circle over Z/3</span>")
    fig = _layout(fig, title, height or (280 if len(dims) == 1 else 400))
    fig.update_annotations(font_size=12)
    fig.update_layout(margin={"l": 40, "r": 10, "t": 75, "b": 35})
    return fig
