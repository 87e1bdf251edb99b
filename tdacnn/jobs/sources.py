"""Weight sources the app can analyse: the shipped default run, finished training
runs under ``runs_dir()``, and loaded checkpoints under ``uploads_dir()``.

A source is named by an id — ``"default"``, ``"run:<folder>"``, ``"upload:<id>"``
— never by a path from the client: :func:`load_source` validates the id and
resolves it inside the data directory only.  numpy only (no torch).
"""

from __future__ import annotations

import json
import logging
import zlib
from functools import lru_cache
from pathlib import Path

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.jobs.requests import check_id
from tdacnn.weights import RUN_WEIGHTS_FILE, WeightSet, WeightSetError

__all__ = ["DEFAULT_SOURCE", "list_sources", "load_source", "source_path", "source_label"]

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"


def _inside(base: Path, name: str) -> Path:
    base = base.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise UserError(f"source {name!r} is not a valid name")
    return path


def source_path(source_id: str) -> Path:
    """The folder holding ``weights.npz`` of a source id.

    Raises
    ------
    UserError
        If the id is malformed or names nothing that exists.
    """
    if source_id == DEFAULT_SOURCE:
        path = config.DEFAULT_RUN
    else:
        if not isinstance(source_id, str) or ":" not in source_id:
            raise UserError(f"unknown source {source_id!r}")
        kind, name = source_id.split(":", 1)
        check_id(name, "source name")
        if kind == "run":
            path = _inside(config.runs_dir(), name)
        elif kind == "upload":
            path = _inside(config.uploads_dir(), name)
        else:
            raise UserError(f"unknown source {source_id!r}")
    if not (path / RUN_WEIGHTS_FILE).is_file():
        raise UserError(f"source {source_id!r} does not exist (or has no weights yet)")
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def source_label(source_id: str, folder: Path) -> str:
    """A short human label: what was trained (or which file), and how much."""
    if source_id == DEFAULT_SOURCE:
        return "default: digits, 40 small CNNs (shipped)"
    if source_id.startswith("upload:"):
        info = _read_json(folder / "layers.json")
        n = len(info.get("layers", []))
        return f"upload: {info.get('file', folder.name)}" + (f" ({n} conv layers)" if n else "")
    run = _read_json(folder / "run.json")
    cfg = run.get("config", run) if isinstance(run.get("config", run), dict) else {}
    dataset, nets, its = cfg.get("dataset"), cfg.get("n_networks"), cfg.get("iterations")
    if dataset and nets:
        return f"run {folder.name}: {dataset}, {nets} networks, {its} iterations"
    return f"run {folder.name}"


def _complete(folder: Path) -> bool:
    """A run folder counts once its training completed (cancelled/partial runs are not offered)."""
    run = folder / "run.json"
    return not run.is_file() or _read_json(run).get("status", "complete") == "complete"


def _folders(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    out = [p for p in base.iterdir() if p.is_dir() and (p / RUN_WEIGHTS_FILE).is_file() and _complete(p)]
    return sorted(out, key=lambda p: p.stat().st_mtime)


def list_sources() -> list[dict]:
    """Options for a source selector: ``[{"value": id, "label": str}, ...]``.

    The shipped default first (when present), then finished runs and loaded
    uploads, oldest first.
    """
    out = []
    if (config.DEFAULT_RUN / RUN_WEIGHTS_FILE).is_file():
        out.append({"value": DEFAULT_SOURCE, "label": source_label(DEFAULT_SOURCE, config.DEFAULT_RUN)})
    for kind, base in (("run", config.runs_dir()), ("upload", config.uploads_dir())):
        for folder in _folders(base):
            sid = f"{kind}:{folder.name}"
            try:
                check_id(folder.name)
            except UserError:
                continue
            out.append({"value": sid, "label": source_label(sid, folder)})
    return out


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> WeightSet:
    return WeightSet.load(path)


def load_source(source_id: str) -> WeightSet:
    """The WeightSet of a source id (cached per process while the file is unchanged).

    Raises
    ------
    UserError
        For an unknown or malformed id, or an unreadable weights file.
    """
    folder = source_path(source_id)
    weights = folder / RUN_WEIGHTS_FILE
    try:
        return _load(str(weights), weights.stat().st_mtime_ns)
    except (WeightSetError, OSError, EOFError, zlib.error) as exc:  # a damaged file on disk
        raise UserError(f"source {source_id!r} cannot be read: {exc}") from None
