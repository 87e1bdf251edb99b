"""The Klein-bottle map and the Z/2, Z/3 barcodes in the real page, on the shipped default run.

Writes ``klein.png`` (the side column: barcode, orientation, Klein-bottle map, Z/2 beside Z/3) into
the screenshot folder (docs/screenshots/ with TDACNN_REFRESH_SCREENSHOTS=1, the README shows it).
"""

from __future__ import annotations

import re

import pytest

from conftest import start_app
from test_browser import save, wait_for_graph

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    with start_app(tmp_path_factory.mktemp("home")) as url:  # an empty data directory: the shipped run
        yield url


def title_of(page, graph_id: str) -> str:
    return page.evaluate(f"() => (document.querySelector('#{graph_id} .gtitle') || {{}}).textContent || ''")


def test_klein_map_and_fields_on_the_default_run(live_app, page, tmp_path, monkeypatch):
    from tdacnn.app import services
    from tdacnn.app.controls import CONTROLS, DEFAULTS, ExploreRequest
    from tdacnn.app.explore import parse_controls

    page.goto(live_app + "/")
    wait_for_graph(page)
    page.wait_for_function("() => { const t = document.querySelector('#explore-klein .gtitle');"
                           " return t && /% primary/.test(t.textContent); }", timeout=120_000)
    caption = title_of(page, "explore-klein")
    m = re.search(r"Klein bottle · ([\d,]+) densest filters.*?(\d+) % primary · (\d+) % secondary · (\d+) % other",
                  caption)
    assert m, caption
    n, primary, secondary, other = int(m[1].replace(",", "")), int(m[2]), int(m[3]), int(m[4])
    assert primary >= 50 and primary > max(secondary, other), caption  # MNIST-like digits: mostly primary
    assert abs(primary + secondary + other - 100) <= 2, caption
    # the map counts the same filtered cloud the summary names ("1,280 filters → 640 densest kept")
    summary = page.inner_text("#explore-summary")
    assert f"{n:,} densest kept" in summary, (summary, caption)
    # the same numbers as the service computes in-process for the same request
    monkeypatch.setenv("TDACNN_HOME", str(tmp_path))
    services.reset()
    data, _ = parse_controls(*[DEFAULTS[name] for name in CONTROLS])
    _, fractions = services.compute_klein(ExploreRequest.from_dict(data))
    services.reset()
    assert primary == round(100 * fractions["primary"]), (caption, fractions)
    # one circle over both fields: the shipped run is a circle, not a Klein bottle
    page.wait_for_function("() => document.querySelectorAll('#explore-fields .annotation-text').length >= 2 &&"
                           " /Z\\/3: /.test(document.querySelector('#explore-fields').textContent) &&"
                           " !/testing/.test(document.querySelector('#explore-fields').textContent)",  # verdicts in
                           timeout=300_000)
    fields = page.evaluate(
        "() => Array.from(document.querySelectorAll('#explore-fields .annotation-text')).map(e => e.textContent)")
    assert "Z/2: 1 circle" in fields and "Z/3: 1 circle" in fields, fields
    page.locator("#explore-fields").scroll_into_view_if_needed()
    save(page, "klein.png", ".side-col")
    assert page.console_errors == []
