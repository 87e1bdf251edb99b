"""A training-run folder: ``run.json`` (what was trained, how, how well) and ``weights.npz``.

``train_run(config, out_dir)`` trains an ensemble into ``out_dir``.  While it
runs, per-network state lives in ``out_dir/state/``; calling it again on a
cancelled or partial run with the same config resumes from the last snapshot.
Once the run is complete the state folder is removed (only the snapshots are
kept).  ``run.json`` records the config, the architecture, the equivalent
``tdacnn train`` command line (``recipe``), per-network test accuracy, the
status and timings.

``train_weights(config, first=..., count=...)`` trains a slice of a run's
networks, with the very weights they have in the whole run, and returns them
as a :class:`~tdacnn.weights.WeightSet` (what a job worker calls to train its
share of a run split across workers).
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from tdacnn.errors import UserError
from tdacnn.progress import ProgressFn
from tdacnn.training.config import TrainConfig
from tdacnn.training.ensemble import TrainResult, train_ensemble
from tdacnn.training.state import Cancelled

__all__ = ["RUN_FORMAT", "RUN_FILE", "train_run", "train_weights", "read_run", "recipe"]

log = logging.getLogger(__name__)

RUN_FORMAT = "tdacnn-run/1"
RUN_FILE = "run.json"
STATE_DIR = "state"


def recipe(cfg: TrainConfig, out_dir: str | Path | None = None) -> str:
    """The ``tdacnn train`` command line that reproduces ``cfg`` (into ``out_dir``)."""
    default = TrainConfig()
    args = ["tdacnn", "train", "--dataset", cfg.dataset, "--networks", str(cfg.n_networks),
            "--iterations", str(cfg.iterations)]
    if cfg.data_root:
        args += ["--data-root", str(cfg.data_root)]
    if cfg.download:
        args.append("--download")
    args += ["--snapshots", ",".join(str(s) for s in cfg.snapshots)]
    for name, flag in (("seed", "--seed"), ("optimizer", "--optimizer"), ("lr", "--lr"),
                       ("momentum", "--momentum"), ("weight_decay", "--weight-decay"),
                       ("batch_size", "--batch-size"), ("conv1", "--conv1"), ("conv2", "--conv2"),
                       ("hidden", "--hidden"), ("store_dtype", "--store-dtype")):
        v = getattr(cfg, name)
        if v != getattr(default, name):
            args += [flag, str(v)]
    if cfg.snapshot_layers is not None:
        args += ["--snapshot-layers", ",".join(str(l) for l in cfg.snapshot_layers)]
    if cfg.shared_batches:
        args.append("--shared-batches")
    if cfg.device != "auto":
        args += ["--device", cfg.device]
    if out_dir is not None:
        args += ["--out", str(out_dir)]
    return shlex.join(args)


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """The parsed ``run.json`` of ``run_dir``.

    Raises
    ------
    UserError
        If there is no readable run.json of a known format.
    """
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a training run (no {RUN_FILE})")
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc})") from None
    if info.get("format") != RUN_FORMAT:
        raise UserError(f"{path} has unknown format {info.get('format')!r}; expected {RUN_FORMAT}")
    return info


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def train_run(
    config: TrainConfig,
    out_dir: str | Path,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train ``config`` into the run folder ``out_dir`` and return its ``run.json`` content.

    ``progress`` receives :class:`~tdacnn.progress.Progress` records (see
    :func:`~tdacnn.training.ensemble.train_ensemble`).  A folder holding an unfinished run of the same config is resumed; a folder
    holding a complete run, or a run of another config, is refused (UserError).
    """
    from tdacnn.data import check_dataset

    out = Path(out_dir)
    from tdacnn.training.ensemble import resolve_device

    check_dataset(config.dataset, config.data_root, config.download, progress)  # before any folder is made
    resolve_device(config.device)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    if (out / RUN_FILE).is_file():
        prev = read_run(out)
        if prev.get("status") == "complete":
            raise UserError(f"{out} already holds a complete run; choose another output folder")
        if TrainConfig.from_dict(prev["config"]).training_key() != config.training_key():
            raise UserError(f"{out} holds an unfinished run with a different configuration; "
                            "choose another output folder or repeat the same command to resume it")
        log.info("resuming the unfinished run in %s", out)
    elif out.is_dir() and any(out.iterdir()):
        raise UserError(f"{out} is not empty and holds no run; choose a new or empty output folder")
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE_DIR
    info: dict[str, Any] = {
        "format": RUN_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config.to_dict(),
        "arch": config.arch().to_dict(),
        "recipe": recipe(config, out),
        "status": "running",
    }
    _write_json(out / RUN_FILE, info)  # marks the folder as a run (resumable) before training starts
    result: TrainResult = train_ensemble(config, progress=progress, cancel=cancel, state_dir=state)
    result.weights.meta.update({"recipe": info["recipe"], "status": result.status})
    result.weights.save(out)
    accs = [a for a in result.test_acc if a is not None]
    info.update({
        "status": result.status,
        "iterations_done": result.iterations_done,
        "snapshots": result.weights.iterations(),
        "layers": {str(l): result.weights.iterations(l) for l in result.weights.layers()},
        "test_acc": result.test_acc,
        "mean_test_acc": sum(accs) / len(accs) if accs else None,
        "timings": result.timings,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    _write_json(out / RUN_FILE, info)
    if result.status == "complete":
        shutil.rmtree(state, ignore_errors=True)
    log.info("run %s: %s, mean test accuracy %s", out, result.status, info["mean_test_acc"])
    return info


def train_weights(
    config: TrainConfig,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    first: int = 0,
    count: int | None = None,
):
    """Train networks ``first .. first+count-1`` of the run ``config`` and return their weights.

    Each network gets exactly the weights it has when the whole run is trained in
    one piece (network ``i`` is seeded from ``(config.seed, i)``), so slices trained
    anywhere pool into the same run.

    Parameters
    ----------
    progress : callable(Progress), optional
        As for :func:`train_run` (``networks`` counts the slice).
    cancel : callable() -> bool, optional
        Polled between steps; when it returns true training stops and
        :class:`~tdacnn.training.Cancelled` is raised.
    first, count : int
        The slice (default: from ``first`` to the last network).

    Returns
    -------
    WeightSet
        Conv weights at every snapshot of every network of the slice (their run
        numbers); ``meta`` holds ``arch``, ``train``, ``dataset``, ``networks``
        ([first, first + count]), ``test_acc`` (per network of the slice) and ``timings``.

    Raises
    ------
    UserError
        For a slice outside the run, or what :func:`train_run` refuses.
    Cancelled
        When ``cancel()`` turned true.
    """
    n = config.n_networks
    count = n - first if count is None else count
    if not (isinstance(first, int) and isinstance(count, int) and 0 <= first and 1 <= count and first + count <= n):
        raise UserError(f"a slice of networks must lie within the run's {n}; got first {first!r}, count {count!r}")
    result = train_ensemble(config, progress=progress, cancel=cancel, networks=range(first, first + count))
    if result.status != "complete":
        raise Cancelled(f"training cancelled after {min(result.iterations_done)} of {config.iterations} iterations")
    result.weights.meta.update({"networks": [first, first + count], "test_acc": result.test_acc,
                                "timings": result.timings})
    return result.weights
