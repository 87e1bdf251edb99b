"""The one progress record: its ETA rule, fraction and JSON, the tqdm bar of ``tdacnn train``, the Jobs tab."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdacnn.progress import Progress, Stopwatch, TqdmBar, format_eta

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clock(monkeypatch):
    """``time.monotonic`` under the test's control (seconds in ``clock[0]``)."""
    from tdacnn import progress

    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    return now


# --------------------------------------------------------------------------- the record
def test_fraction_is_done_over_total_clipped_and_zero_when_the_total_is_unknown():
    assert Progress(5, 20).fraction == 0.25
    assert Progress(25, 20).fraction == 1.0 and Progress(-1, 20).fraction == 0.0
    assert Progress(1 << 20, 0, "B").fraction == 0.0  # a download without a Content-Length
    assert Progress.at(0.7, "saving").fraction == 0.7 and Progress.at(3.0, "x").fraction == 1.0


def test_the_record_survives_a_json_round_trip():
    p = Progress(7, 30, "it", "training", elapsed_s=2.5, eta_s=12.0, networks=4, networks_done=1, loss=0.25,
                 accuracy=0.875)
    data = json.loads(json.dumps(p.to_dict()))
    assert data["fraction"] == pytest.approx(7 / 30) and data["eta_s"] == 12.0 and data["accuracy"] == 0.875
    assert Progress.from_dict(data) == p
    assert Progress.from_dict({}) == Progress() and Progress.from_dict(None) == Progress()
    assert Progress.from_dict({**data, "written_by": "a newer version"}) == p  # unknown keys are ignored


def test_the_default_line_names_iterations_networks_eta_and_loss():
    p = Progress(5, 20, networks=2, networks_done=1, elapsed_s=4.2, eta_s=75, loss=0.1234, accuracy=0.625)
    assert p.line() == ("iteration 5 of 20 (2 networks, 1 finished), 4 s so far, ETA 1 min 15 s, loss 0.123, "
                        "accuracy 62%")
    assert Progress(20, 20, networks=2, networks_done=2).line() == "iteration 20 of 20 (2 networks, 2 finished)"
    assert Progress.at(0.5, "").line() == "50%, ETA ?"
    assert [format_eta(s) for s in (None, float("nan"), -1, 42.4, 185)] == ["?", "?", "?", "42 s", "3 min 05 s"]


# --------------------------------------------------------------------------- the one ETA rule
def test_no_eta_before_a_second_of_measured_work_then_the_rate_since_the_first_report(clock):
    watch = Stopwatch()
    clock[0] += 30.0  # start-up before the first unit of work: left out of the rate
    assert watch.record(10, 110).eta_s is None
    clock[0] += 0.5
    assert watch.record(15, 110).eta_s is None  # half a second: too early to tell
    clock[0] += 0.5
    p = watch.record(20, 110)  # 10 units in 1 s since the first report: 90 to go
    assert p.eta_s == pytest.approx(9.0) and p.elapsed_s == pytest.approx(31.0)
    clock[0] += 1.0
    assert watch.record(20, 110).eta_s == pytest.approx(18.0)  # a stall slows the rate down
    assert watch.rate(20) == pytest.approx(5.0)


def test_no_progress_since_the_first_report_gives_no_eta(clock):
    watch = Stopwatch()
    watch.mark(3)
    clock[0] += 5.0
    assert watch.eta(3, 10) is None and watch.rate(3) is None


# --------------------------------------------------------------------------- rendering
def _records(total=20):
    return [Progress(i, total, "it", f"iteration {i} of {total}", networks=2, networks_done=2 * (i == total),
                     loss=0.5, accuracy=0.75, eta_s=float(total - i)) for i in range(0, total + 1, 5)]


def test_the_bar_mode_draws_a_tqdm_bar_with_the_records_eta():
    out = io.StringIO()
    with TqdmBar(out, mode="bar") as bar:
        for p in _records():
            bar(p)
    text = out.getvalue()
    assert "20/20 it" in text and "100%|" in text and "nets=2/2" in text and "loss=0.500" in text
    assert "acc=75%" in text and "\r" in text


def test_off_a_terminal_it_writes_a_line_at_the_start_and_the_end_only():
    out = io.StringIO()  # not a terminal: auto means lines
    with TqdmBar(out, every_s=3600) as bar:
        for p in _records():
            bar(p)
    assert out.getvalue() == "iteration 0 of 20\niteration 20 of 20\n"
    quiet = io.StringIO()
    TqdmBar(quiet, mode="off")(Progress(1, 2))
    assert quiet.getvalue() == ""
    with pytest.raises(ValueError, match="mode must be"):
        TqdmBar(quiet, mode="fancy")


def _train(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    tmp_path.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "tdacnn.cli", "train", "--networks", "2", "--iterations", "20",
                           "--snapshots", "0", "--conv1", "4", "--conv2", "4", "--hidden", "8", "--workers", "1",
                           "--out", "run", *extra], cwd=tmp_path, env=env, capture_output=True, timeout=300)
    # bytes, decoded here: text mode would turn the bar's carriage returns into newlines
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def test_tdacnn_train_draws_a_tqdm_bar_on_stderr_when_asked(tmp_path):
    r = _train(tmp_path, "--progress", "bar")
    assert r.returncode == 0, r.stderr
    assert "complete: 2 networks" in r.stdout
    assert "20/20 it" in r.stderr and "100%|" in r.stderr and "nets=2/2" in r.stderr and "\r" in r.stderr


def test_tdacnn_train_writes_plain_lines_into_a_log_and_nothing_when_quiet(tmp_path):
    r = _train(tmp_path / "a")  # stderr is a pipe: lines, no carriage returns
    assert r.returncode == 0, r.stderr
    assert "iteration 20 of 20 (2 networks, 2 finished)" in r.stderr and "\r" not in r.stderr
    q = _train(tmp_path / "b", "--quiet")
    assert q.returncode == 0 and "iteration" not in q.stderr


# --------------------------------------------------------------------------- the Jobs tab
def test_the_page_reads_the_jobs_progress_record():
    from tdacnn.app import jobs_view as view
    from tdacnn.jobs.service import Job

    record = Progress(15, 20, "it", "training on digits: iteration 15 of 20", networks=2, eta_s=3.0)
    job = Job(id="a" * 32, kind="train", state="running", progress=0.75, message=record.text,
              report=record.to_dict())
    assert view.record_of(job) == record
    shown = view.progress_of(job)
    assert (shown.percent, shown.status, shown.active) == (75.0, record.text, True)
    assert job.public()["report"] == record.to_dict()  # /api/jobs serves the record beside progress/message
    old = Job(id="b" * 32, kind="train", state="running", progress=0.5, message="starting")  # no record yet
    assert view.progress_of(old).percent == 50.0 and view.progress_of(old).status == "starting"
    requeued = Job(id="c" * 32, kind="train", state="queued", progress=0.0, message="queued again: ...",
                   report=record.to_dict())  # a previous attempt's record is not this attempt's progress
    assert view.progress_of(requeued).percent == 0.0 and view.record_of(requeued).text == "queued again: ..."


# --------------------------------------------------------------------------- one of it
def test_progress_is_defined_once_and_only_its_module_draws_with_tqdm():
    import ast

    defined, tqdm_users = [], []
    for path in sorted((REPO / "tdacnn").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([node.name] if isinstance(node, (ast.ClassDef, ast.FunctionDef)) else
                     [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else [])
            defined += [f"{path.relative_to(REPO)}:{n}" for n in names
                        if n in ("Progress", "ProgressBar", "ProgressFn") or n.lstrip("_") in ("fmt_eta", "format_eta")]
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                tqdm_users += [str(path.relative_to(REPO)) for m in mods if m.split(".")[0] == "tqdm"]
    assert sorted(defined) == ["tdacnn/progress.py:Progress", "tdacnn/progress.py:ProgressFn",
                               "tdacnn/progress.py:format_eta"]
    assert set(tqdm_users) == {"tdacnn/progress.py"}
