"""Read an HDF5-based weight file once in a child process, with limits, before tdacnn opens it itself.

HDF5 is a C library: a damaged or hostile file can make it loop for ever (a
corrupted global heap does, in the fuzz tests) or crash, and no Python code
can interrupt it there.  So :func:`vet` has a child process (the same Python,
``numpy``/``h5py`` only) open the file with the very code tdacnn uses
(:mod:`tdacnn.nets.safeload_keras`) and read every conv weight the budget
allows, under a CPU-time limit, a wall-clock alarm (it ends even if its parent
is gone) and an address-space limit.  A file that passes is opened in-process;
HDF5 is deterministic, so it does the same there.  A file that fails is refused
with the child's own sentence, or one saying it hung or crashed.

Vetted files are remembered by path, size, modification time and inode, so
listing the layers and then reading one spawns one child.  The time limit is
``$TDACNN_H5_TIMEOUT_S`` seconds, else 30 s plus 1 s per 20 MB of file.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

from tdacnn.errors import UserError

__all__ = ["vet", "vet_seconds"]

log = logging.getLogger(__name__)

_REMEMBERED = 256
_vetted: OrderedDict[tuple, None] = OrderedDict()
_lock = threading.Lock()

# How the child ends when a limit stops it: CPU time, the alarm, a kill (POSIX only).
_LIMIT_SIGNALS = {int(getattr(signal, n)) for n in ("SIGXCPU", "SIGALRM", "SIGKILL") if hasattr(signal, n)}

_CHILD = ("import sys; from tdacnn.nets.h5_vet import _child; "
          "sys.exit(_child(sys.argv[1], sys.argv[2], float(sys.argv[3])))")


def vet_seconds(size: int) -> float:
    """Seconds the child may take on a file of ``size`` bytes."""
    text = os.environ.get("TDACNN_H5_TIMEOUT_S", "").strip()
    try:
        value = float(text) if text else 0.0
    except ValueError:
        value = 0.0
    return value if value > 0 else 30.0 + size / 20e6


def vet(path: Path, fmt: str) -> None:
    """Refuse ``path`` unless a child process opened it and read its conv weights within the limits.

    Parameters
    ----------
    path : Path
        A Keras ``.h5``/``.weights.h5`` (``fmt`` ``"keras-h5"``) or ``.keras`` archive (``"keras-zip"``).
    fmt : str

    Raises
    ------
    UserError
        The child's sentence (damaged, hostile, unsupported), or that HDF5 hung or crashed on the file.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, fmt)
    with _lock:
        if key in _vetted:
            _vetted.move_to_end(key)
            return
    seconds = vet_seconds(st.st_size)
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), fmt, str(seconds)], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds + 15)
    except subprocess.TimeoutExpired:
        raise _hung(path, seconds) from None
    said = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode == 2 and said:
        raise UserError(said.splitlines()[0][:600])
    if -proc.returncode in _LIMIT_SIGNALS:
        raise _hung(path, seconds)
    if proc.returncode < 0:
        raise UserError(f"{path.name} is a damaged or hostile HDF5 file (reading it crashed HDF5 with signal "
                        f"{-proc.returncode})")
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no reason given"])[-1]
        raise UserError(f"{path.name} could not be read ({last[:200]})")
    with _lock:
        _vetted[key] = None
        while len(_vetted) > _REMEMBERED:
            _vetted.popitem(last=False)


def _hung(path: Path, seconds: float) -> UserError:
    return UserError(f"{path.name}: HDF5 did not finish reading it in {seconds:.0f} s; it is damaged or hostile "
                     "(TDACNN_H5_TIMEOUT_S allows more time)")


def _child(path: str, fmt: str, seconds: float) -> int:
    """In the child: open ``path`` as tdacnn does and read each conv weight; 0, or 2 with the sentence."""
    from tdacnn.limits import file_budget

    budget = file_budget()
    memory = 2 * budget + 3 * 2**30
    try:
        import resource

        cpu = int(seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        signal.alarm(int(seconds) + 5)  # the default SIGALRM action ends the process, in C code too
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, AttributeError, ValueError, OSError):  # not POSIX, or a lower hard limit: the parent's
        pass  # timeout still holds

    import numpy as np

    from tdacnn.nets.safeload_keras import _open_h5_file, _open_zip_file

    opener = _open_zip_file if fmt == "keras-zip" else _open_h5_file
    try:
        with opener(Path(path), fmt) as src:  # type: ignore[arg-type]
            for name in src.names:
                nbytes = int(np.prod(src.shapes[name], dtype=np.int64)) * src.itemsizes.get(name, 4)
                if nbytes <= budget:  # past the budget tdacnn refuses to read it anyway
                    src._getter(name)  # type: ignore[misc]
    except UserError as exc:
        sys.stdout.write(str(exc))
        return 2
    except MemoryError:
        sys.stdout.write(f"{Path(path).name} needs more than {memory // 2**20} MiB of memory to read; "
                         "it is damaged or hostile")
        return 2
    except Exception as exc:  # noqa: BLE001 - HDF5 errors while reading the data
        from tdacnn.nets.tensor_source import _first_line

        sys.stdout.write(f"{Path(path).name} is a damaged HDF5 file ({_first_line(exc)})")
        return 2
    return 0
