"""Fuse the pair edges of several signals into one weighted, undirected account graph.

Each detector gives account-pair edges for one signal (``co-repost``, ``co-link``,
``shared-device`` ...). :func:`fuse` stacks them, keeps every signal's numbers and evidence
per pair (:attr:`FusedGraph.signal_edges`, a long table keyed by ``(u, v, signal)``) and
gives each pair one fused weight (:attr:`FusedGraph.edges`) for community detection.

Fused weight
------------
For a pair tied by signals ``S``::

    strength_s = w_s * min(1, log1p(support_s) / log1p(saturation))
    weight     = sum(strength_s for s in S)

``support_s`` is the number of distinct objects behind the pair in signal ``s``, ``w_s`` the
signal's weight (:data:`DEFAULT_SIGNAL_WEIGHTS`, overridden by ``weights``) and
``saturation`` (default 50) the support at which a signal counts in full. When the edge has
a ``p_value`` (every built-in detector gives one, see :mod:`lockstep.significance`), chance
rather than raw counts decides instead::

    strength_s = w_s * min(1, -log10(p_s) / 10)

so a pair whose co-actions chance would give once in 10^10 counts in full, one at p = 0.01
a fifth. Each signal thus
adds at most ``w_s``: one signal with huge counts cannot outweigh several independent
ones, and a pair sharing one object counts ``log 2 / log 51`` (0.18) of one sharing fifty.
Event-pair counts (``weight`` of the input) are kept but not used, as a burst of re-posts of
one object says little more than one.

One observed action is one piece of evidence
--------------------------------------------
The co-action signals see the same actions through different objects: a shared link is also
a shared domain, and a post with a hashtag and an image pairs twice. Given ``distinct``
(:func:`lockstep.graph.distinct.distinct_event_pairs`: which of the pair's co-action signals
saw each distinct event pair), each event pair is credited to one signal only, the pair's
strongest signal that saw it (highest ``strength_s``, then name), and each co-action term is
scaled by the share of its event pairs credited to it::

    strength_s = w_s * min(...) * new_s / n_s

with ``n_s`` the signal's event pairs and ``new_s`` those no stronger signal of the pair saw.
A co-domain edge whose shares are all co-link shares then adds nothing, one whose shares are
half on other links of the domain adds half its term, and the co-action family contributes
once per event pair: at least its strongest signal's term, never a repeat. ``new_s`` is kept
per signal (``new_event_pairs``) and the pair's ``event_pairs`` is their sum, the distinct
event pairs. Infrastructure (``shared-*``) and cohort (``co-creation``, ``persona-reuse``)
signals are other classes of evidence (:data:`EVIDENCE_CLASSES`) and keep their own terms.
Without ``distinct`` every signal's term is kept whole (its event pairs cannot be compared).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["fuse", "FusedGraph", "edge_table", "DEFAULT_SIGNAL_WEIGHTS", "INPUT_SCHEMA",
           "EVIDENCE_CLASSES", "INFRASTRUCTURE_SIGNALS", "COHORT_SIGNALS", "evidence_class"]

#: ``-log10`` of the p-value at which a signal counts in full (see the module docstring).
P_SATURATION = 10.0

#: Weight of each signal in the fused weight; a signal not listed weighs 1.0. Weak,
#: popular-object signals (a hashtag, a web domain) count half; shared devices, which
#: chance rarely explains, count more.
DEFAULT_SIGNAL_WEIGHTS: dict[str, float] = {
    "co-repost": 1.0, "co-link": 1.0, "co-reply": 1.0, "co-image": 1.0, "co-text": 1.0,
    "co-hashtag": 0.5, "co-domain": 0.5, "co-mention": 0.5, "co-venue": 0.5,
    "shared-device": 1.5, "shared-ip": 1.0,
    "co-creation": 0.5, "persona-reuse": 1.0, "synchrony": 1.0, "dense-block": 1.0,
}

#: Signals that count as shared infrastructure (besides any signal named ``shared-*``).
INFRASTRUCTURE_SIGNALS = frozenset({"shared-device", "shared-ip", "shared-phone",
                                    "shared-email", "shared-payment", "shared-admin"})
#: Signals about how accounts were made and present themselves (creation bursts, reused
#: personas).
COHORT_SIGNALS = frozenset({"co-creation", "persona-reuse"})
#: The independent classes of evidence, in order: what accounts do together (every co-action
#: signal and the other activity signals), what they share (devices, addresses) and how they
#: were made (cohorts, personas).
EVIDENCE_CLASSES = ("activity", "infrastructure", "cohort")


def evidence_class(signal: str) -> str:
    """The class of evidence of ``signal`` (one of :data:`EVIDENCE_CLASSES`).

    Examples
    --------
    >>> [evidence_class(s) for s in ("co-link", "co-domain", "shared-ip", "persona-reuse")]
    ['activity', 'activity', 'infrastructure', 'cohort']
    """
    if signal in INFRASTRUCTURE_SIGNALS or signal.startswith("shared-"):
        return "infrastructure"
    if signal in COHORT_SIGNALS:
        return "cohort"
    return "activity"


_TS = pa.timestamp("us", tz="UTC")
#: The columns :func:`fuse` reads (``p_value`` and ``z`` may be missing).
INPUT_SCHEMA = pa.schema([
    ("platform_a", pa.string()), ("account_a", pa.string()),
    ("platform_b", pa.string()), ("account_b", pa.string()),
    ("signal", pa.string()), ("weight", pa.int64()), ("support", pa.int64()),
    ("first_seen", _TS), ("last_seen", _TS), ("median_delta_s", pa.float64()),
    ("evidence", pa.list_(pa.string())), ("p_value", pa.float64()), ("z", pa.float64()),
])


@dataclass
class FusedGraph:
    """A weighted undirected account graph with per-signal evidence on every edge.

    Attributes
    ----------
    nodes : pyarrow.Table
        ``node`` (int64, 0..n-1), ``platform``, ``account_id``, sorted by
        ``(platform, account_id)``, so ids do not depend on the input order.
    signal_edges : pyarrow.Table
        One row per ``(u, v, signal)`` with ``u < v`` node ids: the input columns
        ``weight, support, first_seen, last_seen, median_delta_s, evidence, p_value, z``,
        ``strength`` (the signal's share of the fused weight) and ``new_event_pairs`` (its
        event pairs that no stronger co-action signal of the pair saw; ``weight`` for other
        signals and without ``distinct``).
    edges : pyarrow.Table
        One row per pair: ``u, v, weight`` (fused, float64), ``n_signals``, ``n_eff`` (the
        effective number of signals: ``exp`` of the entropy of the signals' shares of
        ``weight``), ``n_eff_classes`` (the same over the classes of evidence,
        :data:`EVIDENCE_CLASSES`), ``signals`` (sorted list), ``event_pairs`` (sum of
        ``new_event_pairs``: each co-action event pair once), ``support`` (sum over signals
        of their distinct objects), ``first_seen``, ``last_seen``, ``median_delta_s`` (the
        smallest per-signal median delay).
    signal_weights : dict of str to float
        The signal weights used (defaults merged with the caller's).
    saturation : float
        Support at which a signal counts in full.
    """

    nodes: pa.Table
    signal_edges: pa.Table
    edges: pa.Table
    signal_weights: dict[str, float] = field(default_factory=dict)
    saturation: float = 50.0

    @property
    def n_nodes(self) -> int:
        """Number of accounts."""
        return int(self.nodes.num_rows)

    @property
    def n_edges(self) -> int:
        """Number of account pairs."""
        return int(self.edges.num_rows)

    @property
    def signals(self) -> list[str]:
        """The signals present, sorted."""
        return sorted(pc.unique(self.signal_edges["signal"]).to_pylist())

    def account(self, node: int) -> tuple[str, str]:
        """``(platform, account_id)`` of node id ``node``."""
        return (self.nodes["platform"][node].as_py(), self.nodes["account_id"][node].as_py())

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The symmetric adjacency matrix as CSR arrays ``(indptr, indices, data)``."""
        u = self.edges["u"].to_numpy()
        v = self.edges["v"].to_numpy()
        w = self.edges["weight"].to_numpy()
        rows, cols = np.concatenate([u, v]), np.concatenate([v, u])
        order = np.lexsort((cols, rows))
        indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_nodes), out=indptr[1:])
        return (indptr, cols[order].astype(np.int32),
                np.concatenate([w, w])[order].astype(np.float64))

    def to_networkx(self) -> nx.Graph:
        """A :class:`networkx.Graph` on node ids with ``weight`` and ``signals`` on edges."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.n_nodes))
        g.add_weighted_edges_from(zip(self.edges["u"].to_pylist(), self.edges["v"].to_pylist(),
                                      self.edges["weight"].to_pylist()))
        return g


def edge_table(rows: Iterable[Sequence[Any]], *, signal: str = "co-repost") -> pa.Table:
    """Build a contract edge table from ``(account_a, account_b[, support[, weight]])`` rows.

    A convenience for tests, examples and edges computed elsewhere: accounts are
    ``"platform:account_id"`` (or a bare id, on platform ``x``); times are left empty and
    evidence is empty.

    Examples
    --------
    >>> t = edge_table([("x:a", "x:b", 3), ("x:b", "x:c")], signal="co-link")
    >>> t.column("support").to_pylist()
    [3, 1]
    """
    cols: dict[str, list[Any]] = {n: [] for n in INPUT_SCHEMA.names}
    for row in rows:
        a, b = (tuple(x.split(":", 1)) if ":" in x else ("x", x) for x in row[:2])
        a, b = min(a, b), max(a, b)
        support = int(row[2]) if len(row) > 2 else 1
        for name, val in zip(INPUT_SCHEMA.names, (*a, *b, signal, int(row[3]) if len(row) > 3
                                                  else support, support, None, None, None, [],
                                                  None, None)):
            cols[name].append(val)
    return pa.table(cols, schema=INPUT_SCHEMA)


def _conform(t: pa.Table) -> pa.Table:
    """``t`` with the input columns in order and type (missing optional ones null)."""
    missing = {"platform_a", "account_a", "platform_b", "account_b", "signal",
               "support"} - set(t.column_names)
    if missing:
        raise ValueError(f"edge table lacks column(s) {sorted(missing)}")
    cols = []
    for f in INPUT_SCHEMA:
        if f.name in t.column_names:
            cols.append(pc.cast(t[f.name], f.type))
        elif f.name == "weight":
            cols.append(pc.cast(t["support"], pa.int64()))
        elif f.name == "evidence":
            cols.append(pa.array([[]] * t.num_rows, f.type))
        else:
            cols.append(pa.nulls(t.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=INPUT_SCHEMA)


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal ``keys`` rows in sorted arrays."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for k in keys:
        new[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(new)


def fuse(edge_tables: list[pa.Table], *, weights: dict[str, float] | None = None,
         saturation: float = 50.0, distinct: pa.Table | None = None) -> FusedGraph:
    """Fuse the edge tables of several signals into one account graph.

    Parameters
    ----------
    edge_tables : list of pyarrow.Table
        Detector outputs (``edges_``): ``platform_a, account_a, platform_b, account_b,
        signal, weight, support, first_seen, last_seen, median_delta_s, evidence`` and
        optionally ``p_value``, ``z``. Pairs may come in either order; self-pairs are dropped.
        A ``(pair, signal)`` given twice (the same signal from two runs) keeps the row with
        the highest support, so it is not counted twice.
    weights : dict of str to float, optional
        Signal weights, merged over :data:`DEFAULT_SIGNAL_WEIGHTS`.
    saturation : float, default 50
        Support at which one signal adds its full weight (see the module docstring).
    distinct : pyarrow.Table, optional
        Which co-action signals saw each distinct event pair of a pair
        (:func:`lockstep.graph.distinct.distinct_event_pairs`: ``platform_a, account_a,
        platform_b, account_b, signals, event_pairs``). Each event pair is then credited to
        the pair's strongest signal that saw it and counted once (module docstring). Rows for
        pairs or signals not in ``edge_tables`` are ignored.

    Returns
    -------
    FusedGraph

    Examples
    --------
    >>> g = fuse([edge_table([("a", "b", 50)]), edge_table([("a", "b", 1)], signal="co-link")])
    >>> g.edges.column("signals").to_pylist(), round(g.edges.column("weight")[0].as_py(), 3)
    ([['co-link', 'co-repost']], 1.176)
    """
    if saturation <= 1:
        raise ValueError("saturation must be > 1")
    sw = {**DEFAULT_SIGNAL_WEIGHTS, **(weights or {})}
    tables = [_conform(t) for t in edge_tables if t.num_rows]
    t = pa.concat_tables(tables) if tables else INPUT_SCHEMA.empty_table()
    ok = pc.invert(pc.and_(pc.equal(t["platform_a"], t["platform_b"]),
                           pc.equal(t["account_a"], t["account_b"])))
    for c in ("platform_a", "account_a", "platform_b", "account_b", "signal"):
        ok = pc.and_kleene(ok, pc.is_valid(t[c]))
    ok = pc.fill_null(ok, False)
    if pc.sum(ok).as_py() != t.num_rows:
        t = t.filter(ok)
    if t.num_rows == 0:
        nodes = pa.schema([("node", pa.int64()), ("platform", pa.string()),
                           ("account_id", pa.string())]).empty_table()
        long = pa.schema([("u", pa.int64()), ("v", pa.int64()), *INPUT_SCHEMA.remove(0)
                          .remove(0).remove(0).remove(0), ("strength", pa.float64()),
                          ("new_event_pairs", pa.int64())]).empty_table()
        return FusedGraph(nodes, long, _pairs(long), sw, float(saturation))
    # canonical orientation, no self-pairs
    pa_, aa, pb, ab = (t[c] for c in ("platform_a", "account_a", "platform_b", "account_b"))
    swap = pc.or_(pc.greater(pa_, pb), pc.and_(pc.equal(pa_, pb), pc.greater(aa, ab)))
    swap = pc.fill_null(swap, False)
    pa_, pb = pc.if_else(swap, pb, pa_), pc.if_else(swap, pa_, pb)
    aa, ab = pc.if_else(swap, ab, aa), pc.if_else(swap, aa, ab)
    # node ids in (platform, account_id) order
    ends = pa.table({"platform": pa.chunked_array(pa_.chunks + pb.chunks, pa.string()),
                     "account_id": pa.chunked_array(aa.chunks + ab.chunks, pa.string())})
    nodes = ends.group_by(["platform", "account_id"]).aggregate([]).sort_by(
        [("platform", "ascending"), ("account_id", "ascending")])
    nodes = pa.table({"node": pa.array(np.arange(nodes.num_rows, dtype=np.int64)),
                      "platform": nodes["platform"], "account_id": nodes["account_id"]})
    sep = "\x1f"
    node_keys = pc.binary_join_element_wise(nodes["platform"], nodes["account_id"], sep)
    u = pc.index_in(pc.binary_join_element_wise(pa_, aa, sep), value_set=node_keys)
    v = pc.index_in(pc.binary_join_element_wise(pb, ab, sep), value_set=node_keys)
    uu = pc.cast(u, pa.int64()).to_numpy(zero_copy_only=False)
    vv = pc.cast(v, pa.int64()).to_numpy(zero_copy_only=False)
    # signal codes in name order, so sorting by code sorts by name
    enc = t["signal"].combine_chunks().dictionary_encode()
    names = enc.dictionary.to_pylist()
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    code = rank[enc.indices.to_numpy(zero_copy_only=False)]
    support = pc.fill_null(t["support"], 0).to_numpy(zero_copy_only=False)
    weight = pc.fill_null(t["weight"], 0).to_numpy(zero_copy_only=False)
    order = np.lexsort((-weight, -support, code, vv, uu))
    # one row per (pair, signal): the first, i.e. highest support, then weight
    keep = order[_group_starts(uu[order], vv[order], code[order])]
    long = pa.table({"u": pa.array(uu[keep]), "v": pa.array(vv[keep]),
                     **{c: t[c].take(pa.array(keep)) for c in INPUT_SCHEMA.names[4:]}})
    sw_col = np.array([sw.get(x, 1.0) for x in names], dtype=np.float64)[
        enc.indices.to_numpy(zero_copy_only=False)[keep]]
    by_support = np.minimum(1.0, np.log1p(np.maximum(support[keep], 0)) / math.log1p(saturation))
    pv = pc.fill_null(pc.cast(long["p_value"], pa.float64()), math.nan).to_numpy(
        zero_copy_only=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_p = np.minimum(1.0, -np.log10(np.clip(pv, 1e-300, 1.0)) / P_SATURATION)
    strength = sw_col * np.where(np.isnan(pv), by_support, by_p)
    new_ep = weight[keep].astype(np.int64)
    if distinct is not None and distinct.num_rows:
        sorted_names = sorted(names)
        factor, new_ep = _credit(distinct, uu[keep], vv[keep], code[keep], strength, new_ep,
                                 sorted_names, node_keys, nodes.num_rows)
        strength = strength * factor
    long = long.append_column("strength", pa.array(strength))
    long = long.append_column("new_event_pairs", pa.array(new_ep, pa.int64()))
    return FusedGraph(nodes, long, _pairs(long), sw, float(saturation))


def _credit(distinct: pa.Table, lu: np.ndarray, lv: np.ndarray, lcode: np.ndarray,
            strength: np.ndarray, weight: np.ndarray, names: list[str], node_keys: pa.Array,
            n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Credit each distinct event pair to the strongest signal of its pair that saw it.

    ``lu, lv, lcode, strength, weight`` describe the long ``(u, v, signal)`` rows, sorted by
    ``(u, v, code)``; ``names`` are the signal names by code. Returns, per long row, the
    factor on its strength (``new / n`` of its event pairs; 1 where ``distinct`` says
    nothing of it) and its new event pairs (``weight`` where ``distinct`` says nothing).
    """
    n = len(lu)
    n_codes = len(names)
    starts = _group_starts(lu, lv)
    pid = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.append(starts, n)))
    pkey = lu[starts].astype(np.int64) * n_nodes + lv[starts]
    lkey = pid * n_codes + lcode  # ascending: rows are sorted by (u, v, code)
    order = np.lexsort((lcode, -strength, pid))
    prio = np.empty(n, dtype=np.int64)
    prio[order] = np.arange(n)  # within a pair: strongest first, then by name
    sep = "\x1f"
    ends = []
    for p, a in (("platform_a", "account_a"), ("platform_b", "account_b")):
        idx = pc.index_in(pc.binary_join_element_wise(pc.cast(distinct[p], pa.string()),
                                                      pc.cast(distinct[a], pa.string()), sep),
                          value_set=node_keys)
        ends.append(pc.fill_null(pc.cast(idx, pa.int64()), -1).to_numpy(zero_copy_only=False))
    # node ids are in (platform, account_id) order: the canonical pair is (min, max)
    du, dv = np.minimum(*ends), np.maximum(*ends)
    dkey = du * n_nodes + dv
    dp = np.minimum(np.searchsorted(pkey, dkey), max(len(pkey) - 1, 0))
    found = (du >= 0) & (du != dv) & (pkey[dp] == dkey) if len(pkey) else \
        np.zeros(len(du), dtype=bool)
    sigs = distinct["signals"].combine_chunks()
    lens = pc.fill_null(pc.list_value_length(sigs), 0).to_numpy(zero_copy_only=False)
    row_of = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    code_of = {s: i for i, s in enumerate(names)}
    flat = np.array([code_of.get(x, -1) for x in sigs.flatten().to_pylist()], dtype=np.int64)
    ek = dp[row_of] * n_codes + flat
    li = np.minimum(np.searchsorted(lkey, ek), n - 1)
    hit = found[row_of] & (flat >= 0) & (lkey[li] == ek)
    r, li = row_of[hit], li[hit]
    ep = pc.fill_null(distinct["event_pairs"], 0).to_numpy(zero_copy_only=False).astype(
        np.float64)
    total = np.bincount(li, ep[r], minlength=n)
    new = np.zeros(n)
    if len(r):
        by = np.lexsort((prio[li], r))
        first = by[_group_starts(r[by])]
        new = np.bincount(li[first], ep[r[first]], minlength=n)
    covered = total > 0
    factor = np.divide(new, total, out=np.ones(n), where=covered)
    return factor, np.where(covered, new, weight).astype(np.int64)


def _ts_reduce(col: pa.ChunkedArray, starts: np.ndarray, ufunc: np.ufunc, fill: int) -> pa.Array:
    """Per-group min or max of a timestamp column (nulls ignored; all-null gives null)."""
    x = pc.fill_null(pc.cast(col, pa.int64()), fill).to_numpy(zero_copy_only=False)
    r = ufunc.reduceat(x, starts) if len(x) else np.zeros(0, dtype=np.int64)
    return pa.array(r, mask=r == fill).cast(_TS)


def _pairs(long: pa.Table) -> pa.Table:
    """Aggregate the long ``(u, v, signal)`` table into one row per pair."""
    uu, vv = long["u"].to_numpy(), long["v"].to_numpy()
    starts = _group_starts(uu, vv)
    n = len(uu)
    if n == 0:
        empty = {"u": pa.int64(), "v": pa.int64(), "weight": pa.float64(),
                 "n_signals": pa.int64(), "n_eff": pa.float64(),
                 "n_eff_classes": pa.float64(), "signals": pa.list_(pa.string()),
                 "event_pairs": pa.int64(), "support": pa.int64(), "first_seen": _TS,
                 "last_seen": _TS, "median_delta_s": pa.float64()}
        return pa.schema(list(empty.items())).empty_table()
    offsets = np.append(starts, n).astype(np.int32)
    med = pc.fill_null(long["median_delta_s"], math.nan).to_numpy(zero_copy_only=False)
    min_med = np.fmin.reduceat(med, starts)
    big = np.iinfo(np.int64).max
    strength = long["strength"].to_numpy()
    total = np.add.reduceat(strength, starts)
    share = np.divide(strength, np.repeat(total, np.diff(offsets)), out=np.zeros(n),
                      where=strength > 0)
    ent = np.add.reduceat(-share * np.log(np.where(share > 0, share, 1.0)), starts)
    # the same over the classes of evidence
    enc = long["signal"].combine_chunks().dictionary_encode()
    cls_of = np.array([EVIDENCE_CLASSES.index(evidence_class(x))
                       for x in enc.dictionary.to_pylist()], dtype=np.int64)
    cls = cls_of[enc.indices.to_numpy(zero_copy_only=False)]
    pid = np.repeat(np.arange(len(starts)), np.diff(offsets))
    by_cls = np.zeros((len(starts), len(EVIDENCE_CLASSES)))
    np.add.at(by_cls, (pid, cls), strength)
    cshare = np.divide(by_cls, total[:, None], out=np.zeros_like(by_cls),
                       where=total[:, None] > 0)
    cent = np.maximum(np.sum(-cshare * np.log(np.where(cshare > 0, cshare, 1.0)), axis=1), 0)
    return pa.table({
        "u": pa.array(uu[starts]), "v": pa.array(vv[starts]),
        "weight": pa.array(total),
        "n_signals": pa.array(np.diff(offsets).astype(np.int64)),
        "n_eff": pa.array(np.exp(np.maximum(ent, 0))),
        "n_eff_classes": pa.array(np.exp(cent)),
        "signals": pa.ListArray.from_arrays(pa.array(offsets),
                                            long["signal"].combine_chunks()),
        "event_pairs": pa.array(np.add.reduceat(
            pc.fill_null(long["new_event_pairs"], 0).to_numpy(zero_copy_only=False), starts)),
        "support": pa.array(np.add.reduceat(
            pc.fill_null(long["support"], 0).to_numpy(zero_copy_only=False), starts)),
        "first_seen": _ts_reduce(long["first_seen"], starts, np.minimum, big),
        "last_seen": _ts_reduce(long["last_seen"], starts, np.maximum, -big),
        "median_delta_s": pa.array(min_med, mask=np.isnan(min_med)),
    })

