"""Download MNIST and CIFAR-10 into torchvision's layout, with progress and MD5 checks.

Only used when the caller passes ``download=True``.  Without internet the first
request fails and a :class:`UserError` says so in one sentence.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import urllib.request
from pathlib import Path
from typing import Callable

from tdacnn.data._files import md5sum
from tdacnn.data.cifar10 import CIFAR10_FOLDER
from tdacnn.data.mnist import MNIST_FILES
from tdacnn.errors import UserError

__all__ = ["MNIST_MIRRORS", "CIFAR10_URL", "CIFAR10_TAR_MD5", "download_url", "download_mnist", "download_cifar10"]

log = logging.getLogger(__name__)

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_TAR_MD5 = "c58f30108f718f92721af3b95e74349a"

Progress = Callable[[int, int], None]


def _log_progress(name: str) -> Progress:
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = int(100 * done / total) if total > 0 else -1
        if pct // 10 != last[0] // 10:
            last[0] = pct
            log.info("downloading %s: %s", name, f"{pct}%" if pct >= 0 else f"{done >> 20} MiB")

    return report


def download_url(url: str, dest: Path, md5: str | None = None, progress: Progress | None = None,
                 timeout: float = 30.0) -> Path:
    """Fetch ``url`` to ``dest`` (atomically), reporting ``progress(bytes_done, bytes_total)``.

    Raises
    ------
    UserError
        If the download fails (no internet, HTTP error) or the MD5 does not match.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    progress = progress or _log_progress(dest.name)
    tmp = dest.with_name(dest.name + ".part")
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "tdacnn"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while block := resp.read(1 << 16):
                out.write(block)
                done += len(block)
                progress(done, total)
    except OSError as exc:  # URLError, HTTPError, timeouts are OSErrors
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not download {url} ({getattr(exc, 'reason', exc)}); check the internet connection "
                        "or place the files in the data folder by hand") from None
    if md5 and md5sum(tmp) != md5:
        tmp.unlink(missing_ok=True)
        raise UserError(f"the download of {url} is corrupt (MD5 mismatch); try again")
    tmp.replace(dest)
    return dest


def download_mnist(root: str | Path, progress: Progress | None = None) -> Path:
    """Download the four MNIST ``.gz`` files into ``root/MNIST/raw`` (skipping valid ones)."""
    raw = Path(root).expanduser() / "MNIST" / "raw"
    for stem, md5 in MNIST_FILES.items():
        dest = raw / f"{stem}.gz"
        if dest.is_file() and md5sum(dest) == md5:
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                download_url(mirror + dest.name, dest, md5, progress)
                break
            except UserError as exc:
                errors.append(str(exc))
        else:
            raise UserError(f"could not download MNIST from any mirror; {errors[-1]}")
    return raw


def download_cifar10(root: str | Path, progress: Progress | None = None) -> Path:
    """Download and unpack the official CIFAR-10 python batches into ``root/cifar-10-batches-py``."""
    root = Path(root).expanduser()
    tar_path = root / "cifar-10-python.tar.gz"
    if not (tar_path.is_file() and md5sum(tar_path) == CIFAR10_TAR_MD5):
        download_url(CIFAR10_URL, tar_path, CIFAR10_TAR_MD5, progress)
    with tarfile.open(tar_path, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(CIFAR10_FOLDER + "/")]
        for m in members:  # extract by hand: never trust member paths
            target = root / CIFAR10_FOLDER / Path(m.name).name
            src = tar.extractfile(m)
            if src is None:
                continue
            with src, open(target if target.parent.is_dir() else _mk(target), "wb") as out:
                shutil.copyfileobj(src, out)
    return root / CIFAR10_FOLDER


def _mk(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
