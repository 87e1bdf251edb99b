"""A checkpoint is one source whichever way it is loaded (``tdacnn.jobs.uploads``).

Upload through the Jobs tab, "Load from server path" and the server's command
line all run the load job; the same bytes (under any name) end as one source,
and two different files of one name as two sources whose labels tell them apart.
"""

from __future__ import annotations

import shutil
import threading

import pytest

from tdacnn import config
from tdacnn.app.checkpoint_files import stage_stream
from tdacnn.jobs import service
from tdacnn.jobs.opening import open_paths
from tdacnn.jobs.sources import list_sources, set_opened_sources
from tdacnn.jobs.tasks import load_checkpoint_job
from tdacnn.jobs.uploads import file_sha256


@pytest.fixture(autouse=True)
def _forget_opened():
    yield
    set_opened_sources([])


def _small30(path, shift: float = 0.0):
    """The lead's /tmp/sources/small30.pth (see its make.py): conv1 30×3×3×3 … a ConvTranspose2d; 5 conv layers."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Module()
    model.conv1, model.bn1 = nn.Conv2d(3, 30, 3), nn.BatchNorm2d(30)
    model.conv2, model.proj = nn.Conv2d(30, 60, 3), nn.Conv2d(60, 16, 1)
    model.upconv, model.deconv = nn.Conv2d(512, 256, 3), nn.ConvTranspose2d(16, 8, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v + shift for k, v in model.state_dict().items()}, path)
    return path


def _uploads() -> list[dict]:
    return [s for s in list_sources() if s["value"].startswith("upload:")]


def _load(how: str, path, name: str | None = None):
    """Load ``path`` as the web layer does: an upload is staged first; a server path is read where it is."""
    if how == "upload":
        name = name or path.name
        with open(path, "rb") as stream:
            params = {"path": str(stage_stream(stream, name)), "name": name, "staged": True}
    else:
        params = {"path": str(path), "name": path.name, "staged": False}
    final = service.wait(service.submit("load", params, "alice").id, "alice", 300)
    assert final.state == "done", final.message
    return final


def test_the_same_bytes_by_upload_server_path_and_command_line_are_one_source(workers, tmp_path):
    workers.start()
    ckpt = _small30(tmp_path / "a" / "small30.pth")
    renamed = tmp_path / "b" / "copy of small30.pth"
    renamed.parent.mkdir()
    shutil.copyfile(ckpt, renamed)

    first = _load("upload", ckpt)
    sid = first.result["source"]
    again = _load("path", renamed)  # same bytes, other name, other way
    assert again.result["source"] == sid and again.result["existing"] and not first.result["existing"]
    assert first.message == f"done: loaded 5 conv layers as {sid.split(':')[1]}"
    assert sid == f"upload:small30-{file_sha256(ckpt)[:10]}"
    assert again.message == f"done: already loaded as {sid.split(':')[1]} (5 conv layers)"
    assert len(again.result["layers"]) == 5
    assert _load("upload", renamed).result["source"] == sid
    assert list((config.uploads_dir() / ".incoming").iterdir()) == []  # staged uploads removed all the same

    jobs = len(service.jobs(None))
    assert open_paths([renamed, ckpt]) == [sid] and len(service.jobs(None)) == jobs  # no job, no torch
    assert _uploads() == [{"value": sid, "label": "upload: small30.pth (5 conv layers)"}]


def test_two_files_of_one_name_are_two_sources_with_labels_apart(workers, tmp_path):
    workers.start()
    one = _small30(tmp_path / "a" / "small30.pth")
    two = _small30(tmp_path / "b" / "small30.pth", shift=1.0)
    ids = [_load("path", one).result["source"], _load("upload", two).result["source"]]
    assert ids[0] != ids[1]
    options = _uploads()
    assert [o["value"] for o in options] == ids
    labels = [o["label"] for o in options]
    assert labels[0] != labels[1]
    for label, path in zip(labels, (one, two)):
        assert label.startswith("upload: small30.pth (5 conv layers) · loaded 20")
        assert label.endswith(f"sha256 {file_sha256(path)[:8]}")


def test_two_loads_of_one_file_at_once_make_one_source(tdacnn_home, tmp_path):
    ckpt = _small30(tmp_path / "small30.pth")
    results: list[dict] = []
    threads = [threading.Thread(target=lambda n=n: results.append(load_checkpoint_job(ckpt, display_name=n)))
               for n in ("x.pth", "y.pth")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["source"] for r in results}) == 1 and sorted(r["existing"] for r in results) == [False, True]
    assert len(_uploads()) == 1
    assert [p.name for p in (config.uploads_dir() / ".building").iterdir() if not p.name.endswith(".lock")] == []
