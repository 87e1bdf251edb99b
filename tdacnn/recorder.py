"""Record the conv weights of your own training loop, as ``tdacnn train`` records its own.

In the spirit of TensorBoard's ``SummaryWriter``::

    rec = tdacnn.Recorder("runs/mine")
    for step in range(1000):
        ...                                  # your training step
        if step % 100 == 0:
            rec.snapshot(model, step)        # or rec.snapshot([net_a, net_b, ...], step)
    rec.close()                              # marks the run complete

The folder is a training run in the format ``tdacnn train`` writes (``run.json`` and
``weights.npz``: every snapshot so far), so ``python app.py runs/mine``,
``tdacnn analyze runs/mine --layer 1 --iteration 400`` and the Dynamics view read it
like any run, also while it is being recorded (the page picks up new snapshots).
Each write is atomic (a temporary file renamed over the old one): a reader never sees
half a snapshot.  Only torch's module structure is read: every ``Conv2d`` and
``ConvTranspose2d`` (weights ``(in, out, kh, kw)``, swapped into ``(out, in, kh, kw)``)
in ``named_modules()`` order, numbered from 1.

For loops that take callbacks, :meth:`Recorder.callback` returns an object to call
as ``cb(model, step)`` (or ``cb.on_step(model, step)``) that snapshots every ``every`` steps.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tdacnn.errors import UserError, quote
from tdacnn.weights import RUN_WEIGHTS_FILE, WeightEntry, WeightSet, WeightSetError

__all__ = ["Recorder", "RecorderCallback", "conv_weights"]

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
RUN_FORMAT = "tdacnn-run/1"  # the format of tdacnn.training.run (not imported: that module imports torch's trainer)


def conv_weights(model: Any) -> list[tuple[str, np.ndarray]]:
    """``[(name, weight (out, in, kh, kw) float32), ...]`` of the 2-D convolutions of a torch module, in order.

    Raises
    ------
    UserError
        ``model`` is not a torch module, or holds no 2-D convolution.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise UserError(f"a snapshot takes a torch.nn.Module or a list of them; got {type(model).__name__}")
    out = []
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and module.weight is not None:
            w = module.weight.detach().to(device="cpu", dtype=torch.float32).numpy().copy()
            if isinstance(module, torch.nn.ConvTranspose2d):
                w = np.ascontiguousarray(w.transpose(1, 0, 2, 3))
            out.append((f"{name}.weight" if name else "weight", w))
    if not out:
        raise UserError(f"{type(model).__name__} has no Conv2d or ConvTranspose2d layer to record")
    return out


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


class Recorder:
    """Snapshots of the conv weights of one or many networks into a run folder.

    Parameters
    ----------
    run_dir : path
        The run folder (created).  A folder already recorded into is continued (its
        snapshots are kept; a step recorded again replaces the old one); a folder
        holding anything else is refused.
    meta : dict, optional
        JSON-able notes kept in ``run.json`` (e.g. your hyper-parameters).
    """

    def __init__(self, run_dir: str | os.PathLike, meta: dict | None = None) -> None:
        self.path = Path(run_dir)
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self._entries: dict[tuple[int, int, int], WeightEntry] = {}
        self._layers: list[str] | None = None
        self._closed = False
        self._previous: dict = {}
        info_path = self.path / RUN_FILE
        if info_path.is_file():
            self._continue(info_path)
        elif any(p for p in self.path.iterdir() if not p.name.startswith(".")):
            raise UserError(f"{self.path} is not empty and holds no recorded run; choose a new or empty folder")
        self.info: dict[str, Any] = {
            "format": RUN_FORMAT, "source": "recorder", "status": "recording",
            "created": self._previous.get("created") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "meta": dict(meta or self._previous.get("meta") or {}),
        }
        json.dumps(self.info)  # meta must be JSON-able: say so now, not at the first snapshot
        _write_json(info_path, {**self.info, **self._summary()})

    def _continue(self, info_path: Path) -> None:
        try:
            prev = json.loads(info_path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"{info_path} is not readable JSON ({exc})") from None
        if not isinstance(prev, dict) or prev.get("source") != "recorder":
            raise UserError(f"{self.path} holds a run not made by a Recorder; choose a new or empty folder")
        self._previous = prev
        if (self.path / RUN_WEIGHTS_FILE).is_file():
            try:
                ws = WeightSet.load(self.path)
            except WeightSetError as exc:
                raise UserError(f"{self.path}: the recorded weights cannot be read ({exc})") from exc
            for e in ws.entries:
                self._entries[(e.iteration, e.network, e.layer)] = e
            names = ws.layer_names()
            self._layers = [names[k] for k in sorted(names)]

    # ---- recording -----------------------------------------------------
    def snapshot(self, model: Any | Sequence[Any], step: int) -> Path:
        """Record the conv weights of ``model`` (or of each network of a list, numbered 0..) at ``step``.

        Returns the path of the weights file.  Costs one copy of the conv weights to host
        memory and one write of the run's weights file.

        Raises
        ------
        UserError
            A step that is not a whole number ≥ 0, a model without convolutions, networks whose conv
            layers differ from the earlier snapshots', or a closed recorder.
        """
        if self._closed:
            raise UserError("this Recorder was closed; make a new one to record more")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise UserError(f"step must be a whole number ≥ 0; got {quote(step)}")
        models = list(model) if isinstance(model, (list, tuple)) else [model]
        if not models:
            raise UserError("a snapshot needs at least one network")
        for network, m in enumerate(models):
            weights = conv_weights(m)
            names = [n for n, _ in weights]
            if self._layers is None:
                self._layers = names
            elif names != self._layers:
                raise UserError(f"network {network} has conv layers {quote(names)}, but this run records "
                                f"{quote(self._layers)}: every network and snapshot must have the same layers")
            for layer, (name, w) in enumerate(weights, start=1):
                self._entries[(int(step), network, layer)] = WeightEntry(network, layer, int(step), w, name)
        return self._write()

    def _summary(self) -> dict:
        steps = sorted({k[0] for k in self._entries})
        return {"snapshots": steps, "networks": len({k[1] for k in self._entries}),
                "layer_names": self._layers or [], "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _write(self) -> Path:
        ws = WeightSet([self._entries[k] for k in sorted(self._entries)],
                       {"source": "recorder", "status": self.info["status"]})
        path = ws.save(self.path)  # atomic (temporary file renamed over the old one)
        _write_json(self.path / RUN_FILE, {**self.info, **self._summary()})
        return path

    def callback(self, every: int = 100) -> "RecorderCallback":
        """An object ``cb(model, step)`` that snapshots when ``step % every == 0``."""
        return RecorderCallback(self, every)

    def close(self) -> None:
        """Mark the run complete (it keeps every snapshot).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.info["status"] = "complete"
        if self._entries:
            self._write()
        else:
            _write_json(self.path / RUN_FILE, {**self.info, **self._summary()})

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RecorderCallback:
    """Snapshot every ``every`` steps: call as ``cb(model, step)`` or ``cb.on_step(model, step)``."""

    def __init__(self, recorder: Recorder, every: int = 100) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UserError(f"every must be a whole number ≥ 1; got {quote(every)}")
        self.recorder, self.every = recorder, every

    def __call__(self, model: Any, step: int) -> Path | None:
        return self.recorder.snapshot(model, step) if step % self.every == 0 else None

    on_step = __call__
