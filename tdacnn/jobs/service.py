"""The one job API: submit, read, cancel and list jobs.

The Jobs tab, the ``/api/jobs`` routes, ``tdacnn serve FILE`` and the tests all go
through these functions and nothing else.  They only write a request into the
queue's store and read records back: jobs run in worker processes
(:mod:`tdacnn.jobs.worker`), never in the web process.

Ownership: every job belongs to an *owner*, an opaque string (a browser
session's id, ``"cli"`` for the command line).  ``owner=None`` means the
operator (sees and cancels every job).  A job id that is malformed, unknown or
another owner's gets the same :class:`NoSuchJob` sentence: nobody learns that
someone else's job exists.

CONTRACT (written by the lead before the implementation): the names,
signatures and exceptions below are what the web layer and the page code
against.  Keep them; extend rather than rename.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

from tdacnn.errors import UserError, quote

__all__ = [
    "Job", "STATES", "TERMINAL", "JOB_KINDS",
    "NoSuchJob", "JobLimit", "QueueUnavailable",
    "submit", "get", "cancel", "jobs", "wait", "queue_problem",
]

#: A job's state.  ``interrupted``: its worker stopped and it will not be re-run (the reason is in ``message``).
STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled", "interrupted")
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})
#: What a job can be: train a run (params: a TrainRequest dict, optional ``shards``), load a checkpoint
#: (params: ``path``, ``name``, ``staged``).
JOB_KINDS: tuple[str, ...] = ("train", "load")


class NoSuchJob(UserError):
    """HTTP 404: no job with this id that the caller may see (malformed, unknown or someone else's)."""


class JobLimit(UserError):
    """HTTP 429: a limit on queued jobs (per owner or for the whole server) was reached."""


class QueueUnavailable(UserError):
    """HTTP 503: the queue's store cannot be reached (e.g. Redis is down); the sentence says which and how."""


@dataclass(frozen=True)
class Job:
    """One job as the queue's store records it."""

    id: str
    kind: str
    state: str = "queued"
    progress: float = 0.0
    message: str = "queued: waiting for a worker"
    params: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    owner: str = ""
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    attempts: int = 0  # runs started so far
    queued_at: float = 0.0  # when it was (last) put on its queue
    worker: str = ""  # "host:pid" of the process running it, while it runs
    report: dict = field(default_factory=dict)  # the latest tdacnn.progress.Progress, as a dict ({} before one)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict:
        return asdict(self)

    def public(self) -> dict:
        """What ``GET /api/jobs/<id>`` answers: ``id``, ``kind``, ``state``, ``progress``, ``message``,
        ``result``, ``created``, ``started``, ``finished``, ``attempts`` and ``report`` (the latest
        :class:`~tdacnn.progress.Progress` as a dict: done, total, unit, eta_s, loss ...; never the owner
        or server paths)."""
        result = {k: v for k, v in (self.result or {}).items() if k != "path"}  # a folder on the server
        return {"id": self.id, "kind": self.kind, "state": self.state, "progress": self.progress,
                "message": self.message, "result": result, "created": self.created, "started": self.started,
                "finished": self.finished, "attempts": self.attempts, "report": dict(self.report or {})}


log = logging.getLogger(__name__)

#: The sentence for any id the caller may not see: it does not say whether the job exists.
_NO_SUCH_JOB = "there is no job with this id that you can see"


def _limit(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def max_per_owner() -> int:
    """Jobs one owner may have queued or running at once: ``$TDACNN_MAX_QUEUED_PER_SESSION`` (default 3)."""
    return _limit("TDACNN_MAX_QUEUED_PER_SESSION", 3)


def max_total() -> int:
    """Jobs the server holds queued or running at once: ``$TDACNN_MAX_QUEUED`` (default 20)."""
    return _limit("TDACNN_MAX_QUEUED", 20)


def _unreachable_sentence() -> str:
    from tdacnn.jobs.queue import describe, redis_url

    if redis_url():
        return (f"the job queue ({describe()}) cannot be reached: start Redis, or check REDIS_URL, "
                "then try again")
    return f"the job queue ({describe()}) cannot be opened: check the data directory, then try again"


@contextlib.contextmanager
def _store() -> Iterator[None]:
    """Turn a store that cannot be reached into :class:`QueueUnavailable` (one sentence, no traceback)."""
    from tdacnn.jobs.queue import STORE_ERRORS

    try:
        yield
    except STORE_ERRORS as exc:
        log.warning("job queue unreachable: %s", exc)
        raise QueueUnavailable(_unreachable_sentence()) from exc


def _active(job: Job) -> bool:
    return not job.terminal and job.kind != "shard"


def _check_params(kind: str, params: dict) -> dict:
    from tdacnn.jobs.requests import TrainRequest

    if kind not in JOB_KINDS:
        raise UserError(f"a job kind must be one of {', '.join(JOB_KINDS)}; got {quote(kind)}")
    if not isinstance(params, dict):
        raise UserError("a job's parameters must be a mapping of settings")
    if kind == "train":
        shards = params.get("shards", 1)
        request = TrainRequest.from_dict({k: v for k, v in params.items() if k != "shards"})
        from tdacnn.jobs.shards import split

        split(request.networks, shards)  # a sentence if shards is out of range
        out = request.to_dict()
        if shards != 1:
            out["shards"] = shards
        return out
    unknown = set(params) - {"path", "name", "staged", "upload_id"}
    if unknown:
        raise UserError(f"unknown checkpoint-load settings: {quote(', '.join(sorted(map(str, unknown))))}")
    path = params.get("path")
    if not isinstance(path, str) or not path or "\x00" in path or len(path) > 4096:
        raise UserError("a checkpoint load needs the path of a file on the server")
    if not Path(path).is_file():
        raise UserError("there is no readable checkpoint file at that path")
    out = {"path": str(Path(path).resolve()), "staged": bool(params.get("staged", False))}
    from tdacnn.nets.safeload import safe_upload_name

    out["name"] = safe_upload_name(str(params.get("name") or Path(path).name))
    if params.get("upload_id") is not None:
        from tdacnn.jobs.requests import check_id

        out["upload_id"] = check_id(params["upload_id"], "upload id")
    return out


def _refuse_if_full(owner: str) -> None:
    """Raise :class:`JobLimit` if ``owner`` or the server is at its limit (called under the submit lock)."""
    from tdacnn.jobs import records

    active = [j for j in records.all_jobs() if _active(j)]
    if sum(j.owner == owner for j in active) >= max_per_owner():
        raise JobLimit(f"you already have {max_per_owner()} jobs queued or running: wait for one to finish "
                       "or cancel one")
    if len(active) >= max_total():
        raise JobLimit(f"the server already has {max_total()} jobs queued or running: try again later")


def submit(kind: str, params: dict, owner: str) -> Job:
    """Validate ``params`` for ``kind``, check the limits, record the job as queued and enqueue it.

    Raises
    ------
    UserError
        A bad parameter (one sentence naming it).
    JobLimit
        ``owner`` already has ``TDACNN_MAX_QUEUED_PER_SESSION`` (default 3) jobs queued or running, or the
        server has ``TDACNN_MAX_QUEUED`` (default 20).
    QueueUnavailable
        The queue's store cannot be reached within a few seconds.
    """
    from tdacnn.jobs import records

    if not isinstance(owner, str) or not owner or len(owner) > 200:
        raise UserError("a job needs an owner (a session id)")
    params = _check_params(kind, params)
    with _store():
        try:
            # the count and the new record under one store-wide lock: racing submissions
            # (other threads, processes, hosts) never slip past a limit together
            with records.lock("submit"):
                _refuse_if_full(owner)
                now = time.time()
                job = Job(id=records.new_id(), kind=kind, params=params, owner=owner, created=now,
                          queued_at=now)
                if kind == "train" and params.get("shards"):
                    from tdacnn.jobs.shards import submit_children

                    job = submit_children(job)  # the children are recorded; the parent is what callers see
                records.save(job)
        except TimeoutError:
            raise QueueUnavailable("the job queue is too busy to take a job right now: try again in a moment") from None
        try:
            _enqueue(job)
        except BaseException:
            _forget(job)
            raise
    log.info("job %s (%s) queued for %s", job.id, kind, owner)
    return job


def _forget(job: Job) -> None:
    from tdacnn.jobs import records

    for child in job.params.get("children", []):
        records.delete(child)
    records.delete(job.id)


def _enqueue(job: Job) -> None:
    """Put the job (or each of its shards) on its queue."""
    from tdacnn.jobs.queue import enqueue

    for job_id in job.params.get("children") or [job.id]:
        enqueue(job.kind, job_id)


def _visible(job_id: str, owner: str | None) -> Job:
    from tdacnn.jobs import records

    if not records.valid_id(job_id):
        raise NoSuchJob(_NO_SUCH_JOB)
    with _store():
        job = records.load(job_id)
    if job is None or (owner is not None and job.owner != owner):
        raise NoSuchJob(_NO_SUCH_JOB)
    return job


def _with_shards(job: Job) -> Job:
    """A split run as its children make it: progress is their mean (read only; nothing is written)."""
    children = job.params.get("children")
    if not children or job.terminal or job.state != "running":
        return job
    from tdacnn.jobs import records

    kids = [records.load(c) for c in children]
    done = sum(k is not None and k.state == "done" for k in kids)
    progress = sum(k.progress for k in kids if k is not None) / len(kids)
    return replace(job, progress=progress, message=f"running: {done} of {len(kids)} shards done")


def get(job_id: str, owner: str | None) -> Job:
    """The job ``job_id`` if ``owner`` may see it (``None``: the operator, any job); else :class:`NoSuchJob`."""
    job = _visible(job_id, owner)
    with _store():
        return _with_shards(job)


def cancel(job_id: str, owner: str | None) -> Job:
    """Stop a queued or running job (its processes are killed); a finished job is returned unchanged."""
    from tdacnn.jobs import records

    job = _visible(job_id, owner)
    if job.terminal:
        return job
    with _store():
        for target in [job.id, *job.params.get("children", [])]:
            records.request_cancel(target)  # first: a worker taking it now sees it
            current = records.load(target)
            if current is None or current.terminal:
                continue
            if (current.state == "queued" or target == job.id and job.params.get("children")
                    or not records.worker_alive(current.worker)):
                records.update(target, state="cancelled", message="cancelled", finished=time.time())
                from tdacnn.jobs.reaper import discard_staged

                discard_staged(current)  # a staged upload nobody will read
    return wait(job_id, owner, timeout_s=10.0)


def jobs(owner: str | None, limit: int = 50) -> list[Job]:
    """The owner's jobs (every job for ``None``), newest first, at most ``limit``."""
    from tdacnn.jobs import records

    with _store():
        mine = [j for j in records.all_jobs() if j.kind != "shard" and (owner is None or j.owner == owner)]
        return [_with_shards(j) for j in mine[:max(0, int(limit))]]


def wait(job_id: str, owner: str | None, timeout_s: float) -> Job:
    """Block until the job is terminal or ``timeout_s`` passes; return its latest record."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = get(job_id, owner)
        if job.terminal or time.monotonic() >= deadline:
            return job
        time.sleep(0.1)


def queue_problem() -> str | None:
    """A sentence when the queue cannot take jobs (store unreachable, no worker alive); None when it can."""
    from tdacnn.jobs import records
    from tdacnn.jobs.queue import STORE_ERRORS

    try:
        alive = records.live_workers()
    except STORE_ERRORS:
        return _unreachable_sentence()
    if not alive:
        return ("no job worker is running, so jobs wait in the queue: start one with 'tdacnn worker' "
                "(the app starts its own unless TDACNN_LOCAL_WORKER=0)")
    return None
