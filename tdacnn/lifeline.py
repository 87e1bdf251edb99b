"""Processes that die together: no job outlives, or holds the socket of, the process that started it.

The chain of a job started from the page (the fork-per-job backend)::

    web server ──fork──▶ Dash job process ──▶ runner ──spawn──▶ training workers
                         (release_server_sockets,   (own session; die_with_parent)  (die_with_parent)
                          watch_process(web server))

* The Dash job process is forked from the web server, so it inherits the
  server's listening socket: :func:`release_server_sockets` swaps it (and the
  server's client connections) for ``/dev/null`` at once, so a server restarted
  on the same port never finds the port held; :func:`watch_process` follows the
  web server and, the moment it ends (``kill -9`` included), the job process
  records its jobs as interrupted, kills their process groups and exits.
* The runner (``python -m tdacnn.jobs.runner``) starts in a new session: it and
  the training workers it spawns form one process group, which a cancel kills
  at once (:func:`kill_group`); and it dies with the process that started it
  (:func:`die_with_parent`, Linux's ``PR_SET_PDEATHSIG``).
* Each training worker dies with the runner the same way.

``PR_SET_PDEATHSIG`` fires when the *thread* that started the child ends, so a
child is always waited for by the thread that started it (``run_job_isolated``
and the training pool do).  Elsewhere than Linux these helpers do nothing and
say so (their return value).  Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import stat
import threading
import time
from typing import Callable

__all__ = ["die_with_parent", "release_server_sockets", "watch_process", "kill_group", "PARENT_ENV"]

log = logging.getLogger(__name__)

#: Environment variable naming the pid a child expects as its parent (see :func:`die_with_parent`).
PARENT_ENV = "TDACNN_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when its parent ends.

    Call it first thing in a child.  If the parent has already ended (this
    process's parent is no longer ``expected_parent``), ``sig`` is sent at once:
    the race between starting and asking is closed.

    Parameters
    ----------
    expected_parent : int, optional
        The pid of the process that started this one (default: ``$TDACNN_PARENT_PID``,
        which is then removed from the environment, so this process's own children
        do not take it for theirs).
    sig : int
        The signal (SIGKILL: the child cannot ignore it).

    Returns
    -------
    bool
        False where the kernel offers no parent-death signal (not Linux).
    """
    named = os.environ.pop(PARENT_ENV, "")
    if expected_parent is None and named.isdigit():
        expected_parent = int(named)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), sig)
    return True


def release_server_sockets() -> int:
    """Swap this process's listening sockets and TCP connections for ``/dev/null``.

    For a process forked from a server: the file descriptors stay taken (nothing
    else can land on them by accident) but no longer keep the port or the
    server's clients.

    Returns
    -------
    int
        How many sockets were let go.
    """
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return 0
    released = 0
    devnull = -1
    try:
        for fd in fds:
            try:
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    continue
                dup = os.dup(fd)  # looked at through a duplicate: closing it leaves fd alone
            except OSError:
                continue
            try:
                with socket.socket(fileno=dup) as s:
                    listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    tcp = s.family in (socket.AF_INET, socket.AF_INET6)
            except OSError:
                with contextlib.suppress(OSError):
                    os.close(dup)
                continue
            if listening or tcp:
                if devnull < 0:
                    devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, fd, inheritable=False)
                released += 1
    finally:
        if devnull >= 0:
            os.close(devnull)
    return released


def watch_process(pid: int, on_exit: Callable[[], None], name: str = "watch-process") -> threading.Thread:
    """Call ``on_exit()`` in a daemon thread as soon as process ``pid`` ends.

    Waits on a pidfd (Linux ≥ 5.3) without polling; elsewhere checks every 0.2 s.
    If ``pid`` is this process's parent and it has already gone, ``on_exit`` is
    called at once.
    """
    expect_parent = pid == os.getppid()

    def gone() -> bool:
        if expect_parent:
            return os.getppid() != pid
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
        except PermissionError:
            return False

    def run() -> None:
        fd = -1
        with contextlib.suppress(AttributeError, OSError):
            fd = os.pidfd_open(pid)
        if fd >= 0 and not gone():
            with contextlib.suppress(OSError):
                select.select([fd], [], [])  # readable once the process has ended
        while fd < 0 and not gone():
            time.sleep(0.2)
        if fd >= 0:
            os.close(fd)
        log.info("process %d ended", pid)
        on_exit()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to every process of group ``pgid`` (a child started with ``start_new_session``).

    Returns
    -------
    bool
        False if the group no longer exists.
    """
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
