"""Run one recorded job in a fresh interpreter: ``python -m tdacnn.jobs.runner JOB_ID``.

:func:`run_job_isolated` starts it and relays the job's progress from the
registry.  The job thus never runs in a process forked from the web server (or
from a Celery worker): no thread, lock, OpenMP pool, CUDA context or socket is
inherited (``close_fds``) — the known causes of hangs in forked children — and a
crash (segfault, OOM kill) ends the job, not the server.

The runner starts in a session of its own, so it and the training workers it
spawns are one process group that is killed as one when the job is stopped,
and it dies with the process that started it (``PR_SET_PDEATHSIG``, see
:mod:`tdacnn.lifeline`): cancelling or killing any layer leaves no process
behind, and the registry marks the job cancelled, failed or interrupted.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tdacnn import config
from tdacnn.lifeline import PARENT_ENV, die_with_parent, kill_group
from tdacnn.jobs.store import Job, JobRegistry, job_registry
from tdacnn.jobs.tasks import Progress, ProgressFn, _noop, run_job

__all__ = ["run_job_isolated", "stop_running_jobs", "main", "log_path"]

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]
#: Runner processes started by this process and not yet ended, by job id.
_RUNNING: dict[str, subprocess.Popen] = {}
_running_lock = threading.Lock()


def log_path(job_id: str) -> Path:
    """Where the runner of ``job_id`` writes its log (under the data directory)."""
    folder = config.home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"job-{job_id}.log"


def run_job_isolated(job_id: str, progress: ProgressFn = _noop, registry: JobRegistry | None = None,
                     poll_s: float = 0.5) -> Job:
    """Run ``job_id`` in a new ``python -m tdacnn.jobs.runner`` process; relay its progress.

    Returns the job's final record.  If the runner dies without recording an end
    (killed, crashed), the job is marked failed with the exit status.  However
    this function ends (an exception in ``progress``, a signal), the runner's
    whole process group is killed before it returns.
    """
    registry = registry or job_registry()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(_REPO), os.environ.get("PYTHONPATH")) if p),
           PARENT_ENV: str(os.getpid())}
    with open(log_path(job_id), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.runner", job_id], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
    with _running_lock:
        _RUNNING[job_id] = proc
    last = None
    try:
        while proc.poll() is None:
            job = registry.get(job_id)
            if job is not None and (job.progress, job.message) != last and job.pid is not None:
                last = (job.progress, job.message)
                progress(Progress(job.progress, job.message))
            time.sleep(poll_s)
    finally:
        kill_group(proc.pid)  # the runner if it still runs, and whatever it left (training workers)
        proc.wait()
        with _running_lock:
            _RUNNING.pop(job_id, None)
    job = registry.get(job_id)
    if job is not None and not job.terminal:
        cancelled = registry.cancel_requested(job_id)
        job = registry.update(job_id, status="cancelled" if cancelled else "failed", finished=time.time(),
                              message="cancelled" if cancelled else
                              f"failed: the job process stopped unexpectedly (exit status {proc.returncode}); "
                              f"see {log_path(job_id).name} in the data directory's logs")
    if job is not None:
        progress(Progress(job.progress, job.message))
    return job


def stop_running_jobs(reason: str, registry: JobRegistry | None = None) -> list[str]:
    """Record every job this process runs as interrupted (``reason`` says why) and kill its runner's group.

    Called when the process that owns the jobs is going away (the web server
    was killed): the record comes first, so the job never shows a state that is
    not true.  Returns the job ids stopped.
    """
    registry = registry or job_registry()
    with _running_lock:
        running = list(_RUNNING.items())
    for job_id, proc in running:
        try:
            job = registry.get(job_id)
            if job is not None and not job.terminal:
                cancelled = registry.cancel_requested(job_id)
                registry.update(job_id, status="cancelled" if cancelled else "interrupted", finished=time.time(),
                                message="cancelled" if cancelled else f"interrupted: {reason}; start it again")
        except Exception:  # noqa: BLE001 - the processes must go even if the record cannot be written
            log.exception("could not record job %s as interrupted", job_id)
        kill_group(proc.pid)
        log.warning("job %s stopped: %s", job_id, reason)
    return [job_id for job_id, _ in running]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tdacnn.jobs.runner JOB_ID", file=sys.stderr)
        return 2
    die_with_parent()  # and at once if the process that started us has already gone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job = run_job(argv[0])
    log.info("job %s: %s (%s)", job.id, job.status, job.message)
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
