"""Find the state dict inside whatever ``torch.load`` returned (wrappers, nesting, extras)."""

from __future__ import annotations

from typing import Any

from tdacnn.errors import UserError

__all__ = ["WRAP_KEYS", "plain_data", "unwrap_checkpoint"]


#: Keys under which training scripts commonly nest the model's state dict (first match wins).
WRAP_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module", "model_state", "weights", "params")


def plain_data(value: Any, depth: int = 0) -> Any:
    """``value`` if it is JSON-like plain data (nested dict/list of str/int/float/bool/None), else None."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 6:
        return None
    if isinstance(value, (list, tuple)):
        items = [plain_data(v, depth + 1) for v in value]
        return items if all(i is not None or v is None for i, v in zip(items, value)) else None
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: plain_data(v, depth + 1) for k, v in value.items()}
        return items if all(items[k] is not None or value[k] is None for k in value) else None
    return None


def _flatten(obj: Any, prefix: str, out: dict[str, Any], depth: int = 0) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, dict) and depth < 8:
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, (list, tuple)) and depth < 8:
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out, depth + 1)


def _has_tensors(obj: Any) -> bool:
    out: dict[str, Any] = {}
    _flatten(obj, "", out)
    return bool(out)


def unwrap_checkpoint(obj: Any, label: str = "the file") -> tuple[dict[str, Any], dict[str, Any]]:
    """Find the state dict inside what ``torch.load`` returned.

    A tdacnn checkpoint gives its ``state_dict``; a dict with one of
    :data:`WRAP_KEYS` holding tensors gives that (recursively, e.g.
    ``{"model": {"state_dict": ...}}``); anything else is flattened with dotted
    names.  Non-tensor entries of the wrappers that are plain data (``epoch``,
    ``iteration``, ``config`` ...) are returned as extras.

    Returns
    -------
    tensors : dict of str to torch.Tensor
        In stored (network) order.
    extras : dict
    """
    extras: dict[str, Any] = {}
    for _ in range(4):
        if not isinstance(obj, dict):
            break
        for k, v in obj.items():
            p = plain_data(v)
            if isinstance(k, str) and (p is not None or v is None) and k not in extras:
                extras[k] = p
        key = next((k for k in WRAP_KEYS if k in obj and _has_tensors(obj[k])), None)
        if key is None:
            break
        obj = obj[key]
    tensors: dict[str, Any] = {}
    _flatten(obj, "", tensors)
    if not tensors:
        raise UserError(f"{label} contains no tensors")
    return tensors, extras
