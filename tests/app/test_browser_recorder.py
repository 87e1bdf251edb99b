"""The dashboard on a run that a Recorder is still writing: new snapshots appear without a reload."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import tdacnn
from tests.app.conftest import start_app
from tests.app.test_browser import wait_for_graph

pytestmark = pytest.mark.browser


def _nets(n: int = 10):
    torch.manual_seed(0)
    return [nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Conv2d(16, 8, 3)) for _ in range(n)]


def test_the_page_picks_up_new_snapshots_of_a_recording(tmp_path, page):
    nets = _nets()
    rec = tdacnn.Recorder(tmp_path / "mine")
    rec.snapshot(nets, 0)
    (tmp_path / "home").mkdir()
    with start_app(tmp_path / "home", args=(str(tmp_path / "mine"),)) as url:
        page.goto(url + "/")
        wait_for_graph(page)
        page.click("text=Dynamics")
        page.wait_for_selector("#dynamics-grid .cell-title", timeout=120_000)
        captions = page.locator("#dynamics-grid .cell-title").all_inner_texts()
        assert any("iteration 0" in c for c in captions)
        assert not any("iteration 50" in c for c in captions)
        # every verdict in: Dynamics stops polling for them, so only the page's watch of the run can bring news
        page.wait_for_function("() => ![...document.querySelectorAll('#dynamics-grid .cell-caption')]"
                               ".some(c => c.textContent.includes('testing'))", timeout=180_000)

        for net in nets:  # the user's loop trains on, and records again
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(0.1 * torch.randn_like(p))
        rec.snapshot(nets, 50)

        # Dynamics gains a column, and Explore's iteration list the new step, with no reload
        page.wait_for_function("() => [...document.querySelectorAll('#dynamics-grid .cell-title')]"
                               ".some(c => c.textContent.includes('iteration 50'))", timeout=60_000)
        page.click("text=Explore")
        wait_for_graph(page)
        page.click("#explore-iteration")
        page.get_by_role("option", name="iteration 50 (last)").wait_for(timeout=30_000)
        assert page.get_by_role("option", name="iteration 0").count() == 1
        rec.close()
        assert page.console_errors == []
