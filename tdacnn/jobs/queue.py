"""The training queue: never two trainings at once on one machine.

Dash's DiskcacheManager forks one process per background call with no queue,
and Celery workers take tasks as they come; so a training job first takes a
slot, an exclusive ``fcntl`` lock on a file under the data directory
(``locks/train-<host>.lock``).  The lock dies with its process, so a killed job
never blocks the queue.  Waiting jobs are served first come, first served (by
their creation time in the registry) and report ``queued (position n)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

from tdacnn import config
from tdacnn.jobs.store import JobRegistry

__all__ = ["train_slot", "train_slots", "lock_path", "JobCancelled", "queue_position"]

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job when the user asked it to stop."""


def train_slots() -> int:
    """Trainings allowed at once on one host: ``$TDACNN_TRAIN_SLOTS`` (default 1)."""
    try:
        return max(1, int(os.environ.get("TDACNN_TRAIN_SLOTS", "1")))
    except ValueError:
        return 1


def lock_path(name: str = "train", slot: int = 0) -> Path:
    """The lock file of one slot of one kind of exclusive job on this host."""
    path = config.home() / "locks"
    path.mkdir(parents=True, exist_ok=True)
    suffix = f"-{slot}" if slot else ""
    return path / f"{name}-{socket.gethostname()}{suffix}.lock"


def queue_position(registry: JobRegistry, job_id: str, kind: str = "train") -> int:
    """1 + the number of live jobs of ``kind`` on this host waiting before ``job_id``."""
    me = registry.get(job_id)
    if me is None:
        return 1
    host = socket.gethostname()
    ahead = 0
    kinds = ("train", "shard") if kind == "train" else (kind,)  # shards queue with whole trainings
    for job in (j for j in registry.jobs() if j.kind in kinds):
        if job.id == me.id or job.created > me.created or job.host != host:
            continue
        if job.status == "queued" and job.pid is not None and not job.is_lost():
            ahead += 1
    return ahead + 1


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def train_slot(
    registry: JobRegistry,
    job_id: str,
    report: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
    kind: str = "train",
) -> Iterator[None]:
    """Hold the training slot of this host for the duration of the block.

    While waiting, calls ``report("queued (position n) ...")`` whenever the
    position changes and keeps the job's heartbeat fresh; raises
    :class:`JobCancelled` if the job is cancelled while it waits.
    """
    slots = train_slots()
    fds = [os.open(lock_path(kind, k), os.O_RDWR | os.O_CREAT, 0o644) for k in range(slots)]
    fd = -1
    try:
        last = None
        while True:
            if registry.cancel_requested(job_id):
                raise JobCancelled("cancelled while queued")
            position = queue_position(registry, job_id, kind)
            if position <= slots:
                fd = next((f for f in fds if _try_lock(f)), -1)
                if fd >= 0:
                    break
            position = max(position, 2)  # first in line, behind the job(s) holding the slot(s)
            if position != last:
                msg = f"queued (position {position}): waiting for the training that is running now"
                log.info("job %s %s", job_id, msg)
                registry.update(job_id, message=msg)
                if report is not None:
                    report(msg)
                last = position
            registry.beat(job_id)
            time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{job_id} {os.getpid()}\n".encode())
        yield
    finally:
        for f in fds:
            with contextlib.suppress(OSError):
                if f == fd:
                    fcntl.flock(f, fcntl.LOCK_UN)
            os.close(f)
