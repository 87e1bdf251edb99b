"""The training queue: one training at a time per host, first come first served."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from tdacnn.jobs.queue import JobCancelled, train_slot
from tdacnn.jobs.store import JobRegistry


def _holder(job_id: str, release: str, ready: str) -> None:
    reg = JobRegistry()
    reg.update(job_id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    with train_slot(reg, job_id, poll_s=0.05):
        reg.update(job_id, status="running")
        open(ready, "w").close()
        while not os.path.exists(release):
            time.sleep(0.05)


@pytest.fixture
def registry(tdacnn_home):
    reg = JobRegistry()
    yield reg
    reg.close()


def _start_holder(registry, tmp_path):
    first = registry.create("train")
    ctx = multiprocessing.get_context("fork")
    ready, release = tmp_path / "ready", tmp_path / "release"
    proc = ctx.Process(target=_holder, args=(first.id, str(release), str(ready)))
    proc.start()
    t0 = time.time()
    while not ready.exists():
        assert time.time() - t0 < 30, "holder never got the slot"
        time.sleep(0.05)
    return first, proc, release


def test_second_training_waits_and_reports_its_position(registry, tmp_path):
    first, proc, release = _start_holder(registry, tmp_path)
    second = registry.create("train")
    registry.update(second.id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    messages: list[str] = []

    def report(msg: str) -> None:
        messages.append(msg)
        release.touch()  # let the first job finish once we have seen ourselves queued

    with train_slot(registry, second.id, report, poll_s=0.05):
        got_it = time.time()
    proc.join(30)
    assert messages and messages[0].startswith("queued (position 2)")
    assert "queued (position 2)" in registry.get(second.id).message
    assert got_it > 0 and proc.exitcode == 0


def test_killed_holder_frees_the_slot(registry, tmp_path):
    first, proc, _release = _start_holder(registry, tmp_path)
    proc.kill()
    proc.join(10)
    second = registry.create("train")
    registry.update(second.id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    t0 = time.time()
    with train_slot(registry, second.id, poll_s=0.05):
        pass
    assert time.time() - t0 < 20
    registry.refresh()
    assert registry.get(first.id).status == "interrupted"


def test_cancel_while_queued(registry, tmp_path):
    first, proc, release = _start_holder(registry, tmp_path)
    second = registry.create("train")
    registry.update(second.id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())

    def report(msg: str) -> None:
        registry.request_cancel(second.id)

    with pytest.raises(JobCancelled):
        with train_slot(registry, second.id, report, poll_s=0.05):
            pass
    release.touch()
    proc.join(30)


def test_earlier_waiter_goes_first(registry, tmp_path):
    first, proc, release = _start_holder(registry, tmp_path)
    # an earlier live waiter: this test process itself under another job id
    waiter = registry.create("train")
    registry.update(waiter.id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    later = registry.create("train")
    registry.update(later.id, pid=os.getpid(), host=os.uname().nodename, heartbeat=time.time())
    from tdacnn.jobs.queue import queue_position

    assert queue_position(registry, waiter.id) == 1
    assert queue_position(registry, later.id) == 2
    release.touch()
    proc.join(30)
