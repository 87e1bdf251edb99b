"""glibc malloc settings for the training processes the trainer starts.

A training step of the paper's MNIST network allocates and frees the same
tensors every step, the largest ~11 MB (batch 64 x 64 channels x 26 x 26
floats for conv1's output and its gradient).  glibc's ``malloc`` serves blocks
that size with ``mmap`` or trims them off the top of the heap when freed, so
every step page-faults ~40 MB of fresh zero pages: measured, one
single-threaded step took 16.7 ms with the default settings and 11.5 ms once
freed memory is kept (AMD EPYC), 30 and 22 ms (Intel Xeon, loaded machine).
PyTorch's CPU allocator has no cache of its own, so the fix is glibc's: raise
the mmap and trim thresholds.

They are given to a worker process in its environment when it is started
(``GLIBC_TUNABLES``, read by glibc before any allocation), so the process that
calls the trainer keeps its own allocator as it is.  The cost is that up to
:data:`KEEP_BYTES` of freed memory stay with each worker until it exits.
Elsewhere than glibc the variable is ignored.
"""

from __future__ import annotations

import os

__all__ = ["malloc_env", "KEEP_BYTES", "MMAP_THRESHOLD", "TOP_PAD"]

#: freed memory kept at the top of the heap before trimming
KEEP_BYTES = 1 << 30
#: blocks up to this size come from the heap, not ``mmap`` (glibc's largest accepted value on 64-bit)
MMAP_THRESHOLD = 32 << 20
#: extra memory taken from the kernel with each heap extension
TOP_PAD = 64 << 20


def malloc_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables that give a child process these malloc settings.

    Parameters
    ----------
    environ : dict, optional
        The environment the child would otherwise get (default ``os.environ``);
        tunables already set there are kept, ours are appended.

    Returns
    -------
    dict
        ``{"GLIBC_TUNABLES": ...}``, to merge into the child's environment.
    """
    environ = os.environ if environ is None else environ
    ours = (f"glibc.malloc.mmap_threshold={MMAP_THRESHOLD}:glibc.malloc.trim_threshold={KEEP_BYTES}"
            f":glibc.malloc.top_pad={TOP_PAD}")
    before = environ.get("GLIBC_TUNABLES", "")
    return {"GLIBC_TUNABLES": f"{before}:{ours}" if before else ours}
