"""``tdacnn layers FILE [--json]`` in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from .conftest import SMALL_NAMES, SMALL_SHAPES

REPO = Path(__file__).resolve().parents[2]


def _tdacnn(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tdacnn.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO)  # fmt: skip


def test_layers_json(small_files):
    out = _tdacnn("layers", str(small_files["wrapped"]), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["index"] for r in rows] == [1, 2, 3, 4]
    assert [r["name"] for r in rows] == SMALL_NAMES
    assert [tuple(r["shape"]) for r in rows] == SMALL_SHAPES
    assert rows[3]["flags"] == ["1x1"] and rows[0]["batchnorm"] == "bn1"
    # why a layer cannot be analysed: the same sentence the app's layer list shows
    assert [r["problem"] for r in rows] == [None, None, None, "1×1: no spatial pattern"]
    assert [r["analysable"] for r in rows] == [True, True, True, False]
    assert not any(r["transposed"] or r["groups"] for r in rows)


def test_layers_table_says_why(small_files):
    out = _tdacnn("layers", str(small_files["plain"]))
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.split()[:2] == ["4", "proj.weight"])
    assert row.endswith("cannot be analysed: 1×1: no spatial pattern")


def test_layers_table_vgg(vgg16_bn_file):
    path, _ = vgg16_bn_file
    out = _tdacnn("layers", str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["#", "name"]
    assert lines[5].split()[:3] == ["5", "features.14.weight", "256×128×3×3"]
    assert "13 conv layer(s) (VGG16)" in lines[-1] and f"tdacnn analyze {path} --layer N" in lines[-1]


def test_layers_refuses_code_payload_with_exit_2(tmp_path):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"w": Payload()}, evil)
    out = _tdacnn("layers", str(evil), "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "refused to load evil.pt: it tries to run code (posix.system)" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_layers_bad_file_exit_2(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    out = _tdacnn("layers", str(tmp_path / "empty.pth"))
    assert out.returncode == 2 and "empty.pth is empty" in out.stderr and "Traceback" not in out.stderr
