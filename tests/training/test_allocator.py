"""The trainer's malloc settings: given to the worker processes it starts, never to the caller;
with them, freed step buffers are reused instead of page-faulted in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tdacnn.training.allocator import malloc_env

# three 11 MB buffers per "step", like conv1's output, its gradient and the pooling's input gradient
PROGRAM = """
import resource
import numpy as np
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


def page_faults_per_step(env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings exist on Linux only")
def test_freed_buffers_are_reused_without_page_faults_in_a_child_started_with_them():
    plain_env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    before = dict(os.environ)
    plain, tuned = page_faults_per_step(plain_env), page_faults_per_step({**plain_env, **malloc_env(plain_env)})
    assert plain > 500  # glibc's defaults give the 33 MB back and fault it in again every step
    assert tuned < 5
    assert dict(os.environ) == before  # the calling process is left as it was


def test_tunables_already_set_are_kept():
    env = malloc_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env["GLIBC_TUNABLES"].startswith("glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=")
