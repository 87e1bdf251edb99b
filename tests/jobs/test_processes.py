"""Processes that die together, and nothing lost: ``kill -9`` of a job process, of a worker, of the app.

Real processes throughout (the app, its embedded worker, runners, training
processes).  Each test checks with psutil that no process is left, and that the
job shows a true state: run again and done, or interrupted with the reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tdacnn.jobs import records, service

from .conftest import LONG, TINY, alive, describe, free_port, runner_of, wait_for

REPO = Path(__file__).resolve().parents[2]


def _running_runner(worker, job_id: str, attempt: int) -> list[psutil.Process]:
    """Wait until run ``attempt`` of the job trains on ``worker``; its runner and the runner's children."""
    def training():
        job = service.get(job_id, None)
        runner = runner_of(worker)
        return (job.state == "running" and job.attempts == attempt and "iteration" in job.message
                and runner is not None and runner)

    runner = wait_for(training, 240, f"run {attempt} of the job to train")
    with contextlib.suppress(psutil.Error):
        return [runner, *runner.children(recursive=True)]
    return [runner]


def test_kill_9_of_a_job_process_runs_it_again_then_interrupts_it_with_the_reason(workers):
    worker = workers.start()
    job = service.submit("train", LONG, "alice")
    for attempt in (1, 2):
        tree = _running_runner(worker, job.id, attempt)
        assert os.getpgid(tree[0].pid) == tree[0].pid  # the runner leads a process group of its own
        tree[0].kill()  # a crash of the job process (segfault, OOM kill)
        wait_for(lambda: not alive(tree), 30, "the job's processes to end", show=lambda: describe(alive(tree)))
    final = service.wait(job.id, "alice", 60)
    assert final.state == "interrupted", final
    assert "killed by signal 9" in final.message and "started 2 times" in final.message
    assert psutil.Process(worker.pid).is_running()


def test_a_job_process_killed_once_is_run_again_and_done(workers):
    worker = workers.start()
    job = service.submit("train", {**TINY, "iterations": 400}, "alice")
    tree = _running_runner(worker, job.id, 1)
    tree[0].kill()
    final = service.wait(job.id, "alice", 300)
    assert final.state == "done" and final.attempts == 2, final
    assert not alive(tree)


def test_kill_9_of_a_worker_leaves_no_process_and_another_worker_runs_the_job_again(workers):
    first = workers.start("first")
    job = service.submit("train", LONG, "alice")
    tree = _running_runner(first, job.id, 1)
    workers.kill(first, group=False)  # the worker alone: its runner must follow it by itself
    wait_for(lambda: not alive(tree), 30, "the killed worker's job processes to end",
             show=lambda: describe(alive(tree)))
    assert service.get(job.id, "alice").state == "running"  # nobody has looked yet: still its last record

    second = workers.start("second")  # its start-up reaper finds the job of a dead worker on this host
    again = _running_runner(second, job.id, 2)
    assert "queued again" not in service.get(job.id, "alice").message
    assert service.cancel(job.id, "alice").state == "cancelled"
    wait_for(lambda: not alive(again), 30, "the job's processes to end", show=lambda: describe(alive(again)))


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TDACNN_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("TDACNN_LOCAL_WORKER", None)  # the app starts its own worker
    return subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def test_kill_9_of_the_app_mid_training_leaves_nothing_and_the_port_serves_again(jobs_home, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = _serve(jobs_home, port, tmp_path / "app.log")
    again = None
    tree: list[psutil.Process] = []
    try:
        wait_for(lambda: _answers(url), 180, "the app to serve", show=lambda: (tmp_path / "app.log").read_text()[-2000:])
        wait_for(lambda: service.queue_problem() is None, 120, "the app's worker to start")
        job = service.submit("train", LONG, "alice")
        wait_for(lambda: "iteration" in service.get(job.id, "alice").message, 240, "the training to run")
        tree = psutil.Process(app.pid).children(recursive=True)  # worker, runner, training processes
        assert len(tree) >= 2, describe(tree)
        print("process tree before the kill:", describe(tree))

        os.kill(app.pid, signal.SIGKILL)  # a crash of the web server, mid-job
        app.wait(10)
        t0 = time.monotonic()
        wait_for(lambda: not alive(tree), 60, "every process the app started to end", show=lambda: describe(alive(tree)))
        gone_s = time.monotonic() - t0
        queued = service.get(job.id, "alice")
        assert queued.state == "queued" and "its worker was stopped" in queued.message, queued  # a true state

        t0 = time.monotonic()
        again = _serve(jobs_home, port, tmp_path / "again.log")  # the same port, at once
        wait_for(lambda: _answers(url) or again.poll() is not None, 180, "the restarted app to serve")
        assert again.poll() is None, (tmp_path / "again.log").read_text()[-2000:]
        print(f"all processes gone {gone_s:.2f} s after the kill; serving again after {time.monotonic() - t0:.1f} s")
        wait_for(lambda: service.get(job.id, "alice").attempts == 2, 240, "the job to run again")
        assert service.cancel(job.id, "alice").state == "cancelled"
    finally:
        for proc in (app, again):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)  # its worker puts its jobs back and ends
                proc.wait(30)
        for p in alive(tree):
            p.kill()


_HOLDER = """
import sys, time
from tdacnn.jobs.supervisor import ensure_worker
print(ensure_worker(), flush=True)
time.sleep(600)
"""


def test_two_apps_on_one_data_directory_run_one_worker_and_a_dead_one_is_replaced(jobs_home, tmp_path):
    env = {**os.environ, "TDACNN_HOME": str(jobs_home), "PYTHONPATH": str(REPO)}
    env.pop("TDACNN_LOCAL_WORKER", None)
    apps = [subprocess.Popen([sys.executable, "-c", _HOLDER], env=env, stdout=subprocess.PIPE, text=True,
                             start_new_session=True) for _ in range(2)]
    try:
        pids = [int(a.stdout.readline()) for a in apps]
        live = lambda: {int(w["pid"]) for w in records.live_workers()}  # noqa: E731
        active = wait_for(lambda: live() & set(pids), 120, "a worker to beat")
        assert len(active) == 1 and all(psutil.pid_exists(p) for p in pids)  # the other stands by
        dead = active.pop()
        os.kill(dead, signal.SIGKILL)  # the active worker dies while its app lives
        wait_for(lambda: live() - {dead}, 120, "another worker to take over", show=lambda: str(records.workers()))
        assert len(live() - {dead}) == 1
        tree = [p for a in apps for p in psutil.Process(a.pid).children(recursive=True)]
        for a in apps:
            os.killpg(a.pid, signal.SIGKILL)
            a.wait(10)
        wait_for(lambda: not alive(tree), 60, "the workers to end with their apps", show=lambda: describe(alive(tree)))
    finally:
        for a in apps:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(a.pid, signal.SIGKILL)
            a.wait(10)


_PARENT = """
import os, subprocess, sys, time
from tdacnn.lifeline import PARENT_ENV
env = {**os.environ, PARENT_ENV: str(os.getpid())}
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=env)
print(child.pid, flush=True)
time.sleep(120)
"""
_CHILD = """
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
        wait_for(lambda: not alive([child]), 60, "the child to end", show=lambda: describe(alive([child])))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(10)
        if child is not None:
            for p in alive([child]):
                p.kill()


def test_die_with_parent_notices_a_parent_already_gone():
    code = "import os\nfrom tdacnn.lifeline import die_with_parent\ndie_with_parent(1)\nprint('still here')"
    # this child's parent is the test process, not pid 1: it must end at once, by SIGKILL
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == -signal.SIGKILL and "still here" not in done.stdout


@pytest.mark.parametrize("variable", ["0", "false"])
def test_the_embedded_worker_can_be_turned_off(monkeypatch, variable):
    from tdacnn.jobs.supervisor import ensure_worker

    monkeypatch.setenv("TDACNN_LOCAL_WORKER", variable)
    assert ensure_worker() is None


def test_tdacnn_worker_serves_until_sigterm_and_then_leaves_the_store(workers, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tdacnn.cli", "worker"], env=workers.env(), cwd=REPO,
                            stdout=open(tmp_path / "cli.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    workers.procs.append(proc)
    wait_for(lambda: workers.is_up(proc), 120, "tdacnn worker to beat",
             show=lambda: (tmp_path / "cli.log").read_text()[-2000:])
    job = service.submit("train", TINY, "alice")
    assert service.wait(job.id, "alice", 240).state == "done"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert service.queue_problem() is not None  # its heartbeat is gone with it


_FLOODED = """
import os, signal, sys, time
from tdacnn.jobs.worker import Worker
worker = Worker()
signal.signal(signal.SIGUSR1, worker.note_signal)  # the worker's own handler, on a signal the test may flood
print(os.getpid(), flush=True)
end, seen = time.monotonic() + 6, 0
while time.monotonic() < end:  # the main thread's wait, as in serve() and the standby loop, stopped again and again
    seen += worker.pause(0.001)
    worker.signalled = False
    worker.stop.clear()
print(seen, flush=True)
"""


def test_the_worker_notes_a_stop_signal_without_a_lock_even_under_a_flood_of_signals(jobs_home):
    # A handler calling Event.set() deadlocks when a signal lands while the main thread holds the event's lock
    # inside Event.wait: a worker told by its dying app to stop then slept forever (seen once in CI).
    env = {**os.environ, "TDACNN_HOME": str(jobs_home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _FLOODED], env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        pid = int(proc.stdout.readline())
        sent = 0
        while proc.poll() is None and sent < 100_000:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
                sent += 1
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and int(out) > 0, (proc.returncode, out)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
