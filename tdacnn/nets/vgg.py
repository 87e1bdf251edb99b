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
from typing import Sequence

from tdacnn.errors import UserError
from tdacnn.nets.layers import ConvLayer
from tdacnn.progress import ProgressFn

__all__ = ["VGG16_CONV_SHAPES", "is_vgg16", "fetch_vgg16_imagenet", "VGG16_FILE"]

log = logging.getLogger(__name__)

_CFG = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
        (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]  # fmt: skip
#: ``(out, in, 3, 3)`` of VGG16's 13 conv layers, in network order.
VGG16_CONV_SHAPES: tuple[tuple[int, int, int, int], ...] = tuple((o, i, 3, 3) for i, o in _CFG)

#: torchvision's file name for the ImageNet VGG16 weights (IMAGENET1K_V1).
VGG16_FILE = "vgg16-397923af.pth"
#: Where torchvision downloads them from (``VGG16_Weights.IMAGENET1K_V1.url``; a test checks it is still
#: torchvision's).  Kept here so that tdacnn needs no torchvision at run time.
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"


def is_vgg16(layers: Sequence[ConvLayer]) -> bool:
    """Whether ``layers`` are exactly VGG16's 13 conv layers (with or without batch-norm)."""
    return tuple(layer.shape for layer in layers) == VGG16_CONV_SHAPES


def fetch_vgg16_imagenet(dest: str | Path, progress: bool | ProgressFn = True, *, url: str | None = None) -> Path:
    """Download torchvision's ImageNet VGG16 weights (``weights="IMAGENET1K_V1"``) into ``dest``.

    Parameters
    ----------
    dest : path
        A folder; the file is ``dest/vgg16-397923af.pth`` (kept if already there).
    progress : bool or callable(Progress)
        ``True`` draws a bar on stderr (:class:`~tdacnn.progress.TqdmBar`); a callable receives
        :class:`~tdacnn.progress.Progress` records counted in bytes (the app's progress bar).
    url : str, optional
        Where to download from; torchvision's URL (and its SHA-256 prefix check) by default.

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
    from tdacnn.data.download import download_url
    from tdacnn.progress import TqdmBar

    official = VGG16_URL
    url = url or official
    bar = TqdmBar(desc=f"{VGG16_FILE} ") if progress is True else None
    report = progress if callable(progress) else (bar or (lambda p: None))
    try:
        download_url(url, target, progress=report, sha256_prefix="397923af" if url == official else None)
    except UserError as exc:
        why = str(exc.__cause__ or "the file's checksum does not match")[:120]
        raise UserError(
            f"cannot download the ImageNet VGG16 weights ({why}); "
            f"download {url} on a machine that has internet, copy it to {target} (or anywhere) and run "
            f"'tdacnn analyze path/to/{VGG16_FILE} --layer 5' (or 'tdacnn layers path/to/{VGG16_FILE}')"
        ) from exc
    finally:
        if bar is not None:
            bar.close()
    return target
