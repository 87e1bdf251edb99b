"""Weight sources the app can analyse: the shipped default run, finished training
runs under ``runs_dir()``, loaded checkpoints under ``uploads_dir()``, and run
folders opened on the server's command line (``python app.py FOLDER``).

A source is named by an id — ``"default"``, ``"run:<folder>"``, ``"upload:<id>"``,
``"folder:<name>"`` — never by a path from the client: :func:`load_source`
validates the id and resolves it inside the data directory, or through the list
of folders the server's own command line opened (``opened.json`` in the data
directory, written only by :func:`register_folder`).  numpy only (no torch).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path

from tdacnn import config
from tdacnn.errors import UserError, quote
from tdacnn.jobs.requests import check_id
from tdacnn.jobs.uploads import read_layers
from tdacnn.weights import RUN_WEIGHTS_FILE, WeightSet, WeightSetError

__all__ = ["DEFAULT_SOURCE", "list_sources", "load_source", "source_path", "source_label", "register_folder",
           "opened_sources", "set_opened_sources"]

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
#: Run folders opened on the command line, by name: ``{"folders": {name: absolute path}}``.
OPENED_FILE = "opened.json"
#: Source ids given on this server's command line, first shown first (see :func:`set_opened_sources`).
_OPENED: list[str] = []


def _inside(base: Path, name: str) -> Path:
    base = base.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise UserError(f"source {quote(name)} is not a valid name")
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
            raise UserError(f"unknown source {quote(source_id)}")
        kind, name = source_id.split(":", 1)
        check_id(name, "source name")
        if kind == "run":
            path = _inside(config.runs_dir(), name)
        elif kind == "upload":
            path = _inside(config.uploads_dir(), name)
        elif kind == "folder" and name in (opened := _opened_folders()):
            path = Path(opened[name])
        else:
            raise UserError(f"unknown source {quote(source_id)}")
    if not (path / RUN_WEIGHTS_FILE).is_file():
        raise UserError(f"source {quote(source_id)} does not exist (or has no weights yet)")
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
        info = read_layers(folder)
        n = len(info.get("layers", []))
        return f"upload: {info.get('file', folder.name)}" + (f" ({n} conv layers)" if n else "")
    run = _read_json(folder / "run.json")
    cfg = run.get("config", run) if isinstance(run.get("config", run), dict) else {}
    dataset, nets, its = cfg.get("dataset"), cfg.get("n_networks"), cfg.get("iterations")
    kind = "folder" if source_id.startswith("folder:") else "run"
    if dataset and nets:
        return f"{kind} {folder.name}: {dataset}, {nets} networks, {its} iterations"
    return f"{kind} {folder.name}"


def _told_apart(source_id: str, folder: Path) -> str:
    """What a label gets when another source has the same one: when it was loaded, and from which bytes."""
    name = source_id.split(":", 1)[-1]
    if not source_id.startswith("upload:"):
        return name
    info = read_layers(folder)
    loaded = info.get("loaded")
    if not isinstance(loaded, str):
        loaded = time.strftime("%Y-%m-%d %H:%M", time.localtime(folder.stat().st_mtime))
    digest = info.get("sha256")
    return f"loaded {loaded}, " + (f"sha256 {digest[:8]}" if isinstance(digest, str) else name)


def _distinct(options: list[dict], folders: dict[str, Path]) -> list[dict]:
    """Labels shared by several sources (two files of one name) get what tells them apart."""
    counts = Counter(o["label"] for o in options)
    return [{**o, "label": f"{o['label']} · {_told_apart(o['value'], folders[o['value']])}"}
            if counts[o["label"]] > 1 and o["value"] in folders else o for o in options]


def _complete(folder: Path) -> bool:
    """A run folder counts once its training completed (cancelled/partial runs are not offered), or while a
    :class:`tdacnn.Recorder` records it (it grows; the page picks up its new snapshots)."""
    run = folder / "run.json"
    return not run.is_file() or _read_json(run).get("status", "complete") in ("complete", "recording")


def _folders(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    out = [p for p in base.iterdir() if p.is_dir() and (p / RUN_WEIGHTS_FILE).is_file() and _complete(p)]
    return sorted(out, key=lambda p: p.stat().st_mtime)


def list_sources() -> list[dict]:
    """Options for a source selector: ``[{"value": id, "label": str}, ...]``.

    The shipped default first (when present), then finished runs and loaded
    uploads, oldest first.  An uploaded checkpoint is listed once whichever way it
    was loaded; two files of the same name get labels that tell them apart.
    """
    out = []
    folders: dict[str, Path] = {}
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
            folders[sid] = folder
    for name, path in _opened_folders().items():
        folder = Path(path)
        if (folder / RUN_WEIGHTS_FILE).is_file() and _complete(folder):
            out.append({"value": f"folder:{name}", "label": source_label(f"folder:{name}", folder)})
            folders[f"folder:{name}"] = folder
    return _distinct(out, folders)


# ---- opened on the command line ----------------------------------------------
def _opened_folders() -> dict[str, str]:
    folders = _read_json(config.home() / OPENED_FILE).get("folders", {})
    return {k: v for k, v in folders.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(folders, dict) else {}


def register_folder(path: str | os.PathLike) -> str:
    """The source id of a run folder (one holding ``weights.npz``) given on the server's command line.

    The shipped default run, runs and uploads already have ids; any other folder is
    recorded in ``opened.json`` under a name made from its own name and a hash of
    its path (its files are used where they are, never copied).

    Raises
    ------
    UserError
        If the folder holds no ``weights.npz``.
    """
    folder = Path(path).resolve()
    if not (folder / RUN_WEIGHTS_FILE).is_file():
        raise UserError(f"{folder} holds no {RUN_WEIGHTS_FILE}: give a tdacnn run folder or a checkpoint file")
    if folder == config.DEFAULT_RUN.resolve():
        return DEFAULT_SOURCE
    for kind, base in (("run", config.runs_dir()), ("upload", config.uploads_dir())):
        if folder.parent == base.resolve():
            try:
                return f"{kind}:{check_id(folder.name)}"
            except UserError:
                break  # an odd name: record it like any other folder
    from tdacnn.nets.safeload import safe_upload_name  # numpy only

    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    name = check_id(f"{safe_upload_name(folder.name, 'run')[:60]}-{digest}", "folder name")
    registry = config.home() / OPENED_FILE
    folders = _opened_folders()
    if folders.get(name) != str(folder):
        folders[name] = str(folder)
        tmp = registry.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"folders": folders}, indent=1))
        os.replace(tmp, registry)
    return f"folder:{name}"


def set_opened_sources(ids: list[str]) -> None:
    """Record the sources this server was started on (the first is what a fresh page shows)."""
    _OPENED[:] = list(ids)


def opened_sources() -> list[str]:
    """The source ids given on this server's command line, in order (empty when none)."""
    return list(_OPENED)


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
        raise UserError(f"source {quote(source_id)} cannot be read: {exc}") from exc
