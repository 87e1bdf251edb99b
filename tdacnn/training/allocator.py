"""Keep freed memory in the process instead of giving it back to the kernel.

A training step of the paper's MNIST network allocates and frees the same
tensors every step, the largest ~11 MB (batch 64 x 64 channels x 26 x 26
floats for conv1's output and its gradient).  glibc's ``malloc`` serves blocks
that size with ``mmap`` or trims them off the top of the heap when freed, so
every step page-faults ~40 MB of fresh zero pages: measured here, one
single-threaded step took 16.7 ms with the default settings and 11.5 ms once
freed memory is kept (``benchmarks/train.py``).  PyTorch's CPU allocator has
no cache of its own, so the fix is glibc's: raise the mmap and trim thresholds.

The cost is that up to :data:`KEEP_BYTES` of freed memory stay with the
training process until it exits, which is why this is called only where
training happens (pool workers, the serial backend), never at import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["keep_freed_memory", "KEEP_BYTES"]

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: largest mmap threshold glibc accepts on 64-bit (larger values are ignored)
_MMAP_THRESHOLD_MAX = 32 << 20
#: freed memory kept at the top of the heap before trimming
KEEP_BYTES = 1 << 30

_done = False


def keep_freed_memory() -> bool:
    """Tune glibc's ``malloc`` for repeated large allocations; idempotent.

    Returns
    -------
    bool
        True when the settings were applied (glibc), False elsewhere (musl,
        macOS, Windows), where this does nothing.
    """
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("no glibc mallopt here; allocator left as it is")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX),
        (_M_TRIM_THRESHOLD, KEEP_BYTES),
        (_M_TOP_PAD, 64 << 20),
    ))
    _done = ok
    return ok
