"""What a Keras file says about its conv layers: their classes, their order, their kernel layout.

Keras kernels are stored ``(kh, kw, in, out)`` (HWIO); a ``Conv2DTranspose``
stores ``(kh, kw, out, in)`` and a ``DepthwiseConv2D`` ``(kh, kw, in,
multiplier)``.  Which one a 4-D weight is can only be told from the file's own
structure, never from its shape:

* a Keras 2 weight named ``depthwise_kernel``;
* the layer's class, from the model config stored beside the weights (the
  ``model_config`` attribute of a Keras 2 ``.h5``, ``config.json`` of a
  ``.keras`` archive) — read as plain JSON, only to learn class names and the
  order of the layers; nothing is ever built from it;
* a Keras 3 weights path, whose layer groups inside a ``layers`` list are named
  after the class (``conv2d_3``, ``depthwise_conv2d``, ``conv2d_transpose_1``).

A weight whose layer class is not told is read as ``Conv2D`` (as a PyTorch
state dict is read as ``Conv2d``); one whose class is told but is none of
Keras's 2-D convolutions is listed with the reason it cannot be read.
Standard library and numpy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tdacnn.nets.layers import ConvLayer

__all__ = ["Kind", "KerasWeight", "conv_layers", "kind_of", "snake_case", "keras2_classes", "keras3_layout",
           "CONTAINERS"]

Kind = Literal["conv", "transposed", "depthwise"]

#: Keras 3 groups that hold a list of layers (``_layer_checkpoint_dependencies``: tf.keras 2.13-2.15).
CONTAINERS = ("layers", "_layer_checkpoint_dependencies")

_CLASS_KINDS = {
    "Conv2D": "conv", "Convolution2D": "conv",
    "Conv2DTranspose": "transposed", "Convolution2DTranspose": "transposed", "Deconvolution2D": "transposed",
    "DepthwiseConv2D": "depthwise", "SeparableConv2D": "separable", "SeparableConvolution2D": "separable",
}  # fmt: skip
_MAX_DEPTH = 64


@dataclass(frozen=True)
class KerasWeight:
    """One 4-D weight found in a Keras file.

    Attributes
    ----------
    name : str
        Its path in the file (``"model_weights/block1_conv1/block1_conv1/kernel:0"``,
        ``"layers/conv2d/vars/0"``).
    stored : tuple of int
        The stored shape, ``(kh, kw, a, b)``.
    kind : {"conv", "transposed", "depthwise"}
    problem : str or None
        Why it cannot be read (a layer class whose kernel layout tdacnn does not know).
    """

    name: str
    stored: tuple[int, int, int, int]
    kind: Kind
    problem: str | None = None


def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: ``"Conv2DTranspose"`` -> ``"conv2d_transpose"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


_SNAKE_KINDS = {snake_case(c): k for c, k in _CLASS_KINDS.items()}
# Keras's default names for transposed convolutions (Keras 2, Keras 1)
_TRANSPOSED_NAME = re.compile(r"(conv2d_transpose|deconvolution2d|deconv2d)(_\d+)?")


def kind_of(cls: str | None, leaf: str, layer_name: str = "") -> tuple[Kind, str | None]:
    """The kernel layout of weight ``leaf`` of a layer of class ``cls``, and a problem if it has none.

    Parameters
    ----------
    cls : str or None
        The layer's class (``"Conv2D"``) or its Keras 3 group name (``"conv2d_3"``); None when the file
        does not tell.
    leaf : str
        The weight's own name: ``"kernel"``, ``"depthwise_kernel"``, ``"pointwise_kernel"`` (Keras 2) or
        its index among the layer's variables, ``"0"``, ``"1"`` (Keras 3).
    layer_name : str
        The layer's name (Keras 2), consulted only when ``cls`` is None.

    Notes
    -----
    A name never decides a layout: a layer of untold class named as Keras names a
    ``Conv2DTranspose`` (``conv2d_transpose_2``) is refused with that reason, since its
    kernel may be either ``(kh, kw, in, out)`` or ``(kh, kw, out, in)``.
    """
    if leaf == "depthwise_kernel":
        return "depthwise", None
    if cls is None:  # the file does not tell: a Conv2D, as a state dict's 4-D weight is read as a Conv2d
        if _TRANSPOSED_NAME.fullmatch(layer_name):
            return "conv", (f"named like a Conv2DTranspose, but the file does not record the class of "
                            f"{layer_name} (it has no model config), so its kernel layout is unknown; save the "
                            "whole model (model.save) to read it")
        return "conv", None
    kind = _CLASS_KINDS.get(cls) or _SNAKE_KINDS.get(re.sub(r"_\d+$", "", cls))
    if kind is None:
        return "conv", (f"a {cls} layer, whose kernel layout tdacnn does not know (it reads Conv2D, "
                        "Conv2DTranspose, DepthwiseConv2D and SeparableConv2D)")
    if kind == "separable":  # Keras 3: variable 0 is the depthwise kernel, 1 the pointwise (1×1) one
        return ("depthwise" if leaf == "0" else "conv"), None
    return kind, None  # type: ignore[return-value]


def conv_layers(weights: list[KerasWeight]) -> list[ConvLayer]:
    """The :class:`ConvLayer` of each 4-D weight, numbered from 1 in the given order.

    ``shape`` is ``(out, in, kh, kw)``: HWIO ``(kh, kw, i, o)`` -> ``(o, i, kh, kw)``; a transposed
    ``(kh, kw, o, i)`` -> ``(o, i, kh, kw)``; a depthwise ``(kh, kw, i, m)`` -> ``(i*m, 1, kh, kw)``.
    """
    n = len(weights)
    layers = []
    for index, w in enumerate(weights, start=1):
        kh, kw, a, b = w.stored
        extra = {"problem": w.problem} if w.problem else {}
        if w.kind == "depthwise":
            layers.append(ConvLayer(index, w.name, (a * b, 1, kh, kw), w.stored, n, groups_hint="depthwise",
                                    layout="HWIM", extra=extra))
        elif w.kind == "transposed":
            layers.append(ConvLayer(index, w.name, (a, b, kh, kw), w.stored, n, transposed=True, layout="HWIO",
                                    extra=extra))
        else:
            layers.append(ConvLayer(index, w.name, (b, a, kh, kw), w.stored, n, layout="HWIO", extra=extra))
    return layers


# ---------------------------------------------------------------------------
# model configs, as plain JSON
# ---------------------------------------------------------------------------
def _layer_list(cfg: Any) -> list:
    """The ``layers`` list of a model's config (old Keras 2 Sequential: the config is the list)."""
    if not isinstance(cfg, dict):
        return []
    inner = cfg.get("config")
    if isinstance(inner, list):
        return inner
    layers = inner.get("layers") if isinstance(inner, dict) else None
    return layers if isinstance(layers, list) else []


def keras2_classes(config: Any) -> dict[str, str]:
    """Layer name -> class name for every layer of a Keras 2 ``model_config`` (nested models too)."""
    out: dict[str, str] = {}

    def visit(cfg: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        for layer in _layer_list(cfg):
            if not isinstance(layer, dict):
                continue
            cls, inner = layer.get("class_name"), layer.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            name = name if isinstance(name, str) else layer.get("name")
            if isinstance(cls, str) and isinstance(name, str):
                out.setdefault(name, cls)
            visit(layer, depth + 1)

    visit(config, 0)
    return out


def keras3_layout(config: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What a ``.keras`` archive's ``config.json`` says about its weights file.

    Returns
    -------
    classes : dict of str to str
        Layer group path (``"layers/conv2d_1"``) -> class name (``"Conv2D"``).
    orders : dict of str to list of str
        Container path (``"layers"``, ``"layers/functional/layers"``) -> its layer groups in the
        model's order (Keras names them after the class, counting per class).
    """
    classes: dict[str, str] = {}
    orders: dict[str, list[str]] = {}

    def visit(cfg: Any, path: str, depth: int) -> None:
        layers = _layer_list(cfg)
        if not layers or depth > _MAX_DEPTH:
            return
        container = f"{path}/layers" if path else "layers"
        used: dict[str, int] = {}
        names: list[str] = []
        for layer in layers:
            cls = layer.get("class_name") if isinstance(layer, dict) else None
            if not isinstance(cls, str):
                continue
            key = snake_case(cls)
            used[key] = used.get(key, -1) + 1
            key = f"{key}_{used[key]}" if used[key] else key
            names.append(key)
            classes[f"{container}/{key}"] = cls
            visit(layer, f"{container}/{key}", depth + 1)
        orders[container] = names

    visit(config, "", 0)
    return classes, orders
