"""The per-file budget: small files that declare huge contents are refused with a sentence, in bounded memory.

Peak memory is measured in a fresh interpreter (``VmHWM`` of that process alone), which
runs under an address-space cap so that a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from _probe import run_probe
from tdacnn.errors import UserError
from tdacnn.limits import file_budget
from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
from tdacnn.weights import WeightEntry, WeightSet, WeightSetError

from .bombs import write_zero_npz

MiB = 2**20

def _load_in_subprocess(path: Path, home: Path) -> dict:
    """The load job on ``path`` in a fresh interpreter capped at 3 GiB: its outcome and peak memory."""
    return run_probe("""
        from tdacnn.jobs.tasks import load_checkpoint_job
        out["result"] = load_checkpoint_job(sys.argv[1], upload_id="probe")["source"]
    """, (str(path),), home)


def test_default_budget_is_half_a_gibibyte(monkeypatch):
    monkeypatch.delenv("TDACNN_FILE_BUDGET_MB", raising=False)
    assert file_budget() == 512 * MiB
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "64")
    assert file_budget() == 64 * MiB
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "lots")
    assert file_budget() == 512 * MiB


def test_small_npz_declaring_a_gibibyte_is_refused_in_bounded_memory(tmp_path):
    """The reported attack, bigger: a few MB that inflate to 1 GiB of 3×3 filters."""
    n = 2**30 // 36
    bomb = write_zero_npz(tmp_path / "bomb.npz", {"filters": ((n, 3, 3), "<f4")})
    assert bomb.stat().st_size < 8 * MiB
    with pytest.raises(UserError, match=r"bomb\.npz would decompress to 1\.0 GiB, over the 512 MiB"):
        list_conv_layers(bomb)
    out = _load_in_subprocess(bomb, tmp_path / "home")
    assert "result" not in out, out
    assert "would decompress to 1.0 GiB" in out["error"] and "TDACNN_FILE_BUDGET_MB" in out["error"], out
    assert out["peak_mb"] < 250, out  # refused from the zip directory: the interpreter, numpy, nothing more
    assert not (tmp_path / "home" / "uploads" / "probe").exists()


def test_several_arrays_each_under_the_budget_but_over_it_together_are_refused(tmp_path):
    n = 200 * MiB // 36
    bomb = write_zero_npz(tmp_path / "four.npz", {f"conv{i}": ((n, 1, 3, 3), "<f4") for i in range(3)})
    with pytest.raises(UserError, match=r"would decompress to 600 MiB, over the 512 MiB"):
        read_weightset(bomb)
    out = _load_in_subprocess(bomb, tmp_path / "home")
    assert "would decompress to 600 MiB" in out.get("error", ""), out
    assert out["peak_mb"] < 250, out


def test_a_raised_budget_lets_a_big_compressed_file_in(tmp_path, monkeypatch):
    """Control for the two tests above: the same kind of file within the budget loads."""
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "4")
    y, x = np.mgrid[-1:2, -1:2]
    ok = write_zero_npz(tmp_path / "ok.npz", {"filters": ((3 * MiB // 36, 3, 3), "<f4")}, row=x.astype("<f4"))
    ws = read_weightset(ok)
    assert ws.entries[0].weight.shape == (3 * MiB // 36, 1, 3, 3)
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "2")
    with pytest.raises(UserError, match="would decompress to 3.0 MiB, over the 2.0 MiB"):
        read_weightset(ok)


def test_stored_arrays_count_when_they_are_read(tmp_path, monkeypatch):
    """An uncompressed file holds what it declares; reading more of it than the budget is still refused."""
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "1")
    rng = np.random.default_rng(0)
    path = tmp_path / "stored.npz"
    np.savez(path, a=rng.normal(size=(6000, 1, 3, 3)).astype(np.float32),  # 211 KiB each
             b=rng.normal(size=(6000, 1, 3, 3)).astype(np.float32), c=rng.normal(size=(20000, 1, 3, 3)))  # float64
    assert len(list_conv_layers(path)) == 3  # names and shapes only: nothing read
    assert len(read_weightset(path, layers=[1, 2]).entries) == 2
    with pytest.raises(UserError, match=r"stored\.npz: reading its tensors would take 1\.8 MiB, over the 1\.0 MiB"):
        read_weightset(path)


def test_an_old_style_torch_file_is_read_whole_so_its_size_counts(tmp_path, monkeypatch):
    path = tmp_path / "legacy.pt"
    torch.save({"conv.weight": torch.randn(64, 64, 3, 3)}, path, _use_new_zipfile_serialization=False)  # 147 KiB
    assert len(read_weightset(path).entries) == 1
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "0.1")
    with pytest.raises(UserError, match=r"legacy\.pt \(an old-style torch\.save file, read whole into memory\) holds"):
        list_conv_layers(path)


def test_a_weight_set_over_the_budget_is_refused_before_it_is_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    ws = WeightSet([WeightEntry(i, 1, 0, rng.normal(size=(64, 8, 3, 3)).astype(np.float32)) for i in range(20)])
    path = ws.save(tmp_path / "run")  # 20 × 18 KiB, stored
    assert len(WeightSet.load(path)) == 20
    monkeypatch.setenv("TDACNN_FILE_BUDGET_MB", "0.2")
    with pytest.raises(WeightSetError, match=r"weights\.npz holds arrays of 0\.3\d MiB, over the 0\.20 MiB"):
        WeightSet.load(path)


def test_a_weight_set_bomb_is_refused_by_its_directory(tmp_path):
    """A hostile "weights.npz" (a header and one huge member) never reaches np.load."""
    header = {"format": "tdacnn-weightset/1", "index": [[0, 1, 0, "conv"]], "meta": {}}
    path = write_zero_npz(tmp_path / "weights.npz", {"w0": ((2**30 // 36, 1, 3, 3), "<f4")},
                          extra={"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)})
    with pytest.raises(WeightSetError, match="would decompress to 1.0 GiB"):
        WeightSet.load(path)
    with pytest.raises(UserError, match="would decompress to 1.0 GiB"):  # the same file given as a checkpoint
        read_weightset(path)


def test_a_stored_member_that_lies_about_its_size_is_refused(tmp_path):
    import io

    path = tmp_path / "liar.npz"
    buf = io.BytesIO()
    np.save(buf, np.ones((8, 1, 3, 3), dtype=np.float32))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.npy", buf.getvalue())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
    # the central directory's uncompressed size (offset 24 of its entry): declare 1 GiB
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (2**30).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert info.compress_type == zipfile.ZIP_STORED
    with pytest.raises(UserError, match="damaged or hostile zip archive"):
        list_conv_layers(path)
