"""The cached staged pipeline: what is recomputed when a parameter moves."""

import pickle

import numpy as np
import pytest

import tdacnn.topology.density as density
from tdacnn.analysis import Analysis, DenseCloud
from tdacnn.errors import UserError
from tdacnn.topology.params import CloudParams, DensityParams, MapperParams, PersistenceParams
from tdacnn.weights import WeightSet


@pytest.fixture
def weightset():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, (20, 8, 3))
    from tdacnn.topology.dct import DCT_BASIS

    w = np.cos(t)[..., None] * DCT_BASIS[0] + np.sin(t)[..., None] * DCT_BASIS[1]
    w = w + rng.normal(0, 0.05, w.shape)
    return WeightSet.from_arrays([wi.reshape(8, 3, 3, 3) for wi in w], layer=1, iteration=100)


@pytest.fixture
def count_knn(monkeypatch):
    calls = []
    real = density.knn_table

    def counting(points, k_max, **kw):
        calls.append(k_max)
        return real(points, k_max, **kw)

    monkeypatch.setattr(density, "knn_table", counting)
    return calls


def test_knn_searched_once_for_any_k_and_p(weightset, count_knn):
    a = Analysis()
    cloud = a.cloud(weightset, CloudParams(layer=1))
    assert len(cloud) == 20 * 8 * 3
    d1 = a.dense(cloud, DensityParams(k=10, p=30))
    d2 = a.dense(cloud, DensityParams(k=50, p=50))
    d3 = a.dense(cloud, DensityParams(k=10, p=10))
    assert count_knn == [300]
    assert len(d1) == 144 and len(d2) == 240 and len(d3) == 48
    assert isinstance(d1, DenseCloud) and d1.cloud.points.shape == (144, 9)
    np.testing.assert_array_equal(d1.cloud.points, cloud.points[d1.indices])
    assert d1.n_parent == len(cloud) and d1.codensity.shape == (144,)
    a.dense(cloud, DensityParams(k=350, p=30))  # beyond k_max: one more search
    a.dense(cloud, DensityParams(k=20, p=30))  # served by the larger table
    assert count_knn == [300, 400]


def test_graph_and_barcode_cached_per_params(weightset, monkeypatch):
    import tdacnn.topology.mapper as mapper

    a = Analysis()
    dense = a.dense(a.cloud(weightset), DensityParams(k=20, p=40))
    lens_calls = []
    real_lens = mapper.compute_lens
    monkeypatch.setattr(mapper, "compute_lens", lambda *args: lens_calls.append(args[2]) or real_lens(*args))
    g1 = a.graph(dense, MapperParams(lens="pca2", n_cubes=5))
    g2 = a.graph(dense, MapperParams(lens="pca2", n_cubes=8))  # cover change: lens reused
    assert lens_calls == ["pca2"]
    assert a.graph(dense, MapperParams(lens="pca2", n_cubes=5)) is g1
    # the cover change gave another graph (its nodes hold other sets of points), not just other parameters
    assert {tuple(n.members) for n in g1.nodes} != {tuple(n.members) for n in g2.nodes}
    b = a.barcode(dense, PersistenceParams(n_perm=100))
    assert a.barcode(dense, PersistenceParams(n_perm=100)) is b
    # the filters were drawn on the primary circle: one bar far beyond random filters, the next not
    assert b.h1_significant == 1 and b.pvalues(1)[0] < 0.001 and b.pvalues(1)[1] > 0.01


def test_diskcache_store_round_trips(weightset, tmp_path, count_knn):
    import diskcache

    with diskcache.Cache(str(tmp_path / "c")) as store:
        a = Analysis(store)
        cloud = a.cloud(weightset)
        dense = a.dense(cloud, DensityParams(k=15, p=30))
        g = a.graph(dense, MapperParams())
        b = a.barcode(dense, PersistenceParams(n_perm=80))
        # one k-NN search of the data, then one per null cloud of the significance test (k itself)
        assert count_knn == [300] + [15] * b.meta["significance"]["draws"]
        searches = len(count_knn)
        # a fresh process (new Analysis) on the same store computes nothing
        a2 = Analysis(store)
        d2 = a2.dense(a2.cloud(weightset), DensityParams(k=15, p=30))
        np.testing.assert_array_equal(d2.indices, dense.indices)
        assert a2.graph(d2, MapperParams()).to_dict() == g.to_dict()
        b2 = a2.barcode(d2, PersistenceParams(n_perm=80))
        assert b2.significant == b.significant and np.array_equal(b2.pvalues(1), b.pvalues(1))
        assert len(count_knn) == searches
    pickle.dumps(dense)


def test_errors(weightset):
    a = Analysis()
    cloud = a.cloud(weightset)
    with pytest.raises(UserError, match="must be smaller than the number of points"):
        a.dense(cloud, DensityParams(k=len(cloud), p=30))
    with pytest.raises(UserError, match="iteration 5 was not saved for layer 1"):
        a.cloud(weightset, CloudParams(iteration=5))


def test_cloud_is_keyed_by_its_own_layer_only(weightset, monkeypatch):
    """A deep network's other layers are neither hashed nor able to make a stored cloud stale."""
    from tdacnn.weights import WeightEntry

    other = np.ones((4, 8, 3, 3))
    ws_a = WeightSet(list(weightset.entries) + [WeightEntry(0, 2, 100, other)])
    ws_b = WeightSet(list(weightset.entries) + [WeightEntry(0, 2, 100, 2 * other)])
    assert ws_a.key(1) == ws_b.key(1) == weightset.key(1) and ws_a.key() != ws_b.key()
    a = Analysis()
    cloud = a.cloud(ws_a, CloudParams(layer=1))
    monkeypatch.setattr("tdacnn.topology.points.cloud_from_weightset", lambda *_: pytest.fail("recomputed"))
    assert a.cloud(ws_b, CloudParams(layer=1)) is cloud


def test_weight_sets_are_saved_uncompressed_and_compressed_ones_still_load(weightset, tmp_path):
    import zipfile

    path = weightset.save(tmp_path / "run")
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert WeightSet.load(path).key() == weightset.key()
    # a file written by an earlier version (deflated) reads the same
    with np.load(path) as z:
        np.savez_compressed(tmp_path / "old.npz", **{k: z[k] for k in z.files})
    assert WeightSet.load(tmp_path / "old.npz").key() == weightset.key()
