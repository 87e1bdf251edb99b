"""A large training run split across Celery workers, then pooled into one WeightSet.

``start_sharded_training(request, shards)`` records a parent job (kind
``"train"``) and one child job per shard (kind ``"shard"``): networks
``[first, first + count)`` of the run, with the very seeds they would have in an
unsplit run (network ``i`` is seeded from ``(seed, i)``), so the pooled run holds
the same weights as training it in one piece.  Each shard runs on whichever
worker takes its ``tdacnn.train_shard`` task, writes its weights under
``runs_dir()/.shards/<parent>/``, and the shard that finishes last pools them
into a normal run folder (``weights.npz`` + ``run.json``) and marks the parent
done.  A failed, cancelled or lost shard fails the parent with its reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Callable

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.jobs.queue import JobCancelled, train_slot
from tdacnn.jobs.requests import TrainRequest
from tdacnn.jobs.store import Job, JobRegistry, job_registry
from tdacnn.jobs.tasks import Progress, _heartbeat, new_run_dir, to_train_config

__all__ = ["split", "start_sharded_training", "run_shard", "train_networks", "shard_dir"]

log = logging.getLogger(__name__)


def split(n_networks: int, shards: int) -> list[tuple[int, int]]:
    """``(first, count)`` of each shard: as equal as possible, none empty."""
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= n_networks:
        raise UserError(f"shards must be a whole number from 1 to the number of networks ({n_networks}); got {shards!r}")
    base, extra = divmod(n_networks, shards)
    out, first = [], 0
    for k in range(shards):
        count = base + (1 if k < extra else 0)
        out.append((first, count))
        first += count
    return out


def shard_dir(parent_id: str) -> Path:
    return config.runs_dir() / ".shards" / parent_id


def start_sharded_training(config_dict: dict, shards: int, registry: JobRegistry | None = None,
                           send: Callable[[str], None] | None = None) -> Job:
    """Queue a training run split into ``shards`` Celery tasks; returns the parent job.

    ``send(child_id)`` submits one shard (default: the ``tdacnn.train_shard`` task
    on :func:`tdacnn.jobs.celery_app.get_celery_app`).
    """
    registry = registry or job_registry()
    request = TrainRequest.from_dict(config_dict)
    ranges = split(request.networks, shards)
    if send is None:
        from tdacnn.jobs.celery_app import get_celery_app

        app = get_celery_app()
        if app is None:
            raise UserError("splitting a run across workers needs Celery: set REDIS_URL and start workers")
        send = lambda child_id: app.send_task("tdacnn.train_shard", [child_id])  # noqa: E731
    parent = registry.create("train", {**request.to_dict(), "shards": shards},
                             message=f"queued: waiting for workers (0 of {shards} shards started)")
    children = [registry.create("shard", {"request": request.to_dict(), "parent": parent.id, "index": k,
                                          "first": first, "count": count})
                for k, (first, count) in enumerate(ranges)]
    registry.update(parent.id, params={**parent.params, "children": [c.id for c in children]})
    for child in children:
        send(child.id)
    return parent


def train_networks(request: TrainRequest, first: int, count: int, progress: Callable[[Progress], None],
                   cancel: Callable[[], bool]):
    """Train networks ``first .. first+count-1`` of ``request`` serially; returns a WeightSet."""
    import numpy as np

    from tdacnn.training.single import load_train_data, train_network
    from tdacnn.weights import WeightEntry, WeightSet

    cfg = to_train_config(request)
    data = load_train_data(cfg, "cpu")
    total = count * cfg.iterations
    done = {"steps": 0, "last": 0.0}
    t0 = time.time()

    def report(network: int, it: int, loss: float, acc: float) -> None:
        done["steps"] = (network - first) * cfg.iterations + it
        now = time.time()
        if now - done["last"] > 0.2:
            done["last"] = now
            frac = done["steps"] / total
            eta = (now - t0) * (1 - frac) / frac if frac > 0 else None
            progress(Progress(frac, f"networks {first}–{first + count - 1}: network {network}, iteration {it}", eta, loss))

    entries = []
    names = {1: "conv1.weight", 2: "conv2.weight"}
    for i in range(first, first + count):
        if cancel():
            raise JobCancelled("cancelled")
        r = train_network(cfg, i, data, None, report, cancel)
        if r.iterations_done < cfg.iterations:
            raise JobCancelled("cancelled")
        entries += [WeightEntry(r.network, layer, it, np.asarray(w, dtype=np.float32), names[layer])
                    for it in sorted(r.snapshots) for layer, w in sorted(r.snapshots[it].items())]
    return WeightSet(entries, {"arch": cfg.arch().to_dict(), "train": cfg.to_dict(), "dataset": cfg.dataset})


def _fail_parent(registry: JobRegistry, parent_id: str, message: str) -> None:
    with contextlib.suppress(KeyError):
        registry.update(parent_id, status="failed", message=message, finished=time.time())


def _pool_if_complete(registry: JobRegistry, parent_id: str) -> None:
    """Called by each finished shard: the last one pools the run."""
    with registry.cache.transact():
        parent = registry.get(parent_id)
        if parent is None or parent.terminal:
            return
        children = [registry.get(c) for c in parent.params["children"]]
        if not all(c is not None and c.status == "done" for c in children):
            registry.update(parent_id, progress=sum(c.progress for c in children if c) / len(children),
                            message=f"running: {sum(c.status == 'done' for c in children if c)} of "
                                    f"{len(children)} shards done")
            return
        registry.update(parent_id, message="pooling shards")
    from tdacnn.weights import WeightSet

    request = TrainRequest.from_dict({k: v for k, v in parent.params.items() if k not in ("shards", "children")})
    pooled = WeightSet.pool([WeightSet.load(shard_dir(parent_id) / f"{k}.npz") for k in range(len(children))],
                            renumber=False)
    cfg = to_train_config(request)
    pooled.meta = {"arch": cfg.arch().to_dict(), "train": cfg.to_dict(), "dataset": cfg.dataset,
                   "shards": len(children)}
    out = new_run_dir(request)
    out.mkdir(parents=True)
    pooled.save(out)
    info = {"format": "tdacnn-run/1", "config": cfg.to_dict(), "arch": cfg.arch().to_dict(), "status": "complete",
            "shards": [{"job": c.id, "first": c.params["first"], "count": c.params["count"], "host": c.host}
                       for c in children],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(shard_dir(parent_id), ignore_errors=True)
    registry.update(parent_id, status="done", progress=1.0, finished=time.time(),
                    result={"source": f"run:{out.name}", "path": str(out)},
                    message=f"done: new run {out.name} ({len(children)} shards pooled)")


def run_shard(job_id: str, registry: JobRegistry | None = None) -> Job:
    """Run one shard job in this worker (the ``tdacnn.train_shard`` task)."""
    registry = registry or job_registry()
    job = registry.get(job_id)
    if job is None:
        raise UserError(f"no job {job_id!r}")
    parent_id = job.params["parent"]
    parent = registry.get(parent_id)
    if job.terminal or parent is None or parent.terminal:
        return job
    registry.update(job_id, host=socket.gethostname(), pid=os.getpid(), heartbeat=time.time())
    if parent.status == "queued":
        registry.update(parent_id, status="running", started=time.time(), message="running")
    cancel = lambda: registry.cancel_requested(job_id) or registry.cancel_requested(parent_id)  # noqa: E731

    def progress(p: Progress) -> None:
        registry.update(job_id, progress=p.fraction, message=p.text, heartbeat=time.time())
        if cancel():
            raise JobCancelled("cancelled")

    try:
        with _heartbeat(registry, job_id), train_slot(registry, job_id, lambda m: None):
            registry.update(job_id, status="running", started=time.time())
            request = TrainRequest.from_dict(job.params["request"])
            ws = train_networks(request, job.params["first"], job.params["count"], progress, cancel)
            folder = shard_dir(parent_id)
            folder.mkdir(parents=True, exist_ok=True)
            ws.save(folder / f"{job.params['index']}.npz")
        final = registry.update(job_id, status="done", progress=1.0, finished=time.time(), message="done")
        _pool_if_complete(registry, parent_id)
    except JobCancelled:
        final = registry.update(job_id, status="cancelled", message="cancelled", finished=time.time())
        _fail_parent(registry, parent_id, "cancelled")
    except Exception as exc:  # noqa: BLE001 - the reason goes to the registry
        log.exception("shard %s failed", job_id)
        final = registry.update(job_id, status="failed", message=f"failed: {exc}", finished=time.time())
        _fail_parent(registry, parent_id, f"failed: shard {job.params['index']}: {exc}")
    return final
