"""The Klein-bottle figures and their callbacks, called as functions (the browser check is in
test_browser_klein.py)."""

from __future__ import annotations

import numpy as np

from tdacnn.app import explore, services
from tdacnn.app.controls import CONTROLS, DEFAULTS
from tdacnn.topology.barcode import Barcode
from tdacnn.topology.klein import sample_klein
from tdacnn.view.klein import density_grid, fields_figure, fractions_caption, klein_figure


def request_data(**over):
    v = {**DEFAULTS, "source": "run:synthetic", **over}
    data, _ = explore.parse_controls(*[v[name] for name in CONTROLS])
    assert "error" not in data, data
    return data


def test_density_grid_counts_every_point_in_its_cell():
    counts, a_c, p_c = density_grid(np.array([0.01, np.pi, 2 * np.pi - 1e-9]), np.array([0.0, -np.pi / 2, np.pi / 2]))
    assert counts.shape == (18, 36) and counts.sum() == 3
    assert counts[9, 0] == 1 and counts[0, 18] == 1 and counts[17, 35] == 1
    assert a_c[0] == 5 and p_c[0] == -85


def test_map_figure_caption_and_circles():
    _, alpha, phi = sample_klein(300, seed=0)
    f = {"primary": 0.712, "secondary": 0.16, "other": 0.128, "median_distance": 0.18}
    fig = klein_figure(alpha, phi, f)
    assert "71 % primary · 16 % secondary · 13 % other · median distance 0.18" in fig.layout.title.text
    assert "300 densest filters" in fig.layout.title.text
    assert fig.data[0].type == "heatmap" and np.sum(fig.data[0].customdata) == 300
    assert [t.name for t in fig.data[1:]] == ["primary"] + ["secondary"] * 5
    assert fractions_caption({}) == "no points"


def test_fields_figure_counts_circles_per_field():
    circle = np.array([[0.1, 0.2], [0.1, 1.5], [0.2, 0.25]])
    z2 = Barcode((np.array([[0, np.inf]]), circle[[1, 1, 0]]), 100, 100, (1, 2))
    z3 = Barcode((np.array([[0, np.inf]]), circle), 100, 100, (1, 1))
    fig = fields_figure(z2, z3)
    titles = [a.text for a in fig.layout.annotations]
    assert "Z/2: 2 circles" in titles and "Z/3: 1 circle" in titles
    blank = fields_figure(None, z3, message="no barcode (see above)")
    assert "Z/2: no barcode (see above)" in [a.text for a in blank.layout.annotations]


def test_callbacks_draw_the_synthetic_run(synthetic_home):
    data = request_data()
    fig = explore.update_klein(data)
    title = fig.layout.title.text
    assert "Klein bottle" in title and "% primary" in title, title
    coords, fractions = services.compute_klein(explore._request(data))
    assert fractions["primary"] > 0.9, fractions  # the synthetic run's last iteration: edges plus a little noise
    assert np.sum(fig.data[0].customdata) == len(coords)
    fields = explore.update_fields(data)
    titles = [a.text for a in fields.layout.annotations]
    assert any(t.startswith("Z/2: ") for t in titles) and any(t.startswith("Z/3: ") for t in titles), titles


def test_callbacks_say_why_there_is_no_map(synthetic_home):
    fig = explore.update_klein({"error": "k must be an integer"})
    assert not fig.data and "no Klein-bottle map: k must be an integer" in fig.layout.annotations[0].text
    fig = explore.update_fields(request_data(source="run:nothing"))
    assert not fig.data and fig.layout.annotations[0].text.startswith("no Z/2, Z/3 barcodes:")
