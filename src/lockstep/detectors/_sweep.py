"""The co-action sweep: count candidate pairs, emit them into key-range buckets, reduce each.

1. *Count* (:func:`_count`): each object's times are shifted onto one increasing axis with a
   gap wider than the window between objects, so a single ``searchsorted`` gives, for every
   row, the end of its window inside its own object. ``end - i - 1`` is the exact number of
   candidate pairs starting at row ``i``; their sum is known before any pair exists.
2. *Emit* (:func:`_emit_pairs`): candidate pairs are materialised in steps (a viral object
   is split across steps, exactly), same-account pairs dropped, and each pair routed by its
   key ``account_a * n_accounts + account_b`` to a key-range bucket (:class:`_Buckets`). Only
   the two row indices of a pair are kept (8 bytes); at most ``mem_pairs`` pairs stay in
   memory, the rest wait in one file per bucket.
3. *Reduce* (:func:`_reduce`, :func:`_reduce_lean`): each bucket is sorted by key (a packed
   64-bit sort, stable, so a pair's event pairs stay in emission order, which is object order)
   and reduced to weight, support, first/last seen and the exact median delta (and, for
   :func:`_reduce`, the first ``max_evidence`` event pairs). Buckets are disjoint key ranges
   in key order, so their results concatenate into the sorted edge list or stream to a file.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lockstep.detectors._rows import _packed_argsort, _Rows, _segments

_T = TypeVar("_T")
_R = TypeVar("_R")
_EMIT_STEP = 1 << 21  # pairs per emission step: small enough to stay in cache
_BUCKET_ROWS = 1 << 20  # target pairs per aggregation bucket
_COUNT_ROWS = 1 << 22  # rows per counting chunk (whole objects; bounds the temporaries)
_MAX_BUCKETS = 1 << 16  # the route of a pair is a 16-bit radix sort


def _count(o: np.ndarray, t: np.ndarray, w: int, *, dtype: Any = np.int64
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact candidate pairs per row (partners later in the same object within ``w``), the
    object starts, and the candidates per object (int64).

    Each object's times are moved onto one increasing axis, objects separated by more than
    ``w``, so that one ``searchsorted`` finds every row's window end inside its own object.
    Objects are taken in chunks of about ``2**22`` rows (keeping the shifted axis below
    ``2**61``), so temporaries stay small; ``dtype`` is that of the per-row counts (int32
    is enough when fewer than ``2**31`` rows).
    """
    n = len(o)
    starts, size = _segments(o)
    if n == 0:
        return np.zeros(0, dtype=dtype), starts, np.zeros(0, dtype=np.int64)
    tmin = t[starts]
    gap = t[starts + size - 1] - tmin + w + 1
    cand = np.empty(n, dtype=dtype)
    cs_rows = np.cumsum(size)
    cs_gap = np.cumsum(gap.astype(np.float64))
    n_obj = len(starts)
    g0 = 0
    while g0 < n_obj:
        base_r = int(cs_rows[g0 - 1]) if g0 else 0
        base_g = float(cs_gap[g0 - 1]) if g0 else 0.0
        g1 = min(int(np.searchsorted(cs_rows, base_r + _COUNT_ROWS, side="right")),
                 int(np.searchsorted(cs_gap, base_g + float(1 << 61), side="right")))
        g1 = max(g1, g0 + 1)
        r0 = int(starts[g0])
        r1 = int(starts[g1]) if g1 < n_obj else n
        offs = np.r_[0, np.cumsum(gap[g0:g1])[:-1]]
        tt = t[r0:r1] + np.repeat(offs - tmin[g0:g1], size[g0:g1])
        end = np.searchsorted(tt, tt + w, side="right")
        end -= np.arange(1, r1 - r0 + 1)
        cand[r0:r1] = end
        g0 = g1
    return cand, starts, np.add.reduceat(cand, starts, dtype=np.int64)


def _pieces(cand: np.ndarray, step: int, window: int = 1 << 22
            ) -> Iterator[tuple[int, int, tuple[int, int] | None]]:
    """Row ranges whose candidate pairs total at most ``step``; a row with more than ``step``
    alone is cut into sub-ranges of its partners ``(r, r + 1, (first, stop))``. Rows are
    scanned ``window`` at a time (a range never spans two windows), so the running sums stay
    small."""
    n = len(cand)
    for w0 in range(0, n, window):
        w1 = min(n, w0 + window)
        cum = np.cumsum(cand[w0:w1], dtype=np.int64)
        r = 0
        m = w1 - w0
        while r < m:
            base = int(cum[r - 1]) if r else 0
            r1 = int(np.searchsorted(cum, base + step, side="right"))
            if r1 > r:
                if int(cum[r1 - 1]) > base:
                    yield w0 + r, w0 + r1, None
                r = r1
            else:
                k = int(cand[w0 + r])
                for s in range(0, k, step):
                    yield w0 + r, w0 + r + 1, (s, min(k, s + step))
                r += 1


def _emit(cand: np.ndarray, r0: int, r1: int,
          sub: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(left, right)`` of the candidate pairs of rows ``r0..r1``."""
    if sub is not None:
        right = np.arange(r0 + 1 + sub[0], r0 + 1 + sub[1], dtype=np.int64)
        return np.full(len(right), r0, dtype=np.int64), right
    k = cand[r0:r1].astype(np.int64)
    idx = np.arange(r0, r1, dtype=np.int64)
    firsts = np.cumsum(k) - k
    # the p-th pair overall (p from 0) of row i pairs it with row i + 1 + (p - first_i)
    right = np.arange(int(firsts[-1] + k[-1]), dtype=np.int64) + np.repeat(idx + 1 - firsts, k)
    return np.repeat(idx, k), right


class _Buckets:
    """Pairs routed to key-range buckets, each small enough to sort fast; buckets are in key
    order, so their reduced results concatenate into the sorted edge list.

    A pair is stored as its two row indices only (its key is recomputed from the account
    codes when its bucket is drained). Each :meth:`add` keeps one *run* (the step's pairs
    grouped by bucket, in emission order); when more than ``mem_pairs`` pairs are held, every
    bucket's share of the runs is appended to its file under ``spill_dir``, so memory stays
    bounded whatever the input. A bucket drains as its file, then its runs still in memory:
    emission order is kept.
    """

    def __init__(self, a: np.ndarray, n_acc: int, est_pairs: int, n_rows: int,
                 mem_pairs: int, spill_dir: Path, bucket_pairs: int = _BUCKET_ROWS) -> None:
        self.a = a
        self.n_acc = n_acc
        space = max(1, n_acc * n_acc)
        k = 1
        while k < _MAX_BUCKETS:
            avg = est_pairs / k
            bits = max(1, int(avg * 4 + 1).bit_length())
            if avg <= bucket_pairs and (-(-space // k)).bit_length() + bits <= 62:
                break
            k *= 2
        # a power-of-two key range per bucket: the bucket of a key is a shift
        self.shift = max(0, (-(-space // k) - 1).bit_length())
        self.width = 1 << self.shift
        self.k = -(-space // self.width)
        self.idx_dtype = np.int32 if n_rows < (1 << 31) else np.int64
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # left, right, ends
        self.mem_pairs = mem_pairs
        self.held = 0
        self.spill_dir = spill_dir
        self.spilled_pairs = 0
        self.spills = 0
        self.on_disk: set[int] = set()

    def add(self, key: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
        if len(key) == 0:
            return
        left, right = left.astype(self.idx_dtype), right.astype(self.idx_dtype)
        if self.k == 1:
            ends = np.array([0, len(key)], dtype=np.int64)
        else:
            bid = key >> self.shift
            order = np.argsort(bid.astype(np.uint16), kind="stable")  # radix sort
            ends = np.r_[0, np.cumsum(np.bincount(bid, minlength=self.k))]
            left, right = left[order], right[order]
        self.runs.append((left, right, ends))
        self.held += len(key)
        if self.held > self.mem_pairs:
            self._spill()

    def _file(self, b: int) -> Path:
        return self.spill_dir / f"{b}.pairs"

    def _share(self, b: int) -> list[np.ndarray]:
        """Bucket ``b``'s pairs in the runs held, as ``(n, 2)`` blocks in emission order."""
        out = []
        for left, right, ends in self.runs:
            s, e = int(ends[b]), int(ends[b + 1])
            if e > s:
                blk = np.empty((e - s, 2), dtype=self.idx_dtype)
                blk[:, 0] = left[s:e]
                blk[:, 1] = right[s:e]
                out.append(blk)
        return out

    def _spill(self) -> None:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        for b in range(self.k):
            blocks = self._share(b)
            if blocks:
                with open(self._file(b), "ab") as fh:
                    for blk in blocks:
                        blk.tofile(fh)
                self.on_disk.add(b)
        self.runs = []
        self.spilled_pairs += self.held
        self.spills += 1
        self.held = 0

    def drain(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """Yield ``(key, left, right, base)`` per bucket in key order, releasing what it can."""
        runs = self.runs
        for b in range(self.k):
            blocks = self._share(b) if runs else []
            if b in self.on_disk:
                path = self._file(b)
                blocks.insert(0, np.fromfile(path, dtype=self.idx_dtype).reshape(-1, 2))
                path.unlink()
            if not blocks:
                continue
            pairs = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
            del blocks
            left = np.ascontiguousarray(pairs[:, 0])
            right = np.ascontiguousarray(pairs[:, 1])
            del pairs
            al, ar = self.a[left], self.a[right]
            key = np.minimum(al, ar).astype(np.int64)
            key *= self.n_acc
            key += np.maximum(al, ar)
            del al, ar
            yield key, left, right, b * self.width
        self.runs = []
        self.held = 0


def _emit_pairs(rows: _Rows, cand: np.ndarray, buckets: _Buckets, step: int,
                stats: dict[str, Any]) -> None:
    """Materialise every candidate pair in steps of at most ``step`` into ``buckets``."""
    n_acc = len(rows.acc_id)
    steps = same = 0
    for r0, r1, sub in _pieces(cand, step):
        left, right = _emit(cand, r0, r1, sub)
        steps += 1
        al, ar = rows.a[left], rows.a[right]
        keep = al != ar  # an account never pairs with itself
        n_keep = int(np.count_nonzero(keep))
        if n_keep < len(keep):
            same += len(keep) - n_keep
            left, right, al, ar = left[keep], right[keep], al[keep], ar[keep]
        key = np.minimum(al, ar).astype(np.int64)
        key *= n_acc
        key += np.maximum(al, ar)
        buckets.add(key, left, right)
    stats.update(same_account_pairs=same, emit_steps=steps, buckets=buckets.k)


def _bounded_map(fn: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[_R]:
    """``map(fn, items)`` on ``workers`` threads, in order, with at most ``workers + 1`` items
    in flight (``Executor.map`` would take every item, loading every bucket, at once)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _reduce(key: np.ndarray, left: np.ndarray, right: np.ndarray, base: int, rows: _Rows,
            max_evidence: int, min_weight: int, g: np.ndarray | None = None
            ) -> dict[str, Any]:
    """Aggregate one bucket's pairs into edges (sorted by key); ``g`` is each object's
    commonness in the null model (``g_max`` of a pair is its most common shared object)."""
    # gather in emission order (rows close together, cache-friendly), then permute
    ti, tj = rows.t[left], rows.t[right]  # ti <= tj: left comes first in (object, time)
    d = tj - ti
    del tj
    ei, ej = rows.e[left], rows.e[right]
    left_is_a = rows.a[left] < rows.a[right]
    e_lo = np.where(left_is_a, ei, ej)
    e_hi = np.where(left_is_a, ej, ei)
    del ei, ej, left_is_a
    order = _packed_argsort(key - base, int(key.max()) - base)
    key, ti, d, e_lo, e_hi = key[order], ti[order], d[order], e_lo[order], e_hi[order]
    m = len(key)
    newg = np.empty(m, dtype=bool)
    newg[0] = True
    np.not_equal(key[1:], key[:-1], out=newg[1:])
    starts = np.flatnonzero(newg)
    n_groups = len(starts)
    size = np.diff(np.r_[starts, m])
    gmax = (np.zeros(n_groups) if g is None
            else np.maximum.reduceat(g[rows.o[left[order]]], starts))
    first = np.minimum.reduceat(ti, starts)
    last = np.maximum.reduceat(ti + d, starts)
    del ti

    weight = size.astype(np.int64)
    support = np.ones(n_groups, dtype=np.int64)
    median = d[starts].astype(np.float64)
    single = size == 1
    ev_rows_g = np.zeros(0, dtype=np.int64)  # evidence of groups of 2+ pairs: group,
    ev_rows_rank = np.zeros(0, dtype=np.int64)  # rank in the group,
    ev_rows_lo = ev_rows_hi = np.zeros(0, dtype=np.int64)  # events
    if not single.all():
        gid = np.cumsum(newg) - 1
        sel = ~single[gid]
        gs, ds, los, his = gid[sel], d[sel], e_lo[sel], e_hi[sel]
        os_ = rows.o[left[order[sel]]]
        # support: distinct (group, object)
        so = np.lexsort((os_, gs))
        g2, o2 = gs[so], os_[so]
        new_go = np.r_[True, (g2[1:] != g2[:-1]) | (o2[1:] != o2[:-1])]
        support = np.maximum(support, np.bincount(g2[new_go], minlength=n_groups))
        del so, g2, o2, new_go, os_
        # order each group by (delta, event of a, event of b); drop repeated event pairs
        # (two events sharing several objects of this type pair once)
        srt = np.lexsort((his, los, ds, gs))
        gs, ds, los, his = gs[srt], ds[srt], los[srt], his[srt]
        if rows.multi:
            uniq = np.r_[True, (gs[1:] != gs[:-1]) | (los[1:] != los[:-1])
                         | (his[1:] != his[:-1])]
            gs, ds, los, his = gs[uniq], ds[uniq], los[uniq], his[uniq]
        counts = np.bincount(gs, minlength=n_groups)
        multi_g = ~single
        weight[multi_g] = counts[multi_g]
        gstart = np.cumsum(counts) - counts
        mg = np.flatnonzero(multi_g)
        c, s0 = counts[mg], gstart[mg]
        median[mg] = (ds[s0 + (c - 1) // 2] + ds[s0 + c // 2]) / 2.0
        rank = np.arange(len(gs)) - gstart[gs]
        top = rank < max_evidence
        ev_rows_g, ev_rows_rank = gs[top], rank[top]
        ev_rows_lo, ev_rows_hi = los[top], his[top]

    n_pairs = int(weight.sum())
    keep = weight >= min_weight
    all_kept = bool(keep.all())
    n_ev = np.minimum(weight, max_evidence)
    if not all_kept:
        n_ev[~keep] = 0
    ev_off = np.cumsum(n_ev) - n_ev
    ev_lo = np.empty(int(n_ev.sum()), dtype=np.int64)
    ev_hi = np.empty_like(ev_lo)
    if max_evidence > 0:
        sg = np.flatnonzero(single if all_kept else single & keep)
        at, src = ev_off[sg], starts[sg]
        ev_lo[at] = e_lo[src]
        ev_hi[at] = e_hi[src]
        if len(ev_rows_g):
            mk = keep[ev_rows_g]
            pos = ev_off[ev_rows_g[mk]] + ev_rows_rank[mk]
            ev_lo[pos] = ev_rows_lo[mk]
            ev_hi[pos] = ev_rows_hi[mk]
    if all_kept:
        return {"key": key[starts], "weight": weight, "support": support, "first": first,
                "last": last, "median_us": median, "n_ev": n_ev, "ev_lo": ev_lo,
                "ev_hi": ev_hi, "event_pairs": n_pairs, "gmax": gmax}
    return {"key": key[starts][keep], "weight": weight[keep], "support": support[keep],
            "first": first[keep], "last": last[keep], "median_us": median[keep],
            "n_ev": n_ev[keep], "ev_lo": ev_lo, "ev_hi": ev_hi, "event_pairs": n_pairs,
            "gmax": gmax[keep]}


def _reduce_lean(key: np.ndarray, left: np.ndarray, right: np.ndarray, base: int,
                 rows: _Rows, min_weight: int, g: np.ndarray | None = None) -> dict[str, Any]:
    """:func:`_reduce` without evidence, for rows where no two pairs can repeat an event pair
    (``rows.multi`` False): weight is the number of pairs, support the object changes within
    a key group (emission order is object order), the median from a sort of the deltas of
    the groups of two or more pairs only. ``gmax`` is given when ``g`` is."""
    m = len(key)
    order = _packed_argsort(key - base, int(key.max()) - base)
    key = key[order]
    li, ri = left[order], right[order]
    del order
    newg = np.empty(m, dtype=bool)
    newg[0] = True
    np.not_equal(key[1:], key[:-1], out=newg[1:])
    starts = np.flatnonzero(newg)
    size = np.diff(np.append(starts, m))
    ti = rows.t[li]
    d = rows.t[ri]
    del ri
    last = np.maximum.reduceat(d, starts)
    first = np.minimum.reduceat(ti, starts)
    d -= ti  # tj - ti >= 0: the left row comes first in (object, time)
    del ti
    oi = rows.o[li]
    del li
    newo = newg
    newo[1:] |= oi[1:] != oi[:-1]
    support = np.add.reduceat(newo, starts, dtype=np.int64)
    del newo, newg
    gmax = None if g is None else np.maximum.reduceat(g[oi], starts)
    del oi
    median = d[starts].astype(np.float64)
    multi = size > 1
    if multi.any():
        sel = np.repeat(multi, size)
        ds = d[sel]
        del sel
        c = size[multi]
        n_multi = len(c)
        gl = np.repeat(np.arange(n_multi, dtype=np.int64), c)
        dbits = max(1, int(ds.max()).bit_length())
        if (n_multi - 1).bit_length() + dbits <= 63:
            gl <<= dbits
            gl |= ds
            gl.sort()
            ds = gl & ((1 << dbits) - 1)
        else:
            ds = ds[np.lexsort((ds, gl))]
        del gl
        s0 = np.cumsum(c) - c
        median[multi] = (ds[s0 + (c - 1) // 2] + ds[s0 + c // 2]) / 2.0
    del d
    weight = size.astype(np.int64)
    out = {"key": key[starts], "weight": weight, "support": support, "first": first,
           "last": last, "median_us": median, "event_pairs": m}
    if gmax is not None:
        out["gmax"] = gmax
    if min_weight > 1:
        keep = weight >= min_weight
        for name in ("key", "weight", "support", "first", "last", "median_us", "gmax"):
            if name in out:
                out[name] = out[name][keep]
    return out
