"""The Jobs tab of the real app (``python app.py``, with its own job worker) in headless Chromium.

A training started from the page shows progress, finishes, and its run becomes a source
that the Explore tab lists and draws; Cancel stops a training and leaves no process
behind; a checkpoint upload (a real ``.pt`` written here) goes to ``POST /api/sources``
(never through a Dash callback) and adds its layers; a file over the limit, a broken
file and an empty one each get their sentence under the upload; another browser
session sees none of these jobs.  Waits are on what the page shows; a wait that times
out says what the job list and the app's log said.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import psutil
import pytest
from conftest import SCREENSHOTS, make_home, start_app

pytestmark = pytest.mark.browser

#: A training of 2 small networks on digits this long lasts seconds: long enough to see its progress on the page.
ITERATIONS = 600
ROW_STATE = "document.querySelector('.jobs-table tr:nth-child(2) .jobs-status')"


@pytest.fixture(scope="module")
def jobs_home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("jobs-home"))


@pytest.fixture(scope="module")
def jobs_app(jobs_home):
    with start_app(jobs_home) as url:
        yield url


def _diagnosis(page, home: Path) -> str:
    text = {i: page.evaluate(f"() => {{ const e = document.getElementById('{i}'); return e && e.innerText; }}")
            for i in ("jobs-list", "jobs-queue-note", "jobs-train-status", "jobs-train-result", "jobs-train-error",
                      "jobs-load-status", "jobs-load-result", "jobs-upload-error")}
    tails = []
    for pattern in ("app-*.log", "worker*.log", "logs/*.log"):  # the app's, a worker's, each job's
        for log in sorted(home.glob(pattern), key=lambda p: p.stat().st_mtime)[-2:]:
            lines = [line for line in log.read_text(errors="replace").splitlines()
                     if not re.search(r'"(GET|POST) /', line)]  # not the server's request lines
            tails.append(f"--- {log.name}:\n" + "\n".join(lines)[-1500:])
    return (f"page: {json.dumps(text, indent=1)}\nconsole errors: {page.console_errors}\n"
            + ("\n".join(tails) or "(no logs)"))


def wait_until(page, home: Path, js: str, what: str, timeout_s: float = 120) -> None:
    """Wait for the page condition ``js``; on timeout fail with the job states and the app's log."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{_diagnosis(page, home)}") \
            from None


def _open_jobs(page, url: str) -> None:
    # the Explore tab behind starts on the small synthetic run, not the shipped default
    page.goto(url + "/?source=run:synthetic&layer=1")
    page.click("text=Jobs")
    page.wait_for_selector("#jobs-train")


def _tiny_training(page, iterations: int, networks: int = 2) -> None:
    page.fill("#jobs-networks", str(networks))
    page.fill("#jobs-iterations", str(iterations))
    page.fill("#jobs-snapshots", f"0, {iterations // 2}")
    page.fill("#jobs-conv1", "8")
    page.fill("#jobs-conv2", "8")
    page.click("#jobs-train")


def _completed_runs(home: Path) -> set[str]:
    runs = home / "runs"
    return {p.name for p in runs.iterdir() if (p / "weights.npz").is_file() and (p / "run.json").is_file()
            and json.loads((p / "run.json").read_text()).get("status") == "complete"} if runs.is_dir() else set()


def _uploads(home: Path) -> set[str]:
    folder = home / "uploads"
    return {p.name for p in folder.iterdir() if (p / "weights.npz").is_file()} if folder.is_dir() else set()


def _processes(home: Path) -> dict[int, str]:
    """Every live process working on ``home`` (the app, its worker, job processes): pid -> command line."""
    found = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get("TDACNN_HOME") == str(home) and proc.status() != psutil.STATUS_ZOMBIE:
                found[proc.pid] = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _wait_graph(page, home: Path) -> dict:
    wait_until(page, home, "() => { const el = document.getElementById('explore-graph');"
               " return el && el._cyreg && el._cyreg.cy && el._cyreg.cy.nodes().length > 0; }", "the graph")
    return page.evaluate(
        "() => { const cy = document.getElementById('explore-graph')._cyreg.cy;"
        " return { n: cy.nodes().length,"
        " thumbs: cy.nodes().map(n => String(n.style('background-image')).slice(0, 22)) }; }")


def _choose_file(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click("#jobs-upload")
    chooser.value.set_files(str(path))


def test_training_job_shows_progress_finishes_and_its_run_is_a_source(jobs_app, jobs_home, page):
    before = _completed_runs(jobs_home)
    _open_jobs(page, jobs_app)
    _tiny_training(page, iterations=ITERATIONS)
    wait_until(page, jobs_home, f"() => /iteration [1-9]\\d* of {ITERATIONS}/.test("
               "document.querySelector('#jobs-train-status').textContent)", "the training's progress")
    assert not page.is_disabled("#jobs-cancel")
    assert page.evaluate("() => Number(document.querySelector('#jobs-train-bar').value)") > 0
    assert page.inner_text(".jobs-table tr:nth-child(2) .jobs-status") == "running"
    if os.environ.get("TDACNN_REFRESH_SCREENSHOTS"):  # the README's picture: a run well under way
        wait_until(page, jobs_home, "() => Number(document.querySelector('#jobs-train-bar').value) >= 25",
                   "a quarter of the training")
    _shot(page, "jobs-training.png")
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-train-result .jobs-done') !== null",
               "the training to finish", timeout_s=240)
    result = page.inner_text("#jobs-train-result")
    new = _completed_runs(jobs_home) - before
    assert len(new) == 1 and result == f"done: new run {next(iter(new))}"
    run = next(iter(new))
    assert page.inner_text(".jobs-table tr:nth-child(2) .jobs-status") == "done"
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-cancel').disabled", "Cancel to be disabled")
    # the Explore tab lists the new run among its sources (jobs-sources-version told it) ...
    page.click("text=Explore")
    page.click("#explore-source")
    page.wait_for_selector(f"text=run {run}: digits, 2 networks, {ITERATIONS} iterations", timeout=20_000)
    # ... and draws its layer-2 filters, each node with a thumbnail
    page.goto(f"{jobs_app}/?source=run:{run}&layer=2&k=5&p=50&n_cubes=4")
    graph = _wait_graph(page, jobs_home)
    assert graph["n"] >= 1 and all("data:image/png" in t for t in graph["thumbs"]), graph["thumbs"][:3]
    assert page.console_errors == []


def test_bad_training_value_is_explained_next_to_the_form(jobs_app, jobs_home, page):
    _open_jobs(page, jobs_app)
    page.fill("#jobs-snapshots", "0, ten")
    page.click("#jobs-train")
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-train-error').textContent.length > 0",
               "the sentence next to Train", timeout_s=20)
    assert "snapshot" in page.inner_text("#jobs-train-error")


def test_cancel_stops_a_training_and_leaves_no_process(jobs_app, jobs_home, page):
    before_runs = _completed_runs(jobs_home)
    _open_jobs(page, jobs_app)
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-list').textContent.length > 0", "the job list")
    idle = _processes(jobs_home)  # the app and its worker, nothing running
    _tiny_training(page, iterations=200_000)
    wait_until(page, jobs_home, "() => /iteration \\d+ of 200000/.test("
               "document.querySelector('#jobs-train-status').textContent)", "the training's progress")
    busy = _processes(jobs_home)
    page.click("#jobs-cancel")
    wait_until(page, jobs_home, f"() => {{ const s = {ROW_STATE}; return s && s.textContent === 'cancelled'; }}",
               "the job to read cancelled", timeout_s=30)
    assert page.inner_text("#jobs-train-result") == "cancelled"
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-cancel').disabled", "Cancel to be disabled",
               timeout_s=20)
    # every process the training started is gone (waiting on that state, at most 20 s)
    deadline = time.monotonic() + 20
    while (left := set(_processes(jobs_home)) - set(idle)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind: {[_processes(jobs_home).get(p) for p in left]} (busy: {busy})"
    assert _completed_runs(jobs_home) == before_runs


def _write_small_checkpoint(path: Path) -> None:
    import torch

    from tdacnn.nets.arch import build_model, get_arch

    torch.manual_seed(0)
    torch.save(build_model(get_arch("mnist_cnn", conv1=6, conv2=5)).state_dict(), path)


def test_checkpoint_upload_goes_to_the_api_and_adds_its_layers(jobs_app, jobs_home, page, tmp_path):
    before = _uploads(jobs_home)
    ckpt = tmp_path / "my model.pt"
    _write_small_checkpoint(ckpt)
    _open_jobs(page, jobs_app)
    posts: list[tuple[str, int]] = []
    page.on("request", lambda r: posts.append((r.url, len(r.post_data_buffer or b""))) if r.method == "POST"
            else None)
    _choose_file(page, ckpt)
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-load-result .jobs-done') !== null",
               "the upload to load")
    new = _uploads(jobs_home) - before
    assert len(new) == 1 and next(iter(new)).startswith("my_model")
    upload = next(iter(new))
    assert page.inner_text("#jobs-load-result") == f"done: loaded 2 conv layers as {upload}"
    layers = json.loads((jobs_home / "uploads" / upload / "layers.json").read_text())["layers"]
    assert [layer["shape"] for layer in layers] == [[6, 1, 3, 3], [5, 6, 3, 3]]
    # the file went to the API (Chromium does not show a file's bytes to Playwright), and no Dash callback
    # carried it
    size = ckpt.stat().st_size
    assert len([u for u, _ in posts if "/api/sources?wait=0" in u]) == 1, posts
    assert all(n < size for u, n in posts if "_dash-update-component" in u), posts
    assert not list((jobs_home / "uploads" / ".incoming").glob("*"))
    # its layers appear in the Explore tab's layer selector
    page.goto(f"{jobs_app}/?source=upload:{upload}&layer=2&k=3&p=50&n_cubes=3")
    _wait_graph(page, jobs_home)
    page.click("#explore-layer")
    page.wait_for_selector("text=conv1.weight (6×1×3×3)", timeout=10_000)
    text = page.inner_text("body")
    assert "conv1.weight (6×1×3×3)" in text and "conv2.weight (5×6×3×3)" in text
    _shot(page, "jobs-upload-layers.png")


def test_broken_and_empty_uploads_get_their_sentence_under_the_upload(jobs_app, jobs_home, page, tmp_path):
    before = _uploads(jobs_home)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint" + os.urandom(200))
    _open_jobs(page, jobs_app)
    _choose_file(page, bad)
    wait_until(page, jobs_home, "() => document.querySelector('#jobs-load-result .jobs-failed') !== null",
               "the broken file's failure")
    assert page.inner_text("#jobs-load-result").startswith("failed: broken.pt")
    _shot(page, "jobs-corrupt-upload.png")
    # a file dropped on the box goes the same way
    page.evaluate("() => { const dt = new DataTransfer(); dt.items.add(new File([], 'empty.pt'));"
                  " document.getElementById('jobs-upload').dispatchEvent("
                  "new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); }")
    wait_until(page, jobs_home, "() => /empty\\.pt/.test(document.querySelector('#jobs-upload-error').textContent"
               " + document.querySelector('#jobs-load-result').textContent)", "the empty file's sentence")
    assert _uploads(jobs_home) == before


def test_an_upload_over_the_limit_is_refused_in_the_browser(jobs_app, jobs_home, page, tmp_path):
    from tdacnn.nets.safeload import MAX_UPLOAD_BYTES

    big = tmp_path / "huge.pth"
    with open(big, "wb") as fh:  # sparse: never read, only its size matters
        fh.truncate(MAX_UPLOAD_BYTES + 2**20)
    _open_jobs(page, jobs_app)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/api/" in r.url else None)
    _choose_file(page, big)
    wait_until(page, jobs_home, "() => /huge\\.pth is/.test(document.querySelector('#jobs-upload-error').textContent)",
               "the oversize sentence", timeout_s=20)
    sentence = page.inner_text("#jobs-upload-error")
    assert re.search(rf"huge\.pth is 51\.0 MB; browser uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB",
                     sentence) and "Load from server path" in sentence
    assert posts == []


def test_another_session_does_not_see_the_jobs(jobs_app, jobs_home, page, browser):
    _open_jobs(page, jobs_app)
    page.fill("#jobs-snapshots", "0, 1")
    _tiny_training(page, iterations=2)
    wait_until(page, jobs_home, "() => document.querySelectorAll('.jobs-table tr').length > 1", "the job list")
    mine = page.inner_text("#jobs-list")
    ids = page.evaluate("() => Array.from(document.querySelectorAll('.jobs-table tr td:nth-child(2)'))"
                        ".map(td => td.title)")
    assert ids
    other = browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        stranger = other.new_page()
        _open_jobs(stranger, jobs_app)
        stranger.wait_for_selector("#jobs-list .jobs-empty", timeout=30_000)
        assert not any(i[:8] in stranger.inner_text("#jobs-list") for i in ids), mine
        assert stranger.is_disabled("#jobs-cancel")
        # and the API answers it as if the jobs did not exist
        answer = stranger.request.get(f"{jobs_app}/api/jobs/{ids[0]}")
        assert answer.status == 404 and "error" in answer.json()
    finally:
        other.close()
