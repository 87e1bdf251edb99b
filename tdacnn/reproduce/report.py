"""Write a reproduction's ``results.json`` and its self-contained ``report.html``.

The HTML embeds every PNG as a ``data:`` URI, so the one file can be mailed or
attached to an issue; the PNGs are also written beside it for the README.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["write_results", "write_html", "write_summary", "jsonable", "cloud_rows"]


#: The verdict rule, as the report and the summary state it.
VERDICT_RULE = ("the barcode shows one circle — exactly one significant H1 bar: p ≤ 0.01 against the same "
                "pipeline on as many random Gaussian 3×3 filters (tdacnn.topology.significance, significance "
                "version 3) — and the Mapper complex has first Betti number 1; for the natural patches' X(15,30): "
                "five significant H1 bars, as in 2008. Partly seen = one of the two; not seen = neither. "
                "Nothing was tuned per experiment to make a picture appear.")


def _rule(results: dict) -> str:
    return VERDICT_RULE


def jsonable(x: Any) -> Any:
    """``x`` with private keys (``_...``) dropped, numpy scalars unwrapped and non-finite floats as None."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def write_results(results: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / "results.json"
    path.write_text(json.dumps(jsonable(results), indent=1, allow_nan=False) + "\n")
    return path


# ------------------------------------------------------------------ tables
def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def cloud_rows(name: str, result: dict) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the per-cloud table of one experiment."""
    nums = result.get("numbers", {})
    if name in ("mnist", "cifar10"):
        header = ["cloud", "points", "kept", "k", "p %", "Mapper nodes", "edges", "components", "betti1",
                  "H1 significant", "longest H1 bars", "median energy on circle", "axis excess", "verdict"]
        rows = []
        for key in ("cloud", "cloud_each", "cloud_sum"):
            s = nums.get(key)
            if not s:
                continue
            g = s["graph"]
            rows.append([s["label"], s["points"], s["kept"], s["density"]["k"], s["density"]["p"], g["nodes"],
                         g["edges"], g["components"], g["betti1"], s["h1"]["significant"], s["h1"]["lengths"][:3],
                         s["orientation"]["median_energy_on_circle"], s["orientation"]["axis_excess"],
                         s["verdict"]])
        return header, rows
    if name == "dynamics":
        header = ["series", "iteration", "points (analysed)", "kept", "k", "Mapper nodes", "betti1",
                  "H1 significant", "longest H1 bars", "median energy on circle", "verdict"]
        rows = [[r["series"], r["iteration"], f"{r['points']} ({r['analysed']})", r["kept"], r["k"], r["nodes"],
                 r["betti1"], r["h1_significant"], r["h1_lengths"][:3], r["median_energy_on_circle"], r["verdict"]]
                for r in nums.get("rows", [])]
        return header, rows
    if name == "depth":
        header = ["checkpoint", "conv layer", "shape", "points (analysed)", "kept", "k", "Mapper nodes", "betti1",
                  "H1 significant", "longest H1 bars", "verdict"]
        rows = [[c["name"], r["layer"], "×".join(map(str, r["shape"])), f"{r['points']} ({r['analysed']})",
                 r["kept"], r["k"], r["graph"]["nodes"], r["graph"]["betti1"], r["h1_significant"],
                 r["h1_lengths"][:3], r["verdict"]]
                for c in nums.get("checkpoints", []) for r in c["layers"]]
        return header, rows
    if name == "patches":
        header = ["blur σ (px)", "k", "p %", "points", "kept", "Mapper nodes", "betti1", "H1 significant",
                  "2008 paper", "longest H1 bars", "axis excess", "verdict"]
        rows = [[r["blur_sigma"], r["k"], r["p"], r["points"], r["kept"], r["graph"]["nodes"], r["graph"]["betti1"],
                 r["h1_significant"], r["expected_h1"], r["h1_lengths"][:5], r["axis_excess"], r["verdict"]]
                for r in nums.get("rows", [])]
        return header, rows
    return [], []


def _table(header: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='{_cls(v)}'>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cls(v: Any) -> str:
    return {"seen": "seen", "partly seen": "partly", "not seen": "notseen"}.get(v, "") if isinstance(v, str) else ""


def _kv(d: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table class='kv'>{rows}</table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em} td,th{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top} th{background:#f4f4f4}
td.seen{background:#d5f5d5} td.partly{background:#fff3c4} td.notseen{background:#fbd8d8}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:.85em;color:#555}
.summary{background:#f7f9fc;border-left:4px solid #5b8def;padding:.5em 1em} .notes li{font-size:.9em}
details{margin:.5em 0} pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em}
.kv th{width:14em}
"""


def write_html(results: dict, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` from the results document and the PNGs in ``out_dir``."""
    out_dir = Path(out_dir)
    exps = results.get("experiments", {})
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tdacnn reproduction</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>tdacnn reproduction of Gabrielsson &amp; Carlsson (and Carlsson et al. 2008)</h1>",
             f"<p>Created {html.escape(str(results.get('created')))} on device "
             f"<b>{html.escape(str(results.get('device')))}</b>, profile "
             f"<b>{html.escape(str(results.get('settings', {}).get('profile')))}</b>. "
             f"Verdicts: <b>seen</b> = {html.escape(_rule(results))}</p>"]
    for note in results.get("settings", {}).get("notes", []):
        parts.append(f"<p><b>{html.escape(note)}</b></p>")
    parts.append("<h2>Verdicts and timings</h2>")
    parts.append(_table(["experiment", "status", "verdict", "seconds (total)", "of which training"],
                        [[e.get("title"), e.get("status"), e.get("verdict"), e.get("seconds"),
                          e.get("seconds_training")] for e in exps.values()]))
    for name, e in exps.items():
        parts.append(f"<h2 id='{html.escape(name)}'>{html.escape(e.get('title', name))}</h2>")
        parts.append(f"<p class='summary'><b>{html.escape(str(e.get('verdict')))}</b> — "
                     f"{html.escape(e.get('summary', ''))}</p>")
        header, rows = cloud_rows(name, e)
        parts.append(_table(header, rows))
        nums = {k: v for k, v in e.get("numbers", {}).items() if not isinstance(v, (dict, list))}
        if nums:
            parts.append(_kv(nums))
        if e.get("notes"):
            parts.append("<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in e["notes"]) + "</ul>")
        for fig in e.get("figures", []):
            path = out_dir / fig["file"]
            if not path.is_file():
                continue
            b64 = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<figure><img alt='{html.escape(fig['file'])}' src='data:image/png;base64,{b64}'>"
                         f"<figcaption>{html.escape(fig['file'])}: {html.escape(fig.get('caption', ''))}"
                         "</figcaption></figure>")
        if e.get("params"):
            parts.append("<details><summary>parameters</summary><pre>"
                         + html.escape(json.dumps(jsonable(e["params"]), indent=1)) + "</pre></details>")
    parts.append("<h2>Parameters</h2>")
    parts.append(_kv({k: v for k, v in results.get("settings", {}).items() if k != "notes"}))
    parts.append(_kv({"data root": results.get("data_root"), "training runs cached in": results.get("runs_root"),
                      "command": results.get("command")}))
    parts.append("<p>Density: codensity = distance to the k-th nearest neighbour, keep the densest p %; "
                 "k follows the paper's ratio (k = 200 on 6,400 filters) as round(200·n/6400) within "
                 "[k_min, k_max], except for the natural patches (the 2008 paper's k). Mapper: lens = first two "
                 "principal components, cover of n_cubes² overlapping rectangles, single-linkage clusters cut at "
                 "mapper_cut_factor × the median nearest-neighbour distance of the filtered cloud (the cut used "
                 "is in each experiment's parameters). "
                 "Barcodes: Vietoris–Rips on max-min landmarks; a bar is significant when its p-value against "
                 "the same pipeline on as many random Gaussian 3×3 filters is at most 0.01 "
                 "(tdacnn.topology.significance; the table that chose this rule is docs/significance.md).</p>")
    parts.append("<h2>Software</h2>")
    parts.append(_kv(results.get("versions", {})))
    parts.append("<h2>Timings (seconds)</h2>")
    parts.append(_kv(results.get("timings", {})))
    parts.append("<details><summary>results.json</summary><pre>"
                 + html.escape(json.dumps(jsonable(results), indent=1)[:200000]) + "</pre></details>")
    parts.append("</body></html>")
    path = out_dir / "report.html"
    path.write_text("\n".join(p for p in parts if p))
    return path


def write_summary(results: dict, out_dir: Path, link_base: Path | None = None) -> Path:
    """Write ``out_dir/SUMMARY.md``: the verdicts, key numbers and figure links, for a README.

    Figure links are relative to ``link_base`` (default: the working directory), so a
    report written from the repository root links as ``docs/reproduction/<figure>.png``.
    """
    import os

    out_dir = Path(out_dir)
    base = Path(link_base) if link_base is not None else Path.cwd()

    def link(name: str) -> str:
        return Path(os.path.relpath((out_dir / name).resolve(), base.resolve())).as_posix()

    s = results.get("settings", {})
    t = results.get("timings", {})
    lines = [f"Reproduction of Gabrielsson & Carlsson (and Carlsson et al. 2008), profile **{s.get('profile')}** "
             f"on **{results.get('device')}**, created {results.get('created')} with "
             f"`tdacnn reproduce` (total {t.get('total', 0) / 60:.0f} min; full report: "
             f"[{link('report.html')}]({link('report.html')}), numbers: [{link('results.json')}]"
             f"({link('results.json')})).", "",
             "| experiment | verdict | what was measured | time |", "|---|---|---|---|"]
    trained = []
    for name, e in results.get("experiments", {}).items():
        tr = (e.get("params") or {}).get("training") or {}
        if tr.get("train_s") is not None:
            trained.append(f"{tr.get('dataset')}: {tr.get('networks')} networks × {tr.get('iterations')} iterations "
                           f"in {tr['train_s'] / 60:.1f} min ({tr.get('images_per_s')} images/s, {tr.get('backend')}"
                           f"{', a cached run' if tr.get('reused_cached_run') else ''})")
    if trained:
        lines[0] += " Training: " + "; ".join(trained) + "."
    for name, e in results.get("experiments", {}).items():
        summary = str(e.get("summary", "")).replace("|", "/").replace("\n", " ")
        lines.append(f"| {e.get('title')} | **{e.get('verdict')}** | {summary} | {e.get('seconds', 0):.0f} s |")
    lines += ["", f"Verdict rule: *seen* = {_rule(results)}", ""]
    for name, e in results.get("experiments", {}).items():
        figs = [f for f in e.get("figures", []) if (out_dir / f["file"]).is_file()]
        if not figs:
            continue
        lines.append(f"**{e.get('title')}**")
        lines.append("")
        shown = figs[:4] + [f for f in figs[4:] if f["file"] == "orientation.png"]
        for f in shown:
            lines.append(f"![{f['file']}]({link(f['file'])})")
        lines.append("")
    path = out_dir / "SUMMARY.md"
    path.write_text("\n".join(lines) + "\n")
    return path
