"""Sources that explain themselves, in the real app (``python app.py FILE``) and headless Chromium.

The app is started with a checkpoint on its command line (written here: a 1×1
stem first, then 3×3 convolutions, one of them a plain ``Conv2d`` named
``upconv``).  Explore opens on that file at its first 3×3 layer; ``?layer=N``
selects within it; the 1×1 layer is offered disabled with its reason, and asked
for by URL it gets that sentence, not "the point cloud is empty".  An upload
over the limit is refused in the page with a sentence, and what follows (a
server path, another upload) still works.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import SCREENSHOTS, make_home, start_app

pytestmark = pytest.mark.browser



def _text_matches(page, element_id: str, pattern: str, timeout: float = 120_000) -> None:
    """Wait until the text of ``element_id`` matches the JavaScript regular expression ``pattern``."""
    page.wait_for_function("([id, pattern]) => { const el = document.getElementById(id);"
                           " return el !== null && new RegExp(pattern).test(el.textContent); }",
                           arg=[element_id, pattern], timeout=timeout)


def _write_checkpoint(path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Module()
    model.stem = nn.Conv2d(3, 16, 1)  # 1×1: cannot be analysed
    model.conv1 = nn.Conv2d(16, 30, 3)  # the first 3×3 layer: 30 × 16 = 480 filters
    model.upconv = nn.Conv2d(30, 24, 3)  # a plain conv under a name that used to read as "transposed"
    torch.save(model.state_dict(), path)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "detector.pth"
    _write_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def sources_home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("sources-home"))


@pytest.fixture(scope="module")
def file_app(sources_home, checkpoint):
    with start_app(sources_home, args=(str(checkpoint),), timeout=180) as url:
        yield url


def _wait_graph(page) -> None:
    page.wait_for_function(
        "() => { const el = document.getElementById('explore-graph');"
        " return el && el._cyreg && el._cyreg.cy && el._cyreg.cy.nodes().length > 0; }", timeout=120_000)


def _shot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_opens_on_the_file_at_its_first_3x3_layer(file_app, sources_home, checkpoint, page):
    from tdacnn.jobs.opening import upload_id_for

    page.goto(file_app + "/")
    _wait_graph(page)
    _text_matches(page, "explore-summary", "480 filters")
    assert page.evaluate("() => new URLSearchParams(window.location.search).get('source')") \
        == f"upload:{upload_id_for(checkpoint)}"
    assert "layer 2 · conv1.weight (30×16×3×3)" in page.inner_text("#explore-layer")
    # the 1×1 stem is listed, disabled, with its reason
    page.click("#explore-layer")
    option = page.locator(".dash-dropdown-option, .VirtualizedSelectOption, [role=option]",
                          has_text="stem.weight")
    option.first.wait_for()
    text = option.first.inner_text()
    assert "layer 1 · stem.weight (16×3×1×1) — 1×1: no spatial pattern" in text
    disabled = option.first.evaluate(
        "el => el.getAttribute('aria-disabled') === 'true' || el.hasAttribute('disabled')"
        " || /disabled/i.test(el.className) || !!el.querySelector('[disabled], [aria-disabled=true]')")
    assert disabled, option.first.evaluate("el => el.outerHTML")
    assert option.first.evaluate("el => getComputedStyle(el).fontStyle") == "italic"  # greyed out, not offered
    _shot(page, "sources-layer-list.png")
    option.first.click(force=True)  # clicking it selects nothing
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('.dash-dropdown-content')")
    assert "layer 2 · conv1.weight" in page.inner_text("#explore-layer")
    assert page.evaluate("() => new URLSearchParams(window.location.search).get('layer')") == "2"
    assert page.console_errors == []


def test_url_layer_selects_within_the_file(file_app, page):
    # layer 3 is the plain "upconv": summed over its 30 inputs it gives one point per output channel
    page.goto(file_app + "/?layer=3&channels=sum&k=5")
    _wait_graph(page)
    _text_matches(page, "explore-summary", "24 filters")
    assert "upconv.weight (24×30×3×3)" in page.inner_text("#explore-layer")
    assert page.evaluate("() => new URLSearchParams(window.location.search).get('layer')") == "3"
    assert page.console_errors == []


def test_unanalysable_layer_by_url_gets_a_sentence(file_app, page):
    page.goto(file_app + "/?layer=1")
    _text_matches(page, "explore-status", "cannot be analysed")
    status = page.inner_text("#explore-status")
    assert "layer 1 (stem.weight) cannot be analysed: 1×1: no spatial pattern" in status
    assert "layer 2" in status and "point cloud is empty" not in status
    _shot(page, "sources-unanalysable-layer.png", full_page=True)  # the status line is below the fold


def _open_jobs(page, url: str) -> None:
    page.goto(url + "/")
    page.click("text=Jobs")
    page.wait_for_selector("#jobs-upload", state="visible")


def _upload(page, path) -> None:
    """Choose a file in the Jobs tab's upload box (it posts the file to /api/sources)."""
    with page.expect_file_chooser() as chooser:
        page.click("#jobs-upload")
    chooser.value.set_files(str(path))


def test_oversized_upload_is_explained_and_later_actions_work(file_app, sources_home, checkpoint, page, tmp_path):
    big = tmp_path / "huge-model.pth"
    with open(big, "wb") as fh:  # sparse: 83 MB on paper, nothing on disk
        fh.truncate(83 * 2**20)
    responses: list[int] = []
    page.on("response", lambda r: responses.append(r.status))
    _open_jobs(page, file_app)
    _upload(page, big)
    _text_matches(page, "jobs-upload-error", "limited to")
    message = page.inner_text("#jobs-upload-error")
    assert re.search(r"huge-model\.pth is 83\.0 MB; browser uploads are limited to 50 MB", message), message
    assert "python app.py huge-model.pth" in message and "Load from server path" in message
    _shot(page, "sources-oversized-upload.png")
    # a server path still loads (the file the app was started on: the source it already is)
    page.fill("#jobs-path", str(checkpoint))
    page.click("#jobs-path-load")
    page.wait_for_selector("#jobs-load-result .jobs-done", timeout=120_000)
    assert "already loaded as detector-" in page.inner_text("#jobs-load-result")
    # and another (small) upload too
    small = tmp_path / "small-one.pt"
    _write_checkpoint(small)
    _upload(page, small)
    _text_matches(page, "jobs-load-result", "done: loaded 3 conv layers as small-one")
    assert page.inner_text("#jobs-upload-error") == ""
    assert any(json.loads((p / "layers.json").read_text())["file"] == "small-one.pt"
               for p in (sources_home / "uploads").iterdir() if (p / "layers.json").is_file())
    # a path that is not there: its sentence, and no "done" of the load before it beside it
    page.fill("#jobs-path", str(tmp_path / "gone.pth"))
    page.click("#jobs-path-load")
    _text_matches(page, "jobs-upload-error", "is not a file this server may read")
    page.wait_for_function("() => document.getElementById('jobs-load-result').textContent === ''")
    assert 413 not in responses and page.console_errors == []
