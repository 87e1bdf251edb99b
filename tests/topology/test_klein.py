"""Klein-bottle coordinates: the model's own points recovered, the circles, natural patches, trained filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tdacnn.topology.dct import to_dct
from tdacnn.topology.klein import (NEAR_RADIUS, circle_fractions, klein_coordinates, klein_points,
                                   sample_klein)
from tdacnn.topology.orientation import orientation

REPO = Path(__file__).resolve().parents[2]


def angle_gap(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))


# ---- the model ---------------------------------------------------------------------
def test_model_points_are_the_2008_polynomials():
    # f(x, y) = c (a x + b y)^2 + d (a x + b y) on the 3x3 grid, (a, b) = (cos α, sin α), (c, d) = (sin φ, cos φ)
    y, x = np.mgrid[1:-2:-1, 1:-2:-1]  # x = (1, 0, -1) along the columns, y along the rows
    for alpha, phi in [(0.3, 0.0), (1.2, 0.7), (4.0, -1.1), (2.0, np.pi / 2)]:
        t = np.cos(alpha) * x + np.sin(alpha) * y
        f = (np.sin(phi) * t ** 2 + np.cos(phi) * t).ravel()
        f = f - f.mean()
        np.testing.assert_allclose(klein_points([alpha], [phi])[0], f / np.linalg.norm(f), atol=1e-12)
    pts = klein_points(np.linspace(0, 6, 40), np.linspace(-1.5, 1.5, 40))
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 1.0)
    np.testing.assert_allclose(pts.sum(axis=1), 0.0, atol=1e-12)
    assert np.abs(to_dct(pts)[:, 5:]).max() < 1e-12, "the model lives in the span of e1..e5"


def test_klein_bottle_identification():
    alpha, phi = np.linspace(0, 2 * np.pi, 25), np.linspace(-1.4, 1.4, 25)
    np.testing.assert_allclose(klein_points(alpha + np.pi, np.pi - phi), klein_points(alpha, phi), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_model_points_are_recovered(seed):
    pts, alpha, phi = sample_klein(4000, seed=seed)
    kc = klein_coordinates(pts)
    assert kc.distance.max() < 1e-6
    # away from the lines φ = ±π/2 (where α and α + π are one point) the coordinates are unique
    inner = np.abs(phi) < np.pi / 2 - 1e-3
    assert angle_gap(kc.alpha[inner], alpha[inner]).max() < 1e-6
    assert np.abs(kc.phi[inner] - phi[inner]).max() < 1e-6
    np.testing.assert_allclose(klein_points(kc.alpha, kc.phi), pts, atol=1e-6)
    assert ((kc.alpha >= 0) & (kc.alpha < 2 * np.pi)).all()
    assert (np.abs(kc.phi) <= np.pi / 2 + 1e-12).all()


def test_noisy_model_points_stay_near_their_coordinates():
    pts, alpha, phi = sample_klein(3000, noise=0.02, seed=2)
    kc = klein_coordinates(pts)
    assert np.median(kc.distance) < 0.05 and kc.distance.max() < 0.15
    edgy = np.abs(phi) < 1.0  # the direction of a near-line is ill-defined up to α + π
    assert np.median(angle_gap(kc.alpha[edgy], alpha[edgy])) < 0.05


def test_distance_is_to_the_nearest_model_point():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 9))
    kc = klein_coordinates(x)
    grid_a, grid_p = np.meshgrid(np.linspace(0, 2 * np.pi, 361), np.linspace(-np.pi / 2, np.pi / 2, 181))
    model = klein_points(grid_a.ravel(), grid_p.ravel())
    xn = x - x.mean(axis=1, keepdims=True)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    brute = np.sqrt(np.clip(2 - 2 * (xn @ model.T).max(axis=1), 0, None))
    assert (kc.distance <= brute + 1e-9).all(), "never farther than a fine grid's nearest point"
    assert (brute - kc.distance).max() < 0.01


def test_alpha_is_the_orientation_angle_on_the_primary_circle():
    theta = np.linspace(0, 2 * np.pi, 73)[:-1]
    edges = klein_points(theta, np.zeros_like(theta))
    kc = klein_coordinates(edges)
    assert angle_gap(kc.alpha, orientation(edges)[0]).max() < 1e-6
    assert np.abs(kc.phi).max() < 1e-6 and kc.to_primary.max() < 1e-6


def test_constant_and_empty_inputs():
    kc = klein_coordinates(np.ones((2, 9)))
    assert (kc.distance == 1.0).all()
    empty = circle_fractions(klein_coordinates(np.zeros((0, 9))))
    assert all(np.isnan(v) for v in empty.values())
    with pytest.raises(ValueError, match="3x3"):
        klein_coordinates(np.zeros((3, 25)))


def test_the_model_is_a_klein_bottle_z2_and_z3_differ():
    """Its homology over Z/2 is 1, 2, 1 (H0, H1, H2), over Z/3 1, 1, 0: what the app's Z/2 | Z/3 panel shows."""
    from ripser import ripser

    pts, _, _ = sample_klein(2000, seed=0)
    long = {}
    for p in (2, 3):
        dgms = ripser(pts, maxdim=2, coeff=p, n_perm=100)["dgms"]
        # measured: Z/2 H1 0.60, 0.57, then 0.30; H2 0.57, then 0.25; Z/3 H1 0.59, then 0.31; H2 0.29
        long[p] = [int(np.sum(d[:, 1] - d[:, 0] > 0.45)) for d in dgms[1:]]
    assert long == {2: [2, 1], 3: [1, 0]}


# ---- the fractions ------------------------------------------------------------------
def test_fractions_of_the_circles_and_of_noise():
    theta = np.random.default_rng(0).uniform(0, 2 * np.pi, 500)
    primary = circle_fractions(klein_coordinates(klein_points(theta, np.zeros_like(theta))))
    assert primary["primary"] == 1.0 and primary["median_distance"] < 1e-6
    # the secondary circles away from where they meet the primary: lines and half-lines of the two axes
    phi = np.random.default_rng(1).uniform(0.8, np.pi / 2, 400) * np.where(np.arange(400) % 2, 1, -1)
    axes = np.repeat([0.0, np.pi / 2, np.pi, 3 * np.pi / 2], 100)
    secondary = circle_fractions(klein_coordinates(klein_points(axes, phi)))
    assert secondary["secondary"] == 1.0
    # diagonal lines are on the Klein bottle but on none of the three circles
    diagonal = circle_fractions(klein_coordinates(klein_points(np.full(50, np.pi / 4), np.full(50, np.pi / 2))))
    assert diagonal["other"] == 1.0 and diagonal["median_distance"] < 1e-6
    noise = circle_fractions(klein_coordinates(np.random.default_rng(2).normal(size=(20000, 9))))
    assert noise["other"] > 0.95, noise
    for f in (primary, secondary, diagonal, noise):
        assert f["primary"] + f["secondary"] + f["other"] == pytest.approx(1.0)


def test_near_radius_is_rarely_reached_by_random_filters():
    kc = klein_coordinates(np.random.default_rng(5).normal(size=(50000, 9)))
    near_circles = np.minimum(kc.to_primary, kc.to_secondary) <= NEAR_RADIUS
    assert near_circles.mean() < 0.03
    assert (kc.distance <= NEAR_RADIUS).mean() < 0.08


# ---- real clouds -------------------------------------------------------------------
@pytest.fixture(scope="module")
def natural():
    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import DensityParams

    a = Analysis()
    out = {}
    for blur in (0.0, 0.6):
        cloud = a.natural(15000, blur, 0)
        for k in (300, 15):
            out[k, blur] = circle_fractions(klein_coordinates(a.dense(cloud, DensityParams(k, 30.0)).cloud.points))
    return out


def test_natural_patches_dense_core_is_mostly_primary(natural):
    f = natural[300, 0.0]  # X(300, 30), unblurred: measured 71 % primary, 16 % secondary, 13 % other
    assert f["primary"] > 0.6 and f["primary"] > 3 * f["secondary"], f
    assert f["other"] < 0.2 and f["median_distance"] < 0.25, f
    blurred = natural[300, 0.6]  # measured 99 % primary, median distance 0.09
    assert blurred["primary"] > 0.95 and blurred["median_distance"] < 0.15, blurred


def test_natural_patches_at_small_k_show_the_secondary_circles(natural):
    # X(15, 30): the local density keeps more of the secondary circles (Carlsson et al.'s three-circle model);
    # measured 16 -> 19 % unblurred, 0.8 -> 3.3 % blurred
    for blur in (0.0, 0.6):
        assert natural[15, blur]["secondary"] > natural[300, blur]["secondary"] + 0.01, natural


def test_shipped_run_layer_1_is_mostly_primary():
    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import CloudParams
    from tdacnn.weights import WeightSet

    a = Analysis()
    cloud = a.cloud(WeightSet.load(REPO / "data" / "default-run"), CloudParams(layer=1))
    density, _ = a.suggest(cloud)
    f = circle_fractions(klein_coordinates(a.dense(cloud, density).cloud.points))
    # measured (k = 20, p = 50 %): 56 % primary, 4 % secondary, 40 % other
    assert f["primary"] > 0.5 and f["primary"] > max(f["secondary"], f["other"]), f


def test_vgg16_shaped_random_layer_is_sampled_and_far_from_the_model():
    """A 512×512×3×3 layer at its random initialisation (Kaiming uniform, as torchvision's VGG16):
    262,144 filters, density-filtered on a 20,000 sample; random filters are far from the circles."""
    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import CloudParams
    from tdacnn.weights import WeightEntry, WeightSet

    bound = np.sqrt(6 / (512 * 9))
    w = np.random.default_rng(0).uniform(-bound, bound, (512, 512, 3, 3)).astype(np.float32)
    ws = WeightSet([WeightEntry(0, 1, 0, w, "features.24.weight")], {})
    a = Analysis()
    cloud = a.cloud(ws, CloudParams(layer=1, channels="each"))
    density, _ = a.suggest(cloud)
    dense = a.dense(cloud, density)
    assert len(cloud) == 262144 and len(dense) <= density.max_points
    f = circle_fractions(klein_coordinates(dense.cloud.points))
    assert f["other"] > 0.8 and f["median_distance"] > 0.5, f
