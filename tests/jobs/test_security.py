"""The server's defaults: loopback only, no debugger, uploads limited and kept inside the data directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest

from .conftest import ROOT, free_port, wait_for


@pytest.fixture
def default_server(tdacnn_home):
    """``python app.py`` exactly as the README starts it (only PORT changed)."""
    tdacnn_home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOST")}
    log = open(tdacnn_home / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "PORT": str(port)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def up():
        assert proc.poll() is None, (tdacnn_home / "app.log").read_text()[-2000:]
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=90, what="app start")
        yield proc, port
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def test_binds_loopback_only_and_debugger_is_off(default_server):
    proc, port = default_server
    listening = [c for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
                 for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}
    html = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert config.get("ui") is False and config.get("props_check") is False  # no dev tools
    # a broken request gets a plain error, never Werkzeug's interactive debugger (it runs code)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_dash-update-component", data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    body = err.value.read().decode(errors="replace")
    assert err.value.code in (400, 500) and "Werkzeug Debugger" not in body and "__debugger__" not in body


def test_an_upload_is_staged_inside_the_data_directory_under_a_server_made_name(tdacnn_home):
    import io

    from tdacnn.app import create_app
    from tdacnn.jobs import service

    client = create_app(warm=False).server.test_client()
    r = client.post("/api/sources?wait=0", data={"file": (io.BytesIO(b"ABC"), "../../../../tmp/evil.pt")})
    assert r.status_code == 202, r.get_json()
    staged = service.get(r.get_json()["job"], None).params["path"]
    assert os.path.realpath(staged).startswith(os.path.realpath(tdacnn_home / "uploads") + os.sep)
    assert os.path.basename(staged).endswith("-evil.pt") and ".." not in staged


def test_an_upload_over_the_limit_is_refused_and_not_kept(tdacnn_home):
    import io

    from tdacnn.app.checkpoint_files import stage_stream
    from tdacnn.errors import UserError

    with pytest.raises(UserError, match="uploads are limited to"):
        stage_stream(io.BytesIO(b"x" * (2**20 + 1)), "big.pt", limit=2**20)
    with pytest.raises(UserError, match="big.pt is empty"):
        stage_stream(io.BytesIO(b""), "big.pt")
    assert list((tdacnn_home / "uploads" / ".incoming").iterdir()) == []
