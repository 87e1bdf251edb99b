"""The Jobs tab of the real app (``python app.py``) in headless Chromium.

A training job started from the page shows progress, finishes, and its run
becomes a source whose graph (with thumbnails) the Explore tab draws; cancel
stops a job; a checkpoint upload (a real ``.pt`` written here) adds its layers;
a corrupt upload shows an error.  Uses the fixtures of ``tests/app/conftest.py``
(``start_app``, ``page``); the app runs on Dash's DiskcacheManager, so each job is
a process forked from the web server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SCREENSHOTS, make_home, start_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def jobs_home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("jobs-home"))


@pytest.fixture(scope="module")
def jobs_app(jobs_home):
    with start_app(jobs_home) as url:
        yield url


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


def _uploads(home: Path) -> list[Path]:
    return [p for p in (home / "uploads").iterdir() if (p / "weights.npz").is_file()]


def _newest_status(page) -> str:
    return page.inner_text(".jobs-table tr:nth-child(2) .jobs-status")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _wait_graph(page) -> dict:
    page.wait_for_function(
        "() => { const el = document.getElementById('explore-graph');"
        " return el && el._cyreg && el._cyreg.cy && el._cyreg.cy.nodes().length > 0; }", timeout=120_000)
    return page.evaluate(
        "() => { const cy = document.getElementById('explore-graph')._cyreg.cy;"
        " return { n: cy.nodes().length,"
        " thumbs: cy.nodes().map(n => String(n.style('background-image')).slice(0, 22)) }; }")


def test_training_job_shows_progress_finishes_and_its_graph_appears(jobs_app, jobs_home, page):
    before = _completed_runs(jobs_home)
    _open_jobs(page, jobs_app)
    _tiny_training(page, iterations=3000)  # lasts a few seconds: long enough to see its progress
    page.wait_for_function(
        "() => /iteration \\d+ of 3000/.test(document.querySelector('#jobs-train-status').textContent)",
        timeout=120_000)
    assert page.is_disabled("#jobs-train") and not page.is_disabled("#jobs-cancel")
    _shot(page, "jobs-training.png")
    page.wait_for_selector("#jobs-train-result .jobs-done", timeout=180_000)
    result = page.inner_text("#jobs-train-result")
    assert result.startswith("done: new run ")
    run = result.removeprefix("done: new run ").strip()
    assert _completed_runs(jobs_home) - before == {run}
    page.wait_for_function("() => document.querySelector('.jobs-status-done') !== null", timeout=10_000)
    # the run is a source: the Explore tab draws its layer-2 filters, each node with a thumbnail
    page.goto(f"{jobs_app}/?source=run:{run}&layer=2&k=5&p=50&n_cubes=4")
    graph = _wait_graph(page)
    assert graph["n"] >= 1 and all("data:image/png" in t for t in graph["thumbs"]), graph["thumbs"][:3]
    assert page.console_errors == []


def test_bad_training_value_is_explained_next_to_the_form(jobs_app, page):
    _open_jobs(page, jobs_app)
    page.fill("#jobs-snapshots", "0, ten")
    page.click("#jobs-train")
    page.wait_for_function("() => document.querySelector('#jobs-train-error').textContent.length > 0",
                           timeout=20_000)
    assert "snapshot" in page.inner_text("#jobs-train-error")


def test_cancel_stops_a_training_job(jobs_app, jobs_home, page):
    before = _completed_runs(jobs_home)
    _open_jobs(page, jobs_app)
    _tiny_training(page, iterations=20000)
    page.wait_for_function(
        "() => /iteration \\d+ of 20000/.test(document.querySelector('#jobs-train-status').textContent)",
        timeout=120_000)
    page.click("#jobs-cancel")
    page.wait_for_function(
        "() => { const s = document.querySelector('.jobs-table tr:nth-child(2) .jobs-status');"
        " return s && s.textContent === 'cancelled'; }", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#jobs-train').disabled", timeout=20_000)
    assert _completed_runs(jobs_home) == before


def _write_small_checkpoint(path: Path) -> None:
    import torch

    from tdacnn.nets.arch import build_model, get_arch

    torch.manual_seed(0)
    torch.save(build_model(get_arch("mnist_cnn", conv1=6, conv2=5)).state_dict(), path)


def test_checkpoint_upload_adds_its_layers(jobs_app, jobs_home, page, tmp_path):
    before = {p.name for p in _uploads(jobs_home)} if (jobs_home / "uploads").is_dir() else set()
    ckpt = tmp_path / "my model.pt"
    _write_small_checkpoint(ckpt)
    _open_jobs(page, jobs_app)
    page.set_input_files("#jobs-upload input[type=file]", str(ckpt))
    page.wait_for_selector("#jobs-load-result .jobs-done", timeout=120_000)
    assert "loaded 2 conv layers" in page.inner_text("#jobs-load-result")
    new = [p for p in _uploads(jobs_home) if p.name not in before]
    assert len(new) == 1 and new[0].name.startswith("my_model")
    layers = json.loads((new[0] / "layers.json").read_text())["layers"]
    assert [l["shape"] for l in layers] == [[6, 1, 3, 3], [5, 6, 3, 3]]
    assert list((jobs_home / "uploads" / ".incoming").iterdir()) == []
    # its layers appear in the Explore tab's layer selector
    page.goto(f"{jobs_app}/?source=upload:{new[0].name}&layer=2&k=3&p=50&n_cubes=3")
    page.wait_for_selector("#explore-layer", timeout=60_000)
    _wait_graph(page)
    page.click("#explore-layer")
    page.wait_for_selector("text=conv1.weight (6×1×3×3)", timeout=10_000)
    text = page.inner_text("body")
    assert "conv1.weight (6×1×3×3)" in text and "conv2.weight (5×6×3×3)" in text
    _shot(page, "jobs-upload-layers.png")


def test_corrupt_upload_shows_an_error(jobs_app, jobs_home, page, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint" + os.urandom(200))
    _open_jobs(page, jobs_app)
    page.set_input_files("#jobs-upload input[type=file]", str(bad))
    page.wait_for_selector("#jobs-load-result .jobs-failed", timeout=120_000)
    assert page.inner_text("#jobs-load-result").startswith("failed: broken.pt")
    assert not any(p.name.startswith("broken") for p in _uploads(jobs_home))
    _shot(page, "jobs-corrupt-upload.png")
