"""VGG16: recognising its conv layers in any re-packaging, and fetching torchvision's ImageNet weights.

torchvision's ``vgg16`` names its 13 conv weights ``features.{0,2,5,...,28}.weight``
(``vgg16_bn``: ``features.{0,3,7,...,40}.weight``).  Re-packagings put a prefix
in front (``module.``, ``backbone.``, ``model.``); the conv order in the state
dict stays the network order, so layer discovery numbers them 1–13 without any
VGG-specific rule.  This module only checks that a layer list *is* VGG16-shaped
(useful for Figure 6 of the seed paper, layers 2–13) and fetches the weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from tdacnn.errors import UserError
from tdacnn.nets.layers import ConvLayer

__all__ = ["VGG16_CONV_SHAPES", "is_vgg16", "fetch_vgg16_imagenet", "VGG16_FILE"]

log = logging.getLogger(__name__)

_CFG = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
        (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]  # fmt: skip
#: ``(out, in, 3, 3)`` of VGG16's 13 conv layers, in network order.
VGG16_CONV_SHAPES: tuple[tuple[int, int, int, int], ...] = tuple((o, i, 3, 3) for i, o in _CFG)

#: torchvision's file name for the ImageNet VGG16 weights (IMAGENET1K_V1).
VGG16_FILE = "vgg16-397923af.pth"


def is_vgg16(layers: Sequence[ConvLayer]) -> bool:
    """Whether ``layers`` are exactly VGG16's 13 conv layers (with or without batch-norm)."""
    return tuple(layer.shape for layer in layers) == VGG16_CONV_SHAPES


def fetch_vgg16_imagenet(
    dest: str | Path, progress: bool | Callable[[int, int], None] = True, *, url: str | None = None
) -> Path:
    """Download torchvision's ImageNet VGG16 weights (``weights="IMAGENET1K_V1"``) into ``dest``.

    Parameters
    ----------
    dest : path
        A folder; the file is ``dest/vgg16-397923af.pth`` (kept if already there).
    progress : bool or callable(done_bytes, total_bytes)
        ``True`` shows torchvision's progress bar; a callable is called as the
        download proceeds (the app's progress bar).
    url : str, optional
        Where to download from; torchvision's URL by default.

    Returns
    -------
    Path of the state-dict file (528 MB), loadable by :func:`tdacnn.nets.checkpoints.read_weightset`.

    Raises
    ------
    UserError
        Without internet access, saying how to supply the file instead.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / VGG16_FILE
    if target.is_file() and target.stat().st_size > 500_000_000:
        return target
    from torchvision.models import VGG16_Weights

    official = VGG16_Weights.IMAGENET1K_V1.url
    url = url or official
    part = target.with_name(target.name + ".part")
    try:
        _download(url, part, progress, "397923af" if url == official else None)
    except Exception as exc:  # noqa: BLE001 - any network failure means "cannot download"
        part.unlink(missing_ok=True)
        raise UserError(
            f"cannot download the ImageNet VGG16 weights ({str(exc)[:120] or type(exc).__name__}); "
            f"download {url} on a machine that has internet, copy it to {target} (or anywhere) and run "
            f"'tdacnn analyze path/to/{VGG16_FILE} --layer 5' (or 'tdacnn layers path/to/{VGG16_FILE}')"
        ) from None
    part.replace(target)
    return target


def _download(url: str, part: Path, progress: bool | Callable[[int, int], None], hash_prefix: str | None) -> None:
    if callable(progress):
        import hashlib
        import urllib.request

        sha = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=30) as resp, open(part, "wb") as fh:  # noqa: S310 - fixed https URL
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                progress(done, total)
        if hash_prefix and not sha.hexdigest().startswith(hash_prefix):
            raise ValueError(f"the downloaded file's checksum does not match ({hash_prefix}...)")
    else:
        from torch.hub import download_url_to_file

        download_url_to_file(url, str(part), hash_prefix=hash_prefix, progress=bool(progress))
