"""The Celery application, for scaling out on Redis (only when ``REDIS_URL`` is set).

``celery -A app:celery_app worker`` imports ``app.py``, which builds the Dash app:
its background callbacks register themselves as tasks on this same Celery app
(through :func:`tdacnn.jobs.manager.make_manager`), and tdacnn's own tasks
(:func:`register_tasks`) are added here.  Workers must share the data directory
(``TDACNN_HOME``) with the web process: runs, uploads, the results store and the
job registry all live there.

The module attribute ``celery_app`` is created lazily on first access: a
``celery.Celery`` when ``REDIS_URL`` is set, else None; celery is never imported
by a default (single-machine) server.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["make_celery", "get_celery_app", "register_tasks", "redis_url", "celery_app"]

log = logging.getLogger(__name__)

_APP: Any = None


def redis_url() -> str | None:
    """``$REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``), or None."""
    return os.environ.get("REDIS_URL") or None


def make_celery(url: str):
    """A Celery app using Redis at ``url`` as broker and result backend, with tdacnn's tasks."""
    from celery import Celery

    app = Celery("tdacnn", broker=url, backend=url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a long training job does not hold queued ones hostage
        broker_connection_retry_on_startup=True,
        result_expires=7 * 24 * 3600,
        worker_hijack_root_logger=False,
    )
    register_tasks(app)
    return app


def register_tasks(app) -> None:
    """Add tdacnn's job tasks to a Celery app (names ``tdacnn.run_job``, ``tdacnn.train_shard``)."""

    @app.task(name="tdacnn.run_job")
    def run_job_task(job_id: str) -> dict:
        from tdacnn.jobs.runner import run_job_isolated

        return run_job_isolated(job_id).to_dict()

    @app.task(name="tdacnn.train_shard")
    def train_shard_task(job_id: str) -> dict:
        from tdacnn.jobs.shards import run_shard

        return run_shard(job_id).to_dict()


def get_celery_app():
    """The process's Celery app (created on first call), or None without ``REDIS_URL``."""
    global _APP
    if _APP is None and redis_url():
        _APP = make_celery(redis_url())
        log.info("Celery app on %s", redis_url())
    return _APP


def __getattr__(name: str):
    if name == "celery_app":
        return get_celery_app()
    raise AttributeError(name)
