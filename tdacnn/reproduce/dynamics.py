"""Experiment 3: training dynamics — when does layer 1's circle appear, does layer 2 form one?

The paper saw MNIST's layer-1 circle within a few hundred iterations, CIFAR-10's
about ten times later, and layer 2 organising later still.  Here every saved
snapshot of the MNIST and CIFAR-10 ensembles (layers 1 and 2, each input-channel
slice a point) goes through the same pipeline with the smaller landmark count.
"""

from __future__ import annotations

import logging

from tdacnn.errors import UserError
from tdacnn.reproduce.common import Context, analyse_cloud, part_result

__all__ = ["run", "TITLE"]

log = logging.getLogger(__name__)

TITLE = "Training dynamics: layers 1 and 2 over the iterations"

_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def run(ctx: Context) -> dict:
    from tdacnn.topology.params import CloudParams
    from tdacnn.view.static import depth_figure, dynamics_figure

    res = part_result("dynamics", TITLE)
    rows, texts = [], []
    first: dict[str, int | None] = {}
    for d_i, dataset in enumerate(("mnist", "cifar10")):
        try:
            ws, info, _ = ctx.run(dataset)
        except UserError as exc:
            res["notes"].append(f"{_NAMES[dataset]} skipped: {exc}")
            continue
        graphs = []
        for layer in (1, 2):
            series = f"{_NAMES[dataset]} layer {layer}"
            iters = ws.iterations(layer)
            first[series] = None
            for it in iters:
                cloud = ctx.analysis.cloud(ws, CloudParams(layer=layer, iteration=it, channels="each"))
                r = analyse_cloud(ctx, cloud, f"{series}, iteration {it}", small=True,
                                  seed_offset=1000 * (d_i + 1) + 10 * layer + it)
                s = r.summary
                rows.append({"series": series, "dataset": dataset, "layer": layer, "iteration": it,
                             "verdict": s["verdict"], "h1_lengths": s["h1"]["lengths"],
                             "h1_significant": s["h1"]["significant"], "h1_p_values": s["h1"]["p_values"][:3],
                             "betti1": s["graph"]["betti1"],
                             "nodes": s["graph"]["nodes"], "points": s["points"], "analysed": s["analysed"],
                             "kept": s["kept"], "k": s["density"]["k"],
                             "median_energy_on_circle": s["orientation"]["median_energy_on_circle"]})
                if first[series] is None and s["verdict"] == "seen":
                    first[series] = it
                graphs.append((f"{series}, it {it}: {s['verdict']}", r.graph))
            when = (f"first seen at iteration {first[series]}" if first[series] is not None
                    else f"not seen up to iteration {max(iters)}")
            texts.append(f"{series}: circle {when}")
        res["figures"].append({
            "file": ctx.save_png(f"dynamics_{dataset}_graphs.png", depth_figure(
                graphs, ncols=max(len(ws.iterations(1)), 1), title=f"{_NAMES[dataset]}: Mapper graphs of layer 1 "
                f"(top row) and layer 2 (bottom row) at iterations {', '.join(map(str, ws.iterations(1)))}"),
                dpi=70),
            "caption": f"{_NAMES[dataset]}: one Mapper graph per saved iteration and layer."})
    if not rows:
        raise UserError("no training run was available for the dynamics experiment")
    res["figures"].insert(0, {
        "file": ctx.save_png("dynamics_h1.png", dynamics_figure(rows, "Longest H1 bars during training")),
        "caption": "Longest (solid) and second-longest (dashed) H1 bar against training iteration; "
                   "a star marks a snapshot whose circle verdict is 'seen'."})
    res["numbers"] = {"rows": rows, "first_circle_iteration": first}
    res["params"] = {"channels": "each", "landmarks": ctx.settings.n_perm_small,
                     "max_points": ctx.settings.max_points}
    l1 = [first.get(f"{_NAMES[d]} layer 1") for d in ("mnist", "cifar10") if f"{_NAMES[d]} layer 1" in first]
    res["verdict"] = "seen" if any(v is not None for v in l1) else "not seen"
    m1, c1 = first.get("MNIST layer 1"), first.get("CIFAR-10 layer 1")
    if m1 is not None and c1 is not None:
        texts.append(f"CIFAR-10's layer-1 circle appeared {c1 / max(m1, 1):.1f}× later than MNIST's "
                     "(the paper: about 10×)")
    res["summary"] = "; ".join(texts) + "."
    return res
