"""CPU strategy: worker processes, each training its share of the networks one at a time.

Each worker is a fresh ``python -m tdacnn.training.worker`` (:mod:`.worker`):
started with ``subprocess`` (so nothing of the calling process is inherited but
its environment: no sockets or other files, no OpenMP or CUDA state, no
re-import of its ``__main__``), with one OpenMP thread and the trainer's malloc
settings (:func:`~tdacnn.training.allocator.malloc_env`) in its environment,
and it dies with the calling process.  Networks are handed out one at a time to
whichever worker is free.  A worker that dies (killed, out of memory) stops the
training at once with a RuntimeError; a :class:`~tdacnn.errors.UserError` in a
worker is raised here as one.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

import tdacnn
from tdacnn.errors import UserError
from tdacnn.lifeline import PARENT_ENV
from tdacnn.training.allocator import malloc_env
from tdacnn.training.config import TrainConfig
from tdacnn.training.state import NetResult

__all__ = ["train_in_workers", "worker_env"]

Step = Callable[[int, int, float, float], None]


def worker_env() -> dict[str, str]:
    """The environment a worker is started with: ours plus its settings."""
    root = str(Path(tdacnn.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ, **malloc_env(),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        PARENT_ENV: str(os.getpid()),
        "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root,
    }


def _send(proc: subprocess.Popen, msg: Any) -> None:
    try:
        pickle.dump(msg, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):  # it has ended: its reader reports how
        pass


def _read(w: int, stream: IO[bytes], inbox: "queue.Queue[tuple[int, str, Any]]") -> None:
    while True:
        try:
            kind, payload = pickle.load(stream)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            inbox.put((w, "eof", None))
            return
        inbox.put((w, kind, payload))


def train_in_workers(cfg: TrainConfig, networks: list[int], state_dir: Path | None, workers: int,
                     on_step: Step, should_stop: Callable[[], bool]) -> list[NetResult]:
    """Train ``networks`` in ``workers`` worker processes; returns their results.

    Parameters
    ----------
    on_step : callable(network, iteration, loss, acc)
        Progress of one network, at most every 0.2 s per worker.
    should_stop : callable() -> bool
        Polled ~10 times a second; when true the workers stop after their current step
        and the (partial) results come back.

    The workers are waited for by the calling thread (the parent-death signal is tied to it).
    """
    env = worker_env()
    procs = [subprocess.Popen([sys.executable, "-m", "tdacnn.training.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env, close_fds=True) for _ in range(workers)]
    inbox: queue.Queue[tuple[int, str, Any]] = queue.Queue()
    setup = {"config": cfg.to_dict(), "state_dir": str(state_dir) if state_dir is not None else None}
    for w, p in enumerate(procs):
        threading.Thread(target=_read, args=(w, p.stdout, inbox), daemon=True).start()
        _send(p, setup)
    pending = list(networks)
    results: list[NetResult] = []
    error: tuple[bool, str] | None = None
    ended = [False] * workers
    stopping = False

    def hand_out(w: int) -> None:
        _send(procs[w], pending.pop(0) if pending and not stopping else None)

    try:
        while not all(ended):
            if not stopping and should_stop():
                stopping = True
                for p in procs:
                    _send(p, "stop")
            try:
                w, kind, payload = inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind == "step":
                on_step(*payload)
            elif kind in ("ready", "result"):
                if kind == "result":
                    results.append(payload)
                hand_out(w)
            elif kind == "error":
                error = error or payload
                stopping = True
                for p in procs:
                    _send(p, "stop")
            elif kind in ("done", "eof"):
                if kind == "eof" and not ended[w] and error is None:
                    # died without saying goodbye: its network will never finish, so stop the others now
                    try:
                        code = procs[w].wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        code = None
                    error = (False, f"a training worker process died unexpectedly (exit status {code})")
                    stopping = True
                    for p in procs:
                        _send(p, "stop")
                ended[w] = True
    finally:
        deadline = time.monotonic() + 10
        for p in procs:
            _send(p, "stop")
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except OSError:
                    pass
    if error is not None:
        is_user, msg = error
        raise UserError(msg) if is_user else RuntimeError(f"training failed in a worker: {msg}")
    return results
