"""tdacnn.jobs: the job backend (no Dash layout here, and never torch at import).

- :mod:`~tdacnn.jobs.service`: the one job API (submit, get, cancel, jobs, wait, queue_problem).
- :mod:`~tdacnn.jobs.queue`: the process's huey (SQLite file, or Redis with ``REDIS_URL``).
- :mod:`~tdacnn.jobs.records`: job records, cancel requests, claims, worker heartbeats in huey's store.
- :mod:`~tdacnn.jobs.worker`: the worker process (``tdacnn worker``): huey consumers, heartbeat, reaper.
- :mod:`~tdacnn.jobs.reaper`: jobs of dead workers run again or recorded interrupted.
- :mod:`~tdacnn.jobs.supervisor`: the app's embedded worker (``ensure_worker``).
- :mod:`~tdacnn.jobs.runner`: one job in a fresh interpreter, its own process group.
- :mod:`~tdacnn.jobs.tasks`: the job functions (train, load a checkpoint, train a shard).
- :mod:`~tdacnn.jobs.shards`: a training run split across workers and pooled.
- :mod:`~tdacnn.jobs.requests`: a training request validated before it is queued.
- :mod:`~tdacnn.jobs.sources`: the weight sources the app can analyse, by id (never by path).
- :mod:`~tdacnn.jobs.uploads`: loaded checkpoints stored once per content (sha256).
- :mod:`~tdacnn.jobs.opening`: files named on the server's command line opened as sources.
"""
