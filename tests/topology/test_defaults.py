"""Defaults from the data (tdacnn.topology.defaults): one rule, readable first graphs on any cloud."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tdacnn.analysis import Analysis
from tdacnn.errors import UserError
from tdacnn.topology import defaults
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.mapper import graph_summary
from tdacnn.topology.params import CloudParams, DensityParams
from tdacnn.topology.points import cloud_from_array, cloud_from_weightset
from tdacnn.weights import WeightSet

from topology._synth import filter_circle

DEFAULT_RUN = Path(__file__).resolve().parents[2] / "data" / "default-run"


def _first_graph(cloud: PointCloud):
    a = Analysis()
    density, mapper = a.suggest(cloud)
    dense = a.dense(cloud, density)
    return density, mapper, graph_summary(a.graph(dense, mapper))


@pytest.mark.parametrize("n, k", [(2, 1), (6, 5), (30, 5), (256, 5), (1280, 20), (6400, 100), (20_000, 300),
                                  (262_144, 300)])
def test_k_follows_the_cloud_size_clamped(n, k):
    assert defaults.default_k(n) == k
    assert defaults.default_k(n) < n


def test_readable_size_shrinks_only_for_tiny_clouds():
    assert defaults.readable_nodes(30) == (10, 300)
    assert defaults.readable_nodes(6) == (5, 300)
    assert defaults.readable_nodes(640) == (20, 300)


def test_k_needs_two_points():
    with pytest.raises(UserError, match="at least 2 points"):
        defaults.default_k(1)


def test_small_clouds_keep_every_point():
    assert defaults.default_p(30) == 100.0
    assert defaults.default_p(defaults.SMALL_CLOUD) == 50.0


def test_clustering_scale_grows_with_the_spacing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8))
    assert defaults.clustering_scale(2 * x) == pytest.approx(2 * defaults.clustering_scale(x), rel=1e-3)
    assert defaults.clustering_scale(np.zeros((10, 8))) > 0  # every point the same: still a valid cut


def _noisy_circle_cloud(n: int, seed: int = 0) -> PointCloud:
    return cloud_from_array(filter_circle(n, noise=0.15, seed=seed), source=f"circle {n}")


@pytest.mark.parametrize("n", [30, 256, 1280, 6000])
def test_first_graph_is_readable_on_clouds_of_every_size(n):
    density, mapper, s = _first_graph(_noisy_circle_cloud(n))
    assert density.k < n
    assert s["components"] <= 5, s
    lo, hi = defaults.readable_nodes(round(n * density.p / 100))
    assert lo <= s["nodes"] <= hi, s
    assert s["nodes"] < max(20, n / 2), s  # a summary, not one node per filter


def test_first_graph_of_the_shipped_run_is_its_circle():
    ws = WeightSet.load(DEFAULT_RUN)
    cloud = cloud_from_weightset(ws, CloudParams(layer=1))
    density, mapper, s = _first_graph(cloud)
    assert density.k == defaults.default_k(len(cloud))
    assert s["components"] == 1 and 20 <= s["nodes"] <= 300
    assert s["betti1"] == 1, s  # the circle of edge detectors, with nothing tuned to this run


def test_first_graph_of_a_vgg16_sized_layer():
    """512x512x3x3 (262,144 filters, each input channel): sampled, readable, and its k within the sample."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(262_144, 3, 3)).astype(np.float32)
    cloud = cloud_from_array(w, source="vgg-shaped")
    density, mapper, s = _first_graph(cloud)
    assert density.k < density.n_used(len(cloud))
    assert s["components"] <= 5 and 20 <= s["nodes"] <= 300, s


def test_explicit_values_win():
    cloud = _noisy_circle_cloud(1000)
    a = Analysis()
    density, mapper = a.suggest(cloud, {"k": 7, "n_cubes": 9, "distance_cut": 0.33, "p": None})
    assert (density.k, mapper.n_cubes, mapper.distance_cut) == (7, 9, 0.33)
    assert density.p == defaults.default_p(1000)  # None: from the data


def test_library_defaults_are_the_same_rule():
    """Analysis.dense/graph without parameters use the same suggestion as the app and the CLI."""
    cloud = _noisy_circle_cloud(800)
    a = Analysis()
    density, mapper = a.suggest(cloud)
    assert a.dense(cloud).params == density
    dense = a.dense(cloud, density)
    assert a.graph(dense).meta["params"] == mapper.to_dict()
    assert density != DensityParams()  # not the dataclass's placeholder


def test_cover_search_stops_once_graphs_are_too_big():
    """A tiny explicit cut makes every cover unreadable: the search stops at the first, not after all."""
    cloud = _noisy_circle_cloud(2000)
    a = Analysis()
    built = []

    def build(mp):
        built.append(mp.n_cubes)
        return a.graph(a.dense(cloud, DensityParams(20, 50.0)), mp)

    dense = a.dense(cloud, DensityParams(20, 50.0))
    mapper = defaults.suggest_mapper(dense.cloud.points, build, fixed={"distance_cut": 1e-4})
    assert built == [defaults.CUBE_CANDIDATES[2][0]] and mapper.n_cubes == built[0]
