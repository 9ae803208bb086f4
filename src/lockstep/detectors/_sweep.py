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

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lockstep.detectors._rows import _packed_argsort, _Rows, _segments  # noqa: F401

_T = TypeVar("_T")
_R = TypeVar("_R")
_EMIT_STEP = 1 << 21  # pairs per emission step: small enough to stay in cache
_BUCKET_ROWS = 1 << 20  # target pairs per aggregation bucket
_COUNT_ROWS = 1 << 18  # rows per counting chunk (whole objects; bounds the temporaries)
_MAX_BUCKETS = 1 << 16  # the route of a pair is a 16-bit radix sort


def _count(o: np.ndarray, t: np.ndarray, w: int, *, dtype: Any = np.int64
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact candidate pairs per row (partners later in the same object within ``w``), the
    object starts, and the candidates per object (int64).

    Each object's times are moved onto one increasing axis, objects separated by more than
    ``w``, so that one ``searchsorted`` finds every row's window end inside its own object.
    Objects are taken in chunks of about ``2**18`` rows (keeping the shifted axis below
    ``2**61``), so temporaries stay small; ``dtype`` is that of the per-row counts (int32
    is enough when fewer than ``2**31`` rows).
    """
    n = len(o)
    starts, size = _segments(o)
    if n == 0:
        return np.zeros(0, dtype=dtype), starts, np.zeros(0, dtype=np.int64)
    tmin = t[starts].astype(np.int64)
    gap = t[starts + size - 1].astype(np.int64) - tmin + w + 1
    cand = np.empty(n, dtype=dtype)
    obj_cand = np.empty(len(starts), dtype=np.int64)
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
        # per object, from the int64 chunk (reduceat with a wider dtype would copy all of cand)
        obj_cand[g0:g1] = np.add.reduceat(end, starts[g0:g1] - r0)
        g0 = g1
    return cand, starts, obj_cand


def _pieces(cand: np.ndarray, step: int, window: int = 1 << 20, start: int = 0,
            stop: int | None = None) -> Iterator[tuple[int, int, tuple[int, int] | None]]:
    """Row ranges whose candidate pairs total at most ``step``; a row with more than ``step``
    alone is cut into sub-ranges of its partners ``(r, r + 1, (first, stop))``. Rows
    ``start..stop`` are scanned ``window`` at a time (a range never spans two windows), so
    the running sums stay small."""
    n = len(cand) if stop is None else stop
    for w0 in range(start, n, window):
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


def _emit(cand: np.ndarray, r0: int, r1: int, sub: tuple[int, int] | None,
          dtype: Any = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(left, right)`` of the candidate pairs of rows ``r0..r1`` (``dtype``:
    int32 is enough below ``2**31`` rows)."""
    if sub is not None:
        right = np.arange(r0 + 1 + sub[0], r0 + 1 + sub[1], dtype=dtype)
        return np.full(len(right), r0, dtype=dtype), right
    k = cand[r0:r1]
    idx = np.arange(r0, r1, dtype=dtype)
    firsts = np.cumsum(k, dtype=np.int64) - k
    total = int(firsts[-1] + k[-1])
    # the p-th pair overall (p from 0) of row i pairs it with row i + 1 + (p - first_i)
    right = np.arange(total, dtype=dtype)
    right += np.repeat((idx + 1 - firsts).astype(dtype, copy=False), k)
    return np.repeat(idx, k), right


class _Buckets:
    """Pairs routed to key-range buckets, each small enough to sort fast; buckets are in key
    order, so their reduced results concatenate into the sorted edge list.

    A pair is stored as its two row indices only (its key is recomputed from the account
    codes when its bucket is drained). Each :meth:`add` keeps one *run* (the step's pairs
    grouped by bucket, in emission order); when more than ``mem_pairs`` pairs are held, the
    runs are written to one file under ``spill_dir``, bucket after bucket (a vectorised
    scatter, one write), with each bucket's offset kept, so memory stays bounded whatever the
    input. A bucket drains as its part of each spill file (``pread``), then its part of the
    runs still in memory: emission order is kept.
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
        self.files: list[tuple[int, np.ndarray]] = []  # spill files: descriptor, offsets

    def add(self, key: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
        if len(key) == 0:
            return
        left = left.astype(self.idx_dtype, copy=False)
        right = right.astype(self.idx_dtype, copy=False)
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
        """Write the runs held to one file, bucket after bucket (each bucket's pairs in
        emission order), and remember where each bucket starts in it."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        counts = np.stack([np.diff(ends) for _, _, ends in self.runs])  # (runs, buckets)
        offsets = np.zeros(self.k + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=0), out=offsets[1:])
        base = offsets[:-1] + (np.cumsum(counts, axis=0) - counts)  # run r's part of bucket b
        path = self.spill_dir / f"{len(self.files)}.pairs"
        # written a slice of buckets at a time (a run's part of consecutive buckets is one
        # slice of it), so the copy in flight is an eighth of the pairs held
        total = int(offsets[-1])
        cuts = np.unique(np.searchsorted(offsets, np.linspace(0, total, 9)[1:-1]))
        with open(path, "wb") as fh:
            for b0, b1 in zip(np.r_[0, cuts], np.r_[cuts, self.k], strict=True):
                b0, b1 = int(b0), int(b1)
                if b1 <= b0:
                    continue
                o0 = int(offsets[b0])
                out = np.empty((int(offsets[b1]) - o0, 2), dtype=self.idx_dtype)
                for r, (left, right, ends) in enumerate(self.runs):
                    s0, s1 = int(ends[b0]), int(ends[b1])
                    if s1 <= s0:
                        continue
                    dest = np.repeat(base[r, b0:b1] - ends[b0:b1] - o0, counts[r, b0:b1])
                    dest += np.arange(s0, s1)
                    out[dest, 0] = left[s0:s1]
                    out[dest, 1] = right[s0:s1]
                    del dest
                out.tofile(fh)
                del out
        del base, counts
        self.files.append((os.open(path, os.O_RDONLY), offsets))
        self.runs = []
        self.spilled_pairs += self.held
        self.spills += 1
        self.held = 0

    def blocks(self, b: int) -> list[np.ndarray]:
        """Bucket ``b``'s pairs as ``(n, 2)`` blocks in emission order (from each spill file,
        then the runs in memory)."""
        width = 2 * np.dtype(self.idx_dtype).itemsize
        out = []
        for fd, offsets in self.files:
            s, e = int(offsets[b]), int(offsets[b + 1])
            if e > s:
                buf = os.pread(fd, (e - s) * width, s * width)
                out.append(np.frombuffer(buf, dtype=self.idx_dtype).reshape(-1, 2))
        if self.runs:
            out += self._share(b)
        return out

    def close(self) -> None:
        """Close the spill files (the caller removes ``spill_dir``)."""
        for fd, _ in self.files:
            os.close(fd)
        self.files = []

    def drain(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """Yield ``(key, left, right, base)`` per bucket in key order."""
        return _drain([self])


def _load_bucket(sets: list[_Buckets], b: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """``(key, left, right, base)`` of bucket ``b``: its pairs in ``sets`` (same geometry,
    emitted from consecutive row ranges) one set after the other; None when it is empty.
    Safe to call from several threads for different buckets (files are read with pread)."""
    first = sets[0]
    blocks = [blk for bs in sets for blk in bs.blocks(b)]
    if not blocks:
        return None
    pairs = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    return _keyed(first, pairs, b)


def _keyed(first: _Buckets, pairs: np.ndarray, b: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(key, left, right, base)`` of bucket ``b`` from its ``(n, 2)`` row pairs."""
    left = np.ascontiguousarray(pairs[:, 0])
    right = np.ascontiguousarray(pairs[:, 1])
    al, ar = first.a[left], first.a[right]
    key = np.minimum(al, ar).astype(np.int64)
    key *= first.n_acc
    key += np.maximum(al, ar)
    return key, left, right, b * first.width


def _load_buckets(sets: list[_Buckets], b0: int, b1: int
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int] | None]:
    """What :func:`_load_bucket` gives for each bucket ``b0..b1``, with one read per spill
    file for the whole range instead of one per bucket and file (with hundreds of spill
    files and thousands of buckets, the small reads were a large part of the time)."""
    if b1 - b0 == 1 or any(bs.runs for bs in sets):
        return [_load_bucket(sets, b) for b in range(b0, b1)]
    first = sets[0]
    width = 2 * np.dtype(first.idx_dtype).itemsize
    g = b1 - b0
    parts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for bs in sets:  # sets, then files, in emission order
        for fd, offsets in bs.files:
            s, e = int(offsets[b0]), int(offsets[b1])
            if e > s:
                buf = os.pread(fd, (e - s) * width, s * width)
                parts.append(np.frombuffer(buf, dtype=first.idx_dtype).reshape(-1, 2))
                counts.append(np.diff(offsets[b0:b1 + 1]))
    if not parts:
        return [None] * g
    pairs = np.concatenate(parts)
    del parts
    cnt = np.stack(counts)  # (blocks, buckets)
    # group the rows by bucket, keeping block order within a bucket (a stable sort)
    bid = np.repeat(np.tile(np.arange(g, dtype=np.uint16), len(counts)), cnt.ravel())
    order = np.argsort(bid, kind="stable")
    del bid
    pairs = pairs[order]
    del order
    ends = np.r_[0, np.cumsum(cnt.sum(axis=0))]
    return [_keyed(first, pairs[int(ends[i]):int(ends[i + 1])], b0 + i)
            if ends[i + 1] > ends[i] else None for i in range(g)]


def _drain(sets: list[_Buckets]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Yield ``(key, left, right, base)`` per non-empty bucket in key order (see
    :func:`_load_bucket`), closing the spill files at the end."""
    try:
        for b in range(sets[0].k):
            got = _load_bucket(sets, b)
            if got is not None:
                yield got
    finally:
        for bs in sets:
            bs.runs = []
            bs.held = 0
            bs.close()


def _count_rows(o: np.ndarray, t: np.ndarray, w: int, obj_starts: np.ndarray, r0: int, r1: int,
                dtype: Any = np.int32) -> np.ndarray:
    """The candidate pairs of rows ``r0..r1`` (what :func:`_count` gives them), counted
    over just the rows they can pair with: a row's partners come after it in its object,
    so the count starts at ``r0`` and ends where the last row's window does (a viral object
    spanning many ranges is not recounted whole for each); the per-row counts need not be
    kept."""
    if r1 <= r0:
        return np.zeros(0, dtype=dtype)
    g1 = int(np.searchsorted(obj_starts, r1 - 1, side="right"))
    end = int(obj_starts[g1]) if g1 < len(obj_starts) else len(o)
    a1 = r1 + int(np.searchsorted(t[r1:end], t[r1 - 1] + w, side="right"))
    cand, _, _ = _count(o[r0:a1], t[r0:a1], w, dtype=dtype)
    return cand[:r1 - r0]


def _emit_pairs(rows: _Rows, cand: np.ndarray | Callable[[int, int], np.ndarray],
                buckets: _Buckets | list[_Buckets], step: int, stats: dict[str, Any], *,
                obj_starts: np.ndarray | None = None, obj_cand: np.ndarray | None = None
                ) -> None:
    """Materialise every candidate pair in steps of at most ``step`` into ``buckets``.

    ``cand`` is the per-row candidate counts, or a function giving them for a row range
    (then ``obj_starts`` and ``obj_cand`` are needed). Given several bucket sets, the rows
    are cut at object starts into that many ranges of about equal candidate pairs, each
    emitted on its own thread into its own set (drain them with :func:`_drain` in this
    order: the pairs of a bucket stay in emission order)."""
    sets = buckets if isinstance(buckets, list) else [buckets]
    n = len(rows.o)
    window = 1 << 20
    if callable(cand):
        cand_of = cand
    else:
        arr = cand
        cand_of = lambda r0, r1: arr[r0:r1]  # noqa: E731
        if len(sets) > 1 and obj_cand is None:
            obj_starts, obj_cand = _segments(rows.o)[0], None
            obj_cand = np.add.reduceat(arr, obj_starts, dtype=np.int64) if n else None
    cuts = [0]
    if len(sets) > 1 and n and obj_cand is not None and obj_starts is not None:
        cum = np.cumsum(obj_cand)
        for i in range(1, len(sets)):
            g = int(np.searchsorted(cum, int(cum[-1]) * i // len(sets)))
            cuts.append(int(obj_starts[min(g + 1, len(obj_starts) - 1)]) if g + 1 < len(obj_starts)
                        else n)
    cuts += [n] * (len(sets) + 1 - len(cuts))
    cuts = [max(c, cuts[i - 1]) if i else c for i, c in enumerate(cuts)]
    dtype = np.int32 if n < (1 << 31) else np.int64

    def run(i: int) -> tuple[int, int]:
        bs, steps, same = sets[i], 0, 0
        n_acc = len(rows.acc_id)
        for w0 in range(cuts[i], cuts[i + 1], window):
            w1 = min(cuts[i + 1], w0 + window)
            cw = cand_of(w0, w1)
            for r0, r1, sub in _pieces(cw, step):
                left, right = _emit(cw, r0, r1, sub, dtype)
                left += w0
                right += w0
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
                bs.add(key, left, right)
        return steps, same

    if len(sets) == 1:
        done = [run(0)]
    else:
        with ThreadPoolExecutor(max_workers=len(sets)) as pool:
            done = list(pool.map(run, range(len(sets))))
    stats.update(same_account_pairs=sum(x[1] for x in done),
                 emit_steps=sum(x[0] for x in done), buckets=sets[0].k)


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
    # rows gathered in emission order (left/right mostly increasing: cache-friendly), then
    # permuted within the bucket (small arrays)
    tl, tr, ol = rows.t[left], rows.t[right], rows.o[left]
    bits = max(1, (m - 1).bit_length())
    vmax = int(key.max()) - base
    if vmax.bit_length() + bits <= 63:  # key and position in one int64: one sort, no gather
        packed = key - base
        packed <<= bits
        packed |= np.arange(m, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << bits) - 1)
        packed >>= bits
        packed += base
        key = packed
        del packed
    else:
        order = np.argsort(key, kind="stable")
        key = key[order]
    ti, d, oi = tl[order], tr[order], ol[order]
    del order, tl, tr, ol
    newg = np.empty(m, dtype=bool)
    newg[0] = True
    np.not_equal(key[1:], key[:-1], out=newg[1:])
    starts = np.flatnonzero(newg)
    size = np.diff(np.append(starts, m))
    last = np.maximum.reduceat(d, starts).astype(np.int64)
    first = np.minimum.reduceat(ti, starts).astype(np.int64)
    d -= ti  # tj - ti >= 0: the left row comes first in (object, time)
    del ti
    if rows.t_scale != 1 or rows.t_base:
        first *= rows.t_scale
        first += rows.t_base
        last *= rows.t_scale
        last += rows.t_base
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
        ds = ds.astype(np.int64, copy=False)
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
        median[multi] = (ds[s0 + (c - 1) // 2].astype(np.float64) + ds[s0 + c // 2]) / 2.0
    del d
    if rows.t_scale != 1:
        median *= rows.t_scale
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
