"""One quick reproduction of every part, shared by the tests of this folder.

``tdacnn reproduce --quick`` runs once per session as a subprocess on the real
data (../shared/data), with a random-weights VGG16 checkpoint made here and
``--download`` pointed at a closed local port, so the offline path of the
ImageNet weights is exercised without touching the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Reproduction:
    out: Path
    runs: Path
    home: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def results(self) -> dict:
        return json.loads((self.out / "results.json").read_text())

    @property
    def html(self) -> str:
        return (self.out / "report.html").read_text()


def run_cli(args: list[str], home: Path, extra_env: dict | None = None, timeout: int = 900):
    """``python -m tdacnn.cli ARGS`` with ``TDACNN_HOME=home``; returns the CompletedProcess."""
    env = dict(os.environ, TDACNN_HOME=str(home), **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "tdacnn.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=str(home.parent))


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory) -> Path:
    """torchvision's VGG16 conv stack (13 conv layers, random weights) as a ``features.*`` state dict (59 MB)."""
    import torch
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])  # exactly torchvision.models.vgg16().features
    sd = {f"features.{k}": v for k, v in features.state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg16_random.pth"
    torch.save(sd, path)
    return path


@pytest.fixture(scope="session")
def quick(tmp_path_factory, shared_data, vgg16_file) -> Reproduction:
    """Every part of ``tdacnn reproduce --quick`` once, on the real data."""
    base = tmp_path_factory.mktemp("reproduce")
    home, out, runs = base / "home", base / "report", base / "runs"
    proc = run_cli(["reproduce", "--quick", "--out", str(out), "--data-root", str(shared_data), "--runs", str(runs),
                    "--vgg16", str(vgg16_file), "--download", "--device", "cpu"], home,
                   {"TDACNN_VGG16_URL": "http://127.0.0.1:9/vgg16-397923af.pth"})
    return Reproduction(out, runs, home, proc.returncode, proc.stdout, proc.stderr)
