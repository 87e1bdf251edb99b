"""The same job system on Redis (RedisHuey): an outage and its end, and a run split across two workers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tdacnn.jobs import queue, records, service
from tdacnn.jobs.sources import load_source

from .conftest import LONG, TINY, RedisServer, Workers, wait_for

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path, tdacnn_home, monkeypatch):
    """A redis-server of this test's own, with an append-only file (``appendfsync always``), as docs/scaling.md
    asks of a deployment: stopping and starting it loses nothing."""
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    monkeypatch.setenv("TDACNN_LOCAL_WORKER", "0")
    yield server
    server.stop()


def test_redis_stopped_is_said_in_seconds_and_after_its_return_the_queued_job_runs(own_redis, tdacnn_home, tmp_path):
    w = Workers(tdacnn_home, tmp_path, own_redis.url)
    try:
        w.start()
        long = service.submit("train", LONG, "alice")
        wait_for(lambda: "iteration" in service.get(long.id, "alice").message, 240, "the training to run")
        waiting = service.submit("train", TINY, "alice")  # one training at a time: this one waits

        own_redis.stop()
        t0 = time.monotonic()
        with pytest.raises(service.QueueUnavailable, match="cannot be reached: start Redis"):
            service.submit("train", TINY, "alice")
        print(f"submit refused after {time.monotonic() - t0:.2f} s")
        assert "Redis" in service.queue_problem()
        with pytest.raises(service.QueueUnavailable):
            service.get(long.id, "alice")

        own_redis.start()  # the same port and folder: the records and the queue come back
        assert service.get(waiting.id, "alice").state == "queued"
        wait_for(lambda: service.queue_problem() is None, 120, "the worker to be seen again")
        assert service.cancel(long.id, "alice").state == "cancelled"  # the training went on meanwhile
        done = service.wait(waiting.id, "alice", 240)
        assert done.state == "done", service.jobs(None)
        assert [j.state for j in service.jobs("alice")] == ["done", "cancelled"]  # nothing stuck in queued
    finally:
        w.stop_all()


def test_a_run_split_across_two_workers_pools_the_networks_of_the_unsplit_run(redis_workers):
    first, second = redis_workers.start("a"), redis_workers.start("b")
    request = {**TINY, "networks": 4}
    split = service.submit("train", {**request, "shards": 2}, "alice")
    whole = service.submit("train", request, "alice")
    for job in (split, whole):
        assert service.wait(job.id, "alice", 400).state == "done", service.jobs(None)

    shards = [records.load(c) for c in records.load(split.id).params["children"]]
    assert [(s.params["first"], s.params["count"]) for s in shards] == [(0, 2), (2, 2)]
    assert {s.worker.rpartition(":")[2] for s in shards} == {str(first.pid), str(second.pid)}  # one on each
    assert [j.id for j in service.jobs("alice")] == [whole.id, split.id]  # shards are not listed

    pooled, unsplit = load_source(service.get(split.id, "alice").result["source"]), load_source(
        service.get(whole.id, "alice").result["source"])
    assert pooled.networks() == unsplit.networks() == [0, 1, 2, 3]
    for layer in (1, 2):
        for it in unsplit.iterations(layer):
            a = sorted(pooled.select(layer, it), key=lambda e: e.network)
            b = sorted(unsplit.select(layer, it), key=lambda e: e.network)
            for ea, eb in zip(a, b, strict=True):
                np.testing.assert_allclose(ea.weight, eb.weight, rtol=1e-5, atol=1e-6)
    assert queue.backend_name() == "redis"
