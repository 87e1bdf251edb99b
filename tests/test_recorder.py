"""tdacnn.Recorder: snapshots of your own training loop, read back like a tdacnn run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

import tdacnn
from tdacnn.errors import UserError
from tdacnn.weights import WeightSet


class PlainCNN(nn.Module):
    """Not tdacnn's network: a user's own, with a transposed conv to decode."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 4, 3)
        self.head = nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        return self.head(torch.relu(self.up(self.features(x))).flatten(1))


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images[:512, None] / 16.0, dtype=torch.float32)
    return x, torch.tensor(d.target[:512])


def test_a_plain_pytorch_loop_is_recorded_and_read_back_as_a_run(tmp_path):
    torch.manual_seed(0)
    model, (x, y) = PlainCNN(), _digits()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = tdacnn.Recorder(tmp_path / "mine", meta={"lr": 0.1})
    for step in range(61):
        if step % 20 == 0:
            rec.snapshot(model, step)
        idx = torch.randint(0, len(x), (32,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    rec.close()

    ws = WeightSet.load(tmp_path / "mine")
    assert ws.iterations() == [0, 20, 40, 60]
    assert ws.layers() == [1, 2, 3]
    assert ws.layer_names() == {1: "features.0.weight", 2: "features.3.weight", 3: "up.weight"}
    [first] = ws.select(1, 60)
    assert first.weight.shape == (8, 1, 3, 3)
    [up] = ws.select(3, 0)
    assert up.weight.shape == (4, 16, 3, 3)  # ConvTranspose2d's stored (in, out, ...) read as (out, in, ...)
    # the weights moved during training: the snapshots are not one tensor written four times
    assert not np.allclose(ws.select(1, 0)[0].weight, ws.select(1, 60)[0].weight)
    info = json.loads((tmp_path / "mine" / "run.json").read_text())
    assert info["format"] == "tdacnn-run/1" and info["status"] == "complete"
    assert info["snapshots"] == [0, 20, 40, 60] and info["meta"] == {"lr": 0.1}


def test_the_last_snapshot_holds_the_model_weights_exactly(tmp_path):
    model = PlainCNN()
    with tdacnn.Recorder(tmp_path / "r") as rec:
        rec.snapshot(model, 5)
    [e] = WeightSet.load(tmp_path / "r").select(2, 5)
    np.testing.assert_array_equal(e.weight, model.features[3].weight.detach().numpy())


def test_many_networks_and_the_callback(tmp_path):
    nets = [PlainCNN() for _ in range(3)]
    rec = tdacnn.Recorder(tmp_path / "ens")
    cb = rec.callback(every=10)
    for step in range(25):
        cb(nets, step)
    rec.close()
    ws = WeightSet.load(tmp_path / "ens")
    assert ws.networks() == [0, 1, 2] and ws.iterations() == [0, 10, 20]


def test_the_analysis_cli_reads_a_recorded_run(tmp_path):
    torch.manual_seed(1)
    with tdacnn.Recorder(tmp_path / "cli") as rec:
        rec.snapshot([PlainCNN() for _ in range(4)], 0)
    out = subprocess.run([sys.executable, "-m", "tdacnn.cli", "analyze", str(tmp_path / "cli"), "--layer", "2",
                          "--iteration", "0", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["points"] == 4 * 16 * 8


def test_a_reader_never_sees_half_a_snapshot(tmp_path):
    model = PlainCNN()
    rec = tdacnn.Recorder(tmp_path / "live")
    rec.snapshot(model, 0)
    seen, errors, done = [], [], threading.Event()

    def read():
        while not done.is_set():
            try:
                seen.append(WeightSet.load(tmp_path / "live").iterations())
            except Exception as exc:  # noqa: BLE001 - any failure to read is what this test looks for
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for step in range(1, 40):
        with torch.no_grad():
            model.features[0].weight.add_(0.01)
        rec.snapshot(model, step)
    done.set()
    reader.join()
    assert not errors
    assert len(seen) > 5
    assert all(s == list(range(len(s))) for s in seen)  # always a whole prefix of the steps


def test_a_recording_is_continued_and_a_step_recorded_again_replaces_it(tmp_path):
    model = PlainCNN()
    tdacnn.Recorder(tmp_path / "c").snapshot(model, 0)
    rec = tdacnn.Recorder(tmp_path / "c")
    with torch.no_grad():
        model.features[0].weight.zero_()
    rec.snapshot(model, 0)
    rec.snapshot(model, 10)
    ws = WeightSet.load(tmp_path / "c")
    assert ws.iterations() == [0, 10]
    assert not ws.select(1, 0)[0].weight.any()


@pytest.mark.parametrize("step", [-1, 1.5, "10", True, None])
def test_a_bad_step_is_one_sentence(tmp_path, step):
    with pytest.raises(UserError, match="step must be a whole number"):
        tdacnn.Recorder(tmp_path / "s").snapshot(PlainCNN(), step)


def test_bad_models_and_folders_are_refused_with_a_sentence(tmp_path):
    rec = tdacnn.Recorder(tmp_path / "m")
    with pytest.raises(UserError, match="has no Conv2d"):
        rec.snapshot(nn.Linear(3, 3), 0)
    with pytest.raises(UserError, match="takes a torch.nn.Module"):
        rec.snapshot({"conv": 1}, 0)
    rec.snapshot(PlainCNN(), 0)
    with pytest.raises(UserError, match="must have the same layers"):
        rec.snapshot(nn.Sequential(nn.Conv2d(1, 2, 3)), 1)
    rec.close()
    with pytest.raises(UserError, match="was closed"):
        rec.snapshot(PlainCNN(), 2)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        tdacnn.Recorder(tmp_path / "other")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        tdacnn.Recorder(tmp_path / "file")
    with pytest.raises(UserError, match="every must be"):
        tdacnn.Recorder(tmp_path / "cb").callback(every=0)


def test_the_readme_example_runs_and_records_a_run(tmp_path, monkeypatch):
    """The README's Recorder example, as printed, run in a scratch folder (fewer steps)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = text.split("<!-- recorder-example -->\n```python\n", 1)[1].split("```", 1)[0]
    assert "tdacnn.Recorder(" in code and "range(301)" in code
    monkeypatch.chdir(tmp_path)
    assert "step % 100 == 0" in code
    exec(compile(code.replace("range(301)", "range(11)").replace("step % 100", "step % 10"), "README.md", "exec"), {})
    ws = WeightSet.load(tmp_path / "runs" / "mine")
    assert ws.iterations() == [0, 10] and ws.networks() == list(range(8)) and ws.layers() == [1, 2]
