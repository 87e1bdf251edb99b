"""`WeightSet`: convolution weights with provenance, the common currency of tdacnn.

A training run, a pool of checkpoints, or a filter file all become a `WeightSet`:
one 4-D weight tensor of shape (out, in, kh, kw) per (network, layer, iteration),
held as numpy arrays so that the topology layer never needs torch.

Layers are numbered from 1 in network order (conv layers only); iteration is the
training step at which the snapshot was taken (-1 when unknown, e.g. a checkpoint
of unknown age).  Saved as one ``.npz`` holding the arrays and a JSON header,
uncompressed: trained float weights hardly compress (a VGG16 conv stack: 54 MB
compressed against 59 MB), and inflating them cost seconds on every cold load;
loading reads either form and never unpickles anything (``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import json
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["WeightEntry", "WeightSet", "WeightSetError", "RUN_WEIGHTS_FILE"]

#: Name of the weights file inside a training-run folder.
RUN_WEIGHTS_FILE = "weights.npz"

_FORMAT = "tdacnn-weightset/1"


class WeightSetError(ValueError):
    """A weight file or weight set that cannot be used; the message says why."""


@dataclass(frozen=True)
class WeightEntry:
    """One conv weight tensor and where it came from.

    Attributes
    ----------
    network : int
        Index of the network in its ensemble (or of the checkpoint in a pool).
    layer : int
        Conv layer number, from 1 in network order.
    iteration : int
        Training iteration of the snapshot; -1 when unknown.
    weight : ndarray of shape (out, in, kh, kw)
    layer_name : str
        Name in the source (e.g. ``"features.0.weight"``); informational.
    """

    network: int
    layer: int
    iteration: int
    weight: np.ndarray
    layer_name: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.weight)
        if w.ndim != 4:
            raise WeightSetError(
                f"a conv weight must have 4 dimensions (out, in, kh, kw); got shape {tuple(w.shape)}"
            )
        if not np.all(np.isfinite(w)):
            raise WeightSetError(
                f"weight of network {self.network}, layer {self.layer}, iteration {self.iteration} "
                "contains NaN or infinite values"
            )
        object.__setattr__(self, "weight", w)

    def digest(self) -> str:
        """Content hash of this entry (provenance, shape, dtype, values); computed once."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            h = hashlib.sha256()
            h.update(f"{self.network}/{self.layer}/{self.iteration}/{self.weight.shape}/{self.weight.dtype}".encode())
            h.update(np.ascontiguousarray(self.weight).tobytes())
            cached = h.hexdigest()
            self.__dict__["_digest"] = cached  # frozen dataclass: bypass __setattr__
        return cached


@dataclass
class WeightSet:
    """A collection of conv weights with provenance.

    Parameters
    ----------
    entries : list of WeightEntry
    meta : dict
        JSON-serialisable description (architecture config, dataset, recipe ...).
    """

    entries: list[WeightEntry] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- queries -------------------------------------------------------
    def layers(self) -> list[int]:
        """Sorted conv layer numbers present."""
        return sorted({e.layer for e in self.entries})

    def iterations(self, layer: int | None = None) -> list[int]:
        """Sorted iterations present (for one layer if given)."""
        return sorted({e.iteration for e in self.entries if layer is None or e.layer == layer})

    def networks(self) -> list[int]:
        return sorted({e.network for e in self.entries})

    def layer_names(self) -> dict[int, str]:
        """Layer number -> its name in the source (first seen)."""
        names: dict[int, str] = {}
        for e in self.entries:
            names.setdefault(e.layer, e.layer_name)
        return names

    def select(self, layer: int, iteration: int | None = None) -> list[WeightEntry]:
        """Entries of one layer at one iteration (the last saved one when None).

        Raises
        ------
        WeightSetError
            If the layer or the iteration is not present; the message lists what is.
        """
        if layer not in self.layers():
            raise WeightSetError(f"layer {layer} is not in this weight set; available layers: {self.layers()}")
        its = self.iterations(layer)
        if iteration is None:
            iteration = its[-1]
        if iteration not in its:
            raise WeightSetError(
                f"iteration {iteration} was not saved for layer {layer}; available iterations: {its}"
            )
        return [e for e in self.entries if e.layer == layer and e.iteration == iteration]

    def __len__(self) -> int:
        return len(self.entries)

    # ---- combination ---------------------------------------------------
    @classmethod
    def pool(cls, sets: Sequence["WeightSet"], renumber: bool = True) -> "WeightSet":
        """Pool several weight sets into one (e.g. worker shards, several checkpoints).

        With ``renumber`` the networks of each set are shifted so that ids stay distinct.
        """
        entries: list[WeightEntry] = []
        offset = 0
        for ws in sets:
            nets = ws.networks()
            remap = {n: (offset + i if renumber else n) for i, n in enumerate(nets)}
            entries.extend(
                WeightEntry(remap[e.network], e.layer, e.iteration, e.weight, e.layer_name) for e in ws.entries
            )
            offset += len(nets)
        meta = {"pooled_from": [ws.meta for ws in sets]}
        return cls(entries, meta)

    # ---- identity ------------------------------------------------------
    def key(self, layer: int | None = None, iteration: int | None = None) -> str:
        """Content hash: equal weights and provenance give equal keys.

        With ``layer``, the hash of :meth:`select` ``(layer, iteration)`` only: what one
        layer's point cloud depends on (hashing a deep network's other layers would cost
        more than the cloud itself).  Each entry is hashed once (:meth:`WeightEntry.digest`).
        """
        entries = self.entries if layer is None else self.select(layer, iteration)
        h = hashlib.sha256()
        for e in sorted(entries, key=lambda e: (e.layer, e.iteration, e.network)):
            h.update(e.digest().encode())
        return h.hexdigest()[:24]

    # ---- persistence ---------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (a ``.npz`` file, or a run folder that gets ``weights.npz``)."""
        path = Path(path)
        if path.suffix != ".npz":
            path.mkdir(parents=True, exist_ok=True)
            path = path / RUN_WEIGHTS_FILE
        arrays: dict[str, np.ndarray] = {}
        index = []
        for i, e in enumerate(self.entries):
            arrays[f"w{i}"] = e.weight
            index.append([e.network, e.layer, e.iteration, e.layer_name])
        header = {"format": _FORMAT, "index": index, "meta": self.meta}
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # atomic: a reader never sees half a file
        return path

    @classmethod
    def load(cls, path: str | Path) -> "WeightSet":
        """Read a weight set saved by :meth:`save` (a ``.npz`` or a run folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / RUN_WEIGHTS_FILE
        if not path.is_file():
            raise WeightSetError(f"no weight set found at {path}")
        _check_budget(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "header" not in z.files:
                    raise WeightSetError(f"{path.name} is not a tdacnn weight set (no header)")
                header = json.loads(bytes(z["header"]).decode())
                if header.get("format") != _FORMAT:
                    raise WeightSetError(f"{path.name}: unknown weight-set format {header.get('format')!r}")
                entries = [
                    WeightEntry(int(n), int(l), int(it), z[f"w{i}"], str(name))
                    for i, (n, l, it, name) in enumerate(header["index"])
                ]
        except WeightSetError:
            raise
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError, zlib.error,
                NotImplementedError, RuntimeError, tokenize.TokenError) as exc:  # what zipfile/zlib/numpy raise on damaged bytes
            raise WeightSetError(f"{path.name} is not a readable weight set: {exc}") from exc
        return cls(entries, header.get("meta", {}))

    @classmethod
    def from_arrays(
        cls, weights: Iterable[np.ndarray], layer: int = 1, iteration: int = -1, layer_name: str = ""
    ) -> "WeightSet":
        """One entry per array, networks numbered 0.. (for filter files and tests)."""
        return cls([WeightEntry(i, layer, iteration, np.asarray(w), layer_name) for i, w in enumerate(weights)])


def _check_budget(path: Path) -> None:
    """Refuse a weight-set file whose arrays add up to more than :func:`tdacnn.limits.file_budget`
    (all of them are read), before reading any of them.

    Raises
    ------
    WeightSetError
    """
    from tdacnn.errors import UserError
    from tdacnn.limits import check_archive, check_file_read

    try:
        with zipfile.ZipFile(path) as zf:
            check_archive(path, zf)
            check_file_read(path, sum(info.file_size for info in zf.infolist()), "holds arrays of")
    except UserError as exc:
        raise WeightSetError(str(exc)) from None
    except (OSError, ValueError, zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
        raise WeightSetError(f"{path.name} is not a readable weight set: {exc}") from exc
