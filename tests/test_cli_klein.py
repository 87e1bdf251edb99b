"""``tdacnn analyze --klein``: the Klein-bottle fractions in the JSON and the summary, and its one error."""

import json
import subprocess
import sys

import numpy as np

from tdacnn.topology.klein import klein_points


def analyze(*args):
    return subprocess.run([sys.executable, "-m", "tdacnn.cli", "analyze", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_klein_json_on_edges_and_lines(tmp_path):
    rng = np.random.default_rng(0)
    edges = klein_points(rng.uniform(0, 2 * np.pi, 300), np.zeros(300))  # the primary circle
    lines = klein_points(np.repeat([0.0, np.pi / 2], 50), np.full(100, np.pi / 2))  # horizontal and vertical lines
    np.save(tmp_path / "f.npy", np.concatenate([edges, lines]).reshape(-1, 3, 3))
    fast = ("--k", 5, "--p", 100, "--maxdim", 0, "--n-perm", 50)
    r = analyze(tmp_path / "f.npy", *fast, "--klein", "--json")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)["klein"]
    assert set(k) == {"primary", "secondary", "other", "median_distance"}
    assert k["primary"] == 0.75 and k["secondary"] == 0.25 and k["other"] == 0.0
    assert k["median_distance"] < 1e-6
    assert "klein" not in json.loads(analyze(tmp_path / "f.npy", *fast, "--json").stdout)
    text = analyze(tmp_path / "f.npy", "--k", 5, "--p", 100, "--n-perm", 50, "--klein")
    assert text.returncode == 0, text.stderr
    assert "75 % near the primary circle, 25 % near the secondary circles, 0 % far from them" in text.stdout


def test_klein_refuses_other_kernel_sizes(tmp_path):
    np.save(tmp_path / "f5.npy", np.random.default_rng(0).normal(size=(200, 5, 5)))
    r = analyze(tmp_path / "f5.npy", "--k", 5, "--maxdim", 0, "--klein", "--json")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--klein needs 3×3 filters" in lines[0] and "5×5" in lines[0]
