"""The real app in headless Chromium: first graph, thumbnails, sliders, gallery, errors, URL, tabs.

Screenshots go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

CY = "document.getElementById('explore-graph')._cyreg.cy"


def wait_for_graph(page, timeout: float = 120_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => { const el = document.getElementById('explore-graph');"
            " return el && el._cyreg && el._cyreg.cy && el._cyreg.cy.nodes().length > 0; }", timeout=timeout)
    except PlaywrightTimeout:
        state = page.evaluate("() => ['explore-status', 'explore-summary', 'explore-source']"
                              ".map(i => document.getElementById(i) ? document.getElementById(i).textContent : null)")
        raise AssertionError(f"no graph after {timeout / 1000:.0f} s; status/summary/source: {state}; "
                             f"console errors: {page.console_errors}") from None


def graph_state(page) -> dict:
    return page.evaluate(
        f"() => {{ const cy = {CY}; return {{ ids: cy.nodes().map(n => n.id()).sort(),"
        " sizes: cy.nodes().map(n => n.data('size')),"
        " thumbs: cy.nodes().map(n => String(n.style('background-image')).slice(0, 22)),"
        " edges: cy.edges().length }; }")


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def gray_detail(px: np.ndarray) -> int:
    """Number of distinct mid-gray levels (r=g=b, not white/black background): thumbnails draw many."""
    gray = (px[..., 0] == px[..., 1]) & (px[..., 1] == px[..., 2]) & (px[..., 0] > 15) & (px[..., 0] < 240)
    return len(np.unique(px[..., 0][gray]))


def save(page, name: str, locator: str | None = None) -> bytes:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = page.locator(locator) if locator else page
    return target.screenshot(path=str(SCREENSHOTS / name))


def test_first_graph_with_thumbnails_and_barcode(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    state = graph_state(page)
    assert len(state["ids"]) >= 3
    assert all("data:image/png;base64" in t for t in state["thumbs"]), state["thumbs"][:3]
    # the verdict, with its confidence: exactly one circle (a cold store computes the random-filter
    # comparison first: seconds, or a minute on a loaded machine)
    page.wait_for_function("() => document.querySelector('#explore-barcode .gtitle') &&"
                           " /^1 circle, p < 0\\.0/.test(document.querySelector('#explore-barcode .gtitle').textContent)",
                           timeout=240_000)
    page.wait_for_timeout(500)
    png = page.locator("#explore-graph").screenshot()
    px = pixels(png)
    assert gray_detail(px) >= 20, "node thumbnails (many gray levels) are visible in the graph"
    assert (px.sum(axis=2) < 600).mean() > 0.02, "the graph area is not blank"
    save(page, "explore.png")
    assert page.console_errors == []


def test_slider_changes_graph_and_url(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    before = graph_state(page)
    thumb = page.locator("#explore-n_cubes [role=slider]")
    thumb.focus()
    for _ in range(6):
        thumb.press("ArrowRight")
    page.wait_for_function(
        f"(before) => JSON.stringify({CY}.nodes().map(n => n.id()).sort()) !== JSON.stringify(before)",
        arg=before["ids"], timeout=60_000)
    after = graph_state(page)
    assert after["ids"] != before["ids"]
    page.wait_for_function("() => window.location.search.includes('n_cubes=')")
    assert page.locator("#explore-n_cubes-value").inner_text() != ""
    assert page.console_errors == []


def test_url_parameters_are_applied_on_load(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&layer=2&k=40&n_cubes=7")
    wait_for_graph(page)
    page.wait_for_function("() => document.getElementById('explore-k-value').textContent === '40'")
    assert page.locator("#explore-n_cubes-value").inner_text() == "7"
    # the graph drawn first may still be the default one: wait for the one the URL asked for
    page.wait_for_function("() => /→.*k = 40\\b/.test(document.getElementById('explore-summary').textContent)")
    assert "k = 40" in page.locator("#explore-summary").inner_text()


def click_node(page, index: int = 0) -> str:
    """Click the node drawn at ``index`` (largest first); return its id."""
    info = page.evaluate(
        f"(i) => {{ const cy = {CY}; const ns = cy.nodes().sort((a, b) => b.data('size') - a.data('size'));"
        " const n = ns[i]; const p = n.renderedPosition(); return {id: n.id(), x: p.x, y: p.y}; }", index)
    box = page.locator("#explore-graph").bounding_box()
    page.mouse.click(box["x"] + info["x"], box["y"] + info["y"])
    return info["id"]


def test_click_node_opens_gallery(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    page.wait_for_timeout(300)
    node = click_node(page)
    page.wait_for_selector("#explore-gallery-node")
    heading = page.locator("#explore-gallery-node h4").first.inner_text()
    assert node in heading
    n_thumbs = page.locator("#explore-gallery-thumbs img.thumb").count()
    assert n_thumbs >= 1
    assert "network" in page.locator("#explore-gallery-node").inner_text()
    # gallery.png (the README's) is a multi-selection: tests/app/test_browser_inspect.py writes it
    png = save(page, "gallery-node.png", "#explore-gallery")
    assert gray_detail(pixels(png)) >= 10
    assert page.console_errors == []


def test_bad_parameter_explains_itself(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    before = graph_state(page)
    box = page.locator("#explore-distance_cut")
    box.fill("-1")
    box.press("Enter")
    page.wait_for_function("() => /distance_cut must be a positive number/"
                           ".test(document.getElementById('explore-status').textContent)")
    # the sentence takes the graph's place: no graph is left on screen as if it answered the value
    page.wait_for_function("() => /distance_cut must be a positive number/"
                           ".test(document.getElementById('explore-graph-message').textContent)")
    assert page.evaluate(f"() => {CY}.nodes().length") == 0
    box.fill("0.5")
    box.press("Enter")
    page.wait_for_function("() => document.getElementById('explore-status').textContent === ''")
    wait_for_graph(page)
    assert before["ids"]


def test_export_graph_json(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    with page.expect_download() as dl:
        page.click("#explore-export-json")
    data = json.loads(open(dl.value.path()).read())
    assert len(data["nodes"]) == len(graph_state(page)["ids"])
    assert "request" in data
    with page.expect_download() as dl:
        page.click("#explore-export-png")
    assert open(dl.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    page.wait_for_function("() => document.querySelector('#explore-barcode .js-plotly-plot .gtitle')")
    with page.expect_download() as dl:
        page.click("#explore-barcode-svg")
    assert dl.value.suggested_filename == "barcode.svg"
    assert b"<svg" in open(dl.value.path(), "rb").read(2000)
    # several selected nodes -> their members as CSV
    page.evaluate(f"() => {{ const cy = {CY}; cy.nodes().slice(0, 3).select(); }}")
    page.wait_for_timeout(1500)  # dash-cytoscape reports the selection (selectedNodeData) after a debounce
    with page.expect_download() as dl:
        page.click("#explore-export-csv")
    lines = open(dl.value.path()).read().strip().split("\n")
    assert lines[0].startswith("network,layer,iteration") and len(lines) > 3


def test_dynamics_and_depth_tabs(live_app, page):
    page.goto(live_app + "/")
    wait_for_graph(page)
    page.click("text=Dynamics")
    page.wait_for_selector("#dynamics-grid .cell-caption", timeout=120_000)
    captions = page.locator("#dynamics-grid .cell-caption").all_inner_texts()
    assert len(captions) >= 2
    assert any("H1:" in c for c in captions)
    page.wait_for_timeout(500)
    save(page, "dynamics.png")
    page.click("text=Depth")
    page.wait_for_selector("#depth-grid .cell-caption", timeout=120_000)
    assert page.locator("#depth-grid .cell").count() >= 1
    page.wait_for_timeout(500)
    save(page, "depth.png")
    page.click("text=Jobs")  # the jobs panel renders inside the app without errors
    page.wait_for_timeout(1500)
    page.click("text=Explore")
    wait_for_graph(page)  # and Explore comes back with its graph
    assert page.console_errors == []


def test_persistence_controls_change_the_barcode_not_the_graph(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&layer=2&p=70")  # 640 filters, 448 kept
    wait_for_graph(page)
    page.wait_for_function("() => document.getElementById('explore-summary').textContent.includes('448 densest')")
    # optional chaining: a predicate that throws (no figure yet) fails the wait instead of retrying
    title = "() => document.querySelector('#explore-barcode .gtitle')?.textContent ?? ''"
    page.wait_for_function(f"() => ({title})().includes('400 landmarks of 448')")
    panels = "() => [...document.querySelectorAll('#explore-barcode .annotation-text')].map(a => a.textContent)"
    assert [t.split()[0] for t in page.evaluate(panels)] == ["H0", "H1"]
    page.wait_for_timeout(500)  # the first view's callbacks have answered
    drawn = f"() => {CY}.nodes().map(n => [n.id(), n.position('x'), n.position('y')]).sort()"
    before = page.evaluate(drawn)
    graph_answers = []
    # graph callbacks of the changes below (all after maxdim became 2), not a late answer to the first view
    page.on("response", lambda r: graph_answers.append(r) if "_dash-update-component" in r.url
            and "explore-graph.elements" in (body := r.request.post_data or "") and '"maxdim":2' in body else None)
    page.locator("#explore-maxdim").get_by_text("H0, H1, H2", exact=True).click()
    page.wait_for_function(f"() => ({panels})().some(t => t.startsWith('H2'))", timeout=60_000)
    box = page.locator("#explore-n_perm")
    box.fill("all")  # every point, up to H2: over the app's limit, refused in one sentence
    box.press("Enter")
    page.wait_for_function("() => /^persistence on all 448 filtered points is too slow for the app/"
                           ".test(document.getElementById('explore-status').textContent)")
    # the barcode says why there is none (the last one does not stay as if it answered "all")
    page.wait_for_function("() => /no barcode: persistence on all 448/"
                           ".test(document.querySelector('#explore-barcode').textContent)")
    box.fill("150")
    box.press("Enter")
    page.wait_for_function(f"() => ({title})().includes('150 landmarks of 448')")
    page.wait_for_function(f"() => ({panels})().some(t => t.startsWith('H2'))")
    page.wait_for_function("() => document.getElementById('explore-status').textContent === ''")
    page.wait_for_function("() => window.location.search.includes('maxdim=2')"
                           " && window.location.search.includes('n_perm=150')")
    for _ in range(100):  # the graph callback answers each change too (in parallel with the barcode's)
        if len(graph_answers) >= 3:
            break
        page.wait_for_timeout(100)
    assert len(graph_answers) >= 3, "the graph callback ran for each change ..."
    assert page.evaluate(drawn) == before  # same nodes at the same places
    for answer in graph_answers:   # ... and sent no elements: nothing recomputed or redrawn
        assert "explore-graph" not in answer.json()["response"], answer.json()
    assert page.console_errors == []
