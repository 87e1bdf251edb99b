"""``tdacnn train`` in a subprocess, the run folder, and the recipe."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tdacnn.training.config import TrainConfig
from tdacnn.training.run import recipe, train_run
from tdacnn.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def tdacnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tdacnn.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_happy_path(tmp_path):
    r = tdacnn("train", "--networks", "2", "--iterations", "12", "--snapshots", "0,6", "--conv1", "4",
               "--conv2", "4", "--hidden", "8", "--workers", "1", "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "complete: 2 networks" in r.stdout and "iteration 12 of 12" in r.stderr  # progress, as lines in a log
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["format"] == "tdacnn-run/1" and info["status"] == "complete"
    assert info["snapshots"] == [0, 6, 12] and len(info["test_acc"]) == 2
    assert info["arch"]["conv1"] == 4 and info["recipe"].startswith("tdacnn train --dataset digits")
    assert (tmp_path / "run" / "weights.npz").is_file() and not (tmp_path / "run" / "state").exists()


@pytest.mark.parametrize("args,match", [
    (["--networks", "0"], "n_networks"),
    (["--snapshots", "a,b"], "comma-separated"),
    (["--dataset", "mnist", "--data-root", "nowhere"], "MNIST not found"),
    (["--device", "cuda"], "cuda"),
    (["--lr", "-1"], "learning rate"),
])
def test_bad_arguments_exit_2_with_one_sentence(tmp_path, args, match):
    import torch

    if args == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("a GPU is present here")
    r = tdacnn("train", *args, "--out", "run", cwd=tmp_path)
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_recipe_reproduces_the_config():
    from tdacnn.cli import build_parser
    from tdacnn.commands.train import config_from_args

    cfg = TrainConfig(dataset="mnist", data_root="/d", n_networks=5, iterations=300, optimizer="adamw",
                      weight_decay=1.0, conv1=32, snapshots=(0, 50), snapshot_layers=(1,), store_dtype="float16",
                      shared_batches=True, seed=3, lr=0.002)
    args = build_parser().parse_args(shlex.split(recipe(cfg, "out"))[1:])
    assert config_from_args(args) == cfg


def test_existing_runs_are_not_overwritten(tmp_path):
    cfg = TrainConfig(n_networks=1, iterations=3, conv1=2, conv2=2, hidden=4, backend="serial")
    train_run(cfg, tmp_path / "run")
    with pytest.raises(UserError, match="already holds a complete run"):
        train_run(cfg, tmp_path / "run")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        train_run(cfg, tmp_path / "other")
