"""The Jobs tab: train a run, load a checkpoint, watch the job list.

Thin adapters over :mod:`tdacnn.jobs`.  Each job goes in two steps:

1. a plain callback validates the form (a bad value is explained at once, next
   to the form), records a queued job in the registry and puts its id in a
   ``dcc.Store`` (``jobs-train-pending`` / ``jobs-load-pending``);
2. a Dash background callback, triggered by that store, runs the job
   (:func:`tdacnn.jobs.runner.run_job_isolated`: a fresh interpreter started from a
   forked process or a Celery worker),
   with a progress bar and a cancel button.

Uploads over :data:`MAX_UPLOAD_BYTES` never leave the browser: ``dcc.Upload``'s
``max_size`` drops them and ``assets/upload_limit.js`` puts :func:`oversize_message`
(the limit, and how to load big files) under the upload; an upload and a server
path are separate callbacks, so neither ever sends the other's data.

When a job finishes, ``jobs-sources-version`` (a ``dcc.Store``) changes to
``{"version": <time>, "source": <new source id>}``: source selectors listen to it.
The job list (refreshed every second from the registry) shows every job's
status, including ``queued``/waiting, ``interrupted`` and ``cancelled``.
"""

from __future__ import annotations

import logging
import time

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from tdacnn.errors import UserError
from tdacnn.jobs.manager import backend_name
from tdacnn.jobs.requests import TrainRequest
from tdacnn.jobs.store import Job, job_registry
from tdacnn.jobs.runner import run_job_isolated
from tdacnn.jobs.tasks import Progress, start_job

__all__ = [
    "layout",
    "register_callbacks",
    "MAX_UPLOAD_BYTES",
    "oversize_message",
    "start_training",
    "receive_checkpoint",
    "run_pending_job",
    "request_cancel",
    "render_jobs",
    "sources_version",
]

log = logging.getLogger(__name__)

from tdacnn.nets.safeload import MAX_UPLOAD_BYTES, safe_upload_name  # numpy only, no torch
# what the page receives as a checkpoint (an upload or a server path), checked: its own module
from tdacnn.app.checkpoint_files import CHECKPOINT_SUFFIXES, _decode_upload, _server_path, _stage_upload  # noqa: E402,F401
from tdacnn.app.checkpoint_files import oversize_message as _oversize_message  # noqa: E402


def oversize_message(name: str, size_mb: str) -> str:
    """The sentence for an upload over :data:`MAX_UPLOAD_BYTES` (the limit, and how to load big files)."""
    return _oversize_message(name, size_mb, MAX_UPLOAD_BYTES)

#: A queued job never started by a (forked) worker after this long is orphaned.
ORPHAN_AFTER_S = 60.0
_ERR = {"color": "#b00020", "marginLeft": "0.5em"}
_FIELD = {"display": "inline-block", "marginRight": "1em", "marginBottom": "0.4em"}


def _field(label: str, control) -> html.Label:
    return html.Label([html.Span(label, style={"display": "block", "fontSize": "0.85em"}), control], style=_FIELD)


def layout() -> html.Div:
    """The Jobs tab (component ids prefixed ``jobs-``)."""
    mb = MAX_UPLOAD_BYTES // 2**20
    train = html.Section([
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
        _field("conv1 filters", dcc.Input(id="jobs-conv1", type="number", value=64, min=1, step=1,
                                          style={"width": "5em"})),
        _field("conv2 filters", dcc.Input(id="jobs-conv2", type="number", value=32, min=1, step=1,
                                          style={"width": "5em"})),
        _field("networks", dcc.Input(id="jobs-networks", type="number", value=10, min=1, step=1,
                                     style={"width": "5em"})),
        _field("iterations", dcc.Input(id="jobs-iterations", type="number", value=500, min=1, step=1,
                                       style={"width": "6em"})),
        _field("snapshot iterations", dcc.Input(id="jobs-snapshots", type="text", value="0, 50, 100, 200, 500",
                                                style={"width": "12em"})),
        _field("seed", dcc.Input(id="jobs-seed", type="number", value=0, min=0, step=1, style={"width": "5em"})),
        _field("split across workers (Celery)", dcc.Input(
            id="jobs-shards", type="number", value=1, min=1, step=1, style={"width": "4em"},
            disabled=backend_name() != "celery")),
        html.Br(),
        html.Button("Train", id="jobs-train", n_clicks=0),
        html.Button("Cancel", id="jobs-cancel", n_clicks=0, disabled=True, style={"marginLeft": "0.5em"}),
        html.Span(id="jobs-train-error", className="jobs-error", style=_ERR),
        html.Div([
            html.Progress(id="jobs-train-bar", max=100, value=0, style={"width": "24em"}),
            html.Span(id="jobs-train-status", style={"marginLeft": "0.5em"}),
        ]),
        html.Div(id="jobs-train-result"),
        html.Div(id="jobs-cancel-status"),
    ])
    load = html.Section([
        html.H3("Load a checkpoint"),
        html.P(f"PyTorch (.pt/.pth, loaded with weights_only), safetensors, .npy/.npz filter files; "
               f"uploads up to {mb} MB. Larger files (VGG16 is 500 MB): give their path on the server below, "
               f"or start the app on them: python app.py FILE (or tdacnn serve FILE).",
               style={"fontSize": "0.85em"}),
        # assets/upload_limit.js reads these data attributes: a file over the limit is refused in the
        # browser with the sentence below (never read, never sent: no bare HTTP 413)
        html.Div(dcc.Upload(id="jobs-upload", children=html.Div(["Drop a checkpoint here or ", html.A("choose a file"),
                                                                 f" (≤ {mb} MB)"]),
                            multiple=False, max_size=MAX_UPLOAD_BYTES,
                            style={"width": "30em", "padding": "1em", "border": "1px dashed #888",
                                   "borderRadius": "4px", "textAlign": "center"}),
                 id="jobs-upload-box", **{"data-max-upload-bytes": str(MAX_UPLOAD_BYTES),
                                          "data-error-id": "jobs-upload-error",
                                          "data-oversize": oversize_message("{name}", "{size}")}),
        html.Span(id="jobs-upload-error", className="jobs-error", style=_ERR),
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
    return html.Div([
        train, load,
        html.Section([html.H3("Jobs"), html.Div(id="jobs-list")]),
        html.P(f"job backend: {backend_name()}", id="jobs-backend", style={"fontSize": "0.8em", "color": "#666"}),
        dcc.Interval(id="jobs-poll", interval=1000),
        dcc.Store(id="jobs-train-pending"),
        dcc.Store(id="jobs-load-pending"),
        dcc.Store(id="jobs-train-done"),
        dcc.Store(id="jobs-load-done"),
        dcc.Store(id="jobs-sources-version", data={"version": 0, "source": None}),
    ], id="jobs-panel")


# ---------------------------------------------------------------------------
# callbacks as plain functions (tested directly)
# ---------------------------------------------------------------------------
def start_training(n_clicks, dataset, data_root, download, conv1, conv2, networks, iterations, snapshots, seed,
                   shards=1):
    """Validate the form and queue a training job.

    With ``shards`` > 1 (Celery only) the run is split across workers; its
    progress then shows in the job list, not in the progress bar.

    Returns
    -------
    (pending, error) : ({"id": job id} or no_update, str)
    """
    if not n_clicks:
        raise PreventUpdate
    try:
        request = TrainRequest(dataset=dataset, data_root=(data_root or "").strip(), download=bool(download),
                               conv1=conv1, conv2=conv2, networks=networks, iterations=iterations,
                               snapshots=snapshots or "", seed=seed if seed is not None else 0)
        if shards not in (None, 1, "", "1"):
            from tdacnn.jobs.shards import start_sharded_training

            n = int(shards) if isinstance(shards, (int, float)) and float(shards).is_integer() else shards
            parent = start_sharded_training(request.to_dict(), n)
            return no_update, f"started as {n} parts on the workers (job {parent.id}); follow it in the job list"
        job = start_job("train", request.to_dict())
    except UserError as exc:
        return no_update, str(exc)
    return {"id": job.id}, ""


def receive_checkpoint(trigger: str, contents, filename, path_text):
    """Queue a checkpoint-loading job for an upload (``trigger="upload"``) or a server path.

    Returns
    -------
    (pending, upload_error) : ({"id": job id} or no_update, str)
    """
    try:
        if trigger == "jobs-upload":
            if contents is None:
                raise PreventUpdate
            name = safe_upload_name(filename or "upload")
            data = _decode_upload(contents, name, MAX_UPLOAD_BYTES)
            staged = _stage_upload(data, name)
            params = {"path": str(staged), "name": name, "staged": True}
        elif trigger == "jobs-path-load":
            path = _server_path(path_text)
            params = {"path": str(path), "name": safe_upload_name(path.name), "staged": False}
        else:
            raise PreventUpdate
        job = start_job("load", params)
    except UserError as exc:
        return no_update, str(exc)
    return {"id": job.id}, ""


def run_pending_job(set_progress, pending) -> tuple[dict, html.Div]:
    """Body of the background callbacks (in a forked process or on a Celery worker):
    run the job in a fresh interpreter and relay its progress to the page."""
    if not pending or "id" not in pending:
        raise PreventUpdate

    def report(p: Progress) -> None:
        set_progress((round(100 * p.fraction, 1), p.text))

    job = run_job_isolated(pending["id"], report)  # a fresh interpreter, not this forked process
    style = {} if job.status == "done" else _ERR
    return job.to_dict(), html.Div(job.message, style=style, className=f"jobs-{job.status}")


def request_cancel(n_clicks, pending) -> str:
    """Ask the running training job to stop (Dash also kills its process)."""
    if not n_clicks or not pending:
        raise PreventUpdate
    job_registry().request_cancel(pending["id"])
    return "cancel requested"


def sources_version(trigger: str, train_done, load_done, current) -> dict:
    """New value of ``jobs-sources-version`` when a job ends with a new source."""
    done = load_done if trigger == "jobs-load-done" else train_done
    if not done or done.get("status") != "done":
        raise PreventUpdate
    version = (current or {}).get("version", 0) + 1
    return {"version": version, "source": done.get("result", {}).get("source")}


def _orphans(registry) -> None:
    # in the fork-per-job backend a job queued but never picked up (page closed
    # before its background call) will never start
    if backend_name() != "diskcache":
        return
    now = time.time()
    for job in registry.jobs():
        if job.status == "queued" and job.pid is None and now - job.created > ORPHAN_AFTER_S:
            registry.update(job.id, status="interrupted", finished=now,
                            message="interrupted: the job was never started; start it again")


def render_jobs(_n=None, limit: int = 12) -> html.Table | html.P:
    """The job list, newest first, after marking lost jobs interrupted."""
    registry = job_registry()
    registry.refresh()
    _orphans(registry)
    jobs: list[Job] = registry.jobs()[-limit:][::-1]
    if not jobs:
        return html.P("no jobs yet")
    rows = [html.Tr([html.Th(h) for h in ("job", "kind", "status", "progress", "message")])]
    for job in jobs:
        rows.append(html.Tr([
            html.Td(job.id), html.Td(job.kind),
            html.Td(job.status, className=f"jobs-status jobs-status-{job.status}"),
            html.Td(f"{100 * job.progress:.0f}%"), html.Td(job.message),
        ], id={"type": "jobs-row", "index": job.id}))
    return html.Table(rows, className="jobs-table")


# ---------------------------------------------------------------------------
# wiring
# ---------------------------------------------------------------------------
def register_callbacks(app) -> None:
    """Wire the Jobs tab into ``app`` (which must have a background callback manager)."""
    registry = job_registry()
    registry.recover(orphan_queued=backend_name() == "diskcache")

    app.callback(
        Output("jobs-train-pending", "data"), Output("jobs-train-error", "children"),
        Input("jobs-train", "n_clicks"),
        State("jobs-dataset", "value"), State("jobs-data-root", "value"), State("jobs-download", "value"),
        State("jobs-conv1", "value"), State("jobs-conv2", "value"), State("jobs-networks", "value"),
        State("jobs-iterations", "value"), State("jobs-snapshots", "value"), State("jobs-seed", "value"),
        State("jobs-shards", "value"),
        prevent_initial_call=True,
    )(start_training)

    app.callback(
        Output("jobs-train-done", "data"), Output("jobs-train-result", "children"),
        Input("jobs-train-pending", "data"),
        background=True,
        progress=[Output("jobs-train-bar", "value"), Output("jobs-train-status", "children")],
        progress_default=[0, ""],
        running=[(Output("jobs-train", "disabled"), True, False),
                 (Output("jobs-cancel", "disabled"), False, True)],
        cancel=[Input("jobs-cancel", "n_clicks")],
        prevent_initial_call=True,
    )(run_pending_job)

    app.callback(
        Output("jobs-cancel-status", "children"),
        Input("jobs-cancel", "n_clicks"), State("jobs-train-pending", "data"),
        prevent_initial_call=True,
    )(request_cancel)

    # two callbacks, so that a click on "Load from server path" never sends the upload's contents
    # along (after a refused upload that used to fail until the page was reloaded).  Each clears the
    # previous load's result: a "done: loaded …" beside a new request's error read as if it had loaded.
    def _receive_upload(contents, filename):
        pending, error = receive_checkpoint("jobs-upload", contents, filename, None)
        return pending, error, None, ""  # forget the file in the browser once it is staged

    app.callback(
        Output("jobs-load-pending", "data", allow_duplicate=True), Output("jobs-upload-error", "children",
                                                                          allow_duplicate=True),
        Output("jobs-upload", "contents"), Output("jobs-load-result", "children", allow_duplicate=True),
        Input("jobs-upload", "contents"), State("jobs-upload", "filename"),
        prevent_initial_call=True,
    )(_receive_upload)

    def _receive_path(_n, path_text):
        return (*receive_checkpoint("jobs-path-load", None, None, path_text), "")

    app.callback(
        Output("jobs-load-pending", "data", allow_duplicate=True), Output("jobs-upload-error", "children",
                                                                          allow_duplicate=True),
        Output("jobs-load-result", "children", allow_duplicate=True),
        Input("jobs-path-load", "n_clicks"), State("jobs-path", "value"),
        prevent_initial_call=True,
    )(_receive_path)

    def run_pending_load(set_progress, pending):
        return run_pending_job(set_progress, pending)

    app.callback(
        Output("jobs-load-done", "data"), Output("jobs-load-result", "children"),
        Input("jobs-load-pending", "data"),
        background=True,
        progress=[Output("jobs-load-bar", "value"), Output("jobs-load-status", "children")],
        progress_default=[0, ""],
        running=[(Output("jobs-path-load", "disabled"), True, False)],
        prevent_initial_call=True,
    )(run_pending_load)

    def _version(train_done, load_done, current):
        from dash import ctx

        return sources_version(ctx.triggered_id, train_done, load_done, current)

    app.callback(
        Output("jobs-sources-version", "data"),
        Input("jobs-train-done", "data"), Input("jobs-load-done", "data"), State("jobs-sources-version", "data"),
        prevent_initial_call=True,
    )(_version)

    app.callback(Output("jobs-list", "children"), Input("jobs-poll", "n_intervals"))(render_jobs)
