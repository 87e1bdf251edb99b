"""Density on a seeded sample of a huge cloud (``DensityParams.max_points``): deterministic,
honoured, recorded, and invisible on clouds under the limit."""

import pickle

import numpy as np
import pytest

from tdacnn.analysis import Analysis
from tdacnn.errors import UserError
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.density import knn_table, sample_indices
from tdacnn.topology.params import MAX_POINTS, DensityParams, check_against_cloud
from tdacnn.topology.points import normalize


def _cloud(n: int, seed: int = 0) -> PointCloud:
    pts = normalize(np.random.default_rng(seed).normal(size=(n, 9)))[0]
    return PointCloud(pts, (3, 3), {"out_channel": np.arange(n)})


def test_sample_is_seeded_sorted_and_honours_max_points():
    a = sample_indices(10_000, 700, seed=3)
    assert a.shape == (700,) and a.dtype == np.int64
    assert np.array_equal(a, sample_indices(10_000, 700, seed=3))  # same seed, same rows
    assert not np.array_equal(a, sample_indices(10_000, 700, seed=4))
    assert np.all(np.diff(a) > 0) and a[0] >= 0 and a[-1] < 10_000  # sorted, distinct, in range
    assert sample_indices(700, 700) is None and sample_indices(10, 700) is None
    assert sample_indices(10_000, None) is None


def test_dense_on_a_sample_indexes_the_whole_cloud():
    cloud = _cloud(3000)
    params = DensityParams(k=20, p=25, max_points=800, seed=1)
    d = Analysis().dense(cloud, params)
    rows = sample_indices(3000, 800, seed=1)
    assert (d.n_parent, d.n_sampled, len(d)) == (3000, 800, 200)
    assert d.sampled and d.params.max_points == 800
    assert np.isin(d.indices, rows).all()  # kept points come from the sample
    np.testing.assert_array_equal(d.cloud.points, cloud.points[d.indices])
    np.testing.assert_array_equal(d.cloud.provenance["out_channel"], d.indices)  # provenance follows
    # the codensity is the k-th neighbour distance within the sample, not within the whole cloud
    in_sample = knn_table(cloud.points[rows], 20)[:, 19]
    np.testing.assert_allclose(d.codensity, in_sample[np.searchsorted(rows, d.indices)])
    assert d.describe() == "3,000 points → 800 sampled → 200 densest kept (k = 20, p = 25 %)"


def test_cloud_under_max_points_gives_the_same_result_as_no_sample():
    cloud = _cloud(1500)
    a = Analysis()
    with_limit = a.dense(cloud, DensityParams(k=30, p=40))  # default max_points, above 1,500
    without = a.dense(cloud, DensityParams(k=30, p=40, max_points=None))
    assert MAX_POINTS > 1500 and not with_limit.sampled and with_limit.n_sampled == 1500
    np.testing.assert_array_equal(with_limit.indices, without.indices)
    np.testing.assert_array_equal(with_limit.codensity, without.codensity)
    cod = knn_table(cloud.points, 30)[:, 29]
    np.testing.assert_array_equal(without.indices, np.sort(np.argsort(cod, kind="stable")[:600]))
    assert "sampled" not in with_limit.describe()


def test_stored_neighbour_table_is_the_samples_not_the_clouds():
    """Memory: the k-NN table (the big intermediate) has max_points rows, whatever the cloud's size."""
    cloud = _cloud(20_000)
    a = Analysis()
    d = a.dense(cloud, DensityParams(k=10, p=10, max_points=1000))
    tables = [v for key, v in a.store.items() if key.startswith("knn:")]
    assert len(tables) == 1 and tables[0].shape == (1000, 300)
    assert len(d.cloud) == 100 and len(pickle.dumps(d)) < 100 * 9 * 8 * 3 + 10_000


def test_query_in_chunks_gives_the_same_table():
    x = _cloud(1200).points
    np.testing.assert_array_equal(knn_table(x, 25, chunk=100), knn_table(x, 25))


def test_k_is_checked_against_the_sample():
    check_against_cloud(50_000, DensityParams(k=300, max_points=1000))
    with pytest.raises(UserError, match=r"k = 1000 must be smaller than the number of sampled points \(1,000 of "
                                        r"50,000; raise max_points or lower k\)"):
        check_against_cloud(50_000, DensityParams(k=1000, max_points=1000))
    with pytest.raises(UserError, match=r"must be smaller than the number of points \(500\)"):
        check_against_cloud(500, DensityParams(k=500, max_points=1000))


@pytest.mark.parametrize("bad", [1, 0, -5, 2.5, True, "all"])
def test_max_points_is_validated(bad):
    with pytest.raises(UserError, match="max_points"):
        DensityParams(max_points=bad)


def test_sample_parameters_change_the_key_and_the_rows():
    cloud = _cloud(2000)
    a = Analysis()
    p0, p1 = DensityParams(k=10, max_points=500, seed=0), DensityParams(k=10, max_points=500, seed=1)
    assert p0.key() != p1.key() != DensityParams(k=10, max_points=None).key()
    assert not np.array_equal(a.dense(cloud, p0).indices, a.dense(cloud, p1).indices)
    np.testing.assert_array_equal(a.dense(cloud, p0).indices, Analysis().dense(cloud, p0).indices)


def test_progress_is_told_of_each_computed_stage_once():
    cloud = _cloud(2000)
    seen: list[str] = []
    a = Analysis(progress=seen.append)
    a.dense(cloud, DensityParams(k=10, max_points=500))
    assert seen == ["k-NN distances of 500 points (k ≤ 300)"]
    a.dense(cloud, DensityParams(k=10, max_points=500))  # cached: nothing to report
    a.dense(cloud, DensityParams(k=20, max_points=500))  # same table, a new k: nothing slow
    assert len(seen) == 1


def test_a_failing_progress_display_does_not_stop_the_analysis():
    def broken(message):
        raise RuntimeError("display gone")

    d = Analysis(progress=broken).dense(_cloud(600), DensityParams(k=10))
    assert len(d) == 180


def test_cloud_key_is_computed_once_and_survives_pickling(monkeypatch):
    cloud = _cloud(500)
    key = cloud.key()
    monkeypatch.setattr(PointCloud, "_hash", lambda self: pytest.fail("hashed twice"))
    assert cloud.key() == key
    assert pickle.loads(pickle.dumps(cloud)).key() == key
    assert cloud.subset(np.arange(10)).__dict__.get("_key") is None  # a new cloud gets its own key


def test_reporting_sends_one_threads_stages_to_its_own_display():
    import threading

    a = Analysis()
    mine: list[str] = []
    with a.reporting(mine.append):
        thread = threading.Thread(target=lambda: a.dense(_cloud(900, seed=1), DensityParams(k=10)))
        thread.start()
        thread.join()  # another thread's stage: not mine
        a.dense(_cloud(800), DensityParams(k=10))
    a.dense(_cloud(700), DensityParams(k=10))  # after the block: nobody's
    assert mine == ["k-NN distances of 800 points (k ≤ 300)"]
