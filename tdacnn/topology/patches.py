"""Natural-image 3×3 patches, the reference cloud of Carlsson et al. (2008).

Patches are sampled from the grayscale versions of the photographs bundled
with scikit-image and scikit-learn (:data:`PHOTOS`), following the 2008 recipe:
log intensity, keep the 20 % of patches with the largest *D-norm* (the sum of
squared differences of 4-adjacent pixels, i.e. the high-contrast ones), then
mean-centre and normalise like any filter.

Pre-blur
--------
These are 8-bit, partly JPEG-compressed photos, not the calibrated van Hateren
images of the paper; quantisation and block artefacts put extra mass off the
primary circle.  ``blur_sigma`` (pixels, default 0 = off) applies a Gaussian
blur to each image *before* the log and the sampling.  A light blur (σ ≈ 0.6)
makes the dense core a single clear primary circle at large k; leave it at 0 to
see the raw photos.
"""

from __future__ import annotations

import logging

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.points import normalize

__all__ = ["PHOTOS", "load_photos", "d_norm", "sample_patches", "natural_patches"]

log = logging.getLogger(__name__)

#: Bundled photographs used: ``skimage.data`` function names, and ``sklearn:<file>``.
PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon", "grass", "gravel", "brick",
          "motorcycle", "sklearn:china.jpg", "sklearn:flower.jpg")

#: Index pairs (i, j) of 4-adjacent pixels in a row-major 3×3 patch (12 pairs).
_ADJ = [(r * 3 + c, r * 3 + c + 1) for r in range(3) for c in range(2)] + \
       [(r * 3 + c, (r + 1) * 3 + c) for r in range(2) for c in range(3)]


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.2125, 0.7154, 0.0721])  # skimage's rgb2gray weights
    return img


def load_photos(names=PHOTOS) -> list[tuple[str, np.ndarray]]:
    """The bundled photos as grayscale float arrays in the 0..255 range.

    Photos that cannot be loaded (an older library) are skipped with a warning.
    """
    import skimage.data as skd

    out = []
    sk_images = None
    for name in names:
        try:
            if name.startswith("sklearn:"):
                if sk_images is None:
                    from sklearn.datasets import load_sample_images

                    ds = load_sample_images()
                    sk_images = {f.rsplit("/", 1)[-1]: im for f, im in zip(ds.filenames, ds.images)}
                img = sk_images[name.split(":", 1)[1]]
            elif name == "motorcycle":
                img = skd.stereo_motorcycle()[0]
            else:
                img = getattr(skd, name)()
        except Exception as exc:  # noqa: BLE001 - a missing photo only shrinks the sample
            log.warning("photo %s not available (%s); skipped", name, exc)
            continue
        out.append((name, _gray(img)))
    if not out:
        raise UserError("none of the bundled photos could be loaded (scikit-image / scikit-learn data missing)")
    return out


def d_norm(patches: np.ndarray) -> np.ndarray:
    """D-norm of 3×3 patches: sqrt of the sum of squared 4-adjacent differences.

    Parameters
    ----------
    patches : ndarray of shape (n, 9)

    Returns
    -------
    ndarray of shape (n,)
    """
    i, j = np.array(_ADJ).T
    return np.sqrt(np.sum((patches[:, i] - patches[:, j]) ** 2, axis=1))


def sample_patches(img: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random 3×3 patches (rows of 9, row-major) from a 2-D image, without replacement."""
    h, w = img.shape
    total = (h - 2) * (w - 2)
    flat = rng.choice(total, size=min(n, total), replace=False)
    r, c = np.divmod(flat, w - 2)
    dr, dc = np.divmod(np.arange(9), 3)
    return img[r[:, None] + dr, c[:, None] + dc]


def natural_patches(n_patches: int = 15000, blur_sigma: float = 0.0, seed: int = 0,
                    top_fraction: float = 0.2, photos=PHOTOS) -> PointCloud:
    """High-contrast 3×3 patches of the bundled photos, normalised.

    Parameters
    ----------
    n_patches : int
        Size of the returned cloud; ``n_patches / top_fraction`` patches are
        sampled, spread evenly over the photos.
    blur_sigma : float
        Gaussian pre-blur in pixels applied to each photo before the log (0: none).
    seed : int
    top_fraction : float
        Keep this fraction of sampled patches with the largest D-norm (0.2 in the paper).

    Returns
    -------
    PointCloud
        ``kernel_shape`` (3, 3); provenance ``network`` is the photo's index in
        ``meta``-less form (its position in ``photos``), the other fields -1.
    """
    if not (isinstance(n_patches, int) and n_patches >= 1):
        raise UserError(f"n_patches must be a positive integer; got {n_patches!r}")
    if not (0 <= blur_sigma <= 10):
        raise UserError(f"blur sigma must be between 0 and 10 pixels; got {blur_sigma!r}")
    if not 0 < top_fraction <= 1:
        raise UserError(f"top_fraction must be in (0, 1]; got {top_fraction!r}")
    rng = np.random.default_rng(seed)
    images = load_photos(photos)
    per_image = int(np.ceil(n_patches / top_fraction / len(images)))
    chunks, owner = [], []
    for i, (name, img) in enumerate(images):
        if blur_sigma > 0:
            from scipy.ndimage import gaussian_filter

            img = gaussian_filter(img, blur_sigma)
        logimg = np.log1p(img)  # log intensity; +1 keeps black pixels finite
        p = sample_patches(logimg, per_image, rng)
        chunks.append(p)
        owner.append(np.full(len(p), i))
    raw = np.concatenate(chunks)
    owner = np.concatenate(owner)
    dn = d_norm(raw)
    n_top = min(int(round(top_fraction * len(raw))), len(raw))
    top = np.argsort(-dn, kind="stable")[:n_top]
    top = top[dn[top] > 0]
    if len(top) > n_patches:
        top = np.sort(rng.choice(top, size=n_patches, replace=False))
    points, keep = normalize(raw[top])
    source = (f"natural 3x3 patches of {len(images)} bundled photos (top {top_fraction:.0%} by D-norm, "
              f"blur sigma {blur_sigma:g} px, seed {seed})")
    return PointCloud(points, (3, 3), {"network": owner[top][keep]}, int((~keep).sum()), source)
