"""Networks: communities of the fused graph large enough to report, scored and ranked.

A network is a community (:mod:`lockstep.graph.clustering`) with at least ``min_size``
members, after its weakly tied periphery is pruned (see ``prune`` in :func:`build_networks`).
Each gets a score in [0, 100] that ranks the most serious first and is the sum of
six explainable components, each in [0, 1], times the coefficients of :data:`SCORE_WEIGHTS`::

    score = 100 * (0.30 strength + 0.20 diversity + 0.15 density + 0.10 scale
                   + 0.10 youth + 0.15 infrastructure)

strength
    ``1 - exp(-mean fused weight of the internal edges)``: 0.63 when every internal pair
    is tied by one saturated signal (see :mod:`lockstep.graph.fusion`), 0.86 for two.
diversity
    Mean over internal pairs of ``1 - 1 / n_eff``, where ``n_eff`` is the pair's effective
    number of independent classes of evidence (``exp`` of the entropy of the classes' shares
    of its fused weight; the classes are activity, infrastructure and cohort,
    :data:`~lockstep.graph.fusion.EVIDENCE_CLASSES`): 0 when each pair is tied by one class
    (co-link and co-domain, or a post's hashtag and its image, are one class: activity), 0.5
    when every pair is tied by two equal classes, 0.67 by all three.
density
    Internal edges over possible pairs, ``2 m / (n (n - 1))``.
scale
    Size, as ``min(1, ln n / ln 100)``: 0.24 for 3 members, 0.5 for 10, 1 from 100.
youth
    Mean of ``exp(-age / 365 days)`` over members whose ``created_at`` is known, the age
    taken at the network's first activity (a new account gives 1, a three-year-old one
    0.05). Null, and counted as 0, when no member's creation time is known.
infrastructure
    Share of internal pairs tied by a shared-infrastructure signal (``shared-*``, see
    :data:`INFRASTRUCTURE_SIGNALS`).

Every component is stored in the ``networks`` table beside the score.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep.graph.clustering import Communities, find_communities, split_communities
from lockstep.graph.fusion import INFRASTRUCTURE_SIGNALS, FusedGraph, fuse

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["Run", "build_networks", "detect_networks", "account_metadata", "SCORE_WEIGHTS",
           "INFRASTRUCTURE_SIGNALS", "COMPONENTS"]

#: Coefficients of the score components (they sum to 1).
SCORE_WEIGHTS: dict[str, float] = {"strength": 0.30, "diversity": 0.20, "density": 0.15,
                                   "scale": 0.10, "youth": 0.10, "infrastructure": 0.15}
COMPONENTS = tuple(SCORE_WEIGHTS)
_YEAR_US = 365 * 86400 * 1e6


@dataclass
class Run:
    """The result of one detection: ranked networks, their members and internal edges.

    Attributes
    ----------
    networks : pyarrow.Table
        One row per network, best first: ``network_id`` (``N0001`` ...), ``rank``, ``size``,
        ``score``, the components (:data:`COMPONENTS`), ``n_edges``, ``mean_weight``,
        ``n_signals_eff`` (effective number of signals over the network's internal
        strength), ``signals`` and ``signal_share`` (parallel lists, largest share first),
        ``density``, ``first_seen``, ``last_seen``, ``platforms``, ``community`` (the
        community label it came from).
    members : pyarrow.Table
        ``network_id, platform, account_id, kind, handle, created_at, degree, strength``
        (internal degree and summed fused weight).
    edges : pyarrow.Table
        Internal edges, one row per (pair, signal), with the evidence:
        ``network_id, platform_a, account_a, platform_b, account_b, signal, weight, support,
        first_seen, last_seen, median_delta_s, evidence, p_value, z, strength,
        new_event_pairs`` (see :attr:`~lockstep.graph.fusion.FusedGraph.signal_edges`: summed
        over a pair's rows, its distinct event pairs).
    params : dict
        Everything needed to reproduce the run.
    run_id, created : str or None
        Set when the run is saved (:func:`lockstep.graph.store.save_run`).
    """

    networks: pa.Table
    members: pa.Table
    edges: pa.Table
    params: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    created: str | None = None
    #: The :class:`lockstep.attribution.assess.Assessment` of the networks, when assessed.
    assessment: Any = None

    @property
    def n_networks(self) -> int:
        """Number of networks."""
        return int(self.networks.num_rows)

    def refresh_sizes(self) -> None:
        """Set each network's ``size`` to its number of member rows (after members were
        added: amplified pages, a person's other accounts)."""
        counts = dict(zip(*self.members.group_by("network_id").aggregate(
            [("network_id", "count")]).to_pydict().values()))
        sizes = pa.array([counts.get(x, 0) for x in self.networks["network_id"].to_pylist()],
                         pa.int64())
        self.networks = self.networks.set_column(
            self.networks.schema.get_field_index("size"), "size", sizes)


def account_metadata(ws: Workspace) -> pa.Table:
    """``platform, account_id, kind, handle, created_at`` of every account in ``ws``."""
    con = ws.connect()
    try:
        return con.sql("SELECT platform, account_id, kind, handle, created_at "
                       "FROM accounts").to_arrow_table()
    finally:
        con.close()


def _node_meta(graph: FusedGraph, accounts: pa.Table | None) -> dict[str, pa.Array]:
    """``kind``, ``handle``, ``created_at`` per node id (null where unknown)."""
    n = graph.n_nodes
    out = {"kind": pa.nulls(n, pa.string()), "handle": pa.nulls(n, pa.string()),
           "created_at": pa.nulls(n, pa.timestamp("us", tz="UTC"))}
    if accounts is None or accounts.num_rows == 0 or n == 0:
        return out
    sep = "\x1f"
    keys = pc.binary_join_element_wise(pc.cast(accounts["platform"], pa.string()),
                                       pc.cast(accounts["account_id"], pa.string()), sep)
    idx = pc.index_in(pc.binary_join_element_wise(graph.nodes["platform"],
                                                  graph.nodes["account_id"], sep),
                      value_set=keys)
    for c in out:
        if c in accounts.column_names:
            out[c] = pc.cast(pc.take(accounts[c], idx), out[c].type)
    return out


def _prune(graph: FusedGraph, labels: np.ndarray, prune: float) -> np.ndarray:
    """Move members whose internal strength is below ``prune`` times their community's
    median member strength into singleton communities (one pass)."""
    eu, ev = graph.edges["u"].to_numpy(), graph.edges["v"].to_numpy()
    w = graph.edges["weight"].to_numpy()
    inside = labels[eu] == labels[ev]
    stren = np.bincount(np.concatenate([eu[inside], ev[inside]]),
                        np.concatenate([w[inside], w[inside]]), minlength=len(labels))
    order = np.lexsort((stren, labels))
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]]) \
        if len(order) else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.r_[starts, len(order)])
    lo, hi = order[starts + (counts - 1) // 2], order[starts + counts // 2]
    median = np.zeros(int(labels.max()) + 1 if len(labels) else 0)
    median[labels[lo]] = (stren[lo] + stren[hi]) / 2
    out = labels.copy()
    drop = np.flatnonzero(stren < prune * median[labels])
    out[drop] = len(median) + np.arange(len(drop))
    return out


def _signal_stats(long: pa.Table, labels: np.ndarray, sizes: np.ndarray, slot: np.ndarray,
                  min_size: int) -> tuple[np.ndarray, list[list[str]], list[list[float]],
                                          np.ndarray, np.ndarray]:
    """Per network: internal (pair, signal) rows, signals by share, shares, effective
    number of signals, and the number of pairs tied by an infrastructure signal."""
    n_net = int((slot >= 0).sum())
    lu, lv = long["u"].to_numpy(), long["v"].to_numpy()
    lin = (labels[lu] == labels[lv]) & (sizes[labels[lu]] >= min_size) if len(lu) else \
        np.zeros(0, dtype=bool)
    lnet = slot[labels[lu[lin]]]
    lsig = long["signal"].filter(pa.array(lin)).to_pylist()
    per: list[dict[str, float]] = [{} for _ in range(n_net)]
    for k, s, x in zip(lnet.tolist(), lsig, long["strength"].to_numpy()[lin].tolist()):
        per[k][s] = per[k].get(s, 0.0) + x
    infra = np.array([s in INFRASTRUCTURE_SIGNALS or s.startswith("shared-") for s in lsig],
                     dtype=bool)
    infra_pairs: list[set[tuple[int, int]]] = [set() for _ in range(n_net)]
    for k, a, b in zip(lnet[infra].tolist(), lu[lin][infra].tolist(), lv[lin][infra].tolist()):
        infra_pairs[k].add((a, b))
    n_eff = np.ones(n_net)
    signals, shares = [], []
    for k, d in enumerate(per):
        tot = sum(d.values())
        by_share = sorted(d, key=lambda s: (-d[s], s))
        p = np.array([d[s] / tot for s in by_share]) if tot > 0 else np.zeros(0)
        q = p[p > 0]  # a co-action signal whose event pairs a stronger one saw adds 0
        n_eff[k] = math.exp(-float(np.sum(q * np.log(q)))) if len(q) else 1.0
        signals.append(by_share)
        shares.append([round(float(x), 6) for x in p])
    return lin, signals, shares, n_eff, np.array([len(x) for x in infra_pairs], dtype=float)


def build_networks(graph: FusedGraph, communities: Communities, *, min_size: int = 3,
                   prune: float = 0.1, accounts: pa.Table | None = None,
                   score_weights: dict[str, float] | None = None) -> Run:
    """Score and rank the communities of at least ``min_size`` accounts.

    Parameters
    ----------
    graph : FusedGraph
    communities : Communities
        A partition of ``graph`` (:func:`~lockstep.graph.clustering.find_communities`).
    min_size : int, default 3
        Smallest community reported as a network (counted after pruning).
    prune : float, default 0.1
        Drop members whose internal strength (summed fused weight of their edges inside
        the community) is below ``prune`` times the community's median: peripheral accounts
        that modularity attaches to a dense core through one weak tie. 0 keeps everyone.
    accounts : pyarrow.Table, optional
        Account metadata (``platform, account_id`` and any of ``kind, handle,
        created_at``), e.g. :func:`account_metadata`; gives ``youth`` and member kinds.
    score_weights : dict, optional
        Coefficients of the components, merged over :data:`SCORE_WEIGHTS`.

    Returns
    -------
    Run
        With ``params`` holding ``min_size``, ``prune`` and the score weights.

    Raises
    ------
    ValueError
        ``communities`` is not a partition of ``graph``, or ``min_size < 1``.
    """
    if len(communities.labels) != graph.n_nodes:
        raise ValueError("communities do not partition this graph (label count differs)")
    if min_size < 1:
        raise ValueError("min_size must be >= 1")
    sw = {**SCORE_WEIGHTS, **(score_weights or {})}
    e, long = graph.edges, graph.signal_edges
    labels = _prune(graph, communities.labels, prune) if prune > 0 else communities.labels
    sizes = np.bincount(labels, minlength=int(labels.max()) + 1 if len(labels) else 0)
    keep = np.flatnonzero(sizes >= min_size)
    n_net = len(keep)
    eu, ev = e["u"].to_numpy(), e["v"].to_numpy()
    inside = (labels[eu] == labels[ev]) & (sizes[labels[eu]] >= min_size) if len(eu) else \
        np.zeros(0, dtype=bool)
    slot = np.full(len(sizes), -1, dtype=np.int64)
    slot[keep] = np.arange(n_net)
    ie = slot[labels[eu[inside]]]
    w = e["weight"].to_numpy()[inside]
    n = sizes[keep].astype(np.float64)
    m = np.bincount(ie, minlength=n_net).astype(np.float64)
    mean_w = np.divide(np.bincount(ie, w, minlength=n_net), m, out=np.zeros(n_net), where=m > 0)
    pair_div = 1 - 1 / e["n_eff_classes"].to_numpy()[inside]
    diversity = np.divide(np.bincount(ie, pair_div, minlength=n_net), m, out=np.zeros(n_net),
                          where=m > 0)
    density = np.divide(2 * m, n * (n - 1), out=np.zeros(n_net), where=n > 1)
    lin, signals, shares, n_eff, n_infra = _signal_stats(long, labels, sizes, slot, min_size)
    infra = np.divide(n_infra, m, out=np.zeros(n_net), where=m > 0)
    # activity span and youth
    big = np.iinfo(np.int64).max
    fs = pc.fill_null(pc.cast(e["first_seen"], pa.int64()), big).to_numpy()[inside]
    ls = pc.fill_null(pc.cast(e["last_seen"], pa.int64()), -big).to_numpy()[inside]
    first = np.full(n_net, big, dtype=np.int64)
    last = np.full(n_net, -big, dtype=np.int64)
    np.minimum.at(first, ie, fs)
    np.maximum.at(last, ie, ls)
    meta = _node_meta(graph, accounts)
    node_net = np.where(sizes[labels] >= min_size, slot[labels], -1)
    created = pc.fill_null(pc.cast(meta["created_at"], pa.int64()), big).to_numpy()
    known = (node_net >= 0) & (created != big)
    ref = first[node_net[known]]
    ref = np.where(ref == big, created[known], ref)  # no activity time: age 0 at creation
    age = np.maximum(ref - created[known], 0) / _YEAR_US
    n_known = np.bincount(node_net[known], minlength=n_net)
    youth_sum = np.bincount(node_net[known], np.exp(-age), minlength=n_net)
    youth = np.divide(youth_sum, n_known, out=np.zeros(n_net), where=n_known > 0)
    comp = {"strength": 1 - np.exp(-mean_w), "diversity": diversity, "density": density,
            "scale": np.minimum(1.0, np.log(np.maximum(n, 1)) / math.log(100)), "youth": youth,
            "infrastructure": infra}
    score = 100 * sum(sw[c] * comp[c] for c in COMPONENTS)
    score = np.round(score, 6)
    # rank: score, then size, then smallest member node id
    first_node = np.full(n_net, graph.n_nodes, dtype=np.int64)
    np.minimum.at(first_node, node_net[node_net >= 0], np.flatnonzero(node_net >= 0))
    order = np.lexsort((first_node, -n, -score))
    rank = np.empty(n_net, dtype=np.int64)
    rank[order] = np.arange(n_net)
    width = max(4, len(str(n_net)))
    ids = np.array([f"N{r + 1:0{width}d}" for r in range(n_net)], dtype=object)
    net_id = ids[rank]
    platforms: list[set[str]] = [set() for _ in range(n_net)]
    plat = graph.nodes["platform"].to_pylist()
    for node in np.flatnonzero(node_net >= 0).tolist():
        platforms[node_net[node]].add(plat[node])
    ts = pa.timestamp("us", tz="UTC")
    o = order
    networks = pa.table({
        "network_id": pa.array(net_id[o].tolist(), pa.string()),
        "rank": pa.array(np.arange(1, n_net + 1, dtype=np.int64)),
        "size": pa.array(n[o].astype(np.int64)), "score": pa.array(score[o]),
        **{c: pa.array(np.round(comp[c][o], 6), mask=(n_known[o] == 0) if c == "youth" else None)
           for c in COMPONENTS},
        "n_edges": pa.array(m[o].astype(np.int64)), "mean_weight": pa.array(mean_w[o]),
        "n_signals_eff": pa.array(n_eff[o]),
        "signals": pa.array([signals[k] for k in o], pa.list_(pa.string())),
        "signal_share": pa.array([shares[k] for k in o], pa.list_(pa.float64())),
        "first_seen": pa.array(first[o], mask=first[o] == big).cast(ts),
        "last_seen": pa.array(last[o], mask=last[o] == -big).cast(ts),
        "platforms": pa.array([sorted(platforms[k]) for k in o], pa.list_(pa.string())),
        "community": pa.array(keep[o].astype(np.int64)),
    })
    # members, by network rank then (platform, account_id)
    iu, iv = eu[inside], ev[inside]
    deg = np.bincount(np.concatenate([iu, iv]), minlength=graph.n_nodes)
    stren = np.bincount(np.concatenate([iu, iv]), np.concatenate([w, w]),
                        minlength=graph.n_nodes)
    mem = np.flatnonzero(node_net >= 0)
    mem = mem[np.lexsort((mem, rank[node_net[mem]]))]
    idx = pa.array(mem)
    members = pa.table({
        "network_id": pa.array(net_id[node_net[mem]].tolist(), pa.string()),
        "platform": graph.nodes["platform"].take(idx),
        "account_id": graph.nodes["account_id"].take(idx),
        "kind": meta["kind"].take(idx), "handle": meta["handle"].take(idx),
        "created_at": meta["created_at"].take(idx),
        "degree": pa.array(deg[mem].astype(np.int64)), "strength": pa.array(stren[mem]),
    })
    # internal per-signal edges, by network rank then pair
    lu, lv = long["u"].to_numpy(), long["v"].to_numpy()
    lidx = np.flatnonzero(lin)
    lidx = lidx[np.lexsort((lidx, rank[slot[labels[lu[lidx]]]]))]
    sub = long.take(pa.array(lidx, pa.int64()))
    su, sv = pa.array(lu[lidx]), pa.array(lv[lidx])
    edges = pa.table({
        "network_id": pa.array(net_id[slot[labels[lu[lidx]]]].tolist(), pa.string()),
        "platform_a": graph.nodes["platform"].take(su),
        "account_a": graph.nodes["account_id"].take(su),
        "platform_b": graph.nodes["platform"].take(sv),
        "account_b": graph.nodes["account_id"].take(sv),
        **{c: sub[c] for c in ("signal", "weight", "support", "first_seen", "last_seen",
                               "median_delta_s", "evidence", "p_value", "z", "strength",
                               "new_event_pairs")},
    })
    params = {"min_size": min_size, "prune": prune, "score_weights": sw}
    return Run(networks, members, edges, params)


def detect_networks(edge_tables: list[pa.Table], *, accounts: pa.Table | None = None,
                    weights: dict[str, float] | None = None, saturation: float = 50.0,
                    method: str = "auto", seed: int = 0, resolution: float = 1.0,
                    split_modularity: float = 0.4, min_size: int = 3, prune: float = 0.1,
                    score_weights: dict[str, float] | None = None,
                    params: dict[str, Any] | None = None,
                    distinct: pa.Table | None = None) -> Run:
    """Fuse signal edges, find communities and rank the networks, in one call.

    Parameters
    ----------
    edge_tables : list of pyarrow.Table
        Detector outputs (see :func:`~lockstep.graph.fusion.fuse`).
    accounts : pyarrow.Table, optional
        Account metadata (:func:`account_metadata`).
    weights, saturation
        Passed to :func:`~lockstep.graph.fusion.fuse`.
    method, seed, resolution
        Passed to :func:`~lockstep.graph.clustering.find_communities`.
    split_modularity : float, default 0.4
        Communities of 50 accounts or more whose own partition reaches this modularity are
        split (:func:`~lockstep.graph.clustering.split_communities`); 1 turns it off.
    min_size, prune, score_weights
        Passed to :func:`build_networks`.
    params : dict, optional
        More parameters to record with the run (e.g. each detector's ``get_params()``).
    distinct : pyarrow.Table, optional
        Distinct event pairs across the co-action signals
        (:func:`lockstep.graph.distinct.distinct_event_pairs`), passed to
        :func:`~lockstep.graph.fusion.fuse` so each observed action counts once.

    Returns
    -------
    Run

    Examples
    --------
    >>> from lockstep.graph.fusion import edge_table
    >>> run = detect_networks([edge_table([("a", "b"), ("b", "c"), ("a", "c"), ("d", "e")])])
    >>> run.networks.column("network_id").to_pylist(), run.networks.column("size").to_pylist()
    (['N0001'], [3])
    """
    from lockstep import __version__

    graph = fuse(edge_tables, weights=weights, saturation=saturation, distinct=distinct)
    comms = split_communities(
        graph, find_communities(graph, method=method, seed=seed, resolution=resolution),
        modularity=split_modularity, min_part=min_size, seed=seed)
    run = build_networks(graph, comms, min_size=min_size, prune=prune, accounts=accounts,
                         score_weights=score_weights)
    run.params = {"lockstep_version": __version__,
                  "fusion": {"signal_weights": graph.signal_weights, "saturation": saturation,
                             "signals": graph.signals, "nodes": graph.n_nodes,
                             "pairs": graph.n_edges, "distinct_event_pairs": distinct is not None},
                  "communities": {**comms.params, "quality": comms.quality,
                                  "n_communities": comms.n_communities},
                  **run.params, **(params or {})}
    return run
