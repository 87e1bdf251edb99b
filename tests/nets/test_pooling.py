"""Several checkpoints pooled into one WeightSet with provenance (network, iteration)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tdacnn.errors import UserError
from tdacnn.nets.checkpoints import iteration_from_name, list_conv_layers, read_weightset, save_checkpoint
from tdacnn.weights import WeightSet

from .conftest import SmallCNN


@pytest.mark.parametrize(
    "name, it",
    [("net_iter400.pt", 400), ("step_400.pth", 400), ("checkpoint-1200.bin", 1200), ("run3/model_it50.pt", 50),
     ("ckpt_step=77.pt", 77), ("model_iteration12.safetensors", 12), ("seed3.pt", -1), ("vgg16-397923af.pth", -1),
     ("epoch_10.pt", -1), ("digit5_iter7.pt", 7)],
)  # fmt: skip
def test_iteration_from_name(name, it):
    assert iteration_from_name(name) == it


def _seeded_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return SmallCNN().state_dict()


def test_seeds_and_iterations_pooled(tmp_path):
    paths, states = [], []
    for seed in range(3):
        for it in (100, 400):
            sd = _seeded_state(10 * seed + it)
            p = tmp_path / f"seed{seed}_iter{it}.pt"
            torch.save(sd, p)
            paths.append(p)
            states.append(sd)
    ws = read_weightset(paths, layers=[1, 2])
    assert ws.networks() == list(range(6)) and ws.layers() == [1, 2] and ws.iterations() == [100, 400]
    assert len(ws) == 12
    for net, sd in enumerate(states):
        (e,) = [e for e in ws.entries if e.network == net and e.layer == 2]
        np.testing.assert_array_equal(e.weight, sd["conv2.weight"].numpy())
        assert e.iteration == (100, 400)[net % 2]
    assert [f["file"] for f in ws.meta["files"]] == [p.name for p in paths]
    assert ws.meta["layers"]["2"]["shape"] == [16, 8, 3, 3]
    # the pooled set saves and loads like a trained run
    again = WeightSet.load(ws.save(tmp_path / "pooled.npz"))
    assert again.key() == ws.key()


def test_mixed_formats_pool_and_weightset_files(tmp_path, small_files):
    ws_file = WeightSet.from_arrays([np.ones((8, 1, 3, 3)), np.zeros((8, 1, 3, 3))], layer=1, iteration=5)
    ws_file.save(tmp_path / "run")
    pooled = read_weightset([small_files["safetensors"], tmp_path / "run", small_files["legacy"]], layers=[1])
    assert pooled.networks() == [0, 1, 2, 3]
    assert [e.iteration for e in pooled.entries] == [-1, 5, 5, -1]
    np.testing.assert_array_equal(pooled.entries[2].weight, np.zeros((8, 1, 3, 3)))
    assert [la.shape for la in list_conv_layers(tmp_path / "run")] == [(8, 1, 3, 3)]


def test_tdacnn_checkpoints_at_several_iterations(tmp_path):
    cfg = {"arch": "small-cnn", "channels": [8, 16]}
    paths = [save_checkpoint(_seeded_state(it), cfg, tmp_path / f"ck{i}.pt", iteration=it) for i, it in enumerate((0, 50, 200))]
    ws = read_weightset(paths, layers=[3])
    assert ws.iterations() == [0, 50, 200] and ws.meta["config"] == cfg
    assert len(ws.select(3, iteration=50)) == 1


def test_pooling_different_kernels_refused(tmp_path, small_files):
    other = tmp_path / "other.pt"
    torch.save({"c.weight": torch.randn(8, 1, 5, 5)}, other)
    with pytest.raises(UserError, match=r"other.pt: conv layer 1 has 5×5 kernels but the first file's has 3×3"):
        read_weightset([small_files["plain"], other], layers=[1])


def test_progress_callback(small_files):
    calls = []
    read_weightset([small_files["plain"], small_files["wrapped"]], progress=lambda d, t: calls.append((d, t)))
    assert [d for d, _ in calls] == list(range(1, 9)) and calls[-1] == (8, 8)


def test_empty_list_refused():
    with pytest.raises(UserError, match="no weight files given"):
        read_weightset([])


def test_weightset_layer_selection(tmp_path):
    ws = WeightSet.from_arrays([np.ones((4, 1, 3, 3))], layer=2, layer_name="conv2.weight")
    ws.save(tmp_path / "run")
    assert read_weightset(tmp_path / "run", layers=["conv2.weight"]).layers() == [2]
    with pytest.raises(UserError, match=r"run has no conv layer among \[1\]; its layers are \[2\]"):
        read_weightset(tmp_path / "run", layers=[1])
