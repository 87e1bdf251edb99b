"""The app's embedded worker: started with the app, restarted when it dies, gone when the app goes.

:func:`ensure_worker` (called by ``app.py`` at import, so ``gunicorn app:server``
gets it too, and by ``tdacnn serve``) spawns ``python -m tdacnn.jobs.worker
--embedded`` from a thread that stays to wait on it:

* spawned, not forked, in a session of its own, with ``close_fds``: it never
  holds the web server's listening socket;
* it receives SIGTERM when the app ends, even by ``kill -9``
  (:func:`~tdacnn.lifeline.die_with_parent`), puts its jobs back in the queue
  and exits; its runners die with it;
* when it dies while the app lives, it is started again (after a pause that
  grows if it keeps dying at once);
* idempotent: one embedded worker per app process; and one *active* per data
  directory and host: the embedded worker of a second app on the same data
  directory stands by until the first is gone (a lock file, see
  :func:`tdacnn.jobs.worker.main`).

``TDACNN_LOCAL_WORKER=0`` turns it off (workers started by hand, e.g. on other
machines with ``REDIS_URL``).  Its log is ``<data directory>/logs/worker.log``.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from tdacnn import config
from tdacnn.lifeline import child_env

__all__ = ["ensure_worker", "stop_worker", "local_worker_enabled"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_STATE: dict[int, "_Supervisor"] = {}


def local_worker_enabled() -> bool:
    """False when ``$TDACNN_LOCAL_WORKER`` is ``0`` (or ``false``/``no``/``off``)."""
    return os.environ.get("TDACNN_LOCAL_WORKER", "1").strip().lower() not in ("0", "false", "no", "off")


class _Supervisor:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tdacnn-worker-supervisor", daemon=True)
        self.thread.start()

    def _spawn(self) -> subprocess.Popen:
        env = child_env()
        folder = config.home() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "worker.log", "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.worker", "--embedded"], env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)

    def _run(self) -> None:
        # This thread starts the worker and waits on it: the parent-death signal follows the thread that
        # started a child, so it must live as long as the app.
        pause = 1.0
        while not self.stopping.is_set():
            t0 = time.monotonic()
            try:
                self.proc = self._spawn()
            except OSError as exc:
                log.error("could not start the job worker: %s", exc)
                self.stopping.wait(pause)
                continue
            finally:
                self.started.set()
            log.info("job worker started (pid %d)", self.proc.pid)
            status = self.proc.wait()
            if self.stopping.is_set():
                return
            pause = 1.0 if time.monotonic() - t0 > 30 else min(pause * 2, 30.0)
            log.warning("job worker exited (status %s): starting it again in %.0f s", status, pause)
            self.stopping.wait(pause)

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # it puts its jobs back in the queue
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def ensure_worker() -> int | None:
    """Start this process's embedded job worker unless it runs already or ``TDACNN_LOCAL_WORKER=0``.

    Returns
    -------
    int or None
        The worker's pid (None when turned off).
    """
    if not local_worker_enabled():
        return None
    with _LOCK:
        sup = _STATE.get(os.getpid())
        if sup is None or sup.stopping.is_set():
            sup = _STATE[os.getpid()] = _Supervisor()
            atexit.register(sup.stop)
    sup.started.wait(10)
    return sup.proc.pid if sup.proc is not None else None


def stop_worker() -> None:
    """Stop this process's embedded worker (its jobs go back in the queue); nothing if none."""
    with _LOCK:
        sup = _STATE.pop(os.getpid(), None)
    if sup is not None:
        sup.stop()
