"""Load test: ≥ 20 concurrent browser sessions on a real app process (page loads, graph callbacks, API reads).

Starts the app (``python app.py``, or ``gunicorn app:server`` with ``--server gunicorn``) on a free
loopback port with a fresh data directory holding a synthetic run (edge-detector filters plus noise),
then drives N concurrent sessions for a bounded time, each with its own cookie jar (its own owner id,
as N browsers).  Each session "moves a slider" by posting, through Dash's own HTTP endpoint
(``POST /_dash-update-component``), the two callbacks the page would run: control values → request
(``explore-request``), then request → Cytoscape elements (``explore-graph``), carrying its own
``explore-memory`` from one move to the next as the browser does; after every move it reads its jobs and
the sources through the JSON API (``GET /api/jobs``, ``GET /api/sources``), and every fifth move it
loads the page again (``GET /``).  At every moment the sessions use distinct parameters, and each
response is checked against its own request (k, p and the cover echoed back), so a result served to
the wrong session is counted.

Prints requests served, errors, cross-session mismatches, p50/p95 latency of the graph callback (all,
and for parameters already computed once = cached stages), of the whole slider move, of page loads and
of API reads.  ``--json`` prints one JSON object.  Loopback only; timings on a shared machine are noisy.

    python benchmarks/load.py --sessions 20 --seconds 60 [--server gunicorn] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tdacnn.app.controls import CONTROLS, DEFAULTS  # noqa: E402 - the page's controls, in the callback's order

BASE = {**DEFAULTS, "source": "run:synthetic", "layer": 1, "iteration": None, "channels": "each", "k": 10, "p": 30.0,
        "lens": "pca2", "n_cubes": 8, "overlap": 0.3, "clusterer": "single", "eps": 0.5, "min_samples": 3,
        "distance_cut": 0.5}
#: distinct parameter combinations (≥ sessions, so concurrent sessions never share one)
COMBOS = [(k, p, n, o) for k in (8, 12, 16) for p in (30.0, 50.0) for n in (6, 8, 10, 12) for o in (0.3,)]


def synthetic_home(path: Path, networks: int = 40, filters: int = 16, seed: int = 0) -> Path:
    """A data directory with ``runs/synthetic``: gradient filters at random angles plus noise."""
    from tdacnn.weights import WeightEntry, WeightSet

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1:2, -1:2]
    entries = []
    for net in range(networks):
        th = rng.uniform(0, 2 * np.pi, filters)
        w = np.cos(th)[:, None, None] * x + np.sin(th)[:, None, None] * y + 0.3 * rng.normal(size=(filters, 3, 3))
        entries.append(WeightEntry(net, 1, 100, w[:, None], "conv1.weight"))
    WeightSet(entries, {"dataset": "synthetic"}).save(path / "runs" / "synthetic")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_process(home: Path, server: str = "app", timeout: float = 120):
    """Run the app on ``home`` (``python app.py``, or ``gunicorn app:server``); yield its base URL."""
    port = _free_port()
    log = open(home / "app.log", "w")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if server == "gunicorn":
        command = [str(Path(sys.executable).with_name("gunicorn")), "app:server", "--bind", f"127.0.0.1:{port}"]
    else:
        command = [sys.executable, "app.py", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=REPO, env={**env, "TDACNN_HOME": str(home)}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited: {(home / 'app.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(url + "/", timeout=2).status == 200:
                    break
            if time.time() - t0 > timeout:
                raise RuntimeError("app did not start")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _output_key(deps: list, first_output: str) -> dict:
    for dep in deps:
        if first_output in dep["output"]:
            return dep
    raise RuntimeError(f"no callback with output {first_output} (is this the tdacnn app?)")


def _opener() -> urllib.request.OpenerDirector:
    """One browser: its own cookie jar (its session's owner id)."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _post(opener, url: str, payload: dict, timeout: float = 60) -> tuple[int, dict | None, float]:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url + "/_dash-update-component", data=data,
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with opener.open(req, timeout=timeout) as r:
            body = r.read()
            return r.status, (json.loads(body) if body else None), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, None, time.perf_counter() - t0
    except (OSError, ValueError):
        return 0, None, time.perf_counter() - t0


def _get(opener, url: str, timeout: float = 60) -> tuple[int, bytes, float]:
    t0 = time.perf_counter()
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read(), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, b"", time.perf_counter() - t0
    except OSError:
        return 0, b"", time.perf_counter() - t0


def _payload(dep: dict, page: dict, changed: str) -> dict:
    """The body the browser posts for callback ``dep``: each input and state valued from ``page``
    (``"id.property" -> value``; None for anything else the page holds), as Dash's renderer sends it."""
    def values(items: list[dict]) -> list[dict]:
        return [{**item, "value": page.get(f"{item['id']}.{item['property']}")} for item in items]

    return {"output": dep["output"], "outputs": _outputs(dep["output"]), "inputs": values(dep["inputs"]),
            "changedPropIds": [changed], "state": values(dep["state"])}


def _outputs(output: str) -> list[dict]:
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.graph_all: list[float] = []
        self.graph_cached: list[float] = []
        self.move: list[float] = []
        self.requests = 0
        self.errors: list[str] = []
        self.mismatches = 0
        self.seen: set[tuple] = set()
        self.page: list[float] = []
        self.api: list[float] = []


def session(i: int, url: str, deps: dict, until: float, stats: Stats) -> None:
    parse, graph = deps["parse"], deps["graph"]
    opener = _opener()
    memory = None
    step = 0
    _read(opener, url + "/", "page", stats)  # the page load that makes the session's cookie
    while time.time() < until:
        k, p, n, o = COMBOS[(i + step * 7) % len(COMBOS)]
        step += 1
        values = {**BASE, "k": k, "p": p, "n_cubes": n, "overlap": o}
        t_move = time.perf_counter()
        page = {**{f"explore-{c}.value": values[c] for c in CONTROLS}, "explore-ready.data": True,
                "explore-auto.data": [], "explore-memory.data": memory}
        status, body, _dt = _post(opener, url, _payload(parse, page, "explore-k.value"))
        with stats.lock:
            stats.requests += 1
        if status != 200 or not body:
            with stats.lock:
                stats.errors.append(f"parse: HTTP {status}")
            continue
        request = body["response"]["explore-request"]["data"]
        if request.get("density", {}).get("k") != k or request.get("mapper", {}).get("n_cubes") != n:
            with stats.lock:
                stats.mismatches += 1
            continue
        with stats.lock:
            cached = (k, p, n, o) in stats.seen
        page.update({"explore-request.data": request})
        status, body, dt = _post(opener, url, _payload(graph, page, "explore-request.data"))
        move = time.perf_counter() - t_move
        with stats.lock:
            stats.requests += 1
            if status != 200 or not body:
                stats.errors.append(f"graph: HTTP {status}")
                continue
            resp = body["response"]
            text = json.dumps(resp.get("explore-summary", {}))
            echoed = resp.get("explore-memory", {}).get("data", {}).get("request", {})
            if f"k = {k}, p = {p:g}%" not in text or echoed.get("mapper", {}).get("n_cubes") != n:
                stats.mismatches += 1
                continue
            status_text = resp.get("explore-status", {}).get("children")
            if status_text and "no nodes" not in status_text:
                stats.errors.append(f"graph: {status_text}")
                continue
            memory = resp["explore-memory"]["data"]
            stats.graph_all.append(dt)
            stats.move.append(move)
            if cached:
                stats.graph_cached.append(dt)
            stats.seen.add((k, p, n, o))
        _read(opener, url + "/api/jobs", "api", stats, b'"jobs"')
        _read(opener, url + "/api/sources", "api", stats, b'"run:synthetic"')
        if step % 5 == 0:
            _read(opener, url + "/", "page", stats, b"_dash-config")


def _read(opener, url: str, kind: str, stats: Stats, expect: bytes = b"") -> None:
    """A GET of the page or the API, counted; an error unless it answers 200 with ``expect`` in it."""
    status, body, dt = _get(opener, url)
    with stats.lock:
        stats.requests += 1
        if status != 200 or expect not in body:
            stats.errors.append(f"{url.rsplit(':', 1)[-1]}: HTTP {status}")
            return
        (stats.page if kind == "page" else stats.api).append(dt)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def run(sessions: int, seconds: float, server: str = "app") -> dict:
    with tempfile.TemporaryDirectory(prefix="tdacnn-load-") as tmp:
        home = synthetic_home(Path(tmp))
        t_start = time.perf_counter()
        with app_process(home, server) as url:
            startup = time.perf_counter() - t_start
            all_deps = _get_json(url + "/_dash-dependencies")
            deps = {"parse": _output_key(all_deps, "explore-request.data"),
                    "graph": _output_key(all_deps, "explore-graph.elements")}
            stats = Stats()
            until = time.time() + seconds
            threads = [threading.Thread(target=session, args=(i, url, deps, until, stats), daemon=True)
                       for i in range(sessions)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + 120)
            wall = time.perf_counter() - t0
        # the server's last error, when there were errors (the data directory goes with the run)
        tracebacks = (home / "app.log").read_text(errors="replace").split("Traceback")
        server_error = "Traceback" + tracebacks[-1][-1500:] if stats.errors and len(tracebacks) > 1 else None
    return {
        "server": server, "sessions": sessions, "seconds": round(wall, 1), "app_start_s": round(startup, 1),
        "requests": stats.requests, "requests_per_s": round(stats.requests / wall, 1),
        "graph_updates": len(stats.graph_all), "errors": len(stats.errors), "error_examples": stats.errors[:5],
        "server_error": server_error,
        "cross_session_mismatches": stats.mismatches,
        "graph_p50_s": _pct(stats.graph_all, 50), "graph_p95_s": _pct(stats.graph_all, 95),
        "graph_cached_p50_s": _pct(stats.graph_cached, 50), "graph_cached_p95_s": _pct(stats.graph_cached, 95),
        "move_p50_s": _pct(stats.move, 50), "move_p95_s": _pct(stats.move, 95),
        "page_loads": len(stats.page), "page_p50_s": _pct(stats.page, 50), "page_p95_s": _pct(stats.page, 95),
        "api_reads": len(stats.api), "api_p50_s": _pct(stats.api, 50), "api_p95_s": _pct(stats.api, 95),
        "cpu_cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--server", choices=("app", "gunicorn"), default="app",
                    help="python app.py (the development server), or gunicorn app:server")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.sessions > len(COMBOS):
        ap.error(f"at most {len(COMBOS)} sessions (distinct parameter sets)")
    result = run(args.sessions, args.seconds, args.server)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    return 0 if result["errors"] == 0 and result["cross_session_mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
