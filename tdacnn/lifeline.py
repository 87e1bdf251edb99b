"""Processes that die together: no job outlives, or holds the socket of, the process that started it.

The chain of a job (see :mod:`tdacnn.jobs.supervisor`, :mod:`tdacnn.jobs.worker`)::

    web server ──spawn──▶ embedded worker ──spawn──▶ runner ──spawn──▶ training processes
                          (own session; SIGTERM       (own session;     (die_with_parent)
                           when the app ends)          die_with_parent)

* Every process is spawned (never forked) with ``close_fds``: none holds the web
  server's listening socket, so a server restarted on the same port never finds it held.
* The runner starts in a new session: it and the training processes it spawns
  form one process group, which a cancel kills at once (:func:`kill_group`).
* Each child dies with the process that started it (:func:`die_with_parent`,
  Linux's ``PR_SET_PDEATHSIG``), ``kill -9`` included.

``PR_SET_PDEATHSIG`` fires when the *thread* that started the child ends, so a
child is always waited for by the thread that started it (the supervisor's
thread, a worker's consumer thread, the training pool do).  Elsewhere than
Linux these helpers do nothing and say so (their return value).  Standard
library only.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from pathlib import Path

__all__ = ["die_with_parent", "kill_group", "child_env", "PARENT_ENV"]

log = logging.getLogger(__name__)

#: Environment variable naming the pid a child expects as its parent (see :func:`die_with_parent`).
PARENT_ENV = "TDACNN_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_REPO = Path(__file__).resolve().parents[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a tdacnn child process: this one's, the parent named for
    :func:`die_with_parent` (this process), tdacnn importable (``PYTHONPATH``), and ``extra``."""
    path = os.pathsep.join(p for p in (str(_REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, PARENT_ENV: str(os.getpid()), "PYTHONPATH": path, **extra}


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
