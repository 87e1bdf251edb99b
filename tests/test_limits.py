"""Analysis memory in the web process: a cloud too big for the limit is refused with a sentence, before it is built."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from _probe import run_probe
from tdacnn.errors import UserError
from tdacnn.limits import _rss, analysis_memory, cloud_bytes, cloud_size, memory_limit
from tdacnn.weights import WeightEntry, WeightSet

MiB = 2**20


def _gradient_filters(n_out: int, n_in: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1:2, -1:2]
    theta = rng.uniform(0, 2 * np.pi, size=(n_out, n_in, 1, 1))
    return (np.cos(theta) * x + np.sin(theta) * y + 0.1 * rng.normal(size=(n_out, n_in, 3, 3))).astype(np.float32)


def test_cloud_size_counts_points_as_the_channel_modes_do():
    shapes = [(512, 512, 3, 3)] * 2
    assert cloud_size(shapes, "each") == (2 * 512 * 512, 9, 2 * 512 * 512 * 9)
    assert cloud_size(shapes, "sum")[0] == cloud_size(shapes, 3)[0] == 1024
    # a VGG16 512×512 layer, each input channel: well under the default limit
    assert cloud_bytes(*cloud_size(shapes[:1], "each")) < 200 * MiB < memory_limit() // 4


def test_default_limit_is_two_gibibytes(monkeypatch):
    monkeypatch.delenv("TDACNN_MEMORY_LIMIT_MB", raising=False)
    assert memory_limit() == 2048 * MiB
    monkeypatch.setenv("TDACNN_MEMORY_LIMIT_MB", "300")
    assert memory_limit() == 300 * MiB


def test_a_cloud_over_the_limit_is_refused_with_a_sentence(monkeypatch):
    monkeypatch.setenv("TDACNN_MEMORY_LIMIT_MB", str(_rss() // MiB + 40))
    with analysis_memory(10_000, 9):  # 5 MB: fits
        pass
    with pytest.raises(UserError, match=r"^layer 3 has 1,000,000 points: analysing it would take about 473 MiB"):
        with analysis_memory(1_000_000, 9, what="layer 3"):
            pass


def test_analyses_running_at_once_count_each_other(monkeypatch):
    monkeypatch.setenv("TDACNN_MEMORY_LIMIT_MB", str(_rss() // MiB + 150))
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with analysis_memory(200_000, 9):  # 95 MiB reserved
            entered.set()
            leave.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert entered.wait(30)
        with pytest.raises(UserError, match="free now"):
            with analysis_memory(200_000, 9):
                pass
    finally:
        leave.set()
        t.join()
    with analysis_memory(200_000, 9):  # released
        pass


def test_explore_refuses_a_layer_too_big_for_the_limit(tmp_path, monkeypatch):
    from tdacnn.app import services
    from tdacnn.app.controls import parse_request

    ws = WeightSet([WeightEntry(i, 1, 0, _gradient_filters(64, 128, i), "conv.weight") for i in range(10)])
    ws.save(tmp_path / "home" / "runs" / "wide")
    monkeypatch.setenv("TDACNN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TDACNN_MEMORY_LIMIT_MB", str(_rss() // MiB + 20))  # 81,920 points need ~39 MiB
    services.reset()
    try:
        with pytest.raises(UserError, match=r"layer 1 with channels each has 81,920 points: .* choose channels sum or "
                                            r"mean, or one input channel, or analyse it from the command line"):
            services.compute_graph(parse_request({"source": "run:wide", "channels": "each"}))
        monkeypatch.setenv("TDACNN_MEMORY_LIMIT_MB", str(_rss() // MiB + 200))
        result = services.compute_graph(parse_request({"source": "run:wide", "channels": "sum"}))  # 640 points
        assert len(result.cloud) == 640
    finally:
        services.reset()


def test_a_compressed_layer_of_ten_million_filters_is_refused_in_bounded_memory(tmp_path):
    """10 M copies of one edge detector: 360 MiB that deflate to a 4 MB file, within the file budget;
    its cloud (4.6 GiB) would take the web process far past 2 GiB, so Explore refuses it first."""
    from nets.bombs import write_zero_npz

    n = 10_000_000
    header = {"format": "tdacnn-weightset/1", "index": [[0, 1, 0, "conv.weight"]], "meta": {}}
    y, x = np.mgrid[-1:2, -1:2]
    folder = tmp_path / "home" / "runs" / "big"
    folder.mkdir(parents=True)
    write_zero_npz(folder / "weights.npz", {"w0": ((n, 1, 3, 3), "<f4")}, row=x.astype("<f4"),
                   extra={"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)})
    # in a fresh interpreter capped at 3 GiB: open Explore on run:big with the default limit
    out = run_probe("""
        from tdacnn.app import services
        from tdacnn.app.controls import parse_request
        out["summary"] = services.compute_graph(parse_request({"source": "run:big"})).summary
    """, home=tmp_path / "home")
    assert "summary" not in out, out
    assert "has 10,000,000 points: analysing it would take about" in out["error"], out
    assert "the server allows 2.0 GiB" in out["error"], out
    assert out["peak_mb"] < 1024, out  # the weights (360 MiB) and the interpreter, not the cloud
