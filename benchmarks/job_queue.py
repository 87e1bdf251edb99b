"""The queue, chosen by measurement: huey on SQLite, huey on Redis, Celery on Redis.

For each backend, a real worker process is started on a fresh data directory
(and, for Redis, a fresh ``redis-server`` on a loopback port), and measured:

* **worker start**: from spawning the worker to its first sign of life (tdacnn's
  worker: its heartbeat in the store; Celery: its first answer to a ping);
* **idle memory**: the worker's resident memory (with its child processes)
  after it has been idle for a moment;
* **submit → start**: from submitting a job to the worker starting it, median
  of ``--repeats`` jobs.  tdacnn (both huey backends): the real path —
  :func:`tdacnn.jobs.service.submit` of a training, until its record says
  ``running`` (the job is then cancelled).  Celery: a no-op task sent with
  ``apply_async`` until its body runs (it writes the time into Redis) — the
  library alone, so it is a lower bound for a Celery version of tdacnn.

Ratios are against huey-SQLite measured in the same run.  Celery is skipped,
with a sentence, where it is not installed.  ``--json`` prints one JSON object.

    python benchmarks/job_queue.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LONG = {"dataset": "digits", "networks": 1, "iterations": 100_000, "conv1": 4, "conv2": 4, "snapshots": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise SystemExit(f"benchmarks/job_queue.py: timed out waiting for {what}")


def _rss_mb(pid: int) -> float:
    p = psutil.Process(pid)
    return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20


def _redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    _wait(up, 30, "redis-server")
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_tdacnn(home: Path, url: str | None, repeats: int) -> dict:
    """tdacnn's worker on huey (SQLite file, or Redis at ``url``)."""
    os.environ["TDACNN_HOME"] = str(home)
    os.environ.pop("REDIS_URL", None)
    if url:
        os.environ["REDIS_URL"] = url
    from tdacnn.jobs import queue, records, service

    queue.reset()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.monotonic()
    worker = subprocess.Popen([sys.executable, "-m", "tdacnn.jobs.worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT, start_new_session=True)
    wid = f"{socket.gethostname()}:{worker.pid}"
    try:
        _wait(lambda: any(w.get("id") == wid for w in records.workers()), 120, "the tdacnn worker")
        start_s = time.monotonic() - t0
        time.sleep(2.0)  # idle a moment (memory settles)
        idle_mb = _rss_mb(worker.pid)
        latencies = []
        for _ in range(repeats):
            t1 = time.monotonic()
            job = service.submit("train", LONG, "bench")
            _wait(lambda: service.get(job.id, "bench").state == "running", 60, "the job to start")
            latencies.append(time.monotonic() - t1)
            service.cancel(job.id, "bench")
        return {"worker_start_s": start_s, "idle_mb": idle_mb, "submit_to_start_s": statistics.median(latencies),
                "submit_to_start_all_s": latencies}
    finally:
        _stop(worker)


_CELERY_APP = """
import time
from celery import Celery
app = Celery("bench", broker="{url}", backend="{url}")
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True, task_reject_on_worker_lost=True,
                broker_connection_retry_on_startup=True)

@app.task(name="bench.mark")
def mark(key):
    import redis
    redis.Redis.from_url("{url}").set(key, repr(time.time()))
"""


def bench_celery(workdir: Path, url: str, repeats: int) -> dict:
    """A Celery worker (solo pool, as tdacnn's one-training-at-a-time would need) on Redis."""
    from celery import Celery

    (workdir / "bench_celery_app.py").write_text(_CELERY_APP.format(url=url))
    celery = str(Path(sys.executable).with_name("celery"))
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    t0 = time.monotonic()
    worker = subprocess.Popen([celery, "-A", "bench_celery_app:app", "worker", "--pool=solo", "--concurrency=1",
                               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
                              cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              start_new_session=True)
    app = Celery("bench", broker=url, backend=url)
    try:
        _wait(lambda: app.control.ping(timeout=0.2), 120, "the Celery worker")
        start_s = time.monotonic() - t0
        time.sleep(2.0)
        idle_mb = _rss_mb(worker.pid)
        import redis

        client = redis.Redis.from_url(url)
        latencies = []
        for k in range(repeats):
            key = f"bench:{k}"
            sent = time.time()
            app.send_task("bench.mark", [key])
            ran = float(_wait(lambda: client.get(key), 60, "the Celery task"))
            latencies.append(ran - sent)
        return {"worker_start_s": start_s, "idle_mb": idle_mb, "submit_to_start_s": statistics.median(latencies),
                "submit_to_start_all_s": latencies}
    finally:
        _stop(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="jobs submitted per backend (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ["TDACNN_LOCAL_WORKER"] = "0"
    out: dict = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "results": {}, "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="tdacnn-bench-queue-") as tmp:
        tmp = Path(tmp)
        out["results"]["huey-sqlite"] = bench_tdacnn(tmp / "sqlite", None, args.repeats)
        redis_proc, url = _redis(tmp)
        try:
            out["results"]["huey-redis"] = bench_tdacnn(tmp / "redis", url, args.repeats)
            try:
                import celery  # noqa: F401
            except ImportError:
                out["skipped"]["celery-redis"] = "celery is not installed (pip install celery[redis] to compare it)"
            else:
                import redis

                redis.Redis.from_url(url).flushdb()
                out["results"]["celery-redis"] = bench_celery(tmp, url, args.repeats)
        finally:
            _stop(redis_proc)
    base = out["results"]["huey-sqlite"]
    for result in out["results"].values():
        result["ratios_to_huey_sqlite"] = {k: result[k] / base[k] for k in ("worker_start_s", "idle_mb",
                                                                              "submit_to_start_s") if base[k]}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"load average {out['load_average']:.1f} on {out['cpus']} CPUs; {args.repeats} jobs per backend")
    print(f"{'backend':14} {'worker start':>13} {'idle memory':>12} {'submit→start':>13}   ratios to huey-sqlite")
    for name, r in out["results"].items():
        ratios = ", ".join(f"{k.split('_')[0]} ×{v:.2f}" for k, v in r["ratios_to_huey_sqlite"].items())
        print(f"{name:14} {r['worker_start_s']:12.2f}s {r['idle_mb']:10.1f}MB {1000 * r['submit_to_start_s']:11.0f}ms"
              f"   {ratios}")
    for name, why in out["skipped"].items():
        print(f"{name}: skipped: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
