"""Production serving: ``gunicorn app:server`` (as the README deploys it) serves the page and the API,
starts the job worker, runs a job to the end, and leaves no process behind when it stops."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "app"))
from _http import Session  # noqa: E402

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ours(home: Path) -> list[psutil.Process]:
    """Live processes started for this data directory (the gunicorn workers, the job worker, its jobs)."""
    found = []
    for proc in psutil.process_iter(["environ", "status"]):
        with contextlib.suppress(psutil.Error):
            if (proc.info["environ"] or {}).get("TDACNN_HOME") == str(home) and proc.info["status"] != "zombie":
                found.append(proc)
    return found


@pytest.fixture
def gunicorn(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TDACNN_LOCAL_WORKER")}
    proc = subprocess.Popen([GUNICORN, "app:server", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                            cwd=REPO, env={**env, "TDACNN_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(url + "/", timeout=5).status == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.3)
        yield url, home, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _wait_done(s: Session, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, job, _ = s.get(f"/api/jobs/{job_id}")
        assert status == 200, job
        if job["state"] in ("done", "failed", "cancelled", "interrupted"):
            return job
        if time.monotonic() > deadline:
            everything = Session(s.base, jar=s.jar).get("/api/jobs")[1]
            raise AssertionError(f"job {job_id} not finished in {timeout:.0f} s; the session's jobs: "
                                 f"{json.dumps(everything)[:3000]}")
        time.sleep(0.5)


def test_gunicorn_serves_the_page_and_the_api_and_runs_jobs(gunicorn, tmp_path):
    url, _home, _proc = gunicorn
    s = Session(url)
    status, html, headers = s.get("/")
    assert status == 200 and '<script id="_dash-config"' in html
    assert headers["Server"] == "tdacnn"  # no name or version of the server software
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert '"dash_version"' not in html and '"python_version"' not in html

    status, job, _ = s.post_json("/api/jobs", {"kind": "train", "dataset": "digits", "networks": 2,
                                                 "iterations": 20})
    assert status == 201, job
    final = _wait_done(s, job["id"])
    assert final["state"] == "done", final
    sources = [src["id"] for src in s.get("/api/sources")[1]["sources"]]
    assert final["result"]["source"] in sources

    ckpt = tmp_path / "filters.npz"
    np.savez(ckpt, **{"conv1.weight": np.random.default_rng(0).normal(size=(8, 1, 3, 3))})
    status, loaded, _ = s.post_file("/api/sources", "filters.npz", ckpt.read_bytes())
    assert status == 201, loaded
    assert loaded["id"].startswith("upload:filters-") and len(loaded["layers"]) == 1
    assert loaded["id"] in [src["id"] for src in s.get("/api/sources")[1]["sources"]]


def test_stopping_gunicorn_ends_the_job_worker(gunicorn):
    _url, home, proc = gunicorn
    deadline = time.monotonic() + 60
    while not any("tdacnn.jobs.worker" in " ".join(p.cmdline()) for p in _ours(home)
                  if p.is_running()):  # the app started its worker
        assert time.monotonic() < deadline, [p.cmdline() for p in _ours(home)]
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGTERM)  # the master only, as a service manager stops it
    proc.wait(30)
    deadline = time.monotonic() + 30
    while _ours(home):
        assert time.monotonic() < deadline, [p.cmdline() for p in _ours(home)]
        time.sleep(0.2)


def test_every_process_registers_the_component_libraries_when_the_app_is_made(tmp_path):
    """gunicorn's processes each serve pages and callbacks before (or without) serving the layout: a
    component library first imported inside a callback is refused by Dash (HTTP 500), and one imported
    after the page was served is missing from its scripts."""
    code = ("from dash.development.base_component import ComponentRegistry; from tdacnn.app import create_app; "
            "create_app(warm=False); print(sorted(ComponentRegistry.registry))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TDACNN_HOME": str(tmp_path)})
    assert out.returncode == 0 and "dash_cytoscape" in out.stdout, out.stdout + out.stderr[-2000:]
