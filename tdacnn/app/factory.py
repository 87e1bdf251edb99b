"""``create_app``: the Dash app — Explore, Dynamics, Depth and Jobs tabs.

The background-callback manager is chosen once, outside the views: by default
:func:`tdacnn.jobs.manager.get_manager` (Dash's DiskcacheManager, or its
CeleryManager when ``REDIS_URL`` is set); a DiskcacheManager under
``cache_dir()`` if the jobs backend is unavailable.  The web process never
imports torch: only jobs (forked or on Celery workers) train or load networks.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from dash import Dash, dcc, html


__all__ = ["create_app", "default_manager", "warm_up"]

log = logging.getLogger(__name__)

#: The repository's top-level ``assets/`` (CSS served by Dash).
ASSETS = Path(__file__).resolve().parents[2] / "assets"
#: Flask refuses request bodies over this size before reading them (uploads are
#: limited to MAX_UPLOAD_BYTES; base64 inflates them by a third).
MAX_REQUEST_BYTES = 100 * 2**20


def default_manager():
    """The background-callback manager (DiskcacheManager, or CeleryManager with REDIS_URL)."""
    from tdacnn.jobs.manager import get_manager

    return get_manager()


def _layout():
    from tdacnn.app import dynamics, explore, jobs_panel

    def serve():
        return html.Div([
            dcc.Location(id="url", refresh=False),
            html.Header([
                html.H1("tdacnn"),
                html.Span("Mapper graphs and barcodes of what convolutional filters learn", className="tagline"),
            ], className="header"),
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


def _too_large(_exc: Exception):
    """HTTP 413 with a sentence (the page refuses big uploads itself: this is for other clients)."""
    return (f"request too large: the server accepts at most {MAX_REQUEST_BYTES // 2**20} MB per request; load big "
            "checkpoints with python app.py FILE, tdacnn serve FILE, or \"Load from server path\" in the Jobs tab\n",
            413, {"Content-Type": "text/plain; charset=utf-8"})


def create_app(manager: Any = None, *, warm: bool = True, title: str = "tdacnn") -> Dash:
    """Build the Dash app.

    Parameters
    ----------
    manager : dash background-callback manager, optional
        Default: :func:`default_manager`.
    warm : bool
        Precompute the default view in a thread (first graph at once).
    title : str

    Returns
    -------
    dash.Dash
        ``app.server`` is the Flask app (for gunicorn).
    """
    from tdacnn.app import dynamics, explore, jobs_panel

    if manager is None:
        manager = default_manager()
    app = Dash(__name__, title=title, assets_folder=str(ASSETS), background_callback_manager=manager,
               suppress_callback_exceptions=True, update_title=None)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.server.register_error_handler(413, _too_large)
    app.layout = _layout()
    explore.register(app)
    dynamics.register(app)
    jobs_panel.register_callbacks(app)
    if warm:
        warm_up()
    return app
