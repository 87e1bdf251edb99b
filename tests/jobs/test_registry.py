"""The job registry: records, lost jobs, cancellation, restart recovery."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from tdacnn.jobs.store import Job, JobRegistry, ResultStore


@pytest.fixture
def registry(tdacnn_home):
    reg = JobRegistry()
    yield reg
    reg.close()


def _dead_pid() -> int:
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=os._exit, args=(0,))
    p.start()
    p.join()
    return p.pid


def test_create_update_and_list(registry):
    a = registry.create("train", {"networks": 2})
    b = registry.create("load", {"path": "x.pt"})
    assert a.status == "queued" and "waiting" in a.message
    registry.update(a.id, status="running", progress=0.5, message="half")
    got = registry.get(a.id)
    assert (got.status, got.progress, got.message) == ("running", 0.5, "half")
    assert [j.id for j in registry.jobs()] == [a.id, b.id]
    assert [j.id for j in registry.jobs("load")] == [b.id]
    assert registry.get("nope") is None


def test_a_finished_job_is_never_reopened(registry):
    job = registry.create("train")
    registry.update(job.id, status="cancelled", message="cancelled")
    registry.update(job.id, status="running", progress=0.9, message="late report")
    assert registry.get(job.id).status == "cancelled"


def test_running_job_with_dead_pid_becomes_interrupted(registry):
    job = registry.create("train")
    registry.update(job.id, status="running", pid=_dead_pid(), host=os.uname().nodename, heartbeat=time.time())
    lost = registry.refresh()
    assert [j.id for j in lost] == [job.id]
    got = registry.get(job.id)
    assert got.status == "interrupted" and "start it again" in got.message


def test_stale_heartbeat_on_another_host_becomes_interrupted(registry):
    job = registry.create("train")
    registry.update(job.id, status="running", pid=12345, host="elsewhere", heartbeat=time.time() - 3600)
    fresh = registry.create("train")
    registry.update(fresh.id, status="running", pid=12345, host="elsewhere", heartbeat=time.time())
    registry.refresh()
    assert registry.get(job.id).status == "interrupted"
    assert registry.get(fresh.id).status == "running"


def test_live_job_and_unstarted_job_are_left_alone(registry):
    live = registry.create("train")
    registry.update(live.id, status="running", pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    waiting = registry.create("train")  # no worker has taken it yet
    assert registry.refresh() == []
    assert registry.get(live.id).status == "running"
    assert registry.get(waiting.id).status == "queued"


def test_recover_after_restart(registry, tdacnn_home):
    done = registry.create("train")
    registry.update(done.id, status="done", result={"source": "run:x"})
    crashed = registry.create("train")
    registry.update(crashed.id, status="running", pid=_dead_pid(), host=os.uname().nodename, heartbeat=time.time())
    never = registry.create("load")
    registry.update(never.id, created=time.time() - 60)
    just_queued = registry.create("load")  # e.g. by a sibling web process a moment ago
    registry.close()
    # a new process opening the same data directory (the restarted server)
    again = JobRegistry()
    again.recover(orphan_queued=True)
    assert again.get(done.id).status == "done" and again.get(done.id).result == {"source": "run:x"}
    assert again.get(crashed.id).status == "interrupted"
    assert again.get(never.id).status == "interrupted"
    assert again.get(just_queued.id).status == "queued"
    again.close()


def test_cancel_before_start_and_after_loss(registry):
    queued = registry.create("train")
    registry.request_cancel(queued.id)
    assert registry.get(queued.id).status == "cancelled" and registry.cancel_requested(queued.id)
    running = registry.create("train")
    registry.update(running.id, status="running", pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    registry.request_cancel(running.id)
    assert registry.get(running.id).status == "running"  # the job itself stops at its next report
    assert registry.cancel_requested(running.id)


def test_results_store_is_shared_by_processes(tdacnn_home):
    store = ResultStore()
    store["k1"] = {"a": 1}
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child():
        s = ResultStore()
        q.put(s.get("k1"))
        s["k2"] = [1, 2, 3]

    p = ctx.Process(target=child)
    p.start()
    p.join(30)
    assert q.get(timeout=5) == {"a": 1}
    assert store["k2"] == [1, 2, 3] and "k2" in store and len(store) == 2
    assert str(store.path).startswith(str(tdacnn_home))
    store.close()


def test_job_roundtrip_dict():
    job = Job(id="abc", kind="train", params={"x": 1})
    assert Job(**job.to_dict()) == job
