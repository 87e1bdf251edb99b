"""Write a reproduction's ``results.json``, its self-contained ``report.html`` and ``SUMMARY.md``.

The HTML embeds every PNG as a ``data:`` URI, so the one file can be mailed or
attached to an issue; the PNGs are also written beside it for the README.  Both
documents are Jinja2 templates (``templates/report.html.j2``, autoescaped, and
``templates/SUMMARY.md.j2``); this module only turns a results document — fresh,
or loaded from ``results.json`` — into the values they show.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
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


def _cls(v: Any) -> str:
    """The CSS class of a verdict cell ("" for any other value)."""
    return {"seen": "seen", "partly seen": "partly", "not seen": "notseen"}.get(v, "") if isinstance(v, str) else ""


# ------------------------------------------------------------------ templates
@functools.lru_cache(maxsize=1)
def _environment():
    """The Jinja2 environment of ``templates/``: HTML autoescaped, Markdown not."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("tdacnn.reproduce", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["verdict_class"] = _cls
    return env


def _render(template: str, path: Path, context: dict) -> Path:
    path.write_text(_environment().get_template(template).render(**context), encoding="utf-8")
    return path


def _html_context(results: dict, out_dir: Path) -> dict:
    """What ``report.html.j2`` shows: every value as the page states it, PNGs read from ``out_dir``."""
    settings = results.get("settings", {})
    exps = results.get("experiments", {})
    experiments = []
    for name, e in exps.items():
        header, rows = cloud_rows(name, e)
        figures = [{"file": f["file"], "caption": f.get("caption", ""),
                    "base64": base64.b64encode((out_dir / f["file"]).read_bytes()).decode()}
                   for f in e.get("figures", []) if (out_dir / f["file"]).is_file()]
        experiments.append({
            "name": name, "title": e.get("title", name), "verdict": str(e.get("verdict")),
            "summary": e.get("summary", ""), "header": header, "rows": rows,
            "numbers": {k: v for k, v in e.get("numbers", {}).items() if not isinstance(v, (dict, list))},
            "notes": e.get("notes") or [], "figures": figures,
            "params": json.dumps(jsonable(e["params"]), indent=1) if e.get("params") else ""})
    return {
        "created": str(results.get("created")), "device": str(results.get("device")),
        "profile": str(settings.get("profile")), "rule": _rule(results), "notes": settings.get("notes", []),
        "unfinished": list(results.get("unfinished") or []),
        "overview": {"header": ["experiment", "status", "verdict", "seconds (total)", "of which training"],
                     "rows": [[e.get("title"), e.get("status"), e.get("verdict"), e.get("seconds"),
                               e.get("seconds_training")] for e in exps.values()]},
        "experiments": experiments,
        "settings": {k: v for k, v in settings.items() if k != "notes"},
        "paths": {"data root": results.get("data_root"), "training runs cached in": results.get("runs_root"),
                  "command": results.get("command")},
        "versions": results.get("versions", {}), "timings": results.get("timings", {}),
        "results_json": json.dumps(jsonable(results), indent=1)[:200000],
    }


def write_html(results: dict, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` from the results document and the PNGs in ``out_dir``.

    Parameters
    ----------
    results : dict
        The results document, as :func:`tdacnn.reproduce.runner.reproduce` returns it or as
        ``results.json`` holds it.
    out_dir : Path
        The folder holding the figures' PNGs; the report is written there.

    Returns
    -------
    Path
        ``out_dir/report.html``: one self-contained file, every PNG inlined as a ``data:`` URI.
    """
    out_dir = Path(out_dir)
    return _render("report.html.j2", out_dir / "report.html", _html_context(results, out_dir))


def _summary_context(results: dict, out_dir: Path, base: Path) -> dict:
    """What ``SUMMARY.md.j2`` shows; links relative to ``base``."""

    def link(name: str) -> str:
        return Path(os.path.relpath((out_dir / name).resolve(), base.resolve())).as_posix()

    trained, experiments = [], []
    for e in results.get("experiments", {}).values():
        tr = (e.get("params") or {}).get("training") or {}
        if tr.get("train_s") is not None:
            trained.append(f"{tr.get('dataset')}: {tr.get('networks')} networks × {tr.get('iterations')} iterations "
                           f"in {tr['train_s'] / 60:.1f} min ({tr.get('images_per_s')} images/s, {tr.get('backend')}"
                           f"{', a cached run' if tr.get('reused_cached_run') else ''})")
        figs = [f for f in e.get("figures", []) if (out_dir / f["file"]).is_file()]
        shown = figs[:4] + [f for f in figs[4:] if f["file"] == "orientation.png"]
        experiments.append({
            "title": e.get("title"), "verdict": e.get("verdict"),
            "summary": str(e.get("summary", "")).replace("|", "/").replace("\n", " "),
            "seconds": f"{e.get('seconds') or 0:.0f}",
            "figures": [{"file": f["file"], "link": link(f["file"])} for f in shown]})
    settings = results.get("settings", {})
    return {"profile": settings.get("profile"), "device": results.get("device"), "created": results.get("created"),
            "minutes": f"{results.get('timings', {}).get('total', 0) / 60:.0f}", "report": link("report.html"),
            "results_json": link("results.json"), "trained": trained, "experiments": experiments,
            "rule": _rule(results), "unfinished": list(results.get("unfinished") or [])}


def write_summary(results: dict, out_dir: Path, link_base: Path | None = None) -> Path:
    """Write ``out_dir/SUMMARY.md``: the verdicts, key numbers and figure links, for a README.

    Figure links are relative to ``link_base`` (default: the working directory), so a
    report written from the repository root links as ``docs/reproduction/<figure>.png``.

    Returns
    -------
    Path
        ``out_dir/SUMMARY.md``.
    """
    out_dir = Path(out_dir)
    base = Path(link_base) if link_base is not None else Path.cwd()
    return _render("SUMMARY.md.j2", out_dir / "SUMMARY.md", _summary_context(results, out_dir, base))
