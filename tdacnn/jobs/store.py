"""The results store and the job registry, both on disk under the data directory.

The results store is content-addressed: a value is filed under a key made of its
inputs' keys and its parameters' hash, so a result computed by any process (the
web server, a forked background job, a Celery worker sharing the data directory)
is found by all, and survives a server restart.

The job registry records every background job (training, checkpoint loading):
its id, kind, status, progress, message, the process running it (host, pid), a
heartbeat, and its result.  Status is one of ``queued``, ``running``, ``done``,
``failed``, ``cancelled``, ``interrupted``.  A job marked ``running`` whose
process is gone (same host, dead pid) or whose heartbeat is older than
:data:`STALE_AFTER_S` is marked ``interrupted`` by :meth:`JobRegistry.refresh`,
so a killed worker never leaves a job "running" forever.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tdacnn import config

__all__ = [
    "Job",
    "JobRegistry",
    "ResultStore",
    "STATUSES",
    "TERMINAL",
    "STALE_AFTER_S",
    "results_store",
    "job_registry",
]

log = logging.getLogger(__name__)

Status = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled", "interrupted")
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})
#: A running job whose heartbeat is older than this is considered lost.
STALE_AFTER_S = float(os.environ.get("TDACNN_JOB_STALE_S", "30"))
_JOB_PREFIX = "job:"
_CANCEL_PREFIX = "cancel:"


def _open_cache(path: Path):
    import diskcache

    path.mkdir(parents=True, exist_ok=True)
    # eviction off: results and job records are never dropped silently.
    return diskcache.Cache(str(path), eviction_policy="none", timeout=30)


class ResultStore:
    """A content-addressed, persistent mapping (a ``diskcache.Cache``).

    Usable as the ``store`` of :class:`tdacnn.analysis.Analysis` (it is a
    MutableMapping), from any process that shares the data directory.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else config.cache_dir() / "results"
        self.cache = _open_cache(self.path)

    def __getitem__(self, key: str) -> Any:
        return self.cache[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.cache[key] = value

    def __delitem__(self, key: str) -> None:
        del self.cache[key]

    def __contains__(self, key: object) -> bool:
        return key in self.cache

    def __iter__(self):
        return iter(self.cache)

    def __len__(self) -> int:
        return len(self.cache)

    def get(self, key: str, default: Any = None) -> Any:
        return self.cache.get(key, default)

    def close(self) -> None:
        self.cache.close()


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        import psutil

        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:  # noqa: BLE001 - a process that vanished while we looked is dead
        return False


@dataclass(frozen=True)
class Job:
    """One background job as recorded in the registry (JSON-able via :meth:`to_dict`)."""

    id: str
    kind: str
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued: waiting for a worker"
    params: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    host: str = ""
    pid: int | None = None
    heartbeat: float | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def is_lost(self, now: float | None = None) -> bool:
        """True when the job claims to be active but its process is gone."""
        if self.status not in ("queued", "running") or self.pid is None:
            return False  # queued and never picked up: still waiting for a worker
        now = time.time() if now is None else now
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return True
        return self.heartbeat is not None and now - self.heartbeat > STALE_AFTER_S


class JobRegistry:
    """Job records in a diskcache under ``cache_dir()/"jobs"`` shared by all processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else config.cache_dir() / "jobs"
        self.cache = _open_cache(self.path)

    # ---- records -------------------------------------------------------
    def create(self, kind: str, params: dict | None = None, message: str | None = None) -> Job:
        """Record a new queued job and return it."""
        job = Job(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            params=dict(params or {}),
            created=time.time(),
            **({"message": message} if message else {}),
        )
        self.cache.set(_JOB_PREFIX + job.id, job.to_dict())
        return job

    def get(self, job_id: str) -> Job | None:
        data = self.cache.get(_JOB_PREFIX + str(job_id))
        return Job(**data) if data else None

    def update(self, job_id: str, **fields: Any) -> Job:
        """Change some fields of a job atomically; a finished job is never reopened."""
        with self.cache.transact():
            data = self.cache.get(_JOB_PREFIX + job_id)
            if data is None:
                raise KeyError(f"no job {job_id!r}")
            job = Job(**data)
            if job.terminal and fields.get("status", job.status) not in TERMINAL:
                return job  # e.g. a late progress report after a cancel
            job = replace(job, **fields)
            self.cache.set(_JOB_PREFIX + job_id, job.to_dict())
        return job

    def beat(self, job_id: str) -> None:
        """Refresh the heartbeat of an active job."""
        job = self.get(job_id)
        if job is not None and not job.terminal:
            self.update(job_id, heartbeat=time.time())

    def jobs(self, kind: str | None = None) -> list[Job]:
        """All jobs (of one kind), oldest first."""
        out = []
        for key in list(self.cache.iterkeys()):
            if isinstance(key, str) and key.startswith(_JOB_PREFIX):
                data = self.cache.get(key)
                if data and (kind is None or data["kind"] == kind):
                    out.append(Job(**data))
        return sorted(out, key=lambda j: j.created)

    # ---- cancellation --------------------------------------------------
    def request_cancel(self, job_id: str) -> None:
        """Ask a job to stop; it stops at its next progress report, or is marked
        cancelled here if it was not started yet or its process is gone."""
        self.cache.set(_CANCEL_PREFIX + job_id, True)
        job = self.get(job_id)
        if job is None or job.terminal:
            return
        if job.pid is None or job.is_lost():
            self.update(job_id, status="cancelled", message="cancelled", finished=time.time())

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.cache.get(_CANCEL_PREFIX + job_id, False))

    # ---- recovery ------------------------------------------------------
    def refresh(self) -> list[Job]:
        """Mark lost jobs ``interrupted``; return the jobs so marked."""
        now = time.time()
        lost = []
        for job in self.jobs():
            if job.is_lost(now):
                cancelled = self.cancel_requested(job.id)
                lost.append(self.update(
                    job.id,
                    status="cancelled" if cancelled else "interrupted",
                    message="cancelled" if cancelled else
                    "interrupted: the process running this job stopped (worker killed or server restarted); "
                    "start it again",
                    finished=now,
                ))
        for job in lost:
            parent = job.params.get("parent")  # a shard of a split run: the run cannot complete
            if parent and (p := self.get(parent)) is not None and not p.terminal:
                lost.append(self.update(parent, status="interrupted", finished=now,
                                        message=f"interrupted: the worker running shard {job.params.get('index')} "
                                                "stopped; start the run again"))
        if lost:
            log.warning("marked %d lost job(s) interrupted", len(lost))
        return lost

    def recover(self, orphan_queued: bool) -> list[Job]:
        """At server start: mark lost jobs interrupted; with ``orphan_queued``
        (no Celery broker keeps them) also jobs queued and never started."""
        lost = self.refresh()
        if orphan_queued:
            now = time.time()
            for job in self.jobs():  # (a few seconds' grace: a sibling web process may have just queued it)
                if job.status == "queued" and job.pid is None and now - job.created > 10:
                    lost.append(self.update(
                        job.id, status="interrupted", finished=time.time(),
                        message="interrupted: the server restarted before this job started; start it again"))
        return lost

    def close(self) -> None:
        self.cache.close()


_STORES: dict[tuple[str, str, int], Any] = {}


def _shared(kind: str, factory):
    # one handle per process and data directory (diskcache handles are not fork-safe
    # across a fork while in use, so a forked child opens its own).
    key = (kind, str(config.cache_dir()), os.getpid())
    if key not in _STORES:
        _STORES[key] = factory()
    return _STORES[key]


def results_store() -> ResultStore:
    """The results store of the current data directory (one per process)."""
    return _shared("results", ResultStore)


def job_registry() -> JobRegistry:
    """The job registry of the current data directory (one per process)."""
    return _shared("jobs", JobRegistry)
