"""Where tdacnn keeps its files: one data directory (``./data`` by default,
``TDACNN_HOME`` to move it) holding runs, uploads and the results cache."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "runs_dir", "uploads_dir", "cache_dir", "DEFAULT_RUN", "REPO_DATA"]

#: The repository's ``data/`` folder (holds the shipped default run).
REPO_DATA = Path(__file__).resolve().parents[1] / "data"
#: The small default run shipped with the repository (digits, 40 networks).
DEFAULT_RUN = REPO_DATA / "default-run"


def home() -> Path:
    """The data directory: ``$TDACNN_HOME`` or ``./data``; created on first use."""
    path = Path(os.environ.get("TDACNN_HOME") or "data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    return _sub("runs")


def uploads_dir() -> Path:
    return _sub("uploads")


def cache_dir() -> Path:
    return _sub("cache")
