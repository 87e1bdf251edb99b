"""``tdacnn analyze`` in a subprocess: JSON output, every source kind, errors."""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from tdacnn.topology.dct import DCT_BASIS
from tdacnn.weights import WeightSet

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "data" / "default-run"


def analyze(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tdacnn.cli", "analyze", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def circle_filters(n=600, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    f = np.cos(t)[:, None] * DCT_BASIS[0] + np.sin(t)[:, None] * DCT_BASIS[1]
    return (f + rng.normal(0, 0.03, f.shape)).reshape(n, 3, 3)


def check_result(r, points):
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # exactly one JSON object
    assert out["points"] == points
    assert set(out["graph"]) >= {"nodes", "edges", "components", "cycle_rank", "betti1"}
    assert all(len(b) == 2 for b in out["h1"]["bars"])
    return out


def test_npy_source_json_and_out(tmp_path):
    np.save(tmp_path / "f.npy", circle_filters())
    r = analyze(tmp_path / "f.npy", "--k", 15, "--p", 90, "--lens", "pca1", "--cubes", 8, "--distance-cut", 0.3,
                "--n-perm", 150, "--json", "--out", tmp_path / "out")
    out = check_result(r, 600)
    assert out["kept"] == 540
    assert out["h1"]["significant"] == 1 and out["graph"]["betti1"] == 1 and out["graph"]["cycle_rank"] == 1
    graph = json.loads((tmp_path / "out" / "graph.json").read_text())
    assert len(graph["nodes"]) == out["graph"]["nodes"]
    assert json.loads((tmp_path / "out" / "barcode.json").read_text())["n_landmarks"] == 150
    assert {k: v for k, v in json.loads((tmp_path / "out" / "params.json").read_text())["density"].items()
            if k in ("k", "p")} == {"k": 15, "p": 90.0}


def test_run_folder_and_weightset_npz(tmp_path):
    w = circle_filters(4 * 8 * 3).reshape(4, 8, 3, 3, 3)
    ws = WeightSet.from_arrays(list(w), layer=1, iteration=10)
    ws.save(tmp_path / "run")
    check_result(analyze(tmp_path / "run", "--layer", 1, "--k", 10, "--json"), 96)
    check_result(analyze(tmp_path / "run" / "weights.npz", "--channels", "sum", "--k", 5, "--json"), 32)
    r = analyze(tmp_path / "run", "--layer", 2)
    assert r.returncode == 2 and "layer 2 is not in this weight set" in r.stderr


def test_checkpoint_source(tmp_path):
    import torch
    sd = {"conv1.weight": torch.tensor(circle_filters(16 * 3).reshape(16, 3, 3, 3), dtype=torch.float32),
          "conv2.weight": torch.randn(8, 16, 3, 3), "fc.weight": torch.randn(10, 8)}
    torch.save(sd, tmp_path / "m.pt")
    out = check_result(analyze(tmp_path / "m.pt", "--layer", 2, "--k", 10, "--json"), 128)
    # p left to the data: the one rule of tdacnn.topology.defaults; k as given
    from tdacnn.topology.defaults import default_p

    assert out["kept"] == round(default_p(128) / 100 * 128)
    assert out["params"]["k"] == 10 and "k" not in out["auto"] and "p" in out["auto"]
    check_result(analyze(tmp_path / "m.pt", "--k", 10, "--channels", "mean", "--json"), 16)


def test_natural_patches_human_summary():
    """1,500 blurred patches: the summary's numbers say one circle, far beyond random filters."""
    import re

    r = analyze("natural-patches", "--n-patches", 1500, "--k", 30, "--blur", 0.6, "--n-perm", 100)
    assert r.returncode == 0, r.stderr
    assert "natural 3x3 patches" in r.stdout and "blur sigma 0.6 px" in r.stdout
    m = re.search(r"H1 +(\d+) significant bar\(s\) of (\d+) \(p ≤ 0.01 against random filters, 20 clouds\)", r.stdout)
    assert m and int(m.group(1)) == 1 and int(m.group(2)) > 10, r.stdout
    bars = re.findall(r"length (\d\.\d+) +p ([<=]) (\d[.\d]*)", r.stdout)
    (first, op1, p1), (second, op2, p2) = bars[0], bars[1]
    assert op2 == "=" and float(p2) > 0.01
    assert float(first) > 0.8 and op1 == "<" and float(p1) <= 0.001  # the primary circle
    assert float(second) < 0.5 * float(first)  # then noise


def test_json_p_values_per_dimension():
    """h0 and h1 (and h2 when asked) each carry significant, bars and p_values, aligned and longest first."""
    out = check_result(analyze(DEFAULT_RUN, "--layer", 1, "--maxdim", 2, "--n-perm", 120, "--json"), 1280)
    assert out["significance"] == {"version": 3, "alpha": 0.01, "null": "random filters", "draws": 20}
    for d in ("h0", "h1", "h2"):
        h = out[d]
        assert len(h["p_values"]) == len(h["bars"]) and all(0 <= p <= 1 for p in h["p_values"])
        assert h["significant"] == sum(1 for p in h["p_values"][:h["significant"]] if p <= 0.01)
    assert out["h1"]["significant"] == 1 and out["h1"]["p_values"][0] < 0.001  # the shipped run's circle
    assert out["h0"]["bars"][0][1] is None and out["h0"]["p_values"][0] == 0.0  # the whole cloud


@pytest.mark.parametrize("args, message", [
    (["natural-patches", "--p", "0"], r"p must be a percentage in \(0, 100\]"),
    (["natural-patches", "--n-patches", "200", "--k", "500"], "k = 500 must be smaller than the number of points"),
    (["natural-patches", "--cubes", "0"], "n_cubes"),
    (["natural-patches", "--overlap", "1.5"], r"overlap must be a fraction in \(0, 1\)"),
    (["no/such/file.npy"], "does not exist"),
    (["natural-patches", "--channels", "all"], "must be each, sum, mean or an input-channel number"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    import re

    r = analyze(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert re.search(message, lines[-1])
    if "--channels" not in args:  # argparse prints usage first; our errors are one line
        assert len(lines) == 1 and "Traceback" not in r.stderr


def test_unknown_file_type_and_bad_array(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    r = analyze(tmp_path / "x.txt")
    assert r.returncode == 2 and "unknown file type '.txt'" in r.stderr
    np.save(tmp_path / "bad.npy", np.zeros((4, 7)))
    r = analyze(tmp_path / "bad.npy")
    assert r.returncode == 2 and "not square patches" in r.stderr
    np.save(tmp_path / "flat.npy", np.ones((50, 3, 3)))
    r = analyze(tmp_path / "flat.npy")
    assert r.returncode == 2 and "empty" in r.stderr


def test_defaults_come_from_the_data_and_agree_with_the_library():
    """No parameter given: the CLI reports the values it chose, the same as Analysis.suggest."""
    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import CloudParams

    out = json.loads(analyze(DEFAULT_RUN, "--layer", 1, "--json").stdout)
    density, mapper = Analysis().suggest(Analysis().cloud(WeightSet.load(DEFAULT_RUN), CloudParams(1)))
    assert out["params"]["k"] == density.k and out["params"]["n_cubes"] == mapper.n_cubes
    assert out["params"]["distance_cut"] == pytest.approx(mapper.distance_cut)
    assert set(out["auto"]) == {"k", "p", "n_cubes", "overlap", "distance_cut", "eps", "min_samples"}
    # the shipped run's circle, as the app shows it (the CLI used to say betti1 = 0 with its own defaults)
    assert out["graph"]["betti1"] == 1 and out["graph"]["components"] == 1
