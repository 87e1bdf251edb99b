"""Keras and ONNX weight files written by the tests themselves (h5py, onnx.helper): nothing is downloaded.

Each writer takes weights in tdacnn's ``(out, in, kh, kw)`` order and stores them
the way the framework does (HWIO kernels for Keras, OIHW initialisers for ONNX),
so that reading them back must give the same arrays.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np


def keras_kernel(cls: str, oihw: np.ndarray) -> np.ndarray:
    """The Keras kernel of a layer of class ``cls`` whose weights are ``oihw`` (out, in, kh, kw)."""
    if cls == "Conv2DTranspose":  # (kh, kw, out, in)
        return np.ascontiguousarray(oihw.transpose(2, 3, 0, 1))
    if cls == "DepthwiseConv2D":  # oihw (in*m, 1, kh, kw) -> (kh, kw, in, m)
        return _depthwise(oihw)
    return np.ascontiguousarray(oihw.transpose(2, 3, 1, 0))  # (kh, kw, in, out)


def _depthwise(oihw: np.ndarray, multiplier: int = 2) -> np.ndarray:
    """(in*m, 1, kh, kw) -> Keras's depthwise (kh, kw, in, m); output channel i*m + j, as TensorFlow's."""
    out, _, kh, kw = oihw.shape
    return np.ascontiguousarray(oihw[:, 0].reshape(out // multiplier, multiplier, kh, kw).transpose(2, 3, 0, 1))


def filters(out: int, inp: int, k: int = 3, seed: int = 0) -> np.ndarray:
    """Random float32 weights of shape (out, inp, k, k)."""
    return np.random.default_rng(seed).normal(size=(out, inp, k, k)).astype(np.float32)


# ---------------------------------------------------------------------------
# Keras 2: model_weights/<layer>/<layer>/kernel:0
# ---------------------------------------------------------------------------
def write_keras2(path: Path, layers: Sequence[tuple[str, str, np.ndarray | None]], *, config: bool = True,
                 weights_only: bool = False) -> Path:
    """A Keras 2 HDF5 file: ``layers`` is ``(name, class, oihw or None)`` in model order.

    A full model (``model.save``) puts the weights under ``model_weights`` and the
    config in the ``model_config`` attribute; ``weights_only`` (``save_weights``) puts
    them at the root, without a config.
    """
    import h5py

    with h5py.File(path, "w") as f:
        if config and not weights_only:
            cfg = {"class_name": "Functional", "config": {"name": "model", "layers": [
                {"class_name": cls, "config": {"name": name}, "name": name, "inbound_nodes": []}
                for name, cls, _ in layers]}}
            f.attrs["model_config"] = json.dumps(cfg).encode()
            f.attrs["keras_version"] = b"2.15.0"
        root = f if weights_only else f.create_group("model_weights")
        root.attrs["layer_names"] = [name.encode() for name, _, _ in layers]
        for name, cls, w in layers:
            g = root.create_group(name)
            names = []
            if w is not None:
                leaf = "depthwise_kernel" if cls == "DepthwiseConv2D" else "kernel"
                kernel = _depthwise(w) if cls == "DepthwiseConv2D" else keras_kernel(cls, w)
                g.create_dataset(f"{name}/{leaf}:0", data=kernel)
                g.create_dataset(f"{name}/bias:0", data=np.zeros(w.shape[0], np.float32))
                names = [f"{name}/{leaf}:0", f"{name}/bias:0"]
            g.attrs["weight_names"] = [n.encode() for n in names]
        if not weights_only:
            opt = f.create_group("optimizer_weights")  # slots shaped like the kernels: never layers
            for name, cls, w in layers:
                if w is not None:
                    opt.create_dataset(f"Adam/{name}/kernel/m:0", data=np.zeros_like(keras_kernel("Conv2D", w)))
    return path


# ---------------------------------------------------------------------------
# Keras 3: <path>/vars/<i>
# ---------------------------------------------------------------------------
def _keras3_tree(f, layers: Sequence[tuple[str, str, np.ndarray | None]]) -> None:
    """Write Keras 3's weights tree into an open h5py file: ``layers`` as ``(class, group, oihw)``."""
    f.create_group("vars")
    for cls, group, w in layers:
        v = f.create_group(f"layers/{group}/vars")
        if w is None:
            continue
        v["0"] = _depthwise(w) if cls == "DepthwiseConv2D" else keras_kernel(cls, w)
        v["1"] = np.zeros(w.shape[0], np.float32)
    opt = f.create_group("optimizer/vars")
    opt["0"] = np.zeros((), np.int64)
    for i, (cls, group, w) in enumerate(layers):
        if w is not None:
            opt[str(i + 1)] = np.zeros_like(keras_kernel("Conv2D", w))


def write_keras3(path: Path, layers: Sequence[tuple[str, str, np.ndarray | None]]) -> Path:
    """A Keras 3 ``.weights.h5``: ``layers`` is ``(class, group name, oihw or None)``, written in that order."""
    import h5py

    with h5py.File(path, "w") as f:
        _keras3_tree(f, layers)
    return path


def keras3_config(classes: Sequence[str]) -> dict:
    """A ``.keras`` config.json for a Sequential model of these layer classes (never built by tdacnn)."""
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"module": "keras.layers", "class_name": cls, "config": {"name": f"my_{i}"}} for i, cls in enumerate(classes)]}}


def write_dot_keras(path: Path, classes: Sequence[str], weights: Sequence[np.ndarray | None],
                    compression: int = zipfile.ZIP_STORED) -> Path:
    """A Keras 3 ``.keras`` archive of a Sequential model: group names made from the classes, as Keras does."""
    import h5py

    from tdacnn.nets.keras_layout import snake_case

    used: dict[str, int] = {}
    layers = []
    for cls, w in zip(classes, weights):
        key = snake_case(cls)
        used[key] = used.get(key, -1) + 1
        layers.append((cls, f"{key}_{used[key]}" if used[key] else key, w))
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _keras3_tree(f, layers)
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        zf.writestr("config.json", json.dumps(keras3_config(classes)))
        zf.writestr("model.weights.h5", buf.getvalue())
    return path


# ---------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------
def onnx_model(convs: Sequence[tuple[str, str, np.ndarray, int]], *, constant: Sequence[str] = ()):
    """An ONNX ModelProto chaining ``convs`` = ``(op_type, node name, stored weight, group)``.

    Initialisers are added in reverse order (graph order must win); weights of the nodes named in
    ``constant`` come from ``Constant`` nodes instead.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    x = "x"
    for i, (op, name, w, group) in enumerate(convs):
        wname = f"w{i}.weight"
        if name in constant:
            nodes.append(helper.make_node("Constant", [], [wname], value=numpy_helper.from_array(w, wname)))
        else:
            inits.append(numpy_helper.from_array(w, wname))
        attrs = {"group": group} if group != 1 else {}
        nodes.append(helper.make_node(op, [x, wname], [f"y{i}"], name=name, **attrs))
        x = f"y{i}"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits[::-1])
    return helper.make_model(graph, producer_name="tdacnn-tests")


def write_onnx(path: Path, convs, *, constant: Sequence[str] = (), external: str | None = None) -> Path:
    """Write :func:`onnx_model` to ``path``; ``external``: keep every tensor in that file beside it."""
    import onnx

    model = onnx_model(convs, constant=constant)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=external, size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path
