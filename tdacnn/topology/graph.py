"""`MapperGraph`: the typed, JSON-serialisable result of Mapper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MapperNode", "MapperEdge", "MapperGraph", "components", "component_lists"]


def components(n: int, pairs=None, adjacency=None) -> np.ndarray:
    """Connected components: the one routine tdacnn uses (``scipy.sparse.csgraph``).

    Parameters
    ----------
    n : int
        Number of nodes (0 .. n-1).
    pairs : sequence of (int, int) or ndarray of shape (m, 2), optional
        Undirected edges.
    adjacency : ndarray of bool, shape (n, n), optional
        A dense, symmetric adjacency instead of ``pairs`` (a clustering's neighbourhood
        graph).  It is searched breadth-first on its boolean rows, never turned into an
        edge list: on the dense neighbourhoods of DBSCAN clustering
        (``benchmarks/mapper.py``, 20,000 patches) scipy's sparse conversion made the
        clustering move 4× slower (1,037 ms against 253 ms).

    Returns
    -------
    ndarray of int64, shape (n,)
        Labels 0.. numbered in order of each component's smallest node.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if adjacency is not None:
        return _dense_components(np.asarray(adjacency, dtype=bool))
    e = np.asarray(pairs if pairs is not None else [], dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # scipy numbers components in order of their smallest node already; make that a guarantee
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[labels].astype(np.int64)


def _dense_components(adj: np.ndarray) -> np.ndarray:
    """Breadth-first search on boolean rows: O(n²) byte operations, no edge list."""
    n = len(adj)
    labels = np.full(n, -1, dtype=np.int64)
    todo = np.ones(n, dtype=bool)
    lab = 0
    while todo.any():
        seed = int(np.argmax(todo))
        comp = np.zeros(n, dtype=bool)
        comp[seed] = True
        frontier = np.array([seed])
        while len(frontier):
            reach = adj[frontier].any(axis=0) if len(frontier) > 1 else adj[frontier[0]]
            new = reach & ~comp
            comp |= new
            frontier = np.flatnonzero(new)
        labels[comp] = lab
        todo &= ~comp
        lab += 1
    return labels


def component_lists(ids, edges) -> list[list[int]]:
    """Components of a graph given by node ids and ``(id, id)`` edges: lists of node indices, largest first
    (ties: the one holding the smaller index first).  Edges naming unknown ids are ignored."""
    index = {n: i for i, n in enumerate(ids)}
    pairs = [(index[a], index[b]) for a, b in edges if a in index and b in index]
    labels = components(len(index), pairs)
    comps: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        comps.setdefault(int(c), []).append(i)
    return sorted(comps.values(), key=lambda c: (-len(c), c[0]))


@dataclass(frozen=True)
class MapperNode:
    """One cluster of one cover element.

    Attributes
    ----------
    id : str
        Stable within one graph, e.g. ``"c3_k0"`` (cube 3, cluster 0).
    members : ndarray of shape (size,)
        Indices into the density-filtered cloud (int64, sorted).
    mean_codensity : float
        Mean k-NN distance of the members (small = dense).
    mean_filter : ndarray of shape (kh, kw)
        Average of the members' normalised points, reshaped to the kernel.
    """

    id: str
    members: np.ndarray
    mean_codensity: float
    mean_filter: np.ndarray

    @property
    def size(self) -> int:
        return int(len(self.members))


@dataclass(frozen=True)
class MapperEdge:
    source: str
    target: str
    overlap: int  # number of shared members


@dataclass(frozen=True)
class MapperGraph:
    """Nodes, edges and the 2-simplices (triangles) of the Mapper nerve.

    ``triangles`` are triples of node ids whose three clusters share at least one
    point; with them the nerve is a 2-complex whose first Betti number ``betti1``
    says how many independent loops the graph really has (a 2-D cover fills a
    circle's band with triangles, which the plain ``cycle_rank`` overcounts).
    """

    nodes: tuple[MapperNode, ...]
    edges: tuple[MapperEdge, ...]
    triangles: tuple[tuple[str, str, str], ...] = ()
    meta: dict = field(default_factory=dict)

    # summary numbers are computed in tdacnn.topology.nerve (components, cycle_rank, betti1)

    def to_dict(self) -> dict:
        return {
            "nodes": [
                {"id": n.id, "members": n.members.tolist(), "size": n.size,
                 "mean_codensity": float(n.mean_codensity), "mean_filter": np.asarray(n.mean_filter).tolist()}
                for n in self.nodes
            ],
            "edges": [{"source": e.source, "target": e.target, "overlap": int(e.overlap)} for e in self.edges],
            "triangles": [list(t) for t in self.triangles],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "MapperGraph":
        nodes = tuple(
            MapperNode(n["id"], np.asarray(n["members"], dtype=np.int64), float(n["mean_codensity"]),
                       np.asarray(n["mean_filter"], dtype=np.float64))
            for n in d["nodes"]
        )
        edges = tuple(MapperEdge(e["source"], e["target"], int(e["overlap"])) for e in d["edges"])
        return cls(nodes, edges, tuple(tuple(t) for t in d.get("triangles", [])), d.get("meta", {}))
