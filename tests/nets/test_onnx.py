"""ONNX weights: Conv/ConvTranspose initialisers in graph order, external data from beside the model only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.nets.safeload import open_tensors, sniff_format

from .foreign import filters, onnx_model, write_onnx

import onnx  # a main dependency: no skip
REPO = Path(__file__).resolve().parents[2]

W1, W2, W3, W4, W5 = (filters(8, 3, seed=1), filters(8, 1, seed=2), filters(16, 2, seed=3), filters(8, 4, seed=4),
                      filters(6, 4, seed=5))
CONVS = [("Conv", "/features/features.0/Conv", W1, 1), ("Conv", "/dw/Conv", W2, 8), ("Conv", "/grouped/Conv", W3, 4),
         ("ConvTranspose", "/up/ConvTranspose", W4, 1), ("Conv", "", W5, 1)]


def _refused(path: Path, match: str) -> None:
    with pytest.raises(UserError, match=match) as info:
        list_conv_layers(path)
    assert path.name in str(info.value) and "\n" not in str(info.value)


def test_round_trip_in_graph_order_with_node_names(tmp_path):
    path = write_onnx(tmp_path / "net.onnx", CONVS, constant=["/dw/Conv"])
    assert sniff_format(path) == "onnx"
    found = list_conv_layers(path)
    assert [layer.name for layer in found] == [  # graph order (the initialisers are stored reversed)
        "/features/features.0/Conv", "/dw/Conv", "/grouped/Conv", "/up/ConvTranspose", "w4.weight"]
    assert [layer.shape for layer in found] == [W1.shape, W2.shape, W3.shape, (4, 8, 3, 3), W5.shape]
    assert [layer.groups_hint for layer in found] == [None, "depthwise", "grouped", None, None]
    assert found[3].transposed and found[3].stored_shape == W4.shape
    got = [e.weight for e in read_weightset(path).entries]
    for a, b in zip(got, [W1, W2, W3, W4.transpose(1, 0, 2, 3), W5]):
        np.testing.assert_array_equal(a, b)


def test_external_data_beside_the_model(tmp_path):
    path = write_onnx(tmp_path / "big.onnx", CONVS[:2], external="big.onnx.data")
    with open_tensors(path) as src:
        assert src.extras["external_data"] == ["big.onnx.data"]
        np.testing.assert_array_equal(src.get(src.names[0]), W1)
    np.testing.assert_array_equal(read_weightset(path, layers=[2]).entries[0].weight, W2)


def _with_location(tmp_path: Path, location: str, **fields: str) -> Path:
    """A model whose one weight claims to live at ``location`` (offset/length from ``fields``)."""
    from onnx import TensorProto

    model = onnx_model(CONVS[:1])
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **fields}.items():
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    path = tmp_path / "models" / "hostile.onnx"
    path.parent.mkdir(exist_ok=True)
    onnx.save_model(model, str(path))
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin", "link.bin",
                                      "C:\\secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(1000, np.float32).tobytes())
    path = _with_location(tmp_path, location)
    (path.parent / "link.bin").symlink_to(tmp_path / "secret.bin")  # a link leading out counts as outside
    _refused(path, "outside the model's folder")


@pytest.mark.parametrize("fields, match", [
    ({}, "not a file beside the model"),
    ({"offset": "200"}, "at offset 200 .* damaged or hostile"),
    ({"length": "10"}, "damaged or hostile"),
    ({"offset": "x"}, "damaged external-data entry"),
])  # fmt: skip
def test_external_data_sizes_are_checked_before_reading(tmp_path, fields, match):
    path = _with_location(tmp_path, "w.bin", **fields)
    if fields:
        (path.parent / "w.bin").write_bytes(W1.tobytes())  # 864 bytes: no room after offset 200
    _refused(path, match)


def test_absurd_declared_shapes_are_refused(tmp_path):
    model = onnx_model(CONVS[:1])
    t = model.graph.initializer[0]
    t.dims[:] = [64, 64, 3, 3]  # declares 147 KB, holds 864 bytes
    path = tmp_path / "lies.onnx"
    onnx.save_model(model, str(path))
    _refused(path, r"declares shape \(64, 64, 3, 3\).*holds 864 bytes.*damaged or hostile")
    t.dims[:] = [2**40, 2**20, 3, 3]
    onnx.save_model(model, str(path))
    _refused(path, "damaged or hostile")


def test_weights_computed_by_the_graph_are_said_so(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    q = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.int8), "wq")
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    nodes = [helper.make_node("DequantizeLinear", ["wq", "s"], ["w"]), helper.make_node("Conv", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [q, scale])
    path = tmp_path / "quantised.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    _refused(path, "its 1 Conv node\\(s\\) take their weights from other nodes")


@pytest.mark.parametrize("case", ["truncated", "garbage", "no-conv"])
def test_damaged_and_unsupported_models_get_one_sentence(tmp_path, case):
    path = write_onnx(tmp_path / "m.onnx", CONVS)
    data = path.read_bytes()
    if case == "truncated":
        path.write_bytes(data[: len(data) // 2])
        _refused(path, "damaged or truncated ONNX model")
    elif case == "garbage":
        path.write_bytes(data[:2] + b"\xff" * 64)
        _refused(path, "damaged or truncated ONNX model")
    else:
        from onnx import TensorProto, helper

        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        onnx.save_model(helper.make_model(graph), str(path))
        _refused(path, "has no Conv or ConvTranspose node")


def test_weights_are_read_from_the_file_one_layer_at_a_time_within_the_budget(tmp_path, monkeypatch):
    big = filters(256, 256)  # 2.25 MiB
    path = write_onnx(tmp_path / "m.onnx", [("Conv", "small", W1, 1), ("Conv", "big", big, 1)])
    data = bytearray(path.read_bytes())
    at = data.find(big.tobytes()[:64])
    data[at:at + 4] = np.float32(np.nan).tobytes()  # layer 2 is damaged: only reading it may say so
    path.write_bytes(bytes(data))
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "1")
    assert [layer.shape for layer in list_conv_layers(path)] == [W1.shape, big.shape]  # the graph alone
    np.testing.assert_array_equal(read_weightset(path, layers=[1]).entries[0].weight, W1)
    with pytest.raises(UserError, match="TDACNN_FILE_BUDGET_MB"):
        read_weightset(path, layers=[2])
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "8")
    with pytest.raises(UserError, match="NaN"):
        read_weightset(path, layers=[2])


def test_a_graph_too_big_to_parse_within_the_budget_is_refused(tmp_path, monkeypatch):
    path = write_onnx(tmp_path / "m.onnx", [("Conv", "c", filters(256, 256), 1)], constant=["c"])
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "1")
    _refused(path, "parsing its graph .* would take over 2.3 MiB.*TDACNN_FILE_BUDGET_MB")


def test_layers_json_and_analyze(tmp_path):
    path = write_onnx(tmp_path / "net.onnx", CONVS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "tdacnn.cli", *a], capture_output=True, text=True,
                                    env=env, timeout=300, cwd=REPO)
    out = run("layers", str(path), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows][:2] == ["/features/features.0/Conv", "/dw/Conv"]
    assert rows[3]["transposed"] and rows[1]["groups"] == "depthwise"
    out = run("analyze", str(path), "--layer", "3", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["points"] == 16 * 2
