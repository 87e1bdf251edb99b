"""A training run split across workers, then pooled into one run folder.

``submit("train", {..., "shards": n}, owner)`` records the run (the *parent*, the
job the caller sees) and one child job of kind ``"shard"`` per slice: networks
``[first, first + count)`` of the run, with the very seeds they have in the
unsplit run (network ``i`` is seeded from ``(seed, i)``), so the pooled run holds
the same weights as the run trained whole.  The children go on the ``train``
queue like any training: any worker takes any of them, one at a time each.  A
shard writes its weights under ``runs_dir()/.shards/<parent>/<index>.npz``; the
worker that finishes the last one pools them (:func:`pool_if_complete`, under a
claim, so exactly once) into a normal run folder and records the parent done.
A shard that fails, is cancelled or is lost for good ends the run the same way
(:func:`tdacnn.jobs.reaper.finish_parent`).  numpy only: torch stays in the
shards' runner processes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

from tdacnn import config
from tdacnn.errors import UserError, quote
from tdacnn.jobs import records

__all__ = ["split", "submit_children", "shard_started", "shard_file", "pool_if_complete"]

log = logging.getLogger(__name__)


def split(n_networks: int, shards: int) -> list[tuple[int, int]]:
    """``(first, count)`` of each shard: as equal as possible, none empty."""
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= n_networks:
        raise UserError(f"shards must be a whole number from 1 to the number of networks ({n_networks}); "
                        f"got {quote(shards)}")
    base, extra = divmod(n_networks, shards)
    out, first = [], 0
    for k in range(shards):
        count = base + (1 if k < extra else 0)
        out.append((first, count))
        first += count
    return out


def shard_file(parent_id: str, index: int) -> Path:
    """Where shard ``index`` of run ``parent_id`` writes its weights."""
    return config.runs_dir() / ".shards" / parent_id / f"{int(index)}.npz"


def submit_children(parent):
    """Record the shard jobs of the split run ``parent`` (not yet saved); returns the parent naming them."""
    request = {k: v for k, v in parent.params.items() if k != "shards"}
    ranges = split(request["networks"], parent.params["shards"])
    Job = type(parent)
    children = []
    for index, (first, count) in enumerate(ranges):
        child = Job(id=records.new_id(), kind="shard", owner=parent.owner, created=parent.created,
                    queued_at=parent.queued_at,
                    params={"request": request, "parent": parent.id, "index": index, "first": first,
                            "count": count})
        records.save(child)
        children.append(child.id)
    return dataclasses.replace(parent, params={**parent.params, "children": children},
                               message=f"queued: waiting for workers (0 of {len(children)} shards started)")


def shard_started(child) -> None:
    """A worker started a shard: its run is running."""
    parent = records.load(child.params["parent"])
    if parent is not None and parent.state == "queued":
        records.update(parent.id, state="running", started=time.time(), message="running")


def pool_if_complete(parent_id: str, me: str) -> None:
    """Called by each finished shard's worker: once all are done, pool them into a run folder (once)."""
    from tdacnn.jobs.requests import TrainRequest
    from tdacnn.jobs.tasks import new_run_dir
    from tdacnn.weights import WeightSet

    parent = records.load(parent_id)
    if parent is None or parent.terminal:
        return
    children = [records.load(c) for c in parent.params["children"]]
    if not all(c is not None and c.state == "done" for c in children):
        return
    if not records.claim(f"pool:{parent_id}", me):
        return
    records.update(parent_id, message="pooling the shards")
    request = TrainRequest.from_dict({k: v for k, v in parent.params.items() if k not in ("shards", "children")})
    try:
        pooled = WeightSet.pool([WeightSet.load(shard_file(parent_id, k)) for k in range(len(children))],
                                renumber=False)
        meta = dict(pooled.meta)
        meta["shards"] = len(children)
        pooled.meta = meta
        out = new_run_dir(request)
        out.mkdir(parents=True)
        pooled.save(out)
        info = {"format": "tdacnn-run/1", "config": meta.get("train", request.to_dict()), "arch": meta.get("arch"),
                "status": "complete",
                "shards": [{"job": c.id, "first": c.params["first"], "count": c.params["count"], "worker": c.worker}
                           for c in children],
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    except (OSError, ValueError) as exc:
        log.exception("pooling run %s failed", parent_id)
        records.update(parent_id, state="failed", finished=time.time(),
                       message=f"failed: the shards could not be pooled ({type(exc).__name__}: {exc})")
        return
    shutil.rmtree(shard_file(parent_id, 0).parent, ignore_errors=True)
    records.update(parent_id, state="done", progress=1.0, finished=time.time(),
                   result={"source": f"run:{out.name}", "path": str(out)},
                   message=f"done: new run {out.name} ({len(children)} shards pooled)")
