"""The one training engine: slices of a run, worker processes that leave their caller as it was
and die with it, resuming in another layout, and the stacked layout on CUDA."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.training import Cancelled
from tdacnn.training.config import TrainConfig
from tdacnn.training.ensemble import train_ensemble
from tdacnn.training.run import train_run, train_weights
from tdacnn.weights import WeightSet

SMALL = dict(n_networks=4, iterations=15, batch_size=32, conv1=6, conv2=4, hidden=8, backend="serial",
             snapshots=(0, 5))
REPO = Path(__file__).resolve().parents[2]


def _by_key(ws: WeightSet) -> dict[tuple[int, int, int], np.ndarray]:
    return {(e.network, e.layer, e.iteration): e.weight for e in ws.entries}


def _workers_of(pid: int) -> list[int]:
    """Pids of the training workers whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"tdacnn.training.worker" in cmd:
            out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_slice_has_the_weights_it_has_in_the_whole_run():
    cfg = TrainConfig(**SMALL)
    whole = _by_key(train_ensemble(cfg).weights)
    seen = []
    part = train_weights(cfg, progress=seen.append, first=1, count=2)
    assert part.networks() == [1, 2] and part.meta["networks"] == [1, 3] and len(part.meta["test_acc"]) == 2
    got = _by_key(part)
    assert set(got) == {k for k in whole if k[0] in (1, 2)}
    for key, w in got.items():
        assert np.array_equal(w, whole[key]), key
    assert seen[-1].networks == 2 and seen[-1].done == seen[-1].total == 15
    assert seen[-1].networks_done == 2


def test_a_cancelled_slice_raises_cancelled_and_a_bad_slice_is_refused():
    cfg = TrainConfig(**SMALL)
    with pytest.raises(Cancelled):
        train_weights(cfg, cancel=lambda: True, first=2)
    with pytest.raises(UserError, match="within the run's 4"):
        train_weights(cfg, first=3, count=2)


def test_the_stacked_layout_resumes_networks_stopped_at_different_iterations(tmp_path):
    cfg = TrainConfig(**{**SMALL, "n_networks": 2, "iterations": 20})
    calls = {"n": 0}

    def cancel():  # polled once per step: network 0 finishes, network 1 stops after its snapshot at 5
        calls["n"] += 1
        return calls["n"] > 20 + 8

    assert train_run(cfg, tmp_path / "run", cancel=cancel)["status"] == "cancelled"
    resumed = train_run(cfg.replace(backend="batched"), tmp_path / "run")
    assert resumed["status"] == "complete"
    ref = _by_key(train_ensemble(cfg).weights)
    got = _by_key(WeightSet.load(tmp_path / "run"))
    assert set(got) == set(ref)
    for key, w in got.items():
        np.testing.assert_allclose(w, ref[key], atol=1e-5)


SCRIPT = """
import os, socket, sys, time
with open(sys.argv[1], "a") as f:  # unguarded top-level code: must run once, never in a worker
    f.write("ran\\n")
server = socket.create_server(("127.0.0.1", 0))  # a web server's listening socket, even an inheritable one
os.set_inheritable(server.fileno(), True)
import torch
from tdacnn.training.config import TrainConfig
from tdacnn.training.ensemble import train_ensemble
threads = torch.get_num_threads()
cfg = TrainConfig(n_networks=2, iterations=int(sys.argv[2]), batch_size=32, conv1=6, conv2=4, hidden=8,
                  backend="pool", workers=2, snapshots=(0,))
res = train_ensemble(cfg, progress=lambda p: print("progress", p.done, flush=True))
print("status", res.status, res.timings["workers"])
print("unchanged", "GLIBC_TUNABLES" not in os.environ and torch.get_num_threads() == threads
      and sys.modules["__main__"].__file__ == sys.argv[0], flush=True)
"""


def test_workers_leave_the_calling_script_as_it_was(tmp_path):
    script, marker = tmp_path / "user_script.py", tmp_path / "marker.txt"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    r = subprocess.run([sys.executable, str(script), str(marker), "10"], capture_output=True, text=True,
                       timeout=240, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "status complete 2" in r.stdout and "unchanged True" in r.stdout
    assert marker.read_text() == "ran\n"  # the script's body ran once: workers never import it


def test_workers_hold_no_socket_and_die_with_the_process_that_started_them(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "m"), "100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        for line in proc.stdout:  # wait for a visible step: both workers are training then
            if line.startswith("progress"):
                break
        workers = _workers_of(proc.pid)
        assert len(workers) == 2, workers
        for w in workers:  # nothing of the parent's but the pipes to it: no socket
            fds = [os.readlink(f"/proc/{w}/fd/{fd}") for fd in os.listdir(f"/proc/{w}/fd")]
            assert not [f for f in fds if f.startswith("socket:")], fds
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), [w for w in workers if _alive(w)]
    finally:
        proc.kill()
        proc.wait()


def test_a_worker_that_dies_stops_the_training_with_a_reason():
    cfg = TrainConfig(**{**SMALL, "backend": "pool", "iterations": 100000, "n_networks": 2}, workers=2)
    killed = []

    def progress(p):
        if not killed:
            workers = _workers_of(os.getpid())
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])

    with pytest.raises(RuntimeError, match="died unexpectedly"):
        train_ensemble(cfg, progress=progress)
    assert killed and not _workers_of(os.getpid())


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA GPU here")
def test_the_stacked_cuda_layout_matches_the_cpu():
    cfg = TrainConfig(**{**SMALL, "backend": "batched"}, device="cuda")
    got = _by_key(train_ensemble(cfg).weights)
    ref = _by_key(train_ensemble(cfg.replace(device="cpu", backend="serial")).weights)
    assert set(got) == set(ref)
    for key, w in got.items():
        np.testing.assert_allclose(w, ref[key], atol=1e-3)
