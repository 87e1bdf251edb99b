"""The background-callback manager, chosen once per process.

Dash's DiskcacheManager (a ``diskcache.Cache`` under ``cache_dir()/"callbacks"``;
nothing else to start) by default; Dash's CeleryManager on the Celery app of
:mod:`tdacnn.jobs.celery_app` when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import logging
from typing import Any

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

    path = config.cache_dir() / "callbacks"
    log.info("background callbacks in forked processes (diskcache at %s)", path)
    return DiskcacheManager(diskcache.Cache(str(path)))


def get_manager():
    """The process's manager (made on first call): pass it to ``Dash(background_callback_manager=...)``."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = make_manager()
    return _MANAGER
