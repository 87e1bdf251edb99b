"""What the Jobs tab receives as a checkpoint: a browser upload or a path on the server, checked.

Each function raises :class:`~tdacnn.errors.UserError` with one sentence; none reads
a client-chosen path outside what it names, and an upload is written only under
``uploads_dir()/.incoming`` with a server-made name.
"""

from __future__ import annotations

import base64
import binascii
import time
from pathlib import Path

from tdacnn import config
from tdacnn.errors import UserError
from tdacnn.nets.safeload import MAX_UPLOAD_BYTES  # numpy only, no torch

__all__ = ["CHECKPOINT_SUFFIXES", "oversize_message"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npz", ".npy", ".tar")


def oversize_message(name: str, size_mb: str, limit: int = MAX_UPLOAD_BYTES) -> str:
    """The sentence for an upload over :data:`MAX_UPLOAD_BYTES`: the limit, and how to load big files.

    The page carries it with ``{name}`` and ``{size}`` left in, for ``assets/upload_limit.js``.
    """
    return (f"{name} is {size_mb} MB; browser uploads are limited to {limit // 2**20} MB. "
            f"Load big files on the server: give the file's path under \"Load from server path\", "
            f"or start the app on it: python app.py {name} (or tdacnn serve {name}).")


def _decode_upload(contents: str, filename: str, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    if not isinstance(contents, str) or "," not in contents:
        raise UserError(f"{filename}: the upload did not arrive as a file")
    b64 = contents.split(",", 1)[1]
    size = len(b64) * 3 // 4 - b64[-2:].count("=")
    if size > limit:
        raise UserError(oversize_message(filename, f"{size / 2**20:.1f}", limit))
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"{filename}: the upload is not valid base64 data") from None
    if not data:
        raise UserError(f"{filename} is empty")
    return data


def _stage_upload(data: bytes, name: str) -> Path:
    """Write an uploaded file under ``uploads_dir()/.incoming`` (never a client path)."""
    folder = config.uploads_dir() / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time_ns() % 10**9)}-{name}"
    path.write_bytes(data)
    return path


def _server_path(text) -> Path:
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise UserError("give the path of a checkpoint file on the server")
    path = Path(text.strip()).expanduser()
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise UserError(f"{path.name} does not look like a checkpoint; expected one of {', '.join(CHECKPOINT_SUFFIXES)}")
    if not path.is_file():
        raise UserError(f"no file at {path} on the server")
    return path.resolve()
