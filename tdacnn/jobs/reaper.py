"""Nothing lost: jobs whose worker died are run again, or end ``interrupted`` with the reason.

Every worker calls :func:`reap` when it starts and every few seconds after
(:mod:`tdacnn.jobs.worker`).  A job recorded ``running`` is *lost* when its
worker is gone: on this host, its pid is dead; anywhere, its heartbeat is older
than :func:`~tdacnn.jobs.records.stale_after_s` (judged only by a worker that
has itself been in touch with the store for that long, so a Redis outage that
stopped every heartbeat does not make live workers look dead).  One reaper,
chosen by a claim on the job's attempt, puts a lost job back in the queue
(:func:`lost`) while it has attempts left (``$TDACNN_JOB_ATTEMPTS``, default 2
runs in all), or records it ``interrupted`` with the reason.  The page and the
API only read: they never change a record when they look at it.
"""

from __future__ import annotations

import logging
import os
import time

from tdacnn.jobs import records

__all__ = ["max_attempts", "lost", "finish_parent", "discard_staged", "reap", "KEEP_DAYS"]

log = logging.getLogger(__name__)

#: A job queued this long (seconds) whose message is on no queue is put on its queue again.
REQUEUE_AFTER_S = 10.0
#: Finished job records older than this many days are deleted (``$TDACNN_JOB_KEEP_DAYS``).
KEEP_DAYS = float(os.environ.get("TDACNN_JOB_KEEP_DAYS", "7"))


def max_attempts() -> int:
    """How many times a job is run in all before it is ``interrupted``: ``$TDACNN_JOB_ATTEMPTS`` (default 2)."""
    try:
        return max(1, int(os.environ.get("TDACNN_JOB_ATTEMPTS", "2")))
    except ValueError:
        return 2


def lost(job, reason: str) -> None:
    """A job's run ended without an outcome (``reason`` says how): run it again, or record it interrupted.

    The caller holds the job (it ran it, or won the claim to reap it).
    """
    from tdacnn.jobs.queue import enqueue

    now = time.time()
    if records.cancel_requested(job.id):
        records.update(job.id, state="cancelled", message="cancelled", finished=now, worker="")
    elif job.attempts < max_attempts():
        records.update(job.id, reopen=True, state="queued", worker="", progress=0.0, report={}, queued_at=now,
                       message=f"queued again: {reason} (run {job.attempts + 1} of {max_attempts()} next)")
        enqueue(job.kind, job.id)
        log.warning("job %s queued again: %s", job.id, reason)
        return
    else:
        runs = "once" if job.attempts == 1 else f"{job.attempts} times"
        records.update(job.id, state="interrupted", finished=now, worker="",
                       message=f"interrupted: {reason}; it was started {runs}, start it again")
        log.warning("job %s interrupted: %s", job.id, reason)
    discard_staged(job)
    if job.kind == "shard":
        final = records.load(job.id)
        finish_parent(job.params["parent"], final.state, f"shard {job.params['index']}: {final.message}")


def discard_staged(job) -> None:
    """Delete the staged upload of a load job that ended without reading it (it is nobody's file)."""
    from pathlib import Path

    from tdacnn import config

    if job.kind != "load" or not job.params.get("staged"):
        return
    path = Path(job.params["path"])
    if path.parent == (config.uploads_dir() / ".incoming").resolve():
        path.unlink(missing_ok=True)


def finish_parent(parent_id: str, state: str, message: str) -> None:
    """A shard ended without ``done``: its run ends the same way, and the other shards are stopped."""
    parent = records.load(parent_id)
    if parent is None or parent.terminal:
        return
    now = time.time()
    for child_id in parent.params.get("children", []):
        child = records.load(child_id)
        if child is not None and not child.terminal:
            records.request_cancel(child_id)
            if child.state == "queued":
                records.update(child_id, state="cancelled", message="cancelled: another shard stopped",
                               finished=now)
    text = message if state == "cancelled" else f"{state}: {message}"
    records.update(parent_id, state=state, message=text if state != "cancelled" else "cancelled", finished=now)


def _dead(job, beats: list[dict], trust_beats: bool, now: float) -> bool:
    if not job.worker:
        return True  # running with no worker recorded: only a crash between two writes does this
    host, _, pid = job.worker.rpartition(":")
    if host == records.worker_id().rpartition(":")[0] and pid.isdigit() and not records.pid_alive(int(pid)):
        return True  # on this host: a dead pid is proof enough
    return trust_beats and not records.worker_alive(job.worker, beats, now)


def _pending() -> set[str]:
    """The ids of the jobs whose message waits on a queue."""
    from tdacnn.jobs.queue import queues

    q = queues()
    return {str(task.args[0]) for huey in (q.train, q.load) for task in huey.pending() if task.args}


def _enqueue_again(job, now: float) -> None:
    from tdacnn.jobs.queue import enqueue

    records.update(job.id, queued_at=now)
    enqueue(job.kind, job.id)
    log.warning("job %s was queued but on no queue: queued again", job.id)


def reap(me: str, trust_beats: bool) -> int:
    """One pass: re-queue or interrupt the lost jobs, delete old finished records; returns how many were lost.

    Parameters
    ----------
    me : str
        The id (``host:pid``) of the calling worker: its own jobs are never lost.
    trust_beats : bool
        Whether stale heartbeats may be judged (the caller has been in touch with the store long enough).
    """
    now = time.time()
    beats = records.workers()
    count = 0
    pending: set[str] | None = None
    for job in records.all_jobs():
        if job.state == "running" and job.worker != me and not job.params.get("children"):
            if _dead(job, beats, trust_beats, now) and records.claim(f"reap:{job.id}:{job.attempts}", me):
                lost(job, f"its worker ({job.worker or 'unknown'}) stopped")
                count += 1
        elif job.state == "queued" and not job.params.get("children") and now - job.queued_at > REQUEUE_AFTER_S:
            if pending is None:
                pending = _pending()
            if job.id not in pending and records.claim(f"enqueue:{job.id}:{job.queued_at}", me):
                _enqueue_again(job, now)  # its message was lost (taken by a worker that died at once)
        elif job.terminal and job.finished and now - job.finished > KEEP_DAYS * 86400:
            records.delete(job.id)
            records.clear_claims(job.id)
    for info in beats:  # heartbeats of workers gone for a day
        if now - float(info.get("beat", 0)) > 86400:
            records.drop_worker(info.get("id", ""))
    return count
