"""The background-callback manager, chosen once per process.

Dash's DiskcacheManager (a ``diskcache.Cache`` under ``cache_dir()/"callbacks"``;
nothing else to start) by default; Dash's CeleryManager on the Celery app of
:mod:`tdacnn.jobs.celery_app` when ``REDIS_URL`` is set.

DiskcacheManager forks the web process for each background call.  Ours
(:func:`make_manager`) starts each forked process with :func:`_forked_job`: it
lets go of the web server's sockets and ends, with the jobs it runs, when the
web server does (:mod:`tdacnn.lifeline`), so a killed server leaves no
process behind and can be started again on the same port at once.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable

from tdacnn import config
from tdacnn.jobs.celery_app import get_celery_app, redis_url

__all__ = ["make_manager", "get_manager", "backend_name"]

log = logging.getLogger(__name__)

_MANAGER: Any = None


def backend_name() -> str:
    """``"celery"`` when ``REDIS_URL`` is set, else ``"diskcache"``."""
    return "celery" if redis_url() else "diskcache"


def make_manager():
    """A new background-callback manager for the current environment."""
    if redis_url():
        from dash import CeleryManager

        log.info("background callbacks on Celery (%s)", redis_url())
        return CeleryManager(get_celery_app())
    import diskcache
    from dash import DiskcacheManager

    class ForkedJobManager(DiskcacheManager):
        """DiskcacheManager whose forked processes let go of the server's sockets and die with the server."""

        def call_job_fn(self, key, job_fn, args, context):
            return super().call_job_fn(key, functools.partial(_forked_job, job_fn, os.getpid()), args, context)

    path = config.cache_dir() / "callbacks"
    log.info("background callbacks in forked processes (diskcache at %s)", path)
    return ForkedJobManager(diskcache.Cache(str(path)))


def _forked_job(job_fn: Callable[..., Any], server_pid: int, *args: Any) -> Any:
    """First thing in a process forked for a background callback: release the server's
    listening socket, follow the server, then run the callback."""
    from tdacnn.lifeline import release_server_sockets, watch_process

    release_server_sockets()
    watch_process(server_pid, _server_gone, name="watch-web-server")
    return job_fn(*args)


def _server_gone() -> None:
    """The web server ended (even by ``kill -9``): record this process's jobs as interrupted, stop them, exit."""
    from tdacnn.jobs.runner import stop_running_jobs

    try:
        stop_running_jobs("the web server stopped while it ran")
    finally:
        os._exit(1)


def get_manager():
    """The process's manager (made on first call): pass it to ``Dash(background_callback_manager=...)``."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = make_manager()
    return _MANAGER
