"""Job functions: what a job's runner process does (:mod:`tdacnn.jobs.runner`), never the web process.

torch is imported only inside the functions (through the trainer and the
checkpoint reader).  Every job reports progress through a callable taking a
:class:`~tdacnn.progress.Progress` (the one progress record) and raises :class:`~tdacnn.errors.UserError` with one sentence
when it cannot go on.  :func:`run_spec` is the runner's one entry: a job
description (JSON) in, the job's result (a JSON-able dict) out.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.jobs.requests import TrainRequest, check_id
from tdacnn.progress import Progress, ProgressFn
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
    "Cancelled",
    "train_job",
    "load_checkpoint_job",
    "train_shard_job",
    "run_spec",
    "LAYERS_FILE",
    "new_run_dir",
    "to_train_config",
]

log = logging.getLogger(__name__)


CancelFn = Callable[[], bool]

from tdacnn.training import Cancelled  # noqa: E402 - no torch at import (the engine imports it lazily)


def _noop(_p: Progress) -> None:
    pass


def _train_progress(request: TrainRequest, progress: ProgressFn) -> ProgressFn:
    """Pass the trainer's records on, their text naming the dataset."""

    def report(p: Progress) -> None:  # the download's records (bytes) keep their own words
        text = p.text if p.unit == "B" and p.text else f"training on {request.dataset}: {p.line()}"
        progress(p.replace(text=text))

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
        Polled by the trainer; True stops it (raises :class:`Cancelled`).
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
    progress(Progress(0, request.iterations, "it", f"preparing {request.dataset} and {request.networks} networks",
                      networks=request.networks, networks_done=0))
    try:
        train_run(train_config, out, progress=_train_progress(request, progress),
                  cancel=cancel or (lambda: False))
    except (UserError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    if not (out / "weights.npz").is_file():
        raise UserError("training stopped before any weights were saved")
    progress(Progress(request.iterations, request.iterations, "it",
                      f"done: {request.networks} networks, {request.iterations} iterations",
                      networks=request.networks, networks_done=request.networks))
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
        progress(Progress.at(0.02, f"checking {name}"))
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
    progress(Progress.at(1.0, f"{name} is already loaded as {found}"))
    return {"source": f"upload:{found}", "path": str(folder), "layers": layers, "existing": True}


def _convert(path: Path, name: str, digest: str, upload_id: str, progress: ProgressFn) -> dict:
    from tdacnn.nets.checkpoints import list_conv_layers, read_weightset  # torch, in the job process

    check_id(upload_id, "upload id")
    progress(Progress.at(0.1, f"reading {name}"))
    try:
        layers = list_conv_layers(path)
        ws = read_weightset([path])
    except UserError as exc:  # the loader names the staged file; say which upload it was
        text = str(exc).replace(path.name, name)
        raise UserError(text if text.startswith(name) else f"{name}: {text}") from None
    except (ValueError, OSError, EOFError, RuntimeError) as exc:
        raise UserError(f"{name} could not be read as a checkpoint ({type(exc).__name__}: {exc})") from exc
    if not ws.entries:
        raise UserError(f"{name} holds no convolution weights")
    progress(Progress.at(0.7, f"saving {len(ws.layers())} conv layers"))
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
    progress(Progress.at(1.0, f"loaded {name}: {len(ws.layers())} conv layers"))
    folder = config.uploads_dir() / upload_id
    return {"source": f"upload:{upload_id}", "path": str(folder), "layers": layer_list, "existing": False}


def _layer_dict(layer: Any) -> dict:
    """What ``tdacnn layers --json`` prints for the layer (index, name, shape, label, flags, problem ...)."""
    return json.loads(json.dumps(layer.to_dict(), default=str))


def train_shard_job(request_dict: dict, first: int, count: int, out_file: str | Path,
                    progress: ProgressFn = _noop) -> dict:
    """Train networks ``first .. first+count-1`` of a run into ``out_file`` (a WeightSet ``.npz``).

    Each network gets exactly the weights it has in the unsplit run (network ``i``
    is seeded from ``(seed, i)``), so the pooled shards equal the run trained whole.
    """
    request = TrainRequest.from_dict(request_dict)
    cfg = to_train_config(request)
    report = _train_progress(request, progress)
    from tdacnn.training.run import train_weights  # torch is imported here, in the runner process

    try:
        ws = train_weights(cfg, progress=report, cancel=None, first=first, count=count)
    except (UserError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    ws.save(out)
    progress(Progress(request.iterations, request.iterations, "it", f"done: networks {first} to {first + count - 1}",
                      networks=count, networks_done=count))
    return {"first": first, "count": count}


def run_spec(spec: dict, progress: ProgressFn = _noop) -> dict:
    """Run the job described by ``spec`` (what the worker sends its runner) and return its result.

    ``spec["kind"]`` is ``"train"`` (``request``, ``out``), ``"load"`` (``path``,
    ``name``, ``staged``, ``upload_id``) or ``"shard"`` (``request``, ``first``,
    ``count``, ``out``).
    """
    kind = spec.get("kind")
    if kind == "train":
        return train_job(spec["request"], progress, out_dir=spec["out"])
    if kind == "load":
        return load_checkpoint_job(spec["path"], progress, spec.get("upload_id"), spec.get("name"),
                                   bool(spec.get("staged")))
    if kind == "shard":
        return train_shard_job(spec["request"], spec["first"], spec["count"], spec["out"], progress)
    raise UserError(f"unknown job kind {kind!r}")
