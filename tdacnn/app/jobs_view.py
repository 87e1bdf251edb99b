"""What the Jobs tab shows, from the job records alone: pure functions, no queue access.

:mod:`tdacnn.app.jobs_actions` reads the session's jobs from
:mod:`tdacnn.jobs.service` and hands them here; nothing in this module writes
state.  A job is a :class:`tdacnn.jobs.service.Job` (``id``, ``kind``, ``state``,
``progress`` in [0, 1], ``message``, ``report``, ``result``, ``attempts``, ``created``); how far
it is comes from its ``report``, the one progress record (:class:`tdacnn.progress.Progress`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from dash import html

from tdacnn.progress import Progress

__all__ = [
    "ACTIVE", "FAST_POLL_MS", "IDLE_POLL_MS", "ERROR_STYLE",
    "JobDisplay", "record_of", "newest", "progress_of", "outcome", "job_table", "poll_interval", "announcement",
]

#: States in which a job may still change.
ACTIVE = frozenset({"queued", "running"})
#: How often the page reads the job records while one of the session's jobs is active, and otherwise.
FAST_POLL_MS = 1000
IDLE_POLL_MS = 5000
ERROR_STYLE = {"color": "#b00020", "marginLeft": "0.5em"}


@dataclass(frozen=True)
class JobDisplay:
    """The progress bar, status line and outcome of one job, as the page draws them.

    ``percent`` in [0, 100]; ``status`` is the job's latest message while it is
    active (``""`` once it ended); ``result`` is a ``div`` with class
    ``jobs-<state>`` holding :func:`outcome` once it ended (``None`` before).
    """

    job_id: str | None
    percent: float
    status: str
    result: html.Div | None
    active: bool


NO_JOB = JobDisplay(None, 0.0, "", None, False)


def record_of(job) -> Progress:
    """The job's latest progress record: its ``report`` while it runs; otherwise (queued, ended, or a
    split run whose shards report) one made of its ``progress`` and ``message``."""
    if job.state == "running" and job.report:
        return Progress.from_dict(job.report)
    return Progress.at(float(job.progress or 0.0), job.message or "")


def newest(jobs: Sequence, kind: str):
    """The newest job of ``kind`` in ``jobs`` (newest first, as ``service.jobs`` lists them), or None."""
    return next((job for job in jobs if job.kind == kind), None)


def _name(source: str | None) -> str:
    return (source or "").split(":", 1)[-1]


def outcome(job) -> str:
    """One line saying how a finished job ended, starting with its state (``"done: new run …"``)."""
    message = (job.message or "").strip()
    if job.state == "done" and job.result.get("source"):
        if job.kind == "train":
            return f"done: new run {_name(job.result['source'])}"
        n = len(job.result.get("layers") or [])
        if job.result.get("existing"):
            return f"done: already loaded as {_name(job.result['source'])} ({n} conv layers)"
        return f"done: loaded {n} conv layers as {_name(job.result['source'])}"
    return message if message.startswith(job.state) else f"{job.state}: {message}" if message else job.state


def _queued_text(job, problem: str | None) -> str:
    text = job.message or "queued"
    return f"{text} ({problem})" if problem and problem not in text else text


def progress_of(job, problem: str | None = None) -> JobDisplay:
    """The progress bar, status line and outcome of ``job`` (None: nothing to show).

    Parameters
    ----------
    job : Job or None
    problem : str, optional
        Why queued jobs are not starting (``service.queue_problem()``), added to a queued job's status.
    """
    if job is None:
        return NO_JOB
    record = record_of(job)
    percent = round(100 * record.fraction, 1)
    if job.state in ACTIVE:
        status = _queued_text(job, problem) if job.state == "queued" else (record.text or "running")
        return JobDisplay(job.id, percent, status, None, True)
    style = {} if job.state == "done" else ERROR_STYLE
    return JobDisplay(job.id, 100.0 if job.state == "done" else percent, "",
                      html.Div(outcome(job), className=f"jobs-{job.state}", style=style), False)


def _when(stamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp else ""


def job_table(jobs: Sequence, limit: int = 12) -> html.Table | html.P:
    """The session's jobs, newest first: created, job, kind, state (with the attempt of a re-run), progress,
    message (a queued job's says what it waits for; why no worker takes it is said once, above the table).

    Each row has the id ``{"type": "jobs-row", "index": <job id>}`` and its state cell the classes
    ``jobs-status jobs-status-<state>``.
    """
    if not jobs:
        return html.P("no jobs yet in this session", className="jobs-empty")
    rows = [html.Tr([html.Th(h) for h in ("created", "job", "kind", "state", "progress", "message")])]
    for job in list(jobs)[:limit]:
        state = job.state + (f" (attempt {job.attempts})" if (job.attempts or 0) > 1 else "")
        record = record_of(job)
        message = (record.text or job.message) if job.state in ACTIVE else outcome(job)
        rows.append(html.Tr([
            html.Td(_when(job.created)), html.Td(job.id[:8], title=job.id), html.Td(job.kind),
            html.Td(state, className=f"jobs-status jobs-status-{job.state}"),
            html.Td(f"{100 * record.fraction:.0f}%"), html.Td(message),
        ], id={"type": "jobs-row", "index": job.id}))
    return html.Table(rows, className="jobs-table")


def poll_interval(jobs: Sequence) -> int:
    """Milliseconds until the page reads the records again: fast while a job of the session may change."""
    return FAST_POLL_MS if any(job.state in ACTIVE for job in jobs) else IDLE_POLL_MS


def announcement(jobs: Sequence, current: dict | None) -> dict | None:
    """The new value of ``jobs-sources-version`` when a job of the session has ended with a new source
    since ``current`` was written, else None.

    The value is ``{"version": n, "source": "<source id>", "job": "<job id>"}``; source selectors listen to it.
    """
    current = current or {}
    finished = [job for job in jobs if job.state == "done" and job.result.get("source")]
    done = max(finished, key=lambda job: job.finished or 0.0, default=None)  # the last to finish, not the newest
    if done is None or done.id == current.get("job"):
        return None
    return {"version": int(current.get("version") or 0) + 1, "source": done.result["source"], "job": done.id}
