"""Bad input: each gives one clear UserError; nothing crashes, nothing runs, nothing partial is kept."""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tdacnn.errors import UserError
from tdacnn.nets.checkpoints import MAX_UPLOAD_BYTES, list_conv_layers, read_weightset, save_upload
from tdacnn.nets.pickle_scan import pickle_globals
from tdacnn.nets.safeload import safe_upload_name


class _Payload:
    """Unpickling this runs ``open(marker, "w")`` through os.system: a real code-execution payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _ExecPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _both_ways(fn, path):
    for f in (list_conv_layers, read_weightset):
        with pytest.raises(UserError) as info:
            f(path)
        fn(str(info.value))


def test_payload_is_real(tmp_path):
    """Control: the same payload, unpickled by plain pickle, does create its marker."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()
    marker2 = tmp_path / "control-marker2"
    pickle.loads(pickle.dumps(_ExecPayload(marker2)))
    assert marker2.exists()


@pytest.mark.parametrize("how", ["zip", "legacy", "raw-pickle", "exec", "inside-state-dict"])
def test_code_payload_refused_and_never_run(tmp_path, small_model, how):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    sd = small_model.state_dict()
    if how == "zip":
        torch.save({"state_dict": sd, "hook": _Payload(marker)}, path)
    elif how == "legacy":
        torch.save({"state_dict": sd, "hook": _Payload(marker)}, path, _use_new_zipfile_serialization=False)
    elif how == "raw-pickle":
        path.write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    elif how == "exec":
        torch.save(_ExecPayload(marker), path)
    else:
        torch.save({**sd, "conv1.weight": _Payload(marker)}, path)

    def check(msg):
        assert "refused to load evil.pt" in msg and "run code" in msg
        assert ("system" in msg) or ("exec" in msg)

    _both_ways(check, path)
    dest = tmp_path / "uploads"
    with pytest.raises(UserError, match="run code"):
        save_upload(path.read_bytes(), "evil.pt", dest)
    assert not marker.exists()
    assert list(dest.iterdir()) == []


def test_whole_pickled_module_refused(tmp_path, small_model):
    path = tmp_path / "whole.pt"
    torch.save(small_model, path)
    with pytest.raises(UserError, match=r"whole pickled model .*SmallCNN.*model\.state_dict\(\)"):
        list_conv_layers(path)


def test_unsupported_objects_refused(tmp_path, small_model):
    import argparse

    path = tmp_path / "ns.pt"
    torch.save({"state_dict": small_model.state_dict(), "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(UserError, match=r"Python objects tdacnn does not load \(argparse.Namespace\)"):
        read_weightset(path)


def test_pickle_globals_reads_without_running(tmp_path):
    marker = tmp_path / "m"
    for proto in (2, 4, 5):
        assert "posix.system" in pickle_globals(pickle.dumps(_Payload(marker), protocol=proto))
    assert not marker.exists()


def test_empty_file(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    _both_ways(lambda m: assert_in("empty.pt is empty", m), tmp_path / "empty.pt")


def assert_in(part, msg):
    assert part in msg, msg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes(tmp_path, seed):
    data = np.random.default_rng(seed).bytes(4096)
    path = tmp_path / "noise.pth"
    path.write_bytes(data)
    for f in (list_conv_layers, read_weightset):
        with pytest.raises(UserError, match="noise.pth"):
            f(path)


def test_random_bytes_after_valid_magic(tmp_path):
    rng = np.random.default_rng(5)
    for name, head in [("a.pt", b"\x80\x02"), ("b.npy", b"\x93NUMPY"), ("c.pt", b"PK\x03\x04"),
                       ("d.safetensors", struct.pack("<Q", 20) + b"{")]:  # fmt: skip
        path = tmp_path / name
        path.write_bytes(head + rng.bytes(2000))
        with pytest.raises(UserError, match=name):
            list_conv_layers(path)


def test_truncated_zip(tmp_path, small_files):
    data = small_files["plain"].read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        path = tmp_path / "cut.pt"
        path.write_bytes(data[:cut])
        with pytest.raises(UserError, match=r"cut.pt is a damaged or truncated"):
            list_conv_layers(path)


def test_truncated_safetensors(tmp_path, small_files):
    data = small_files["safetensors"].read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:-50])
    with pytest.raises(UserError, match="cut.safetensors"):
        list_conv_layers(path)


def test_truncated_legacy(tmp_path, small_files):
    data = small_files["legacy"].read_bytes()
    path = tmp_path / "cut.bin"
    for cut in (20, 60, 200, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(UserError, match="cut.bin is a damaged or truncated PyTorch file"):
            list_conv_layers(path)


def test_no_4d_tensors(tmp_path):
    path = tmp_path / "mlp.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)).state_dict(), path)
    with pytest.raises(UserError, match=r"mlp.pt has no convolution weights \(4-D tensors\); it holds 4 tensor"):
        list_conv_layers(path)
    path2 = tmp_path / "nothing.pt"
    torch.save({"epoch": 3, "note": "hi"}, path2)
    with pytest.raises(UserError, match="nothing.pt contains no tensors"):
        read_weightset(path2)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_inf_tensor(tmp_path, small_model, bad):
    sd = {k: v.clone() for k, v in small_model.state_dict().items()}
    sd["conv2.weight"][3, 1, 0, 2] = bad
    path = tmp_path / "nan.pt"
    torch.save(sd, path)
    assert len(list_conv_layers(path)) == 4  # listing reads no data
    assert read_weightset(path, layers=[1]).layers() == [1]  # other layers are fine
    with pytest.raises(UserError, match=r"tensor 'conv2.weight' in nan.pt contains NaN or infinite values"):
        read_weightset(path)
    with pytest.raises(UserError, match="NaN"):
        np.save(tmp_path / "nan.npy", sd["conv2.weight"].numpy())
        read_weightset(tmp_path / "nan.npy")


def test_safetensors_huge_header_length(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b'{"a": 1}' + b"\0" * 64)
    with pytest.raises(UserError, match=r"declares a safetensors header of \d+ bytes but the file holds 80 bytes"):
        list_conv_layers(path)


def test_safetensors_huge_tensor(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [100000, 100000, 3, 3], "data_offsets": [0, 3600000000000]}})
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 64)
    with pytest.raises(UserError, match=r"tensor 'w' declares shape \(100000, 100000, 3, 3\)"):
        list_conv_layers(path)


def test_torch_zip_huge_declared_shape(tmp_path):
    """A data.pkl edited to declare a 10^11-element tensor over a 108-element storage."""
    ok = tmp_path / "ok.pt"
    torch.save({"conv.weight": torch.randn(4, 3, 3, 3)}, ok)
    bad = tmp_path / "hostile.pt"
    with zipfile.ZipFile(ok) as zin, zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_STORED) as zout:
        for n in zin.namelist():
            data = zin.read(n)
            if n.endswith("data.pkl"):
                new = data.replace(b"(K\x04K\x03K\x03K\x03t", b"(J\xa0\x86\x01\x00J\xa0\x86\x01\x00K\x03K\x03t")
                assert new != data
                data = new
            zout.writestr(n, data)
    with pytest.raises(UserError, match="hostile.pt is a damaged"):
        list_conv_layers(bad)


def test_npy_huge_declared_shape(tmp_path):
    import io

    from numpy.lib import format as npf

    buf = io.BytesIO()  # a valid header declaring 10^10 × 3 × 3 floats, followed by 72 bytes
    npf.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**10, 3, 3)})
    path = tmp_path / "huge.npy"
    path.write_bytes(buf.getvalue() + b"\0" * 72)
    with pytest.raises(UserError, match=r"declares shape \(10000000000, 3, 3\)"):
        list_conv_layers(path)


def test_npz_huge_declared_member(tmp_path):
    import io

    from numpy.lib import format as npf

    buf = io.BytesIO()
    npf.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6, 3, 3)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("w.npy", buf.getvalue() + b"\0" * 1000)
    with pytest.raises(UserError, match=r"array 'w' in bomb.npz declares shape"):
        read_weightset(path)


@pytest.mark.parametrize("shape", [(100, 10), (100, 1), (10,), (2, 2, 2, 3, 3), (0, 3, 3), ()])
def test_npy_wrong_shape(tmp_path, shape):
    path = tmp_path / "filters.npy"
    np.save(path, np.ones(shape, dtype=np.float32))
    with pytest.raises(UserError, match=r"filter array must be \(out, in, kh, kw\) or \(n, kh, kw\) or \(n, kh\*kw\)"):
        read_weightset(path)


def test_npy_object_array_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="holds Python objects"):
        list_conv_layers(path)


def test_unknown_zip(tmp_path):
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UserError, match="neither a PyTorch checkpoint nor a .npz"):
        list_conv_layers(path)


def test_missing_file_and_layer(tmp_path, small_files):
    with pytest.raises(UserError, match="no such file: nope.pt"):
        list_conv_layers(tmp_path / "nope.pt")
    with pytest.raises(UserError, match="has no conv layer 9; its conv layers are 1 to 4"):
        read_weightset(small_files["plain"], layers=[9])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path/model.pt", "model.pt"),
        ("C:\\Users\\me\\vgg 16.pth", "vgg_16.pth"),
        ("..\\..\\x.pt", "x.pt"),
        ("..", "upload"),
        ("", "upload"),
        (".hidden.pt", "hidden.pt"),
        ("mödel\x00;rm -rf.pt", "model_rm_-rf.pt"),
        ("a" * 300 + ".safetensors", "a" * 88 + ".safetensors"),
    ],
)
def test_safe_upload_name(name, expected):
    out = safe_upload_name(name)
    assert out == expected
    assert "/" not in out and "\\" not in out and not out.startswith(".") and len(out) <= 100


def test_save_upload_keeps_only_good_files(tmp_path, small_files):
    dest = tmp_path / "uploads"
    kept = save_upload(small_files["plain"].read_bytes(), "../../../tmp/evil/../model.pt", dest)
    assert kept.parent == dest and kept.name.endswith("-model.pt")
    assert [la.index for la in list_conv_layers(kept)] == [1, 2, 3, 4]
    for content in (b"", b"garbage" * 100, small_files["plain"].read_bytes()[:500]):
        with pytest.raises(UserError):
            save_upload(content, "bad.pt", dest)
    assert sorted(p.name for p in dest.iterdir()) == [kept.name]  # nothing partial kept


def test_upload_size_limit(tmp_path):
    assert MAX_UPLOAD_BYTES == 50 * 1024 * 1024
    with pytest.raises(UserError, match="uploads are limited to 50 MB.*tdacnn analyze"):
        save_upload(b"\0" * (MAX_UPLOAD_BYTES + 1), "big.pt", tmp_path)
    assert list(tmp_path.iterdir()) == []
