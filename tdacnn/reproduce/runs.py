"""Training runs for the reproduction, cached so a second report reuses them.

A reproduction trains ensembles with :func:`tdacnn.training.run.train_run` into
``<runs root>/<dataset>-n<N>-t<T>-<hash>``, where the hash covers everything
that determines the weights (:meth:`TrainConfig.training_key`) and the
resolved data folder.  A complete run with the same configuration is reused;
an unfinished one is resumed (the trainer saves its state at each snapshot).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["run_folder", "ensure_run", "default_runs_root"]

log = logging.getLogger(__name__)


def default_runs_root() -> Path:
    """``<tdacnn home>/reproduce-runs`` (``TDACNN_HOME`` or ``./data``)."""
    from tdacnn.config import home

    return home() / "reproduce-runs"


def run_folder(config, runs_root: str | Path) -> Path:
    """The cache folder of a training configuration.

    Parameters
    ----------
    config : TrainConfig
    runs_root : path

    Returns
    -------
    Path
        ``runs_root / "<dataset>-n<N>-t<T>-<12 hex>"``.
    """
    payload = dict(config.training_key())
    payload["data_root"] = str(Path(config.data_root).expanduser().resolve()) if config.data_root else None
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(runs_root) / f"{config.dataset}-n{config.n_networks}-t{config.iterations}-{digest}"


def ensure_run(config, runs_root: str | Path,
               progress: Callable[[Any], None] | None = None) -> tuple[Path, dict[str, Any], float, bool]:
    """A complete training run of ``config``: reused when cached, else trained.

    Returns
    -------
    run_dir : Path
    info : dict
        The run's ``run.json``.
    seconds : float
        Wall time spent training now (0 when reused).
    reused : bool
    """
    from tdacnn.training.run import read_run, train_run

    folder = run_folder(config, runs_root)
    if (folder / "run.json").is_file():
        try:
            info = read_run(folder)
        except Exception as exc:  # noqa: BLE001 - an unreadable cache entry is retrained
            log.warning("ignoring unreadable cached run %s: %s", folder, exc)
            info = {}
        if info.get("status") == "complete":
            log.info("reusing the complete training run %s", folder)
            return folder, info, 0.0, True
    t0 = time.monotonic()
    info = train_run(config, folder, progress=progress)
    return folder, info, time.monotonic() - t0, False
