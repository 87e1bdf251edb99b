"""The Explore tab's persistence controls and the barcode figure they drive.

Four controls (names in :data:`tdacnn.app.controls.CONTROLS`, values parsed by
:func:`tdacnn.app.controls.parse_request` into ``ExploreRequest.persistence``):

- ``n_perm``: max-min landmarks, or ``all`` (an empty box too) for every filtered point;
- ``maxdim``: H0, H0–H1 or H0–H2;
- ``coeff``: the prime ``p`` of the coefficient field Z/p;
- ``thresh``: stop the Rips filtration at this distance (empty: never).

They change only the barcode: the Mapper graph's key leaves them out, so it is
neither recomputed nor redrawn.
"""

from __future__ import annotations

from dash import dcc, html

from tdacnn.app.controls import ALL_LANDMARKS, DEFAULTS, MAX_COEFF
from tdacnn.app.widgets import control_id, label, number_input, text_input
from tdacnn.topology.barcode import Barcode
from tdacnn.view.figures import barcode_figure, diagram_figure, verdict_title

__all__ = ["persistence_group", "barcode_view", "MAXDIM_OPTIONS"]

MAXDIM_OPTIONS = [{"label": "H0", "value": 0}, {"label": "H0, H1", "value": 1}, {"label": "H0, H1, H2", "value": 2}]


def persistence_group() -> list:
    """The "Persistence" heading and its controls."""
    return [
        html.H4("Persistence"),
        label("Homology up to", dcc.RadioItems(id=control_id("maxdim"), value=DEFAULTS["maxdim"], inline=True,
                                               options=MAXDIM_OPTIONS),
              title="the barcode's dimensions: components (H0), loops (H1), voids (H2)"),
        html.Div([
            label("landmarks", text_input("n_perm", placeholder=ALL_LANDMARKS),
                  title=f"max-min landmarks of the filtered cloud; '{ALL_LANDMARKS}' (or empty): every point"),
            label("field Z/p", number_input("coeff", 1),
                  title=f"coefficients in the prime field Z/p (p prime, 2 to {MAX_COEFF})"),
            label("threshold", number_input("thresh", 0.05, placeholder="none"),
                  title="stop the Rips filtration at this distance (empty: never); faster, long bars cut there"),
        ], className="ctl-row"),
    ]


def barcode_view(barcode: Barcode, mode: str, coeff: int = 2):
    """The barcode (or persistence diagram) with every computed dimension.

    Parameters
    ----------
    barcode : Barcode
        ``barcode.diagrams`` holds H0..maxdim.
    mode : {"barcode", "diagram"}
    coeff : int
        The coefficient prime, named in the title.

    Returns
    -------
    plotly.graph_objects.Figure
        One panel per dimension (H2 makes the figure taller); the title counts circles
        and what that means ("1 circle, p < 0.001 against random filters"; components when only H0 was
        computed), and says on how many points and over which field.
    """
    dims = tuple(range(len(barcode.diagrams)))
    if len(dims) > 1 or barcode.pending:
        head = verdict_title(barcode)
    else:
        n = int(barcode.significant[0]) if barcode.significant else 0
        head = f"{n} component{'' if n == 1 else 's'}"
    points = (f"all {barcode.n_points:,} points" if barcode.n_landmarks >= barcode.n_points
              else f"{barcode.n_landmarks:,} landmarks of {barcode.n_points:,}")
    title = f"{head} <span style='font-size:11px;color:#777'>· {points} · Z/{coeff}</span>"
    if mode == "diagram":
        return diagram_figure(barcode, dims=dims, title=title)
    return barcode_figure(barcode, dims=dims, title=title, height=360 if len(dims) <= 2 else 480)
