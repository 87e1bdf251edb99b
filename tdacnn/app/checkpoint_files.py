"""What the Jobs tab and ``POST /api/sources`` receive as a checkpoint: an upload or a path on the server, checked.

Each function raises :class:`~tdacnn.errors.UserError` with one sentence.  An
upload is written only under ``uploads_dir()/.incoming`` with a server-made name.
A server path is read only inside the folders the server was told to serve
(:func:`allowed_paths`: the data directory, the files given on its command line,
``TDACNN_ALLOWED_PATHS``), checked after resolving symlinks and ``..``; a path
outside them and a path that does not exist get the same sentence, so nobody
learns whether other files exist.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from tdacnn import config
from tdacnn.errors import UserError, quote
from tdacnn.nets.safeload import MAX_UPLOAD_BYTES  # numpy only, no torch

__all__ = ["CHECKPOINT_SUFFIXES", "oversize_message", "allow_paths", "allowed_paths", "server_path", "server_folder",
           "stage_stream"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npz", ".npy", ".tar", ".h5", ".keras", ".onnx")


def oversize_message(name: str, size_mb: str, limit: int = MAX_UPLOAD_BYTES) -> str:
    """The sentence for an upload over :data:`MAX_UPLOAD_BYTES`: the limit, and how to load big files.

    The page carries it with ``{name}`` and ``{size}`` left in, for ``assets/upload_limit.js``.
    """
    return (f"{name} is {size_mb} MB; browser uploads are limited to {limit // 2**20} MB. "
            f"Load big files on the server: give the file's path under \"Load from server path\", "
            f"or start the app on it: python app.py {name} (or tdacnn serve {name}).")


def _incoming(name: str) -> Path:
    folder = config.uploads_dir() / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}-{name}"  # never a client path


def stage_stream(stream: BinaryIO, name: str, limit: int = MAX_UPLOAD_BYTES) -> Path:
    """Copy an uploaded file's stream under ``uploads_dir()/.incoming``, refusing it past ``limit`` bytes.

    Parameters
    ----------
    stream : binary file object
    name : str
        A safe file name (``safe_upload_name``), never a client path.

    Raises
    ------
    UserError
        Empty, or over ``limit`` (:func:`oversize_message`).
    """
    path = _incoming(name)
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(2**20):
                size += len(chunk)
                if size > limit:
                    raise UserError(oversize_message(name, f"over {limit // 2**20}", limit))
                out.write(chunk)
        if size == 0:
            raise UserError(f"{name} is empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


#: Files given on the server's command line (``tdacnn serve FILE``), resolved.
_COMMAND_LINE: set[Path] = set()


def allow_paths(paths: Iterable[str | os.PathLike]) -> None:
    """Let "Load from server path" read these files too (the ones the server was started with)."""
    _COMMAND_LINE.update(Path(p).expanduser().resolve() for p in paths)


def allowed_paths() -> list[Path]:
    """Folders and files a server path may lie in: the data directory, ``TDACNN_ALLOWED_PATHS``
    (``os.pathsep``-separated), and the files given on the command line; all resolved."""
    extra = [p for p in os.environ.get("TDACNN_ALLOWED_PATHS", "").split(os.pathsep) if p.strip()]
    return [config.home().resolve(), *(Path(p.strip()).expanduser().resolve() for p in extra),
            *sorted(_COMMAND_LINE)]


def _allowed(text: str, kind) -> Path | None:
    """``text`` resolved, if it lies inside :func:`allowed_paths` and ``kind(path)`` holds; else None."""
    try:
        path = Path(text.strip()).expanduser().resolve()
        inside = any(path == root or path.is_relative_to(root) for root in allowed_paths())
        return path if inside and kind(path) else None
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        return None


def server_folder(text) -> Path:
    """A folder on the server a job may read (a training's ``data_root``), checked as :func:`server_path`.

    Raises
    ------
    UserError
        Not a folder the server may read (outside the allowed folders or missing: one sentence for both).
    """
    path = _allowed(text, Path.is_dir) if isinstance(text, str) and "\x00" not in text and len(text) < 4096 else None
    if path is None:
        raise UserError(f"{quote(text)} is not a folder this server may read: give one in its data folder or under "
                        "TDACNN_ALLOWED_PATHS")
    return path


def server_path(text) -> Path:
    """The checkpoint file a user named by its path on the server, if it lies where the server may read.

    Returns
    -------
    Path
        Resolved (symlinks and ``..`` followed), inside :func:`allowed_paths`, an existing file.

    Raises
    ------
    UserError
        Not a path, not a file the server may read (outside the allowed folders or missing: one
        sentence for both), or not a checkpoint's suffix.
    """
    if not isinstance(text, str) or not text.strip() or "\x00" in text or len(text) > 4096:
        raise UserError("give the path of a checkpoint file on the server")
    path = _allowed(text, Path.is_file)
    if path is None:  # outside the allowed folders or missing: the same sentence
        raise UserError(f"{quote(text.strip())} is not a file this server may read: give a checkpoint in its data "
                        "folder, one it was started with, or one under TDACNN_ALLOWED_PATHS")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise UserError(f"{quote(path.name)} does not look like a checkpoint; expected one of "
                        f"{', '.join(CHECKPOINT_SUFFIXES)}")
    return path
