"""Significance of bars: the Monte Carlo test against random filters, through tdacnn's own pipeline.

Known answers in filter space (a circle, two circles, a blob), pure noise at the stated alpha over
repeated draws, the natural patches X(300, 30) and a freshly trained ensemble against its untrained
snapshot (slow: training and the patch null take about a minute each on a quiet 2-core machine).
"""

import math
import subprocess
import sys

import numpy as np
import pytest

from tdacnn.analysis import Analysis
from tdacnn.topology.barcode import Barcode
from tdacnn.topology.dct import DCT_BASIS as E
from tdacnn.topology.params import CloudParams, DensityParams, PersistenceParams
from tdacnn.topology.points import cloud_from_array
from tdacnn.topology.significance import (
    ALPHA,
    NULL_DRAWS,
    TOP,
    assess,
    format_p,
    null_spec,
    on_sphere,
    p_values,
    ranked_lengths,
    threshold,
)


def ring(rng, n, a, b, noise=0.1):
    """A noisy circle of 3×3 filters in the plane of DCT vectors a and b."""
    t = rng.uniform(0, 2 * np.pi, n)
    return (np.cos(t)[:, None] * E[a] + np.sin(t)[:, None] * E[b] + rng.normal(0, noise, (n, 9))).reshape(n, 3, 3)


def assessed(rows, analysis=None, density=None):
    a = analysis or Analysis()
    cloud = cloud_from_array(rows)
    dense = a.dense(cloud, density or a.suggest(cloud)[0])
    return a.barcode(dense, PersistenceParams())


@pytest.mark.parametrize("name, expected", [("circle", 1), ("two circles", 2), ("blob", 0)])
def test_known_answers_in_filter_space(name, expected):
    rng = np.random.default_rng(5)
    rows = {"circle": lambda: ring(rng, 600, 0, 1),
            "two circles": lambda: np.concatenate([ring(rng, 300, 0, 1), ring(rng, 300, 2, 3)]),
            "blob": lambda: (E[0] + 0.3 * rng.normal(size=(600, 9))).reshape(600, 3, 3)}[name]()
    b = assessed(rows)
    assert b.meta["significance"]["null"] == "random filters"
    assert b.h1_significant == expected
    p = b.pvalues(1)
    assert np.all(p[:expected] < 0.001)  # far beyond every random-filter cloud
    assert p[expected] > ALPHA  # and the next bar is not


def test_pure_noise_gives_no_bar_at_alpha_over_repeated_draws():
    """30 fresh clouds of 300 random Gaussian filters, tested against one null of other draws:
    at alpha 0.01 at most one may be called a circle (expected 0.3; two or more has chance 3.6 %)."""
    a = Analysis()
    calls, top_p = 0, []
    for seed in range(30):
        rows = np.random.default_rng(1000 + seed).standard_normal((300, 3, 3))
        b = assessed(rows, a, DensityParams(5, 50.0))
        calls += b.h1_significant > 0
        top_p.append(float(b.pvalues(1)[0]))  # the longest bar
    assert calls <= 1, top_p
    # and the longest bars' p-values are spread over (0, 1], not piled at 0 or 1 (a calibrated test)
    assert 0.2 < float(np.median(top_p)) < 0.8


def test_p_values_exceedances_and_tail():
    null = np.zeros((NULL_DRAWS, TOP))
    null[:, 0] = np.linspace(0.2, 0.3, NULL_DRAWS)  # each null cloud's longest bar; the others do not count
    null[:, 1] = 0.29
    p = p_values(np.array([0.25, 0.31, 1.0, 0.0]), null)
    exceed = int(np.sum(null[:, 0] >= 0.25))
    assert p[0] == pytest.approx((1 + exceed) / (NULL_DRAWS + 1))  # the Monte Carlo p-value
    assert p[1] <= 1 / (NULL_DRAWS + 1)  # beyond every null cloud: the fitted tail, capped
    assert p[2] < 1e-12  # and falling fast
    assert p[3] == 1.0  # no bar
    assert np.all(p_values(np.array([0.5]), np.zeros((NULL_DRAWS, TOP))) <= 1 / (NULL_DRAWS + 1))
    # the threshold is where p crosses alpha: beyond the null's longest bar, on the fitted tail
    t = threshold(null, ALPHA)
    assert t > 0.3 and p_values(np.array([t * 0.999, t * 1.001]), null).tolist() == pytest.approx(
        [ALPHA, ALPHA], rel=0.05)


def test_ranked_lengths_cap_bars_alive_at_thresh():
    dg = np.array([[0.0, np.inf], [0.1, 0.5], [0.2, 0.3]])
    np.testing.assert_allclose(ranked_lengths(dg, 1.0, top=4), [1.0, 0.4, 0.1, 0.0])
    np.testing.assert_allclose(ranked_lengths(dg, math.inf, top=2), [0.4, 0.1])  # the whole cloud left out


def test_assess_counts_bars_beyond_the_null_and_keeps_components():
    dgms = (np.array([[0.0, np.inf], [0.0, 0.9], [0.0, 0.1]]), np.array([[0.2, 1.2], [0.3, 0.5], [0.3, 0.4]]))
    raw = Barcode(dgms, 100, 100, (), {"params": PersistenceParams().to_dict()})
    null = (np.full((NULL_DRAWS, TOP), 0.2) + np.linspace(0, 0.01, NULL_DRAWS)[:, None],) * 2
    spec = null_spec(np.eye(3) - 1 / 3 + 0.0, PersistenceParams())
    b = assess(raw, null, spec)
    # the whole cloud and one separate component; one H1 bar: the second (0.2 long) is within the null's longest
    assert b.significant == (2, 1)
    assert b.p_values[0][0] == 0.0 and b.p_values[1][0] < ALPHA < b.p_values[1][1]
    assert 0.21 < b.meta["significance"]["thresholds"][1] < 1.0


def test_null_kind_and_caching():
    rng = np.random.default_rng(0)
    cloud = cloud_from_array(ring(rng, 200, 0, 1))
    assert on_sphere(cloud.points) and not on_sphere(rng.normal(size=(50, 2)))
    a = Analysis()
    dense = a.dense(cloud, DensityParams(5, 50.0))
    a.barcode(dense, PersistenceParams())
    nulls = [k for k in a.store if k.startswith("null:")]
    assert len(nulls) == 1
    # another cloud of the same size and parameters shares the null: nothing new is computed
    other = cloud_from_array(ring(np.random.default_rng(1), 200, 2, 3))
    b = a.barcode(a.dense(other, DensityParams(5, 50.0)), PersistenceParams())
    assert [k for k in a.store if k.startswith("null:")] == nulls and b.h1_significant == 1


def test_format_p():
    assert format_p(1e-30) == "p < 0.001" and format_p(0.004) == "p = 0.004" and format_p(0.48) == "p = 0.5"


@pytest.mark.slow
def test_natural_patches_x300_30_unblurred_give_exactly_one_circle():
    a = Analysis()
    b = a.barcode(a.dense(a.natural(15000), DensityParams(300, 30.0)), PersistenceParams())
    p = b.pvalues(1)
    assert b.h1_significant == 1 and p[0] < 0.001 and p[1] > ALPHA
    lengths = b.bars(1)[:, 1] - b.bars(1)[:, 0]
    assert lengths[0] > 0.8 and lengths[1] < 0.3  # the primary circle, then noise


@pytest.mark.slow
def test_a_fresh_ensemble_has_one_circle_and_its_untrained_snapshot_none(tmp_path):
    """8 small CNNs trained 300 steps on the bundled digits (the shipped run's recipe, fewer networks
    and steps): layer 1 gives exactly one significant H1 bar; the same networks at step 0 none."""
    from tdacnn.weights import WeightSet

    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "tdacnn.cli", "train", "--dataset", "digits", "--networks", "8",
                        "--iterations", "300", "--optimizer", "adamw", "--lr", "0.003", "--weight-decay", "1.0",
                        "--conv1", "32", "--conv2", "32", "--snapshots", "0,300", "--out", str(run), "--quiet"],
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stderr
    a, ws = Analysis(), WeightSet.load(run)
    verdicts = {}
    for it in (0, 300):
        cloud = a.cloud(ws, CloudParams(layer=1, iteration=it))
        b = a.barcode(a.dense(cloud, a.suggest(cloud)[0]), PersistenceParams())
        verdicts[it] = (b.h1_significant, float(b.pvalues(1)[0]))
    assert verdicts[300][0] == 1 and verdicts[300][1] < 0.01, verdicts
    assert verdicts[0][0] == 0 and verdicts[0][1] > ALPHA, verdicts


def test_titles_say_what_the_verdict_means_and_the_diagram_draws_the_threshold():
    from tdacnn.view.figures import barcode_figure, diagram_figure, verdict_title

    rng = np.random.default_rng(5)
    b = assessed(ring(rng, 600, 0, 1))
    assert verdict_title(b) == "1 circle, p < 0.001 against random filters"
    assert barcode_figure(b).layout.title.text == verdict_title(b)
    fig = diagram_figure(b)
    (line,) = [t for t in fig.data if t.name and t.name.startswith("H1 threshold")]
    t = b.meta["significance"]["thresholds"][1]
    np.testing.assert_allclose(np.diff(line.x), np.diff(line.y))  # slope 1: death = birth + t
    assert line.y[0] == pytest.approx(t) and line.x[0] == 0
    lengths = b.bars(1)[:, 1] - b.bars(1)[:, 0]
    assert lengths[0] > t > lengths[1]  # the one significant bar lies above the line, the next below
    noise = assessed(np.random.default_rng(3).standard_normal((300, 3, 3)), density=DensityParams(5, 50.0))
    title = verdict_title(noise)
    assert title.startswith("no circle (longest bar p = ") and title.endswith("against random filters)")
