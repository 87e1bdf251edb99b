"""Natural-image patches from the bundled photos, end to end."""

import numpy as np
import pytest

from tdacnn.analysis import Analysis
from tdacnn.errors import UserError
from tdacnn.topology.mapper import graph_summary
from tdacnn.topology.orientation import axis_excess, orientation
from tdacnn.topology.params import DensityParams, MapperParams, PersistenceParams
from tdacnn.topology.patches import PHOTOS, d_norm, load_photos, natural_patches


def test_d_norm_of_a_step_edge():
    p = np.array([[0, 0, 1]] * 3, dtype=float).ravel()[None]
    assert d_norm(p)[0] == pytest.approx(np.sqrt(3.0))  # three horizontal unit steps
    assert d_norm(np.ones((1, 9)))[0] == 0.0


def test_photos_are_bundled():
    photos = load_photos()
    assert len(photos) == len(PHOTOS)  # all load offline
    assert all(img.ndim == 2 and img.max() <= 255 + 1e-6 for _, img in photos)


def test_natural_patches_cloud():
    c = natural_patches(2000, seed=1)
    assert c.points.shape == (2000, 9) and c.kernel_shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(c.points, axis=1), 1.0)
    assert "blur sigma 0 px" in c.source
    again = natural_patches(2000, seed=1)
    np.testing.assert_array_equal(c.points, again.points)
    assert set(np.unique(c.provenance["network"])) <= set(range(len(PHOTOS)))
    blurred = natural_patches(2000, blur_sigma=0.6, seed=1)
    assert "blur sigma 0.6 px" in blurred.source
    # blur removes pixel-scale texture: more of each patch is a linear gradient
    assert orientation(blurred.points)[1].mean() > orientation(c.points)[1].mean()


def test_natural_patches_bad_arguments():
    with pytest.raises(UserError, match="blur sigma must be between 0 and 10 pixels"):
        natural_patches(100, blur_sigma=-1)
    with pytest.raises(UserError, match="n_patches must be a positive integer"):
        natural_patches(0)


def test_pipeline_finds_the_primary_circle():
    a = Analysis()
    cloud = a.natural(4000, blur_sigma=0.6, seed=0)
    dense = a.dense(cloud, DensityParams(k=100, p=30))
    assert len(dense) == 1200
    bars = a.barcode(dense, PersistenceParams(n_perm=200))
    assert bars.h1_significant >= 1
    lengths = np.diff(bars.bars(1), axis=1).ravel()
    assert lengths[0] > 3 * lengths[1]  # one dominant loop: the primary circle
    angles, energy = orientation(dense.cloud.points)
    assert energy.mean() > 0.8  # the dense core is made of edges (linear gradients)
    assert axis_excess(angles) > 1.3  # horizontal and vertical edges are over-represented
    g = a.graph(dense, MapperParams(lens="pca2", n_cubes=6, overlap=0.3, clusterer="single", distance_cut=0.4))
    s = graph_summary(g)
    assert s["nodes"] > 10 and s["betti1"] >= 1
