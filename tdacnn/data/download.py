"""The project's one downloader: MNIST, CIFAR-10 and other official files, over mirrors, checked before kept.

Only used when the caller asks to download.  Why ours and not
``torchvision.datasets.utils.download_url`` (measured against a loopback
server, torchvision 0.29): its request has no timeout (a server that never
answers still held it after 20 s; here: one sentence after ``timeout``), its
progress is a ``tqdm`` bar on stderr with no callback (a job cannot show it on
the page), and it writes straight to the final name (a body cut short, 10 of
100,000 bytes, was kept as the file without an error).  Here a download goes to
``<name>.part``, is checked (length, then MD5 or a SHA-256 prefix) and only then
renamed; progress is reported as :class:`~tdacnn.progress.Progress` records
counted in bytes; every failure is one :class:`UserError` sentence.  The
mirrors, URLs and checksums are torchvision's (``tests/data/test_torchvision_reference.py``
pins them to its dataset classes).  ``nets/vgg.py`` fetches the VGG16 weights through it too.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tdacnn.data._files import md5sum
from tdacnn.data.cifar10 import CIFAR10_FOLDER
from tdacnn.data.mnist import MNIST_FILES
from tdacnn.errors import UserError
from tdacnn.progress import ProgressFn, Stopwatch

__all__ = ["MNIST_MIRRORS", "CIFAR10_URL", "CIFAR10_TAR_MD5", "download_url", "download_mnist", "download_cifar10"]

log = logging.getLogger(__name__)

#: torchvision's ``MNIST.mirrors``, tried in order
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: torchvision's ``CIFAR10.url`` and ``CIFAR10.tgz_md5``
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_TAR_MD5 = "c58f30108f718f92721af3b95e74349a"


def _log_progress(name: str) -> ProgressFn:
    """Progress as a log line every 10 % (the default when the caller passes no callback)."""
    last = [-10]

    def report(p) -> None:
        pct = int(100 * p.fraction) if p.total else -1
        if pct < 0 or pct // 10 != last[0] // 10:
            last[0] = pct
            log.info("downloading %s: %s", name, f"{pct}%" if pct >= 0 else f"{p.done >> 20} MiB")

    return report


def _why(exc: BaseException | None) -> str:
    """The network's own words for a failed request: ``HTTP Error 404: Not Found``, ``timed out``..."""
    if isinstance(exc, urllib.error.HTTPError):
        return str(exc)
    return str(getattr(exc, "reason", None) or exc)


def _writable(folder: Path) -> None:
    """Make ``folder`` or say in one sentence why it cannot be written (a read-only data root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".tdacnn-write-probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot download into {folder} ({exc.strerror or exc}); point the data root "
                        "(--data-root) at a folder you can write, or place the files there by hand") from exc


def download_url(url: str, dest: Path, md5: str | None = None, progress: ProgressFn | None = None,
                 timeout: float = 30.0, sha256_prefix: str | None = None) -> Path:
    """Fetch ``url`` to ``dest`` through ``dest.part``, checked before it takes the final name.

    Parameters
    ----------
    url : str
        ``http(s)://`` or ``file://`` address.
    dest : Path
        Where the file ends up (its folder is made); replaced if it exists.
    md5 : str, optional
        Expected hex MD5 of the whole file.
    progress : callable(Progress), optional
        Receives :class:`~tdacnn.progress.Progress` records (``unit="B"``, ``total`` 0 when the
        server sends no length); default: a log line every 10 %.
    timeout : float
        Seconds to wait for the connection and for each block.
    sha256_prefix : str, optional
        Expected start of the hex SHA-256 (torchvision's weight files carry one in their name).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    UserError
        If the download fails (no internet, HTTP error, timeout) or its checksum does not match;
        nothing is left behind.
    """
    _writable(dest.parent)
    progress = progress or _log_progress(dest.name)
    tmp = dest.with_name(dest.name + ".part")
    hashes = {"md5": hashlib.md5() if md5 else None, "sha256": hashlib.sha256() if sha256_prefix else None}
    hashes = {k: h for k, h in hashes.items() if h is not None}
    watch = Stopwatch()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "tdacnn"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while block := resp.read(1 << 16):
                out.write(block)
                for h in hashes.values():
                    h.update(block)
                done += len(block)
                progress(watch.record(done, total, unit="B", text=f"downloading {dest.name}: {done >> 20} MiB"
                                      + (f" of {total >> 20} MiB" if total else "")))
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, a full disk; a cut-off body
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not download {url} ({_why(exc)}); check the internet "
                        "connection or place the files in the data folder by hand") from exc
    if total and done != total:  # urllib returns a body cut short without an error
        tmp.unlink(missing_ok=True)
        raise UserError(f"the download of {url} was cut off after {done} of {total} bytes; try again")
    if (md5 and hashes["md5"].hexdigest() != md5) or (
            sha256_prefix and not hashes["sha256"].hexdigest().startswith(sha256_prefix)):
        tmp.unlink(missing_ok=True)
        raise UserError(f"the download of {url} is corrupt (checksum mismatch); try again")
    tmp.replace(dest)
    return dest


def download_mnist(root: str | Path, progress: ProgressFn | None = None, timeout: float = 30.0) -> Path:
    """Download the four MNIST ``.gz`` files into ``root/MNIST/raw``, skipping those already valid.

    Each file is tried on every mirror of :data:`MNIST_MIRRORS` in turn.  Returns the raw folder.
    """
    raw = Path(root).expanduser() / "MNIST" / "raw"
    for stem, md5 in MNIST_FILES.items():
        dest = raw / f"{stem}.gz"
        if dest.is_file() and md5sum(dest) == md5:
            continue
        _writable(raw)  # before the mirrors: no mirror helps a read-only folder
        error: UserError | None = None
        for mirror in MNIST_MIRRORS:
            try:
                download_url(mirror + dest.name, dest, md5, progress, timeout)
                break
            except UserError as exc:
                error = exc
        else:
            raise UserError(f"could not download {dest.name} from any of the {len(MNIST_MIRRORS)} MNIST mirrors "
                            f"({_why(error.__cause__ or error)}); check the internet connection or place the "
                            f"four .gz files in {raw} by hand") from error
    return raw


def download_cifar10(root: str | Path, progress: ProgressFn | None = None, timeout: float = 30.0) -> Path:
    """Download the official CIFAR-10 python archive into ``root`` and unpack it into ``root/cifar-10-batches-py``.

    The archive is kept (a valid one is not downloaded again).  Members are
    written by hand under their base names: a member's path is never trusted.
    """
    root = Path(root).expanduser()
    tar_path = root / "cifar-10-python.tar.gz"
    if not (tar_path.is_file() and md5sum(tar_path) == CIFAR10_TAR_MD5):
        download_url(CIFAR10_URL, tar_path, CIFAR10_TAR_MD5, progress, timeout)
    folder = root / CIFAR10_FOLDER
    _writable(folder)
    with tarfile.open(tar_path, "r:gz") as tar:
        for m in tar.getmembers():
            if not (m.isfile() and m.name.startswith(CIFAR10_FOLDER + "/")):
                continue
            src = tar.extractfile(m)
            if src is not None:
                with src, open(folder / Path(m.name).name, "wb") as out:
                    shutil.copyfileobj(src, out)
    return folder
