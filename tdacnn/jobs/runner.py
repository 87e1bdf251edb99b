"""Run one job in a fresh interpreter: ``python -m tdacnn.jobs.runner`` (started by a worker only).

The worker (:mod:`tdacnn.jobs.worker`) starts a :class:`Runner` for each job it
takes.  The runner process:

* is spawned, never forked, with ``close_fds``: no thread, lock, OpenMP pool,
  CUDA context or listening socket of the worker is inherited;
* starts a session of its own, so it and the training processes it spawns are
  one process group, killed as one (:func:`~tdacnn.lifeline.kill_group`) on
  cancel, and dies with its worker (:func:`~tdacnn.lifeline.die_with_parent`);
* reads its job description (JSON) on stdin — no job id or path is ever put on
  its command line — and writes one JSON object per line on a pipe of its own
  (``$TDACNN_PROGRESS_FD``): ``{"progress", "message", "report"}`` as it goes (``report``:
  a :class:`~tdacnn.progress.Progress` as a dict), then
  ``{"result": ...}`` or ``{"error": "<one sentence>"}``.  Its stdout and stderr
  go to the job's log file.

The runner never opens the job store: the worker is the one writer of the
record of the job it runs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tdacnn.lifeline import child_env, die_with_parent, kill_group

__all__ = ["Runner", "main", "PROGRESS_ENV"]

log = logging.getLogger(__name__)

#: Environment variable naming the file descriptor the runner reports on.
PROGRESS_ENV = "TDACNN_PROGRESS_FD"


class Runner:
    """A job's runner process, seen from the worker that started it.

    Parameters
    ----------
    spec : dict
        The job description (see :func:`tdacnn.jobs.tasks.run_spec`).
    log_file : path
        Where the runner's stdout and stderr go.
    """

    def __init__(self, spec: dict, log_file: Path) -> None:
        read_fd, write_fd = os.pipe()
        env = child_env(**{PROGRESS_ENV: str(write_fd)})
        try:
            with open(log_file, "ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "tdacnn.jobs.runner"], env=env, stdin=subprocess.PIPE, stdout=out,
                    stderr=subprocess.STDOUT, close_fds=True, pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
        self.progress: tuple[float, str, dict] | None = None  # the latest (fraction, text, Progress dict)
        self.outcome: dict | None = None  # {"result": ...} or {"error": ...}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, args=(read_fd,), name=f"runner-{self.proc.pid}",
                                        daemon=True)
        self._reader.start()
        try:
            self.proc.stdin.write(json.dumps(spec).encode())
            self.proc.stdin.close()
        except OSError:  # it died at once; its exit status says so
            pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self._lock:
                    if "progress" in msg:
                        self.progress = (float(msg["progress"]), str(msg.get("message", "")),
                                         dict(msg.get("report") or {}))
                    elif "result" in msg or "error" in msg:
                        self.outcome = msg

    def latest(self) -> tuple[tuple[float, str, dict] | None, dict | None]:
        """The latest progress report and the outcome (None while it runs)."""
        with self._lock:
            return self.progress, self.outcome

    def finished(self) -> bool:
        """True once the process has exited and everything it wrote has been read."""
        if self.proc.poll() is None:
            return False
        self._reader.join(timeout=5)
        return True

    def kill(self) -> None:
        """Kill the runner's whole process group (it and its training processes) and reap it."""
        kill_group(self.proc.pid)
        self.proc.wait()
        self._reader.join(timeout=5)


def main() -> int:
    """The runner process: the job description on stdin, reports on ``$TDACNN_PROGRESS_FD``."""
    die_with_parent()  # and at once if the worker has already gone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    fd = os.environ.pop(PROGRESS_ENV, "")
    if not fd.isdigit():
        sys.stderr.write("python -m tdacnn.jobs.runner is started by a tdacnn worker only\n")  # an entry point's usage line
        return 2
    out = os.fdopen(int(fd), "w", buffering=1)

    def send(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg, default=str) + "\n")

    from tdacnn.errors import UserError
    from tdacnn.jobs.tasks import Cancelled, run_spec
    from tdacnn.progress import Progress

    def report(p: Progress) -> None:
        send({"progress": p.fraction, "message": p.text, "report": p.to_dict()})

    try:
        spec = json.loads(sys.stdin.read())
        send({"result": run_spec(spec, report)})
        return 0
    except Cancelled:
        send({"error": "cancelled", "cancelled": True})
    except (UserError, ValueError) as exc:
        send({"error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - any crash becomes a failed job with its reason
        log.exception("job crashed")
        send({"error": f"unexpected error ({type(exc).__name__}: {exc})"})
    return 1


if __name__ == "__main__":
    sys.exit(main())
