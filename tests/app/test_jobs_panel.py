"""The Jobs tab's callbacks called as plain functions (no browser)."""

from __future__ import annotations

import base64

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from tdacnn.app import jobs_panel as jp
from tdacnn.jobs.store import JobRegistry

FORM = dict(dataset="digits", data_root="", download=[], conv1=8, conv2=4, networks=2, iterations=30,
            snapshots="0, 15", seed=0)


def _start(**kw):
    f = {**FORM, **kw}
    return jp.start_training(1, f["dataset"], f["data_root"], f["download"], f["conv1"], f["conv2"],
                             f["networks"], f["iterations"], f["snapshots"], f["seed"])


def test_layout_has_the_agreed_ids():
    text = str(jp.layout())
    for cid in ("jobs-train", "jobs-cancel", "jobs-train-bar", "jobs-upload", "jobs-path", "jobs-list",
                "jobs-sources-version"):
        assert f"'{cid}'" in text
    assert f"{jp.MAX_UPLOAD_BYTES // 2**20} MB" in text
    # the browser refuses bigger files itself (assets/upload_limit.js reads the box's data), with the same sentence
    box = _find(jp.layout(), "jobs-upload-box")
    assert box.children.max_size == jp.MAX_UPLOAD_BYTES
    attrs = box.to_plotly_json()["props"]
    assert attrs["data-max-upload-bytes"] == str(jp.MAX_UPLOAD_BYTES) and attrs["data-error-id"] == "jobs-upload-error"
    assert attrs["data-oversize"] == jp.oversize_message("{name}", "{size}")


def _find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str) and (found := _find(child, cid)) is not None:
            return found
    return None


def test_start_training_queues_a_valid_request(tdacnn_home):
    pending, error = _start()
    assert error == ""
    job = JobRegistry().get(pending["id"])
    assert job.kind == "train" and job.status == "queued"
    assert job.params["networks"] == 2 and job.params["snapshots"] == [0, 15, 30]


@pytest.mark.parametrize("field, value, words", [
    ("networks", 0, "number of networks"), ("iterations", None, "iterations"), ("snapshots", "0, 99", "snapshot"),
    ("conv1", -3, "conv1"), ("seed", 1.5, "seed"), ("dataset", "imagenet", "dataset"),
])
def test_start_training_explains_bad_values(tdacnn_home, field, value, words):
    pending, error = _start(**{field: value})
    assert pending is no_update and words in error
    assert JobRegistry().jobs() == []


def test_no_click_no_job():
    with pytest.raises(PreventUpdate):
        jp.start_training(0, *FORM.values())


def _upload(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def test_upload_is_staged_under_the_data_dir_with_a_safe_name(tdacnn_home):
    pending, error = jp.receive_checkpoint("jobs-upload", _upload(b"abc"), "../../etc/evil name.pt", None)
    assert error == ""
    job = JobRegistry().get(pending["id"])
    staged = job.params["path"]
    assert staged.startswith(str(tdacnn_home / "uploads" / ".incoming"))
    assert job.params["name"] == "evil_name.pt" and job.params["staged"] is True


def test_oversize_empty_and_garbled_uploads_are_refused(tdacnn_home, monkeypatch):
    monkeypatch.setattr(jp, "MAX_UPLOAD_BYTES", 1000)
    _, error = jp.receive_checkpoint("jobs-upload", _upload(b"x" * 2000), "big.pt", None)
    assert error.startswith("big.pt is 0.0 MB; browser uploads are limited to")
    assert '"Load from server path"' in error and "python app.py big.pt" in error and "tdacnn serve big.pt" in error
    _, error = jp.receive_checkpoint("jobs-upload", _upload(b""), "empty.pt", None)
    assert "empty" in error
    _, error = jp.receive_checkpoint("jobs-upload", "data:;base64,@@@@", "x.pt", None)
    assert "base64" in error
    assert JobRegistry().jobs() == []
    assert not list((tdacnn_home / "uploads").rglob("*.pt"))


def test_server_path_must_be_an_existing_checkpoint(tdacnn_home, tmp_path):
    _, error = jp.receive_checkpoint("jobs-path-load", None, None, "/etc/passwd")
    assert "does not look like a checkpoint" in error
    _, error = jp.receive_checkpoint("jobs-path-load", None, None, str(tmp_path / "missing.pt"))
    assert "no file" in error
    (tmp_path / "real.pt").write_bytes(b"123")
    pending, error = jp.receive_checkpoint("jobs-path-load", None, None, str(tmp_path / "real.pt"))
    assert error == "" and JobRegistry().get(pending["id"]).params["staged"] is False


def test_sources_version_moves_only_on_success():
    cur = {"version": 3, "source": None}
    done = {"status": "done", "result": {"source": "run:abc"}}
    assert jp.sources_version("jobs-train-done", done, None, cur) == {"version": 4, "source": "run:abc"}
    with pytest.raises(PreventUpdate):
        jp.sources_version("jobs-load-done", done, {"status": "failed"}, cur)


def test_run_pending_job_and_render(tdacnn_home):
    pending, _ = jp.receive_checkpoint("jobs-upload", _upload(b"not a checkpoint at all"), "junk.pt", None)
    seen = []
    done, message = jp.run_pending_job(seen.append, pending)
    assert done["status"] == "failed" and "junk.pt" in message.children
    assert seen and seen[-1][1].startswith("failed")
    table = str(jp.render_jobs())
    assert "failed" in table and pending["id"] in table


def test_cancel_marks_the_job(tdacnn_home):
    pending, _ = _start()
    assert jp.request_cancel(1, pending) == "cancel requested"
    assert JobRegistry().get(pending["id"]).status == "cancelled"


def test_splitting_needs_celery(tdacnn_home, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    f = FORM
    pending, error = jp.start_training(1, f["dataset"], f["data_root"], f["download"], f["conv1"], f["conv2"],
                                       4, f["iterations"], f["snapshots"], f["seed"], 2)
    assert pending is no_update and "needs Celery" in error
    pending, error = jp.start_training(1, f["dataset"], f["data_root"], f["download"], f["conv1"], f["conv2"],
                                       4, f["iterations"], f["snapshots"], f["seed"], 9)
    assert "shards must be" in error
