"""The process's huey: one SQLite file on one machine, Redis when ``REDIS_URL`` is set.

Three huey instances share one storage backend (the same SQLite file, or the same
Redis database), told apart by their names:

* ``records`` is never used as a queue: its key/value store holds the job
  records, cancel requests, claims and worker heartbeats (:mod:`tdacnn.jobs.records`);
* ``train`` and ``load`` are the two queues.  A worker takes one training at a
  time from ``train`` and loads from ``load`` in another thread, so a checkpoint
  load never waits behind a training.

The SQLite file is ``<TDACNN_HOME>/queue/jobs.db`` (WAL mode: the web process and
the workers read and write it at once).  On Redis, connections give up after
:data:`CONNECT_TIMEOUT_S` (an unreachable Redis is reported in seconds, never
after a long hang), without retries.  huey and redis are imported here only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdacnn import config

__all__ = ["Queues", "queues", "enqueue", "redis_url", "backend_name", "db_path", "STORE_ERRORS", "reset",
           "describe", "TASK_NAME"]

#: Seconds to connect to Redis before saying it is unreachable.
CONNECT_TIMEOUT_S = 2.0
#: Seconds a Redis command may take (longer than a blocking dequeue's 1 s).
SOCKET_TIMEOUT_S = 5.0
#: How long a worker's blocking dequeue waits on Redis before looking again.
READ_TIMEOUT_S = 1


def redis_url() -> str | None:
    """``$REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``), or None for the SQLite file."""
    return os.environ.get("REDIS_URL") or None


def backend_name() -> str:
    """``"redis"`` when ``REDIS_URL`` is set, else ``"sqlite"``."""
    return "redis" if redis_url() else "sqlite"


def db_path() -> Path:
    """The SQLite file of the queue of the current data directory."""
    folder = config.home() / "queue"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "jobs.db"


def describe() -> str:
    """Where the queue is, in words (for logs and messages; no password)."""
    url = redis_url()
    if url is None:
        return f"SQLite file {db_path()}"
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"


#: The one huey task (on both queues): run the job whose id is its argument.
TASK_NAME = "tdacnn.run_job"


def _run_job(job_id: str) -> None:
    from tdacnn.jobs.worker import run_job  # only a worker ever executes the task

    run_job(job_id)


@dataclass(frozen=True)
class Queues:
    """The huey instances of one backend: ``records`` (key/value), ``train`` and ``load`` (queues)."""

    records: Any
    train: Any
    load: Any
    backend: str
    #: The huey task (``TASK_NAME``) registered on ``load`` and on ``train``.
    tasks: tuple = ()

    def queue(self, kind: str) -> Any:
        """The queue a job of ``kind`` goes to (trainings and shards: ``train``; loads: ``load``)."""
        return self.load if kind == "load" else self.train

    def task(self, kind: str) -> Any:
        """The huey task wrapper of the queue of ``kind``."""
        return self.tasks[0 if kind == "load" else 1]


def _make() -> Queues:
    url = redis_url()
    if url is not None:
        import redis
        from huey import RedisHuey
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                             socket_timeout=SOCKET_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
        make = lambda name, **kw: RedisHuey(name, connection_pool=pool, read_timeout=READ_TIMEOUT_S, **kw)  # noqa: E731
        backend = "redis"
    else:
        from huey import SqliteHuey

        path = str(db_path())
        make = lambda name, **kw: SqliteHuey(name, filename=path, timeout=10, **kw)  # noqa: E731
        backend = "sqlite"
    load, train = make("tdacnn_load", results=False), make("tdacnn_train", results=False)
    return Queues(records=make("tdacnn_records"), train=train, load=load, backend=backend,
                  tasks=tuple(h.task(name=TASK_NAME)(_run_job) for h in (load, train)))


def _store_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.OperationalError, sqlite3.DatabaseError, OSError]
    try:
        import redis

        errors += [redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError,
                   redis.exceptions.ReadOnlyError]
    except ImportError:  # the redis extra is not installed: only SQLite can be used
        pass
    return tuple(errors)


#: What a storage call raises when the store cannot be reached (Redis down, a locked or broken SQLite file).
STORE_ERRORS: tuple[type[BaseException], ...] = _store_errors()

_LOCK = threading.Lock()
_QUEUES: dict[tuple, Queues] = {}


def queues() -> Queues:
    """The huey instances of the current data directory and ``REDIS_URL`` (one set per process)."""
    key = (os.getpid(), redis_url(), str(config.home()) if redis_url() is None else "")
    with _LOCK:
        if key not in _QUEUES:
            _QUEUES[key] = _make()
        return _QUEUES[key]


def enqueue(kind: str, job_id: str) -> None:
    """Put the job ``job_id`` on the queue of ``kind`` (a worker then runs it)."""
    q = queues()
    q.queue(kind).enqueue(q.task(kind).s(job_id))


def reset() -> None:
    """Forget the process's huey instances (the next :func:`queues` opens new ones)."""
    with _LOCK:
        _QUEUES.clear()
