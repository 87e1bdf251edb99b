"""Job functions run for real, in this process: a tiny digits training, checkpoint loading, failures.

(The same functions run by workers through the queue: tests/jobs/test_service.py.)"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.jobs.requests import TrainRequest, check_id, parse_snapshots
from tdacnn.jobs.sources import list_sources, load_source, source_path
from tdacnn.jobs.tasks import Cancelled, load_checkpoint_job, run_spec, train_job

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
    result = train_job(TINY, reports.append)
    source = result["source"]
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
    with pytest.raises(UserError, match="MNIST") as err:
        train_job({**TINY, "dataset": "mnist", "data_root": str(tmp_path / "nothing")})
    assert "Traceback" not in str(err.value)
    assert [s for s in list_sources() if s["value"].startswith("run:")] == []


def test_cancelled_training_raises_and_is_not_offered(tdacnn_home):
    seen = []
    with pytest.raises(Cancelled):
        train_job({**TINY, "networks": 1, "iterations": 5000}, seen.append, cancel=lambda: len(seen) >= 2)
    assert [s for s in list_sources() if s["value"].startswith("run:")] == []


def test_bad_request_is_refused(tdacnn_home):
    with pytest.raises(UserError, match="networks"):
        train_job({**TINY, "networks": 0})
    with pytest.raises(UserError, match="unknown training settings"):
        train_job({**TINY, "lr": 1})
    with pytest.raises(UserError, match="unknown job kind"):
        run_spec({"kind": "rm -rf"})


def test_load_checkpoint_job_saves_weights_and_layers(tdacnn_home, tmp_path):
    model = _small_checkpoint(tmp_path / "net.pt")
    result = load_checkpoint_job(tmp_path / "net.pt", display_name="net.pt")
    folder = source_path(result["source"])
    assert folder.parent == tdacnn_home / "uploads"
    info = json.loads((folder / "layers.json").read_text())
    assert [l["shape"] for l in info["layers"]] == [[6, 1, 3, 3], [5, 6, 3, 3]]
    ws = load_source(result["source"])
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
    with pytest.raises(UserError, match="^evil.pt"):
        run_spec({"kind": "load", "path": str(evil), "name": "evil.pt", "staged": True})
    assert not (tmp_path / "pwned").exists()
    assert not evil.exists()  # a staged upload is removed once read
    assert [s for s in list_sources() if s["value"].startswith("upload:")] == []


def test_web_side_modules_do_not_import_torch():
    import subprocess

    code = ("import sys, tdacnn.app.jobs_panel, tdacnn.jobs.sources, tdacnn.jobs.service, tdacnn.jobs.tasks, "
            "tdacnn.jobs.worker, tdacnn.jobs.supervisor, tdacnn.jobs.shards; "
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
