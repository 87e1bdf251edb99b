"""Job functions: what runs in the worker process (a forked Dash background job or a
Celery worker), never in the web process.

torch is imported only here, inside the functions (through the trainer and the
checkpoint reader), so the web process that forks the jobs never touches it.

Every job reports progress through a callable taking a :class:`Progress` and
raises :class:`~tdacnn.errors.UserError` with one sentence when it cannot go on.
:func:`run_job` wraps a job with its registry record: status, pid, heartbeat,
the training queue, cancellation, and the final message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tdacnn import config
from tdacnn.errors import UserError, quote
from tdacnn.jobs.queue import JobCancelled, train_slot
from tdacnn.jobs.requests import TrainRequest, check_id
from tdacnn.jobs.store import Job, JobRegistry, job_registry
from tdacnn.jobs.uploads import (
    LAYERS_FILE,
    build_folder,
    file_sha256,
    find_upload,
    one_load_at_a_time,
    publish,
    read_layers,
)
from tdacnn.jobs.uploads import upload_id as new_upload_id

__all__ = [
    "Progress",
    "train_job",
    "load_checkpoint_job",
    "run_job",
    "start_job",
    "rerun_job",
    "JOB_KINDS",
    "LAYERS_FILE",
    "new_run_dir",
    "to_train_config",
]

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
REGISTRY_EVERY_S = 0.25


@dataclass(frozen=True)
class Progress:
    """One progress report: a fraction in [0, 1] and a line of text."""

    fraction: float
    text: str
    eta_s: float | None = None
    loss: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


ProgressFn = Callable[[Progress], None]
CancelFn = Callable[[], bool]


def _noop(_p: Progress) -> None:
    pass


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


_NO_ETA = object()


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _train_progress(request: TrainRequest, progress: ProgressFn, t0: float) -> Callable[[Any], None]:
    """Adapt the trainer's progress dicts (iteration, total, networks_done, eta_s, loss)."""

    def report(info: Any) -> None:
        done = _get(info, "iteration", default=0) or 0
        total = _get(info, "total", "iterations", default=request.iterations) or 1
        loss = _get(info, "loss", default=None)
        nets_done = _get(info, "networks_done", default=None)
        fraction = min(max(float(done) / float(total), 0.0), 1.0)
        eta = _get(info, "eta_s", default=_NO_ETA)
        if eta is _NO_ETA:  # a reporter without an estimate of its own (the trainer's is None until it knows)
            eta = (time.time() - t0) * (1 - fraction) / fraction if fraction > 0 else None
        text = f"iteration {done} of {total} ({request.networks} networks on {request.dataset}"
        if nets_done:
            text += f", {nets_done} finished"
        text += f"), ETA {_fmt_eta(eta)}"
        if isinstance(loss, (int, float)) and loss == loss:
            text += f", loss {float(loss):.3f}"
        else:
            loss = None
        progress(Progress(fraction, text, eta, loss))

    return report


def new_run_dir(request: TrainRequest) -> Path:
    """A fresh folder under ``runs_dir()`` named after the date, dataset and size."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{request.dataset}-{request.networks}nets-{uuid.uuid4().hex[:6]}"
    return config.runs_dir() / check_id(name, "run name")


def train_job(config_dict: dict, progress: ProgressFn = _noop, cancel: CancelFn | None = None,
              out_dir: str | Path | None = None) -> dict:
    """Train a run of networks into a new folder under ``runs_dir()``.

    Parameters
    ----------
    config_dict : dict
        A :class:`~tdacnn.jobs.requests.TrainRequest` as a dict.
    progress : callable(Progress)
    cancel : callable() -> bool, optional
        Polled by the trainer; True stops it (raises :class:`JobCancelled`).
    out_dir : path, optional
        Where to write the run (default: a new folder under ``runs_dir()``).

    Returns
    -------
    dict with ``source`` (the source id of the new run) and ``path``.
    """
    request = TrainRequest.from_dict(config_dict)
    from tdacnn.training.run import train_run  # torch is imported here, in the job process

    train_config = to_train_config(request)

    out = Path(out_dir) if out_dir is not None else new_run_dir(request)
    progress(Progress(0.0, f"preparing {request.dataset} and {request.networks} networks"))
    t0 = time.time()
    try:
        train_run(train_config, out, progress=_train_progress(request, progress, t0),
                  cancel=cancel or (lambda: False))
    except JobCancelled:
        raise
    except (UserError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if cancel is not None and cancel():
        raise JobCancelled("cancelled")
    if not (out / "weights.npz").is_file():
        raise UserError("training stopped before any weights were saved")
    progress(Progress(1.0, f"done: {request.networks} networks, {request.iterations} iterations"))
    return {"source": f"run:{out.name}", "path": str(out)}


def to_train_config(request: TrainRequest, **overrides: Any):
    """The trainer's :class:`~tdacnn.training.config.TrainConfig` for a request."""
    from tdacnn.training.config import TrainConfig

    return TrainConfig(
        dataset=request.dataset, data_root=request.data_root or None, download=request.download,
        n_networks=request.networks, iterations=request.iterations, snapshots=tuple(request.snapshots),
        seed=request.seed, conv1=request.conv1, conv2=request.conv2, **overrides,
    )


def load_checkpoint_job(upload_path: str | Path, progress: ProgressFn = _noop, upload_id: str | None = None,
                        display_name: str | None = None, staged: bool = False) -> dict:
    """Read the conv layers of a checkpoint into ``uploads_dir()/<id>/``, once per content.

    Writes ``weights.npz`` (a WeightSet) and ``layers.json`` (the layer list, the
    file's name and sha256).  A file whose bytes were loaded before (under any name,
    by upload, server path or command line) is not read again: the result names the
    existing source.  With ``staged`` the file is a browser upload staged by the web
    process and is deleted once read (whether or not it could be used).

    Parameters
    ----------
    upload_id : str, optional
        Folder name for a new conversion (default ``<stem>-<sha256 prefix>``).

    Returns
    -------
    dict with ``source`` (``"upload:<id>"``), ``path``, ``layers`` (a list of dicts)
    and ``existing`` (True when the same bytes had been loaded already).
    """
    path = Path(upload_path)
    if not path.is_file():
        raise UserError(f"no checkpoint file at {path}")
    name = display_name or path.name
    try:
        progress(Progress(0.02, f"checking {name}"))
        digest = file_sha256(path)
        with one_load_at_a_time(digest):
            found = find_upload(digest)
            if found is None:
                return _convert(path, name, digest, upload_id or new_upload_id(name, digest), progress)
    finally:
        if staged:
            path.unlink(missing_ok=True)
    folder = config.uploads_dir() / found
    layers = read_layers(folder).get("layers", [])
    progress(Progress(1.0, f"{name} is already loaded as {found}"))
    return {"source": f"upload:{found}", "path": str(folder), "layers": layers, "existing": True}


def _convert(path: Path, name: str, digest: str, upload_id: str, progress: ProgressFn) -> dict:
    from tdacnn.nets.checkpoints import list_conv_layers, read_weightset  # torch, in the job process

    check_id(upload_id, "upload id")
    progress(Progress(0.1, f"reading {name}"))
    try:
        layers = list_conv_layers(path)
        ws = read_weightset([path])
    except UserError as exc:  # the loader names the staged file; say which upload it was
        text = str(exc).replace(path.name, name)
        raise UserError(text if text.startswith(name) else f"{name}: {text}") from None
    except (ValueError, OSError, EOFError, RuntimeError) as exc:
        raise UserError(f"{name} could not be read as a checkpoint ({type(exc).__name__}: {exc})") from None
    if not ws.entries:
        raise UserError(f"{name} holds no convolution weights")
    progress(Progress(0.7, f"saving {len(ws.layers())} conv layers"))
    built = build_folder(upload_id)
    try:
        ws.meta.setdefault("source_file", name)
        ws.save(built)
        layer_list = [_layer_dict(layer) for layer in layers]
        info = {"file": name, "sha256": digest, "loaded": time.strftime("%Y-%m-%d %H:%M"), "layers": layer_list}
        (built / LAYERS_FILE).write_text(json.dumps(info, indent=1))
        upload_id = publish(built, upload_id)
    finally:
        shutil.rmtree(built, ignore_errors=True)  # gone already once published
    progress(Progress(1.0, f"loaded {name}: {len(ws.layers())} conv layers"))
    folder = config.uploads_dir() / upload_id
    return {"source": f"upload:{upload_id}", "path": str(folder), "layers": layer_list, "existing": False}


def _layer_dict(layer: Any) -> dict:
    """What ``tdacnn layers --json`` prints for the layer (index, name, shape, label, flags, problem ...)."""
    return json.loads(json.dumps(layer.to_dict(), default=str))


JOB_KINDS: dict[str, Callable[..., dict]] = {"train": train_job, "load": load_checkpoint_job}


@contextlib.contextmanager
def _heartbeat(registry: JobRegistry, job_id: str):
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):
                registry.beat(job_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_S + 1)


def start_job(kind: str, params: dict, registry: JobRegistry | None = None) -> Job:
    """Record a new queued job (validating its parameters first, in the caller's process)."""
    if kind not in JOB_KINDS:
        raise UserError(f"unknown job kind {quote(kind)}")
    if kind == "train":
        params = TrainRequest.from_dict(params).to_dict()
    return (registry or job_registry()).create(kind, params)


def rerun_job(job_id: str, changes: dict | None = None, registry: JobRegistry | None = None) -> Job:
    """Queue a new job with the parameters of ``job_id`` (e.g. after it was interrupted)."""
    registry = registry or job_registry()
    old = registry.get(job_id)
    if old is None:
        raise UserError(f"no job {quote(job_id)}")
    params = {k: v for k, v in old.params.items() if k not in ("shards", "children")}
    return start_job(old.kind, {**params, **(changes or {})}, registry)


def run_job(job_id: str, progress: ProgressFn = _noop, registry: JobRegistry | None = None) -> Job:
    """Run a recorded job in this process and record how it ended.

    Never raises for a job's own failure: the returned :class:`Job` has status
    ``done``, ``failed`` (with the reason as its message) or ``cancelled``.
    """
    registry = registry or job_registry()
    job = registry.get(job_id)
    if job is None:
        raise UserError(f"no job {quote(job_id)}")
    if job.terminal:
        return job
    now = time.time()
    registry.update(job_id, host=socket.gethostname(), pid=os.getpid(), heartbeat=now)

    last = [0.0]

    def report(p: Progress) -> None:
        if registry.cancel_requested(job_id):
            raise JobCancelled("cancelled")
        now = time.time()
        if now - last[0] >= REGISTRY_EVERY_S or p.fraction >= 1.0:  # spare the disk: ≤ 4 writes/s
            registry.update(job_id, progress=p.fraction, message=p.text, heartbeat=now)
            last[0] = now
        progress(p)

    def queued(msg: str) -> None:
        progress(Progress(0.0, msg))

    cancel = lambda: registry.cancel_requested(job_id)  # noqa: E731
    try:
        with _heartbeat(registry, job_id):
            slot = train_slot(registry, job_id, queued) if job.kind == "train" else contextlib.nullcontext()
            with slot:
                registry.update(job_id, status="running", started=time.time(), message="starting")
                if job.kind == "train":
                    result = train_job(job.params, report, cancel)
                else:
                    result = load_checkpoint_job(job.params["path"], report, job.params.get("upload_id"),
                                                 job.params.get("name"), bool(job.params.get("staged")))
        final = registry.update(job_id, status="done", progress=1.0, result=result, finished=time.time(),
                                message=_done_message(job.kind, result))
    except JobCancelled:
        final = registry.update(job_id, status="cancelled", message="cancelled", finished=time.time())
    except (UserError, ValueError) as exc:
        final = registry.update(job_id, status="failed", message=f"failed: {exc}", finished=time.time())
    except Exception as exc:  # noqa: BLE001 - any crash becomes a failed job with its reason
        log.exception("job %s crashed", job_id)
        final = registry.update(job_id, status="failed", finished=time.time(),
                                message=f"failed: unexpected error ({type(exc).__name__}: {exc})")
    progress(Progress(final.progress, final.message))
    return final


def _done_message(kind: str, result: dict) -> str:
    if kind == "train":
        return f"done: new run {result['source'].split(':', 1)[1]}"
    if result.get("existing"):
        return f"done: already loaded as {result['source'].split(':', 1)[1]} ({len(result['layers'])} conv layers)"
    return f"done: loaded {len(result.get('layers', []))} conv layers as {result['source'].split(':', 1)[1]}"
