"""Decompression bombs for the resource-limit tests: small files that declare huge arrays.

The arrays are zeros streamed through deflate in chunks, so making a file that
declares gigabytes costs a few megabytes of memory (and a few seconds).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

_CHUNK = bytes(16 * 2**20)


def write_zero_npz(path: Path, arrays: dict[str, tuple[tuple[int, ...], str]],
                   extra: dict[str, np.ndarray] | None = None, row: np.ndarray | None = None) -> Path:
    """An ``.npz`` (deflated, like ``np.savez_compressed``) of all-zero arrays of the given shapes and dtypes.

    ``row`` (e.g. one 3×3 filter, in each array's dtype) repeats instead of zeros: every
    filter the same edge detector, which no "all filters are constant" check refuses.
    ``extra`` arrays are written as they are (e.g. a weight set's ``header``).
    """
    from numpy.lib import format as npf

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, (shape, dtype) in arrays.items():
            dt = np.dtype(dtype)
            chunk = _CHUNK
            if row is not None:
                one = np.asarray(row, dtype=dt).tobytes()
                chunk = one * (len(_CHUNK) // len(one))
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                npf.write_array_header_1_0(fh, {"descr": npf.dtype_to_descr(dt), "fortran_order": False,
                                                "shape": tuple(shape)})
                left = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
                while left > 0:
                    n = min(left, len(chunk))
                    fh.write(chunk[:n])
                    left -= n
        for name, arr in (extra or {}).items():
            with zf.open(f"{name}.npy", "w") as fh:
                npf.write_array(fh, np.asarray(arr), allow_pickle=False)
    return path
