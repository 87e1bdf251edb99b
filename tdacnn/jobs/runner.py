"""Run one recorded job in a fresh interpreter: ``python -m tdacnn.jobs.runner JOB_ID``.

:func:`run_job_isolated` starts it and relays the job's progress from the
registry.  The job thus never runs in a process forked from the web server (or
from a Celery worker): no thread, lock, OpenMP pool or CUDA context is inherited
— the known causes of hangs in forked children — and a crash (segfault, OOM
kill) ends the job, not the server.  The runner dies with the process that
started it (``PR_SET_PDEATHSIG``), so cancelling or killing that process stops
the job; the registry then marks it cancelled or interrupted.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tdacnn import config
from tdacnn.jobs.store import Job, JobRegistry, job_registry
from tdacnn.jobs.tasks import Progress, ProgressFn, _noop, run_job

__all__ = ["run_job_isolated", "main", "log_path"]

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]


def log_path(job_id: str) -> Path:
    """Where the runner of ``job_id`` writes its log (under the data directory)."""
    folder = config.home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"job-{job_id}.log"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_job_isolated(job_id: str, progress: ProgressFn = _noop, registry: JobRegistry | None = None,
                     poll_s: float = 0.5) -> Job:
    """Run ``job_id`` in a new ``python -m tdacnn.jobs.runner`` process; relay its progress.

    Returns the job's final record.  If the runner dies without recording an end
    (killed, crashed), the job is marked failed with the exit status.
    """
    registry = registry or job_registry()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(_REPO), os.environ.get("PYTHONPATH")) if p)}
    with open(log_path(job_id), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.runner", job_id], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    last = None
    try:
        while proc.poll() is None:
            job = registry.get(job_id)
            if job is not None and (job.progress, job.message) != last and job.pid is not None:
                last = (job.progress, job.message)
                progress(Progress(job.progress, job.message))
            time.sleep(poll_s)
    finally:
        if proc.poll() is None:  # we are being stopped (e.g. an exception in progress()): stop the runner too
            proc.kill()
            proc.wait()
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tdacnn.jobs.runner JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job = run_job(argv[0])
    log.info("job %s: %s (%s)", job.id, job.status, job.message)
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
