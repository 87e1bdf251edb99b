"""The null of a significance test, computed in a child process: ``python -m tdacnn.topology.null_process``.

The web app tests a barcode's bars in the background while it serves pages.  In a
thread of the web process that test slowed every request (ripser.py and giotto-ph hold
the GIL while they compute), and a crash inside them would end the server (giotto-ph's
multi-threaded ripser once did).  :func:`null_lengths_in_child` runs
:func:`tdacnn.topology.significance.null_lengths` in a child instead:

* the child reads the :class:`~tdacnn.topology.significance.NullSpec` as JSON on stdin
  and writes the null's arrays as an ``.npz`` on stdout (read with ``allow_pickle=False``);
* it is spawned (never forked) with ``close_fds``, so it holds none of the server's
  sockets; it runs at a lower priority with one BLAS thread, so the server keeps a core;
* it dies with its parent, ``kill -9`` of the app included
  (:func:`tdacnn.lifeline.die_with_parent`; the signal follows the thread that started
  the child, which waits for it here, so it always outlives the child);
* its crash is an exception here (:class:`NullProcessError`) with the signal or status
  and the end of its error output, never the end of the caller.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np

from tdacnn.lifeline import child_env
from tdacnn.topology.significance import NullSpec, null_lengths

__all__ = ["null_lengths_in_child", "NullProcessError", "NICENESS"]

#: How much lower the child's scheduling priority is than the caller's.
NICENESS = 5


class NullProcessError(RuntimeError):
    """The child computing a null ended without an answer."""


def null_lengths_in_child(spec: NullSpec) -> tuple[np.ndarray, ...]:
    """:func:`~tdacnn.topology.significance.null_lengths` of ``spec``, computed in a child process.

    Raises
    ------
    NullProcessError
        The child was killed or failed (the message says how).
    """
    env = child_env(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "tdacnn.topology.null_process"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
    try:
        out, err = proc.communicate(json.dumps(spec.to_dict()).encode())
    finally:
        if proc.poll() is None:  # the caller was interrupted: the child must not outlive it
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        how = (f"was killed by {signal.Signals(-proc.returncode).name} (signal {-proc.returncode})"
               if proc.returncode < 0 else f"ended with status {proc.returncode}")
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise NullProcessError(f"the significance test's process {how}" + (f": {tail[0][:300]}" if tail[0] else ""))
    with np.load(io.BytesIO(out), allow_pickle=False) as npz:
        return tuple(npz[f"h{d}"] for d in range(spec.persistence.maxdim + 1))


def main() -> int:
    from tdacnn.lifeline import die_with_parent
    from tdacnn.topology.blas import pin_one_blas_thread

    die_with_parent()
    os.nice(NICENESS)
    pin_one_blas_thread()
    spec = NullSpec.from_dict(json.loads(sys.stdin.buffer.read()))
    buffer = io.BytesIO()
    np.savez(buffer, **{f"h{d}": lengths for d, lengths in enumerate(null_lengths(spec))})
    sys.stdout.buffer.write(buffer.getvalue())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
