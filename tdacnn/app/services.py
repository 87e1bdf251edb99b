"""What the callbacks call: sources, the cached analysis, and the results of one view.

Everything here is plain Python (no Dash), so callbacks stay thin and tests can
call it directly.  The analysis is :class:`tdacnn.analysis.Analysis` on a
the one results store (:mod:`tdacnn.store`: results survive restarts); a
small in-process memo in front of it keeps the last graphs at hand for the
gallery, exports and stable layouts.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tdacnn import config
from tdacnn.app.background import background_failure, forget_failures, in_background
from tdacnn.app.controls import ExploreRequest
# the sources and what the selectors offer live in selectors.py; re-exported here for the callbacks
from tdacnn.app.selectors import (initial_layer, iteration_options, layer_options, layer_problem, layer_problems,
                                  list_sources, load_source, opened_sources, selector_choices, source_stamp)
from tdacnn.errors import UserError
from tdacnn.app.persistence_limits import MAX_PERSISTENCE_POINTS, check_persistence
from tdacnn.limits import cloud_memory
from tdacnn.topology.params import PersistenceParams, check_against_cloud
from tdacnn.weights import WeightSet

__all__ = ["GraphResult", "resolve", "list_sources", "load_source", "opened_sources", "initial_layer", "layer_options",
           "layer_problem", "iteration_options", "selector_choices", "source_stamp",
           "get_analysis", "compute_graph", "compute_barcode", "compute_angles", "compute_klein", "compute_field_barcodes",
           "node_members", "reset",
           "MAX_PERSISTENCE_POINTS", "check_persistence", "persistence_problem", "MAX_DRAWN_NODES", "check_drawable"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_analysis: dict[str, Any] = {}
_memo: OrderedDict[tuple, Any] = OrderedDict()
_key_locks: dict[tuple, threading.Lock] = {}
_MEMO_SIZE = 64


def reset() -> None:
    """Forget the analysis objects and memoised results (tests; a new TDACNN_HOME)."""
    from tdacnn.store import forget_stores

    with _lock:
        _analysis.clear()
        _memo.clear()
    forget_stores()
    forget_failures()


# ---- analysis --------------------------------------------------------------
def get_analysis():
    """The process's :class:`tdacnn.analysis.Analysis`, on the one results store (:mod:`tdacnn.store`)."""
    from tdacnn.analysis import Analysis
    from tdacnn.store import results_store

    path = str(config.cache_dir() / "results")
    with _lock:
        a = _analysis.get(path)
        if a is None:
            a = Analysis(store=results_store())
            _analysis[path] = a
        return a


def _memoised(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per key: concurrent callbacks asking for the same stage wait for one computation."""
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            if key in _memo:
                return _memo[key]
        value = make()
        with _lock:
            _memo[key] = value
            _key_locks.pop(key, None)
            while len(_memo) > _MEMO_SIZE:
                _memo.popitem(last=False)
    return value


def _cloud_params(ws: WeightSet, request: ExploreRequest):
    """The request's CloudParams with layer/iteration resolved against the weights."""
    layers = ws.layers()
    if not layers:
        raise UserError("this source holds no conv layers")
    layer = request.cloud.layer if request.cloud.layer is not None else initial_layer(request.source, ws)
    if layer not in layers:
        raise UserError(f"layer {layer} is not in this source; available layers: {layers}")
    its = ws.iterations(layer)
    it = request.cloud.iteration if request.cloud.iteration is not None else its[-1]
    if it not in its:
        raise UserError(f"iteration {it} was not saved for layer {layer}; available: {its}")
    problem = layer_problem(ws, layer, it)
    if problem is not None:
        name, other = ws.layer_names().get(layer), initial_layer(request.source, ws)
        hint = (f"choose another layer, e.g. layer {other}" if other not in layer_problems(ws)
                else "no layer of this source can be analysed")
        raise UserError(f"layer {layer}{f' ({name})' if name else ''} cannot be analysed: {problem}; {hint}")
    return replace(request.cloud, layer=layer, iteration=it)


@dataclass(frozen=True)
class GraphResult:
    """One Explore view, computed.

    Attributes
    ----------
    request : ExploreRequest
        The request asked (its persistence settings play no part in the graph).
    cloud : PointCloud
        The whole cloud of the chosen layer and iteration.
    dense : DenseCloud
        The density-filtered cloud (``dense.cloud``), its codensity and its
        indices into ``cloud`` (``dense.indices``).
    graph : MapperGraph
        Node members index ``dense.cloud``.
    summary : dict
        ``nodes, edges, components, cycle_rank, betti1``.
    resolved : dict
        ``{control: value}`` computed from the data for the controls the request
        left to it (``request.auto`` of the request asked); ``request`` holds them.
    """

    request: ExploreRequest
    cloud: Any
    dense: Any
    graph: Any
    summary: dict
    resolved: dict = field(default_factory=dict)

    @property
    def space(self) -> str:
        """Key of the index space of :meth:`members_space` (the whole cloud)."""
        return self.cloud.key()

    def members_space(self) -> np.ndarray:
        """Map from filtered-cloud indices to whole-cloud indices."""
        return np.asarray(self.dense.indices, dtype=np.int64)


def resolve(request: ExploreRequest) -> ExploreRequest:
    """The request with every control it left to the data (``request.auto``) computed for its cloud.

    One rule for the app, the CLI and the library: :meth:`tdacnn.analysis.Analysis.suggest`.
    Explicit values are kept.  The result has ``auto`` empty.

    Raises
    ------
    UserError
        Unknown source, missing layer/iteration, too few points ...
    """
    if not request.auto:
        return request

    def make():
        from tdacnn.topology.defaults import AUTO_NAMES

        ws = load_source(request.source)
        cparams = _cloud_params(ws, request)
        analysis = get_analysis()
        with cloud_memory(ws, cparams):  # refused with a sentence past TDACNN_MEMORY_LIMIT_MB
            cloud = analysis.cloud(ws, cparams)
        check_against_cloud(len(cloud))
        values = request.controls()
        fixed = {name: values[name] for name in AUTO_NAMES if name not in request.auto}
        return analysis.suggest(cloud, fixed, lens=request.mapper.lens, clusterer=request.mapper.clusterer)

    density, mapper = _memoised(("resolve", request.key()), make)
    return replace(request, density=density, mapper=mapper, auto=frozenset())


def _dense(request: ExploreRequest):
    request = resolve(request)

    def make():
        ws = load_source(request.source)
        cparams = _cloud_params(ws, request)
        analysis = get_analysis()
        with cloud_memory(ws, cparams):
            cloud = analysis.cloud(ws, cparams)
        check_against_cloud(len(cloud), request.density)
        return cloud, analysis.dense(cloud, request.density)

    return _memoised(("dense", request.source, request.cloud.key(), request.density.key()), make)


def compute_graph(request: ExploreRequest) -> GraphResult:
    """Cloud → density filter → Mapper graph for one request (each stage cached).

    Raises
    ------
    UserError
        Unknown source, missing layer/iteration, k too large for the cloud, ...
    """
    asked = request
    request = resolve(request)

    def make():
        from tdacnn.topology.mapper import graph_summary

        cloud, dense = _dense(request)
        graph = get_analysis().graph(dense, request.mapper)
        return GraphResult(request, cloud, dense, graph, graph_summary(graph))

    result = _memoised(("graph", request.key()), make)
    values = request.resolved_values()
    resolved = {name: values[name] for name in sorted(asked.auto)}
    # the key leaves out the persistence settings: the result names the request asked (resolved), not the first one
    if result.request != request or result.resolved != resolved:
        result = replace(result, request=request, resolved=resolved)
    return result


#: The most Mapper nodes the app draws (Explore, Dynamics, Depth).  A tiny distance cut on 10,000
#: filtered points gave 21,028 nodes in 10,000 components: 16 MB of elements, a browser busy for
#: seconds, and a drawing that fits no canvas; 1,250 nodes still draw (unreadably small) in 9 s.
MAX_DRAWN_NODES = 2000


def check_drawable(result: GraphResult) -> None:
    """Refuse to draw a graph of more than :data:`MAX_DRAWN_NODES` nodes.

    Raises
    ------
    UserError
        One sentence: how many nodes and components, the limit, and what to change.
    """
    n, comps = result.summary.get("nodes", 0), result.summary.get("components", 0)
    if n <= MAX_DRAWN_NODES:
        return
    mapper = result.request.mapper
    scale = (f"raise eps (now {mapper.eps:.3g})" if mapper.clusterer == "dbscan"
             else f"raise the distance cut (now {mapper.distance_cut:.3g})")
    raise UserError(f"this graph has {n:,} nodes in {comps:,} components, too many to draw (at most "
                    f"{MAX_DRAWN_NODES:,}): {scale}, use fewer intervals (now {mapper.n_cubes}) or keep fewer points")


def persistence_problem(request: ExploreRequest) -> str:
    """Why the request's barcode cannot be computed (:func:`check_persistence`), or ``""``.

    Only the persistence settings are judged: other problems (source, k) are the graph's to report.
    """
    try:
        _, dense = _dense(request)
    except (UserError, ValueError):
        return ""
    try:
        check_persistence(len(dense.cloud), request.persistence)
    except UserError as exc:
        return str(exc)
    return ""


def compute_barcode(request: ExploreRequest, params: PersistenceParams | None = None, wait: bool = True):
    """The barcode of the request's density-filtered cloud (cached).

    ``params`` defaults to ``request.persistence``; the cache key holds the filtered
    cloud and ``params``, not the Mapper.  With ``wait=False`` (the page's panels) a
    barcode whose test against random filters is not computed yet comes back at once
    without it (:attr:`~tdacnn.topology.barcode.Barcode.pending`) while the test runs
    in the background (:func:`tdacnn.app.background.in_background`); asking again later gives the verdict,
    or a :class:`UserError` saying why the test failed.  The null's clouds are computed in a child
    process (:mod:`tdacnn.topology.null_process`).

    Raises
    ------
    UserError
        Too many points for the app (:func:`check_persistence`), or fewer than 2.
    """
    params = params or request.persistence
    request = resolve(request)
    _, dense = _dense(request)
    check_persistence(len(dense.cloud), params)
    key = ("barcode", request.source, request.cloud.key(), request.density.key(), params.key())
    if not wait:
        with _lock:
            done = _memo.get(key)
        if done is not None:
            return done
        bars = get_analysis().barcode(dense, params, wait=False)
        if bars.pending:
            failed = background_failure(key)
            if failed is not None:
                raise UserError(f"the test of these bars against random filters failed: {failed}. "
                                f"Restart the app to try again.")
            in_background(key, lambda: _memoised(key, lambda: _barcode(dense, params)))
            return bars
    return _memoised(key, lambda: _barcode(dense, params))


def _barcode(dense, params: PersistenceParams):
    # the null's clouds are computed in a child process: the server keeps its GIL and survives a crash of ripser
    from tdacnn.topology.null_process import null_lengths_in_child

    return get_analysis().barcode(dense, params, null_in=null_lengths_in_child)


def compute_angles(request: ExploreRequest, dense_only: bool = True) -> np.ndarray:
    """Angles on the primary circle of the filtered (or whole) cloud, radians in [0, 2π)."""
    from tdacnn.topology.orientation import orientation

    request = resolve(request)
    cloud, dense = _dense(request)
    pts = dense.cloud.points if dense_only else cloud.points
    if pts.shape[1] != 9:
        return np.zeros(0)
    return _memoised(("angles", request.key(), dense_only), lambda: orientation(pts)[0])


def compute_klein(request: ExploreRequest):
    """Klein-bottle coordinates of the density-filtered cloud (cached) and its circle fractions.

    The filtered cloud has at most ``DensityParams.max_points`` points (a deep layer is sampled before
    the density filter): 20,000 points take about 0.3 s.

    Returns
    -------
    coords : KleinCoordinates
        Arrays of shape (n,) over the filtered cloud (:mod:`tdacnn.topology.klein`).
    fractions : dict
        ``primary, secondary, other, median_distance`` (:func:`~tdacnn.topology.klein.circle_fractions`).

    Raises
    ------
    UserError
        The filters are not 3×3, or the graph's own problems (source, layer, k).
    """
    from tdacnn.topology.klein import KLEIN_VERSION, circle_fractions, klein_coordinates

    request = resolve(request)
    _, dense = _dense(request)
    pts = dense.cloud.points
    if pts.shape[1] != 9:
        raise UserError(f"the Klein bottle is a model of 3×3 patches; these filters are "
                        f"{'×'.join(map(str, dense.cloud.kernel_shape))}")
    coords = _memoised(("klein", KLEIN_VERSION, request.source, request.cloud.key(), request.density.key()),
                       lambda: klein_coordinates(pts))
    return coords, circle_fractions(coords)


def compute_field_barcodes(request: ExploreRequest, fields: tuple[int, ...] = (2, 3), wait: bool = True) -> dict:
    """The filtered cloud's barcode over each field Z/p of ``fields`` (cached, as :func:`compute_barcode`).

    The request's persistence settings with the field replaced (and at least H1: the fields differ there
    on a Klein bottle); the barcode over the request's own field is the one already drawn.

    Returns
    -------
    dict of int to Barcode

    Raises
    ------
    UserError
        As :func:`compute_barcode` (too many points for the app).
    """
    base = replace(request.persistence, maxdim=max(1, request.persistence.maxdim))
    return {p: compute_barcode(request, replace(base, coeff=p), wait=wait) for p in fields}


def node_members(result: GraphResult, node_ids: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Union of the members of some nodes: (filters (n, kh, kw), provenance arrays)."""
    by_id = {n.id: n for n in result.graph.nodes}
    missing = [i for i in node_ids if i not in by_id]
    if missing:
        raise UserError(f"node {missing[0]!r} is not in the current graph (it changed); click again")
    if not node_ids:
        return np.zeros((0, *result.dense.cloud.kernel_shape)), {}
    idx = np.unique(np.concatenate([by_id[i].members for i in node_ids]))
    sub = result.dense.cloud.subset(idx)
    return sub.filters(), sub.provenance


def cache_path() -> Path:
    return config.cache_dir() / "results"
