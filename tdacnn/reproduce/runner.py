"""Run the selected experiments of a reproduction and collect their results.

Each experiment is a module of this package with ``run(ctx) -> dict`` (see
:func:`tdacnn.reproduce.common.part_result`).  An experiment that fails with a
user-fixable error (missing data, an unreadable checkpoint) is recorded as
``failed`` with that sentence, and the others still run; anything else is a bug
and propagates.
"""

from __future__ import annotations

import importlib
import logging
import platform
import sys
import time
from typing import Any, Callable, Sequence

from tdacnn.errors import UserError
from tdacnn.reproduce.common import Context
from tdacnn.reproduce.settings import PARTS

__all__ = ["reproduce", "software_versions"]

log = logging.getLogger(__name__)

_VERSIONED = ("tdacnn", "numpy", "scipy", "scikit-learn", "scikit-image", "torch", "torchvision", "kmapper",
              "ripser", "giotto-ph", "networkx", "matplotlib")


def software_versions() -> dict[str, str]:
    """Python and the installed versions of the packages a reproduction uses."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        import torch

        out["torch_threads"] = str(torch.get_num_threads())
        out["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except Exception:  # noqa: BLE001 - versions are informational
        pass
    return out


def reproduce(ctx: Context, parts: Sequence[str] = PARTS,
              on_part: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``parts`` (in report order) and return the results document.

    ``on_part``, when given, receives the document after each part (``unfinished`` lists the parts
    still to run), so that a reproduction stopped after hours keeps a report of what it finished.

    Returns
    -------
    dict
        ``created``, ``command``, ``settings``, ``versions``, ``timings`` (seconds per
        part and per training run), ``experiments`` (name -> result), ``verdicts``.
    """
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise UserError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    from tdacnn.view.static import require_matplotlib

    require_matplotlib()  # before any training: every part draws its figures with it
    ctx.parts = tuple(p for p in PARTS if p in parts)
    t_all = time.monotonic()
    experiments: dict[str, Any] = {}
    for name in PARTS:
        if name not in parts:
            continue
        module = importlib.import_module(f"tdacnn.reproduce.{name}")
        ctx.say(f"[{name}] {module.TITLE}")
        t0 = time.monotonic()
        train_before = sum(v for k, v in ctx.timings.items() if k.startswith("train_"))
        try:
            result = module.run(ctx)
        except UserError as exc:
            from tdacnn.reproduce.common import part_result

            result = part_result(name, module.TITLE)
            result.update(status="failed", verdict="not run", summary=f"Could not run: {exc}")
            log.warning("%s failed: %s", name, exc)
        seconds = time.monotonic() - t0
        trained = sum(v for k, v in ctx.timings.items() if k.startswith("train_")) - train_before
        result["seconds"] = round(seconds, 1)
        result["seconds_training"] = round(trained, 1)
        result["seconds_analysis"] = round(seconds - trained, 1)
        ctx.timings[name] = round(seconds, 1)
        ctx.say(f"[{name}] {result['status']}: {result.get('verdict')} ({seconds:.0f} s)")
        experiments[name] = result
        if on_part is not None:
            on_part(_document(ctx, experiments, [p for p in ctx.parts if p not in experiments]))
    ctx.timings["total"] = round(time.monotonic() - t_all, 1)
    return _document(ctx, experiments, [])


def _document(ctx: Context, experiments: dict[str, Any], unfinished: list[str]) -> dict[str, Any]:
    """The results document of the parts run so far."""
    return {
        "format": "tdacnn-reproduction/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["tdacnn"] + sys.argv[1:]) if sys.argv and "tdacnn" in sys.argv[0] else None,
        "device": ctx.device,
        "data_root": str(ctx.data_root),
        "runs_root": str(ctx.runs_root),
        "settings": ctx.settings.to_dict(),
        "versions": software_versions(),
        "timings": dict(ctx.timings),
        "experiments": dict(experiments),
        "verdicts": {n: e.get("verdict") for n, e in experiments.items()},
        "unfinished": list(unfinished),
    }
