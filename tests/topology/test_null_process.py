"""The null of a significance test computed in a child process (the app's way): same numbers, crashes reported."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import psutil
import pytest

from tdacnn.topology.null_process import NullProcessError, null_lengths_in_child
from tdacnn.topology.params import DensityParams, PersistenceParams
from tdacnn.topology.significance import NullSpec, _compute_null, null_spec


def _specs():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(120, 4)) @ np.diag([3.0, 1.0, 0.5, 0.2]) + 1.0  # not on the sphere: a Gaussian null
    return [NullSpec(300, 9, "sphere", PersistenceParams(n_perm=100), DensityParams(k=10, p=50), draws=3),
            null_spec(raw, PersistenceParams(maxdim=2, n_perm=None, thresh=2.5), draws=2)]


@pytest.mark.parametrize("spec", _specs(), ids=["filters", "gaussian-h2"])
def test_the_child_computes_the_very_null_of_this_process(spec):
    assert NullSpec.from_dict(spec.to_dict()) == spec and NullSpec.from_dict(spec.to_dict()).key() == spec.key()
    child = null_lengths_in_child(spec)
    here = _compute_null(spec)
    assert len(child) == spec.persistence.maxdim + 1
    for a, b in zip(child, here):
        assert a.shape == (spec.draws, b.shape[1]) and np.array_equal(a, b)
    assert child[1].max() > 0  # real bars, not an empty answer


def test_an_infinite_threshold_survives_the_json_form():
    spec = _specs()[0]
    assert math.isinf(NullSpec.from_dict(spec.to_dict()).persistence.thresh)


def null_children() -> list[psutil.Process]:
    """This process's children computing a null (also used by the app's callback tests)."""
    return [p for p in psutil.Process().children(recursive=True)
            if "tdacnn.topology.null_process" in " ".join(p.cmdline())]


def started_null_children(timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` s for a child computing a null; those running then (none: the wait ran out)."""
    deadline = time.monotonic() + timeout
    while not null_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return null_children()


def test_a_killed_child_is_an_error_naming_the_signal_and_leaves_nothing():
    spec = NullSpec(3000, 9, "sphere", PersistenceParams(n_perm=400), DensityParams(k=15, p=50), draws=200)
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = null_lengths_in_child(spec)
        except NullProcessError as exc:
            outcome["error"] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    children = started_null_children(60)
    assert children, "no child process was started"
    for p in children:
        p.kill()
    thread.join(60)
    assert not thread.is_alive()
    assert "value" not in outcome and "killed by SIGKILL (signal 9)" in outcome["error"], outcome
    assert not null_children()
