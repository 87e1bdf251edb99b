"""A real redis-server and real Celery worker processes (nothing mocked).

``redis_url`` starts Debian's ``redis-server`` on a free loopback port (no
persistence) for the session; ``workers`` starts ``celery worker`` subprocesses
sharing one data directory with the test, and kills them at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server not found: install Debian's redis-server (the CI does)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    t0 = time.time()
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.time() - t0 > 20 or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


class Workers:
    """Start and kill Celery workers for one test."""

    def __init__(self, url: str, home: Path, logdir: Path) -> None:
        self.url, self.home, self.logdir = url, home, logdir
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict:
        return {**os.environ, "REDIS_URL": self.url, "TDACNN_HOME": str(self.home),
                "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **extra}

    def start(self, name: str, app: str = "tdacnn.jobs.celery_app:celery_app", cwd: Path | None = None,
              pool: str = "solo", **env: str) -> subprocess.Popen:
        log = open(self.logdir / f"worker-{name}.log", "w")
        proc = subprocess.Popen(
            [CELERY, "-A", app, "worker", f"--pool={pool}", "--concurrency=1", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "-l", "info"],
            env=self.env(**env), cwd=cwd or ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self._wait_ready(name, proc)
        return proc

    def _wait_ready(self, name: str, proc: subprocess.Popen, timeout: float = 60) -> None:
        path = self.logdir / f"worker-{name}.log"
        t0 = time.time()
        while time.time() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited:\n{path.read_text()[-3000:]}")
            if " ready." in path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {name} not ready:\n{path.read_text()[-3000:]}")

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and everything it started (a crash, not a shutdown)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def workers(redis_url, tdacnn_home, tmp_path, monkeypatch):
    """Worker processes sharing ``tdacnn_home`` with the test; REDIS_URL set for the test too."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_url)
    import tdacnn.jobs.celery_app as ca

    monkeypatch.setattr(ca, "_APP", None)
    w = Workers(redis_url, tdacnn_home, tmp_path)
    yield w
    w.stop_all()


def wait_for(predicate, timeout: float = 120, every: float = 0.2, what: str = "condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
