"""The Jobs tab's callbacks as plain functions: submit, cancel and read jobs through :mod:`tdacnn.jobs.service`.

Each takes the browser session's ``owner`` (``tdacnn.app.session.current_owner()``,
passed in by :func:`tdacnn.app.jobs_panel.register_callbacks`) so that it can be
called and tested without a request.  They only submit, cancel and read: jobs run
in worker processes, and the page never changes a job's state by reading it.

A checkpoint *upload* is not here: ``assets/jobs_upload.js`` posts the file to
``POST /api/sources?wait=0`` and puts the job id it gets back into the
``jobs-load-job`` store, as :func:`load_from_path` does for a server path.
"""

from __future__ import annotations

import time
from typing import Any

from dash import no_update
from dash.exceptions import PreventUpdate

from tdacnn.app import jobs_view as view
from tdacnn.errors import UserError
from tdacnn.jobs import service
from tdacnn.jobs.requests import TrainRequest

__all__ = ["start_training", "load_from_path", "cancel_training", "poll", "POLL_OUTPUTS"]

#: What :func:`poll` returns, in order (component id, property).
POLL_OUTPUTS = (
    ("jobs-list", "children"), ("jobs-queue-note", "children"), ("jobs-poll", "interval"),
    ("jobs-train-bar", "value"), ("jobs-train-status", "children"), ("jobs-train-result", "children"),
    ("jobs-cancel", "disabled"), ("jobs-cancel-target", "data"),
    ("jobs-load-bar", "value"), ("jobs-load-status", "children"), ("jobs-load-result", "children"),
    ("jobs-sources-version", "data"),
)


def _picked(job_id: str) -> dict:
    return {"id": job_id, "t": time.time()}  # "t": a second submission of the same id still triggers the poll


def start_training(n_clicks, dataset, data_root, download, conv1, conv2, networks, iterations, snapshots, seed,
                   shards=1, *, owner: str) -> tuple[Any, str]:
    """Validate the form and submit a training job for ``owner``.

    Returns
    -------
    (picked, error) : ({"id": job id, "t": time} or no_update, str)
        ``picked`` goes into ``jobs-train-job`` (the page then follows that job); ``error`` is the sentence
        shown next to the Train button: a bad value, a limit reached, the queue unreachable.
    """
    from tdacnn.app.checkpoint_files import server_folder

    if not n_clicks:
        raise PreventUpdate
    try:
        folder = (data_root or "").strip()
        folder = str(server_folder(folder)) if folder else ""  # only where the server may read, as the API
        request = TrainRequest(dataset=dataset, data_root=folder, download=bool(download),
                               conv1=conv1, conv2=conv2, networks=networks, iterations=iterations,
                               snapshots=snapshots or "", seed=seed if seed is not None else 0)
        params = request.to_dict()
        if shards not in (None, "", 1, "1"):
            params["shards"] = shards  # validated by service.submit with the rest
        job = service.submit("train", params, owner)
    except UserError as exc:  # JobLimit and QueueUnavailable are UserErrors too: one sentence each
        return no_update, str(exc)
    return _picked(job.id), ""


def load_from_path(n_clicks, path_text, *, owner: str) -> tuple[dict, str]:
    """Submit a load job for a checkpoint already on the server (only inside the allowed folders).

    Returns
    -------
    (picked, error) : (dict, str)
        ``picked`` goes into ``jobs-load-job``: the new job's id, or ``{"id": None}`` after a refusal, so that
        the previous load's result is not shown beside the new sentence.
    """
    from tdacnn.app.checkpoint_files import server_path
    from tdacnn.nets.safeload import safe_upload_name  # numpy only, no torch

    if not n_clicks:
        raise PreventUpdate
    try:
        path = server_path(path_text)
        job = service.submit("load", {"path": str(path), "name": safe_upload_name(path.name), "staged": False},
                             owner)
    except UserError as exc:
        return {"id": None, "t": time.time()}, str(exc)
    return _picked(job.id), ""


def cancel_training(n_clicks, target: dict | None, *, owner: str) -> tuple[Any, str]:
    """Cancel the training the page shows (``jobs-cancel-target``).

    Returns
    -------
    (picked, note) : the job again for ``jobs-train-job`` (the page reads it at once), and a sentence.
    """
    if not n_clicks or not target or not target.get("id"):
        raise PreventUpdate
    try:
        job = service.cancel(target["id"], owner)
    except UserError as exc:
        return no_update, str(exc)
    return _picked(job.id), "" if job.state == "cancelled" else f"the job had already ended ({job.state})"


def _shown(jobs: list, kind: str, picked: dict | None):
    """The job of ``kind`` the page follows: the one it submitted last, else the session's newest."""
    if picked and "id" in picked:
        return next((job for job in jobs if job.id == picked["id"]), None) if picked["id"] else None
    return view.newest(jobs, kind)


def poll(owner: str, train_picked: dict | None, load_picked: dict | None, version: dict | None) -> tuple:
    """Read ``owner``'s jobs and render the tab: the values of :data:`POLL_OUTPUTS`, in order."""
    try:
        jobs = service.jobs(owner)
        problem = service.queue_problem() if any(job.state == "queued" for job in jobs) else None
    except service.QueueUnavailable as exc:
        # nothing to read: say so, keep what is shown, and look again soon
        return (no_update, str(exc), view.FAST_POLL_MS, *[no_update] * (len(POLL_OUTPUTS) - 3))
    train = view.progress_of(_shown(jobs, "train", train_picked), problem)
    load = view.progress_of(_shown(jobs, "load", load_picked), problem)
    news = view.announcement(jobs, version)
    return (
        view.job_table(jobs), problem or "", view.poll_interval(jobs),
        train.percent, train.status, train.result, not train.active, {"id": train.job_id if train.active else None},
        load.percent, load.status, load.result,
        news if news is not None else no_update,
    )
