"""Experiment 2: CIFAR-10 layer 1 — the circle, with horizontal and vertical lines inside it.

The same pipeline as MNIST on the paper's CIFAR-10 network (3 input channels):
each colour channel's 3×3 slice as its own point, and the channels summed into
one filter per output channel; both are reported.
"""

from __future__ import annotations

from tdacnn.reproduce.common import Context, analyse_cloud, part_result
from tdacnn.reproduce.mnist import accuracy_numbers, training_numbers

__all__ = ["run", "TITLE"]

TITLE = "CIFAR-10, layer 1: colour channels each, and summed"


def run(ctx: Context) -> dict:
    from tdacnn.topology.params import CloudParams
    from tdacnn.view.static import barcode_figure, graph_figure

    res = part_result("cifar10", TITLE)
    ws, info, _ = ctx.run("cifar10")
    last = max(ws.iterations(1))
    acc = accuracy_numbers(info)
    res["params"] = {"training": training_numbers(info), "iteration": last,
                     "train_images": "the CIFAR-10 files under the data root (see the training block)"}
    res["numbers"] = dict(acc)
    verdicts, parts = [], []
    for mode, label in (("each", "channels each"), ("sum", "channels summed")):
        cloud = ctx.analysis.cloud(ws, CloudParams(layer=1, iteration=last, channels=mode))
        r = analyse_cloud(ctx, cloud, f"CIFAR-10 layer 1, {label}", seed_offset=2 if mode == "each" else 3)
        s = r.summary
        if mode == "each":
            ctx.shared["cifar10_layer1"] = r  # for the orientation histogram of the patches experiment
        res["numbers"][f"cloud_{mode}"] = s
        verdicts.append(s["verdict"])
        parts.append(f"{label}: {s['points']} points, {s['kept']} kept (k={s['density']['k']}), {s['why']} "
                     f"→ {s['verdict']}")
        sub = (f"{s['kept']} densest of {s['points']} filters (k={s['density']['k']}, p={s['density']['p']:g}%), "
               f"lens PCA 2, {s['mapper']['n_cubes']} cubes")
        res["figures"] += [
            {"file": ctx.save_png(f"cifar10_layer1_{mode}_graph.png", graph_figure(
                r.graph, f"CIFAR-10 layer 1, {label} (iteration {last}): betti1 = {s['graph']['betti1']}", sub)),
             "caption": f"Mapper graph, {label}."},
            {"file": ctx.save_png(f"cifar10_layer1_{mode}_barcode.png", barcode_figure(
                r.barcode, f"CIFAR-10 layer 1, {label}")),
             "caption": f"Barcode, {label}."},
        ]
    order = ("seen", "partly seen", "not seen")
    res["verdict"] = min(verdicts, key=order.index)
    acc_text = f"{100 * acc['mean_test_acc']:.1f}%" if acc.get("mean_test_acc") is not None else "n/a"
    res["summary"] = (f"{len(ws.networks())} networks × {last} iterations (mean test accuracy {acc_text}); "
                      + "; ".join(parts) + ". The horizontal and vertical lines inside the circle are judged "
                      "from the thumbnails, not computed.")
    return res
