"""Work the page asks for but does not wait on: the test of a barcode's bars against random filters.

One thread (one test at a time, so the web process keeps a core for the pictures); a piece of work
already asked for under a key is not asked again while it runs or waits.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["in_background", "background_failure", "forget_failures"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_running: dict[Any, Future] = {}
_failed: dict[Any, str] = {}  # key → why its work failed, for the caller to report


def in_background(key: Any, work: Callable[[], Any]) -> Future:
    """Run ``work()`` on the background thread unless work under ``key`` is already waiting or running."""
    global _pool
    with _lock:
        future = _running.get(key)
        if future is not None and not future.done():
            return future
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tdacnn-significance")
        for done in [k for k, f in _running.items() if f.done()]:
            del _running[done]
        future = _running[key] = _pool.submit(work)
    future.add_done_callback(lambda f: _report(key, f))
    return future


def background_failure(key: Any) -> str | None:
    """Why the work asked for under ``key`` failed, or None (none, or not yet)."""
    with _lock:
        return _failed.get(key)


def forget_failures() -> None:
    """Forget every failure (tests; a new data directory): the work may be asked for again."""
    with _lock:
        _failed.clear()


def _report(key: Any, future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background work failed: %s", future.exception())
        with _lock:
            _failed[key] = str(future.exception())
