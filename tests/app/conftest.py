"""Fixtures for the app tests: synthetic runs, the real app in a subprocess, a headless browser.

Reusable by other app tests (e.g. tests/app/test_browser_jobs.py):

- ``start_app(home, env=None)``: context manager; runs ``python app.py`` on a free
  127.0.0.1 port with ``TDACNN_HOME=home`` and yields the base URL.
- ``app_home`` (module scope): a fresh data directory with a small synthetic run
  ``run:synthetic`` (40 "networks" of gradient filters at 3 iterations); override it
  in a test module to start the app on other data.
- ``live_app`` (module scope): the base URL of the app started on ``app_home``.
- ``browser`` and ``page`` come from tests/conftest.py (one Playwright for the whole session).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tdacnn.weights import WeightEntry, WeightSet

REPO = Path(__file__).resolve().parents[2]
#: Where browser tests write screenshots: the README's folder when asked
#: (``TDACNN_REFRESH_SCREENSHOTS=1 bash scripts/test.sh tests/app``), else a scratch folder,
#: so that an ordinary test run leaves the working tree as it was.
SCREENSHOTS = (REPO / "docs" / "screenshots" if os.environ.get("TDACNN_REFRESH_SCREENSHOTS")
               else Path(tempfile.gettempdir()) / "tdacnn-screenshots")


def gradient(theta: float) -> np.ndarray:
    """3x3 linear gradient at angle ``theta``: a point of the primary circle."""
    y, x = np.mgrid[-1:2, -1:2]
    return np.cos(theta) * x + np.sin(theta) * y


def synthetic_weightset(n_networks: int = 40, seed: int = 0) -> WeightSet:
    """Layer 1 (8 out, 1 in) and layer 2 (8 out, 2 in) of edge detectors plus noise that shrinks
    over iterations 0, 100, 500: at the last iteration the filters lie near the primary circle."""
    rng = np.random.default_rng(seed)
    entries = []
    for net in range(n_networks):
        for it, noise in ((0, 2.0), (100, 0.6), (500, 0.25)):
            w1 = np.stack([gradient(rng.uniform(0, 2 * np.pi))[None] + noise * rng.normal(size=(1, 3, 3))
                           for _ in range(8)])
            w2 = np.stack([np.stack([gradient(rng.uniform(0, 2 * np.pi)) + noise * rng.normal(size=(3, 3))
                                     for _ in range(2)]) for _ in range(8)])
            entries.append(WeightEntry(net, 1, it, w1, "conv1.weight"))
            entries.append(WeightEntry(net, 2, it, w2, "conv2.weight"))
    return WeightSet(entries, {"dataset": "synthetic", "n_networks": n_networks})


def make_home(path: Path) -> Path:
    """A data directory holding the synthetic run as ``runs/synthetic``."""
    synthetic_weightset().save(path / "runs" / "synthetic")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_app(home: Path, env: dict | None = None, timeout: float = 90.0, args: tuple[str, ...] = ()):
    """Run ``python app.py [args]`` on a free port with ``TDACNN_HOME=home``; yield its base URL.

    The server runs in its own process group, which is ended (with the background
    job processes it forked) when the context exits.
    """
    port = free_port()
    log = open(Path(home) / f"app-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *args], cwd=REPO,
                            env={**os.environ, "TDACNN_HOME": str(home), **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app did not answer within {timeout:.0f} s; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        died = proc.poll()  # the app ended before we ended it: a crash, to be reported with its log
        stop_group(proc, grace=10)
        log.close()
    if died is not None:
        tail = Path(log.name).read_text(errors="replace")[-4000:]
        raise AssertionError(f"the app exited on its own (status {died}) while tests used it; "
                             f"the end of its log {log.name}:\n{tail}")


def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """End a process started with ``start_new_session``, and its group: SIGTERM, then SIGKILL after ``grace`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def synthetic_home(tmp_path, monkeypatch) -> Path:
    """TDACNN_HOME for in-process tests, with the synthetic run; services reset around the test."""
    from tdacnn.app import services

    home = make_home(tmp_path / "home")
    monkeypatch.setenv("TDACNN_HOME", str(home))
    services.reset()
    yield home
    services.reset()


@pytest.fixture(scope="module")
def app_home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def live_app(app_home):
    with start_app(app_home) as url:
        yield url


