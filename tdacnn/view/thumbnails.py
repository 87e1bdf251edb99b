"""Filters as small grayscale images: PNG bytes and ``data:`` URIs for the browser.

A filter of shape (kh, kw) is drawn with a *symmetric* gray scale: 0 is mid-gray,
``+m`` white and ``-m`` black where ``m = max |filter|``.  So a filter and its
negative are mirror images in gray (a dark-to-light edge and a light-to-dark edge
look different), which a min-max scale would hide.  Pixels are enlarged by
nearest-neighbour repetition so a 3×3 filter stays nine crisp squares.

Encoded thumbnails are cached by content (array bytes + size), so the same mean
filter drawn again on the next slider move costs a dictionary lookup.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import OrderedDict
from threading import Lock

import numpy as np

__all__ = ["filter_to_gray", "filter_png", "filter_data_uri", "decode_data_uri", "clear_cache"]

#: Encoded thumbnails kept in memory (each a few hundred bytes).
_CACHE_SIZE = 20_000
_cache: OrderedDict[bytes, str] = OrderedDict()
_lock = Lock()


def filter_to_gray(filt: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map a filter to 8-bit gray on a symmetric scale.

    Parameters
    ----------
    filt : ndarray of shape (kh, kw)
    scale : float, optional
        Value drawn as white (and ``-scale`` as black); ``max |filt|`` by default.

    Returns
    -------
    ndarray of shape (kh, kw), dtype uint8
        128 where the filter is 0; a constant (all-zero) filter is uniform mid-gray.
    """
    f = np.asarray(filt, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"a filter thumbnail needs a 2-D array (kh, kw); got shape {f.shape}")
    m = float(np.max(np.abs(f))) if scale is None else float(scale)
    if not np.isfinite(m) or m <= 0:
        return np.full(f.shape, 128, dtype=np.uint8)
    g = 127.5 + 127.5 * np.clip(f / m, -1.0, 1.0)
    return np.round(g).astype(np.uint8)


def filter_png(filt: np.ndarray, size: int = 48, scale: float | None = None) -> bytes:
    """PNG bytes of a filter enlarged to about ``size`` pixels per side.

    Each filter entry becomes a block of ``max(1, size // max(kh, kw))`` pixels,
    so the image is exactly ``size`` wide for a square filter whose side divides it.
    """
    from PIL import Image  # optional-heavy: only the view needs Pillow

    gray = filter_to_gray(filt, scale)
    block = max(1, int(size) // max(gray.shape))
    big = np.repeat(np.repeat(gray, block, axis=0), block, axis=1)
    buf = io.BytesIO()
    Image.fromarray(big, mode="L").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def filter_data_uri(filt: np.ndarray, size: int = 48, scale: float | None = None) -> str:
    """``data:image/png;base64,...`` of :func:`filter_png`, cached by content."""
    f = np.ascontiguousarray(np.asarray(filt, dtype=np.float64))
    key = hashlib.blake2b(f.tobytes() + repr((f.shape, size, scale)).encode(), digest_size=16).digest()
    with _lock:
        uri = _cache.get(key)
        if uri is not None:
            _cache.move_to_end(key)
            return uri
    uri = "data:image/png;base64," + base64.b64encode(filter_png(f, size, scale)).decode("ascii")
    with _lock:
        _cache[key] = uri
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return uri


def decode_data_uri(uri: str) -> np.ndarray:
    """The pixels of a PNG data URI as an array (for tests and checks)."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    if not uri.startswith(prefix):
        raise ValueError("not a PNG data URI")
    with Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))) as im:
        return np.asarray(im)


def clear_cache() -> None:
    """Forget all cached thumbnails."""
    with _lock:
        _cache.clear()
