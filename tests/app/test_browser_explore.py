"""The Explore view on several sources in headless Chromium: layouts fitted to the view after a layer
switch, errors in place of the pictures, the URL (bad values, tab, barcode mode, layer of a non-default
source), values computed from the data and explicit ones, sessions saved and loaded, "computing …".

Sources (built here, in the app's data directory): ``run:synthetic`` (the shared 40-network
synthetic run, 2 layers), ``run:three`` (3 layers, 12 networks), ``run:tiny`` (one layer of 30
filters) and ``run:big`` (one layer of 40,960 filters: its first graph takes a while).
Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import gradient, make_home, start_app
from test_browser import CY, save, wait_for_graph

pytestmark = pytest.mark.browser

SUMMARY = "() => document.getElementById('explore-summary')?.textContent ?? ''"
OVERLAY = "() => document.getElementById('explore-graph-overlay')?.className ?? ''"
MESSAGE = "() => document.getElementById('explore-graph-message')?.textContent ?? ''"
#: Every node drawn inside the canvas (1 px of slack for rounding).
INSIDE = (f"() => {{ const cy = {CY}; if (!cy.nodes().length) return false; const b = cy.nodes().renderedBoundingBox();"
          " return b.x1 >= -1 && b.y1 >= -1 && b.x2 <= cy.width() + 1 && b.y2 <= cy.height() + 1; }")
POSITIONS = f"() => Object.fromEntries({CY}.nodes().map(n => [n.id(), [n.position('x'), n.position('y')]]))"


def _run(path: Path, layers: dict[int, tuple[int, int]], n_networks: int, iterations=(0, 100), seed: int = 1):
    """A run of edge detectors plus noise: ``layers`` maps layer → (out, in) channels."""
    from tdacnn.weights import WeightEntry, WeightSet

    rng = np.random.default_rng(seed)
    entries = []
    for net in range(n_networks):
        for it in iterations:
            noise = 0.3 if it == iterations[-1] else 1.0
            for layer, (n_out, n_in) in layers.items():
                w = np.stack([np.stack([gradient(rng.uniform(0, 2 * np.pi)) + noise * rng.normal(size=(3, 3))
                                        for _ in range(n_in)]) for _ in range(n_out)])
                entries.append(WeightEntry(net, layer, it, w, f"conv{layer}.weight"))
    WeightSet(entries, {"dataset": "synthetic", "n_networks": n_networks}).save(path)


@pytest.fixture(scope="module")
def app_home(tmp_path_factory) -> Path:
    home = make_home(tmp_path_factory.mktemp("home"))
    _run(home / "runs" / "three", {1: (8, 1), 2: (8, 2), 3: (6, 4)}, 12)
    _run(home / "runs" / "tiny", {1: (30, 1)}, 1, iterations=(0,))
    _run(home / "runs" / "big", {1: (64, 16)}, 40, iterations=(0,))
    return home


@pytest.fixture(scope="module")
def live_app(app_home):
    with start_app(app_home) as url:
        yield url


def summary_has(page, text: str, timeout: float = 120_000) -> None:
    page.wait_for_function(f"(t) => ({SUMMARY})().includes(t)", arg=text, timeout=timeout)


def choose(page, dropdown: str, option_text: str) -> None:
    page.click(f"#explore-{dropdown}")
    page.get_by_role("option", name=option_text).first.click()


def test_layer_switch_draws_a_fresh_layout_fitted_to_the_view(live_app, page):
    page.goto(live_app + "/?source=run:three&layer=1")
    wait_for_graph(page)
    summary_has(page, "96 filters")
    box = page.locator("#explore-graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):  # zoom far in: the old view no longer shows the whole graph
        page.mouse.wheel(0, -100)
    page.wait_for_function(f"() => !({INSIDE})()")
    choose(page, "layer", "layer 3 ·")
    summary_has(page, "288 filters")  # 12 networks × 6 × 4 slices
    page.wait_for_function(INSIDE)  # the new graph is fitted to the view
    page.wait_for_function("() => window.location.search.includes('layer=3')")
    after_switch = page.evaluate(POSITIONS)
    save(page, "explore-layer-switch.png", ".graph-col")
    # the same URL loaded afresh draws the same picture: how one got there does not matter
    page.reload()
    wait_for_graph(page)
    summary_has(page, "288 filters")  # layer 3 of a non-default source survives the reload
    page.wait_for_function(INSIDE)
    reloaded = page.evaluate(POSITIONS)
    assert set(reloaded) == set(after_switch)
    assert max(np.hypot(*(np.subtract(after_switch[i], reloaded[i]))) for i in reloaded) < 1.0
    assert page.evaluate("() => document.querySelector('#explore-layer').textContent").startswith("layer 3")
    assert page.console_errors == []


def test_wheel_zooms_in_small_steps_and_fit_brings_the_graph_back(live_app, page):
    page.goto(live_app + "/?source=run:synthetic")
    wait_for_graph(page)
    page.wait_for_function(INSIDE)
    box = page.locator("#explore-graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    z0 = page.evaluate(f"() => {CY}.zoom()")
    page.mouse.wheel(0, -100)  # one notch
    page.wait_for_function(f"(z0) => {CY}.zoom() !== z0", arg=z0)
    factor = page.evaluate(f"() => {CY}.zoom()") / z0
    assert factor > 1.05 and factor < 1.4, factor  # cytoscape's default is about x2.5 a notch
    for _ in range(4):
        page.click("#explore-zoom-in")
    page.wait_for_function(f"() => !({INSIDE})()")
    page.click("#explore-fit")
    page.wait_for_function(INSIDE)
    assert page.console_errors == []


def test_error_replaces_the_graph_and_barcode(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&k=40")  # k chosen by the user: it follows to other sources
    wait_for_graph(page)
    page.wait_for_function("() => document.querySelector('#explore-barcode .gtitle')")
    choose(page, "source", "run tiny")  # 30 filters: k = 40 cannot be
    page.wait_for_function(f"() => ({OVERLAY})().includes('error')")
    message = page.evaluate(MESSAGE)
    assert "k = 40 must be smaller than the number of points (30)" in message
    assert page.evaluate(f"() => {CY}.nodes().length") == 0  # the previous source's graph is gone
    page.wait_for_function("() => /no barcode: k = 40/.test(document.querySelector('#explore-barcode')"
                           ".textContent)")  # and its barcode too
    assert page.evaluate(SUMMARY) == ""
    overlay = page.locator("#explore-graph-overlay").bounding_box()
    graph = page.locator("#explore-graph").bounding_box()
    assert overlay["y"] < graph["y"] + graph["height"] / 2 < overlay["y"] + overlay["height"]  # where the graph was
    save(page, "explore-error.png", ".explore")
    # "auto" gives k back to the data: a graph of the 30 filters
    page.locator("#explore-k-ctl .auto-reset").click()
    summary_has(page, "30 filters")
    page.wait_for_function(f"() => !({OVERLAY})().includes('error')")
    assert page.evaluate(f"() => {CY}.nodes().length") > 0
    assert page.console_errors == []


def test_bad_value_typed_clears_the_graph_until_fixed(live_app, page):
    page.goto(live_app + "/?source=run:synthetic")
    wait_for_graph(page)
    box = page.locator("#explore-distance_cut")
    box.fill("-1")
    box.press("Enter")
    page.wait_for_function(f"() => /distance_cut must be a positive number/.test(({MESSAGE})())")
    assert page.evaluate(f"() => {CY}.nodes().length") == 0
    box.fill("")  # an empty box: back to the value computed from the data
    box.press("Enter")
    wait_for_graph(page)
    page.wait_for_function(f"() => ({OVERLAY})() === 'graph-overlay'")
    page.wait_for_function("() => document.getElementById('explore-distance_cut-ctl').className.includes('is-auto')")
    assert page.console_errors == []


def test_a_box_the_link_set_can_be_emptied_and_set_back(live_app, page):
    # Dash's number box compared an entry with the box's first value: after a link set it, emptying it
    # (back to automatic) and typing that first value again (Z/2) were both ignored
    title = "() => document.querySelector('#explore-barcode .gtitle')?.textContent ?? ''"
    page.goto(live_app + "/?source=run:synthetic&layer=1&distance_cut=0.3&coeff=3")
    wait_for_graph(page)
    page.wait_for_function(f"() => ({title})().includes('Z/3')", timeout=60_000)
    ctl = "() => document.getElementById('explore-distance_cut-ctl').className"
    assert "is-explicit" in page.evaluate(ctl)
    page.locator("#explore-distance_cut").fill("")
    page.locator("#explore-distance_cut").press("Enter")
    page.wait_for_function(f"() => ({ctl})().includes('is-auto')")
    page.wait_for_function("() => !window.location.search.includes('distance_cut')")
    page.wait_for_function("() => document.getElementById('explore-distance_cut').value !== ''")  # the value used
    page.locator("#explore-coeff").fill("2")
    page.locator("#explore-coeff").press("Enter")
    page.wait_for_function(f"() => ({title})().includes('Z/2')", timeout=60_000)
    page.wait_for_function("() => !window.location.search.includes('coeff')")
    assert page.console_errors == []


def test_computing_names_the_layer_and_an_iteration_only_where_there_is_one(live_app, page):
    page.goto(live_app + "/?source=run:synthetic")
    wait_for_graph(page)
    busy = ("(cloud) => window.dash_clientside.tdacnnExplore.markBusy({source: 'upload:vgg16', cloud: cloud, "
            "density: {}, mapper: {}}, null)[0]")
    assert page.evaluate(busy, {"layer": 9, "iteration": -1}) == "computing the graph of layer 9 of upload:vgg16 …"
    assert page.evaluate(busy, {"layer": 2, "iteration": 100}) == \
        "computing the graph of layer 2 · iteration 100 of upload:vgg16 …"
    assert page.evaluate(busy, {"layer": None, "iteration": None}) == \
        "computing the graph of the first layer · the last iteration of upload:vgg16 …"


def test_bad_url_values_get_a_sentence_and_no_javascript_error(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&k=abc&layer=999&n_cubes=-3&lens=foo&tab=nope&iteration=x&color=rainbow")
    wait_for_graph(page)
    page.wait_for_selector("#explore-notice li")
    notes = page.locator("#explore-notice li").all_inner_texts()
    assert any("k (neighbours): 'abc' is not a number" in n for n in notes), notes
    assert any("layer '999' is not in run:synthetic (layers 1 to 2); layer 1 is shown" in n for n in notes), notes
    assert any(n.startswith("n_cubes") for n in notes) and any("lens must be one of" in n for n in notes)
    assert any("tab 'nope'" in n for n in notes) and any("iteration 'x'" in n for n in notes)
    assert any("color 'rainbow' is not one of" in n for n in notes), notes
    assert page.locator("#explore-k [role=slider]").is_visible()  # the slider is still there ...
    page.wait_for_function("() => /^\\d+$/.test(document.getElementById('explore-k-value').textContent)")
    summary_has(page, "320 filters")  # ... and the graph and barcode are computed
    page.wait_for_function("() => document.querySelector('#explore-barcode .gtitle')")
    page.wait_for_function("() => !/abc|999|foo|nope|rainbow/.test(window.location.search)")  # the URL tells the truth
    save(page, "explore-bad-url.png", ".graph-col")
    page.click("#explore-notice-close")
    page.wait_for_function("() => !document.querySelector('#explore-notice li')")
    assert page.console_errors == []


def test_tab_and_barcode_mode_come_from_and_go_to_the_url(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&layer=2&iteration=100&tab=depth&mode=diagram&foo=bar")
    page.wait_for_selector("#depth-grid .cell-caption", timeout=120_000)
    page.click("text=Explore")
    wait_for_graph(page)
    summary_has(page, "640 filters")
    assert page.locator("#explore-iteration").inner_text().startswith("iteration 100")
    assert page.locator("#explore-barcode-mode input[value=diagram]").is_checked()
    page.wait_for_function("() => [...document.querySelectorAll('#explore-barcode .xtitle')]"
                           ".some(t => t.textContent === 'birth')")  # a persistence diagram
    page.click("text=Dynamics")
    page.wait_for_function("() => window.location.search.includes('tab=dynamics')")
    search = page.evaluate("() => window.location.search")
    assert "mode=diagram" in search and "foo=bar" in search  # a key the view does not own is kept
    page.click("text=Explore")
    page.locator("#explore-barcode-mode").get_by_text("barcode", exact=True).click()
    page.wait_for_function("() => !window.location.search.includes('mode=') && "
                           "!window.location.search.includes('tab=')")  # defaults are left out
    assert page.console_errors == []


def test_values_from_the_data_and_an_explicit_one_surviving_a_layer_switch(live_app, page):
    page.goto(live_app + "/?source=run:three&layer=1")
    wait_for_graph(page)
    summary_has(page, "96 filters")
    ctl = "(n) => document.getElementById('explore-' + n + '-ctl').className"
    assert all("is-auto" in page.evaluate(ctl, n) for n in ("k", "p", "n_cubes", "overlap", "distance_cut"))
    k_auto = page.locator("#explore-k-value").inner_text()
    assert k_auto.isdigit() and f"k = {k_auto}," in page.evaluate(SUMMARY)
    assert page.locator("#explore-k-ctl .auto-tag").is_visible()
    assert "k=" not in page.evaluate("() => window.location.search")
    # moving the slider makes k the user's: it goes into the URL
    thumb = page.locator("#explore-k [role=slider]")
    thumb.focus()
    for _ in range(3):
        thumb.press("ArrowRight")
    k_user = str(int(k_auto) + 3)
    page.wait_for_function("(k) => window.location.search.includes('k=' + k)", arg=k_user)
    page.wait_for_function("() => document.getElementById('explore-k-ctl').className.includes('is-explicit')")
    summary_has(page, f"k = {k_user},")
    assert page.locator("#explore-k-ctl .auto-reset").is_visible()
    save(page, "explore-auto-controls.png", ".controls")
    # ... and survives a change of layer, while the others follow the new cloud
    choose(page, "layer", "layer 2 ·")
    summary_has(page, "192 filters")
    summary_has(page, f"k = {k_user},")
    assert page.locator("#explore-k-value").inner_text() == k_user
    assert "is-auto" in page.evaluate(ctl, "n_cubes") and "is-explicit" in page.evaluate(ctl, "k")
    # "auto" gives it back to the data
    page.locator("#explore-k-ctl .auto-reset").click()
    page.wait_for_function("() => document.getElementById('explore-k-ctl').className.includes('is-auto')")
    page.wait_for_function("() => !/[?&]k=/.test(window.location.search)")
    summary_has(page, "192 filters")
    assert page.console_errors == []


def test_session_saved_and_loaded_back(live_app, page, tmp_path):
    page.goto(live_app + "/?source=run:three&layer=2&n_cubes=9&mode=diagram")
    wait_for_graph(page)
    summary_has(page, "192 filters")
    with page.expect_download() as dl:
        page.click("#explore-session-save")
    session = json.loads(Path(dl.value.path()).read_text())
    assert session["format"] == "tdacnn-session"
    assert "n_cubes=9" in session["query"] and "layer=2" in session["query"] and "mode=diagram" in session["query"]
    assert session["request"]["mapper"]["n_cubes"] == 9
    # the values the data gave (automatic names), not the stand-ins the request holds until it is computed
    k, p = re.search(r"k = (\d+), p = ([\d.]+)%", page.evaluate(SUMMARY)).groups()
    density = session["request"]["density"]
    assert (density["k"], density["p"]) == (int(k), float(p)), density
    assert "k" in session["request"]["auto"] and "p" in session["request"]["auto"]
    path = tmp_path / "session.json"
    path.write_text(json.dumps(session))
    bad = tmp_path / "notes.json"
    bad.write_text("{not json")
    page.goto(live_app + "/")
    wait_for_graph(page)
    page.set_input_files("#explore-session-upload input[type=file]", str(bad))
    page.wait_for_function("() => /notes.json: this file is not a session: not JSON/"
                           ".test(document.getElementById('explore-notice').textContent)")
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (3 * 2**20))
    page.set_input_files("#explore-session-upload input[type=file]", str(huge))
    page.wait_for_function("() => /huge.json is 3.0 MB: a session file is a few kB/"
                           ".test(document.getElementById('explore-notice').textContent)")
    page.set_input_files("#explore-session-upload input[type=file]", str(path))
    page.wait_for_url("**n_cubes=9**")
    wait_for_graph(page)
    summary_has(page, "192 filters")
    assert page.locator("#explore-n_cubes-value").inner_text() == "9"
    assert page.locator("#explore-barcode-mode input[value=diagram]").is_checked()
    assert page.console_errors == []


def test_a_slow_first_graph_says_what_is_computed(live_app, page):
    page.goto(live_app + "/?source=run:synthetic")
    wait_for_graph(page)
    summary_has(page, "320 filters")
    before = page.evaluate(POSITIONS)
    choose(page, "source", "run big")  # 40,960 filters: the first graph takes seconds
    page.wait_for_function(f"() => ({OVERLAY})().includes('busy')", timeout=10_000)
    # the request waits for the layer and iteration of the new source: never a passing "iteration 500 ..."
    assert page.evaluate(MESSAGE) == "computing the graph of layer 1 · iteration 0 of run:big …"
    page.wait_for_function("() => getComputedStyle(document.getElementById('explore-graph-overlay')).opacity > 0.9")
    save(page, "explore-computing.png", ".graph-col")
    assert page.evaluate(POSITIONS) == before  # the old graph is under the veil, dimmed, until the new one comes
    assert "stale" in page.evaluate("() => document.getElementById('explore-summary').className")  # its summary too
    # ... and the values the data gave for the old cloud, and its legend: nothing of the old graph looks current
    faded = "(sel) => Number(getComputedStyle(document.querySelector(sel)).opacity) < 0.5"
    for sel in ("#explore-k-value", "#explore-k", "#explore-distance_cut-ctl > :not(.ctl-label)", ".legend"):
        page.wait_for_function(faded, arg=sel, timeout=5_000)
    summary_has(page, "40,960 filters", timeout=240_000)
    page.wait_for_function(f"() => ({OVERLAY})() === 'graph-overlay'")
    assert page.evaluate("() => document.getElementById('explore-summary').className") == "summary"
    assert page.evaluate("() => getComputedStyle(document.getElementById('explore-k-value')).opacity") == "1"
    page.wait_for_function(INSIDE)
    assert page.console_errors == []


def test_depth_says_what_it_computes_while_it_computes(live_app, page):
    # a deep network's Depth tab computes a graph per layer (a minute for VGG16 the first time): the
    # answer is held back here, and the tab must say what it is doing meanwhile, not show a dot
    held, release = [], []

    def hold(route):
        if "depth-grid" in (route.request.post_data or "") and not release:
            held.append(route)
        else:
            route.continue_()

    page.route("**/_dash-update-component*", hold)
    page.goto(live_app + "/?source=run:three&tab=depth")
    busy = page.locator(".multiples-busy")
    busy.wait_for(state="visible")
    assert busy.inner_text().startswith("computing one graph per conv layer") and held
    release.append(True)
    for route in held:
        route.continue_()
    page.wait_for_selector("#depth-grid .cell-caption", timeout=120_000)
    busy.wait_for(state="hidden")
    assert page.locator("#depth-grid .cell-title").count() == 3
    assert page.console_errors == []
