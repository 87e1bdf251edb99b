"""Filters and patches to normalised point clouds.

One point per spatial filter slice: a weight tensor of shape (out, in, kh, kw)
gives ``out * in`` points of dimension ``kh * kw`` (channel mode ``"each"``, as in
Gabrielsson & Carlsson), or ``out`` points (``"sum"``, ``"mean"``, or one input
channel ``c``).  Every point is mean-centred and divided by its Euclidean norm;
slices whose centred norm is ~0 (constant filters) are dropped and counted,
never divided by zero.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tdacnn.errors import UserError
from tdacnn.topology.cloud import PointCloud
from tdacnn.topology.params import CloudParams

__all__ = ["filters_to_points", "normalize", "cloud_from_weightset", "cloud_from_array", "load_array",
           "ZERO_NORM_RTOL"]

log = logging.getLogger(__name__)

#: A slice is "constant" when its centred norm is at most this fraction of its raw norm
#: (or exactly 0): float round-off of a constant filter is ~1e-16 relative.
ZERO_NORM_RTOL = 1e-8


def filters_to_points(weight: np.ndarray, channels="each") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten a conv weight into raw (unnormalised) points.

    Parameters
    ----------
    weight : ndarray of shape (out, in, kh, kw)
    channels : {"each", "sum", "mean"} or int
        ``"each"``: every (out, in) slice is a point; ``"sum"``/``"mean"``: one point
        per output channel, summed/averaged over input channels; int ``c``: only
        input channel ``c``.

    Returns
    -------
    raw : ndarray of shape (n, kh * kw)
    out_channel, in_channel : ndarray of shape (n,)
        Provenance; ``in_channel`` is -1 for ``"sum"`` and ``"mean"``.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise UserError(f"a conv weight must have shape (out, in, kh, kw); got {w.shape}")
    n_out, n_in, kh, kw = w.shape
    if channels == "each":
        raw = w.reshape(n_out * n_in, kh * kw)
        out_ch = np.repeat(np.arange(n_out), n_in)
        in_ch = np.tile(np.arange(n_in), n_out)
    elif channels in ("sum", "mean"):
        agg = w.sum(axis=1) if channels == "sum" else w.mean(axis=1)
        raw = agg.reshape(n_out, kh * kw)
        out_ch = np.arange(n_out)
        in_ch = np.full(n_out, -1)
    elif isinstance(channels, (int, np.integer)) and not isinstance(channels, bool):
        c = int(channels)
        if not 0 <= c < n_in:
            raise UserError(f"input channel {c} does not exist: this layer has {n_in} input channels (0..{n_in - 1})")
        raw = w[:, c].reshape(n_out, kh * kw)
        out_ch = np.arange(n_out)
        in_ch = np.full(n_out, c)
    else:
        raise UserError(f"channels must be each, sum, mean or an input-channel number; got {channels!r}")
    return raw, out_ch.astype(np.int64), in_ch.astype(np.int64)


def normalize(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean-centre each row and scale it to unit Euclidean norm.

    Parameters
    ----------
    raw : ndarray of shape (n, d)

    Returns
    -------
    points : ndarray of shape (m, d)
        The kept rows, centred and unit-norm (float64).
    keep : ndarray of bool, shape (n,)
        False for rows whose centred norm is ~0 (``<= ZERO_NORM_RTOL`` times their
        raw norm, or 0); those are dropped, never divided by zero.
    """
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"points must be a 2-D array (n, d); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError("the filters or patches contain NaN or infinite values")
    # scale each row by its largest entry first, so tiny or huge filters neither
    # underflow nor overflow when squared
    scale = np.abs(x).max(axis=1, keepdims=True) if x.size else np.ones((len(x), 1))
    scale[scale == 0] = 1.0
    xs = x / scale
    centred = xs - xs.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    raw_norms = np.linalg.norm(xs, axis=1)
    keep = (norms > 0) & (norms > ZERO_NORM_RTOL * raw_norms)
    return centred[keep] / norms[keep, None], keep


def cloud_from_weightset(ws, params: CloudParams | None = None) -> PointCloud:
    """The point cloud of one layer at one iteration of a :class:`~tdacnn.weights.WeightSet`.

    Parameters
    ----------
    ws : WeightSet
    params : CloudParams
        ``layer`` None means the first layer, ``iteration`` None the last saved one.

    Returns
    -------
    PointCloud
        Points of all networks pooled, provenance (network, layer, iteration,
        out_channel, in_channel) per point; ``n_dropped`` counts constant slices.
    """
    params = params or CloudParams()
    if len(ws) == 0:
        raise UserError("the weight set is empty: no conv weights to analyse")
    layer = params.layer if params.layer is not None else ws.layers()[0]
    try:
        entries = ws.select(layer, params.iteration)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shapes = {e.weight.shape[2:] for e in entries}
    if len(shapes) != 1:
        raise UserError(f"layer {layer} has filters of different sizes {sorted(shapes)}; cannot pool them")
    raws, prov = [], {k: [] for k in ("network", "layer", "iteration", "out_channel", "in_channel")}
    for e in sorted(entries, key=lambda e: e.network):
        raw, out_ch, in_ch = filters_to_points(e.weight, params.channels)
        raws.append(raw)
        prov["network"].append(np.full(len(raw), e.network))
        prov["layer"].append(np.full(len(raw), e.layer))
        prov["iteration"].append(np.full(len(raw), e.iteration))
        prov["out_channel"].append(out_ch)
        prov["in_channel"].append(in_ch)
    raw = np.concatenate(raws)
    points, keep = normalize(raw)
    kh, kw = shapes.pop()
    it = entries[0].iteration
    name = ws.layer_names().get(layer, "")
    source = f"layer {layer}{f' ({name})' if name else ''}, iteration {it}, {len(entries)} network(s)"
    if not keep.all():
        log.info("dropped %d constant filter slices of %d", int((~keep).sum()), len(keep))
    return PointCloud(points, (kh, kw), {k: np.concatenate(v)[keep] for k, v in prov.items()},
                      int((~keep).sum()), source)


def cloud_from_array(arr: np.ndarray, source: str = "") -> PointCloud:
    """A point cloud from an array of filters or patches.

    Parameters
    ----------
    arr : ndarray of shape (n, kh, kw), (n, kh * kw) with a square kh * kw, or (out, in, kh, kw)
        A 4-D array is read as one conv weight (each input-channel slice a point).

    Returns
    -------
    PointCloud
        Provenance ``out_channel`` is the row index for 2-D/3-D input.
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise UserError(f"the array must be numeric; got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 4:
        raw, out_ch, in_ch = filters_to_points(a, "each")
        kh, kw = a.shape[2:]
    elif a.ndim == 3:
        kh, kw = a.shape[1:]
        raw = a.reshape(len(a), kh * kw)
        out_ch, in_ch = np.arange(len(a)), np.full(len(a), -1)
    elif a.ndim == 2:
        side = int(round(np.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise UserError(f"rows of length {a.shape[1]} are not square patches; expected e.g. (n, 9) for 3x3")
        kh = kw = side
        raw = a
        out_ch, in_ch = np.arange(len(a)), np.full(len(a), -1)
    else:
        raise UserError(f"expected filters of shape (n, 3, 3), (n, 9) or (out, in, kh, kw); got {a.shape}")
    if len(raw) == 0:
        raise UserError("the array holds no filters or patches")
    points, keep = normalize(raw)
    prov = {"out_channel": np.asarray(out_ch)[keep], "in_channel": np.asarray(in_ch)[keep]}
    return PointCloud(points, (kh, kw), prov, int((~keep).sum()), source)


def load_array(path: str | Path) -> np.ndarray:
    """Read filters or patches from ``.npy`` or ``.npz`` (never unpickling).

    In an ``.npz`` the array named ``points``, ``filters``, ``patches`` or
    ``weight`` is used, else the only array in it.  Reading goes through
    :func:`tdacnn.nets.safeload.open_tensors` (numpy only, no torch), which checks
    every declared size against the file before reading and refuses object arrays.
    """
    from tdacnn.nets.safeload import open_tensors

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if path.suffix not in (".npy", ".npz"):
        raise UserError(f"{path.name} is not a .npy or .npz file")
    with open_tensors(path) as src:
        names = src.names
        for name in ("points", "filters", "patches", "weight"):
            if name in names:
                return src.get(name)
        if len(names) == 1:
            return src.get(names[0])
        raise UserError(f"{path.name} holds several arrays {names}; name one points, filters or patches")
