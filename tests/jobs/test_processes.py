"""Processes that die together: a killed layer leaves no process behind, no port held, and a true job state.

Real processes throughout: the app (``python app.py``), its forked job process, the runner, the
training workers.  Waits are on visible state with generous timeouts (a loaded 2-core machine);
on a timeout the test prints what it saw.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tdacnn.jobs.store import JobRegistry
from tdacnn.jobs.tasks import start_job
from tdacnn.lifeline import release_server_sockets

REPO = Path(__file__).resolve().parents[2]
#: A training that runs far longer than any test: it is always stopped mid-way.
LONG = {"dataset": "digits", "networks": 2, "iterations": 200_000, "conv1": 8, "conv2": 8, "snapshots": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, show=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {show()}")


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def _group(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of group ``pgid``."""
    out = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def _describe(procs: list[psutil.Process]) -> str:
    lines = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            lines.append(f"{p.pid} ({p.status()}): {' '.join(p.cmdline())[:120]}")
    return "; ".join(lines) or "none"


def _kill_all(procs: list[psutil.Process]) -> None:
    for p in _alive(procs):
        with contextlib.suppress(psutil.Error):
            p.kill()


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO,
                            env={**os.environ, "TDACNN_HOME": str(home)}, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _start_background_training(url: str, job_id: str) -> None:
    """What the page does after "Train": the background callback of ``jobs-train-pending``, which
    the server runs in a process forked from itself."""
    body = {"output": "..jobs-train-done.data...jobs-train-result.children..",
            "outputs": [{"id": "jobs-train-done", "property": "data"},
                        {"id": "jobs-train-result", "property": "children"}],
            "inputs": [{"id": "jobs-train-pending", "property": "data", "value": {"id": job_id}}],
            "changedPropIds": ["jobs-train-pending.data"], "state": []}
    request = urllib.request.Request(url + "/_dash-update-component", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert r.status == 200 and b"cacheKey" in r.read()


def _training(registry: JobRegistry, job_id: str):
    job = registry.get(job_id)
    return job is not None and job.status == "running" and "iteration" in job.message and job


def test_kill_9_of_the_app_mid_training_leaves_nothing_and_the_port_serves_again(tmp_path, monkeypatch):
    home, port = tmp_path / "home", _free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("TDACNN_HOME", str(home))  # the registry this test reads is the app's
    registry = JobRegistry(home / "cache" / "jobs")
    app = _serve(home, port, tmp_path / "app.log")
    tree: list[psutil.Process] = []
    again = None
    try:
        _wait(lambda: _answers(url), 120, "the app to serve", lambda: (tmp_path / "app.log").read_text()[-2000:])
        job = start_job("train", LONG, registry)
        _start_background_training(url, job.id)
        _wait(lambda: _training(registry, job.id), 180, "the training to run",
              lambda: f"job: {registry.get(job.id)}")
        app_proc = psutil.Process(app.pid)
        tree = _wait(lambda: (t := app_proc.children(recursive=True)) and len(t) >= 2 and t, 60,
                     "the job process and the runner")
        runner = psutil.Process(registry.get(job.id).pid)
        assert runner in tree and os.getpgid(runner.pid) == runner.pid  # the runner leads a group of its own
        print("process tree before the kill:", _describe(tree))

        os.kill(app.pid, signal.SIGKILL)  # a crash of the web server, mid-job
        app.wait(10)
        t0 = time.monotonic()
        _wait(lambda: not _alive(tree), 30, "every process the app started to end",
              lambda: f"still alive: {_describe(_alive(tree))}; job: {registry.get(job.id)}")
        gone_s = time.monotonic() - t0
        assert not _group(runner.pid), _describe(_group(runner.pid))  # training workers included

        job = registry.get(job.id)
        assert job.status == "interrupted" and "the web server stopped" in job.message, job

        t0 = time.monotonic()
        again = _serve(home, port, tmp_path / "again.log")  # the same port, at once
        _wait(lambda: _answers(url) or again.poll() is not None, 120, "the restarted app to serve")
        assert again.poll() is None, (tmp_path / "again.log").read_text()[-2000:]
        print(f"all processes gone {gone_s:.2f} s after the kill; serving again after {time.monotonic() - t0:.1f} s")
        assert "Address already in use" not in (tmp_path / "again.log").read_text()
        assert registry.get(job.id).status == "interrupted"  # the restart keeps the true state
    finally:
        for proc in (app, again):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        _kill_all(tree)


@pytest.mark.parametrize("how", ["kill -9 of the runner", "cancel"])
def test_a_stopped_job_leaves_no_training_worker_and_a_true_state(tdacnn_home, how):
    from tdacnn.jobs.runner import run_job_isolated

    registry = JobRegistry()
    job = start_job("train", LONG, registry)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(run_job_isolated(job.id, registry=registry, poll_s=0.2)))
    thread.start()
    workers: list[psutil.Process] = []
    try:
        running = _wait(lambda: _training(registry, job.id), 180, "the training to run",
                        lambda: f"job: {registry.get(job.id)}")
        runner = psutil.Process(running.pid)
        workers = [runner, *runner.children(recursive=True)]
        print("runner and its children:", _describe(workers))
        if how == "cancel":
            registry.request_cancel(job.id)  # what the Cancel button asks
        else:
            runner.kill()  # a crash of the job process (segfault, OOM kill)
        thread.join(120)
        assert not thread.is_alive(), f"job: {registry.get(job.id)}"
        if how == "cancel":
            assert result[0].status == "cancelled", result
        else:
            assert result[0].status == "failed" and "stopped unexpectedly (exit status -9)" in result[0].message, result
        _wait(lambda: not _alive(workers), 30, "the training workers to end",
              lambda: f"still alive: {_describe(_alive(workers))}")
        assert not _group(runner.pid), _describe(_group(runner.pid))
    finally:
        registry.request_cancel(job.id)
        thread.join(60)
        _kill_all(workers)


def test_a_forked_child_lets_go_of_the_listening_socket(tmp_path):
    """The port is free once the server closes it, although the forked child lives on (control: without
    the release, the child holds it)."""
    for release in (False, True):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: like a background job forked from the web server
            try:
                if release:
                    release_server_sockets()
                os.write(ready_w, b"x")
                time.sleep(60)
            finally:
                os._exit(0)
        try:
            assert os.read(ready_r, 1) == b"x"
            server.close()
            probe = socket.socket()
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server does
            try:
                probe.bind(("127.0.0.1", port))
                probe.listen()
                bound = True
            except OSError:
                bound = False
            finally:
                probe.close()
            assert bound is release
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(ready_r)
            os.close(ready_w)


_PARENT = r"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env={**os.environ, "TDACNN_PARENT_PID": str(os.getpid())})
print(child.pid, flush=True)
time.sleep(120)
"""
_CHILD = r"""
import time
from tdacnn.lifeline import die_with_parent
assert die_with_parent()  # the parent named in TDACNN_PARENT_PID, as the runner does
time.sleep(120)
"""


def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
    child = None
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        # kill the parent at once: if the child had not asked yet, die_with_parent sees it gone and ends anyway
        parent.kill()
        parent.wait(10)
        _wait(lambda: not _alive([child]), 60, "the child to end", lambda: _describe(_alive([child])))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(10)
        if child is not None:
            _kill_all([child])


def test_die_with_parent_notices_a_parent_already_gone():
    code = "import os\nfrom tdacnn.lifeline import die_with_parent\ndie_with_parent(1)\nprint('still here')"
    # this child's parent is the test process, not pid 1: it must end at once, by SIGKILL
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == -signal.SIGKILL and "still here" not in done.stdout
