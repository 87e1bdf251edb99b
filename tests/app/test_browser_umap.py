"""The UMAP lens in the Explore view: offered only where umap-learn is installed, chosen in the real page
(headless Chromium), named in the lens colour's legend and in the URL, the same graph when chosen again.

The app runs on the synthetic run of tests/app/conftest.py.  Its first UMAP compiles umap-learn's numba
code in the server process (15-60 s on two busy cores): the waits below allow for it.
"""

from __future__ import annotations


import pytest
import umap  # noqa: F401 - the test extra installs umap-learn: missing, these tests fail, never skip

from conftest import make_home, start_app
from test_browser import CY, save, wait_for_graph

LEGEND = "() => document.querySelector('#explore-legend .mode-lens')?.textContent ?? ''"
IDS = f"() => {CY}.nodes().map(n => n.id()).sort()"


def test_the_lens_radio_offers_umap_only_where_umap_learn_is_installed(monkeypatch):
    from tdacnn.app.explore_layout import lens_options
    from tdacnn.topology import params

    values = [o["value"] for o in lens_options()]
    assert values[:4] == ["pca1", "pca2", "codensity", "angle"]
    assert "umap" in values
    monkeypatch.setitem(params._LENS_MODULES, "umap", "no_such_module_tdacnn")
    assert [o["value"] for o in lens_options()] == ["pca1", "pca2", "codensity", "angle"]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    with start_app(make_home(tmp_path_factory.mktemp("home"))) as url:
        yield url


def _legend_says(page, text: str, timeout: float = 60_000) -> None:
    page.wait_for_function(f"(t) => ({LEGEND})().includes(t)", arg=text, timeout=timeout)


@pytest.mark.browser
def test_choosing_the_umap_lens_draws_its_graph(live_app, page):
    page.goto(live_app + "/?source=run:synthetic&layer=1&iteration=500&color=lens")
    wait_for_graph(page)
    _legend_says(page, "lens: PCA 1")
    pca_ids = page.evaluate(IDS)

    page.locator("#explore-lens").get_by_text("UMAP (2-D)", exact=True).click()
    # the first UMAP in the server compiles umap-learn's numba code: allow minutes on a loaded machine
    _legend_says(page, "lens: UMAP 1", timeout=300_000)
    wait_for_graph(page)
    umap_ids = page.evaluate(IDS)
    assert len(umap_ids) >= 5 and umap_ids != pca_ids
    page.wait_for_function("() => new URLSearchParams(window.location.search).get('lens') === 'umap'")
    save(page, "explore-umap.png", "#explore-graph")

    # back to PCA and again to UMAP: the same (seeded, cached) graph, at once
    page.locator("#explore-lens").get_by_text("PCA 1+2", exact=True).click()
    _legend_says(page, "lens: PCA 1")
    page.wait_for_function(f"(ids) => JSON.stringify(({IDS})()) === JSON.stringify(ids)", arg=pca_ids)
    page.locator("#explore-lens").get_by_text("UMAP (2-D)", exact=True).click()
    _legend_says(page, "lens: UMAP 1")
    page.wait_for_function(f"(ids) => JSON.stringify(({IDS})()) === JSON.stringify(ids)", arg=umap_ids)
    assert page.console_errors == []
