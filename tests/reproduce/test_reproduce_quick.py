"""``tdacnn reproduce --quick`` end to end on the real MNIST and CIFAR-10 data."""

from __future__ import annotations

import re

import pytest

from tdacnn.nets.vgg import VGG16_CONV_SHAPES
from tdacnn.reproduce.common import circle_verdict

from .conftest import run_cli

# one shared quick reproduction (about a minute on an idle 2-core machine, much longer on a busy one)
pytestmark = pytest.mark.timeout(1800)

PARTS = ("mnist", "cifar10", "dynamics", "depth", "patches")
VERDICTS = {"seen", "partly seen", "not seen"}
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_command_succeeds_without_a_traceback(quick):
    assert quick.returncode == 0, quick.stderr[-3000:]
    assert "Traceback" not in quick.stderr
    assert "report:" in quick.stdout


def test_results_json_has_every_part_with_a_verdict_and_timing(quick):
    r = quick.results
    assert r["format"] == "tdacnn-reproduction/1"
    assert r["settings"]["profile"] == "quick"
    assert list(r["experiments"]) == list(PARTS)
    for name in PARTS:
        e = r["experiments"][name]
        assert e["status"] == "ok", (name, e["summary"])
        assert e["verdict"] in VERDICTS, (name, e["verdict"])
        assert 0 < e["seconds"] <= r["timings"]["total"] and r["timings"][name] == e["seconds"]
        assert e["summary"]
    assert r["verdicts"] == {n: r["experiments"][n]["verdict"] for n in PARTS}
    for pkg in ("python", "numpy", "torch", "kmapper", "ripser", "scikit-learn", "matplotlib"):
        assert r["versions"][pkg] and r["versions"][pkg] != "not installed", pkg
    assert r["timings"]["total"] >= sum(r["timings"][n] for n in PARTS) - 1


def test_mnist_numbers(quick):
    e = quick.results["experiments"]["mnist"]
    s = quick.results["settings"]
    nums, cloud = e["numbers"], e["numbers"]["cloud"]
    # quick: 2 networks of the paper's net, 64 layer-1 filters each, trained for 30 steps
    assert nums["networks"] == s["mnist_networks"] == 2
    assert 0.3 < nums["mean_test_acc"] <= 1.0  # clearly better than chance (0.1) after 30 Adam steps
    assert cloud["points"] + cloud["dropped_constant"] == 2 * 64
    assert cloud["kept"] == round(0.3 * cloud["points"])
    assert {k: cloud["density"][k] for k in ("k", "p")} == {"k": 5, "p": 30.0}  # round(200 * 128 / 6400) = 4, raised to k_min
    h1 = cloud["h1"]
    assert len(h1["lengths"]) == len(h1["p_values"]) <= 10
    assert h1["lengths"] == sorted(h1["lengths"], reverse=True)
    # the one rule: the significant bars are the longest ones with p <= 0.01, counted from the top
    leading = next((i for i, p in enumerate(h1["p_values"]) if p > 0.01), len(h1["p_values"]))
    assert h1["significant"] == leading
    # and the verdict follows from the numbers (seen = one significant bar and Mapper betti1 1)
    assert e["verdict"] == circle_verdict(h1["significant"], cloud["graph"]["betti1"])[0] == cloud["verdict"]
    g = cloud["graph"]
    assert g["nodes"] >= 1 and g["cycle_rank"] == g["edges"] - g["nodes"] + g["components"]
    assert e["params"]["training"]["arch"]["conv1"] == 64 and e["params"]["training"]["arch"]["conv2"] == 32
    assert e["params"]["training"]["iterations"] == 30
    # quick mode trains on a stated subset of the real files
    assert any("first 2000 MNIST training images" in n for n in quick.results["settings"]["notes"])


def test_cifar10_reports_channels_each_and_summed(quick):
    nums = quick.results["experiments"]["cifar10"]["numbers"]
    each, summed = nums["cloud_each"], nums["cloud_sum"]
    assert each["points"] + each["dropped_constant"] == 2 * 64 * 3
    assert summed["points"] + summed["dropped_constant"] == 2 * 64
    assert "cifar10_layer1_each_graph.png" in quick.html and "cifar10_layer1_sum_barcode.png" in quick.html


def test_dynamics_covers_both_layers_at_every_snapshot(quick):
    e = quick.results["experiments"]["dynamics"]
    rows = e["numbers"]["rows"]
    snaps = quick.results["settings"]["snapshots"]
    for dataset in ("mnist", "cifar10"):
        for layer in (1, 2):
            its = [r["iteration"] for r in rows if r["dataset"] == dataset and r["layer"] == layer]
            assert its == snaps, (dataset, layer)
    layer2 = [r for r in rows if r["dataset"] == "mnist" and r["layer"] == 2]
    # layer 2 of 2 networks: 32 x 64 slices each, subsampled to max_points
    assert all(r["points"] <= 2 * 32 * 64 and r["analysed"] <= quick.results["settings"]["max_points"] for r in layer2)
    assert set(e["numbers"]["first_circle_iteration"]) == {"MNIST layer 1", "MNIST layer 2", "CIFAR-10 layer 1",
                                                           "CIFAR-10 layer 2"}
    # the untrained controls (iteration 0, random initialisation): no significant H1 bar in any series
    untrained = [r for r in rows if r["iteration"] == 0]
    assert len(untrained) == 4
    for r in untrained:
        assert r["h1_significant"] == 0 and r["h1_p_values"][0] > 0.01 and r["verdict"] != "seen", r


def test_depth_analyses_vgg16_layers_2_to_13(quick, vgg16_file):
    e = quick.results["experiments"]["depth"]
    (ckpt,) = e["numbers"]["checkpoints"]
    assert ckpt["file"] == str(vgg16_file)
    assert [r["layer"] for r in ckpt["layers"]] == list(range(2, 14))
    assert [tuple(r["shape"]) for r in ckpt["layers"]] == list(VGG16_CONV_SHAPES[1:])
    for r in ckpt["layers"]:
        assert r["points"] <= r["shape"][0] * r["shape"][1]
        assert r["analysed"] == min(r["points"], quick.results["settings"]["max_points"])
        # a randomly initialised VGG16 is a control: no layer has a significant H1 bar
        assert r["h1_significant"] == 0 and r["h1_p_values"][0] > 0.01, r


def test_offline_imagenet_download_is_reported_not_raised(quick):
    e = quick.results["experiments"]["depth"]
    assert e["numbers"]["imagenet"]["available"] is False
    assert "could not be downloaded" in e["numbers"]["imagenet"]["message"]
    assert "could not be downloaded" in quick.html


def test_patches_run_both_ks_with_and_without_blur(quick):
    e = quick.results["experiments"]["patches"]
    s = quick.results["settings"]
    rows = e["numbers"]["rows"]
    assert [(r["blur_sigma"], r["k"]) for r in rows] == [(0.0, s["patch_ks"][0]), (0.0, s["patch_ks"][1]),
                                                         (s["blur_sigma"], s["patch_ks"][0]),
                                                         (s["blur_sigma"], s["patch_ks"][1])]
    assert all(r["points"] <= s["patches"] and r["kept"] == round(0.3 * r["points"]) for r in rows)
    assert [r["expected_h1"] for r in rows] == [1, 5, 1, 5]
    # the orientation histogram compares the patches with the CNN filters
    labels = set(e["numbers"]["axis_excess"])
    assert any("patches" in k for k in labels) and any("MNIST" in k for k in labels)


def test_pngs_are_written_and_embedded(quick):
    for name in ("mnist_layer1_graph.png", "mnist_layer1_barcode.png", "dynamics_h1.png", "orientation.png",
                 "depth_file0_graphs.png", "patches_raw_k100_graph.png"):
        data = (quick.out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, name
    figures = [f["file"] for e in quick.results["experiments"].values() for f in e["figures"]]
    assert all((quick.out / f).is_file() for f in figures)
    embedded = re.findall(r"src=[\"']data:image/png;base64,", quick.html)
    assert len(embedded) == len(figures)
    assert not re.search(r"(src|href)=[\"']?https?:", quick.html)  # self-contained


def test_summary_md_links_the_figures(quick):
    text = (quick.out / "SUMMARY.md").read_text()
    for name in PARTS:
        assert quick.results["experiments"][name]["title"] in text
    links = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", text)
    assert "mnist_layer1_graph.png" in " ".join(links)
    base = quick.home.parent  # the working directory of the command: links are relative to it
    assert all((base / link).is_file() for link in links)


def test_report_states_parameters_versions_and_numbers(quick):
    html = quick.html
    r = quick.results
    acc = r["experiments"]["mnist"]["numbers"]["mean_test_acc"]
    assert f"{100 * acc:.1f}%" in html
    for word in ("ripser", "kmapper", "torch", "mnist_networks", "density_p", "Timings", "betti1", "H1 significant"):
        assert word in html, word


def test_second_run_reuses_the_cached_training(quick, shared_data, tmp_path):
    out = tmp_path / "again"
    proc = run_cli(["reproduce", "--quick", "--only", "mnist", "--out", str(out), "--data-root", str(shared_data),
                    "--runs", str(quick.runs), "--device", "cpu", "--json"], quick.home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    doc = json.loads(proc.stdout)
    assert list(doc["experiments"]) == ["mnist"]
    assert doc["timings"]["train_mnist"] == 0.0
    assert doc["experiments"]["mnist"]["params"]["training"]["reused_cached_run"] is True
    first = quick.results["experiments"]["mnist"]["numbers"]
    assert doc["experiments"]["mnist"]["numbers"]["mean_test_acc"] == first["mean_test_acc"]
    assert doc["experiments"]["mnist"]["numbers"]["cloud"]["h1"] == first["cloud"]["h1"]  # deterministic


@pytest.mark.parametrize("args, message", [
    (["--only", "mnist,bogus"], "expected a comma-separated subset"),
    (["--networks", "0"], "--networks must be at least 1"),
    (["--vgg16", "/nonexistent/vgg16.pth"], "no such file"),
])
def test_bad_arguments_give_one_sentence(tmp_path, args, message):
    proc = run_cli(["reproduce", "--quick", "--out", str(tmp_path / "o"), *args], tmp_path / "home", timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_data_is_reported_per_part(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    proc = run_cli(["reproduce", "--quick", "--only", "mnist,depth", "--out", str(tmp_path / "o"), "--data-root",
                    str(empty), "--runs", str(tmp_path / "runs")], tmp_path / "home", timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    import json

    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    mnist, depth = doc["experiments"]["mnist"], doc["experiments"]["depth"]
    assert mnist["status"] == "failed" and "MNIST not found" in mnist["summary"]
    assert str(empty) in mnist["summary"]  # the error names the user's folder
    # no --download and no --vgg16: the depth part says why it did not run
    assert depth["status"] == "skipped" and "downloads are off" in depth["summary"]
    assert "MNIST not found" in (tmp_path / "o" / "report.html").read_text()
