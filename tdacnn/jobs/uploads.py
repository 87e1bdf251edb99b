"""Loaded checkpoints are stored once per content.

A checkpoint opened on the command line, loaded from a server path or uploaded
through the browser is converted by the load job into
``uploads_dir()/<stem>-<sha>`` (``<sha>``: the start of the sha256 of the
file's bytes), and ``layers.json`` beside its weights records the full sha256.
Loading the same bytes again, under any name and by any of the three ways,
finds that folder (:func:`find_upload`) and reuses it: the source list holds the
file once.  Standard library only (no numpy, no torch): the web process hashes
files given on its command line with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePath

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.jobs.requests import check_id

__all__ = ["LAYERS_FILE", "file_sha256", "upload_id", "find_upload", "read_layers", "one_load_at_a_time",
           "build_folder", "publish"]

#: Layer list written beside an upload's weights: ``{"file", "sha256", "loaded", "layers"}``.
LAYERS_FILE = "layers.json"
#: Hidden folder of ``uploads_dir()`` where conversions are built and per-content locks live.
BUILD_DIR = ".building"
#: Hex digits of the sha256 kept in an upload id.
ID_DIGITS = 10


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in chunks (about 0.7 GB/s; a checkpoint is never held whole).

    Raises
    ------
    UserError
        If the file cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise UserError(f"{PurePath(path).name} cannot be read ({exc.strerror or exc})") from None


def upload_id(name: str, digest: str) -> str:
    """``<stem>-<first 10 hex digits of digest>``: the folder a checkpoint of that name and content converts into.

    Examples
    --------
    >>> upload_id("../my model.pth", "0123456789abcdef")
    'my_model-0123456789'
    """
    from tdacnn.nets.safeload import safe_upload_name  # numpy only

    stem = safe_upload_name(PurePath(str(name)).stem, "checkpoint")[:40].strip("._-") or "checkpoint"
    return check_id(f"{stem}-{digest[:ID_DIGITS]}", "upload id")


def read_layers(folder: Path) -> dict:
    """The ``layers.json`` of an upload folder (``{}`` when missing or unreadable)."""
    try:
        data = json.loads((folder / LAYERS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_upload(digest: str) -> str | None:
    """The id of the upload converted from a file with this sha256 (the oldest if several), or None.

    Uploads stored before the sha256 was recorded are never matched.
    """
    from tdacnn.weights import RUN_WEIGHTS_FILE

    base = config.uploads_dir()
    if not base.is_dir():
        return None
    found = [p for p in base.iterdir()
             if p.is_dir() and (p / RUN_WEIGHTS_FILE).is_file() and read_layers(p).get("sha256") == digest]
    for folder in sorted(found, key=lambda p: p.stat().st_mtime):
        with contextlib.suppress(UserError):
            return check_id(folder.name)
    return None


@contextlib.contextmanager
def one_load_at_a_time(digest: str) -> Iterator[None]:
    """Hold an exclusive lock on this content: a second load of the same bytes waits, then finds the first."""
    folder = config.uploads_dir() / BUILD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{digest[:32]}.lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_folder(upload: str) -> Path:
    """A fresh hidden folder to write a conversion into before :func:`publish` shows it."""
    return config.uploads_dir() / BUILD_DIR / f"{upload}.{uuid.uuid4().hex[:8]}"


def publish(built: Path, upload: str) -> str:
    """Move a finished conversion into ``uploads_dir()/<upload>`` at once; returns the id it got.

    Weights and layer list appear together (a directory rename).  If a folder of
    that name is already there (an older, unrecorded conversion), the id gets a
    random suffix instead of replacing it.
    """
    for name in (upload, check_id(f"{upload[:80]}-{uuid.uuid4().hex[:6]}", "upload id")):
        try:
            os.rename(built, config.uploads_dir() / name)
            return name
        except OSError:
            continue
    shutil.rmtree(built, ignore_errors=True)
    raise UserError(f"the converted checkpoint could not be stored in {config.uploads_dir()}")
