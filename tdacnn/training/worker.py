"""A CPU training worker process: ``python -m tdacnn.training.worker``.

Started by :mod:`tdacnn.training.pool`, with the environment it needs set at
spawn (one OpenMP thread, glibc's malloc keeping freed memory, the parent's pid),
so nothing about the process that starts it is changed.  It dies with that
process (:func:`tdacnn.lifeline.die_with_parent`).

It talks to the parent over its standard input and output, in pickled
messages (both ends are this package: the parent only reads what its own
child wrote).  In: ``{"config": ..., "state_dir": ...}`` once, then a network
number to train or ``None`` to finish, and ``"stop"`` at any time.  Out:
``("ready", pid)``, ``("step", (network, iteration, loss, acc))`` at most
every 0.2 s per network, ``("result", NetResult)``, ``("error", (is_user_error,
message))`` and finally ``("done", pid)``.  Anything the libraries print goes
to standard error, never into the message stream.
"""

from __future__ import annotations

import os
import pickle
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["main"]


def _read_commands(stream: BinaryIO, inbox: "queue.Queue[Any]", stop: threading.Event) -> None:
    """Move the parent's messages into ``inbox``; "stop", or the parent gone, sets ``stop``."""
    while True:
        try:
            msg = pickle.load(stream)
        except (EOFError, OSError, pickle.UnpicklingError):
            stop.set()
            inbox.put(None)
            return
        if msg == "stop":
            stop.set()
            inbox.put(None)
        else:
            inbox.put(msg)


def main() -> int:
    from tdacnn.lifeline import die_with_parent

    die_with_parent()  # the parent's pid comes in $TDACNN_PARENT_PID
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, not into the message stream
    inp = os.fdopen(os.dup(0), "rb")
    pid = os.getpid()
    send_lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        with send_lock:
            pickle.dump((kind, payload), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    try:
        setup = pickle.load(inp)
        inbox: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=_read_commands, args=(inp, inbox, stop), daemon=True).start()
        _serve(setup, inbox, stop, send, pid)
    except BaseException as exc:  # reported to the parent, which raises it there
        from tdacnn.errors import UserError

        user = isinstance(exc, UserError)
        send("error", (user, str(exc) if user else f"{type(exc).__name__}: {exc}"))
    finally:
        send("done", pid)
        out.close()
        sys.stderr.flush()
        # leave without Python's interpreter teardown: with torch (and the torch._dynamo the
        # optimisers import) loaded, an orderly exit took ~1 s per worker, added to every run
        os._exit(0)
    return 0


def _serve(setup: dict, inbox: "queue.Queue[Any]", stop: threading.Event, send, pid: int) -> None:
    import torch

    from tdacnn.training.config import TrainConfig
    from tdacnn.training.engine import train_group
    from tdacnn.training.state import load_train_data

    torch.set_num_threads(1)  # one network per thread: the same weights in every layout
    cfg = TrainConfig.from_dict(setup["config"])
    state_dir = Path(setup["state_dir"]) if setup.get("state_dir") else None
    data = load_train_data(cfg, "cpu")
    last = [0.0]

    def report(networks: list[int], it: int, losses, accs) -> None:
        now = time.monotonic()
        if now - last[0] > 0.2 or it == cfg.iterations:
            last[0] = now
            send("step", (networks[0], it, float(losses[0]), float(accs[0])))

    send("ready", pid)
    while not stop.is_set():
        network = inbox.get()
        if network is None:
            break
        (result,) = train_group(cfg, [network], data, state_dir, report, stop.is_set)
        send("result", result)


if __name__ == "__main__":
    sys.exit(main())
