"""Dense blocks (Fraudar): groups of accounts that touch the same objects, camouflage or not.

Semantics (exactly)
-------------------
The graph is bipartite: accounts x *columns*, a column being an object in a time bucket
(``bucket_s``, default one UTC day; ``None``: the object alone), an edge where an account
acted on the column at least once. Objects are those of the types in ``object_types`` from
the ``objects`` view; a reply to a post and a re-post of it are the same object, the post;
post ids are matched within a platform, URLs, hashtags and images across platforms. The day
bucket is CopyCatch's lockstep constraint (Beutel et al. 2013) in its coarsest form: on the
simulated worlds it separates the operations' amplification bursts from month-long
audiences. Columns touched by one account tie no pair and are dropped. Edge ``(a, c)`` weighs
``1 / log(k_c + log_c)``, ``k_c`` the column's number of accounts: Fraudar's column
weighting, so edges to popular objects, a fraudster's camouflage, count little.

A block ``S`` (accounts and columns) has density ``g(S) = f(S) / |S|``, ``f`` the summed
weight of its edges and ``|S|`` its accounts plus columns. Fraudar's greedy peeling removes,
one node at a time, the node whose removal costs the least weight and keeps the densest
prefix (within a factor 2 of the densest block). Here, among blocks of at most
``max_block_accounts`` accounts (on large graphs the unconstrained densest block is a mass
of heavy users thousands strong), and fast on millions of edges:

1. a vectorised *batch* peeling (as Bahmani et al. 2012, finer: each pass drops every node
   of weighted degree at most ``(1 + eps) g``, ``eps = 0.05``, and at least 1% of the
   nodes left; ``O(E)`` a pass) gives a block of density ``g_lb``, in practice within a
   fraction of a percent of the greedy's;
2. nodes of weighted degree below ``g_lb`` are removed repeatedly (the ``g_lb``-core): a
   node of the densest block has at least its density as degree inside it (else dropping it
   would give a denser block, with no more accounts), so this removes none of it;
3. if that core has at most 250,000 edges, Fraudar's greedy peeling with a priority queue
   (``O(E log V)``) runs on it and the denser of its block and the batch block is kept.

Up to ``n_blocks`` blocks are found, each after removing the accounts of the previous ones (the
paper removes the block's edges; removing its accounts keeps blocks disjoint, so a pair
belongs to at most one block); a block needs 2 accounts.

Edges: two accounts of one *reported* block (see below) that share at least one of its
columns. ``weight`` is the number of block columns both touched, ``support`` the distinct
objects among them; for each such column, each account's earliest event in it gives an
``"event_a|event_b"`` evidence pair (distinct pairs, tightest first), and ``first_seen``,
``last_seen`` and ``median_delta_s`` describe those event pairs.

Null model and p-value
----------------------
The null is a degree-preserving shuffle: the column ends of all edges are permuted at random
(``random_state``), duplicates dropped, so every account keeps its number of columns and
every column its number of accounts (up to the duplicates); the same peeling runs on each of
``n_null`` shuffles, and its snapshots give the *envelope*: for every size ``n``, the highest
density of a chance block of at most ``n`` nodes (and ``max_block_accounts`` accounts). A
block of ``n`` nodes is compared with the ``n_null`` envelope values at ``n``: ``t = (g -
mean) / (sd sqrt(1 + 1 / n_null))``, sd floored at 1% of the mean, and the p-value is the
Student-t predictive tail on ``n_null - 1`` degrees of freedom. Only blocks denser than the
envelope mean are reported (the rest are listed in ``stats_["blocks"]`` and give no pairs),
so the p-value is conditional on that: twice the tail. Every pair of a block gets its
block's p-value. What it means, honestly: how surprising a block this dense is, for its
size, when nothing but the degrees is kept. It is a normal extrapolation from a few
shuffles, not a count (``stats_`` also has the empirical ``(1 + #{null >= g}) / (1 +
n_null)``); the block was chosen as the densest, not as the densest of its size, so it is
optimistic for a block found by chance; it says nothing about one pair of the block; and
communities (an authentic group, an audience active on the same days) are dense for reasons
other than chance, so they are "significant" too. ``expected`` is the null's density-based
expected number of shared columns of a pair of the block: with ``rho`` the block's share of
filled account-column cells and ``rho_0 = rho * mean_null / g``, ``|columns| * rho_0 ** 2``.

References
----------
Beutel, A., Xu, W., Guruswami, V., Palow, C., & Faloutsos, C. (2013). CopyCatch: stopping
group attacks by spotting lockstep behavior in social networks. WWW 2013, 119-130.
Hooi, B., Song, H. A., Beutel, A., Shah, N., Shin, K., & Faloutsos, C. (2016). FRAUDAR:
Bounding graph fraud in the face of camouflage. KDD 2016, 895-904.
https://doi.org/10.1145/2939672.2939747
Bahmani, B., Kumar, R., & Vassilvitskii, S. (2012). Densest subgraph in streaming and
MapReduce. PVLDB 5(5), 454-465.
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep._arrays import unique
from lockstep._lazy import special
from lockstep.detectors.base import (
    EDGE_SCHEMA,
    BaseDetector,
    Laps,
    check_int,
    check_real,
    empty_edges,
    match_account,
)
from lockstep.detectors.sweep import (
    KIND_SQL,
    Actions,
    check_object_types,
    distinct_per_group,
    pack,
    scope_sql,
    segments,
    sort_by_object,
    stage_actions,
    type_list,
)
from lockstep.detectors.synchrony import DEFAULT_OBJECT_TYPES
from lockstep.significance import P_FLOOR

if TYPE_CHECKING:
    import duckdb

__all__ = ["DenseBlockDetector", "SIGNALS", "fraudar_block"]

#: Signal name of this module's detector (no per-signal parameters).
SIGNALS: dict[str, dict[str, Any]] = {"dense-block": {}}

_US = 1_000_000
_TS = pa.timestamp("us", tz="UTC")
_EPS = 0.05  # batch peeling: drop nodes of degree <= (1 + eps) g per pass,
_FRAC = 0.01  # and at least this share of the nodes left
_MAX_EXACT_EDGES = 250_000  # larger cores keep the batch block (peeling one node at a time
# in Python costs a few microseconds an edge)
_SD_FLOOR = 0.01


# -- peeling -----------------------------------------------------------------------------------
def _batch_peel(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray, n_a: int, n_o: int,
                max_accounts: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised peeling in passes.

    Each pass drops every node of weighted degree at most ``max((1 + eps) g, q)``, ``g`` the
    current density and ``q`` the degree of the ``_FRAC`` quantile of the nodes left (so a
    pass removes at least that share). Dropping nodes of degree below ``g`` raises the
    density, so this follows the greedy peeling closely, ``O(E)`` per pass.

    Returns the density of the densest snapshot with at most ``max_accounts`` accounts, its
    account and object codes, and every snapshot as rows ``(nodes, accounts, density)``.
    """
    alive_a = np.bincount(ea, minlength=n_a) > 0
    alive_o = np.bincount(eo, minlength=n_o) > 0
    gone_a = np.full(n_a, -1, dtype=np.int64)  # pass that removed the node
    gone_o = np.full(n_o, -1, dtype=np.int64)
    gone_a[alive_a] = gone_o[alive_o] = np.iinfo(np.int64).max
    snaps: list[tuple[int, int, float]] = []
    while len(ea):
        deg_a = np.bincount(ea, weights=ew, minlength=n_a)
        deg_o = np.bincount(eo, weights=ew, minlength=n_o)
        na = int(alive_a.sum())
        n = na + int(alive_o.sum())
        g = float(ew.sum()) / n
        snaps.append((n, na, g))
        left = np.concatenate([deg_a[alive_a], deg_o[alive_o]])
        kth = max(1, int(_FRAC * len(left)))
        thr = max((1 + _EPS) * g, float(np.partition(left, kth - 1)[kth - 1]))
        drop_a, drop_o = alive_a & (deg_a <= thr), alive_o & (deg_o <= thr)
        gone_a[drop_a], gone_o[drop_o] = len(snaps) - 1, len(snaps) - 1
        alive_a &= ~drop_a
        alive_o &= ~drop_o
        keep = alive_a[ea] & alive_o[eo]
        ea, eo, ew = ea[keep], eo[keep], ew[keep]
        # nodes left without edges have degree 0 and go in the next pass
    curve = np.asarray(snaps, dtype=np.float64).reshape(-1, 3)
    ok = curve[:, 1] <= max_accounts
    if not ok.any():
        return -1.0, np.zeros(0, np.int64), np.zeros(0, np.int64), curve
    j = int(np.flatnonzero(ok)[np.argmax(curve[ok, 2])])
    return float(curve[j, 2]), np.flatnonzero(gone_a >= j), np.flatnonzero(gone_o >= j), curve


def _core(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray, n_a: int, n_o: int, g_lb: float
          ) -> np.ndarray:
    """Edges of the ``g_lb``-core (every node of weighted degree >= g_lb), as a mask."""
    idx = np.arange(len(ea))
    thr = g_lb * (1 - 1e-9)
    while len(idx):
        deg_a = np.bincount(ea[idx], weights=ew[idx], minlength=n_a)
        deg_o = np.bincount(eo[idx], weights=ew[idx], minlength=n_o)
        keep = (deg_a[ea[idx]] >= thr) & (deg_o[eo[idx]] >= thr)
        if keep.all():
            break
        idx = idx[keep]
    mask = np.zeros(len(ea), dtype=bool)
    mask[idx] = True
    return mask


def _greedy_peel(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray, max_accounts: int
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Fraudar's greedy peeling with a priority queue on a (compact) edge list.

    Returns the density of the densest prefix with at most ``max_accounts`` accounts, its
    account and object codes (of ``ea`` / ``eo``), and every prefix as rows ``(nodes,
    accounts, density)``.
    """
    ua, la = unique(ea, return_inverse=True)
    uo, lo = unique(eo, return_inverse=True)
    n_a, n = len(ua), len(ua) + len(uo)
    u = np.concatenate([la, lo + n_a])
    v = np.concatenate([lo + n_a, la])
    ww = np.concatenate([ew, ew])
    order = np.argsort(u, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(u, minlength=n))].tolist()
    nbr, wt = v[order].tolist(), ww[order].tolist()
    deg = np.bincount(u, weights=ww, minlength=n).tolist()
    heap = list(zip(deg, range(n), strict=True))
    heapq.heapify(heap)
    removed = bytearray(n)
    f, size, accs = float(ew.sum()), n, n_a
    peeled: list[int] = []
    snaps = [(n, n_a, f / n)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, x = pop(heap)
        if removed[x] or d != deg[x]:
            continue
        removed[x] = 1
        peeled.append(x)
        f -= d
        size -= 1
        accs -= x < n_a
        for j in range(indptr[x], indptr[x + 1]):
            y = nbr[j]
            if not removed[y]:
                deg[y] -= wt[j]
                push(heap, (deg[y], y))
        if size:
            snaps.append((size, accs, f / size))
    curve = np.asarray(snaps, dtype=np.float64)
    ok = curve[:, 1] <= max_accounts
    if not ok.any():
        return -1.0, np.zeros(0, np.int64), np.zeros(0, np.int64), curve
    k = int(np.flatnonzero(ok)[np.argmax(curve[ok, 2])])  # prefix k: k nodes peeled
    gone = np.zeros(n, dtype=bool)
    gone[np.asarray(peeled[:k], dtype=np.int64)] = True
    return float(curve[k, 2]), ua[~gone[:n_a]], uo[~gone[n_a:]], curve


def fraudar_block(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray, n_a: int, n_o: int,
                  max_accounts: int | None = None
                  ) -> tuple[float, np.ndarray, np.ndarray, dict[str, Any]]:
    """The densest block (Fraudar's objective) of a weighted bipartite edge list.

    Parameters
    ----------
    ea, eo : numpy.ndarray
        Account and object code of each edge (distinct edges), codes below ``n_a`` / ``n_o``.
    ew : numpy.ndarray
        Edge weights (> 0).
    max_accounts : int, optional
        Only blocks of at most this many accounts count.

    Returns
    -------
    (density, account codes, object codes, info)
        ``info`` has ``batch_density``, ``core_edges``, ``method`` (``greedy`` or
        ``batch``) and ``envelope``: ``(sizes, densities)``, for each block size (accounts
        plus objects) met while peeling, the highest density of a block of at most that
        many nodes (and at most ``max_accounts`` accounts), sizes ascending.
    """
    cap = n_a if max_accounts is None else max_accounts
    z = np.zeros(0, np.int64)
    if len(ea) == 0:
        return 0.0, z, z, {"core_edges": 0, "envelope": (np.ones(1), np.zeros(1))}
    g_b, ba, bo, curve = _batch_peel(ea, eo, ew, n_a, n_o, cap)
    info: dict[str, Any] = {"batch_density": g_b}
    # a node of the densest block (of at most cap accounts) has a degree of at least its
    # density inside it, so the g_b-core keeps that block whole
    core = _core(ea, eo, ew, n_a, n_o, g_b) if g_b > 0 else np.ones(len(ea), dtype=bool)
    info["core_edges"] = int(core.sum())
    result = g_b, ba, bo, "batch"
    if 0 < info["core_edges"] <= _MAX_EXACT_EDGES:
        g_e, ga, go, c_e = _greedy_peel(ea[core], eo[core], ew[core], cap)
        curve = np.r_[curve, c_e]
        if g_e >= g_b:
            result = g_e, ga, go, "greedy"
    curve = curve[curve[:, 1] <= cap]
    if len(curve) == 0:
        curve = np.zeros((1, 3))
    order = np.argsort(curve[:, 0], kind="stable")
    info["envelope"] = (curve[order, 0], np.maximum.accumulate(curve[order, 2]))
    info["method"] = result[3]
    return result[0], result[1], result[2], info


# -- the detector ------------------------------------------------------------------------------
class DenseBlockDetector(BaseDetector):
    """Accounts in a dense account x object block (Fraudar), paired within each block.

    See the module docstring for the exact semantics, the algorithm and the null model.

    Parameters
    ----------
    object_types : tuple of str, default ("post", "url", "reply", "hashtag", "image")
        The objects of the bipartite graph (types of the ``objects`` view).
    bucket_s : float or None, default 86400
        Width of the time buckets of a column, in seconds (UTC-aligned); ``None``: one
        column per object, time ignored.
    n_blocks : int, default 20
        Most blocks searched for (each needs at least 2 accounts).
    log_c : float, default 5.0
        The ``c`` of the column weight ``1 / log(k + c)`` (Fraudar uses 5; above -1 keeps
        the weight of a column of 2 accounts finite).
    max_block_accounts : int, default 500
        Only blocks of at most this many accounts are searched for (in the data and in the
        null).
    n_null : int, default 5
        Degree-preserving shuffles peeled for the null envelope.
    random_state : int, default 0
        Seed of the shuffles.
    min_weight : int, default 1
    max_evidence : int, default 10

    Attributes
    ----------
    edges_, signal_ (``"dense-block"``), stats_, workspace_
        ``stats_`` has ``rows``, ``events``, ``accounts``, ``objects``, ``columns``,
        ``columns_shared``, ``incidences`` (edges of the graph), ``blocks`` (per block:
        accounts, columns, edges, density, null_density (the envelope of each shuffle at the
        block's size), p_value, empirical_p, expected_shared, method, core_edges, reported,
        pairs), ``null_densest`` and ``seconds``.

    References
    ----------
    .. [1] Hooi, B., Song, H. A., Beutel, A., Shah, N., Shin, K., & Faloutsos, C. (2016).
       FRAUDAR: Bounding graph fraud in the face of camouflage. KDD 2016, 895-904.
    """

    name = "dense-block"

    def __init__(self, *, object_types: tuple[str, ...] = DEFAULT_OBJECT_TYPES,
                 bucket_s: float | None = 86400, n_blocks: int = 20, log_c: float = 5.0,
                 max_block_accounts: int = 500, n_null: int = 5, random_state: int = 0,
                 min_weight: int = 1, max_evidence: int = 10) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.object_types = object_types
        self.bucket_s = bucket_s
        self.n_blocks = n_blocks
        self.log_c = log_c
        self.max_block_accounts = max_block_accounts
        self.n_null = n_null
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_object_types(self.object_types)
        check_real("bucket_s", self.bucket_s, 1e-6, 1e9, optional=True)
        check_int("n_blocks", self.n_blocks, 1)
        check_real("log_c", self.log_c, -1.0, 1e6, open_low=True)
        check_int("max_block_accounts", self.max_block_accounts, 2)
        check_int("n_null", self.n_null, 1)
        check_int("random_state", self.random_state, 0)

    def _signal_name(self) -> str:
        return "dense-block"

    # -- the pipeline ----------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        act = stage_actions(con, self.object_types, "db")
        lap("stage")
        n_a = len(act.acc_id)
        stats: dict[str, Any] = {
            "signal": "dense-block", "object_types": list(self.object_types),
            "bucket_s": None if self.bucket_s is None else float(self.bucket_s),
            "rows": int(len(act.a)), "events": act.n_events, "accounts": n_a,
            "objects": len(act.obj_id)}
        self._blocks: list[tuple[set[tuple[str, str]], set[tuple[str, str, str, int]]]] = []
        # columns: (object, time bucket); edges: distinct (account, column), each with the
        # account's earliest event in it
        bucket = self._bucket(act.t)
        col_code = pack(act.o, bucket)
        ac = pack(act.a, col_code)
        order = sort_by_object(ac)  # stable: event order kept
        ac = ac[order]
        first = order[np.r_[True, ac[1:] != ac[:-1]]] if len(ac) else order
        ea, ee, et = act.a[first], act.e[first], act.t[first]
        ucol, ec = unique(col_code[first], return_inverse=True)
        n_c = len(ucol)
        col_obj = np.zeros(n_c, dtype=np.int64)
        col_bucket = np.zeros(n_c, dtype=np.int64)
        col_obj[ec], col_bucket[ec] = act.o[first], bucket[first]
        k = np.bincount(ec, minlength=n_c)
        keep = k[ec] >= 2
        ea, ec, ee, et = ea[keep], ec[keep], ee[keep], et[keep]
        ew = 1.0 / np.log(k[ec] + float(self.log_c))
        stats.update(columns=n_c, columns_shared=int(np.count_nonzero(k >= 2)),
                     incidences=int(len(ea)))
        lap("graph")

        blocks: list[dict[str, Any]] = []
        alive = np.ones(len(ea), dtype=bool)
        for _ in range(self.n_blocks):
            idx = np.flatnonzero(alive)
            if len(idx) == 0:
                break
            g, ba, bo, info = fraudar_block(ea[idx], ec[idx], ew[idx], n_a, n_c,
                                           self.max_block_accounts)
            if len(ba) < 2:
                break
            in_a = np.zeros(n_a, dtype=bool)
            in_a[ba] = True
            alive &= ~in_a[ea]
            info.pop("envelope", None)
            blocks.append({"density": g, "acc": ba, "col": bo, **info})
        lap("blocks")

        rng = np.random.default_rng(self.random_state)
        null: list[tuple[np.ndarray, np.ndarray]] = []
        for _ in range(self.n_null if blocks else 0):
            sa, sc = _distinct_pairs(ea, ec[rng.permutation(len(ec))], n_c)
            sw = 1.0 / np.log(k[sc] + float(self.log_c))
            null.append(fraudar_block(sa, sc, sw, n_a, n_c,
                                      self.max_block_accounts)[3]["envelope"])
        stats["null_densest"] = [round(float(d[-1]), 6) for _, d in null]
        lap("null")

        parts = []
        stats["blocks"] = []
        graph = (ea, ec, ee, et, ew, col_obj, col_bucket)
        for b in blocks:
            part, rep = self._block_pairs(act, b, graph, null)
            stats["blocks"].append(rep)
            if part is not None:
                parts.append(part)
        lap("pairs")
        stats["seconds"] = secs
        if not parts:
            return empty_edges(), stats
        table = pa.concat_tables(parts)
        order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in (
            "platform_a", "account_a", "platform_b", "account_b")])
        return table.take(order), stats

    def _bucket(self, t: np.ndarray) -> np.ndarray:
        if self.bucket_s is None:
            return np.zeros(len(t), dtype=np.int64)
        return t // max(1, int(round(float(self.bucket_s) * _US)))

    def _block_pairs(self, act: Actions, b: dict[str, Any], graph: tuple[np.ndarray, ...],
                     null: list[tuple[np.ndarray, np.ndarray]]
                     ) -> tuple[pa.Table | None, dict[str, Any]]:
        ea, ec, ee, et, ew, col_obj, col_bucket = graph
        n_a, n_c = len(act.acc_id), len(col_obj)
        in_a = np.zeros(n_a, dtype=bool)
        in_a[b["acc"]] = True
        in_c = np.zeros(n_c, dtype=bool)
        in_c[b["col"]] = True
        sel = np.flatnonzero(in_a[ea] & in_c[ec])
        g = float(b["density"])
        n_acc, n_col = len(b["acc"]), len(b["col"])
        env = [_envelope_at(e, n_acc + n_col) for e in null]
        p, emp = _block_p(g, env)
        mean0 = float(np.mean(env)) if env else 0.0
        rho = len(sel) / max(1, n_acc * n_col)
        rho0 = min(1.0, rho * mean0 / g) if g > 0 else rho
        expected = n_col * rho0 * rho0
        rep: dict[str, Any] = {
            "accounts": n_acc, "columns": n_col, "edges": int(len(sel)),
            "density": round(g, 6), "null_density": [round(x, 6) for x in env],
            "p_value": p, "empirical_p": emp, "expected_shared": expected,
            "method": b.get("method"), "core_edges": b.get("core_edges"),
            "reported": g > mean0}
        if not rep["reported"]:  # no denser than chance makes a block of its size
            return None, rep
        self._blocks.append((
            {(act.acc_platform[int(x)].as_py(), act.acc_id[int(x)].as_py())
             for x in np.flatnonzero(in_a)},
            {(act.obj_type[int(o)].as_py(), act.obj_scope[int(o)].as_py(),
              act.obj_id[int(o)].as_py(), int(bk))
             for o, bk in zip(col_obj[b["col"]], col_bucket[b["col"]], strict=True)}))
        # pairs: per column, its block accounts in code order
        ra, rc, re_, rt = ea[sel], ec[sel], ee[sel], et[sel]
        srt = sort_by_object(pack(rc, ra))
        ra, rc, re_, rt = ra[srt], rc[srt], re_[srt], rt[srt]
        starts, size = segments(rc)
        end = np.repeat(starts + size, size)
        cand = end - np.arange(len(rc)) - 1
        total = int(cand.sum())
        if total == 0:
            return None, rep
        left = np.repeat(np.arange(len(rc)), cand)
        right = left + 1 + np.arange(total) - np.repeat(np.cumsum(cand) - cand, cand)
        code = ra[left] * n_a + ra[right]
        order = sort_by_object(code)
        code, left, right = code[order], left[order], right[order]
        gstart, gsize = segments(code)
        n_p = len(gstart)
        gid = np.repeat(np.arange(n_p), gsize)
        acc_a, acc_b = code[gstart] // n_a, code[gstart] % n_a
        tl, tr, el, er = rt[left], rt[right], re_[left], re_[right]
        first = np.minimum.reduceat(np.minimum(tl, tr), gstart)
        last = np.maximum.reduceat(np.maximum(tl, tr), gstart)
        support = distinct_per_group(gid, col_obj[rc[left]], n_p)
        d = np.abs(tr - tl)
        s2 = np.lexsort((er, el, d, gid))
        gs, ds, ls, rs = gid[s2], d[s2], el[s2], er[s2]
        median = (ds[gstart + (gsize - 1) // 2] + ds[gstart + gsize // 2]) / 2.0 / _US
        uniq = np.r_[True, (gs[1:] != gs[:-1]) | (ls[1:] != ls[:-1]) | (rs[1:] != rs[:-1])]
        gs, ls, rs = gs[uniq], ls[uniq], rs[uniq]
        ucnt = np.bincount(gs, minlength=n_p)
        rank = np.arange(len(gs)) - (np.cumsum(ucnt) - ucnt)[gs]
        top = rank < self.max_evidence
        n_ev = np.minimum(ucnt, self.max_evidence)
        ids = pc.binary_join_element_wise(act.ev_id.take(ls[top]), act.ev_id.take(rs[top]), "|")
        offsets = np.r_[0, np.cumsum(n_ev)].astype(np.int32)
        table = pa.table([
            act.acc_platform.take(acc_a), act.acc_id.take(acc_a),
            act.acc_platform.take(acc_b), act.acc_id.take(acc_b),
            pa.repeat(pa.scalar("dense-block"), n_p),
            pa.array(gsize.astype(np.int64), pa.int64()), pa.array(support, pa.int64()),
            pa.array(first, pa.int64()).cast(_TS), pa.array(last, pa.int64()).cast(_TS),
            pa.array(median, pa.float64()), pa.ListArray.from_arrays(pa.array(offsets), ids),
            pa.repeat(pa.scalar(expected, pa.float64()), n_p),
            pa.repeat(pa.scalar(p, pa.float64()), n_p),
        ], schema=EDGE_SCHEMA)
        rep["pairs"] = n_p
        return table, rep

    # -- evidence ------------------------------------------------------------------------------
    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        # An independent recomputation from the two accounts' rows and the blocks found.
        sql = f"""
        SELECT DISTINCT platform, account_id, event_id, epoch_us(ts) AS t, {KIND_SQL},
            {scope_sql()} AS op, object_id
        FROM objects
        WHERE object_type IN ({type_list(self.object_types)}) AND object_id IS NOT NULL
          AND trim(object_id) <> '' AND account_id IN ($aa, $ab) AND ts IS NOT NULL
          AND event_id IS NOT NULL"""
        rows = con.execute(sql, {"aa": a[1], "ab": b[1]}).fetchall()
        for accs, objs in self._blocks:
            x = [acc for acc in accs if match_account(a, acc)]
            y = [acc for acc in accs if match_account(b, acc)]
            if len(x) != 1 or len(y) != 1 or x == y:
                continue
            pair = sorted([x[0], y[0]])
            first: list[dict[tuple[str, str], tuple[int, str, str]]] = [{}, {}]
            for p, acc, ev, t, ot, op, oid in rows:
                key = (ot, op, oid, int(self._bucket(np.array([t]))[0]))
                if key not in objs or (p, acc) not in pair:
                    continue
                side = pair.index((p, acc))
                cur = first[side].get(key)
                if cur is None or (t, p, ev) < cur:
                    first[side][key] = (t, p, ev)
            shared = [k for k in first[0] if k in first[1]]
            if not shared:
                continue
            out = {(abs(first[0][k][0] - first[1][k][0]), first[0][k], first[1][k])
                   for k in shared}
            return [f"{u[2]}|{v[2]}" for _, u, v in sorted(out)]
        return []


def _distinct_pairs(a: np.ndarray, c: np.ndarray, n_c: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs ``(a, c)`` (``0 <= c < n_c``), sorted by ``(a, c)``."""
    if len(a) == 0 or (int(a.max()) + 1) * n_c <= (1 << 63):
        pk = unique(a * n_c + c)  # below 2**63: the codes cannot overflow
        return pk // n_c, pk % n_c
    order = np.lexsort((c, a))
    a, c = a[order], c[order]
    new = np.r_[True, (a[1:] != a[:-1]) | (c[1:] != c[:-1])]
    return a[new], c[new]


def _envelope_at(env: tuple[np.ndarray, np.ndarray], size: int) -> float:
    """The densest block of at most ``size`` nodes in a null peeling (its smallest block if
    every one is larger)."""
    sizes, dens = env
    i = int(np.searchsorted(sizes, size, side="right")) - 1
    return float(dens[max(i, 0)])


def _block_p(g: float, null: list[float]) -> tuple[float, float]:
    """(Student-t predictive p-value, empirical p-value) of density ``g`` against ``null``."""
    r = len(null)
    if r == 0:
        return 1.0, 1.0
    x = np.asarray(null, dtype=np.float64)
    emp = float((1 + np.count_nonzero(x >= g)) / (1 + r))
    if r < 2:
        return emp, emp
    mean = float(x.mean())
    sd = max(float(x.std(ddof=1)), _SD_FLOOR * abs(mean), 1e-12)
    t = (g - mean) / (sd * np.sqrt(1 + 1 / r))
    # conditional on the block being reported (t > 0, probability 1/2 under the null)
    p = 2.0 * float(special.stdtr(r - 1, -t))
    return float(min(1.0, max(p, P_FLOOR))), emp
