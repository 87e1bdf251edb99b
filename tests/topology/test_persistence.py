"""Barcodes: synthetic truth (significance against the Gaussian null of raw clouds), ripser vs gudhi vs giotto-ph."""

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.topology.params import DensityParams, PersistenceParams, check_against_cloud
from tdacnn.topology.persistence import barcode, diagrams, maxmin_landmarks
from topology._synth import blob, circle, two_circles


@pytest.mark.parametrize("engine", ["ripser", "giotto"])
@pytest.mark.parametrize("make, expected", [(lambda: circle(800), 1), (lambda: two_circles(1200), 2),
                                            (lambda: blob(800), 0)])
def test_significant_h1_bars(engine, make, expected):
    b = barcode(make(), PersistenceParams(n_perm=250), engine=engine)
    assert b.h1_significant == expected
    assert b.meta["significance"]["null"] == "Gaussian noise"  # raw clouds in the plane: not filters
    p = b.pvalues(1)
    assert np.all(p[:expected] <= 0.01) and (expected == len(p) or p[expected] > 0.01)
    assert b.n_landmarks == 250 and b.meta["engine"] == engine


def test_components_count():
    # against a Gaussian of the same covariance, whose outliers leave gaps too: 8 apart is two components,
    # 2 apart (two_circles) is not told from the Gaussian's own gaps
    far = np.vstack([circle(300), circle(300, centre=(10.0, 0.0), seed=1)])
    assert barcode(far, PersistenceParams(n_perm=200)).significant[0] == 2
    assert barcode(circle(600), PersistenceParams(n_perm=200)).significant[0] == 1


def test_ripser_h1_matches_gudhi():
    import gudhi

    x = circle(150, noise=0.08, seed=11)
    ours = diagrams(x, PersistenceParams(n_perm=None), engine="ripser").bars(1)
    st = gudhi.RipsComplex(points=x).create_simplex_tree(max_dimension=2)
    st.compute_persistence()
    ref = st.persistence_intervals_in_dimension(1)
    key = lambda d: d[np.lexsort((d[:, 1], d[:, 0]))]  # noqa: E731
    assert len(ours) == len(ref)
    np.testing.assert_allclose(key(ours), key(ref), atol=1e-5)  # ripser works in float32


def test_giotto_matches_ripser():
    x = np.vstack([circle(300, seed=2), blob(200, seed=3) + [3, 0]])
    a = diagrams(x, PersistenceParams(n_perm=200), engine="ripser")
    b = diagrams(x, PersistenceParams(n_perm=200), engine="giotto")
    for d in (0, 1):
        np.testing.assert_allclose(a.bars(d), b.bars(d), atol=1e-5)


def test_h2_on_request():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(400, 3))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    b = barcode(s, PersistenceParams(maxdim=2, n_perm=120))
    assert len(b.diagrams) == 3 and b.significant[2] == 1 and b.h1_significant == 0


def test_maxmin_landmarks():
    x = circle(500)
    idx, radii = maxmin_landmarks(x, 50)
    assert len(set(idx.tolist())) == 50 and idx[0] == 0
    assert np.all(np.diff(radii[1:]) <= 1e-12)  # covering radius never grows
    # every point is within the last radius of some landmark
    d = np.linalg.norm(x[:, None] - x[idx][None], axis=2).min(axis=1)
    assert d.max() <= radii[-1] + 1e-9


def test_json_round_trip():
    from tdacnn.topology.barcode import Barcode

    b = barcode(circle(200), PersistenceParams(n_perm=80))
    back = Barcode.from_dict(__import__("json").loads(b.to_json()))
    np.testing.assert_allclose(back.bars(1), b.bars(1))
    assert back.significant == b.significant
    for d in (0, 1):
        np.testing.assert_allclose(back.pvalues(d), b.pvalues(d))


@pytest.mark.parametrize("kwargs, message", [
    (dict(maxdim=3), "maxdim must be 0, 1 or 2; got 3"),
    (dict(n_perm=1), r"n_perm \(number of landmarks\) must be an integer ≥ 2; got 1"),
    (dict(thresh=0), "thresh must be positive"),
    (dict(coeff=4), r"coeff must be a prime from 2 to 10007 \(homology over Z/p\); got 4"),
    (dict(coeff=1), "coeff must be a prime"),
    (dict(coeff=10**30), "coeff must be a prime"),
])
def test_parameter_validation(kwargs, message):
    with pytest.raises(UserError, match=message):
        PersistenceParams(**kwargs)


def test_density_validation():
    with pytest.raises(UserError, match="k = 50 must be smaller than the number of points"):
        check_against_cloud(50, DensityParams(k=50))
    with pytest.raises(UserError, match="the point cloud is empty"):
        check_against_cloud(0)
    with pytest.raises(UserError, match=r"p must be a percentage in \(0, 100\]; got 120"):
        DensityParams(p=120)
    with pytest.raises(UserError, match="at least 2 points"):
        barcode(np.zeros((1, 3)))


def test_threshold_keeps_the_circle_significant():
    b = barcode(circle(600), PersistenceParams(n_perm=200, thresh=1.0))
    assert np.isinf(b.bars(1)[0, 1])  # alive at the threshold
    assert b.h1_significant == 1
