"""Find the convolution layers in a state dict, in network order, from names and shapes alone.

Every 4-D tensor is a conv weight, read as ``Conv2d``'s ``(out, in, kh, kw)``.
A layer is read as ``ConvTranspose2d`` (stored ``(in, out, kh, kw)``) or called
grouped only when the file says so: a module type recorded in the checkpoint
(:data:`MODULE_TYPES_KEY`), or shapes that cannot be read otherwise (a bias whose
length is the second dimension, not the first).  Names decide nothing: an
``upconv`` or ``deconv`` is as often a plain ``Conv2d``.  Nothing here reads
tensor data: discovery works on ``{name: shape}``, so listing the layers of a
500 MB VGG16 touches only its pickle.

Layers that cannot be analysed (1×1 and other kernels with fewer than 3 pixels)
are listed with the reason (:func:`kernel_problem`), so that every list of
layers can say why instead of failing later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["ConvLayer", "BatchNormRef", "discover_conv_layers", "fold_batchnorm", "kernel_problem",
           "weight_problem", "module_info", "BN_EPS", "MODULE_TYPES_KEY"]

#: ``nn.BatchNorm2d``'s default eps (it is not stored in the state dict).
BN_EPS = 1e-5

#: Key of a checkpoint's wrapping dict under which it may record its conv modules' types, e.g.
#: ``torch.save({"state_dict": m.state_dict(), "module_types": {n: type(x).__name__ for n, x in
#: m.named_modules()}}, f)``; a value may also be ``{"type": "Conv2d", "groups": 32}``.  The state
#: dict alone records neither ``ConvTranspose2d`` nor ``groups``.
MODULE_TYPES_KEY = "module_types"


@dataclass(frozen=True)
class BatchNormRef:
    """The batch-norm that follows a conv: names of its tensors in the state dict."""

    prefix: str
    running_mean: str
    running_var: str
    weight: str | None = None  # gamma; None when affine=False
    bias: str | None = None  # beta


@dataclass(frozen=True)
class ConvLayer:
    """One convolution layer of a network.

    Attributes
    ----------
    index : int
        Position among the conv layers, from 1, in network order.
    name : str
        Name of the weight tensor in the file (``"features.0.weight"``).
    shape : tuple of int
        ``(out, in, kh, kw)`` as analysed (a transposed conv's stored
        ``(in, out, kh, kw)`` is swapped into this order).
    stored_shape : tuple of int
        The shape as stored in the file.
    n_layers : int
        Number of conv layers in the network (for the label).
    transposed : bool
        Read as ``ConvTranspose2d``: the file records the module type, or the
        conv's bias has the length of the stored second dimension only.
    groups_hint : str or None
        ``"depthwise"`` or ``"grouped"`` when the file records ``groups`` > 1
        (:data:`MODULE_TYPES_KEY`); never guessed from shapes or names.
    batchnorm : BatchNormRef or None
        The batch-norm right after the conv, if any.
    bias : str or None
        Name of the conv's bias tensor, if any.
    layout : str
        ``"OIHW"`` (PyTorch), ``"HWIO"`` (TensorFlow/Keras order, transposed on
        read; a transposed layer's ``(kh, kw, out, in)``), ``"HWIM"`` (a Keras
        depthwise kernel ``(kh, kw, in, multiplier)``, read as ``(in*multiplier,
        1, kh, kw)``) or ``"NHW"`` (a stack of 2-D filters from a filter file, read as
        ``(n, 1, kh, kw)``), ``"NK"`` (rows of flattened ``k×k`` patches, read as
        ``(n, 1, k, k)``).
    extra : dict
        What the file's reader adds; ``"problem"``: why the layer cannot be read
        (a Keras layer class whose kernel layout tdacnn does not know), shown as :attr:`problem`.
    """

    index: int
    name: str
    shape: tuple[int, int, int, int]
    stored_shape: tuple[int, ...]
    n_layers: int
    transposed: bool = False
    groups_hint: str | None = None
    batchnorm: BatchNormRef | None = None
    bias: str | None = None
    layout: str = "OIHW"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def out_channels(self) -> int:
        return self.shape[0]

    @property
    def in_channels(self) -> int:
        return self.shape[1]

    @property
    def kernel_size(self) -> tuple[int, int]:
        return (self.shape[2], self.shape[3])

    @property
    def n_filters(self) -> int:
        """Number of 2-D filter slices (points before any filtering)."""
        return self.shape[0] * self.shape[1]

    @property
    def flags(self) -> tuple[str, ...]:
        """Short notes for the user: ``1x1``, ``non-3x3``, ``depthwise?``, ``transposed``, ``batchnorm`` ..."""
        f: list[str] = []
        kh, kw = self.kernel_size
        if (kh, kw) == (1, 1):
            f.append("1x1")
        elif (kh, kw) != (3, 3):
            f.append("non-3x3")
        if self.groups_hint:
            f.append(self.groups_hint)
        if self.transposed:
            f.append("transposed")
        if self.layout in ("HWIO", "HWIM"):
            f.append("hwio")
        if self.batchnorm is not None:
            f.append("batchnorm")
        return tuple(f)

    @property
    def problem(self) -> str | None:
        """Why this layer cannot be analysed (``"1×1: no spatial pattern"``, or what its reader
        found: ``extra["problem"]``), or None."""
        return self.extra.get("problem") or kernel_problem(self.shape)

    @property
    def analysable(self) -> bool:
        """False for layers with a :attr:`problem` (1×1 kernels: no spatial structure to analyse)."""
        return self.problem is None

    @property
    def label(self) -> str:
        """Human label, e.g. ``"conv 3 of 13, 128×64×3×3"``."""
        dims = "×".join(str(s) for s in self.shape)
        note = "" if not self.flags else " (" + ", ".join(self.flags) + ")"
        return f"conv {self.index} of {self.n_layers}, {dims}{note}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (what ``tdacnn layers --json`` prints)."""
        return {
            "index": self.index,
            "name": self.name,
            "shape": list(self.shape),
            "stored_shape": list(self.stored_shape),
            "kernel_size": list(self.kernel_size),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "label": self.label,
            "flags": list(self.flags),
            "analysable": self.analysable,
            "batchnorm": self.batchnorm.prefix if self.batchnorm else None,
            "problem": self.problem,
            "transposed": self.transposed,
            "groups": self.groups_hint,
        }


def kernel_problem(shape: Sequence[int]) -> str | None:
    """Why a conv weight of this shape cannot be analysed, or None.

    Parameters
    ----------
    shape : sequence of int
        ``(out, in, kh, kw)``.

    Returns
    -------
    str or None
        ``"1×1: no spatial pattern"`` for a 1×1 kernel (each normalised slice is one
        constant pixel); likewise 1×2/2×1 (a normalised 2-pixel filter is one of two
        points); ``"empty: no filters"`` for a shape with a zero dimension.
    """
    out, inn, kh, kw = (int(x) for x in shape)
    if out * inn * kh * kw == 0:
        return "empty: no filters"
    if kh * kw < 3:
        return f"{kh}×{kw}: no spatial pattern"
    return None


def weight_problem(weight: np.ndarray) -> str | None:
    """:func:`kernel_problem` of an array, or ``"empty: every filter is constant"`` when no
    slice varies (e.g. an all-zero layer: normalising leaves no point).

    Parameters
    ----------
    weight : ndarray of shape (out, in, kh, kw)
    """
    problem = kernel_problem(weight.shape)
    if problem is not None:
        return problem
    flat = np.asarray(weight).reshape(-1, weight.shape[2] * weight.shape[3])
    for start in range(0, len(flat), 4096):  # a trained layer answers in its first block
        block = flat[start:start + 4096]
        if np.any(block[:, 1:] != block[:, :1]):
            return None
    return "empty: every filter is constant"


def module_info(record: Any) -> tuple[bool, str | None]:
    """``(transposed, groups_hint)`` from one recorded module type (see :data:`MODULE_TYPES_KEY`).

    ``record`` is a class name (``"ConvTranspose2d"``, ``"torch.nn.Conv2d"``) or a dict with
    ``"type"`` and optionally ``"groups"`` and ``"in_channels"``; anything else says nothing.
    """
    kind, groups, in_channels = record, None, None
    if isinstance(record, Mapping):
        kind, groups, in_channels = record.get("type"), record.get("groups"), record.get("in_channels")
    transposed = isinstance(kind, str) and "transpose" in kind.rsplit(".", 1)[-1].lower()
    hint = None
    if isinstance(groups, int) and not isinstance(groups, bool) and groups > 1:
        hint = "depthwise" if isinstance(in_channels, int) and groups == in_channels else "grouped"
    return transposed, hint


def _prefix(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _join(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _is_hwio(shape: tuple[int, ...]) -> bool:
    """TensorFlow order ``(kh, kw, in, out)``: small square first two dims, large last two."""
    return shape[0] == shape[1] <= 11 and min(shape[2], shape[3]) > 11


def _bn_candidates(conv_prefix: str) -> list[str]:
    """Likely names of the batch-norm module that follows conv ``conv_prefix``."""
    parent, _, leaf = conv_prefix.rpartition(".")
    cands: list[str] = []
    if leaf.isdigit():  # nn.Sequential: features.0 -> features.1
        cands.append(_join(parent, str(int(leaf) + 1)))
    m = re.fullmatch(r"(.*?)conv(.*)", leaf)
    if m:  # conv1 -> bn1 / norm1, conv_a -> bn_a
        for bn in ("bn", "norm", "batchnorm", "batch_norm"):
            cands.append(_join(parent, f"{m.group(1)}{bn}{m.group(2)}"))
    if leaf == "conv":
        cands += [_join(parent, "bn"), _join(parent, "norm")]
    cands += [_join(conv_prefix, "bn"), _join(conv_prefix, "norm")]
    return cands


def _bn_ref(prefix: str, shapes: Mapping[str, tuple[int, ...]], out: int) -> BatchNormRef | None:
    mean, var = _join(prefix, "running_mean"), _join(prefix, "running_var")
    if shapes.get(mean) != (out,) or shapes.get(var) != (out,):
        return None
    w, b = _join(prefix, "weight"), _join(prefix, "bias")
    return BatchNormRef(prefix, mean, var, w if shapes.get(w) == (out,) else None, b if shapes.get(b) == (out,) else None)


def discover_conv_layers(
    names: Sequence[str],
    shapes: Mapping[str, tuple[int, ...]],
    stored_order: bool = True,
    module_types: Mapping[str, Any] | None = None,
) -> list[ConvLayer]:
    """All conv layers among ``names`` (in the given order), numbered from 1.

    Parameters
    ----------
    names : sequence of str
        Tensor names in network order.
    shapes : mapping of str to tuple of int
    stored_order : bool
        Whether ``names`` is the order the model stored them in; if so a
        batch-norm found right after a conv (before the next conv) counts even
        when its name follows no known pattern.
    module_types : mapping of str to str or dict, optional
        Module name (``"decoder.up1"``) to its recorded type, as a checkpoint may
        store it under :data:`MODULE_TYPES_KEY` (see :func:`module_info`).

    Notes
    -----
    A layer is transposed only if ``module_types`` says so or its bias has the
    length of the stored second dimension and not of the first (a ``Conv2d``'s
    bias has ``out`` = the first).  Groups are never guessed.
    """
    conv_names = [n for n in names if len(shapes[n]) == 4 and int(np.prod(shapes[n])) > 0]
    n_layers = len(conv_names)
    positions = {n: i for i, n in enumerate(names)}
    types = module_types if isinstance(module_types, Mapping) else {}
    layers: list[ConvLayer] = []
    for idx, name in enumerate(conv_names, start=1):
        stored = tuple(int(s) for s in shapes[name])
        prefix = _prefix(name)
        bias_shape = shapes.get(_join(prefix, "bias"))
        transposed, hint = module_info(types.get(prefix))
        if not transposed and stored[0] != stored[1] and bias_shape == (stored[1],):
            transposed = True  # a Conv2d's bias is (out,) = the first dimension: this one cannot be a Conv2d
        layout = "OIHW"
        if _is_hwio(stored):
            layout = "HWIO"
            shape = (stored[3], stored[2], stored[0], stored[1])
            transposed = False
        elif transposed:
            shape = (stored[1], stored[0], stored[2], stored[3])
        else:
            shape = stored  # type: ignore[assignment]
        out = shape[0]
        bn = None
        for cand in _bn_candidates(prefix):
            bn = _bn_ref(cand, shapes, out)
            if bn:
                break
        if bn is None and stored_order:  # the first running_mean before the next conv
            nxt = conv_names[idx] if idx < n_layers else None
            stop = positions[nxt] if nxt else len(names)
            for other in names[positions[name] + 1 : stop]:
                if other.endswith("running_mean"):
                    bn = _bn_ref(_prefix(other), shapes, out)
                    break
        bias = _join(prefix, "bias") if bias_shape == (out,) else None
        layers.append(
            ConvLayer(idx, name, shape, stored, n_layers, transposed, hint, bn, bias, layout)  # type: ignore[arg-type]
        )
    return layers


def to_oihw(layer: ConvLayer, stored: np.ndarray) -> np.ndarray:
    """The stored weight array of ``layer`` in ``(out, in, kh, kw)`` order."""
    if layer.layout in ("NHW", "NK"):
        return stored.reshape(layer.shape)
    if layer.layout == "HWIO":  # (kh, kw, in, out); a transposed layer's (kh, kw, out, in)
        return np.ascontiguousarray(stored.transpose((2, 3, 0, 1) if layer.transposed else (3, 2, 0, 1)))
    if layer.layout == "HWIM":  # (kh, kw, in, multiplier): output channel i*multiplier + m, as TensorFlow's
        return np.ascontiguousarray(stored.transpose(2, 3, 0, 1)).reshape(layer.shape)
    if layer.transposed:
        return np.ascontiguousarray(stored.transpose(1, 0, 2, 3))
    return stored


def fold_batchnorm(
    weight: np.ndarray, running_var: np.ndarray, gamma: np.ndarray | None = None, eps: float = BN_EPS
) -> np.ndarray:
    """Fold an inference-mode batch-norm into the conv weights before it.

    ``BN(conv(x)) = conv'(x) + b'`` with ``W' = W * gamma / sqrt(var + eps)`` per
    output channel (the shift goes into the bias, which tdacnn does not analyse).

    Parameters
    ----------
    weight : ndarray of shape (out, in, kh, kw)
    running_var : ndarray of shape (out,)
    gamma : ndarray of shape (out,), optional
        The batch-norm's weight; 1 when it is not affine.

    Returns
    -------
    ndarray of shape (out, in, kh, kw)
    """
    scale = 1.0 / np.sqrt(np.asarray(running_var, dtype=np.float64) + eps)
    if gamma is not None:
        scale = scale * np.asarray(gamma, dtype=np.float64)
    return (weight * scale[:, None, None, None]).astype(weight.dtype)
