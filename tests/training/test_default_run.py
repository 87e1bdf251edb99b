"""The shipped default run (data/default-run): complete, small, reproducible from its
recipe, and showing the circle of edge detectors in layer 1 (but not at initialisation)."""

from __future__ import annotations

import shlex

import numpy as np
import pytest

from tdacnn.config import DEFAULT_RUN
from tdacnn.training.config import TrainConfig
from tdacnn.training.run import read_run
from tdacnn.weights import WeightSet


@pytest.fixture(scope="module")
def run():
    return read_run(DEFAULT_RUN), WeightSet.load(DEFAULT_RUN)


def test_complete_small_and_described(run):
    info, ws = run
    assert info["status"] == "complete" and info["config"]["n_networks"] == 40
    assert ws.networks() == list(range(40))
    assert ws.iterations(1) == [0, 100, 200, 400, 900] and ws.iterations(2) == [900]
    assert ws.select(1, 0)[0].weight.shape == (32, 1, 3, 3)
    assert (DEFAULT_RUN / "weights.npz").stat().st_size < 1_000_000
    assert not (DEFAULT_RUN / "state").exists()
    assert info["mean_test_acc"] > 0.95


def test_recipe_is_the_recorded_config(run):
    from tdacnn.cli import build_parser
    from tdacnn.commands.make_default_run import DEFAULT_RECIPE
    from tdacnn.commands.train import config_from_args

    info, _ = run
    assert info["recipe"].startswith(DEFAULT_RECIPE)
    args = build_parser().parse_args(shlex.split(info["recipe"])[1:])
    assert config_from_args(args).training_key() == TrainConfig.from_dict(info["config"]).training_key()


def _h1_bars(ws: WeightSet, iteration: int, k: int = 100, p: float = 50) -> np.ndarray:
    """H1 bar lengths (longest first) of the densest p% of the normalised layer-1 filters."""
    from ripser import ripser
    from sklearn.neighbors import NearestNeighbors

    x = np.concatenate([e.weight.astype(np.float64).reshape(-1, 9) for e in ws.select(1, iteration)])
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    dense = np.argsort(dist[:, k], kind="stable")[: int(len(x) * p / 100)]
    dgm = ripser(x[dense], maxdim=1)["dgms"][1]
    return np.sort(dgm[:, 1] - dgm[:, 0])[::-1]


def test_trained_filters_show_one_circle_untrained_do_not(run):
    _, ws = run
    final = _h1_bars(ws, 900)
    assert final[0] > 2.5 * final[1], final[:3]
    init = _h1_bars(ws, 0)
    assert init[0] < 1.5 * init[1], init[:3]
