"""Synchrony (SynchroTrap-style): accounts whose sets of timed actions overlap.

Semantics (exactly)
-------------------
An *action* is an (object, time window) token. The objects of an event are those of the
``objects`` view of the types in ``object_types`` (by default the re-posted post, the URL,
the post replied to, the hashtags and the images). A reply to a post and a re-post of it
are both actions on that post (one object kind, ``post``); post ids are matched within a
platform, URLs, hashtags and images across platforms. Time is cut into windows of
``bucket_s`` seconds on two grids offset by half a window (SynchroTrap's overlapping
windows, Cao et al. 2014): grid 0 has windows ``[k w, (k+1) w)``, grid 1
``[(k+1/2) w, (k+3/2) w)`` (UNIX time). An account's *action set* is the set of tokens
``(object, grid, window)`` of all its events. Two events on the same object less than
``w / 2`` apart always share a token on at least one grid; events ``w`` or more apart
never do.

* Only accounts with at least ``min_actions`` distinct grid-0 tokens take part.
* A token held by more than ``max_key_accounts`` accounts is *capped*: it makes no pairs and
  counts in no intersection (it still counts in its accounts' set sizes). Capped tokens are
  counted, and the largest listed, in ``stats_``. Candidate pairs come only from the accounts
  of one uncapped token, so the Cartesian product of all accounts is never formed.
* For a pair, ``s_g`` is the number of tokens of grid ``g`` the two accounts share. The
  similarity is the Jaccard index of the two action sets, ``J = (s_0 + s_1) / |A u B|``
  (both grids); an edge needs ``J >= min_jaccard`` and ``max(s_0, s_1) >= min_weight``.
* ``weight`` is ``max(s_0, s_1)`` (grid 0 on ties), the shared actions on the better-aligned
  grid, and the other columns describe those shared tokens: ``support`` the distinct objects
  among them, ``first_seen``/``last_seen`` the earliest and latest of the two accounts'
  events behind them, ``median_delta_s`` the median of ``|t_a - t_b|`` over them, and
  ``evidence`` the distinct ``"event_a|event_b"`` pairs (each account's earliest event in
  the token), tightest first (smallest delta, then earliest events).

Null model and p-value
----------------------
Per grid, tokens are the columns of a bipartite account x token graph. Under the null every
account picks its tokens independently, within its platform (the posts of one platform are
out of the others' reach): a Chung-Lu configuration model that keeps each account's number
of tokens ``d_a`` and, per platform ``p``, each token's number of accounts ``n_pk`` in
expectation, ``P(a holds k) = min(1, d_a n_pk / M_p)`` (``M_p`` the incidences of ``p``).
The expected shared uncapped tokens of a same-platform pair on grid ``g`` is

    E_g(a, b) = sum over uncapped tokens k of  min(1, d_a n_pk / M_p) * min(1, d_b n_pk / M_p)

computed in ``O(log tokens)`` per pair from prefix sums; a cross-platform pair gets
``d_a d_b sum_k n_pk n_qk / (M_p M_q)``. A token is an object *in a time window*, so a viral
post in its hour (large ``n_pk``) and a hyperactive account (large ``d_a``) explain their
coincidences.

The test statistic ``m`` counts *matched actions*: of the shared tokens of the weight's
grid, the distinct (object kind, event) pairs of account a, or of account b if fewer. Five
hashtags of one post shared with another post are one match, not five (hashtags come in
bundles); a post that shares the same re-post, URL, hashtag and image with another is four.
``m`` is at most the shared tokens, whose count is a sum of independent Bernoulli trials
under the null, with an upper tail bounded by the Poisson tail of the same mean. With
``lambda = max(E_0, E_1)`` (written as ``expected``) and a Bonferroni factor 2 for the choice
of grid,

    p_value = min(1, 2 * P(Pois(lambda) >= m) / P(Pois(lambda) >= 1)),

a conservative p-value conditional on the pair sharing at least one action (the candidate
set); one matched event is never evidence (``p = 1``). ``min_weight`` and ``min_jaccard``
filter on top and do not change it. The null knows nothing of communities: an authentic
group that replies to the same threads in the same hours is "significant" too; the p-value
says "not chance", not "not authentic".

Cost: ``O(N log N + P log P)`` for ``N`` object rows and ``P`` candidate (pair, token)
incidences; ``P`` is bounded by ``max_key_accounts`` and processed in chunks of at most
``pair_budget`` incidences (by ranges of the lower account), so memory stays bounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors.base import (
    EDGE_SCHEMA,
    BaseDetector,
    Laps,
    check_int,
    check_real,
    empty_edges,
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
from lockstep.significance import CoActionNull, poisson_pvalue

if TYPE_CHECKING:
    import duckdb

__all__ = ["SynchronyDetector", "SIGNALS", "DEFAULT_OBJECT_TYPES"]

#: Signal name of this module's detector (no per-signal parameters).
SIGNALS: dict[str, dict[str, Any]] = {"synchrony": {}}
#: Object types of an action by default.
DEFAULT_OBJECT_TYPES = ("post", "url", "reply", "hashtag", "image")

_US = 1_000_000
_MAX_REPORTED = 20
_TS = pa.timestamp("us", tz="UTC")


# -- staging helpers ---------------------------------------------------------------------------
def _codes(x: pa.Array | pa.ChunkedArray) -> tuple[int, np.ndarray]:
    """The number of distinct values of ``x`` and each value's code (in order of first
    appearance; for the sorted arrays staged here that is sorted order, as np.unique gives)."""
    if isinstance(x, pa.ChunkedArray):
        x = x.combine_chunks()
    enc = pc.dictionary_encode(x)
    return len(enc.dictionary), enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)


# -- the null ----------------------------------------------------------------------------------
class _StratifiedNull:
    """The Chung-Lu null within platforms: an account of platform ``p`` holds token ``k``
    with probability ``min(1, d_a n_pk / M_p)`` (``n_pk`` the accounts of ``p`` holding it,
    ``M_p`` the incidences of ``p``), since the posts of one platform are out of reach of the
    others. Same-platform pairs use the exact sum ``E(a, b) = sum_k min(1, d_a n_pk / M_p)
    min(1, d_b n_pk / M_p)`` over the counted tokens (:meth:`CoActionNull.from_counts`, the
    co-action null without timing, O(log tokens) per pair from prefix sums); cross-platform
    pairs ``d_a d_b sum_k n_pk n_qk / (M_p M_q)`` (no cap at 1: an upper bound)."""

    def __init__(self, degree: np.ndarray, acc_plat: np.ndarray, n_plat: int,
                 key_index: np.ndarray, row_plat: np.ndarray, n_keys: int,
                 counted: np.ndarray) -> None:
        npk = np.bincount(key_index * n_plat + row_plat, minlength=n_keys * n_plat)
        npk = npk.reshape(n_keys, n_plat).astype(np.float64)
        M = np.maximum(npk.sum(axis=0), 1.0)
        c = npk[counted]
        self.acc_plat = acc_plat
        self.degree = degree.astype(np.float64)
        self.same = [CoActionNull.from_counts(degree, c[c[:, p] > 0, p], M[p])
                     for p in range(n_plat)]
        self.cross = (c.T @ c) / np.outer(M, M)

    def expected(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        pa, pb = self.acc_plat[a], self.acc_plat[b]
        out = self.degree[a] * self.degree[b] * self.cross[pa, pb]
        for p, null in enumerate(self.same):
            m = (pa == p) & (pb == p)
            if m.any():
                out[m] = null.expected(a[m], b[m])
        return out


# -- the detector ------------------------------------------------------------------------------
@dataclass
class _Grid:
    """One grid's distinct (token, account) rows, sorted by (token, account)."""

    key: np.ndarray  # token code
    a: np.ndarray
    e: np.ndarray  # the account's earliest event in the token
    t: np.ndarray
    o: np.ndarray
    b: np.ndarray  # window index


class SynchronyDetector(BaseDetector):
    """Accounts whose timed actions overlap (SynchroTrap): Jaccard of (object, window) sets.

    See the module docstring for the exact semantics and the null model.

    Parameters
    ----------
    object_types : tuple of str, default ("post", "url", "reply", "hashtag", "image")
        The objects an action is on (types of the ``objects`` view).
    bucket_s : float, default 3600
        Window width in seconds; two grids offset by half a window.
    min_actions : int, default 5
        Accounts with fewer distinct (object, window) tokens on grid 0 are left out.
    max_key_accounts : int, default 50
        Tokens held by more accounts are capped (no pairs; counted in ``stats_``). Fifty
        accounts on one object in one window is a crowd (a viral post, a trending hashtag):
        on the simulated worlds a lower cap loses few coordinated pairs and many chance
        ones. A very large group acting on the same objects is capped out here; the
        dense-block detector (no cap, popular columns down-weighted) is the one for it.
    min_jaccard : float, default 0.0
        Keep pairs whose Jaccard similarity is at least this.
    min_weight : int, default 2
        Keep pairs sharing at least this many actions (on the better grid); one shared action
        has ``p_value = 1`` anyway.
    max_evidence : int, default 10
    pair_budget : int, default 20_000_000
        Most candidate (pair, token) incidences held at once (about 40 bytes each).

    Attributes
    ----------
    edges_, signal_ (``"synchrony"``), stats_, workspace_
        ``stats_`` has ``rows``, ``events``, ``accounts``, ``accounts_eligible``, per grid
        (``grid0``, ``grid1``) ``tokens``, ``capped_tokens``, ``capped_incidences`` and
        ``candidate_incidences``,
        ``capped_examples`` (largest capped tokens), ``pairs`` (sharing >= 1 action),
        ``chunks`` and ``seconds``.

    References
    ----------
    .. [1] Cao, Q., Yang, X., Yu, J., & Palow, C. (2014). Uncovering large groups of active
       malicious accounts in online social networks. ACM CCS 2014, 477-488.
       https://doi.org/10.1145/2660267.2660269
    """

    name = "synchrony"

    def __init__(self, *, object_types: tuple[str, ...] = DEFAULT_OBJECT_TYPES,
                 bucket_s: float = 3600, min_actions: int = 5, max_key_accounts: int = 50,
                 min_jaccard: float = 0.0, min_weight: int = 2, max_evidence: int = 10,
                 pair_budget: int = 20_000_000) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.object_types = object_types
        self.bucket_s = bucket_s
        self.min_actions = min_actions
        self.max_key_accounts = max_key_accounts
        self.min_jaccard = min_jaccard
        self.pair_budget = pair_budget

    def _validate_params(self) -> None:
        super()._validate_params()
        check_object_types(self.object_types)
        check_real("bucket_s", self.bucket_s, 1e-6, 1e9)
        check_int("min_actions", self.min_actions, 1)
        check_int("max_key_accounts", self.max_key_accounts, 2)
        check_real("min_jaccard", self.min_jaccard, 0, 1)
        check_int("pair_budget", self.pair_budget, 1)

    def _signal_name(self) -> str:
        return "synchrony"

    # -- the pipeline ----------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        act = stage_actions(con, self.object_types, "sy")
        lap("stage")
        n_acc = len(act.acc_id)
        stats: dict[str, Any] = {
            "signal": "synchrony", "object_types": list(self.object_types),
            "bucket_s": float(self.bucket_s), "rows": int(len(act.a)), "events": act.n_events,
            "accounts": n_acc, "objects": len(act.obj_id)}
        self._capped: set[tuple[int, str, str, str, int]] = set()
        if len(act.a) == 0:
            stats.update(accounts_eligible=0, pairs=0, seconds=secs)
            return empty_edges(), stats
        w = max(1, int(round(float(self.bucket_s) * _US)))
        grids = [self._grid(act, g, w) for g in (0, 1)]
        deg = [np.bincount(gr.a, minlength=n_acc) for gr in grids]
        eligible = deg[0] >= self.min_actions
        stats["accounts_eligible"] = int(eligible.sum())
        grids = [_take(gr, eligible[gr.a]) for gr in grids]
        deg = [np.where(eligible, d, 0) for d in deg]
        lap("tokens")

        n_plat, acc_plat = _codes(act.acc_platform)
        nulls, cands = [], []
        for g, gr in enumerate(grids):
            starts, size = segments(gr.key)
            capped = size > self.max_key_accounts
            pairable = (size >= 2) & ~capped
            key_index = np.repeat(np.arange(len(starts)), size)
            nulls.append(_StratifiedNull(deg[g], acc_plat, n_plat, key_index,
                                         acc_plat[gr.a], len(starts), ~capped))
            end = np.repeat(starts + size, size)
            cand = np.where(np.repeat(pairable, size), end - np.arange(len(gr.key)) - 1, 0)
            cands.append(cand.astype(np.int64))
            stats[f"grid{g}"] = {
                "tokens": int(len(starts)), "capped_tokens": int(capped.sum()),
                "capped_incidences": int(size[capped].sum()),
                "candidate_incidences": int(cand.sum())}
            self._record_capped(act, gr, g, starts[capped], size[capped], stats)
        lap("null")

        # chunks of lower-account ranges holding at most pair_budget incidences each
        per_acc = sum(np.bincount(gr.a, weights=c, minlength=n_acc)
                      for gr, c in zip(grids, cands, strict=True))
        cum = np.cumsum(per_acc)
        bounds = [0]
        while bounds[-1] < n_acc:
            base = cum[bounds[-1] - 1] if bounds[-1] else 0.0
            nxt = int(np.searchsorted(cum, base + self.pair_budget, side="right"))
            bounds.append(min(n_acc, max(nxt, bounds[-1] + 1)))
        parts, n_pairs = [], 0
        sizes = deg[0] + deg[1]
        cat = _concat_grids(grids, _codes(act.obj_type)[1])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if cum[hi - 1] - (cum[lo - 1] if lo else 0.0) <= 0:
                continue
            part, n = self._chunk(act, grids, cat, cands, nulls, sizes, lo, hi)
            n_pairs += n
            if part is not None:
                parts.append(part)
        stats.update(pairs=n_pairs, chunks=len(bounds) - 1)
        lap("pairs")
        stats["seconds"] = secs
        return (pa.concat_tables(parts) if parts else empty_edges()), stats

    def _grid(self, act: Actions, g: int, w: int) -> _Grid:
        b = (act.t + g * (w // 2)) // w
        bb = b - int(b.min())
        key = pack(act.o, bb)
        ka = pack(key, act.a)
        order = sort_by_object(ka)  # stable: event order kept inside a (token, account)
        ka = ka[order]
        first = order[np.r_[True, ka[1:] != ka[:-1]]] if len(ka) else order
        return _Grid(key=key[first], a=act.a[first], e=act.e[first], t=act.t[first],
                     o=act.o[first], b=b[first])

    def _record_capped(self, act: Actions, gr: _Grid, g: int, starts: np.ndarray,
                       size: np.ndarray, stats: dict[str, Any]) -> None:
        for s in starts:
            o = int(gr.o[s])
            self._capped.add((g, act.obj_type[o].as_py(), act.obj_scope[o].as_py(),
                              act.obj_id[o].as_py(), int(gr.b[s])))
        top = np.argsort(-size, kind="stable")[:_MAX_REPORTED]
        ex = stats.setdefault("capped_examples", [])
        for k in top:
            s = int(starts[k])
            ex.append({"grid": g, "object_type": act.obj_type[int(gr.o[s])].as_py(),
                       "object_id": act.obj_id[int(gr.o[s])].as_py(),
                       "window_start_s": int(gr.b[s]) * float(self.bucket_s)
                       + g * float(self.bucket_s) / 2, "accounts": int(size[k])})
        ex.sort(key=lambda d: -d["accounts"])
        del ex[_MAX_REPORTED:]

    def _chunk(self, act: Actions, grids: list[_Grid], cat: dict[str, np.ndarray],
               cands: list[np.ndarray], nulls: list[_StratifiedNull], sizes: np.ndarray, lo: int,
               hi: int
               ) -> tuple[pa.Table | None, int]:
        n_acc = len(act.acc_id)
        codes, lefts, rights = [], [], []
        offset = 0
        for g, (gr, cand) in enumerate(zip(grids, cands, strict=True)):
            idx = np.flatnonzero((cand > 0) & (gr.a >= lo) & (gr.a < hi))
            k = cand[idx]
            total = int(k.sum())
            left = np.repeat(idx, k)
            right = left + 1 + np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
            codes.append((gr.a[left] * n_acc + gr.a[right]) * 2 + g)
            lefts.append(left + offset)
            rights.append(right + offset)
            offset += len(gr.key)
        code = np.concatenate(codes)
        if len(code) == 0:
            return None, 0
        order = sort_by_object(code)
        code = code[order]
        left, right = np.concatenate(lefts)[order], np.concatenate(rights)[order]
        del codes, lefts, rights, order
        # (pair, grid) groups, then pairs
        gstart, gsize = segments(code)
        gcode = code[gstart]
        pair = gcode >> 1
        pstart = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        n_p = len(pstart)
        pid = np.cumsum(np.r_[True, pair[1:] != pair[:-1]]) - 1
        s = np.zeros((n_p, 2), dtype=np.int64)
        s[pid, gcode & 1] = gsize
        pa_code = pair[pstart]
        acc_a, acc_b = pa_code // n_acc, pa_code % n_acc
        weight = s.max(axis=1)
        best = (s[:, 1] > s[:, 0]).astype(np.int64)  # ties: grid 0
        shared = s.sum(axis=1)
        jac = shared / (sizes[acc_a] + sizes[acc_b] - shared)
        keep = (weight >= self.min_weight) & (jac >= self.min_jaccard)
        if not keep.any():
            return None, n_p
        kp = np.flatnonzero(keep)
        gkeep = keep[pid] & ((gcode & 1) == best[pid])  # one group per kept pair
        acc_a, acc_b, weight = acc_a[kp], acc_b[kp], weight[kp]
        lam = np.maximum(nulls[0].expected(acc_a, acc_b), nulls[1].expected(acc_a, acc_b))
        # rows of the kept pairs' best grid
        n_k = len(kp)
        rowsel = np.repeat(gkeep, gsize)
        left, right = left[rowsel], right[rowsel]
        gid = np.repeat(np.arange(n_k), gsize[gkeep])
        tl, tr = cat["t"][left], cat["t"][right]
        el, er = cat["e"][left], cat["e"][right]
        ob = cat["o"][left]
        gst = np.cumsum(gsize[gkeep]) - gsize[gkeep]  # gid's starts: every group has rows
        first = np.minimum.reduceat(np.minimum(tl, tr), gst)
        last = np.maximum.reduceat(np.maximum(tl, tr), gst)
        # support: distinct objects per pair
        support = distinct_per_group(gid, ob, n_k)
        # median delta, then distinct event pairs tightest first
        d = np.abs(tr - tl)
        srt = np.lexsort((er, el, d, gid))
        gs, ds, ls, rs = gid[srt], d[srt], el[srt], er[srt]
        cnt = np.bincount(gs, minlength=n_k)
        g0 = np.cumsum(cnt) - cnt
        median = (ds[g0 + (cnt - 1) // 2] + ds[g0 + cnt // 2]) / 2.0 / _US
        uniq = np.r_[True, (gs[1:] != gs[:-1]) | (ls[1:] != ls[:-1]) | (rs[1:] != rs[:-1])]
        gs, ls, rs = gs[uniq], ls[uniq], rs[uniq]
        ucnt = np.bincount(gs, minlength=n_k)
        # the test statistic: matched (object kind, event) pairs, min over the two accounts
        kind = cat["kind"][left]
        m = np.minimum(distinct_per_group(gid, pack(kind, el), n_k),
                       distinct_per_group(gid, pack(kind, er), n_k))
        pval = np.minimum(1.0, 2.0 * poisson_pvalue(m, lam))
        rank = np.arange(len(gs)) - (np.cumsum(ucnt) - ucnt)[gs]
        top = rank < self.max_evidence
        n_ev = np.minimum(ucnt, self.max_evidence)
        ids = pc.binary_join_element_wise(act.ev_id.take(ls[top]), act.ev_id.take(rs[top]), "|")
        offsets = np.r_[0, np.cumsum(n_ev)].astype(np.int32)
        table = pa.table([
            act.acc_platform.take(acc_a), act.acc_id.take(acc_a),
            act.acc_platform.take(acc_b), act.acc_id.take(acc_b),
            pa.repeat(pa.scalar("synchrony"), n_k),
            pa.array(weight, pa.int64()), pa.array(support, pa.int64()),
            pa.array(first, pa.int64()).cast(_TS), pa.array(last, pa.int64()).cast(_TS),
            pa.array(median, pa.float64()), pa.ListArray.from_arrays(pa.array(offsets), ids),
            pa.array(lam, pa.float64()), pa.array(pval, pa.float64()),
        ], schema=EDGE_SCHEMA)
        return table, n_p

    # -- evidence ------------------------------------------------------------------------------
    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        # An independent recomputation from the two accounts' rows (and the capped tokens).
        sql = f"""
        SELECT DISTINCT platform, account_id, event_id, epoch_us(ts) AS t, {KIND_SQL},
            {scope_sql()} AS op, object_id
        FROM objects
        WHERE object_type IN ({type_list(self.object_types)}) AND object_id IS NOT NULL
          AND trim(object_id) <> '' AND account_id IN ($aa, $ab) AND ts IS NOT NULL
          AND event_id IS NOT NULL"""
        rows = con.execute(sql, {"aa": a[1], "ab": b[1]}).fetchall()
        accs = sorted({(p, acc) for p, acc, *_ in rows
                       if any(acc == r[1] and (r[0] is None or r[0] == p) for r in (a, b))})
        if len(accs) != 2:
            return []
        w = max(1, int(round(float(self.bucket_s) * _US)))
        # per grid and account: token -> earliest event (t, platform, event_id)
        tok: list[list[dict[tuple[Any, ...], tuple[int, str, str]]]] = [[{}, {}], [{}, {}]]
        for p, acc, ev, t, ot, op, oid in rows:
            if (p, acc) not in accs:
                continue
            side = accs.index((p, acc))
            for g in (0, 1):
                k = (ot, op, oid, (t + g * (w // 2)) // w)
                cur = tok[g][side].get(k)
                if cur is None or (t, p, ev) < cur:
                    tok[g][side][k] = (t, p, ev)
        if any(len(tok[0][s]) < self.min_actions for s in (0, 1)):
            return []
        shared = [sorted(k for k in tok[g][0] if k in tok[g][1]
                         and (g, *k) not in self._capped) for g in (0, 1)]
        g = 1 if len(shared[1]) > len(shared[0]) else 0
        pairs = set()
        for k in shared[g]:
            x, y = tok[g][0][k], tok[g][1][k]
            pairs.add((abs(x[0] - y[0]), x, y))
        return [f"{x[2]}|{y[2]}" for _, x, y in sorted(pairs)]


def _take(gr: _Grid, keep: np.ndarray) -> _Grid:
    return _Grid(key=gr.key[keep], a=gr.a[keep], e=gr.e[keep], t=gr.t[keep], o=gr.o[keep],
                 b=gr.b[keep])


def _concat_grids(grids: list[_Grid], obj_kind: np.ndarray) -> dict[str, np.ndarray]:
    cat = {f: np.concatenate([getattr(g, f) for g in grids]) for f in ("t", "e", "o")}
    cat["kind"] = obj_kind[cat["o"]]
    return cat

