"""Experiment 1: MNIST layer 1 — the circle of edge detectors.

Gabrielsson & Carlsson pooled the 3×3 layer-1 filters of 100 trained copies of
a small CNN (conv 3×3, 64 → max-pool → conv 3×3, 32 → max-pool → dense 64 → 10),
density-filtered them (k = 200, p = 30 %) and found a Mapper graph shaped like a
circle whose nodes are edge detectors at every angle, with one long H1 bar.
"""

from __future__ import annotations

from tdacnn.reproduce.common import Context, analyse_cloud, part_result

__all__ = ["run", "layer1", "TITLE", "accuracy_numbers", "training_numbers"]

TITLE = "MNIST, layer 1: the circle of edge detectors"


def accuracy_numbers(info: dict) -> dict:
    """Mean / min / max test accuracy of a run (``run.json``)."""
    accs = [a for a in info.get("test_acc", []) if a is not None]
    if not accs:
        return {"mean_test_acc": None}
    return {"mean_test_acc": round(sum(accs) / len(accs), 4), "min_test_acc": round(min(accs), 4),
            "max_test_acc": round(max(accs), 4), "networks": len(accs)}


def training_numbers(info: dict) -> dict:
    """What the report states about a training run."""
    cfg = info.get("config", {})
    return {"dataset": cfg.get("dataset"), "networks": cfg.get("n_networks"), "iterations": cfg.get("iterations"),
            "optimizer": cfg.get("optimizer"), "lr": cfg.get("lr"), "batch_size": cfg.get("batch_size"),
            "seed": cfg.get("seed"), "snapshots": info.get("snapshots"), "arch": info.get("arch"),
            "train_s": (info.get("timings") or {}).get("train_s"),
            "images_per_s": (info.get("timings") or {}).get("images_per_s"),
            "backend": (info.get("timings") or {}).get("backend"), "reused_cached_run": info.get("reused"),
            "recipe": info.get("recipe")}


def layer1(ctx: Context):
    """The analysed layer-1 cloud of the final MNIST snapshot (computed once per context)."""
    from tdacnn.topology.params import CloudParams

    if "mnist_layer1" not in ctx.shared:
        ws, _, _ = ctx.run("mnist")
        last = max(ws.iterations(1))
        cloud = ctx.analysis.cloud(ws, CloudParams(layer=1, iteration=last, channels="each"))
        ctx.shared["mnist_layer1"] = analyse_cloud(ctx, cloud, "MNIST layer 1")
    return ctx.shared["mnist_layer1"]


def run(ctx: Context) -> dict:
    from tdacnn.view.static import barcode_figure, graph_figure

    res = part_result("mnist", TITLE)
    ws, info, _ = ctx.run("mnist")
    last = max(ws.iterations(1))
    r = layer1(ctx)
    s = r.summary
    acc = accuracy_numbers(info)
    res["params"] = {"training": training_numbers(info), "iteration": last}
    res["numbers"] = {**acc, "cloud": s}
    res["verdict"] = s["verdict"]
    acc_text = f"{100 * acc['mean_test_acc']:.1f}%" if acc.get("mean_test_acc") is not None else "n/a"
    res["summary"] = (f"{len(ws.networks())} networks × {last} iterations (mean test accuracy {acc_text}); "
                      f"{s['points']} layer-1 filters, {s['kept']} kept (k={s['density']['k']}, "
                      f"p={s['density']['p']:g}%): {s['why']} → circle {s['verdict']}.")
    sub = (f"{s['kept']} densest of {s['points']} filters (k={s['density']['k']}, p={s['density']['p']:g}%), "
           f"lens PCA 2, {s['mapper']['n_cubes']} cubes, overlap {s['mapper']['overlap']}, "
           f"single linkage cut {s['mapper']['distance_cut']}")
    res["figures"] = [
        {"file": ctx.save_png("mnist_layer1_graph.png", graph_figure(
            r.graph, f"MNIST layer 1 (iteration {last}): Mapper graph, betti1 = {s['graph']['betti1']}", sub)),
         "caption": "Mapper graph of the density-filtered layer-1 filters; colour = mean codensity "
                    "(low = dense), thumbnails = mean filter of each node."},
        {"file": ctx.save_png("mnist_layer1_barcode.png", barcode_figure(
            r.barcode, f"MNIST layer 1: Vietoris–Rips barcode ({r.barcode.n_landmarks} landmarks)")),
         "caption": "H0 and H1 barcodes; significant H1 bars in red."},
    ]
    return res
