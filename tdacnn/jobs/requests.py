"""What a user may ask of a job, validated before anything is queued.

The web process validates a training request here (no torch: this module imports
only the standard library), so a bad value is explained next to its control at
once; the job process turns the request into the trainer's own configuration.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from tdacnn.errors import UserError, quote

__all__ = ["TrainRequest", "DATASETS", "LIMITS", "parse_snapshots", "check_id", "ID_PATTERN"]

DATASETS = ("digits", "mnist", "cifar10")
#: Upper bounds that keep one job within reason on a shared server.
LIMITS = {"networks": 1000, "iterations": 1_000_000, "filters": 512, "snapshots": 50, "seed": 2**31 - 1}
#: A source/run/upload id: a safe name, never a path.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def check_id(value: Any, what: str = "id") -> str:
    """Return ``value`` if it is a safe single-component name, else raise UserError."""
    if not isinstance(value, str) or not ID_PATTERN.match(value) or ".." in value:
        raise UserError(f"{what} {quote(value)} is not a valid name (letters, digits, '.', '_', '-')")
    return value


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise UserError(f"{name} must be a whole number from {lo} to {hi}; got {quote(value)}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and len(value) <= 20 and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not lo <= value <= hi:
        raise UserError(f"{name} must be a whole number from {lo} to {hi}; got {quote(value)}")
    return value


def parse_snapshots(text: Any, iterations: int) -> tuple[int, ...]:
    """Parse ``"0, 100, 500"`` (or a list) into sorted distinct iterations ≤ ``iterations``.

    Empty means only the final weights.
    """
    if text is None or text == "":
        return (iterations,)
    if isinstance(text, str):
        parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    elif isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        raise UserError(f"snapshot iterations must be a list of whole numbers like '0, 100, 500'; got {quote(text)}")
    values = sorted({_int("a snapshot iteration", p, 0, iterations) for p in parts})
    if len(values) > LIMITS["snapshots"]:
        raise UserError(f"at most {LIMITS['snapshots']} snapshot iterations; got {len(values)}")
    return tuple(values)


@dataclass(frozen=True)
class TrainRequest:
    """A training run as asked for in the Jobs tab or the API.

    Parameters
    ----------
    dataset : {"digits", "mnist", "cifar10"}
    conv1, conv2 : int
        Filters of the two conv layers of the paper's small CNN.
    networks : int
        Independent networks trained at once (different seeds).
    iterations : int
        Training iterations (mini-batches) per network.
    snapshots : tuple of int
        Iterations at which the conv weights are saved (the last is always saved).
    seed : int
    data_root : str
        Server folder holding ``MNIST/raw`` or ``cifar-10-batches-py`` ("" for the default).
    download : bool
        Download MNIST/CIFAR-10 when they are not found under ``data_root``.
    """

    dataset: Literal["digits", "mnist", "cifar10"] = "digits"
    conv1: int = 64
    conv2: int = 32
    networks: int = 10
    iterations: int = 500
    snapshots: tuple[int, ...] = ()
    seed: int = 0
    data_root: str = ""
    download: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise UserError(f"dataset must be one of {', '.join(DATASETS)}; got {quote(self.dataset)}")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass normalisation
        set_("conv1", _int("conv1 (filters of layer 1)", self.conv1, 1, LIMITS["filters"]))
        set_("conv2", _int("conv2 (filters of layer 2)", self.conv2, 1, LIMITS["filters"]))
        set_("networks", _int("the number of networks", self.networks, 1, LIMITS["networks"]))
        set_("iterations", _int("the number of iterations", self.iterations, 1, LIMITS["iterations"]))
        set_("seed", _int("seed", self.seed, 0, LIMITS["seed"]))
        snaps = parse_snapshots(self.snapshots, self.iterations)
        if self.iterations not in snaps:
            snaps = tuple(sorted(set(snaps) | {self.iterations}))
        set_("snapshots", snaps)
        if not isinstance(self.data_root, str) or "\x00" in self.data_root or len(self.data_root) > 1000:
            raise UserError("the data folder must be a folder path on the server")
        if not isinstance(self.download, bool):
            raise UserError(f"download must be true or false; got {quote(self.download)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["snapshots"] = list(self.snapshots)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainRequest":
        if not isinstance(d, dict):
            raise UserError("a training request must be a mapping of settings")
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise UserError(f"unknown training settings: {', '.join(sorted(map(str, unknown)))}")
        return cls(**d)
