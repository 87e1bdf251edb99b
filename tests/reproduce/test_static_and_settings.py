"""matplotlib renderers, settings and verdict rules (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.reproduce.common import circle_verdict
from tdacnn.reproduce.report import jsonable
from tdacnn.reproduce.settings import density_k, settings_for
from tdacnn.topology.mapper import graph_summary, mapper_graph
from tdacnn.topology.params import MapperParams, PersistenceParams
from tdacnn.topology.persistence import barcode
from tdacnn.view import static

PNG = b"\x89PNG\r\n\x1a\n"


def _circle(n=400, seed=0):
    """Unit-norm, mean-zero 3×3 'filters' along the primary circle (linear gradients)."""
    from tdacnn.topology.dct import from_dct

    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    c = np.zeros((n, 8))
    c[:, 0], c[:, 1] = np.cos(t), np.sin(t)
    c += rng.normal(scale=0.03, size=c.shape)
    x = from_dct(c).reshape(n, 9)
    x -= x.mean(axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True), t


def test_graph_figure_of_a_circle_draws_every_node_with_a_thumbnail():
    pts, _ = _circle()
    g = mapper_graph(pts, np.linspace(0, 1, len(pts)), MapperParams(lens="pca2", n_cubes=8, overlap=0.3,
                                                                    distance_cut=0.5), (3, 3))
    assert graph_summary(g)["betti1"] == 1
    pos = static.graph_positions(g)
    assert set(pos) == {n.id for n in g.nodes}
    xy = np.array(list(pos.values()))
    # one ring: nodes roughly equidistant from the centre
    r = np.linalg.norm(xy - xy.mean(axis=0), axis=1)
    assert r.std() < 0.35 * r.mean()
    fig = static.graph_figure(g, "circle")
    from matplotlib.offsetbox import AnnotationBbox

    assert sum(isinstance(a, AnnotationBbox) for a in fig.axes[0].artists) == len(g.nodes)
    assert static.to_png(fig).startswith(PNG)


def test_graph_positions_separate_components():
    from tdacnn.topology.graph import MapperEdge, MapperGraph, MapperNode

    f = np.zeros((3, 3))
    nodes = tuple(MapperNode(f"n{i}", np.array([i]), float(i), f) for i in range(7))
    ring = [MapperEdge(f"n{i}", f"n{(i + 1) % 4}", 1) for i in range(4)]  # a 4-cycle n0..n3
    g = MapperGraph(nodes, tuple(ring + [MapperEdge("n4", "n5", 1)]))  # a pair n4-n5 and a singleton n6
    pos = static.graph_positions(g)
    xy = {k: np.array(v) for k, v in pos.items()}
    assert len(pos) == 7 and len({tuple(np.round(v, 6)) for v in xy.values()}) == 7
    ring_pts = np.array([xy[f"n{i}"] for i in range(4)])
    centre = ring_pts.mean(axis=0)
    radius = np.linalg.norm(ring_pts - centre, axis=1).max()
    for other in ("n4", "n5", "n6"):  # the other components lie outside the ring
        assert np.linalg.norm(xy[other] - centre) > radius


def test_barcode_and_orientation_figures():
    pts, t = _circle(200)
    b = barcode(pts, PersistenceParams(n_perm=80), engine="ripser")
    assert b.h1_significant == 1
    fig = static.barcode_figure(b, "circle")
    ax = fig.axes[1]
    red = [l for l in ax.lines if l.get_color() == "#c0392b"]
    assert len(red) == 1  # the one significant H1 bar is drawn in red
    assert static.to_png(fig).startswith(PNG)
    fig = static.orientation_figure({"circle": t, "axis": np.zeros(10)})
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    assert static.to_png(fig).startswith(PNG)


def test_dynamics_and_small_multiples_render():
    rows = [{"series": "A", "iteration": it, "h1_lengths": [0.1 * i, 0.05], "verdict": "seen" if i > 1 else "not seen"}
            for i, it in enumerate((0, 100, 1000))]
    assert static.to_png(static.dynamics_figure(rows, "t")).startswith(PNG)
    pts, _ = _circle(200)
    g = mapper_graph(pts, None, MapperParams(n_cubes=5), (3, 3))
    assert static.to_png(static.depth_figure([("a", g), ("b", g), ("c", g)], ncols=2)).startswith(PNG)
    assert static.to_png(static.filters_figure(pts.reshape(-1, 3, 3)[:20])).startswith(PNG)


def test_palette_png_is_smaller_and_readable():
    import io

    from PIL import Image

    pts, _ = _circle(300)
    g = mapper_graph(pts, np.linspace(0, 1, 300), MapperParams(n_cubes=6), (3, 3))
    full = static.to_png(static.graph_figure(g, "g"))
    small = static.to_png(static.graph_figure(g, "g"), palette=True)
    assert small.startswith(PNG) and len(small) < len(full)
    a, b = Image.open(io.BytesIO(full)), Image.open(io.BytesIO(small))
    assert a.size == b.size and b.mode == "P"


def test_circle_verdict_rule():
    assert circle_verdict(1, 1)[0] == "seen"
    assert circle_verdict(1, 3)[0] == "partly seen"
    assert circle_verdict(0, 1)[0] == "partly seen"
    assert circle_verdict(4, 0)[0] == "not seen"
    assert "4 significant H1 bars" in circle_verdict(4, 0)[1]
    # one rule: a long bar that is not significant against random filters is no circle, however dominant
    verdict, why = circle_verdict(0, 1, lengths=[0.56, 0.2], p_values=[0.2, 1.0])
    assert verdict == "partly seen" and "longest 0.56, p = 0.2; next 0.20, p = 1.0" in why
    assert "p < 0.001" in circle_verdict(1, 1, lengths=[1.2, 0.1], p_values=[1e-9, 1.0])[1]


def test_density_k_follows_the_paper_ratio():
    s = settings_for("cpu")
    assert density_k(6400, s) == 200  # the paper: k = 200 on 6,400 filters
    assert density_k(2560, s) == 80  # 40 networks x 64 filters
    assert density_k(100_000, s) == s.k_max
    assert density_k(40, s) == s.k_min
    assert density_k(4, s) == 3  # always below the number of points


def test_settings_profiles_and_overrides():
    cpu, gpu, quick = settings_for("cpu"), settings_for("gpu"), settings_for("quick")
    assert cpu.mnist_networks >= 40 and gpu.mnist_networks == 100
    assert gpu.mnist_iterations > cpu.mnist_iterations
    assert quick.mnist_networks < cpu.mnist_networks
    s = settings_for("cpu", networks=7, iterations=123, seed=4)
    assert (s.mnist_networks, s.cifar_networks, s.mnist_iterations, s.cifar_iterations, s.seed) == (7, 7, 123, 123, 4)
    with pytest.raises(UserError, match="--iterations must be at least 1"):
        settings_for("cpu", iterations=0)
    with pytest.raises(UserError, match="unknown profile"):
        settings_for("tpu")  # type: ignore[arg-type]


def test_jsonable_drops_private_keys_and_non_finite_numbers():
    doc = jsonable({"a": math.inf, "b": [np.float64(1.5), np.int64(2), math.nan], "_obj": object(),
                    "c": np.arange(3)})
    assert doc == {"a": None, "b": [1.5, 2, None], "c": [0, 1, 2]}
