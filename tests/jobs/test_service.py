"""The one job API against real workers on the SQLite queue: submit, run, list, cancel, ownership, limits."""

from __future__ import annotations

import threading

import psutil
import pytest

from tdacnn.errors import UserError
from tdacnn.jobs import service
from tdacnn.jobs.sources import load_source

from .conftest import LONG, TINY, alive, describe, runner_of, wait_for


def _small_checkpoint(path):
    import torch

    from tdacnn.nets.arch import build_model, get_arch

    torch.manual_seed(0)
    torch.save(build_model(get_arch("mnist_cnn", conv1=6, conv2=5)).state_dict(), path)


def test_a_job_runs_on_a_worker_and_only_its_owner_sees_it(workers, tmp_path):
    workers.start()
    assert service.queue_problem() is None
    job = service.submit("train", TINY, "alice")
    assert job.state == "queued" and len(job.id) == 32
    assert [j.id for j in service.jobs("alice")] == [job.id]
    assert service.jobs("bob") == [] and [j.id for j in service.jobs(None)] == [job.id]  # None: the operator

    with pytest.raises(service.NoSuchJob) as other:
        service.get(job.id, "bob")
    with pytest.raises(service.NoSuchJob) as unknown:
        service.get("0" * 32, "alice")
    assert str(other.value) == str(unknown.value)  # nobody learns that someone else's job exists
    with pytest.raises(service.NoSuchJob):
        service.cancel(job.id, "bob")

    done = service.wait(job.id, "alice", 240)
    assert done.state == "done", service.jobs(None)
    assert done.progress == 1.0 and done.attempts == 1 and done.finished >= done.started >= done.created
    ws = load_source(done.result["source"])
    assert ws.networks() == [0, 1] and ws.iterations(1) == [0, 6, 12]
    public = done.public()
    assert public["state"] == "done" and "owner" not in public and "path" not in public["result"]
    # the record holds the job's last progress report as the one progress record's dict, served as is
    from tdacnn.progress import Progress

    record = Progress.from_dict(done.report)
    assert done.report == record.to_dict() == public["report"] and record.unit == "it" and record.networks == 2

    _small_checkpoint(tmp_path / "net.pt")
    load = service.wait(service.submit("load", {"path": str(tmp_path / "net.pt"), "name": "net.pt"}, "alice").id,
                        "alice", 240)
    assert load.state == "done" and [l["shape"] for l in load.result["layers"]] == [[6, 1, 3, 3], [5, 6, 3, 3]]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "['a']", "", "A" * 32, "0" * 31, "x" * 10_000, None, 7,
                                 "0" * 32 + "\n"])
def test_a_malformed_or_forged_id_gets_the_same_sentence_and_touches_nothing(jobs_home, bad):
    for call in (service.get, service.cancel):
        with pytest.raises(service.NoSuchJob, match="^there is no job with this id that you can see$"):
            call(bad, "alice")
    assert not (jobs_home / "logs").exists()


def test_a_flood_of_submissions_is_limited_per_session_and_in_all(jobs_home, monkeypatch):
    monkeypatch.setenv("TDACNN_MAX_QUEUED_PER_SESSION", "3")
    monkeypatch.setenv("TDACNN_MAX_QUEUED", "20")
    outcomes: list[str] = []

    def flood(owner: str) -> None:
        for _ in range(5):
            try:
                service.submit("train", TINY, owner)
                outcomes.append("queued")
            except service.JobLimit as exc:
                outcomes.append(str(exc))

    threads = [threading.Thread(target=flood, args=(f"session-{k}",)) for k in range(6)]  # 30 submissions at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 30
    assert outcomes.count("queued") == 18  # 3 for each of 6 sessions: under the 20 of the server
    assert all("jobs queued or running" in o for o in outcomes if o != "queued")
    for owner in ("session-6", "session-7"):  # the server's own limit
        flood(owner)
    assert outcomes.count("queued") == 20 and len(service.jobs(None)) == 20
    with pytest.raises(service.JobLimit, match="the server already has 20 jobs"):
        service.submit("train", TINY, "session-8")
    for job in service.jobs("session-0"):
        assert service.cancel(job.id, "session-0").state == "cancelled"  # queued: cancelled at once
    assert service.submit("train", TINY, "session-0").state == "queued"  # room again


def test_bad_parameters_get_one_sentence_and_nothing_is_queued(jobs_home):
    for kind, params, words in [("train", {**TINY, "networks": 0}, "networks"),
                                ("train", {**TINY, "lr": 1}, "unknown training settings"),
                                ("train", {**TINY, "shards": 3}, "shards"),
                                ("rm -rf", {}, "job kind"),
                                ("load", {"path": "/nonexistent/x.pth"}, "no readable checkpoint"),
                                ("load", {"path": "/etc/hostname", "upload_id": "../x"}, "not a valid name")]:
        with pytest.raises(UserError, match=words):
            service.submit(kind, params, "alice")
    assert service.jobs(None) == []


def test_no_worker_is_said_and_the_job_waits_for_one(workers):
    job = service.submit("train", TINY, "alice")
    assert "tdacnn worker" in service.queue_problem()
    workers.start()
    assert service.queue_problem() is None
    assert service.wait(job.id, "alice", 240).state == "done", service.jobs(None)


def test_cancel_kills_the_running_job_at_once_and_a_load_never_waits_behind_a_training(workers, tmp_path):
    worker = workers.start()
    long = service.submit("train", LONG, "alice")
    wait_for(lambda: "iteration" in service.get(long.id, "alice").message, 240, "the training to run")
    tree = [runner_of(worker)]
    tree += tree[0].children(recursive=True)  # the training processes

    _small_checkpoint(tmp_path / "net.pt")  # a load while the training runs
    load = service.submit("load", {"path": str(tmp_path / "net.pt")}, "alice")
    assert service.wait(load.id, "alice", 240).state == "done"
    assert service.get(long.id, "alice").state == "running"

    cancelled = service.cancel(long.id, "alice")
    assert cancelled.state == "cancelled" and cancelled.message == "cancelled"
    wait_for(lambda: not alive(tree), 30, "the job's processes to end", show=lambda: describe(alive(tree)))
    assert psutil.Process(worker.pid).is_running()  # the worker goes on
    assert service.cancel(long.id, "alice").state == "cancelled"  # a finished job is returned unchanged


def test_a_cancelled_upload_is_not_kept(jobs_home, tmp_path):
    import io

    from tdacnn.app.checkpoint_files import stage_stream

    staged = stage_stream(io.BytesIO(b"\x80\x02 some bytes"), "net.pt")
    job = service.submit("load", {"path": str(staged), "name": "net.pt", "staged": True}, "alice")
    assert staged.is_file()  # no worker: it waits in the queue
    assert service.cancel(job.id, "alice").state == "cancelled"
    assert not staged.exists()
