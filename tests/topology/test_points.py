"""Filters to points: channel modes, normalisation, provenance, array sources."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tdacnn.errors import UserError
from tdacnn.topology.params import CloudParams
from tdacnn.topology.points import cloud_from_array, cloud_from_weightset, filters_to_points, load_array, normalize
from tdacnn.weights import WeightSet

W = np.arange(2 * 3 * 3 * 3, dtype=float).reshape(2, 3, 3, 3) ** 1.5  # (out=2, in=3, 3, 3)


@pytest.mark.parametrize("mode, n, in_ch", [("each", 6, [0, 1, 2, 0, 1, 2]), ("sum", 2, [-1, -1]),
                                            ("mean", 2, [-1, -1]), (1, 2, [1, 1])])
def test_channel_modes(mode, n, in_ch):
    raw, out_ch, inc = filters_to_points(W, mode)
    assert raw.shape == (n, 9)
    assert inc.tolist() == in_ch
    if mode == "each":
        assert out_ch.tolist() == [0, 0, 0, 1, 1, 1]
        np.testing.assert_array_equal(raw[4], W[1, 1].ravel())
    elif mode == "sum":
        np.testing.assert_allclose(raw[1], W[1].sum(axis=0).ravel())
    elif mode == "mean":
        np.testing.assert_allclose(raw[0], W[0].mean(axis=0).ravel())
    else:
        np.testing.assert_array_equal(raw[1], W[1, 1].ravel())


def test_channel_out_of_range():
    with pytest.raises(UserError, match="input channel 3 does not exist: this layer has 3 input channels"):
        filters_to_points(W, 3)


def test_normalize_drops_constant_rows_and_counts_them():
    raw = np.array([[1.0] * 9, [0.0] * 9, np.arange(9.0), [2.5] * 9])
    pts, keep = normalize(raw)
    assert keep.tolist() == [False, False, True, False]
    np.testing.assert_allclose(pts[0], (np.arange(9) - 4) / np.linalg.norm(np.arange(9) - 4))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.just(9)),
              elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)))
def test_normalised_points_have_unit_norm_and_zero_mean(raw):
    pts, keep = normalize(raw)
    assert len(pts) == keep.sum()
    assert np.all(np.isfinite(pts))
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(pts.sum(axis=1), 0.0, atol=1e-9)


def test_cloud_from_weightset_keeps_provenance():
    rng = np.random.default_rng(0)
    ws = WeightSet.from_arrays([rng.normal(size=(4, 2, 3, 3)) for _ in range(3)], layer=1, iteration=7)
    ws.entries[1].weight[2, 1] = 0.5  # a constant slice: dropped and counted
    c = cloud_from_weightset(ws, CloudParams(layer=1, channels="each"))
    assert len(c) == 3 * 4 * 2 - 1 and c.n_dropped == 1
    assert c.kernel_shape == (3, 3)
    # the point of network 2, out 3, in 0 is that slice, normalised
    i = np.flatnonzero((c.provenance["network"] == 2) & (c.provenance["out_channel"] == 3)
                       & (c.provenance["in_channel"] == 0))[0]
    f = ws.entries[2].weight[3, 0].ravel()
    np.testing.assert_allclose(c.points[i], (f - f.mean()) / np.linalg.norm(f - f.mean()))
    assert set(c.provenance["iteration"]) == {7} and set(c.provenance["layer"]) == {1}
    assert not ((c.provenance["network"] == 1) & (c.provenance["out_channel"] == 2)
                & (c.provenance["in_channel"] == 1)).any()


def test_cloud_from_weightset_bad_layer():
    ws = WeightSet.from_arrays([np.ones((2, 1, 3, 3))])
    with pytest.raises(UserError, match="layer 4 is not in this weight set"):
        cloud_from_weightset(ws, CloudParams(layer=4))


@pytest.mark.parametrize("shape", [(50, 3, 3), (50, 9)])
def test_cloud_from_array(shape, tmp_path):
    arr = np.random.default_rng(1).normal(size=shape)
    c = cloud_from_array(arr, source="x")
    assert c.points.shape == (50, 9) and c.kernel_shape == (3, 3)
    np.save(tmp_path / "f.npy", arr)
    np.savez(tmp_path / "f.npz", patches=arr)
    np.testing.assert_array_equal(load_array(tmp_path / "f.npy"), arr)
    np.testing.assert_array_equal(load_array(tmp_path / "f.npz"), arr)


@pytest.mark.parametrize("arr, message", [
    (np.zeros((5, 7)), "rows of length 7 are not square patches"),
    (np.zeros((2, 2, 2, 2, 2)), "expected filters of shape"),
    (np.zeros((0, 9)), "holds no filters"),
    (np.array([["a"] * 9]), "must be numeric"),
])
def test_cloud_from_array_errors(arr, message):
    with pytest.raises(UserError, match=message):
        cloud_from_array(arr)


def test_load_array_refuses_pickles(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="holds Python objects"):
        load_array(tmp_path / "o.npy")
