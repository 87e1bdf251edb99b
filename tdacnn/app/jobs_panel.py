"""The Jobs tab: train a run, load a checkpoint, follow the session's jobs.

Jobs run in worker processes on the one job queue (:mod:`tdacnn.jobs.service`);
this tab only submits, cancels and reads them, always as the browser session's
owner (:func:`tdacnn.app.session.current_owner`), so it never sees another
session's jobs.  The callbacks are thin adapters over
:mod:`tdacnn.app.jobs_actions` (submit/cancel/read) and :mod:`tdacnn.app.jobs_view`
(what a job record looks like on the page):

- *Train* validates the form (a bad value, a limit reached or the queue being
  unreachable is one sentence next to the button) and submits a ``train`` job;
- *Load from server path* submits a ``load`` job for a file in the allowed folders;
- a checkpoint *upload* never goes through a Dash callback: ``assets/jobs_upload.js``
  refuses a file over :data:`MAX_UPLOAD_BYTES` in the browser with
  :func:`oversize_message`, posts the others to ``POST /api/sources?wait=0``, shows a
  refusal's ``{"error"}`` sentence under the upload and puts the job id into the
  ``jobs-load-job`` store;
- one ``dcc.Interval`` (every second while a job of the session is queued or
  running, every five otherwise) reads the jobs and draws the progress bars and
  status lines of the training and the load the page follows, enables *Cancel*
  only while that training is active, and lists the session's jobs with their
  state (``queued`` with why it waits, ``interrupted`` with the reason, re-runs).

When a job ends ``done`` with a new source, ``jobs-sources-version`` (a
``dcc.Store``) changes to ``{"version": n, "source": <source id>, "job": <job id>}``:
source selectors listen to it.
"""

from __future__ import annotations

from dash import Input, Output, State, dcc, html

from tdacnn.app import jobs_actions as actions
from tdacnn.app.checkpoint_files import CHECKPOINT_SUFFIXES
from tdacnn.app.checkpoint_files import oversize_message as _oversize_message
from tdacnn.app.jobs_view import ERROR_STYLE, FAST_POLL_MS
from tdacnn.nets.safeload import MAX_UPLOAD_BYTES  # numpy only, no torch

__all__ = ["layout", "register_callbacks", "MAX_UPLOAD_BYTES", "oversize_message", "UPLOAD_URL"]

#: Where assets/jobs_upload.js posts a checkpoint (relative to the app's path prefix); ``wait=0``: answer
#: ``202 {"job": id}`` at once, the page follows the load job like any other.
UPLOAD_URL = "api/sources?wait=0"
_FIELD = {"display": "inline-block", "marginRight": "1em", "marginBottom": "0.4em"}


def oversize_message(name: str, size_mb: str) -> str:
    """The sentence for an upload over :data:`MAX_UPLOAD_BYTES` (the limit, and how to load big files)."""
    return _oversize_message(name, size_mb, MAX_UPLOAD_BYTES)


def _field(label: str, control) -> html.Label:
    return html.Label([html.Span(label, style={"display": "block", "fontSize": "0.85em"}), control], style=_FIELD)


def _number(cid: str, value: int, width: str, lo: int = 1) -> dcc.Input:
    return dcc.Input(id=cid, type="number", value=value, min=lo, step=1, style={"width": width})


def _train_section() -> html.Section:
    return html.Section([
        html.H3("Train a run"),
        _field("dataset", dcc.Dropdown(
            id="jobs-dataset", clearable=False, value="digits", style={"width": "10em"},
            options=[{"label": "digits (bundled)", "value": "digits"},
                     {"label": "MNIST", "value": "mnist"}, {"label": "CIFAR-10", "value": "cifar10"}])),
        _field("data folder on the server (MNIST / CIFAR-10)",
               dcc.Input(id="jobs-data-root", type="text", placeholder="default: <data dir>/datasets",
                         style={"width": "18em"})),
        _field("", dcc.Checklist(id="jobs-download", options=[{"label": " download if missing", "value": "yes"}],
                                 value=[])),
        html.Br(),
        _field("conv1 filters", _number("jobs-conv1", 64, "5em")),
        _field("conv2 filters", _number("jobs-conv2", 32, "5em")),
        _field("networks", _number("jobs-networks", 10, "5em")),
        _field("iterations", _number("jobs-iterations", 500, "6em")),
        _field("snapshot iterations", dcc.Input(id="jobs-snapshots", type="text", value="0, 50, 100, 200, 500",
                                                style={"width": "12em"})),
        _field("seed", _number("jobs-seed", 0, "5em", lo=0)),
        _field("split across workers", _number("jobs-shards", 1, "4em")),
        html.Br(),
        html.Button("Train", id="jobs-train", n_clicks=0),
        html.Button("Cancel", id="jobs-cancel", n_clicks=0, disabled=True, style={"marginLeft": "0.5em"}),
        html.Span(id="jobs-train-error", className="jobs-error", style=ERROR_STYLE),
        html.Div([
            html.Progress(id="jobs-train-bar", max=100, value=0, style={"width": "24em"}),
            html.Span(id="jobs-train-status", style={"marginLeft": "0.5em"}),
        ]),
        html.Div(id="jobs-train-result"),
        html.Div(id="jobs-cancel-status"),
    ])


def _upload_box(mb: int) -> html.Div:
    # a plain box: assets/jobs_upload.js opens the file chooser on a click (or takes a dropped file), checks the
    # limit (the sentence with {name} and {size}), posts the file itself and puts the job id into the store
    return html.Div(
        ["Drop a checkpoint here or ", html.U("choose a file"), f" (≤ {mb} MB)"],
        id="jobs-upload", className="jobs-upload", role="button", tabIndex="0",
        style={"width": "30em", "padding": "1em", "border": "1px dashed #888", "borderRadius": "4px",
               "textAlign": "center", "cursor": "pointer"},
        **{"data-max-upload-bytes": str(MAX_UPLOAD_BYTES), "data-oversize": oversize_message("{name}", "{size}"),
           "data-accept": ",".join(CHECKPOINT_SUFFIXES), "data-upload-url": UPLOAD_URL,
           "data-error-id": "jobs-upload-error", "data-progress-id": "jobs-upload-progress",
           "data-job-store": "jobs-load-job"})


def _load_section() -> html.Section:
    mb = MAX_UPLOAD_BYTES // 2**20
    return html.Section([
        html.H3("Load a checkpoint"),
        html.P(f"PyTorch (.pt/.pth, loaded with weights_only), safetensors, .npy/.npz filter files; "
               f"uploads up to {mb} MB. Larger files (VGG16 is 500 MB): give their path on the server below, "
               f"or start the app on them: python app.py FILE (or tdacnn serve FILE).",
               style={"fontSize": "0.85em"}),
        _upload_box(mb),
        html.Span(id="jobs-upload-progress", style={"marginLeft": "0.5em"}),
        html.Span(id="jobs-upload-error", className="jobs-error", style=ERROR_STYLE),
        html.Div([
            dcc.Input(id="jobs-path", type="text", placeholder="/path/on/server/model.pth", style={"width": "24em"}),
            html.Button("Load from server path", id="jobs-path-load", n_clicks=0, style={"marginLeft": "0.5em"}),
        ], style={"marginTop": "0.5em"}),
        html.Div([
            html.Progress(id="jobs-load-bar", max=100, value=0, style={"width": "24em"}),
            html.Span(id="jobs-load-status", style={"marginLeft": "0.5em"}),
        ]),
        html.Div(id="jobs-load-result"),
    ])


def _backend_line() -> str:
    from tdacnn.jobs.queue import (
        backend_name,  # no huey import: only the name of the backend
    )

    return ("jobs run on worker processes; the queue is huey on "
            + ("Redis (REDIS_URL)" if backend_name() == "redis" else "a SQLite file in the data directory"))


def layout() -> html.Div:
    """The Jobs tab (component ids prefixed ``jobs-``)."""
    return html.Div([
        _train_section(), _load_section(),
        html.Section([
            html.H3("Jobs of this session"),
            html.Div(id="jobs-queue-note", className="jobs-error", style={**ERROR_STYLE, "marginLeft": 0}),
            html.Div(id="jobs-list"),
            html.P(_backend_line(), id="jobs-backend", style={"fontSize": "0.8em", "color": "#666"}),
        ]),
        dcc.Interval(id="jobs-poll", interval=FAST_POLL_MS),
        dcc.Store(id="jobs-train-job"),  # {"id", "t"}: the training the page follows (set on submit)
        dcc.Store(id="jobs-load-job"),  # {"id", "t"}: the load it follows (id None after a refusal)
        dcc.Store(id="jobs-cancel-target"),  # {"id"}: the active training that Cancel stops
        dcc.Store(id="jobs-sources-version", data={"version": 0, "source": None, "job": None}),
    ], id="jobs-panel")


def _owner() -> str:
    from tdacnn.app.session import current_owner

    return current_owner()


def register_callbacks(app) -> None:
    """Wire the Jobs tab into ``app`` (plain callbacks: jobs run on the queue's workers, not in Dash)."""

    def train(*form):
        return actions.start_training(*form, owner=_owner())

    app.callback(
        Output("jobs-train-job", "data", allow_duplicate=True), Output("jobs-train-error", "children"),
        Input("jobs-train", "n_clicks"),
        State("jobs-dataset", "value"), State("jobs-data-root", "value"), State("jobs-download", "value"),
        State("jobs-conv1", "value"), State("jobs-conv2", "value"), State("jobs-networks", "value"),
        State("jobs-iterations", "value"), State("jobs-snapshots", "value"), State("jobs-seed", "value"),
        State("jobs-shards", "value"),
        prevent_initial_call=True,
    )(train)

    def cancel(n_clicks, target):
        return actions.cancel_training(n_clicks, target, owner=_owner())

    app.callback(
        Output("jobs-train-job", "data", allow_duplicate=True), Output("jobs-cancel-status", "children"),
        Input("jobs-cancel", "n_clicks"), State("jobs-cancel-target", "data"),
        prevent_initial_call=True,
    )(cancel)

    def load(n_clicks, path_text):
        return actions.load_from_path(n_clicks, path_text, owner=_owner())

    app.callback(
        Output("jobs-load-job", "data", allow_duplicate=True), Output("jobs-upload-error", "children"),
        Input("jobs-path-load", "n_clicks"), State("jobs-path", "value"),
        prevent_initial_call=True,
    )(load)

    def poll(_n, _tab, train_picked, load_picked, version):
        return actions.poll(_owner(), train_picked, load_picked, version)

    app.callback(
        *[Output(cid, prop) for cid, prop in actions.POLL_OUTPUTS],
        Input("jobs-poll", "n_intervals"), Input("tabs", "value"),
        Input("jobs-train-job", "data"), Input("jobs-load-job", "data"),
        State("jobs-sources-version", "data"),
    )(poll)
