"""The Explore controls: their defaults, parsing into stage parameters, and the URL.

One :class:`ExploreRequest` describes a view (source, cloud, density filter,
Mapper, and the persistence settings of the barcode beside the graph).
:func:`parse_request` turns raw control values (what Dash passes: numbers, None
for an empty or unparsable input box, strings) into a request, or raises
:class:`~tdacnn.errors.UserError` whose message names the control.
:func:`to_query` / :func:`from_query` carry the same values in a URL query
string so that a view can be shared and reloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

from tdacnn.errors import UserError, quote
from tdacnn.topology.defaults import AUTO_NAMES, DENSITY_NAMES
from tdacnn.topology.params import CHANNEL_MODES, CloudParams, DensityParams, MapperParams, PersistenceParams, \
    is_prime

__all__ = ["CONTROLS", "DEFAULTS", "AUTO_CONTROLS", "AUTO", "ExploreRequest", "parse_request", "to_query", "from_query", "ALL_LANDMARKS",
           "MAX_COEFF"]

_D, _M, _P = DensityParams(), MapperParams(), PersistenceParams()

#: Control names in the order the callbacks take them (also the URL keys).
CONTROLS = ("source", "layer", "iteration", "channels", "k", "p", "lens", "n_cubes", "overlap",
            "clusterer", "eps", "min_samples", "distance_cut", "n_perm", "maxdim", "coeff", "thresh")
#: The landmarks control's word for "every filtered point" (``n_perm=None``); an empty box means the same.
ALL_LANDMARKS = "all"
#: Largest coefficient prime offered: Z/p for small p is what anyone asks for (2 and 3 tell torsion apart).
MAX_COEFF = 97

#: Controls whose value comes from the data unless the user sets one (:mod:`tdacnn.topology.defaults`):
#: ``None`` (an empty box, or ``"auto"``) means "from the data".
AUTO_CONTROLS: tuple[str, ...] = AUTO_NAMES
#: The auto names the barcode depends on (it is computed on the density-filtered cloud, not the Mapper).
_DENSITY_AUTO = frozenset(DENSITY_NAMES)
#: The word a control (or the URL) may use for "from the data".
AUTO = "auto"

#: Default control values: ``None`` for every :data:`AUTO_CONTROLS` name (computed from the
#: cloud on view, one rule for the app, the CLI and the library), the stage parameters' own
#: defaults for the rest.
DEFAULTS: dict[str, Any] = {
    "source": "default", "layer": None, "iteration": None, "channels": "each",
    "k": None, "p": None, "lens": _M.lens, "n_cubes": None, "overlap": None,
    "clusterer": _M.clusterer, "eps": None, "min_samples": None, "distance_cut": None,
    # the barcode: PersistenceParams' own defaults; no threshold is an empty box (None), not inf
    "n_perm": _P.n_perm, "maxdim": _P.maxdim, "coeff": _P.coeff, "thresh": None,
}

_INTS = {"layer", "iteration", "k", "n_cubes", "min_samples"}
_FLOATS = {"p", "overlap", "eps", "distance_cut"}
#: Persistence controls: numbers in the URL, parsed apart (n_perm may be "all", thresh may be empty).
_PERSISTENCE_INTS = {"n_perm", "maxdim", "coeff"}
_LABELS = {"k": "k (neighbours)", "p": "p (percent kept)", "n_cubes": "intervals", "overlap": "overlap",
           "eps": "eps", "min_samples": "min samples", "distance_cut": "distance cut", "layer": "layer",
           "iteration": "iteration", "n_perm": "landmarks", "maxdim": "max dimension",
           "coeff": "coefficient prime p", "thresh": "threshold"}


@dataclass(frozen=True)
class ExploreRequest:
    """Everything that determines one Explore view.

    ``persistence`` drives only the barcode: :meth:`key` (the graph's key) leaves
    it out, :meth:`barcode_key` puts it in.  ``auto`` names the controls left to the
    data: their values in ``density``/``mapper`` are placeholders until
    :func:`tdacnn.app.services.resolve` computes them for the cloud on view.
    """

    source: str
    cloud: CloudParams
    density: DensityParams
    mapper: MapperParams
    persistence: PersistenceParams = field(default_factory=PersistenceParams)
    auto: frozenset = frozenset()

    def to_dict(self) -> dict:
        """JSON-safe (a Dash store): no threshold is ``None``, not ``inf``."""
        pers = self.persistence.to_dict()
        pers["thresh"] = None if math.isinf(pers["thresh"]) else pers["thresh"]
        return {"source": self.source, "cloud": self.cloud.to_dict(), "density": self.density.to_dict(),
                "mapper": self.mapper.to_dict(), "persistence": pers, "auto": sorted(self.auto)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ExploreRequest":
        """Inverse of :meth:`to_dict`; a dict without ``persistence`` (older views) gets the defaults."""
        pers = dict(d.get("persistence") or {})
        if pers.get("thresh", 0) is None:
            pers["thresh"] = math.inf
        return cls(str(d["source"]), CloudParams.from_dict(d["cloud"]), DensityParams.from_dict(d["density"]),
                   MapperParams.from_dict(d["mapper"]), PersistenceParams.from_dict(pers),
                   frozenset(str(a) for a in d.get("auto") or () if a in AUTO_CONTROLS))

    def controls(self) -> dict[str, Any]:
        """The control values that give this request (``None`` for the names left to the data)."""
        values = self._values()
        return {name: (None if name in self.auto else value) for name, value in values.items()}

    def _values(self) -> dict[str, Any]:
        return {"source": self.source, "layer": self.cloud.layer, "iteration": self.cloud.iteration,
                "channels": self.cloud.channels, "k": self.density.k, "p": self.density.p,
                **{name: getattr(self.mapper, name) for name in
                   ("lens", "n_cubes", "overlap", "clusterer", "eps", "min_samples", "distance_cut")},
                "n_perm": ALL_LANDMARKS if self.persistence.n_perm is None else self.persistence.n_perm,
                "maxdim": self.persistence.maxdim, "coeff": self.persistence.coeff,
                "thresh": None if math.isinf(self.persistence.thresh) else self.persistence.thresh}

    def _auto_key(self, names: frozenset | None = None) -> str:
        auto = self.auto if names is None else self.auto & names
        return f"/auto={','.join(sorted(auto))}" if auto else ""

    def key(self) -> str:
        """Key of the Mapper graph (and of what else depends only on the filtered cloud): no persistence."""
        return f"{self.source}/{self.cloud.key()}/{self.density.key()}/{self.mapper.key()}{self._auto_key()}"

    def barcode_key(self) -> str:
        """Key of the barcode: the filtered cloud and the persistence settings (not the Mapper)."""
        return f"{self.source}/{self.cloud.key()}/{self.density.key()}/{self.persistence.key()}{self._auto_key(_DENSITY_AUTO)}"

    def resolved_values(self) -> dict[str, Any]:
        """``{name: value}`` of the :data:`AUTO_CONTROLS` as this request holds them."""
        values = self._values()
        return {name: values[name] for name in AUTO_CONTROLS}


def _number(name: str, value: Any, integer: bool, optional: bool = False):
    label = _LABELS.get(name, name)
    if value is None or value == "":
        if optional:
            return None
        raise UserError(f"{label}: enter a number")
    if isinstance(value, bool):
        raise UserError(f"{label}: enter a number; got {quote(value)}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{label}: {quote(value)} is not a number") from None
    if not math.isfinite(x):
        raise UserError(f"{label}: enter a finite number; got {quote(value)}")
    if integer:
        if x != int(x):
            raise UserError(f"{label} must be a whole number; got {quote(value)}")
        return int(x)
    return x


def parse_request(values: Mapping[str, Any]) -> ExploreRequest:
    """Control values to an :class:`ExploreRequest`.

    Parameters
    ----------
    values : mapping of control name to raw value
        Missing names take :data:`DEFAULTS`.

    Raises
    ------
    UserError
        One sentence naming the control, its value and the allowed range.
    """
    v = {**DEFAULTS, **{k: val for k, val in values.items() if k in CONTROLS}}
    auto = frozenset(name for name in AUTO_CONTROLS if _is_auto(v[name]))
    num = {name: _number(name, v[name], name in _INTS, optional=name in ("layer", "iteration"))
           for name in (_INTS | _FLOATS) - auto}
    # placeholders for the names left to the data (services.resolve replaces them)
    num.update({name: _PLACEHOLDERS[name] for name in auto})
    channels = v["channels"]
    if isinstance(channels, str) and channels not in CHANNEL_MODES:
        try:
            channels = int(channels)
        except ValueError:
            raise UserError(f"channels must be one of {', '.join(CHANNEL_MODES)} or an input-channel number; "
                            f"got {quote(channels)}") from None
    if not v["source"]:
        raise UserError("choose a source")
    return ExploreRequest(
        str(v["source"]),
        CloudParams(num["layer"], num["iteration"], channels),
        DensityParams(num["k"], num["p"]),
        MapperParams(str(v["lens"]), num["n_cubes"], num["overlap"], str(v["clusterer"]), num["eps"],
                     num["min_samples"], num["distance_cut"]),
        _persistence(v),
        auto,
    )


#: Valid stand-ins for auto values until they are resolved against the data.
_PLACEHOLDERS = {"k": DensityParams().k, "p": DensityParams().p, "n_cubes": _M.n_cubes, "overlap": _M.overlap,
                 "eps": _M.eps, "min_samples": _M.min_samples, "distance_cut": _M.distance_cut}


def _is_auto(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO))


def _persistence(v: Mapping[str, Any]) -> PersistenceParams:
    """The persistence controls: landmarks (a number, or "all"/empty for every point), max dimension,
    coefficient prime, threshold (empty: none)."""
    raw = v["n_perm"]
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", ALL_LANDMARKS, "none")):
        n_perm = None
    else:
        n_perm = _number("n_perm", raw, integer=True)
        if n_perm < 2:
            raise UserError(f"landmarks must be a whole number ≥ 2, or {ALL_LANDMARKS!r} for every point; "
                            f"got {quote(raw)}")
    maxdim = _number("maxdim", v["maxdim"], integer=True)
    if maxdim not in (0, 1, 2):
        raise UserError(f"max dimension must be 0, 1 or 2; got {quote(v['maxdim'])}")
    coeff = _number("coeff", v["coeff"], integer=True)
    if coeff > MAX_COEFF or not is_prime(coeff):  # the bound first: no primality test of a huge number
        raise UserError(f"coefficient prime p must be a prime from 2 to {MAX_COEFF} (Z/p coefficients); "
                        f"got {quote(v['coeff'])}")
    thresh = _number("thresh", v["thresh"], integer=False, optional=True)
    if thresh is not None and thresh <= 0:
        raise UserError(f"threshold must be a positive distance (leave it empty for none); got {quote(v['thresh'])}")
    return PersistenceParams(maxdim=maxdim, n_perm=n_perm, thresh=math.inf if thresh is None else thresh,
                             coeff=coeff)


def to_query(request: ExploreRequest) -> str:
    """``?source=default&layer=1&k=100...``: the request's controls, defaults left out."""
    pairs = [(name, value) for name, value in request.controls().items()
             if value is not None and (name in ("source", "layer") or value != DEFAULTS.get(name))]
    return "?" + urlencode([(k, _fmt(v)) for k, v in pairs]) if pairs else ""


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return str(int(v)) if not isinstance(v, bool) else str(v)
    return str(v)


def from_query(search: str | None) -> dict[str, Any]:
    """Control values from a URL query string (unknown keys ignored; values as typed).

    Values are converted to numbers where the control is numeric; a value that
    does not parse is passed on as text, so the status line explains it.
    """
    out: dict[str, Any] = {}
    for key, raw in parse_qsl((search or "").lstrip("?"), keep_blank_values=False):
        if key not in CONTROLS:
            continue
        value: Any = raw
        if key in _INTS | _FLOATS | _PERSISTENCE_INTS | {"thresh"}:
            try:
                x = float(raw)
            except ValueError:
                x = math.nan
            if math.isfinite(x):  # "inf" and "nan" stay text: the status line explains them
                value = int(x) if key in _INTS | _PERSISTENCE_INTS and x == int(x) else x
        out[key] = value
    return out
