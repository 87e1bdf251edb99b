"""Real job workers, a real redis-server (nothing mocked).

``redis_url`` starts Debian's ``redis-server`` on a free loopback port (no
persistence) for the session; ``workers`` starts ``python -m tdacnn.jobs.worker``
processes sharing the test's data directory (and Redis, for ``redis_workers``)
and kills them, and everything they started, at the end.  Waits are on visible
state; a wait that times out says what it saw (the job states).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
#: A training far longer than any test: it is always stopped mid-way.
LONG = {"dataset": "digits", "networks": 2, "iterations": 200_000, "conv1": 8, "conv2": 8, "snapshots": "0"}
#: A training that ends in seconds.
TINY = {"dataset": "digits", "networks": 2, "iterations": 12, "snapshots": "0, 6", "conv1": 6, "conv2": 4,
        "seed": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_states() -> str:
    """Every job record, one line each (printed when a wait times out)."""
    from tdacnn.jobs import records

    try:
        return "; ".join(f"{j.id[:8]} {j.kind} {j.state} run {j.attempts} on {j.worker or '-'}: {j.message}"
                         for j in records.all_jobs()) or "no jobs"
    except Exception as exc:  # noqa: BLE001 - a wait's report must not fail
        return f"(job records unreadable: {exc})"


def wait_for(predicate, timeout: float = 180, what: str = "condition", show=job_states, every: float = 0.1):
    """Poll ``predicate`` until it returns something true; on timeout fail with ``show()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {show()}")


def alive(procs) -> list[psutil.Process]:
    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def describe(procs) -> str:
    lines = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            lines.append(f"{p.pid} ({p.status()}): {' '.join(p.cmdline())[:100]}")
    return "; ".join(lines) or "none"


def runner_of(worker: subprocess.Popen) -> psutil.Process | None:
    """The runner process (``tdacnn.jobs.runner``) a worker has started, if any."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(worker.pid).children():
            if "tdacnn.jobs.runner" in " ".join(child.cmdline()):
                return child
    return None


class RedisServer:
    """A redis-server on a loopback port that a test may stop and start again (same port, same folder)."""

    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        self.port, self.workdir, self.persistent = free_port(), workdir, persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      *persistence, "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        import redis

        client = redis.Redis.from_url(self.url)
        wait_for(lambda: self._pings(client) or self.proc.poll() is not None, 30, "redis-server to start",
                 show=lambda: "")
        if self.proc.poll() is not None:
            pytest.fail("redis-server did not start")

    @staticmethod
    def _pings(client) -> bool:
        import redis

        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server not found: install Debian's redis-server (the CI does)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


class Workers:
    """Start and kill ``python -m tdacnn.jobs.worker`` processes for one test."""

    def __init__(self, home: Path, logdir: Path, url: str | None = None) -> None:
        self.home, self.logdir, self.url = home, logdir, url
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict:
        env = {**os.environ, "TDACNN_HOME": str(self.home),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **extra}
        env.pop("REDIS_URL", None)
        if self.url:
            env["REDIS_URL"] = self.url
        return env

    def start(self, name: str = "w", **env: str) -> subprocess.Popen:
        """Start a worker and wait until its heartbeat is in the store."""
        log = open(self.logdir / f"worker-{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.worker"], env=self.env(**env), cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        wait_for(lambda: self.is_up(proc) or proc.poll() is not None, 120, f"worker {name} to start",
                 show=lambda: self.log(name))
        if proc.poll() is not None:
            raise AssertionError(f"worker {name} exited: {self.log(name)}")
        return proc

    def log(self, name: str) -> str:
        return (self.logdir / f"worker-{name}.log").read_text()[-3000:]

    @staticmethod
    def is_up(proc: subprocess.Popen) -> bool:
        from tdacnn.jobs import records

        wid = f"{socket.gethostname()}:{proc.pid}"
        return any(w.get("id") == wid for w in records.live_workers())

    def tree(self, proc: subprocess.Popen) -> list[psutil.Process]:
        """The worker and every process under it."""
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(proc.pid)
            return [p, *p.children(recursive=True)]
        return []

    def kill(self, proc: subprocess.Popen, group: bool = True) -> None:
        """SIGKILL the worker (and, with ``group``, everything in its process group): a crash, not a stop."""
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.procs:
            leftovers = self.tree(proc)
            if proc.poll() is None:
                self.kill(proc)
            for p in alive(leftovers):  # runners are in groups of their own
                with contextlib.suppress(psutil.Error):
                    p.kill()


@pytest.fixture
def jobs_home(tdacnn_home, monkeypatch):
    """A fresh data directory whose job queue is the SQLite file (``REDIS_URL`` unset)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("TDACNN_LOCAL_WORKER", "0")
    return tdacnn_home


@pytest.fixture
def workers(jobs_home, tmp_path):
    """Workers on the SQLite queue of ``jobs_home``."""
    w = Workers(jobs_home, tmp_path)
    yield w
    w.stop_all()


@pytest.fixture
def redis_workers(redis_url, tdacnn_home, tmp_path, monkeypatch):
    """Workers on the session's Redis (emptied first); REDIS_URL set for the test too."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TDACNN_LOCAL_WORKER", "0")
    w = Workers(tdacnn_home, tmp_path, redis_url)
    yield w
    w.stop_all()
