"""Job functions run for real: a tiny digits training, checkpoint loading, failures."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.jobs.requests import TrainRequest, check_id, parse_snapshots
from tdacnn.jobs.sources import list_sources, load_source, source_path
from tdacnn.jobs.store import JobRegistry
from tdacnn.jobs.tasks import load_checkpoint_job, run_job, start_job

TINY = dict(dataset="digits", networks=2, iterations=12, snapshots="0, 6", conv1=6, conv2=4, seed=3)


def _small_checkpoint(path):
    import torch

    from tdacnn.nets.arch import build_model, get_arch

    torch.manual_seed(0)
    model = build_model(get_arch("mnist_cnn", conv1=6, conv2=5))
    torch.save(model.state_dict(), path)
    return model


def test_train_job_writes_a_run_that_becomes_a_source(tdacnn_home):
    reports = []
    job = start_job("train", TINY)
    final = run_job(job.id, reports.append)
    assert final.status == "done", final.message
    assert final.progress == 1.0 and final.pid is not None and final.finished >= final.started
    source = final.result["source"]
    assert source.startswith("run:")
    # progress went from 0 to 1 and named iterations
    assert reports[0].fraction == 0.0 and reports[-1].fraction == 1.0
    assert any("iteration 12 of 12" in r.text for r in reports)
    ws = load_source(source)
    assert ws.layers() == [1, 2] and ws.networks() == [0, 1]
    assert ws.iterations(1) == [0, 6, 12]
    assert ws.select(1, 12)[0].weight.shape == (6, 1, 3, 3)
    assert source in [s["value"] for s in list_sources()]
    assert source_path(source).parent == tdacnn_home / "runs"


def test_failed_training_reports_a_clear_message(tdacnn_home, tmp_path):
    job = start_job("train", {**TINY, "dataset": "mnist", "data_root": str(tmp_path / "nothing")})
    final = run_job(job.id)
    assert final.status == "failed"
    assert final.message.startswith("failed: ") and "MNIST" in final.message
    assert "Traceback" not in final.message
    assert [s for s in list_sources() if s["value"].startswith("run:")] == []


def test_cancelled_training_is_marked_and_not_offered(tdacnn_home):
    job = start_job("train", {**TINY, "networks": 1, "iterations": 5000})
    reg = JobRegistry()
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == 2:
            reg.request_cancel(job.id)

    final = run_job(job.id, progress)
    assert final.status == "cancelled"
    assert [s for s in list_sources() if s["value"].startswith("run:")] == []


def test_bad_request_is_refused_before_queueing(tdacnn_home):
    with pytest.raises(UserError, match="networks"):
        start_job("train", {**TINY, "networks": 0})
    with pytest.raises(UserError, match="unknown training settings"):
        start_job("train", {**TINY, "lr": 1})
    with pytest.raises(UserError, match="unknown job kind"):
        start_job("rm -rf", {})
    assert JobRegistry().jobs() == []


def test_load_checkpoint_job_saves_weights_and_layers(tdacnn_home, tmp_path):
    model = _small_checkpoint(tmp_path / "net.pt")
    job = start_job("load", {"path": str(tmp_path / "net.pt"), "name": "net.pt"})
    final = run_job(job.id)
    assert final.status == "done", final.message
    folder = source_path(final.result["source"])
    assert folder.parent == tdacnn_home / "uploads"
    info = json.loads((folder / "layers.json").read_text())
    assert [l["shape"] for l in info["layers"]] == [[6, 1, 3, 3], [5, 6, 3, 3]]
    ws = load_source(final.result["source"])
    first = ws.select(1)[0].weight
    np.testing.assert_allclose(first, model.state_dict()["conv1.weight"].numpy(), rtol=1e-6)


def test_corrupt_and_malicious_checkpoints_fail_cleanly(tdacnn_home, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02garbage" * 10)
    with pytest.raises(UserError):
        load_checkpoint_job(bad)

    import pickle

    class Evil:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('pwned')" % (tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": Evil()}))
    job = start_job("load", {"path": str(evil), "name": "evil.pt", "staged": True})
    final = run_job(job.id)
    assert final.status == "failed" and final.message.startswith("failed: evil.pt")
    assert not (tmp_path / "pwned").exists()
    assert not evil.exists()  # a staged upload is removed once read
    assert [s for s in list_sources() if s["value"].startswith("upload:")] == []


def test_web_side_modules_do_not_import_torch():
    import subprocess

    code = ("import sys, tdacnn.app.jobs_panel, tdacnn.jobs.sources, tdacnn.jobs.manager, tdacnn.jobs.tasks; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 200, None, 3, "run:..", "a\x00b"])
def test_ids_are_names_never_paths(bad):
    with pytest.raises(UserError):
        check_id(bad)


@pytest.mark.parametrize("bad", ["run:../../etc", "upload:../runs/x", "file:/etc/passwd", "/etc/passwd",
                                 "run:", "run:nope", None, 7])
def test_load_source_refuses_bad_ids(tdacnn_home, bad):
    with pytest.raises(UserError):
        load_source(bad)


def test_snapshots_parsing():
    assert parse_snapshots("0, 10;20 10", 30) == (0, 10, 20)
    assert parse_snapshots("", 30) == (30,)
    assert TrainRequest(iterations=30, snapshots="0 10").snapshots == (0, 10, 30)
    with pytest.raises(UserError, match="snapshot"):
        parse_snapshots("0, 40", 30)
    with pytest.raises(UserError):
        parse_snapshots("ten", 30)


def test_isolated_runner_relays_progress_and_reports_a_crash(tdacnn_home):
    import os
    import signal

    from tdacnn.jobs.runner import log_path, run_job_isolated

    job = start_job("train", {**TINY, "networks": 1, "iterations": 5000})
    seen = []

    def progress(p):
        seen.append(p)
        if "iteration" in p.text and len(seen) < 1000:
            pid = JobRegistry().get(job.id).pid
            assert pid != os.getpid()  # the job runs in its own interpreter
            os.kill(pid, signal.SIGKILL)  # a crash (segfault, OOM kill) of the job process
            seen.extend([None] * 1000)

    final = run_job_isolated(job.id, progress, poll_s=0.1)
    assert final.status == "failed" and "stopped unexpectedly" in final.message
    assert log_path(job.id).is_file() and log_path(job.id).parent == tdacnn_home / "logs"
    again = run_job_isolated(start_job("train", TINY).id)  # the queue was freed by the crash
    assert again.status == "done", again.message
