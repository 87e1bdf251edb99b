"""The real app on Celery: ``python app.py`` with ``REDIS_URL`` set uses Dash's
CeleryManager, and ``celery -A app:celery_app worker`` runs the Jobs tab's
background callbacks (training included) with progress shown in the page."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, free_port, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.browser]


@contextlib.contextmanager
def _app(home: Path, redis_url: str):
    port = free_port()
    log = open(home / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "TDACNN_HOME": str(home), "REDIS_URL": redis_url},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def up():
            if proc.poll() is not None:
                raise RuntimeError((home / "app.log").read_text()[-3000:])
            try:
                return urllib.request.urlopen(url + "/", timeout=2).status == 200
            except OSError:
                return False

        wait_for(up, timeout=90, what="app start")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def test_training_from_the_page_runs_on_a_celery_worker(workers, tdacnn_home, redis_url, page):
    tdacnn_home.mkdir(parents=True, exist_ok=True)
    with _app(tdacnn_home, redis_url) as url:
        page.goto(url + "/")
        page.click("text=Jobs")
        page.wait_for_selector("#jobs-train")
        assert "celery" in page.inner_text("#jobs-backend")
        page.fill("#jobs-networks", "2")
        page.fill("#jobs-iterations", "3000")  # a few seconds: long enough to see its progress
        page.fill("#jobs-snapshots", "0, 1500")
        page.fill("#jobs-conv1", "6")
        page.fill("#jobs-conv2", "4")
        page.click("#jobs-train")
        # no worker yet: the job list says it is waiting
        page.wait_for_function(
            "() => { const s = document.querySelector('.jobs-table tr:nth-child(2)');"
            " return s && /queued/.test(s.textContent) && /waiting for a worker/.test(s.textContent); }",
            timeout=30_000)
        worker = workers.start("web", app="app:celery_app")
        page.wait_for_function(
            "() => /iteration \\d+ of 3000/.test(document.querySelector('#jobs-train-status').textContent)",
            timeout=120_000)
        page.wait_for_selector("#jobs-train-result .jobs-done", timeout=180_000)
        run = page.inner_text("#jobs-train-result").removeprefix("done: new run ").strip()
        info = json.loads((tdacnn_home / "runs" / run / "run.json").read_text())
        assert info["status"] == "complete"
        # the background callback ran on the worker (which started the job's own process)
        from tdacnn.jobs.store import JobRegistry

        job = [j for j in JobRegistry().jobs() if j.status == "done"][-1]
        log = (workers.logdir / "worker-web.log").read_text()
        assert "background_callback_" in log and "succeeded" in log
        assert job.pid not in (worker.pid, os.getpid())
        # the same run split in two parts on the worker(s), pooled into one run
        page.fill("#jobs-shards", "2")
        page.click("#jobs-train")
        page.wait_for_function("() => /started as 2 parts/.test(document.querySelector('#jobs-train-error')"
                               ".textContent)", timeout=20_000)
        parent = [j for j in JobRegistry().jobs("train") if j.params.get("shards") == 2][-1]
        final = wait_for(lambda: (j := JobRegistry().get(parent.id)).terminal and j, timeout=180,
                         what="sharded run")
        assert final.status == "done", final.message
        from tdacnn.jobs.sources import load_source

        assert load_source(final.result["source"]).networks() == [0, 1]
        page.wait_for_function("() => /2 shards pooled/.test(document.querySelector('.jobs-table').textContent)",
                               timeout=20_000)
