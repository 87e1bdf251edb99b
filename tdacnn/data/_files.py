"""Small helpers shared by the dataset readers: checksums and safe opening."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from tdacnn.errors import UserError

__all__ = ["md5sum", "read_bytes", "find_file"]


def md5sum(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """The content of ``path``, gunzipped when it ends in ``.gz``.

    Raises
    ------
    UserError
        If the file cannot be read or its gzip stream is corrupt or truncated.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path} is corrupt or truncated ({exc}); delete it and download it again") from None


def find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists (uncompressed first)."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None
