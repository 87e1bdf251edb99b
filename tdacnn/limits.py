"""Resource limits: how much one weight file may unpack, and how much memory one analysis may take.

Two numbers, each set from the environment in megabytes (MiB):

``TDACNN_FILE_BUDGET_MB`` (default 512)
    The most tdacnn decompresses or reads into memory from one file, whatever
    its size on disk.  Checked from declared sizes, before any data is read:

    * a zip-based file (``.npz``, a ``torch.save`` zip, a ``.keras`` archive):
      the declared uncompressed sizes of its compressed members, added up
      (:func:`check_archive`); a stored member must declare the size it stores;
    * the tensors read out of one file, added up as they are asked for
      (:class:`~tdacnn.nets.tensor_source.TensorSource`), and a whole old-style
      ``torch.save`` file, which is read at once;
    * a tdacnn weight set (``weights.npz``): all its arrays.

    A real network's conv weights are far smaller (VGG16's 13 conv layers: 56 MiB);
    an 881 KB ``.npz`` declaring 864 MiB of zeros is refused in milliseconds.

``TDACNN_MEMORY_LIMIT_MB`` (default 2048)
    The resident memory the web process may reach with one more analysis: before
    it builds a layer's point cloud, :func:`analysis_memory` estimates the cloud's
    peak (:func:`cloud_bytes`, measured: ~450 bytes a 3×3 point) and refuses, with a
    sentence, when that estimate, the process's current resident memory and what
    analyses running beside it have reserved would go over the limit.

Both refusals are :class:`~tdacnn.errors.UserError` sentences that say how to go
on.  Standard library only (``psutil`` for the resident memory, imported lazily).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

from tdacnn.errors import UserError

__all__ = ["file_budget", "memory_limit", "check_archive", "check_file_read", "cloud_size", "cloud_bytes",
           "analysis_memory", "cloud_memory", "mib"]

log = logging.getLogger(__name__)

DEFAULT_FILE_BUDGET_MB = 512
DEFAULT_MEMORY_LIMIT_MB = 2048

_lock = threading.Lock()
_reserved = [0]  # bytes reserved by analyses running now in this process


def _env_mb(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default * 2**20
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        log.warning("%s=%r is not a positive number of megabytes; using %d", name, text[:20], default)
        return default * 2**20
    return int(value * 2**20)


def file_budget() -> int:
    """Bytes one file may decompress to or be read into memory: ``$TDACNN_FILE_BUDGET_MB`` (512 MiB)."""
    return _env_mb("TDACNN_FILE_BUDGET_MB", DEFAULT_FILE_BUDGET_MB)


def memory_limit() -> int:
    """Resident bytes the web process may reach with one analysis: ``$TDACNN_MEMORY_LIMIT_MB`` (2 GiB)."""
    return _env_mb("TDACNN_MEMORY_LIMIT_MB", DEFAULT_MEMORY_LIMIT_MB)


def mib(nbytes: float) -> str:
    """``"864 MiB"``, ``"12.3 GiB"``: a size for a sentence."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= 10 * scale:
            return f"{nbytes / scale:.0f} {unit}"
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes / 2**20:.2f} MiB"


def _over_budget(name: str, what: str, nbytes: int, budget: int) -> UserError:
    sep = "" if what.startswith((":", ",")) else " "
    return UserError(
        f"{name}{sep}{what} {mib(nbytes)}, over the {mib(budget)} tdacnn unpacks from one file "
        "(a decompression bomb, or a bigger network than expected); "
        "raise TDACNN_FILE_BUDGET_MB on the server to allow it"
    )


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def check_archive(path: Path, zf: zipfile.ZipFile) -> int:
    """Refuse a zip-based file whose members would decompress to more than :func:`file_budget`.

    Reads the central directory only (``zf.infolist()``), never a member's data.

    Parameters
    ----------
    path : Path
        The file (named in the sentence).
    zf : zipfile.ZipFile
        The open archive.

    Returns
    -------
    int
        The declared uncompressed bytes of the compressed members.

    Raises
    ------
    UserError
        A stored member that declares another size than it stores (damaged or
        hostile), or compressed members that add up to more than the budget.
    """
    budget = file_budget()
    inflated = 0
    for info in zf.infolist():
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise UserError(f"{path.name} is a damaged or hostile zip archive (a stored member declares "
                                f"{info.file_size} bytes but holds {info.compress_size})")
        else:
            inflated += info.file_size
    if inflated > budget:
        raise _over_budget(path.name, "would decompress to", inflated, budget)
    return inflated


def check_file_read(path: Path, nbytes: int, what: str = "would read") -> None:
    """Refuse reading ``nbytes`` into memory from ``path`` when that is over :func:`file_budget`.

    Raises
    ------
    UserError
    """
    budget = file_budget()
    if nbytes > budget:
        raise _over_budget(Path(path).name, what, nbytes, budget)


# ---------------------------------------------------------------------------
# analysis memory
# ---------------------------------------------------------------------------
def cloud_size(shapes: Iterable[tuple[int, ...]], channels: str | int = "each") -> tuple[int, int, int]:
    """Points, their dimension and the weights' values for one layer's cloud, from shapes alone.

    Parameters
    ----------
    shapes : iterable of tuple (out, in, kh, kw)
        The weight of each network pooled in the cloud.
    channels : {"each", "sum", "mean"} or int
        As :func:`tdacnn.topology.points.filters_to_points`: ``"each"`` gives
        ``out * in`` points per weight, the others ``out``.

    Returns
    -------
    (n_points, dim, n_values) : tuple of int
    """
    n = values = dim = 0
    for shape in shapes:
        out, inp, kh, kw = (int(s) for s in shape)
        n += out * inp if channels == "each" else out
        values += out * inp * kh * kw
        dim = kh * kw
    return n, dim, values


def cloud_bytes(n_points: int, dim: int, n_values: int = 0) -> int:
    """Estimated peak bytes of building (and storing) a cloud of ``n_points`` points of ``dim`` values.

    Measured on :meth:`tdacnn.analysis.Analysis.cloud` then ``dense`` with a disk store:
    about ``45 * dim + 45`` bytes a point (450 for 3×3, 1,100 for 5×5: float64 copies
    while normalising, provenance, the pickle written to the store); the estimate
    takes ``48 * dim + 64``, plus 8 bytes per weight value (the float64 copy of the
    weights that ``"sum"``/``"mean"`` reduce).  Density and Mapper run on at most
    ``DensityParams.max_points`` sampled points and add little beyond.
    """
    return int(n_points) * (48 * int(dim) + 64) + 8 * int(n_values)


def _rss() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - no psutil, or no /proc: judge the estimate alone
        return 0


@contextlib.contextmanager
def analysis_memory(n_points: int, dim: int, n_values: int = 0, what: str = "this layer",
                    hint: str = "analyse it from the command line (tdacnn analyze), which has no such limit"
                    ) -> Iterator[int]:
    """Reserve memory for building one cloud in this process, or refuse with a sentence.

    The estimate (:func:`cloud_bytes`) is held for the block, so analyses running at
    once in other threads count it.

    Parameters
    ----------
    n_points, dim, n_values : int
        From :func:`cloud_size`.
    what : str
        Names the cloud in the sentence (``"layer 9 with channels each"``).
    hint : str
        What to do instead.

    Yields
    ------
    int
        The bytes reserved.

    Raises
    ------
    UserError
        When resident memory + reserved + the estimate would pass :func:`memory_limit`.
    """
    need = cloud_bytes(n_points, dim, n_values)
    limit = memory_limit()
    with _lock:
        used = _rss() + _reserved[0]
        if used + need > limit:
            free = max(limit - used, 0)
            raise UserError(
                f"{what} has {n_points:,} points: analysing it would take about {mib(need)} of memory, and the "
                f"server allows {mib(limit)} ({mib(free)} free now); {hint}; "
                "TDACNN_MEMORY_LIMIT_MB raises the limit"
            )
        _reserved[0] += need
    try:
        yield need
    finally:
        with _lock:
            _reserved[0] -= need


def cloud_memory(ws, params) -> contextlib.AbstractContextManager[int]:
    """:func:`analysis_memory` for the cloud of ``params`` (a resolved ``CloudParams``) in weight set ``ws``.

    Use as ``with cloud_memory(ws, params): cloud = analysis.cloud(ws, params)``.

    Raises
    ------
    UserError
        When that cloud would take the process past :func:`memory_limit`.
    """
    shapes = [e.weight.shape for e in ws.select(params.layer, params.iteration)]
    n, dim, values = cloud_size(shapes, params.channels)
    hint = "analyse it from the command line (tdacnn analyze), which has no such limit"
    fewer = cloud_size(shapes, "sum")
    if params.channels == "each" and fewer[0] < n and cloud_bytes(*fewer) < memory_limit() // 2:
        hint = "choose channels sum or mean, or one input channel, or " + hint
    return analysis_memory(n, dim, values, f"layer {params.layer} with channels {params.channels}", hint)
