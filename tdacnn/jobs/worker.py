"""A job worker: ``python -m tdacnn.jobs.worker`` (or ``tdacnn worker``), a consumer of huey's queues.

One thread takes trainings (and shards of split runs) from the ``train`` queue,
one at a time; ``--loads`` threads take checkpoint loads from the ``load`` queue,
so a load never waits behind a training.  Each job runs in a runner process of
its own (:class:`~tdacnn.jobs.runner.Runner`: spawned, own process group, dies
with this worker); the thread that started it follows it and is the one writer
of its record: progress (at most 4 writes a second), a cancel request (the
group is killed at once and the job recorded ``cancelled``), the outcome.

A heartbeat thread writes ``worker:<host>:<pid>`` every :data:`BEAT_S` seconds;
a reaper thread (:mod:`tdacnn.jobs.reaper`) re-queues the jobs of dead workers.
On SIGTERM or SIGINT the worker kills its jobs' processes, puts the jobs back in
the queue (or records them interrupted once out of attempts) and exits; a
worker started by the app (``--embedded``) gets SIGTERM when the app ends, even
by ``kill -9``.  With ``--embedded`` only one worker per data directory and host
is active: a second one waits (standby) until the first has gone.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from tdacnn import config
from tdacnn.jobs import records, reaper
from tdacnn.jobs.queue import STORE_ERRORS, describe, queues

__all__ = ["Worker", "run_job", "main", "BEAT_S", "log_path"]

log = logging.getLogger(__name__)

#: Seconds between heartbeats, and between reaper passes.
BEAT_S = 2.0
#: Seconds between two looks at a running job (cancel requests, progress, exit).
FOLLOW_S = 0.2
#: Seconds an idle consumer waits before asking an SQLite queue again (Redis blocks instead).
POLL_S = 0.2
#: At most this many record writes per second for a job's progress.
PROGRESS_WRITES_PER_S = 4
#: Seconds between two looks of the main thread at a SIGTERM/SIGINT noted by the handler.
SIGNAL_POLL_S = 0.1

_CURRENT: "Worker | None" = None


def log_path(job_id: str) -> Path:
    """The log file of a job's runner (under the data directory)."""
    folder = config.home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"job-{job_id}.log"


def _done_message(kind: str, result: dict) -> str:
    if kind == "shard":
        return "done"
    name = str(result.get("source", "")).split(":", 1)[-1]
    if kind == "train":
        return f"done: new run {name}"
    if result.get("existing"):
        return f"done: already loaded as {name} ({len(result.get('layers', []))} conv layers)"
    return f"done: loaded {len(result.get('layers', []))} conv layers as {name}"


class Worker:
    """The consumer threads, heartbeat and reaper of one worker process."""

    def __init__(self, loads: int = 1, embedded: bool = False) -> None:
        self.id = records.worker_id()
        self.loads = max(1, int(loads))
        self.embedded = embedded
        self.stop = threading.Event()
        self.signalled = False  # set by the signal handler, turned into ``stop`` by the main thread
        self.running: dict[str, object] = {}
        self.started = time.time()
        self.in_touch_since: float | None = None  # since when every heartbeat reached the store

    # ---- the job ------------------------------------------------------------------------------
    def run_job(self, job_id: str) -> None:
        """Run one job taken from a queue (the body of the huey task)."""
        job = records.load(job_id)
        if job is None or job.terminal:
            return
        if self.stop.is_set():  # taken off the queue while stopping: put it back for another worker
            from tdacnn.jobs.queue import enqueue

            enqueue(job.kind, job.id)
            return
        if records.cancel_requested(job_id):
            records.update(job_id, state="cancelled", message="cancelled", finished=time.time())
            return
        attempt = job.attempts + 1
        # one start per attempt and per enqueueing: a message put back after its taker died can start again
        if job.state != "queued" or not records.claim(f"start:{job_id}:{attempt}:{job.queued_at}", self.id):
            return  # another worker has this run of it
        params = dict(job.params)
        if job.kind == "train" and not params.get("run"):
            from tdacnn.jobs.tasks import new_run_dir
            from tdacnn.jobs.requests import TrainRequest

            params["run"] = new_run_dir(TrainRequest.from_dict(params)).name  # kept: a re-run resumes it
        job = records.update(job_id, state="running", attempts=attempt, worker=self.id, started=time.time(),
                             progress=0.0, message="starting", report={}, params=params)
        if job is None or job.terminal:
            return
        if job.kind == "shard":
            from tdacnn.jobs.shards import shard_started

            shard_started(job)
        from tdacnn.jobs.runner import Runner

        runner = Runner(self._spec(job), log_path(job_id))
        self.running[job_id] = runner
        try:
            self._follow(job, runner)
        finally:
            self.running.pop(job_id, None)
            if runner.proc.poll() is None:
                runner.kill()

    def _spec(self, job) -> dict:
        p = job.params
        if job.kind == "train":
            request = {k: v for k, v in p.items() if k not in ("run", "shards", "children")}
            return {"kind": "train", "request": request, "out": str(config.runs_dir() / p["run"])}
        if job.kind == "shard":
            from tdacnn.jobs.shards import shard_file

            return {"kind": "shard", "request": p["request"], "first": p["first"], "count": p["count"],
                    "out": str(shard_file(p["parent"], p["index"]))}
        return {"kind": "load", **{k: p[k] for k in ("path", "name", "staged", "upload_id") if k in p}}

    def _cancel_requested(self, job) -> bool:
        return records.cancel_requested(job.id) or (job.kind == "shard"
                                                    and records.cancel_requested(job.params["parent"]))

    def _follow(self, job, runner) -> None:
        """Relay the runner's progress into the record until it ends, is cancelled or is taken from us."""
        last_written: tuple | None = None
        last_write = 0.0
        while True:
            finished = runner.finished()
            progress, outcome = runner.latest()
            try:
                if self.stop.is_set():
                    runner.kill()
                    reaper.lost(records.load(job.id) or job, "its worker was stopped")
                    return
                if self._cancel_requested(job):
                    runner.kill()
                    self._ended(job, "cancelled", "cancelled")
                    return
                mine = records.load(job.id)
                if mine is None or mine.terminal or mine.worker != self.id or mine.attempts != job.attempts:
                    runner.kill()  # cancelled while queued, or re-queued by a reaper during an outage
                    log.warning("job %s is no longer this worker's: stopped it", job.id)
                    return
                now = time.monotonic()
                if (progress is not None and progress != last_written and not finished
                        and now - last_write >= 1.0 / PROGRESS_WRITES_PER_S):
                    records.update(job.id, progress=progress[0], message=progress[1], report=progress[2])
                    last_written, last_write = progress, now
                if finished:
                    self._finished(job, runner, outcome)
                    return
            except STORE_ERRORS as exc:  # the store is away: the job goes on; write when it is back
                log.warning("job %s: the job store cannot be reached (%s)", job.id, exc)
            time.sleep(FOLLOW_S)

    def _finished(self, job, runner, outcome: dict | None) -> None:
        if outcome is not None and "result" in outcome:
            result = outcome["result"]
            records.update(job.id, state="done", progress=1.0, result=result, finished=time.time(),
                           message=_done_message(job.kind, result))
            if job.kind == "shard":
                from tdacnn.jobs.shards import pool_if_complete

                pool_if_complete(job.params["parent"], self.id)
        elif outcome is not None and outcome.get("cancelled"):
            self._ended(job, "cancelled", "cancelled")
        elif outcome is not None:
            self._ended(job, "failed", f"failed: {outcome.get('error')}")
        else:
            status = runner.proc.returncode
            how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
            runner.kill()  # whatever it left behind
            reaper.lost(records.load(job.id) or job, f"its process stopped unexpectedly ({how}; see "
                                                     f"{log_path(job.id).name} in the data directory's logs)")

    def _ended(self, job, state: str, message: str) -> None:
        records.update(job.id, state=state, message=message, finished=time.time())
        if job.kind == "train" and job.params.get("run"):
            folder = config.runs_dir() / job.params["run"]
            if not (folder / "weights.npz").is_file():
                shutil.rmtree(folder, ignore_errors=True)  # a run that will never finish
        if job.kind == "shard":
            reaper.finish_parent(job.params["parent"], state, f"shard {job.params['index']}: {message}")
        reaper.discard_staged(job)

    # ---- threads ------------------------------------------------------------------------------
    def _consume(self, kind: str) -> None:
        q = queues()
        huey = q.queue(kind)
        while not self.stop.is_set():
            try:
                task = huey.dequeue()
            except STORE_ERRORS as exc:
                log.warning("the %s queue cannot be read (%s); trying again", kind, exc)
                self.stop.wait(1.0)
                continue
            if task is None:
                if q.backend == "sqlite":
                    self.stop.wait(POLL_S)
                continue
            try:
                huey.execute(task)
            except Exception:  # noqa: BLE001 - one job's bug must not end the consumer
                log.exception("job task %s failed", task)

    def _beat_once(self) -> None:
        try:
            records.beat({"id": self.id, "host": socket.gethostname(), "pid": os.getpid(), "started": self.started,
                          "running": list(self.running), "embedded": self.embedded, "loads": self.loads})
            if self.in_touch_since is None:
                self.in_touch_since = time.time()
        except STORE_ERRORS as exc:
            if self.in_touch_since is not None:
                log.warning("heartbeat failed: %s", exc)
            self.in_touch_since = None

    def _reap_once(self) -> None:
        trust = self.in_touch_since is not None and time.time() - self.in_touch_since > records.stale_after_s()
        try:
            reaper.reap(self.id, trust)
        except STORE_ERRORS as exc:
            log.warning("reaper: the job store cannot be reached (%s)", exc)
        except Exception:  # noqa: BLE001 - the reaper must keep going
            log.exception("reaper pass failed")

    def _keep_alive(self) -> None:
        while not self.stop.wait(BEAT_S):
            self._beat_once()
            self._reap_once()

    def note_signal(self, *_) -> None:
        """The SIGTERM/SIGINT handler: a flag, no lock.

        ``Event.set()`` takes the event's lock, which the main thread may hold inside
        ``Event.wait`` when the signal lands: the handler then waits for itself, forever
        (measured: a main thread looping on ``Event.wait`` under a stream of signals whose
        handler sets the event hung, or died of nested handlers each stuck on the lock).
        :meth:`pause` turns the flag into :attr:`stop` outside the handler.
        """
        self.signalled = True

    def pause(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (main thread); True once the worker is to stop."""
        deadline = time.monotonic() + seconds
        while not (self.signalled or self.stop.is_set()) and time.monotonic() < deadline:
            time.sleep(SIGNAL_POLL_S)
        if self.signalled:
            self.stop.set()
        return self.stop.is_set()

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT (or the app that started it ends); returns the exit status."""
        global _CURRENT
        _CURRENT = self
        self._beat_once()
        self._reap_once()  # jobs left running by a worker that died before we started
        threads = [threading.Thread(target=self._consume, args=("train",), name="train", daemon=True)]
        threads += [threading.Thread(target=self._consume, args=("load",), name=f"load-{k}", daemon=True)
                    for k in range(self.loads)]
        threads.append(threading.Thread(target=self._keep_alive, name="heartbeat", daemon=True))
        for t in threads:
            t.start()
        log.info("worker %s on %s: 1 training at a time, %d load(s)", self.id, describe(), self.loads)
        while not self.pause(1.0):
            pass
        log.info("worker %s stopping", self.id)
        for t in threads:
            t.join(timeout=15)
        with contextlib.suppress(*STORE_ERRORS):
            records.drop_worker(self.id)
        return 0


def run_job(job_id: str) -> None:
    """The huey task's body: run ``job_id`` in this process's worker."""
    if _CURRENT is None:
        raise RuntimeError("tdacnn jobs run in a worker (python -m tdacnn.jobs.worker)")
    if not records.valid_id(job_id):
        log.warning("ignored a task with a malformed job id")
        return
    _CURRENT.run_job(job_id)


def _standby(worker: Worker) -> int | None:
    """Wait until this is the one active embedded worker of the data directory on this host; the lock's fd."""
    path = config.home() / "queue" / f"embedded-worker-{socket.gethostname()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    said = False
    while not worker.pause(0):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not said:
                log.info("another app's worker serves this data directory: standing by")
                said = True
            worker.pause(1.0)
    os.close(fd)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tdacnn.jobs.worker", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    return serve(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``python -m tdacnn.jobs.worker`` and ``tdacnn worker``."""
    parser.add_argument("--loads", type=int, default=1, help="checkpoint loads run at once (default 1)")
    parser.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)


def serve(args: argparse.Namespace) -> int:
    """Start a worker with parsed ``args`` and run it until it is stopped."""
    from tdacnn.lifeline import die_with_parent

    if args.embedded:
        die_with_parent(sig=signal.SIGTERM)  # the app ended (even by kill -9): put our jobs back, exit
    worker = Worker(loads=args.loads, embedded=args.embedded)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, worker.note_signal)
    if args.embedded and _standby(worker) is None:
        return 0
    return worker.serve()


if __name__ == "__main__":  # run the imported module's main: the huey task finds the worker there
    from tdacnn.jobs.worker import main as _main

    sys.exit(_main())
