"""Experiment 5: natural 3×3 image patches (Carlsson et al. 2008) beside the CNN filters.

The 2008 pipeline on the photos bundled with scikit-image and scikit-learn
(log intensity, top 20 % by D-norm, normalised; :mod:`tdacnn.topology.patches`):
X(300, 30) should be the primary circle (one H1 bar), X(15, 30) the
three-circle model (five H1 bars).  Each is computed on the raw photos and with
the documented Gaussian pre-blur, and the orientation histogram of the patches
is drawn beside the one of the CNN layer-1 filters.
"""

from __future__ import annotations

from tdacnn.errors import UserError
from tdacnn.reproduce.common import Context, analyse_cloud, part_result

__all__ = ["run", "TITLE", "EXPECTED_H1"]

TITLE = "Natural image patches (Carlsson et al. 2008) beside the CNN filters"

#: H1 bars the 2008 paper reports: the primary circle at large k, the three-circle model at small k.
EXPECTED_H1 = {"large": 1, "small": 5}


def _verdict(k: int, large_k: int, h1: int, betti1: int) -> str:
    """Large k: the primary circle (as for the filters); small k: the three-circle model's five H1 bars."""
    if k == large_k:
        return "seen" if h1 == 1 and betti1 == 1 else ("partly seen" if h1 == 1 or betti1 == 1 else "not seen")
    return "seen" if h1 == EXPECTED_H1["small"] else ("partly seen" if 3 <= h1 <= 7 else "not seen")


def run(ctx: Context) -> dict:
    from tdacnn.topology.orientation import axis_excess
    from tdacnn.view.static import barcode_figure, graph_figure, orientation_figure

    s = ctx.settings
    res = part_result("patches", TITLE)
    large_k = max(s.patch_ks)
    rows, angles, texts = [], {}, []
    for blur in (0.0, s.blur_sigma):
        cloud = ctx.analysis.natural(s.patches, blur, s.seed)
        tag = "raw" if blur == 0 else f"blur{blur:g}"
        for k in s.patch_ks:
            r = analyse_cloud(ctx, cloud, f"patches {tag} X({k},{s.density_p:g})", k=k)
            m = r.summary
            v = _verdict(k, large_k, m["h1"]["significant"], m["graph"]["betti1"])
            expected = EXPECTED_H1["large"] if k == large_k else EXPECTED_H1["small"]
            row = {"blur_sigma": blur, "k": k, "p": s.density_p, "points": m["points"], "kept": m["kept"],
                   "h1_significant": m["h1"]["significant"], "h1_lengths": m["h1"]["lengths"][:8],
                   "h1_p_values": m["h1"]["p_values"][:8],
                   "graph": m["graph"], "expected_h1": expected, "verdict": v,
                   "axis_excess": m["orientation"]["axis_excess"],
                   "median_energy_on_circle": m["orientation"]["median_energy_on_circle"]}
            rows.append(row)
            texts.append(f"X({k},{s.density_p:g}) {'raw' if blur == 0 else f'blur σ={blur:g}'}: "
                         f"{m['h1']['significant']} H1 bar(s) (2008: {expected}), betti1 {m['graph']['betti1']}")
            name = f"patches_{tag}_k{k}"
            res["figures"] += [
                {"file": ctx.save_png(f"{name}_graph.png", graph_figure(
                    r.graph, f"Natural patches X({k},{s.density_p:g}), "
                    f"{'no blur' if blur == 0 else f'pre-blur σ={blur:g} px'}: betti1 = {m['graph']['betti1']}",
                    f"{m['kept']} of {m['points']} patches")),
                 "caption": f"Mapper graph of X({k},{s.density_p:g}), {'raw photos' if blur == 0 else 'pre-blurred'}."},
                {"file": ctx.save_png(f"{name}_barcode.png", barcode_figure(
                    r.barcode, f"Natural patches X({k},{s.density_p:g}), blur {blur:g}")),
                 "caption": f"Barcode of X({k},{s.density_p:g}), blur σ = {blur:g}."},
            ]
            if k == large_k:
                angles[f"patches X({k},{s.density_p:g}), blur {blur:g}"] = r.angles
    cnn_notes = []
    # the CNN side of the comparison: never trains here (that is the mnist part's job)
    if "mnist" in ctx.parts or ctx.has_run("mnist"):
        try:
            from tdacnn.reproduce.mnist import layer1

            angles["MNIST layer-1 filters (dense)"] = layer1(ctx).angles
        except UserError as exc:
            cnn_notes.append(f"MNIST filters not shown: {exc}")
    else:
        cnn_notes.append("MNIST filters not shown: run the mnist part too (--only mnist,patches)")
    if "cifar10_layer1" in ctx.shared:
        angles["CIFAR-10 layer-1 filters, channels each (dense)"] = ctx.shared["cifar10_layer1"].angles
    res["notes"] += cnn_notes
    res["figures"].append({
        "file": ctx.save_png("orientation.png", orientation_figure(
            angles, title="Where the dense filters and patches sit on the primary circle")),
        "caption": "Histogram of angles on the primary circle (density, 1 = uniform); multiples of 90° are "
                   "horizontal and vertical edges."})
    res["numbers"] = {"rows": rows, "axis_excess": {k: round(axis_excess(a), 3) if len(a) else None
                                                    for k, a in angles.items()}}
    res["params"] = {"n_patches": s.patches, "blur_sigma": s.blur_sigma, "ks": list(s.patch_ks), "p": s.density_p,
                     "photos": "skimage.data and sklearn sample images (tdacnn.topology.patches.PHOTOS)",
                     "top_fraction": 0.2, "seed": s.seed}
    verdicts = [r["verdict"] for r in rows if r["blur_sigma"] == 0]
    res["verdict"] = ("seen" if all(v == "seen" for v in verdicts) else
                      "not seen" if all(v == "not seen" for v in verdicts) else "partly seen")
    res["summary"] = "; ".join(texts) + ". " + "Axis excess (1 = no preference for horizontal/vertical): " + ", ".join(
        f"{k}: {v}" for k, v in res["numbers"]["axis_excess"].items()) + "."
    return res
