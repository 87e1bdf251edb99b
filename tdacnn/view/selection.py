"""A set of Mapper nodes as one set of filters: its summary, and the nodes a search finds.

:func:`summarize` turns the union of some nodes' members (filters and their
provenance, as :func:`tdacnn.app.services.node_members` returns them) into what
the gallery shows: counts by network, iteration and channel, the mean filter and
the members' angles on the primary circle.  :func:`nodes_holding` finds the nodes
with a member from a given network (or filter: network and channel), for the
highlight search.  :func:`parse_selection` reads the URL's ``sel`` value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from tdacnn.topology.graph import MapperGraph

__all__ = ["COUNT_FIELDS", "SelectionSummary", "summarize", "provenance_lines", "nodes_holding", "matching",
           "describe_search", "parse_selection", "format_selection"]

#: Provenance fields counted in a selection, with their words.
COUNT_FIELDS = {"network": "network", "iteration": "iteration", "out_channel": "output channel",
                "in_channel": "input channel"}
_NODE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class SelectionSummary:
    """The union of some nodes' members.

    Attributes
    ----------
    node_ids : tuple of str
    n_filters : int
        Distinct filters in the union.
    n_memberships : int
        Sum of the nodes' sizes (a filter in two nodes counts twice): ``n_memberships -
        n_filters`` members are shared between the selected nodes.
    mean_filter : ndarray of shape (kh, kw)
        Mean of the union's (normalised) filters.
    counts : dict of str to list of (int, int)
        For each field of :data:`COUNT_FIELDS` with a known value: (value, filters)
        pairs, sorted by value; each field's counts add up to ``n_filters``.
    angles : ndarray of shape (n_filters,), optional
        Angles on the primary circle (3×3 filters only).
    """

    node_ids: tuple[str, ...]
    n_filters: int
    n_memberships: int
    mean_filter: np.ndarray
    counts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    angles: np.ndarray | None = None


def summarize(filters: np.ndarray, provenance: Mapping[str, np.ndarray], node_ids: Sequence[str] = (),
              n_memberships: int | None = None) -> SelectionSummary:
    """Summary of the union of some nodes' members.

    Parameters
    ----------
    filters : ndarray of shape (n, kh, kw)
        The union's filters, each once.
    provenance : dict of str to ndarray of shape (n,)
    node_ids : sequence of str
        The selected nodes.
    n_memberships : int, optional
        Sum of the nodes' sizes; ``n`` when not given.

    Returns
    -------
    SelectionSummary
    """
    filters = np.asarray(filters, dtype=np.float64)
    n = len(filters)
    counts = {}
    for name in COUNT_FIELDS:
        v = np.asarray(provenance.get(name, np.full(n, -1)))
        known = v[v >= 0]
        if len(known) == 0:
            continue
        vals, cnt = np.unique(known, return_counts=True)
        unknown = n - len(known)
        pairs = [(int(a), int(c)) for a, c in zip(vals, cnt)]
        counts[name] = pairs + ([(-1, unknown)] if unknown else [])
    mean = filters.mean(axis=0) if n else np.zeros(filters.shape[1:] or (3, 3))
    angles = None
    if n and filters.shape[1:] == (3, 3):
        from tdacnn.topology.orientation import orientation

        angles = orientation(filters.reshape(n, 9))[0]
    return SelectionSummary(tuple(node_ids), n, n if n_memberships is None else int(n_memberships), mean, counts,
                            angles)


def provenance_lines(prov: Mapping[str, np.ndarray]) -> list[str]:
    """Short sentences: how many networks, which layers, iterations and channels."""
    if not prov or len(prov.get("network", [])) == 0:
        return []

    def values(name):
        v = np.unique(prov[name])
        return v[v >= 0]

    def listing(v, limit=8):
        items = ", ".join(str(int(x)) for x in v[:limit])
        return items + (f", … ({len(v)} in all)" if len(v) > limit else "")

    nets = values("network")
    out = [f"from {len(nets)} network{'s' if len(nets) != 1 else ''}: {listing(nets)}"]
    for name, word in (("layer", "layer"), ("iteration", "iteration"), ("out_channel", "output channel"),
                       ("in_channel", "input channel")):
        v = values(name)
        if len(v):
            out.append(f"{word}{'s' if len(v) != 1 else ''} {listing(v)}")
    return out


def nodes_holding(graph: MapperGraph, provenance: Mapping[str, np.ndarray],
                  criteria: Mapping[str, int]) -> tuple[list[str], int]:
    """Nodes with at least one member matching every criterion.

    Parameters
    ----------
    graph : MapperGraph
        Members index the arrays of ``provenance``.
    provenance : dict of str to ndarray of shape (m,)
    criteria : dict of str to int
        E.g. ``{"network": 3}`` or ``{"network": 3, "out_channel": 5}`` (a filter).

    Returns
    -------
    node_ids : list of str
        In graph order.
    n_points : int
        Points of the graph's cloud that match (in a node or not).
    """
    if not criteria:
        return [], 0
    match = matching(provenance, criteria)
    ids = [n.id for n in graph.nodes if match[n.members].any()]
    return ids, int(match.sum())


def matching(provenance: Mapping[str, np.ndarray], criteria: Mapping[str, int]) -> np.ndarray:
    """Boolean mask of shape (m,): the points whose provenance matches every criterion.

    Raises
    ------
    ValueError
        A criterion names no provenance field.
    """
    m = len(next(iter(provenance.values()))) if provenance else 0
    match = np.ones(m, dtype=bool)
    for name, value in criteria.items():
        if name not in provenance:
            raise ValueError(f"unknown provenance field {name!r}")
        match &= np.asarray(provenance[name]) == int(value)
    return match


def describe_search(criteria: Mapping[str, int], node_ids: Sequence[str], n_points: int, n_nodes: int,
                    n_in_cloud: int | None = None) -> str:
    """One sentence on a search: ``"network 3: 12 filters kept, in 5 of 34 nodes"``."""
    what = ", ".join(f"{COUNT_FIELDS.get(k, k)} {v}" for k, v in criteria.items())
    if n_points == 0:
        dropped = f" (it has {n_in_cloud:,} before the density filter)" if n_in_cloud else ""
        return f"{what}: no filter among the densest kept{dropped}"
    kept = f"{n_points:,} filter{'s' if n_points != 1 else ''} kept"
    return f"{what}: {kept}, in {len(node_ids)} of {n_nodes} nodes"


def parse_selection(text: str | None) -> list[str]:
    """Node ids from a URL's ``sel`` value (comma-separated); malformed ids are left out."""
    if not text:
        return []
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if part and _NODE_ID.match(part) and part not in out:
            out.append(part)
    return out


def format_selection(node_ids: Sequence[str]) -> str:
    """The ``sel`` value of some node ids (sorted, comma-separated)."""
    return ",".join(sorted(set(node_ids)))
