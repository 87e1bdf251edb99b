"""The malloc settings of the trainer: freed step buffers are reused, not page-faulted in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tdacnn.training.allocator import keep_freed_memory

# three 11 MB buffers per "step", like conv1's output, its gradient and the pooling's input gradient
PROGRAM = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from tdacnn.training.allocator import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # idempotent
def step():
    arrays = [np.ones(1_400_000) for _ in range(3)]
    del arrays
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def page_faults_per_step(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings exist on Linux only")
def test_freed_buffers_are_reused_without_page_faults():
    assert keep_freed_memory()
    plain, tuned = page_faults_per_step("plain"), page_faults_per_step("tuned")
    assert plain > 500  # glibc's defaults give the 33 MB back and fault it in again every step
    assert tuned < 5
