"""The built-in UMAP lens (``lens="umap"``, umap-learn, in the ``umap`` and ``test`` extras): through the
cached pipeline, seeded, keyed by the lens, offered only where umap-learn is installed, and from the CLI.

The first UMAP of a process compiles umap-learn's numba code (15-20 s on two busy cores): every test here
shares one process and so pays it once.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import umap  # noqa: F401 - the test extra installs umap-learn: missing, these tests fail, never skip

from tdacnn.analysis import Analysis
from tdacnn.errors import UserError
from tdacnn.topology import params as params_module
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.estimators import umap_lens
from tdacnn.topology.nerve import graph_summary
from tdacnn.topology.params import LENSES, DensityParams, MapperParams, available_lenses
from topology._synth import filter_circle



def _noisy_circle(seed: int, n: int = 800, n_random: int = 200) -> PointCloud:
    """3×3 edge filters round the primary circle (noise 0.15) plus 20 % random filters, normalised."""
    raw = np.vstack([filter_circle(n, noise=0.15, seed=seed).reshape(n, 9),
                     np.random.default_rng(seed).normal(size=(n_random, 9))])
    pts = raw - raw.mean(axis=1, keepdims=True)
    return PointCloud(pts / np.linalg.norm(pts, axis=1, keepdims=True), (3, 3), source=f"circle-{seed}")


@pytest.mark.parametrize("seed", [0, 3])
def test_umap_lens_on_a_noisy_circle_of_edge_filters_gives_one_cycle(seed):
    a = Analysis()
    cloud = _noisy_circle(seed)
    density, mapper = a.suggest(cloud, lens="umap")  # cover and scale from the data, as the app does
    assert mapper.lens == "umap"
    graph = a.graph(a.dense(cloud, density), mapper)
    s = graph_summary(graph)
    assert s["components"] == 1 and s["betti1"] == 1, s
    assert s["nodes"] >= 10


def test_umap_lens_is_seeded_two_dimensional_and_cached_under_its_name():
    cloud = _noisy_circle(1, n=400, n_random=0)
    dense_params = DensityParams(k=10, p=80)
    first, second = Analysis(), Analysis()
    a_values = first.lens(first.dense(cloud, dense_params), "umap")
    b_values = second.lens(second.dense(cloud, dense_params), "umap")
    assert a_values.shape == (320, 2) and np.array_equal(a_values, b_values)  # same picture every time

    store: dict = {}
    a = Analysis(store)
    dense = a.dense(cloud, dense_params)
    umap_graph = a.graph(dense, MapperParams(lens="umap", n_cubes=5, overlap=0.5, distance_cut=0.4))
    pca_graph = a.graph(dense, MapperParams(lens="pca2", n_cubes=5, overlap=0.5, distance_cut=0.4))
    assert [k for k in store if k.startswith("lens:") and k.endswith(":umap")]
    graph_keys = [k for k in store if k.startswith("graph:")]
    assert len(graph_keys) == 2  # the graph key holds the lens: the two lenses never share a result
    assert umap_graph.meta["params"]["lens"] == "umap" and pca_graph.meta["params"]["lens"] == "pca2"


def test_umap_is_offered_only_where_umap_learn_is_installed(monkeypatch):
    assert "umap" in LENSES
    assert "umap" in available_lenses()
    monkeypatch.setitem(params_module._LENS_MODULES, "umap", "no_such_module_tdacnn")
    assert available_lenses() == tuple(x for x in LENSES if x != "umap")
    monkeypatch.setitem(sys.modules, "umap", None)  # `import umap` now raises ImportError
    with pytest.raises(UserError, match=r"the UMAP lens needs umap-learn: pip install 'tdacnn\[umap\]'"):
        umap_lens(100)


def test_umap_lens_refuses_a_cloud_too_small_to_embed():
    with pytest.raises(UserError, match="the UMAP lens needs at least 4 points to embed; this cloud has 3"):
        Analysis().graph(Analysis().dense(PointCloud(np.eye(9)[:3], (3, 3)), DensityParams(k=1, p=100)),
                         MapperParams(lens="umap"))


def test_cli_analyze_takes_the_umap_lens(tmp_path, capsys, tdacnn_home):
    from tdacnn.cli import main

    np.save(tmp_path / "f.npy", filter_circle(600, noise=0.15, seed=0))
    assert main(["analyze", str(tmp_path / "f.npy"), "--lens", "umap", "--n-perm", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["lens"] == "umap"
    assert out["graph"]["components"] == 1 and out["graph"]["betti1"] == 1
