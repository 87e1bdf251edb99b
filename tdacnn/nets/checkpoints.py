"""Checkpoints in, `WeightSet` out: the one door through which outside networks enter tdacnn.

>>> layers = list_conv_layers("vgg16.pth")            # doctest: +SKIP
>>> layers[2].label                                    # doctest: +SKIP
'conv 3 of 13, 128×64×3×3'
>>> ws = read_weightset(["seed0.pt", "seed1.pt"], layers=[2, 3])   # doctest: +SKIP

Every file is opened by :mod:`tdacnn.nets.safeload` (``torch.load(weights_only=True)``
with mmap, safetensors, ``np.load(allow_pickle=False)``); nothing in a file is ever
executed.  Reading goes layer by layer: only the layers asked for are copied out
of the (memory-mapped) file.

tdacnn's own checkpoint is a plain dict that ``weights_only`` loads::

    {"format": "tdacnn-checkpoint/1", "arch": "mnist-cnn", "config": {...plain data...},
     "iteration": 400, "state_dict": {name: tensor}}
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.nets.layers import MODULE_TYPES_KEY, ConvLayer, discover_conv_layers, fold_batchnorm, to_oihw
from tdacnn.nets.own_format import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from tdacnn.nets.safeload import MAX_UPLOAD_BYTES, TensorSource, open_tensors, safe_upload_name
from tdacnn.nets.unwrap import unwrap_checkpoint
from tdacnn.nets.vgg import fetch_vgg16_imagenet, is_vgg16
from tdacnn.weights import WeightEntry, WeightSet, WeightSetError

__all__ = [
    "CHECKPOINT_FORMAT",
    "MAX_UPLOAD_BYTES",
    "ConvLayer",
    "list_conv_layers",
    "read_weightset",
    "save_checkpoint",
    "load_checkpoint",
    "iteration_from_name",
    "safe_upload_name",
    "save_upload",
    "fetch_vgg16_imagenet",
    "is_vgg16",
]

log = logging.getLogger(__name__)

Source = str | os.PathLike | Mapping[str, Any]
_ITER_KEYS = ("iteration", "iter", "global_step", "step")
_ITER_RE = re.compile(r"(?:^|[^a-z])(?:iteration|iter|it|global_step|steps?|checkpoint|ckpt)[-_=]?(\d+)(?!\d)")




# ---------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------
def _open_source(item: Source) -> TensorSource:
    if isinstance(item, Mapping):
        import torch

        tensors, extras = unwrap_checkpoint(dict(item), "the state dict")
        arrays = {
            n: (t.detach().cpu().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t))
            for n, t in tensors.items()
        }
        shapes = {n: tuple(int(s) for s in a.shape) for n, a in arrays.items()}
        return TensorSource(Path("state_dict"), "state-dict", list(arrays), shapes, extras, "stored", arrays.__getitem__)
    return open_tensors(item)


def _array_layers(src: TensorSource) -> list[ConvLayer]:
    """Layers of a filter file: each array is one layer.

    Accepted: ``(out, in, kh, kw)``; ``(n, kh, kw)`` (read as ``(n, 1, kh, kw)``);
    ``(n, k*k)`` rows of flattened square patches (read as ``(n, 1, k, k)``).
    """
    layers = []
    n = len(src.names)
    for i, name in enumerate(src.names, start=1):
        shape = src.shapes[name]
        side = int(round(np.sqrt(shape[1]))) if len(shape) == 2 else 0
        if len(shape) == 2 and side >= 2 and side * side == shape[1] and shape[0] >= 1:
            layers.append(ConvLayer(i, name, (shape[0], 1, side, side), shape, n, layout="NK"))
        elif len(shape) == 3 and min(shape) >= 1:
            layers.append(ConvLayer(i, name, (shape[0], 1, shape[1], shape[2]), shape, n, layout="NHW"))
        elif len(shape) == 4 and min(shape) >= 1:
            layers.append(ConvLayer(i, name, shape, shape, n))  # type: ignore[arg-type]
        else:
            raise UserError(
                f"array {quote(name)} in {src.path.name} has shape {shape}; a filter array must be "
                "(out, in, kh, kw) or (n, kh, kw) or (n, kh*kw) with square kernels, e.g. (64, 3, 3) or (64, 9)"
            )
    return layers


def _layers_of(src: TensorSource) -> list[ConvLayer]:
    if src.format in ("npy", "npz"):
        return _array_layers(src)
    layers = src.layers
    if layers is None:  # the file tells names and shapes only
        layers = discover_conv_layers(src.names, src.shapes, stored_order=src.order == "stored",
                                      module_types=src.extras.get(MODULE_TYPES_KEY))
    if not layers:
        shown = ", ".join(f"{n} {src.shapes[n]}" for n in src.names[:4])
        raise UserError(
            f"{src.path.name} has no convolution weights (4-D tensors); it holds {len(src.names)} "
            f"tensor(s): {shown}{' ...' if len(src.names) > 4 else ''}"
        )
    return layers


def _weightset_file(item: Source) -> Path | None:
    """The path if ``item`` is a tdacnn weight set (run folder or its weights.npz)."""
    if isinstance(item, Mapping):
        return None
    p = Path(item)
    if p.is_dir():
        return p
    if p.is_file() and p.suffix == ".npz":
        try:
            with zipfile.ZipFile(p) as zf:
                return p if "header.npy" in zf.namelist() else None
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, ValueError):
            return None  # damaged: the array loader says why
    return None


def _load_weightset(p: Path) -> WeightSet:
    try:
        return WeightSet.load(p)
    except WeightSetError as exc:
        raise UserError(str(exc)) from exc


def list_conv_layers(source: Source) -> list[ConvLayer]:
    """Every conv layer of a weight file (or an in-memory state dict), in network order.

    Parameters
    ----------
    source : path or mapping
        ``.pt``/``.pth``/``.bin``/``.ckpt`` (zip or legacy pickle, possibly wrapping the state dict),
        ``.safetensors``, a tdacnn checkpoint, ``.npy``/``.npz`` filter arrays, a tdacnn
        weight set, or a state dict itself.

    Returns
    -------
    list of ConvLayer
        Indexed from 1.  Only names and shapes are read, never the weights.

    Raises
    ------
    UserError
        Unreadable or unsafe files, or no conv weights.
    """
    ws_path = _weightset_file(source)
    if ws_path is not None:
        ws = _load_weightset(ws_path)
        first = {e.layer: e for e in ws.entries if e.network == ws.networks()[0]}
        n = len(first)
        return [
            ConvLayer(i, e.layer_name or f"layer{e.layer}", tuple(e.weight.shape), tuple(e.weight.shape), n)  # type: ignore[arg-type]
            for i, e in sorted(first.items())
        ]
    with _open_source(source) as src:
        return _layers_of(src)


# ---------------------------------------------------------------------------
# reading weights
# ---------------------------------------------------------------------------
def iteration_from_name(name: str) -> int:
    """The training step in a file name (``net_iter400.pt``, ``step_400``, ``checkpoint-400``), else -1."""
    m = _ITER_RE.search(Path(str(name)).stem.lower())
    return int(m.group(1)) if m else -1


def _iteration(extras: Mapping[str, Any], name: str) -> int:
    for key in _ITER_KEYS:
        value = extras.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return iteration_from_name(name)


def _pick(layers: list[ConvLayer], wanted: Sequence[int | str] | None, label: str) -> list[ConvLayer]:
    if wanted is None:
        return layers
    by_index = {layer.index: layer for layer in layers}
    by_name = {layer.name: layer for layer in layers}
    chosen = []
    for w in wanted:
        layer = by_name.get(w) if isinstance(w, str) else by_index.get(int(w))
        if layer is None:
            raise UserError(f"{label} has no conv layer {quote(w)}; its conv layers are 1 to {len(layers)}")
        chosen.append(layer)
    return chosen


def read_weightset(
    paths: Source | Sequence[Source],
    layers: int | str | Sequence[int | str] | None = None,
    fold_bn: bool = False,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> WeightSet:
    """Read conv weights from one or several files into one :class:`WeightSet`.

    Parameters
    ----------
    paths : path, mapping, or a sequence of them
        Several files are pooled (e.g. seeds of one architecture, or one run's
        checkpoints at several iterations).  Each file is one network, numbered
        in the order given (a tdacnn weight set brings all its networks, renumbered).
    layers : int, str, or sequence of them, optional
        Conv layer numbers (from 1) or tensor names to read; all when None.
    fold_bn : bool
        Fold a following batch-norm into the conv weights.
    progress : callable(done, total), optional
        Called after each layer of each file.

    Returns
    -------
    WeightSet
        ``iteration`` is the tdacnn checkpoint's (or a wrapper's ``iteration``/
        ``global_step``), else parsed from the file name, else -1.  ``meta``
        records each file, its format and config, and the layers read.

    Raises
    ------
    UserError
        Bad files (nothing is returned then), missing layers, or files whose
        layers do not match (different kernel sizes at the same layer number).
    """
    if isinstance(paths, (str, os.PathLike, Mapping)):
        items: list[Source] = [paths]
    else:
        items = list(paths)
    if not items:
        raise UserError("no weight files given")
    wanted = [layers] if isinstance(layers, (int, str)) else layers
    entries: list[WeightEntry] = []
    files: list[dict[str, Any]] = []
    layer_info: dict[int, dict[str, Any]] = {}
    offset = 0
    total = len(items) * (len(wanted) if wanted is not None else 0)
    done = 0
    for item in items:
        label = "the state dict" if isinstance(item, Mapping) else Path(item).name
        ws_path = _weightset_file(item)
        if ws_path is not None:
            ws = _load_weightset(ws_path)
            names = ws.layer_names()
            keep = set(ws.layers()) if wanted is None else {l for l in ws.layers() if l in wanted or names[l] in wanted}
            if wanted is not None and len(keep) < len(set(wanted)):
                raise UserError(f"{label} has no conv layer among {list(wanted)}; its layers are {ws.layers()}")
            nets = {n: offset + i for i, n in enumerate(ws.networks())}
            for e in ws.entries:
                if e.layer in keep:
                    entries.append(WeightEntry(nets[e.network], e.layer, e.iteration, e.weight, e.layer_name))
            files.append({"file": label, "format": "tdacnn-weightset", "networks": list(nets.values()), "meta": ws.meta})
            offset += len(nets)
            continue
        with _open_source(item) as src:
            found = _layers_of(src)
            chosen = _pick(found, wanted, label)
            if wanted is None:  # all layers: those the reader could not lay out stay listed, unread
                chosen = [layer for layer in chosen if not layer.extra.get("problem")]
            iteration = _iteration(src.extras, label)
            total = max(total, done + len(chosen) * (len(items) - len(files)))
            for layer in chosen:
                if layer.extra.get("problem"):  # what the reader found (not a kernel it can lay out)
                    raise UserError(f"{label}: conv layer {layer.index} ({layer.name}) cannot be read: "
                                    f"{layer.extra['problem']}")
                w = to_oihw(layer, src.get(layer.name))
                if fold_bn and layer.batchnorm is not None:
                    bn = layer.batchnorm
                    w = fold_batchnorm(w, src.get(bn.running_var), src.get(bn.weight) if bn.weight else None)
                _check_consistent(layer_info, layer, label)
                try:
                    entries.append(WeightEntry(offset, layer.index, iteration, w, layer.name))
                except WeightSetError as exc:
                    raise UserError(f"{label}: {exc}") from None
                done += 1
                if progress is not None:
                    progress(done, total)
            cfg = src.extras.get("config") if src.extras.get("format") == CHECKPOINT_FORMAT else None
            files.append(
                {"file": label, "format": src.format, "network": offset, "iteration": iteration,
                 "arch": src.extras.get("arch") if cfg is not None else None, "config": cfg,
                 "order": src.order, "n_conv_layers": len(found)}  # fmt: skip
            )
            offset += 1
    meta: dict[str, Any] = {"source": "checkpoints", "files": files, "fold_bn": bool(fold_bn),
                            "layers": {str(k): v for k, v in layer_info.items()}}
    configs = [f["config"] for f in files if f.get("config") is not None]
    if configs:
        meta["config"] = configs[0]
    log.info("read %d weight tensors from %d file(s)", len(entries), len(items))
    return WeightSet(entries, meta)


def _check_consistent(info: dict[int, dict[str, Any]], layer: ConvLayer, label: str) -> None:
    seen = info.get(layer.index)
    if seen is None:
        info[layer.index] = {"name": layer.name, "shape": list(layer.shape), "flags": list(layer.flags)}
    elif tuple(seen["shape"][2:]) != layer.kernel_size:
        raise UserError(
            f"{label}: conv layer {layer.index} has {layer.kernel_size[0]}×{layer.kernel_size[1]} kernels but "
            f"the first file's has {seen['shape'][2]}×{seen['shape'][3]}; pool only files of one architecture"
        )


# ---------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------
def save_upload(content: bytes, client_name: str, dest_dir: str | os.PathLike) -> Path:
    """Check an uploaded file and keep it only if it is a usable weight file.

    The file is written under a name made from its content hash and
    :func:`safe_upload_name` (the client's name is never used as a path), checked
    with :func:`list_conv_layers`, and moved into place only if that succeeds; on
    any error nothing is left behind.

    Raises
    ------
    UserError
        Too large (over :data:`MAX_UPLOAD_BYTES`), empty, unreadable or unsafe.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise UserError(
            f"the file is {len(content) / 2**20:.0f} MB; uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MB "
            "(analyse larger files from a server-side path or with 'tdacnn analyze FILE --layer N')"
        )
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    name = f"{hashlib.sha256(content).hexdigest()[:12]}-{safe_upload_name(client_name)}"
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".upload-", suffix=Path(name).suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        list_conv_layers(tmp)
        os.replace(tmp, dest / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest / name
