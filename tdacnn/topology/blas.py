"""One BLAS thread for small matrix products, safe when several threads compute at once.

The Mapper clusterers and the max-min landmark search do many small matrix
products, for which a multi-threaded BLAS spends more on waking and
spin-waiting its threads than it saves (2-5x slower on a busy machine, see
``benchmarks/mapper.py``).  ``threadpoolctl.threadpool_limits`` fixes that, but
the OpenBLAS limit it sets is process-wide, not per thread, and the context
manager restores on exit whatever it saw on entry.  In the web app several
request threads build graphs at once, and with one ``threadpool_limits`` per call

* thread A saves 2 and sets 1; thread B saves 1; A leaves and restores 2 while
  B is still inside (B runs multi-threaded);
* B leaves and restores 1: the process stays at one BLAS thread for good.

:func:`one_blas_thread` counts the sections that are open in the process under a
lock: the first to enter sets the limit, the last to leave restores it, and
threadpoolctl itself (whose calls are not thread-safe either) is only called
under that lock.  Sections nest and may be entered from any thread.  While one
is open, every BLAS call of the process runs on one thread — the limit is a
process-wide setting, there is no way to scope it to one thread.

threadpoolctl ≥ 3.8 lets only one Python thread at a time change a process-wide
OpenBLAS pool (the first one to set it; the others' calls are silently ignored
until it leaves its own ``with threadpool_limits``).  Here the thread that opens
the first section is rarely the one that closes the last, so every change is
made under the lock after handing control to the calling thread, and control is
handed back right after: the limit is always set and restored, whichever
threads enter and leave.

Assumes a BLAS with one process-wide pool (OpenBLAS with pthreads, as in the
numpy and scipy wheels; MKL; BLIS).  An OpenBLAS built on OpenMP keeps the limit
per thread, and there only the thread that opened the first section is limited.

Changing OpenBLAS's thread count is itself unsafe while another thread is inside a BLAS
call (OpenBLAS re-initialises its thread pool; the process can crash with a segmentation
fault, OpenBLAS PR #447 and issue #602).  A section's first entry and last exit change it,
and other threads of the process (a PCA lens, a test running in the background) may be
inside BLAS just then.  Long-lived processes that compute in several threads at once (the
web app) therefore call :func:`pin_one_blas_thread` once, at start, before those threads
exist: the limit is set for good and sections no longer change it.

After ``fork`` (tdacnn itself spawns its processes; a library user may fork) the
child starts with no open section, a fresh lock and the limits restored, even if
the parent forked while another thread was inside a section.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["one_blas_thread", "open_sections", "pin_one_blas_thread"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_open = 0  # sections open in this process
_limiter: Any = None  # the threadpoolctl limiter while _open > 0
_pinned = False  # one BLAS thread for good (pin_one_blas_thread): sections change nothing


def _hand_over_control() -> None:
    """Let the next threadpoolctl call change OpenBLAS's pool, whichever thread makes it."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # threadpoolctl < 3: no controlling thread
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def pin_one_blas_thread() -> None:
    """Limit BLAS to one thread for the rest of this process; sections then change nothing.

    For a process whose threads compute at once (the web app): call it at start, before
    those threads run, so that no thread count ever changes while a BLAS call is running.
    Idempotent.
    """
    global _pinned, _limiter
    with _lock:
        if _pinned:
            return
        import numpy  # noqa: F401 - load every BLAS the analyses use (numpy's, scipy's): a limit
        import scipy.linalg  # noqa: F401 - reaches only the libraries loaded when it is set
        from threadpoolctl import threadpool_limits

        _hand_over_control()
        try:
            threadpool_limits(limits=1, user_api="blas")  # never restored
        finally:
            _hand_over_control()
        _pinned, _limiter = True, None  # an open section no longer restores anything when it ends


def _enter() -> None:
    global _open, _limiter
    with _lock:
        if _open == 0 and not _pinned:
            from threadpoolctl import threadpool_limits

            _hand_over_control()
            try:
                _limiter = threadpool_limits(limits=1, user_api="blas")
            finally:
                _hand_over_control()
        _open += 1


def _restore(limiter: Any) -> None:
    _hand_over_control()
    try:
        limiter.restore_original_limits()
    except Exception as exc:  # noqa: BLE001 - never turn a finished computation into an error
        log.warning("could not restore the BLAS thread limits: %s", exc)
    finally:
        _hand_over_control()


def _leave() -> None:
    global _open, _limiter
    with _lock:
        _open -= 1
        if _open == 0 and _limiter is not None:
            limiter, _limiter = _limiter, None
            _restore(limiter)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (process-wide; see the module docstring).

    Examples
    --------
    >>> with one_blas_thread():
    ...     g = x @ x.T  # doctest: +SKIP
    """
    _enter()
    try:
        yield
    finally:
        _leave()


def open_sections() -> int:
    """How many :func:`one_blas_thread` sections are open in this process now."""
    return _open


def _after_fork_in_child() -> None:
    # the threads that held sections do not exist in the child: start with none open and a new lock
    global _lock, _open, _limiter
    _lock = threading.Lock()
    limiter, _limiter, _open = _limiter, None, 0
    if limiter is not None:
        _restore(limiter)


if hasattr(os, "register_at_fork"):
    # holding the lock across fork means no thread is inside threadpoolctl (and its own lock) then
    os.register_at_fork(before=lambda: _lock.acquire(), after_in_parent=lambda: _lock.release(),
                        after_in_child=_after_fork_in_child)
