"""tdacnn.jobs: the job backend (no Dash layout here, and never torch at import).

- :mod:`~tdacnn.jobs.store`: the content-addressed results store and the job registry (diskcache).
- :mod:`~tdacnn.jobs.queue`: one training at a time per host (``fcntl`` lock), "queued (position n)".
- :mod:`~tdacnn.jobs.requests`: a training request validated before it is queued.
- :mod:`~tdacnn.jobs.tasks`: the job functions (train, load a checkpoint) and ``run_job``.
- :mod:`~tdacnn.jobs.runner`: run a job in a fresh interpreter and relay its progress.
- :mod:`~tdacnn.jobs.sources`: the weight sources the app can analyse, by id (never by path).
- :mod:`~tdacnn.jobs.uploads`: loaded checkpoints stored once per content (sha256).
- :mod:`~tdacnn.jobs.manager`: Dash's background-callback manager (diskcache, or Celery with ``REDIS_URL``).
- :mod:`~tdacnn.jobs.celery_app`: the Celery app and tdacnn's tasks.
- :mod:`~tdacnn.jobs.shards`: a training run split across Celery workers and pooled.
"""
