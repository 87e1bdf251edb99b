"""The Jobs tab without a browser: its layout, what a job record looks like on the page
(:mod:`tdacnn.app.jobs_view`, pure), and its callbacks called as plain functions on the real
job service (:mod:`tdacnn.app.jobs_actions`: jobs are recorded in a temporary data directory;
no worker runs here, so they stay queued)."""

from __future__ import annotations

import pytest
from conftest import free_port  # at import: inside a test, "conftest" may be another folder's
from dash import no_update
from dash.exceptions import PreventUpdate

from tdacnn.app import jobs_actions as actions
from tdacnn.app import jobs_panel as jp
from tdacnn.app import jobs_view as view
from tdacnn.jobs import service
from tdacnn.jobs.service import Job

FORM = dict(dataset="digits", data_root="", download=[], conv1=8, conv2=4, networks=2, iterations=30,
            snapshots="0, 15", seed=0, shards=1)


def _start(owner="alice", **kw):
    f = {**FORM, **kw}
    return actions.start_training(1, *f.values(), owner=owner)


def _find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str) and (found := _find(child, cid)) is not None:
            return found
    return None


def _text(component) -> str:
    if component is None or isinstance(component, (str, int, float)):
        return "" if component is None else str(component)
    children = getattr(component, "children", None)
    return " ".join(_text(c) for c in (children if isinstance(children, list) else [children]))


# --------------------------------------------------------------------------- layout
def test_layout_has_the_agreed_ids_and_no_dash_upload():
    page = jp.layout()
    for cid in ("jobs-train", "jobs-cancel", "jobs-train-bar", "jobs-upload", "jobs-upload-progress", "jobs-path",
                "jobs-list", "jobs-sources-version", "jobs-poll", "jobs-load-job", "jobs-train-job"):
        assert _find(page, cid) is not None, cid
    assert f"{jp.MAX_UPLOAD_BYTES // 2**20} MB" in str(page)
    # the file is posted by assets/jobs_upload.js, never held by a Dash component
    assert "Upload(" not in str(page) and "celery" not in str(page).lower()
    attrs = _find(page, "jobs-upload").to_plotly_json()["props"]
    assert attrs["data-max-upload-bytes"] == str(jp.MAX_UPLOAD_BYTES)
    assert attrs["data-oversize"] == jp.oversize_message("{name}", "{size}")
    assert attrs["data-upload-url"] == "api/sources?wait=0" and attrs["data-job-store"] == "jobs-load-job"
    assert attrs["data-error-id"] == "jobs-upload-error"


def test_no_background_callbacks(tmp_path, monkeypatch):
    from dash import Dash, dcc, html

    app = Dash(__name__)
    app.layout = html.Div([dcc.Tabs(id="tabs"), jp.layout()])
    jp.register_callbacks(app)
    assert app.callback_map and not any(cb.get("background") for cb in app.callback_map.values())


# --------------------------------------------------------------------------- view (pure)
def _job(state="running", kind="train", progress=0.5, message="iteration 15 of 30", result=None, **kw):
    return Job(id=kw.pop("id", f"{kind}-{state}-0123456789"), kind=kind, state=state, progress=progress,
               message=message, result=result or {}, **kw)


def test_a_running_job_shows_its_progress_and_message():
    p = view.progress_of(_job())
    assert (p.percent, p.status, p.result, p.active) == (50.0, "iteration 15 of 30", None, True)


def test_a_queued_job_says_why_it_waits():
    p = view.progress_of(_job("queued", progress=0.0, message="queued: waiting for a worker"),
                         problem="no job worker is running; start one with: tdacnn worker")
    assert p.active and p.status == "queued: waiting for a worker (no job worker is running; start one with: " \
                                    "tdacnn worker)"


@pytest.mark.parametrize("job, text, cls", [
    (_job("done", progress=1.0, message="done", result={"source": "run:20260101-digits"}),
     "done: new run 20260101-digits", "jobs-done"),
    (_job("done", kind="load", progress=1.0, message="done",
          result={"source": "upload:my_model-ab12", "layers": [{}, {}]}),
     "done: loaded 2 conv layers as my_model-ab12", "jobs-done"),
    (_job("done", kind="load", progress=1.0, message="done",
          result={"source": "upload:my_model-ab12", "layers": [{}], "existing": True}),
     "done: already loaded as my_model-ab12 (1 conv layers)", "jobs-done"),
    (_job("failed", kind="load", message="failed: broken.pt could not be read"),
     "failed: broken.pt could not be read", "jobs-failed"),
    (_job("interrupted", message="the worker died twice (killed)"),
     "interrupted: the worker died twice (killed)", "jobs-interrupted"),
    (_job("cancelled", message="cancelled"), "cancelled", "jobs-cancelled"),
])
def test_a_finished_job_says_how_it_ended(job, text, cls):
    p = view.progress_of(job)
    assert not p.active and p.status == "" and p.result.className == cls and p.result.children == text
    assert (p.result.style == {}) == (job.state == "done")


def test_the_job_table_lists_state_attempt_progress_and_reason():
    jobs = [_job("queued", id="q" * 32, progress=0.0, message="queued: waiting for a worker"),
            _job("running", id="r" * 32, attempts=2, message="iteration 3 of 30"),
            _job("interrupted", id="i" * 32, attempts=2, message="interrupted: its worker died (2 attempts)")]
    table = view.job_table(jobs)
    rows = table.children[1:]
    assert [r.id["index"] for r in rows] == ["q" * 32, "r" * 32, "i" * 32]
    cells = [[_text(c) for c in r.children] for r in rows]
    assert cells[0][3:] == ["queued", "0%", "queued: waiting for a worker"]
    assert cells[1][3:] == ["running (attempt 2)", "50%", "iteration 3 of 30"]
    assert cells[2][3] == "interrupted (attempt 2)" and cells[2][5].startswith("interrupted: its worker died")
    assert rows[2].children[3].className == "jobs-status jobs-status-interrupted"
    assert "no jobs yet" in _text(view.job_table([]))


def test_the_page_polls_fast_only_while_a_job_may_change():
    assert view.poll_interval([_job("done"), _job("queued")]) == view.FAST_POLL_MS
    assert view.poll_interval([_job("done"), _job("failed")]) == view.IDLE_POLL_MS
    assert view.poll_interval([]) == view.IDLE_POLL_MS


def test_a_new_source_is_announced_once_and_the_last_to_finish_wins():
    old = _job("done", id="a" * 32, result={"source": "run:old"}, finished=10.0)
    late = _job("done", kind="load", id="b" * 32, result={"source": "upload:late"}, finished=20.0)
    failed = _job("failed", id="c" * 32, finished=30.0)
    news = view.announcement([failed, old, late], {"version": 3, "source": None, "job": None})
    assert news == {"version": 4, "source": "upload:late", "job": "b" * 32}
    assert view.announcement([failed, old, late], news) is None
    assert view.announcement([failed], None) is None


# --------------------------------------------------------------------------- actions on the real service
def test_no_click_no_job():
    with pytest.raises(PreventUpdate):
        actions.start_training(0, *FORM.values(), owner="alice")


@pytest.mark.parametrize("field, value, words", [
    ("networks", 0, "number of networks"), ("iterations", None, "iterations"), ("snapshots", "0, 99", "snapshot"),
    ("conv1", -3, "conv1"), ("seed", 1.5, "seed"), ("dataset", "imagenet", "dataset"),
])
def test_a_bad_value_is_explained_and_nothing_is_submitted(tdacnn_home, monkeypatch, field, value, words):
    monkeypatch.setattr(service, "submit", lambda *a, **k: pytest.fail("submitted a bad request"))
    picked, error = _start(**{field: value})
    assert picked is no_update and words in error


def test_train_submits_for_the_session_and_the_poll_shows_only_its_jobs(tdacnn_home):
    picked, error = _start(owner="alice")
    assert error == "" and picked["id"]
    job = service.get(picked["id"], "alice")
    assert job.kind == "train" and job.state == "queued" and job.owner == "alice"
    assert job.params["networks"] == 2 and job.params["snapshots"] == [0, 15, 30]
    out = dict(zip(actions.POLL_OUTPUTS, actions.poll("alice", picked, None, None)))
    assert picked["id"] in str(out[("jobs-list", "children")])
    assert out[("jobs-cancel", "disabled")] is False and out[("jobs-cancel-target", "data")] == {"id": picked["id"]}
    assert out[("jobs-poll", "interval")] == view.FAST_POLL_MS
    # no worker runs here: the page says why the job waits, above the list and in the training's status line
    assert "worker" in out[("jobs-queue-note", "children")]
    assert out[("jobs-queue-note", "children")] in out[("jobs-train-status", "children")]
    # another session sees none of it, and cannot cancel it
    other = dict(zip(actions.POLL_OUTPUTS, actions.poll("bob", None, None, None)))
    assert picked["id"] not in str(other[("jobs-list", "children")]) and other[("jobs-cancel", "disabled")] is True
    _, note = actions.cancel_training(1, {"id": picked["id"]}, owner="bob")
    assert note and service.get(picked["id"], "alice").state == "queued"
    # its own session can
    again, note = actions.cancel_training(1, {"id": picked["id"]}, owner="alice")
    assert again["id"] == picked["id"] and note == ""
    assert service.get(picked["id"], "alice").state == "cancelled"
    out = dict(zip(actions.POLL_OUTPUTS, actions.poll("alice", again, None, None)))
    assert out[("jobs-cancel", "disabled")] is True and out[("jobs-train-result", "children")].children == "cancelled"


def test_a_limit_is_one_sentence_next_to_the_button(tdacnn_home, monkeypatch):
    monkeypatch.setenv("TDACNN_MAX_QUEUED_PER_SESSION", "2")
    for _ in range(2):
        assert _start(owner="carol")[1] == ""
    picked, error = _start(owner="carol")
    assert picked is no_update and error and "\n" not in error
    assert len(service.jobs("carol")) == 2


def test_server_path_refusals_do_not_show_the_previous_load(tdacnn_home, tmp_path):
    picked, error = actions.load_from_path(1, "/etc/passwd", owner="alice")
    assert picked["id"] is None and error
    picked, missing = actions.load_from_path(1, str(tdacnn_home / "missing.pt"), owner="alice")
    assert picked["id"] is None and missing
    out = dict(zip(actions.POLL_OUTPUTS, actions.poll("alice", None, picked, None)))
    assert out[("jobs-load-result", "children")] is None and out[("jobs-load-bar", "value")] == 0.0
    # a file inside the data directory is allowed
    (tdacnn_home / "real.pt").parent.mkdir(parents=True, exist_ok=True)
    (tdacnn_home / "real.pt").write_bytes(b"123")
    picked, error = actions.load_from_path(1, str(tdacnn_home / "real.pt"), owner="alice")
    assert error == "" and service.get(picked["id"], "alice").params["staged"] is False


def test_a_data_folder_outside_the_allowed_ones_is_refused(tdacnn_home, monkeypatch):
    monkeypatch.setattr(service, "submit", lambda *a, **k: pytest.fail("submitted a refused folder"))
    picked, error = _start(dataset="mnist", data_root="/etc")
    assert picked is no_update and "'/etc'" in error and "may read" in error


def test_an_unreachable_queue_is_one_sentence_and_the_page_keeps_what_it_shows(tdacnn_home, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    picked, error = _start()
    assert picked is no_update and "Redis" in error and "\n" not in error
    out = dict(zip(actions.POLL_OUTPUTS, actions.poll("alice", None, None, None)))
    assert out[("jobs-queue-note", "children")] == error
    assert out[("jobs-poll", "interval")] == view.FAST_POLL_MS  # look again soon: it may come back
    assert all(v is no_update for k, v in out.items() if k[0] not in ("jobs-queue-note", "jobs-poll"))
