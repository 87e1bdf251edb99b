"""Snapshots, determinism, cancel, resume, progress, and real-MNIST learning."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tdacnn.training.config import TrainConfig, batch_indices, steps_per_epoch
from tdacnn.training.ensemble import train_ensemble
from tdacnn.training.run import read_run, train_run
from tdacnn.weights import WeightSet

SMALL = dict(n_networks=2, iterations=30, batch_size=32, conv1=6, conv2=4, hidden=8, backend="serial")


def test_snapshots_at_the_right_iterations_with_provenance():
    cfg = TrainConfig(**SMALL, snapshots=(0, 5, 12, 100), snapshot_layers=(1,))
    assert cfg.snapshots == (0, 5, 12, 30)  # beyond the end dropped, the end added
    ws = train_ensemble(cfg).weights
    assert ws.networks() == [0, 1] and ws.layers() == [1, 2]
    assert ws.iterations(1) == [0, 5, 12, 30] and ws.iterations(2) == [30]
    e = ws.select(1, 0)[0]
    assert e.weight.shape == (6, 1, 3, 3) and e.layer_name == "conv1.weight"
    assert ws.select(2, 30)[0].weight.shape == (4, 6, 3, 3)
    w = {it: ws.select(1, it)[0].weight for it in (0, 5, 12, 30)}
    assert not np.allclose(w[0], w[5]) and not np.allclose(w[5], w[12])


def test_same_seed_same_weights_other_seed_other_weights():
    cfg = TrainConfig(**{**SMALL, "iterations": 10})
    a, b = train_ensemble(cfg).weights, train_ensemble(cfg).weights
    c = train_ensemble(cfg.replace(seed=1)).weights
    assert a.key() == b.key() and a.key() != c.key()


def test_a_network_is_the_same_in_every_cpu_layout_and_ensemble_size():
    """Network i of seed s: bit-for-bit equal, serial or pooled, alone or among others."""
    cfg = TrainConfig(**{**SMALL, "n_networks": 3, "iterations": 40, "seed": 7})
    serial = train_ensemble(cfg).weights
    pooled = train_ensemble(cfg.replace(backend="pool", workers=2))
    alone = train_ensemble(cfg.replace(n_networks=1)).weights
    assert pooled.timings["backend"] == "pool" and pooled.timings["workers"] == 2
    assert serial.key() == pooled.weights.key()
    for e in alone.entries:
        (twin,) = [t for t in serial.entries if (t.network, t.layer, t.iteration) == (e.network, e.layer, e.iteration)]
        assert np.array_equal(e.weight, twin.weight)


def test_batch_order_covers_each_epoch_once():
    n, bs = 100, 32
    spe = steps_per_epoch(n, bs)
    epoch = np.concatenate([batch_indices(n, bs, 5, t) for t in range(spe)])
    assert spe == 3 and len(set(epoch.tolist())) == 96
    assert not np.array_equal(batch_indices(n, bs, 5, 0), batch_indices(n, bs, 5, spe))


def test_progress_reports_and_reaches_the_end():
    seen = []
    result = train_ensemble(TrainConfig(**SMALL), progress=seen.append)
    last = seen[-1]
    assert last.done == 30 and last.total == 30 and last.unit == "it" and last.networks == 2 and last.fraction == 1
    assert last.networks_done == 2 and last.loss is not None and 0 <= last.accuracy <= 1
    assert last.text == last.line() and last.text.startswith("iteration 30 of 30 (2 networks, 2 finished)")
    assert result.status == "complete" and all(a is not None and a > 0.1 for a in result.test_acc)


@pytest.mark.parametrize("backend", ["serial", "batched"])
def test_cancel_then_resume_equals_uninterrupted(tmp_path, backend):
    cfg = TrainConfig(**{**SMALL, "backend": backend}, snapshots=(0, 10, 20))
    calls = {"n": 0}

    def cancel():  # polled once per step: stop at step 14, after the snapshot at 10
        calls["n"] += 1
        return calls["n"] > 14

    info = train_run(cfg, tmp_path / "run", cancel=cancel)
    assert info["status"] == "cancelled"
    assert read_run(tmp_path / "run")["status"] == "cancelled" and (tmp_path / "run" / "state").is_dir()
    assert WeightSet.load(tmp_path / "run").iterations(1) == [0, 10]
    resumed = train_run(cfg, tmp_path / "run")
    assert resumed["status"] == "complete" and not (tmp_path / "run" / "state").exists()

    ws = WeightSet.load(tmp_path / "run")
    ref = train_ensemble(cfg).weights
    assert ws.iterations(1) == ref.iterations(1) == [0, 10, 20, 30]
    for a, b in zip(sorted(ws.entries, key=lambda e: (e.network, e.layer, e.iteration)),
                    sorted(ref.entries, key=lambda e: (e.network, e.layer, e.iteration))):
        np.testing.assert_allclose(a.weight, b.weight, atol=1e-5)


def test_cancel_in_the_pool_stops_workers(tmp_path):
    cfg = TrainConfig(**{**SMALL, "backend": "pool", "iterations": 5000}, workers=2)
    result = train_ensemble(cfg, cancel=lambda: True)
    assert result.status == "cancelled" and max(result.iterations_done) < 5000


def test_pool_works_from_a_forked_child(tmp_path):
    """The app starts jobs by forking the web process; the pool must still work there.

    The forking parent is a fresh interpreter that, like the web process, has not run torch
    (this pytest process has: its OpenMP threads would not survive a fork, the known hazard
    DESIGN.md describes, which is why the web process never touches torch)."""
    script = (
        "import multiprocessing as mp, sys\n"
        "from tdacnn.training.config import TrainConfig\n"
        "from tdacnn.training.run import train_run\n"
        f"cfg = TrainConfig(**{{**{SMALL!r}, 'backend': 'pool', 'iterations': 5}}, workers=2)\n"
        "p = mp.get_context('fork').Process(target=train_run, args=(cfg, sys.argv[1]))\n"
        "p.start(); p.join(240)\n"
        "if p.exitcode is None: p.kill(); sys.exit('the forked child hung')\n"
        "sys.exit(p.exitcode)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_run(tmp_path / "run")["status"] == "complete"


def test_brief_training_on_real_mnist_beats_chance(shared_data):
    cfg = TrainConfig(dataset="mnist", data_root=str(shared_data), n_networks=2, iterations=120,
                      conv1=8, conv2=8, hidden=32, backend="serial")
    result = train_ensemble(cfg)
    assert all(a > 0.8 for a in result.test_acc), result.test_acc


def test_eta_comes_from_the_rate_since_the_first_step_not_the_start_up(monkeypatch):
    from tdacnn.training import ensemble

    clock = [100.0]
    monkeypatch.setattr(ensemble.time, "monotonic", lambda: clock[0])
    seen = []
    tracker = ensemble._Tracker(TrainConfig(**{**SMALL, "n_networks": 2, "iterations": 100}), range(2), seen.append)
    clock[0] += 30.0  # 30 s of worker start-up before the first step
    tracker.step(0, 1, 2.3, 0.1)
    assert seen[-1].eta_s is None  # one step: no rate yet, rather than an ETA of hours
    clock[0] += 2.0
    tracker.step(0, 21, 1.0, 0.5)  # 20 steps in 2 s: 10 steps/s, 200 - 21 steps to go
    assert seen[-1].eta_s == pytest.approx(17.9)
