"""Node positions for Mapper graphs: a fresh layout, and positions carried over.

Fresh layout: per connected component, classical MDS of the graph distances
refined by stress majorization (Gansner, Koren & North 2004) — a cycle of Mapper
nodes comes out as a round circle, which force layouts tend to crumple
(:mod:`tdacnn.view.stress`).  The components are then packed in rows, largest
first.

Nodes never cover each other: no two centres closer than :data:`MIN_DISTANCE`
(:func:`spread_out`).

Stable layout: when a slider moves, a node of the new graph whose members were in
nodes of the previous graph takes the member-weighted mean of their positions
(:func:`carry_by_members`); when the members are not comparable (another cloud)
the positions of the most similar previous mean filters can be used
(:func:`carry_by_similarity`; the app does not: another cloud is drawn afresh).  Only the nodes that could not be carried get fresh
places, near their placed neighbours (:func:`place`).

All coordinates are Cytoscape model pixels.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tdacnn.view.stress import spread_out, stress_layout

__all__ = ["EDGE_LENGTH", "MIN_DISTANCE", "fresh_layout", "spread_out", "carry_by_members", "carry_by_similarity",
           "place"]

#: Target length of an edge, in pixels.
EDGE_LENGTH = 90.0
#: Closest two node centres may come, in pixels: more than the biggest node drawn (70 px), so
#: nodes never cover each other.
MIN_DISTANCE = 0.8 * EDGE_LENGTH

Pos = dict[str, tuple[float, float]]


def _components(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Connected components as lists of node indices, largest first (the one routine, in topology.graph)."""
    from tdacnn.topology.graph import component_lists

    return component_lists(ids, edges)


def fresh_layout(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> Pos:
    """Positions for every node, from scratch.

    Parameters
    ----------
    ids : sequence of str
        Node ids.
    edges : sequence of (str, str)

    Returns
    -------
    dict of id to (x, y)
        Edges about :data:`EDGE_LENGTH` long; components packed in rows.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    ids = list(ids)
    if not ids:
        return {}
    index = {n: i for i, n in enumerate(ids)}
    comps = _components(ids, edges)
    # each edge goes to its component in one pass (not one pass per component: a graph of
    # 10,000 singletons and 12,000 edges took minutes)
    comp_of, local = np.empty(len(ids), dtype=np.int64), np.empty(len(ids), dtype=np.int64)
    for c, comp in enumerate(comps):
        comp_of[comp] = c
        local[comp] = np.arange(len(comp))
    comp_pairs: list[list[tuple[int, int]]] = [[] for _ in comps]
    for a, b in edges:
        ia, ib = index.get(a), index.get(b)
        if ia is not None and ib is not None:
            comp_pairs[comp_of[ia]].append((int(local[ia]), int(local[ib])))
    pos: Pos = {}
    blocks = []
    for comp, pairs in zip(comps, comp_pairs):
        m = len(comp)
        if pairs:
            r, c = zip(*pairs)
            adj = coo_matrix((np.ones(len(r)), (r, c)), shape=(m, m)).tocsr()
            dist = shortest_path(adj, directed=False, unweighted=True)
        else:
            dist = np.zeros((1, 1))
        xy = spread_out(stress_layout(dist) * EDGE_LENGTH, MIN_DISTANCE)
        blocks.append((comp, xy))
    # pack components in rows about as wide as the drawing is tall (at least the widest component)
    widest = max(np.ptp(xy[:, 0]) if len(xy) > 1 else 0.0 for _, xy in blocks)
    area = sum((np.ptp(xy[:, 0]) + EDGE_LENGTH) * (np.ptp(xy[:, 1]) + EDGE_LENGTH) for _, xy in blocks)
    row_width = max(widest, 1.2 * np.sqrt(area), 4 * EDGE_LENGTH)
    x0 = y0 = row_height = 0.0
    for comp, xy in blocks:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        w, h = hi - lo
        if x0 > 0 and x0 + w > row_width:
            x0, y0, row_height = 0.0, y0 + row_height + EDGE_LENGTH, 0.0
        shifted = xy - lo + np.array([x0, y0])
        for g, (x, y) in zip(comp, shifted):
            pos[ids[g]] = (float(x), float(y))
        x0 += w + EDGE_LENGTH
        row_height = max(row_height, h)
    return pos


def carry_by_members(new_members: Mapping[str, np.ndarray], old_members: Mapping[str, np.ndarray],
                     old_pos: Mapping[str, Sequence[float]], spread: dict[str, float] | None = None) -> Pos:
    """Positions of new nodes from the previous nodes that held the same points.

    A new node takes the mean of the positions of the previous nodes it shares
    points with, each weighted by ``shared * jaccard`` (shared members times the
    Jaccard index of the two member sets): the previous node it mostly *is*
    dominates, so an unchanged node keeps its place exactly even though Mapper
    nodes overlap their neighbours.

    Parameters
    ----------
    new_members, old_members : mapping of node id to ndarray of int
        Members as indices into one common index space (e.g. the unfiltered cloud).
    old_pos : mapping of node id to (x, y)
    spread : dict, optional
        Filled with each carried node's spread: the weighted RMS distance of the
        previous positions it was averaged from (0 for an unchanged node).

    Returns
    -------
    dict of id to (x, y)
        Only the new nodes that share at least one point with a placed old node.
    """
    from scipy.sparse import csr_matrix

    old_ids = [i for i in old_members if i in old_pos and len(old_members[i])]
    new_ids = [i for i in new_members if len(new_members[i])]
    if not old_ids or not new_ids:
        return {}

    def incidence(ids, members, n_cols):
        rows = np.concatenate([np.full(len(members[i]), r) for r, i in enumerate(ids)])
        cols = np.concatenate([np.asarray(members[i], dtype=np.int64) for i in ids])
        return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), n_cols))

    size = 1 + max(max(int(np.max(old_members[i])) for i in old_ids), max(int(np.max(new_members[i])) for i in new_ids))
    old_m = incidence(old_ids, old_members, size)
    new_m = incidence(new_ids, new_members, size)
    old_m.data[:] = 1.0  # duplicates within one node count once
    new_m.data[:] = 1.0
    shared = (new_m @ old_m.T).toarray()  # (n_new, n_old)
    n_new = np.asarray(new_m.sum(axis=1)).ravel()
    n_old = np.asarray(old_m.sum(axis=1)).ravel()
    union = n_new[:, None] + n_old[None, :] - shared
    weight = shared * np.where(union > 0, shared / np.maximum(union, 1), 0.0)
    pos = np.asarray([old_pos[i] for i in old_ids], dtype=np.float64)
    out: Pos = {}
    for r, nid in enumerate(new_ids):
        w = weight[r]
        total = w.sum()
        if total <= 0:
            continue
        xy = w @ pos / total
        out[nid] = (float(xy[0]), float(xy[1]))
        if spread is not None:
            spread[nid] = float(np.sqrt(w @ np.sum((pos - xy) ** 2, axis=1) / total))
    return out


def carry_by_similarity(new_filters: Mapping[str, np.ndarray], old_filters: Mapping[str, np.ndarray],
                        old_pos: Mapping[str, Sequence[float]], min_cosine: float = 0.8, top: int = 3) -> Pos:
    """Positions of new nodes from previous nodes with similar mean filters.

    Used when members cannot be compared (the density filter or the cloud changed).
    A new node whose mean filter has cosine ≥ ``min_cosine`` with some previous
    mean filters takes the weighted mean of the positions of the ``top`` best ones
    (weights ``exp((cos - 1) / 0.01)``: a near-identical filter dominates).
    """
    old_ids = [i for i in old_filters if i in old_pos]
    if not old_ids or not new_filters:
        return {}

    def unit(rows):
        a = np.asarray([np.ravel(r) for r in rows], dtype=np.float64)
        a = a - a.mean(axis=1, keepdims=True)
        n = np.linalg.norm(a, axis=1, keepdims=True)
        return a / np.where(n > 0, n, 1.0)

    new_ids = list(new_filters)
    a = unit([new_filters[i] for i in new_ids])
    b = unit([old_filters[i] for i in old_ids])
    if a.shape[1] != b.shape[1]:
        return {}
    sim = a @ b.T
    P = np.asarray([old_pos[i] for i in old_ids], dtype=np.float64)
    out: Pos = {}
    for r, nid in enumerate(new_ids):
        best = np.argsort(sim[r])[::-1][:top]
        best = best[sim[r, best] >= min_cosine]
        if len(best):
            w = np.exp((sim[r, best] - 1.0) / 0.01)  # a near-identical filter dominates
            x, y = (w[:, None] * P[best]).sum(axis=0) / w.sum()
            out[nid] = (float(x), float(y))
    return out


def _separate(pos: Pos, order: Sequence[str], min_dist: float) -> Pos:
    """Nudge nodes that landed on the same spot apart (a split node), keeping the first."""
    out: Pos = {}
    placed: list[np.ndarray] = []
    for nid in order:
        p = np.asarray(pos[nid], dtype=np.float64)
        k = 0
        while placed and min(np.hypot(*(p - q)) for q in placed) < min_dist and k < 24:
            k += 1
            angle = 2.399963 * k  # golden angle: spread the tries around
            p = np.asarray(pos[nid]) + min_dist * (1 + k // 8) * np.array([np.cos(angle), np.sin(angle)])
        placed.append(p)
        out[nid] = (float(p[0]), float(p[1]))
    return out


def place(ids: Sequence[str], edges: Sequence[tuple[str, str]], carried: Mapping[str, Sequence[float]],
          sizes: Mapping[str, int] | None = None, spread: Mapping[str, float] | None = None) -> Pos:
    """Positions for all nodes, keeping ``carried`` ones and fitting the others in.

    Parameters
    ----------
    ids : sequence of str
    edges : sequence of (str, str)
    carried : mapping of id to (x, y)
        Positions carried over from the previous view (kept, except that nodes on
        the same spot are spread apart, the biggest staying put).
    sizes : mapping of id to int, optional
        Member counts, to decide which of two coinciding nodes stays.
    spread : mapping of id to float, optional
        From :func:`carry_by_members`: of two coinciding nodes, the one whose
        members came from one place (an unchanged node) stays; then the bigger.

    Returns
    -------
    dict of id to (x, y)
    """
    ids = list(ids)
    carried = {i: tuple(carried[i]) for i in ids if i in carried}
    if not carried:
        return fresh_layout(ids, edges)
    order = sorted(carried, key=lambda i: (round((spread or {}).get(i, 0.0), 3), -(sizes or {}).get(i, 0)))
    pos = _separate(carried, order, 0.35 * EDGE_LENGTH)
    free = [i for i in ids if i not in pos]
    if not free:
        return _spread(pos, ids)
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(ids)
    g.add_edges_from((a, b) for a, b in edges if a in g and b in g)
    # initial guess: mean of placed neighbours, else beside the current drawing
    xy = np.array(list(pos.values()))
    right = float(xy[:, 0].max()) + 2 * EDGE_LENGTH
    top = float(xy[:, 1].min())
    init: Pos = dict(pos)
    pending = list(free)
    for _ in range(len(free) + 1):
        still = []
        for i in pending:
            nbrs = [init[j] for j in g.neighbors(i) if j in init]
            if nbrs:
                x, y = np.mean(nbrs, axis=0)
                k = len(init)
                init[i] = (float(x) + 0.3 * EDGE_LENGTH * np.cos(k), float(y) + 0.3 * EDGE_LENGTH * np.sin(k))
            else:
                still.append(i)
        if len(still) == len(pending):
            break
        pending = still
    # whatever is left has no placed neighbour: lay those components out fresh, to the right
    if pending:
        sub = fresh_layout(pending, [(a, b) for a, b in edges if a in pending and b in pending])
        for i, (x, y) in sub.items():
            init[i] = (x + right, y + top)
    free_connected = [i for i in free if i not in pending]
    if free_connected:
        out = nx.spring_layout(g.subgraph(list(init)), pos=init, fixed=[i for i in init if i not in free_connected],
                               k=EDGE_LENGTH, iterations=30, seed=0)
        init.update({i: (float(out[i][0]), float(out[i][1])) for i in free_connected})
    return _spread(init, ids)


def _spread(pos: Mapping[str, Sequence[float]], ids: Sequence[str]) -> Pos:
    """``pos`` for ``ids`` with nodes that would cover each other pushed apart (:func:`spread_out`)."""
    xy = spread_out(np.array([pos[i] for i in ids], dtype=np.float64).reshape(-1, 2), MIN_DISTANCE)
    return {i: (float(x), float(y)) for i, (x, y) in zip(ids, xy)}
