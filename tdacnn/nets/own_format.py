"""tdacnn's own checkpoint format: a state dict with its architecture config.

``{"format": "tdacnn-checkpoint/1", "config": {...}, "arch": name, "state_dict": ...}``,
plain data and tensors only, so ``torch.load(weights_only=True)`` reads it and
:func:`load_checkpoint` rebuilds the model's config from the file alone.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tdacnn.errors import UserError
from tdacnn.nets.safeload import open_tensors
from tdacnn.nets.unwrap import plain_data

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "tdacnn-checkpoint/1"


def _config_dict(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    elif hasattr(config, "to_dict"):
        config = config.to_dict()
    if not isinstance(config, Mapping):
        raise UserError(f"a checkpoint config must be a dataclass or a dict, not {type(config).__name__}")
    plain = plain_data(dict(config))
    if plain is None:
        raise UserError("a checkpoint config may hold only plain data (dicts, lists, str, int, float, bool, None)")
    return plain


def save_checkpoint(
    state_dict: Mapping[str, Any],
    config: Any,
    path: str | os.PathLike,
    *,
    arch: str | None = None,
    iteration: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a tdacnn checkpoint: the state dict with the config that rebuilds the model.

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor or ndarray
    config : dataclass, dict or None
        Architecture config (``ArchConfig``); stored as plain data so that
        ``torch.load(weights_only=True)`` reads it back.
    path : path
        Written atomically (a reader never sees half a file).
    arch : str, optional
        Architecture name; default ``config["arch"]`` or ``config["name"]`` or the
        config's class name.
    iteration : int, optional
        Training step of the snapshot (provenance when pooled).
    meta : mapping, optional
        More plain data to keep (dataset, seed ...).
    """
    import torch

    cfg = _config_dict(config)
    if arch is None:
        arch = str((cfg or {}).get("arch") or (cfg or {}).get("name") or type(config).__name__ if config else "")
    tensors = {}
    for name, value in state_dict.items():
        t = torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
        if not isinstance(t, torch.Tensor):
            raise UserError(f"state dict entry {name!r} is not a tensor")
        tensors[str(name)] = t.detach().cpu().contiguous()
    payload: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "arch": arch, "config": cfg, "state_dict": tensors}
    if iteration is not None:
        payload["iteration"] = int(iteration)
    if meta:
        plain = plain_data(dict(meta))
        if plain is None:
            raise UserError("checkpoint meta may hold only plain data")
        payload["meta"] = plain
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Read any weight file's state dict, with its config when it is a tdacnn checkpoint.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        Stored dtypes, fully read (not memory-mapped); for large files prefer
        :func:`read_weightset`.
    config : dict or None
        The saved architecture config (plain data), None for foreign files.
    """
    with open_tensors(path) as src:
        state = {n: src.tensor(n) for n in src.names}
        extras = dict(src.extras)
    config = extras.get("config") if extras.get("format") == CHECKPOINT_FORMAT else None
    return state, config
