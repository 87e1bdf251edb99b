"""Experiment 4: depth — VGG16's conv layers 2 to 13.

The paper (its Figure 6) looked at the filters of every conv layer of a VGG16
trained on ImageNet.  Here: torchvision's ImageNet VGG16 weights where they can
be had (already in ``<tdacnn home>/models/``, or downloaded with ``--download``),
and any VGG16 checkpoint given with ``--vgg16 FILE``.  Each layer's 3×3
input-channel slices are one cloud (subsampled to ``max_points``); without any
checkpoint the experiment says so and is skipped.

``TDACNN_VGG16_URL`` replaces the download address (tests point it at a closed
port to check the offline message).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tdacnn.errors import UserError
from tdacnn.reproduce.common import Context, analyse_cloud, part_result

__all__ = ["run", "TITLE", "imagenet_vgg16"]

log = logging.getLogger(__name__)

TITLE = "Depth: VGG16 conv layers 2–13"

#: Conv layers analysed (the first is the RGB layer, shown by the CIFAR-10 experiment's method).
LAYERS = tuple(range(2, 14))


def imagenet_vgg16(ctx: Context) -> tuple[Path | None, str]:
    """The ImageNet VGG16 weight file if available, and a sentence on how it was (not) obtained."""
    from tdacnn.config import home
    from tdacnn.nets.vgg import VGG16_FILE, fetch_vgg16_imagenet

    dest = home() / "models"
    target = dest / VGG16_FILE
    if target.is_file() and target.stat().st_size > 500_000_000:
        return target, f"ImageNet weights: torchvision's {VGG16_FILE}, found in {dest}."
    if not ctx.download:
        return None, ("ImageNet weights not used: they are not in "
                      f"{dest} and downloads are off (pass --download where there is internet, "
                      "or give the file with --vgg16).")
    ctx.say("downloading torchvision's ImageNet VGG16 weights (528 MB) ...")
    try:
        path = fetch_vgg16_imagenet(dest, progress=False, url=os.environ.get("TDACNN_VGG16_URL") or None)
    except UserError as exc:
        return None, f"ImageNet weights could not be downloaded: {exc}"
    return path, f"ImageNet weights: torchvision's {VGG16_FILE}, downloaded to {dest}."


def _analyse_file(ctx: Context, path: Path, name: str, f_i: int) -> dict:
    from tdacnn.nets.checkpoints import list_conv_layers, read_weightset
    from tdacnn.nets.vgg import is_vgg16
    from tdacnn.topology.params import CloudParams

    layers = list_conv_layers(path)
    notes = []
    if not is_vgg16(layers):
        notes.append(f"{path.name} is not VGG16-shaped ({len(layers)} conv layers); its conv layers 2–13 that "
                     "exist are analysed anyway")
    wanted = [i for i in LAYERS if i <= len(layers) and layers[i - 1].kernel_size == (3, 3)]
    if not wanted:
        raise UserError(f"{path.name} has no 3×3 conv layers numbered 2 to 13")
    rows, graphs = [], []
    for layer in wanted:
        ws = read_weightset([path], layers=[layer])
        cloud = ctx.analysis.cloud(ws, CloudParams(layer=layer, channels="each"))
        r = analyse_cloud(ctx, cloud, f"{name} conv {layer}", small=True, seed_offset=5000 + 100 * f_i + layer)
        s = r.summary
        rows.append({"layer": layer, "shape": list(layers[layer - 1].shape), "points": s["points"],
                     "analysed": s["analysed"], "kept": s["kept"], "k": s["density"]["k"],
                     "h1_significant": s["h1"]["significant"], "h1_lengths": s["h1"]["lengths"][:5],
                     "h1_p_values": s["h1"]["p_values"][:5],
                     "graph": s["graph"], "verdict": s["verdict"],
                     "median_energy_on_circle": s["orientation"]["median_energy_on_circle"]})
        graphs.append((f"conv {layer}: {s['verdict']} (H1 {s['h1']['significant']}, b1 {s['graph']['betti1']})",
                       r.graph))
    return {"name": name, "file": str(path), "layers": rows, "notes": notes, "_graphs": graphs}


def run(ctx: Context) -> dict:
    from tdacnn.view.static import depth_figure

    res = part_result("depth", TITLE)
    sources: list[tuple[str, Path]] = []
    path, sentence = imagenet_vgg16(ctx)
    res["notes"].append(sentence)
    res["numbers"]["imagenet"] = {"available": path is not None, "message": sentence}
    if path is not None:
        sources.append(("VGG16 ImageNet", path))
    for i, p in enumerate(ctx.vgg16):
        sources.append((f"VGG16 {Path(p).name}", Path(p)))
    if not sources:
        res["status"] = "skipped"
        res["verdict"] = "not run"
        res["summary"] = sentence + " No VGG16 checkpoint was given (--vgg16 FILE), so nothing was analysed."
        return res
    checkpoints, texts = [], []
    for f_i, (name, p) in enumerate(sources):
        if not p.is_file():
            res["notes"].append(f"{p}: no such file; skipped")
            continue
        try:
            out = _analyse_file(ctx, p, name, f_i)
        except UserError as exc:
            res["notes"].append(f"{name}: {exc}")
            continue
        graphs = out.pop("_graphs")
        res["notes"] += out["notes"]
        slug = "imagenet" if name == "VGG16 ImageNet" else f"file{f_i}"
        res["figures"].append({
            "file": ctx.save_png(f"depth_{slug}_graphs.png", depth_figure(graphs, ncols=4, title=f"{name}: Mapper "
                                 "graphs of conv layers 2–13"), dpi=70),
            "caption": f"{name} ({p.name}): one Mapper graph per conv layer; title: circle verdict, "
                       "significant H1 bars, Mapper betti1."})
        checkpoints.append(out)
        seen = [r["layer"] for r in out["layers"] if r["verdict"] == "seen"]
        texts.append(f"{name}: circle seen in conv layer(s) {', '.join(map(str, seen))}" if seen
                     else f"{name}: no circle in conv layers {out['layers'][0]['layer']}–{out['layers'][-1]['layer']}")
    res["numbers"]["checkpoints"] = checkpoints
    if not checkpoints:
        res["status"] = "failed"
        res["verdict"] = "not run"
        res["summary"] = "No VGG16 checkpoint could be analysed: " + "; ".join(res["notes"])
        return res
    any_seen = any(r["verdict"] == "seen" for c in checkpoints for r in c["layers"])
    res["verdict"] = "seen" if any_seen else "not seen"
    res["summary"] = sentence + " " + "; ".join(texts) + "."
    return res
