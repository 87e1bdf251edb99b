"""The Jobs tab on a Redis-backed queue: the page's training runs on a worker started apart.

A real ``redis-server`` (no persistence) on a free loopback port; ``python app.py`` with
``REDIS_URL`` set and no worker of its own (``TDACNN_LOCAL_WORKER=0``); a training
submitted from the page waits, saying why, until the test starts
``python -m tdacnn.jobs.worker`` on the same Redis, then runs there to the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port, make_home, start_app, stop_group
from test_browser_jobs import (
    ITERATIONS,
    _completed_runs,
    _open_jobs,
    _tiny_training,
    wait_until,
)

pytestmark = [pytest.mark.redis, pytest.mark.browser]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of our own, without persistence, for this module."""
    import redis

    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server not found: install Debian's redis-server (scripts/test.sh does)")
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@contextlib.contextmanager
def _worker(home: Path, redis_url: str):
    log = open(home / "worker.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.worker"], cwd=REPO,
                            env={**os.environ, "TDACNN_HOME": str(home), "REDIS_URL": redis_url},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc, grace=15)
        log.close()


def test_training_from_the_page_runs_on_a_redis_worker(redis_url, tmp_path, page):
    home = make_home(tmp_path / "home")
    before = _completed_runs(home)
    with start_app(home, env={"REDIS_URL": redis_url, "TDACNN_LOCAL_WORKER": "0"}) as url:
        _open_jobs(page, url)
        _tiny_training(page, iterations=ITERATIONS)
        # no worker yet: the job waits, and the page says so
        wait_until(page, home, "() => { const s = document.querySelector('.jobs-table tr:nth-child(2)');"
                   " return s && /queued/.test(s.textContent); }", "the job to show queued", timeout_s=30)
        wait_until(page, home, "() => /worker/.test(document.querySelector('#jobs-queue-note').textContent)",
                   "the page to say why the job waits", timeout_s=30)
        assert "worker" in page.inner_text("#jobs-train-status").split("(", 1)[-1]
        assert not page.is_disabled("#jobs-cancel")  # a queued training can be cancelled
        with _worker(home, redis_url) as worker:
            wait_until(page, home, f"() => /iteration \\d+ of {ITERATIONS}/.test("
                       "document.querySelector('#jobs-train-status').textContent)", "the training's progress")
            wait_until(page, home, "() => document.querySelector('#jobs-train-result .jobs-done') !== null",
                       "the training to finish", timeout_s=240)
            assert worker.poll() is None
        new = _completed_runs(home) - before
        assert len(new) == 1 and page.inner_text("#jobs-train-result") == f"done: new run {next(iter(new))}"
        info = json.loads((home / "runs" / next(iter(new)) / "run.json").read_text())
        assert info["status"] == "complete"
        assert page.inner_text("#jobs-queue-note") == ""
