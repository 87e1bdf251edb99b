"""Jobs on real Celery workers with a real Redis: scale-out and faults."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tdacnn.jobs.celery_app import get_celery_app
from tdacnn.jobs.shards import split, start_sharded_training
from tdacnn.jobs.sources import list_sources, load_source
from tdacnn.jobs.store import JobRegistry
from tdacnn.jobs.tasks import rerun_job, start_job

from .conftest import wait_for

pytestmark = pytest.mark.redis

TINY = dict(dataset="digits", networks=2, iterations=12, snapshots="0, 6", conv1=6, conv2=4, seed=5)


def _submit(kind: str, params: dict):
    job = start_job(kind, params)
    get_celery_app().send_task("tdacnn.run_job", [job.id])
    return job


def test_job_runs_on_a_worker_and_survives_a_restart(workers):
    workers.start("w1")
    job = _submit("train", TINY)
    reg = JobRegistry()
    final = wait_for(lambda: (j := reg.get(job.id)).terminal and j, what="job end")
    assert final.status == "done", final.message
    assert final.pid is not None and final.pid != os.getpid()
    source = final.result["source"]
    assert source in [s["value"] for s in list_sources()]
    reg.close()
    # a "restarted server": new handles on the same data directory find the job and its run
    reg2 = JobRegistry()
    reg2.recover(orphan_queued=False)
    assert reg2.get(job.id).status == "done"
    assert load_source(source).layers() == [1, 2]


def test_no_worker_means_queued_and_waiting_then_it_runs(workers):
    job = _submit("train", TINY)
    reg = JobRegistry()
    import time

    time.sleep(2)
    waiting = reg.get(job.id)
    reg.refresh()
    assert waiting.status == "queued" and "waiting for a worker" in waiting.message
    assert reg.get(job.id).status == "queued"  # not marked lost: nobody has taken it yet
    workers.start("late")
    final = wait_for(lambda: (j := reg.get(job.id)).terminal and j, what="job end")
    assert final.status == "done", final.message


def test_worker_killed_mid_training_then_rerun(workers):
    w = workers.start("doomed")
    job = _submit("train", {**TINY, "networks": 1, "iterations": 20000})
    reg = JobRegistry()
    wait_for(lambda: (j := reg.get(job.id)).status == "running" and j.progress > 0, what="training under way")
    workers.kill(w)  # SIGKILL to the worker and the job process it started

    def marked():
        reg.refresh()
        return reg.get(job.id).status != "running"

    wait_for(marked, timeout=30, what="the lost job to be noticed")
    lost = reg.get(job.id)
    assert lost.status == "interrupted" and "start it again" in lost.message
    # the lock died with the worker: a new worker runs the same job again
    workers.start("fresh")
    again = rerun_job(job.id, {"iterations": 12, "snapshots": [0, 6]})
    assert again.params["networks"] == 1 and again.id != job.id
    get_celery_app().send_task("tdacnn.run_job", [again.id])
    final = wait_for(lambda: (j := reg.get(again.id)).terminal and j, what="rerun end")
    assert final.status == "done", final.message
    assert reg.get(job.id).status == "interrupted"


def test_sharded_run_on_two_workers_pools_the_networks_of_the_unsplit_run(workers):
    assert split(5, 2) == [(0, 3), (3, 2)]
    workers.start("a", TDACNN_TRAIN_SLOTS="2")
    workers.start("b", TDACNN_TRAIN_SLOTS="2")
    params = {**TINY, "networks": 4}
    parent = start_sharded_training(params, shards=2)
    reg = JobRegistry()
    final = wait_for(lambda: (j := reg.get(parent.id)).terminal and j, what="sharded run end", timeout=180)
    assert final.status == "done", final.message
    children = [reg.get(c) for c in final.params["children"]]
    assert [c.status for c in children] == ["done", "done"]
    assert len({c.pid for c in children}) == 2  # two different worker processes
    pooled = load_source(final.result["source"])
    assert pooled.networks() == [0, 1, 2, 3]
    # networks of the second shard are the very networks an unsplit run trains (seeded by index)
    from tdacnn.jobs.requests import TrainRequest
    from tdacnn.jobs.shards import train_networks

    reference = train_networks(TrainRequest.from_dict(params), 2, 1, lambda p: None, lambda: False)
    assert reference.networks() == [2]
    for layer in (1, 2):
        for it in (0, 6, 12):
            a = [e.weight for e in pooled.select(layer, it) if e.network == 2]
            b = [e.weight for e in reference.select(layer, it)]
            assert len(a) == len(b) == 1
            np.testing.assert_allclose(a[0], b[0], atol=1e-6)
