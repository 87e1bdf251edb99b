"""``create_app``: the Dash app — Explore, Dynamics, Depth and Jobs tabs — with its session, security and API.

The web process never runs a job (no background callbacks, no torch): the Jobs
tab and the ``/api`` routes only submit, read and cancel jobs through
:mod:`tdacnn.jobs.service`; worker processes run them.  Every request goes
through :mod:`tdacnn.app.security` (optional basic auth, body caps, headers) and
gets its session's owner id (:mod:`tdacnn.app.session`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dash import dcc, html

if TYPE_CHECKING:
    from dash import Dash

__all__ = ["create_app", "warm_up"]

log = logging.getLogger(__name__)

#: The repository's top-level ``assets/`` (CSS served by Dash).
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _layout():
    from tdacnn.app import dynamics, explore, explore_layout, jobs_panel

    def serve():
        return html.Div([
            dcc.Location(id="url", refresh=False),
            html.Header([
                html.H1("tdacnn"),
                html.Span("Mapper graphs and barcodes of what convolutional filters learn", className="tagline"),
            ], className="header"),
            *explore_layout.watcher(),  # outside the tabs: it runs whichever tab is on view
            dcc.Tabs(id="tabs", value="explore", children=[
                dcc.Tab(label="Explore", value="explore", children=explore.layout()),
                dcc.Tab(label="Dynamics", value="dynamics", children=dynamics.dynamics_layout()),
                dcc.Tab(label="Depth", value="depth", children=dynamics.depth_layout()),
                dcc.Tab(label="Jobs", value="jobs", children=jobs_panel.layout()),
            ]),
        ], className="page")

    return serve


def warm_up() -> None:
    """Compute the default view in the background so the first page load finds it cached."""
    def run():
        try:
            from tdacnn.app import explore
            from tdacnn.app.controls import CONTROLS, DEFAULTS

            source = explore.default_source()
            if source is None:
                return
            # the same callbacks the first page load runs (this also imports what they need)
            request, _ = explore.parse_controls(*[{**DEFAULTS, "source": source}[c] for c in CONTROLS])
            explore.update_graph(request, None)
            explore.update_orientation(request)
            explore.update_barcode(request, "barcode")
        except Exception:  # noqa: BLE001 - warming is best effort; the page reports real errors
            log.info("warm-up skipped", exc_info=True)

    threading.Thread(target=run, name="tdacnn-warm-up", daemon=True).start()


def create_app(*, warm: bool = True, title: str = "tdacnn") -> Dash:
    """Build the Dash app.

    Parameters
    ----------
    warm : bool
        Precompute the default view in a thread (first graph at once).
    title : str

    Returns
    -------
    dash.Dash
        ``app.server`` is the Flask app (for gunicorn).

    Raises
    ------
    UserError
        A malformed ``TDACNN_AUTH``.
    """
    from tdacnn.topology.blas import pin_one_blas_thread

    pin_one_blas_thread()  # before any request or background thread computes (see tdacnn.topology.blas)
    # dash_cytoscape is registered now, in every process: Dash refuses a component library first imported
    # inside a callback (HTTP 500 in a gunicorn process that has not served the layout yet)
    import dash_cytoscape  # noqa: F401

    from tdacnn.app import api, dynamics, explore, jobs_panel, security, session

    app = security.QuietDash(__name__, title=title, assets_folder=str(ASSETS), suppress_callback_exceptions=True,
                             update_title=None)
    security.install(app.server)  # first: auth and body caps come before anything reads the request
    session.install(app.server)
    api.register(app.server)
    app.layout = _layout()
    explore.register(app)
    dynamics.register(app)
    jobs_panel.register_callbacks(app)
    if warm:
        warm_up()
    return app
