"""``tdacnn serve FILE_OR_RUN …`` and ``python app.py FILE_OR_RUN …`` in a subprocess: the file becomes a
source before the server answers (progress on stderr), and bad paths get one sentence and exit 2."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _env(home: Path) -> dict:
    return {**os.environ, "TDACNN_HOME": str(home), "PYTHONPATH": str(REPO)}


def _checkpoint(path: Path) -> Path:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Module()
    model.proj = nn.Conv2d(3, 8, 1)
    model.conv = nn.Conv2d(8, 4, 3)
    torch.save(model.state_dict(), path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["-m", "tdacnn.cli", "serve"], ["app.py"]])
def test_bad_paths_exit_2_with_one_sentence(tmp_path, command):
    for args, words in ((["missing.pth"], "no file or folder at missing.pth"),
                        ([str(tmp_path)], "holds no weights.npz"),
                        (["--port", "0"], "--port must be between 1 and 65535")):
        r = subprocess.run([sys.executable, *command, *args], capture_output=True, text=True, timeout=120,
                           cwd=REPO, env=_env(tmp_path / "home"))
        assert r.returncode == 2, r.stderr
        assert words in r.stderr and "Traceback" not in r.stderr
        assert len([line for line in r.stderr.splitlines() if "error" in line]) == 1, r.stderr


def test_serve_opens_a_checkpoint_before_answering(tmp_path):
    ckpt = _checkpoint(tmp_path / "net.pth")
    home = tmp_path / "home"
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tdacnn.cli", "serve", str(ckpt), "--port", str(port)],
                                cwd=REPO, env=_env(home), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "tdacnn dashboard on" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "net.pth: 100% done: loaded 2 conv layers" in text and "opened 1 source(s): upload:net-" in text
        (upload,) = [p for p in (home / "uploads").iterdir() if (p / "weights.npz").is_file()]
        assert upload.name.startswith("net-")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
        # the file given may be loaded by its path on the server; a file beside it may not
        sibling = tmp_path / "beside.pth"
        sibling.write_bytes(ckpt.read_bytes())
        answers = []
        for path in (ckpt, sibling):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/jobs", method="POST",
                                         data=json.dumps({"kind": "load", "path": str(path)}).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    answers.append((r.status, json.loads(r.read())))
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, json.loads(exc.read())))
        assert answers[0][0] == 201 and answers[0][1]["kind"] == "load", answers
        assert answers[1][0] == 400 and "is not a file this server may read" in answers[1][1]["error"], answers
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_server_paths_are_limited_to_the_data_directory_the_allowed_folders_and_the_files_given(tmp_path,
                                                                                                monkeypatch):
    from tdacnn.app import checkpoint_files as cf
    from tdacnn.errors import UserError

    monkeypatch.setenv("TDACNN_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cf, "_COMMAND_LINE", set())
    given, other = tmp_path / "given.pth", tmp_path / "extra" / "other.pth"
    other.parent.mkdir()
    for path in (given, other):
        path.write_bytes(b"x")
    inside = tmp_path / "home" / "mine.pth"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    assert cf.server_path(str(inside)) == inside.resolve()
    for path in (given, other):
        with pytest.raises(UserError, match="is not a file this server may read"):
            cf.server_path(str(path))
    cf.allow_paths([given])
    monkeypatch.setenv("TDACNN_ALLOWED_PATHS", os.pathsep.join(["/nonexistent", str(other.parent)]))
    assert cf.server_path(str(given)) == given.resolve() and cf.server_path(str(other)) == other.resolve()
    with pytest.raises(UserError, match="is not a folder this server may read"):
        cf.server_folder("/etc")
    assert cf.server_folder(str(other.parent / ".." / "extra")) == other.parent.resolve()
