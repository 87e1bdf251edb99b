"""The JSON API on a real server process (loopback), driven as scripts and hostile clients would.

The module's server runs without a job worker (``TDACNN_LOCAL_WORKER=0``): jobs stay queued, which is
all ownership, limits and refusals need; ``tests/test_serving.py`` runs jobs to the end under gunicorn.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _http import Session, declare_huge_body
from conftest import REPO, free_port, make_home, start_app

from tdacnn.errors import quote

OPERATOR = "operator-token-for-tests"
TRAIN = {"kind": "train", "dataset": "digits", "networks": 2, "iterations": 20}


@pytest.fixture(scope="module")
def allowed(tmp_path_factory) -> Path:
    """A folder named in TDACNN_ALLOWED_PATHS, holding one checkpoint file."""
    folder = tmp_path_factory.mktemp("allowed")
    (folder / "model.npz").write_bytes(b"not read: the job stays queued")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, allowed):
    home = make_home(tmp_path_factory.mktemp("home"))
    env = {"TDACNN_LOCAL_WORKER": "0", "TDACNN_MAX_QUEUED_PER_SESSION": "3", "TDACNN_MAX_QUEUED": "8",
           "TDACNN_OPERATOR_TOKEN": OPERATOR, "TDACNN_ALLOWED_PATHS": str(allowed)}
    with start_app(home, env=env) as url:
        yield url


def _cancel_all(s: Session) -> None:
    status, body, _ = s.get("/api/jobs")
    assert status == 200, body
    for job in body["jobs"]:
        if job["state"] in ("queued", "running"):
            s.delete(f"/api/jobs/{job['id']}")


def test_a_job_belongs_to_the_session_that_submitted_it(server):
    alice, bob = Session(server), Session(server)
    status, job, headers = alice.post_json("/api/jobs", TRAIN)
    assert status == 201, job
    assert job["state"] == "queued" and job["kind"] == "train" and "owner" not in job
    assert headers["Location"] == f"/api/jobs/{job['id']}"
    status, again, _ = alice.get(f"/api/jobs/{job['id']}")
    assert status == 200 and again["id"] == job["id"] and again["state"] == "queued"
    assert {"id", "state", "progress", "message"} <= set(again)

    # another session: the same answer as for an id that does not exist
    status, seen, _ = bob.get(f"/api/jobs/{job['id']}")
    forged = "0" * len(job["id"])
    status_forged, seen_forged, _ = bob.get(f"/api/jobs/{forged}")
    assert status == status_forged == 404 and seen == seen_forged and set(seen) == {"error"}
    status, refused, _ = bob.delete(f"/api/jobs/{job['id']}")
    assert status == 404 and refused == seen
    assert bob.get("/api/jobs")[1]["jobs"] == []
    assert alice.get(f"/api/jobs/{job['id']}")[1]["state"] == "queued"  # bob's cancel did nothing
    assert [j["id"] for j in alice.get("/api/jobs")[1]["jobs"]] == [job["id"]]

    # the operator sees every job; nobody else may ask for all
    assert bob.get("/api/jobs?all=1")[0] == 403
    status, every, _ = Session(server, bearer=OPERATOR).get("/api/jobs?all=1")
    assert status == 200 and job["id"] in [j["id"] for j in every["jobs"]]

    status, cancelled, _ = alice.delete(f"/api/jobs/{job['id']}")
    assert status == 200 and cancelled["state"] == "cancelled"


def test_malformed_ids_and_unknown_routes_get_a_short_json_404(server):
    s = Session(server)
    for path in ("/api/jobs/%27a%27", "/api/jobs/" + "x" * 5000, "/api/jobs/..%2F..%2Fetc%2Fpasswd",
                 "/api/jobs/a/b", "/api/nothing-here"):
        status, body, headers = s.get(path)
        assert status == 404 and isinstance(body, dict) and set(body) == {"error"}, (path, body)
        assert len(body["error"]) < 200 and headers["Content-Type"] == "application/json"
    status, body, _ = s.request("PUT", "/api/jobs")
    assert status in (404, 405) and set(body) == {"error"}


def test_bad_values_get_one_sentence_quoting_a_short_prefix(server):
    s = Session(server)
    cases = [({**TRAIN, "networks": "9" * 20000}, "the number of networks"),
             ({**TRAIN, "dataset": "x" * 20000}, "dataset must be one of"),
             ({**TRAIN, "colour": "red"}, "unknown training settings"),
             ({"kind": "rm -rf"}, "kind must be"),
             ([1, 2, 3], "JSON object")]
    for value, words in cases:
        status, body, _ = s.post_json("/api/jobs", value)
        assert status == 400 and words in body["error"], body
        assert len(body["error"]) <= 300 and "Traceback" not in body["error"]
    status, body, _ = s.request("POST", "/api/jobs", b"{not json", "application/json")
    assert status == 400 and "JSON object" in body["error"]
    status, body, _ = s.request("POST", "/api/jobs", b"kind=train", "application/x-www-form-urlencoded")
    assert status == 400 and "JSON" in body["error"]


def test_server_paths_outside_the_allowed_folders_look_like_missing_files(server, allowed, tmp_path):
    s = Session(server)
    outside = tmp_path / "secret.pth"
    outside.write_bytes(b"secret")
    (allowed / "link.pth").symlink_to(outside)
    answers = {}
    for path in ("/etc/passwd", "/nonexistent/model.pth", str(outside), str(allowed / "link.pth"),
                 str(allowed / ".." / tmp_path.name / "secret.pth"), str(allowed / "missing.pth")):
        status, body, _ = s.post_json("/api/jobs", {"kind": "load", "path": path})
        assert status == 400, body
        answers[path] = body["error"].replace(quote(path), "<path>")
    assert len(set(answers.values())) == 1, answers  # one sentence for "not allowed" and "does not exist"
    assert "may read" in next(iter(answers.values()))
    status, job, _ = s.post_json("/api/jobs", {"kind": "load", "path": str(allowed / "model.npz")})
    assert status == 201 and job["kind"] == "load" and "path" not in json.dumps(job["result"])
    _cancel_all(s)


def test_bodies_are_capped_before_they_are_read(server):
    """A 90 MB JSON is refused from its declared length (the server answers after 1 MB was sent); the
    server still answers; an upload gets the upload limit's sentence."""
    for path, words in (("/api/jobs", "at most 64 KB"), ("/_dash-update-component", "at most 4 MB"),
                        ("/api/sources", "limited to 50 MB")):
        status, body, sent = declare_huge_body(server, path, 90 * 2**20)
        assert status == 413, (path, body[:200])
        assert words in json.loads(body)["error"] and sent < 90 * 2**20
    assert Session(server).get("/")[0] == 200


def test_a_body_must_declare_its_length(server):
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    chunks = (b"[" + b"0," * 40000 + b"0]" for _ in range(1))  # 80 KB, sent chunked (no Content-Length)
    try:
        conn.request("POST", "/api/jobs", body=chunks, headers={"Content-Type": "application/json"},
                     encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    finally:
        conn.close()
    assert Session(server).get("/api/sources")[0] == 200


def test_the_largest_callback_body_fits(server):
    """A session file of the largest accepted size, loaded in Explore, is well under the callback cap."""
    from tdacnn.app.security import CALLBACK_BODY_BYTES
    from tdacnn.app.url import MAX_SESSION_BYTES

    contents = "data:application/json;base64," + base64.b64encode(b" " * MAX_SESSION_BYTES).decode()
    payload = {"output": "..explore-goto.data...explore-notice.children@x..",
               "outputs": [{"id": "explore-goto", "property": "data"},
                           {"id": "explore-notice", "property": "children"}],
               "inputs": [{"id": "explore-session-upload", "property": "contents", "value": contents}],
               "changedPropIds": ["explore-session-upload.contents"],
               "state": [{"id": "explore-session-upload", "property": "filename", "value": "s.json"}]}
    body = json.dumps(payload).encode()
    assert 2 * len(body) < CALLBACK_BODY_BYTES
    status, _answer, _ = Session(server).request("POST", "/_dash-update-component", body, "application/json")
    assert status != 413


def test_a_flood_of_submissions_is_limited_and_the_server_stays_responsive(server):
    sessions = [Session(server) for _ in range(6)]
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def flood(s: Session) -> None:
        for _ in range(6):
            status, body, _ = s.post_json("/api/jobs", TRAIN)
            with lock:
                results.append((status, body))

    threads = [threading.Thread(target=flood, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    page = Session(server).get("/")  # while the flood runs
    for t in threads:
        t.join(120)
    try:
        assert page[0] == 200
        statuses = [status for status, _ in results]
        assert set(statuses) <= {201, 429}, results
        assert 1 <= statuses.count(201) <= 8  # TDACNN_MAX_QUEUED
        for s in sessions:
            mine = [j for j in s.get("/api/jobs")[1]["jobs"] if j["state"] == "queued"]
            assert len(mine) <= 3  # TDACNN_MAX_QUEUED_PER_SESSION
        refusals = {body["error"] for status, body in results if status == 429}
        assert refusals and all(len(r) < 200 for r in refusals)
        assert any("you already have 3 jobs" in r for r in refusals) or any("the server already" in r
                                                                          for r in refusals)
        assert Session(server).get("/api/sources")[0] == 200
    finally:
        for s in sessions:
            _cancel_all(s)


def test_every_response_has_the_security_headers_and_no_versions(server):
    s = Session(server)
    status, html, headers = s.get("/")
    assert status == 200
    suites = [part.split('"')[0] for part in html.split('src="')[1:] if part.startswith("/_dash-component-suites/")]
    assert suites
    for path in ("/", "/api/sources", "/api/jobs/zzz", suites[0], "/_dash-layout", "/_dash-dependencies"):
        _, _, headers = s.get(path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"], path
        assert headers["Referrer-Policy"], path
        server_header = " ".join(headers.get_all("Server") or [])
        assert not any(c.isdigit() for c in server_header) and "Werkzeug" not in server_header, server_header
    import dash
    import plotly

    config = json.loads(html.split('<script id="_dash-config" type="application/json">')[1].split("</script>")[0])
    assert not {"dash_version", "python_version", "plotly_version"} & set(config)
    assert dash.__version__ not in html and dash.__version__.replace(".", "_") not in html
    assert plotly.__version__ not in html
    cookie = headers.get("Set-Cookie") or s.get("/")[2].get("Set-Cookie") or ""
    jar_cookie = [c for c in s.jar if c.name == "tdacnn_session"]
    assert jar_cookie and jar_cookie[0].has_nonstandard_attr("HttpOnly") or "HttpOnly" in cookie


def test_the_session_cookie_survives_a_restart(tmp_path):
    home = make_home(tmp_path / "home")
    env = {"TDACNN_LOCAL_WORKER": "0"}
    with start_app(home, env=env) as url:
        s = Session(url)
        status, job, _ = s.post_json("/api/jobs", TRAIN)
        assert status == 201
    secret = home / "secret_key"
    assert secret.is_file() and (secret.stat().st_mode & 0o777) == 0o600
    with start_app(home, env=env) as url:
        s.base = url
        status, again, _ = s.get(f"/api/jobs/{job['id']}")
        assert status == 200 and again["id"] == job["id"]
        assert Session(url).get(f"/api/jobs/{job['id']}")[0] == 404  # a new browser still cannot


@contextlib.contextmanager
def _app_answering_401(home: Path, env: dict):
    """``python app.py`` on a free port, up once GET / asks for a login (start_app waits for a 200)."""
    port = free_port()
    with open(home / "app.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, "TDACNN_HOME": str(home), **env},
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not (_listening(port) and Session(url).get("/", timeout=5)[0] == 401):
            assert proc.poll() is None and time.monotonic() < deadline, (home / "app.log").read_text()[-2000:]
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
    return False


def test_basic_auth_protects_every_route_when_set(tmp_path):
    home = make_home(tmp_path / "home")
    env = {"TDACNN_LOCAL_WORKER": "0", "TDACNN_AUTH": "alice:s3cret", "TDACNN_OPERATOR_TOKEN": OPERATOR}
    with _app_answering_401(home, env) as url:
        for who in (Session(url), Session(url, auth=("alice", "wrong")), Session(url, bearer=OPERATOR)):
            for path in ("/", "/api/sources", "/_dash-layout", "/assets/style.css"):
                status, body, headers = who.get(path)
                assert status == 401 and "Basic" in headers["WWW-Authenticate"], (path, status)
                assert body == {"error": "log in: this server asks for a user name and password"}
        alice = Session(url, auth=("alice", "s3cret"))
        assert alice.get("/")[0] == 200 and alice.get("/api/sources")[0] == 200
        assert alice.post_json("/api/jobs", TRAIN)[0] == 201
        assert alice.get("/api/jobs?all=1")[0] == 403
        operator = Session(url, auth=("operator", OPERATOR))
        status, every, _ = operator.get("/api/jobs?all=1")
        assert status == 200 and len(every["jobs"]) == 1


def test_a_malformed_auth_setting_stops_the_app_with_one_sentence(tmp_path):
    r = subprocess.run([sys.executable, "app.py", "--port", "1"], cwd=REPO, capture_output=True, text=True,
                       timeout=120, env={**os.environ, "TDACNN_HOME": str(tmp_path), "TDACNN_AUTH": "nocolon"})
    assert r.returncode == 2 and "TDACNN_AUTH must be user:password" in r.stderr and "Traceback" not in r.stderr


def test_an_unreachable_queue_answers_503_with_a_sentence(tmp_path):
    home = make_home(tmp_path / "home")
    env = {"TDACNN_LOCAL_WORKER": "0", "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
    with start_app(home, env=env) as url:
        s = Session(url)
        for status, body, _ in (s.post_json("/api/jobs", TRAIN), s.get("/api/jobs"), s.get("/api/jobs/" + "0" * 32)):
            assert status == 503 and "cannot be reached" in body["error"] and "REDIS_URL" in body["error"], body
        assert s.get("/api/sources")[0] == 200  # what does not need the queue still answers
