"""`MapperGraph`: the typed, JSON-serialisable result of Mapper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MapperNode", "MapperEdge", "MapperGraph"]


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
