"""Files and run folders named on the server's command line become sources (``tdacnn.jobs.opening``)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.jobs.opening import open_paths, upload_id_for
from tdacnn.jobs.sources import list_sources, load_source, opened_sources, set_opened_sources, source_path
from tdacnn.jobs import service
from tdacnn.weights import WeightEntry, WeightSet


@pytest.fixture(autouse=True)
def _forget_opened():
    yield
    set_opened_sources([])  # process state: what a fresh page of this server would show


def _checkpoint(path):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Module()
    model.stem = nn.Conv2d(3, 6, 1)
    model.conv1 = nn.Conv2d(6, 5, 3)
    torch.save(model.state_dict(), path)
    return path


def _run_folder(path):
    rng = np.random.default_rng(0)
    WeightSet([WeightEntry(n, 1, 10, rng.normal(size=(4, 1, 3, 3)), "conv1.weight") for n in range(3)],
              {"dataset": "synthetic"}).save(path)
    return path


def test_a_checkpoint_is_loaded_by_the_load_job_once(workers, tmp_path):
    workers.start()
    ckpt = _checkpoint(tmp_path / "net.pth")
    reports = []
    (sid,) = open_paths([ckpt], lambda path, fraction, text: reports.append((path.name, fraction, text)))
    assert sid == f"upload:{upload_id_for(ckpt.resolve())}" and opened_sources() == [sid]
    assert reports[-1][0] == "net.pth" and reports[-1][1] == 1.0 and "loaded 2 conv layers" in reports[-1][2]
    (job,) = service.jobs("cli")  # the same job path as an upload, recorded in the job list
    assert job.kind == "load" and job.state == "done" and job.params["staged"] is False
    assert ckpt.is_file()  # the user's file is never deleted
    ws = load_source(sid)
    assert ws.layers() == [1, 2] and ws.select(2)[0].weight.shape == (5, 6, 3, 3)
    layers = json.loads((source_path(sid) / "layers.json").read_text())["layers"]
    assert [la["problem"] for la in layers] == ["1×1: no spatial pattern", None]
    # opened again, or touched with the same bytes: no second job; other bytes: a new conversion
    assert open_paths([ckpt]) == [sid] and len(service.jobs(None)) == 1
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert open_paths([ckpt]) == [sid] and len(service.jobs(None)) == 1
    import torch

    torch.save({k: v + 1 for k, v in torch.load(ckpt).items()}, ckpt)
    assert open_paths([ckpt]) != [sid] and len(service.jobs(None)) == 2


def test_run_folders_are_used_where_they_are(tdacnn_home, tmp_path):
    folder = _run_folder(tmp_path / "elsewhere" / "my run")
    ids = open_paths([folder, config.DEFAULT_RUN, folder / "weights.npz"])
    assert ids[0].startswith("folder:my_run-") and ids[1] == "default" and len(ids) == 2
    assert opened_sources() == ids
    assert source_path(ids[0]) == folder.resolve()
    assert load_source(ids[0]).networks() == [0, 1, 2]
    assert ids[0] in [s["value"] for s in list_sources()]
    assert not (tdacnn_home / "uploads").exists() or not any((tdacnn_home / "uploads").iterdir())
    # a run inside the data directory keeps its ordinary id
    inside = _run_folder(config.runs_dir() / "r1")
    assert open_paths([inside]) == ["run:r1"]


def test_folder_ids_name_only_what_the_command_line_opened(tdacnn_home, tmp_path):
    _run_folder(tmp_path / "secret")
    for bad in ("folder:secret", f"folder:{tmp_path}/secret", "folder:../secret", "path:/etc"):
        with pytest.raises(UserError):
            source_path(bad)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing.pth", "no file or folder at"),
    (lambda p: (p / "empty-dir").mkdir() or p / "empty-dir", "holds no weights.npz"),
    (lambda p: _write(p / "junk.pth", b"not a checkpoint at all"), "junk.pth"),
])
def test_bad_paths_get_one_sentence(workers, tmp_path, make, words):
    workers.start()
    with pytest.raises(UserError, match=words) as err:
        open_paths([make(tmp_path)])
    assert "Traceback" not in str(err.value) and "\n" not in str(err.value).strip()
