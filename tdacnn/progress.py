"""The one progress record: what training, every job and every download report, and how it is shown.

A long operation reports :class:`Progress` records (frozen, JSON-able) to a
callback ``progress(p: Progress) -> None``.  Who reads them:

- the command line, through :class:`TqdmBar` (a ``tqdm`` bar on stderr, lines in a log);
- a job's record (``Job.report`` holds :meth:`Progress.to_dict`), which the Jobs
  tab and ``/api/jobs`` read back with :meth:`Progress.from_dict`;
- the reproduction's log lines (:meth:`Progress.line`).

The estimated time left has one rule, :class:`Stopwatch`: the rate measured since
the first unit of work was reported (start-up left out: counted in, the first
reports of a training run gave ETAs of hours), once that has run for a second;
unknown (``None``) before.

Example
-------
>>> watch = Stopwatch()
>>> p = watch.record(done=5, total=20, unit="it", text="iteration 5 of 20")
>>> p.fraction
0.25
>>> Progress.from_dict(p.to_dict()) == p
True
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TextIO

__all__ = ["ETA_AFTER_S", "Progress", "ProgressFn", "Stopwatch", "TqdmBar", "format_eta"]

#: Seconds of measured work before an ETA is given (before that the rate is noise).
ETA_AFTER_S = 1.0


@dataclass(frozen=True)
class Progress:
    """One progress report of a long operation.

    Attributes
    ----------
    done, total : int
        Units of work done and to do (``total`` 0: unknown, e.g. a download without a length).
        Training counts iterations per network (the mean over the networks), a
        download bytes, a job with stages percent.
    unit : str
        What ``done`` counts: ``"it"`` (iterations), ``"B"`` (bytes), ``"%"`` ...
    text : str
        One line for a person, complete on its own (the job's status line).
    elapsed_s : float
        Seconds since the operation started.
    eta_s : float or None
        Seconds left by :class:`Stopwatch`'s rule; None while unknown.
    networks, networks_done : int or None
        Networks being trained and those finished (training only).
    loss, accuracy : float or None
        Mean training loss and minibatch accuracy in [0, 1] over the networks (training only).
    """

    done: int = 0
    total: int = 0
    unit: str = "it"
    text: str = ""
    elapsed_s: float = 0.0
    eta_s: float | None = None
    networks: int | None = None
    networks_done: int | None = None
    loss: float | None = None
    accuracy: float | None = None

    @classmethod
    def at(cls, fraction: float, text: str, **fields: Any) -> Progress:
        """A report of a job that knows only how far it is (``fraction`` in [0, 1]), counted in percent."""
        percent = int(round(100 * min(max(float(fraction), 0.0), 1.0)))
        return cls(done=percent, total=100, unit="%", text=text, **fields)

    @property
    def fraction(self) -> float:
        """``done / total`` clipped to [0, 1] (0 when the total is unknown)."""
        if self.total <= 0:
            return 0.0
        return min(max(self.done / self.total, 0.0), 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able values, with ``fraction`` added (ignored by :meth:`from_dict`)."""
        return {**dataclasses.asdict(self), "fraction": self.fraction}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Progress:
        """The record :meth:`to_dict` wrote (unknown keys ignored; missing or empty: nothing done)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def replace(self, **fields: Any) -> Progress:
        """A copy with some fields changed (e.g. a job adding its context to ``text``)."""
        return dataclasses.replace(self, **fields)

    def line(self) -> str:
        """A default one-line description, e.g.
        ``iteration 5 of 20 (2 networks, 1 finished), 4 s so far, ETA 12 s, loss 0.123, accuracy 62%``."""
        what = {"it": "iteration", "B": "bytes"}.get(self.unit)
        text = (f"{what} {self.done} of {self.total}" if what and self.total
                else f"{100 * self.fraction:.0f}%")
        if self.networks:
            text += f" ({self.networks} networks" + (f", {self.networks_done} finished"
                                                     if self.networks_done else "") + ")"
        if self.elapsed_s >= 1.0:
            text += f", {format_eta(self.elapsed_s)} so far"
        if self.fraction < 1.0:
            text += f", ETA {format_eta(self.eta_s)}"
        if self.loss is not None:
            text += f", loss {self.loss:.3f}"
        if self.accuracy is not None:
            text += f", accuracy {100 * self.accuracy:.0f}%"
        return text


ProgressFn = Callable[[Progress], None]


def format_eta(seconds: float | None) -> str:
    """``"?"``, ``"42 s"`` or ``"3 min 05 s"``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Stopwatch:
    """Elapsed time and the one ETA rule for an operation that reports ``done`` units of work.

    The rate is measured from the first report on (so the start-up before the
    first unit of work, e.g. starting worker processes, is left out), and an ETA
    is given only once that has run for :data:`ETA_AFTER_S` seconds.  Uses
    ``time.monotonic``.
    """

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.first: tuple[float, float] | None = None  # (time, done) of the first report

    def elapsed(self) -> float:
        """Seconds since the stopwatch was made."""
        return time.monotonic() - self.t0

    def mark(self, done: float) -> None:
        """Note a report of ``done`` units (the first one starts the rate measurement)."""
        if self.first is None:
            self.first = (time.monotonic(), float(done))

    def rate(self, done: float, settle_s: float = 0.0) -> float | None:
        """Units per second since the first report, or None (no report yet, none since, or under ``settle_s``)."""
        if self.first is None:
            return None
        seconds = time.monotonic() - self.first[0]
        units = float(done) - self.first[1]
        return units / seconds if seconds > 0 and seconds >= settle_s and units > 0 else None

    def eta(self, done: float, total: float) -> float | None:
        """Seconds left to reach ``total``: by the rate once it has run :data:`ETA_AFTER_S`, else None."""
        rate = self.rate(done, ETA_AFTER_S)
        return max(float(total) - float(done), 0.0) / rate if rate else None

    def record(self, done: int, total: int, unit: str = "it", text: str = "", **fields: Any) -> Progress:
        """Mark ``done`` and return the :class:`Progress` with this stopwatch's elapsed time and ETA."""
        self.mark(done)
        return Progress(done=int(done), total=int(total), unit=unit, text=text, elapsed_s=self.elapsed(),
                        eta_s=self.eta(done, total), **fields)


class TqdmBar:
    """Draws :class:`Progress` records on a stream (a callable to pass as ``progress=``).

    On a terminal it is a ``tqdm`` bar: ``done/total unit``, the elapsed time, the
    networks, loss, accuracy and the record's own ETA (:class:`Stopwatch`'s rule,
    not tqdm's).  Elsewhere (a log file, a pipe) carriage returns would make a mess,
    so it writes the record's ``text`` as a line at the first report, then every
    ``every_s`` seconds, and at the end.

    Parameters
    ----------
    file : text stream, optional
        Where to draw (default ``sys.stderr``).
    mode : {"auto", "bar", "lines", "off"}
        ``auto`` (default): ``bar`` when ``file`` is a terminal, else ``lines``.
    desc : str
        Put before the bar.
    every_s : float
        Seconds between two lines in ``lines`` mode.
    """

    def __init__(self, file: TextIO | None = None, mode: Literal["auto", "bar", "lines", "off"] = "auto",
                 desc: str = "", every_s: float = 10.0) -> None:
        if mode not in ("auto", "bar", "lines", "off"):
            raise ValueError(f"mode must be auto, bar, lines or off; got {mode!r}")
        self.file = file if file is not None else sys.stderr
        self.mode = ("bar" if _is_tty(self.file) else "lines") if mode == "auto" else mode
        self.desc, self.every_s = desc, every_s
        self.bar = None
        self.last_line: float | None = None
        self.ended = False

    def __call__(self, p: Progress) -> None:
        if self.mode == "bar":
            self._draw(p)
        elif self.mode == "lines":
            self._write(p)

    def _write(self, p: Progress) -> None:
        now = time.monotonic()
        end = p.total > 0 and p.done >= p.total
        if (end and not self.ended) or self.last_line is None or now - self.last_line >= self.every_s:
            self.file.write(f"{self.desc}{p.text or p.line()}\n")
            self.file.flush()
            self.last_line, self.ended = now, end

    def _draw(self, p: Progress) -> None:
        if self.bar is None or self.bar.total != (p.total or None):
            self._open(p)
        postfix = {}
        if p.networks:
            postfix["nets"] = f"{p.networks_done or 0}/{p.networks}"
        if p.loss is not None:
            postfix["loss"] = f"{p.loss:.3f}"
        if p.accuracy is not None:
            postfix["acc"] = f"{100 * p.accuracy:.0f}%"
        postfix["eta"] = format_eta(p.eta_s) if p.fraction < 1.0 else "0 s"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(p.done - self.bar.n)  # redraws at most every ``mininterval``

    def _open(self, p: Progress) -> None:
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(total=p.total or None, unit=p.unit, desc=self.desc or None, file=self.file,
                        dynamic_ncols=True, leave=True, mininterval=0.25,
                        unit_scale=p.unit == "B", unit_divisor=1024 if p.unit == "B" else 1000,
                        bar_format="{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} "
                                   "[{elapsed}{postfix}]" if p.total else None)

    def close(self) -> None:
        """End the bar's line (call once the operation ended, also on error)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> TqdmBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
