"""Invariants over arbitrary input: hostile bytes only ever give a UserError; names are always safe."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdacnn.errors import UserError
from tdacnn.nets.checkpoints import list_conv_layers
from tdacnn.nets.pickle_scan import pickle_globals
from tdacnn.nets.safeload import safe_upload_name
from tdacnn.nets.safeload_h5 import HDF5_MAGIC

HEADS = [b"", b"\x80\x02", b"\x80\x04\x95", b"PK\x03\x04", b"\x93NUMPY\x01\x00", struct.pack("<Q", 40) + b"{",
         HDF5_MAGIC, b"\x08\x07"]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from(HEADS), body=st.binary(max_size=600))
def test_arbitrary_bytes_give_user_error(tmp_path, head, body):
    path = tmp_path / "fuzz.pt"
    path.write_bytes(head + body)
    try:
        layers = list_conv_layers(path)
    except UserError as exc:
        assert "fuzz.pt" in str(exc) and "\n" not in str(exc).strip()
    else:  # astronomically unlikely, but then it must be a real layer list
        assert all(layer.index >= 1 for layer in layers)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_pickle_scan_never_raises(data):
    assert isinstance(pickle_globals(data), list)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_safe_upload_name_invariants(name):
    out = safe_upload_name(name)
    assert out and len(out) <= 100
    assert "/" not in out and "\\" not in out and ".." not in out and not out.startswith((".", "-"))
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in out)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["plain", "wrapped", "safetensors", "legacy", "npz"]),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.floats(0.05, 1.0),
)
def test_corrupted_real_files_give_user_error_or_clean_weights(tmp_path, small_files, fmt, flips, cut):
    import numpy as np

    from tdacnn.nets.checkpoints import read_weightset

    if fmt == "npz":  # a compressed archive: flips hit the deflate stream
        np.savez_compressed(tmp_path / "f.npz", a=np.ones((4, 3, 3)), b=np.zeros((2, 2, 3, 3)))
        data = bytearray((tmp_path / "f.npz").read_bytes())
    else:
        data = bytearray(small_files[fmt].read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    path = tmp_path / "corrupt.bin"
    path.write_bytes(bytes(data[: max(1, int(cut * len(data)))]))
    try:
        ws = read_weightset(path)
    except UserError as exc:
        assert "corrupt.bin" in str(exc)
    else:  # a flip inside tensor data leaves a readable file: then the weights are finite
        assert all(np.isfinite(e.weight).all() for e in ws.entries)


# ---- Keras and ONNX ---------------------------------------------------------
@pytest.fixture(scope="module")
def foreign_files(tmp_path_factory) -> dict[str, Path]:
    """A small network as Keras 2 .h5, Keras 3 .weights.h5, .keras (stored and deflated) and ONNX."""
    import zipfile

    from .foreign import (
        filters,
        write_dot_keras,
        write_keras2,
        write_keras3,
        write_onnx,
    )

    root = tmp_path_factory.mktemp("foreign")
    w = [filters(8, 1, seed=1), filters(8, 8, seed=2)]
    return {
        "keras2": write_keras2(root / "k2.h5", [("conv1", "Conv2D", w[0]), ("up", "Conv2DTranspose", w[1])]),
        "keras3": write_keras3(root / "k3.weights.h5", [("Conv2D", "conv2d", w[0]), ("Conv2D", "conv2d_1", w[1])]),
        "keras-stored": write_dot_keras(root / "s.keras", ["Conv2D", "DepthwiseConv2D"], [w[0], filters(8, 1)]),
        "keras-deflated": write_dot_keras(root / "d.keras", ["Conv2D", "Conv2D"], w, zipfile.ZIP_DEFLATED),
        "onnx": write_onnx(root / "m.onnx", [("Conv", "c1", w[0], 1), ("ConvTranspose", "up", w[1], 1)]),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["keras2", "keras3", "keras-stored", "keras-deflated", "onnx"]),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.floats(0.05, 1.0),
)
def test_corrupted_keras_and_onnx_files_give_user_error_or_clean_weights(tmp_path, monkeypatch, foreign_files,
                                                                         fmt, flips, cut):
    """HDF5 files are read in a child process first: a flip that makes HDF5 loop costs the time limit, set low here."""
    import numpy as np

    from tdacnn.nets.checkpoints import read_weightset

    monkeypatch.setenv("TDACNN_H5_TIMEOUT_S", "5")
    data = bytearray(foreign_files[fmt].read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    path = tmp_path / f"corrupt{foreign_files[fmt].suffix}"
    path.write_bytes(bytes(data[: max(1, int(cut * len(data)))]))
    try:
        ws = read_weightset(path)
    except UserError as exc:
        assert path.name in str(exc) and "\n" not in str(exc).strip()
    else:
        assert all(np.isfinite(e.weight).all() for e in ws.entries)
