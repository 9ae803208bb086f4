"""Co-action on a shared object: accounts that act on the same object within a time window.

Semantics (exactly): two events by two *different* accounts on the same object with
``|t1 - t2| <= window`` (inclusive) form one *event pair*. An account is
``(platform, account_id)``. An edge's ``weight`` is its number of distinct event pairs (two
posts that share two hashtags count once), its ``support`` the number of distinct objects behind
them. Exact duplicate rows count once, and an empty object field is no object.

Algorithm (partition by object, sort by time, sweep; never a Cartesian product per object):

1. *Stage* (DuckDB, both cores; :mod:`lockstep.detectors._rows`): the object rows of one type
   with integer codes for object, account (in ``(platform, account_id)`` order) and event (in
   ``(time, platform, event_id)`` order), sorted by ``(object, time, event)``.
2. *Count*, 3. *Emit*, 4. *Reduce* (numpy; :mod:`lockstep.detectors._sweep`): one
   ``searchsorted`` over all objects counts every candidate pair exactly before any is built;
   pairs are materialised in bounded steps (same-account pairs dropped) into key-range
   buckets, at most ``pair_budget`` in memory and the rest in one file per bucket; each
   bucket is sorted by its packed 64-bit key and reduced (weight, support, first/last seen,
   exact median delta, the first ``max_evidence`` event pairs) on two threads. Buckets are
   disjoint key ranges in key order, so their results concatenate into the sorted result.

:meth:`CoActionDetector.write_pairs` (:mod:`lockstep.detectors.coaction_io`) streams the same
edges to a CSV or Parquet file bucket by bucket, never holding the edge table.

Time is ``O(N log N + P log P)`` for ``N`` rows and ``P`` candidate pairs; memory is bounded
by ``pair_budget`` plus the edges returned.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep import spill
from lockstep.detectors._rows import (  # noqa: F401 (re-exported: lockstep.significance, tests)
    PLATFORM_SCOPED,
    _describe_largest,
    _drop_unshared,
    _drop_unshared_counted,
    _packed_argsort,
    _Rows,
    _sample_popular,
    _segments,
    _sort_by_object,
    _stage,
    _take_rows,
)
from lockstep.detectors._sweep import (  # noqa: F401 (re-exported)
    _EMIT_STEP,
    _bounded_map,
    _Buckets,
    _count,
    _emit,
    _emit_pairs,
    _pieces,
    _reduce,
)
from lockstep.detectors.base import (
    EDGE_SCHEMA,
    BaseDetector,
    Laps,
    _check_int,
    _check_real,
    empty_edges,
)
from lockstep.exceptions import UsageError
from lockstep.schema import OBJECT_TYPES

if TYPE_CHECKING:
    import duckdb

    from lockstep.significance import CoActionNull  # scipy: imported when fitting

    from lockstep.workspace import Workspace

__all__ = ["CoActionDetector", "SIGNALS", "PLATFORM_SCOPED", "estimate_window"]

#: Signal name of each object type.
SIGNALS: dict[str, str] = {
    "post": "co-repost", "url": "co-link", "reply": "co-reply", "hashtag": "co-hashtag",
    "image": "co-image", "domain": "co-domain", "mention": "co-mention", "venue": "co-venue",
    "object": "co-object", "author": "co-amplify",
}

#: CooRnet's parameters for the data-driven window (Giglietto et al. 2020).
COORNET_Q = 0.1
COORNET_P = 0.5
#: Window used when ``window=None`` and no object was acted on twice.
FALLBACK_WINDOW_S = 60.0

_US = 1_000_000
_MAX_WINDOW_S = 1e9  # ~31 years; keeps every shifted time below 2**62 microseconds
_THREADS = max(1, min(4, os.cpu_count() or 1))  # "use both cores" where it is cheap
_MAX_REPORTED = 100  # popular objects listed in stats_ (all are counted)


class CoActionDetector(BaseDetector):
    """Accounts acting on the same object (post, URL, hashtag, ...) within a time window.

    Two events by two different accounts on the same object with ``|t1 - t2| <= window``
    (inclusive) are an event pair; an edge's ``weight`` is its number of distinct event pairs
    and ``support`` its number of distinct objects. ``expected`` and ``p_value`` test the
    support against chance: accounts picking objects independently (keeping their activity
    and the objects' popularity) and times shuffled within each object, scaled by how much
    the pair's own activity overlaps in time (two accounts online in the same hours share a
    window more often), with rare objects counting more than viral ones
    (:class:`lockstep.significance.CoActionNull`). The join is a
    sort-and-sweep per object whose candidate pairs are counted exactly before they are built
    (see the module docstring), so cost and memory are known in advance and the result is exact.

    Parameters
    ----------
    object_type : str, default "post"
        One of ``post`` (co-repost), ``url`` (co-link), ``reply`` (co-reply), ``hashtag``
        (co-hashtag), ``image`` (co-image), ``domain`` (co-domain), ``mention``
        (co-mention), ``venue`` (co-venue), ``object`` (co-object). Post, reply, mention and
        venue ids are matched within a platform; the others across platforms.
    window : float or None, default 60
        Seconds. ``None`` chooses it from the data by CooRnet's rule: among objects acted on at
        least twice, keep the ``q = 10%`` whose second action came quickest after the first;
        for each, take the time from its first action to the first action beyond ``p = 50%``
        of its actions; the window is the ``p``-quantile (median) of those times (Giglietto
        et al. 2020). The window used is in ``stats_["window_s"]``.
    min_weight : int, default 1
        Keep edges with at least this many event pairs.
    max_evidence : int, default 10
        Event pairs listed per edge, tightest first (smallest ``|t1 - t2|``, then earliest);
        :meth:`evidence` recomputes the full list of a pair in the same order.
    pair_budget : int, default 20_000_000
        Most candidate pairs held in memory at once (about 16 bytes each). Objects whose own
        candidates exceed it are processed in chunks, and pairs beyond it wait on disk in the
        workspace's staging area, one file per key range: the result stays exact and memory
        stays bounded (plus the edges themselves).
    popular_threshold : int or None, default None
        When set, an object with more candidate pairs than this is *popular* and is thinned:
        each of its events is kept with probability ``sqrt(popular_threshold / candidates)``
        (a deterministic hash of the event and ``random_state``), so that its pairs cost about
        ``popular_threshold``; its pairs then count as sampled, which down-weights it. Every
        popular object stays in the join and is listed in ``stats_["popular_objects"]``.
        ``None`` keeps every object whole (exact). Thinning happens before the null model
        is fitted, so account degrees, object sizes and in-window shares are those of the
        thinned data that the pairs are counted on, and the p-values test that data (an
        earlier version fitted the null on all rows and flagged 11% of ordinary users on the
        seed-12 medium world: a pair that lost its popular co-actions looked as if it shared
        only rare objects).
    random_state : int, default 0
        Seed of the sampling of popular objects.
    max_p : float or None, default None
        Drop edges whose p-value exceeds this before their evidence is built: they cannot
        pass a false discovery rate at or below it, and on big data most pairs are chance
        (``lockstep detect`` sets it to its ``alpha``). ``stats_["pairs_tested"]`` counts
        the edges before this cut, the ``m`` of Benjamini-Hochberg.
    disk_mb : int or None, default None
        Most MiB of candidate pairs that may wait on disk (:mod:`lockstep.spill`; ``None``:
        ``$LOCKSTEP_DISK_MB``, else 20 GiB or half the free space, whichever is smaller).
        Candidates are counted exactly before any is built, so a run that would need more
        is refused before it writes anything, naming the object whose pairs it cannot hold.

    Attributes
    ----------
    edges_ : pyarrow.Table
        One row per account pair (columns of :data:`~lockstep.detectors.base.EDGE_SCHEMA`).
    signal_ : str
        ``co-repost``, ``co-link``, ...
    stats_ : dict
        ``window_s`` and ``window_rule``; ``rows``, ``events``, ``accounts``, ``objects``;
        ``candidate_pairs`` (counted exactly before materialising, same-account pairs
        included), ``same_account_pairs``, ``event_pairs``, ``chunks``, ``buckets``;
        ``popular_objects`` (the objects split across chunks or sampled, with what was done),
        ``largest_objects``, ``exact`` (False when something was sampled) and ``seconds`` per
        stage.
    workspace_ : Workspace

    See Also
    --------
    lockstep.pairs.pairs : the raw edges of one signal, as a table or a CSV file.

    Notes
    -----
    Differences from peers, by design: CooRTweet builds the Cartesian product of each
    object's shares before filtering by time (quadratic in a viral object's size); the QUT
    coordination-network-toolkit counts, per ordered pair ``(u, v)``, the distinct messages of
    ``u`` that have a partner message by ``v`` (so its two directions can differ and a user
    is paired with itself), where this counts event pairs once per unordered account pair.
    The sets of account pairs agree (see the toolkit test).

    References
    ----------
    .. [1] Giglietto, F., Righetti, N., Rossi, L., & Marino, G. (2020). It takes a village to
       manipulate the media: coordinated link sharing behavior during 2018 and 2019 Italian
       elections. Information, Communication & Society, 23(6), 867-891.
       https://doi.org/10.1080/1369118X.2020.1739732 (CooRnet)
    .. [2] Righetti, N., & Balluff, P. (2023). CooRTweet: Coordinated Networks Detection on
       Social Media. R package. https://github.com/nicolarighetti/CooRTweet
    .. [3] Graham, T., Hames, S., & Alpert, E. (2024). The coordination network toolkit: a
       framework for detecting and analysing coordinated behaviour on social media. Journal
       of Computational Social Science, 7, 1139-1160. https://doi.org/10.1007/s42001-024-00260-z
    .. [4] Cao, Q., Yang, X., Yu, J., & Palow, C. (2014). Uncovering large groups of active
       malicious accounts in online social networks (SynchroTrap). ACM CCS 2014, 477-488.
       https://doi.org/10.1145/2660267.2660269

    Examples
    --------
    >>> import tempfile
    >>> import lockstep
    >>> from lockstep.detectors import CoActionDetector
    >>> from lockstep.ingestion import ingest
    >>> from lockstep.testing import make_campaign
    >>> tmp = tempfile.mkdtemp()
    >>> ws = lockstep.open_workspace(tmp + "/ws")
    >>> _ = ingest(ws, [make_campaign(tmp, seed=1)])
    >>> det = CoActionDetector(object_type="post", window=30, min_weight=3).fit(ws)
    >>> det.edges_.num_rows > 0
    True
    """

    name = "coaction"

    def __init__(self, *, object_type: str = "post", window: float | None = 60,
                 min_weight: int = 1, max_evidence: int = 10, pair_budget: int = 20_000_000,
                 popular_threshold: int | None = None, random_state: int = 0,
                 max_p: float | None = None, disk_mb: int | None = None) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.max_p = max_p
        self.disk_mb = disk_mb
        self.object_type = object_type
        self.window = window
        self.pair_budget = pair_budget
        self.popular_threshold = popular_threshold
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.object_type not in SIGNALS:
            raise UsageError(f"object_type must be one of {', '.join(OBJECT_TYPES)}, not "
                             f"{self.object_type!r}")
        _check_real("window", self.window, 0, _MAX_WINDOW_S, optional=True)
        _check_int("pair_budget", self.pair_budget, 1)
        if self.popular_threshold is not None:
            _check_int("popular_threshold", self.popular_threshold, 1)
        _check_int("random_state", self.random_state, 0)
        _check_real("max_p", self.max_p, 0, 1, open_low=True, optional=True)
        if self.disk_mb is not None:
            _check_int("disk_mb", self.disk_mb, 0)

    def _signal_name(self) -> str:
        return SIGNALS[self.object_type]

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        rows = _stage(con, self.object_type)
        lap("stage")
        stats: dict[str, Any] = {
            "signal": self._signal_name(), "object_type": self.object_type,
            "rows": int(len(rows.o)), "events": rows.n_events,
            "accounts": len(rows.acc_id), "objects": len(rows.obj_id),
            "pair_budget": self.pair_budget, "popular_threshold": self.popular_threshold,
        }
        if self.window is None:
            window_s, rule = estimate_window(rows.o, rows.t)
        else:
            window_s, rule = float(self.window), "given"
        wus = int(round(window_s * _US))
        stats.update(window_s=wus / _US, window_us=wus, window_rule=rule)

        # the null model sees every row (objects acted on once count in account degrees)
        counted = _count(rows.o, rows.t, wus)
        _, all_starts, all_cand = counted
        stats.update(candidate_pairs=int(all_cand.sum()),
                     largest_objects=_describe_largest(rows, all_starts, all_cand))
        lap("count")
        rows, counted = self._thin(rows, counted, wus, stats)
        lap("popular")
        from lockstep.significance import CoActionNull

        # fitted after thinning: the null describes the data the pairs are counted on
        null = CoActionNull.from_rows(rows.o, rows.a, counted[2], counted[1], len(rows.acc_id),
                                      t=rows.t, window=wus)
        rows, (cand, obj_starts, obj_cand) = _drop_unshared_counted(rows, counted)
        del counted
        stats["objects_shared"] = int(len(obj_starts))
        self._report_split(rows, obj_starts, obj_cand, stats)
        lap("null")
        got = con.execute("SELECT current_setting('temp_directory')").fetchone()
        spill_dir = spill.spill_dir("coaction", (got[0] if got else None) or None)
        self._check_disk(rows, obj_starts, obj_cand, int(cand.sum()), self.pair_budget,
                         spill_dir.parent)
        try:
            table = self._sweep(rows, cand, spill_dir, stats, lap, null)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        stats["seconds"] = secs
        return table, stats

    def _thin(self, rows: _Rows, counted: tuple[np.ndarray, np.ndarray, np.ndarray],
              window: int, stats: dict[str, Any], **count: Any
              ) -> tuple[_Rows, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Sample the events of objects above ``popular_threshold``.

        ``counted`` is what :func:`_count` gave ``rows`` (``window`` is in the unit of
        ``rows.t``; ``count`` goes to :func:`_count`); returns the rows kept and their counts,
        recounted only when something was sampled.
        """
        stats["popular_objects"] = []
        stats["popular_objects_count"] = 0
        stats["exact"] = True
        _, starts, obj_cand = counted
        if self.popular_threshold is None or not np.any(obj_cand > self.popular_threshold):
            return rows, counted
        rows, sampled = _sample_popular(rows, starts, obj_cand, self.popular_threshold,
                                        self.random_state)
        stats["popular_objects"] = sampled[:_MAX_REPORTED]
        stats["popular_objects_count"] = len(sampled)
        stats["exact"] = False
        counted = _count(rows.o, rows.t, window, **count)
        stats["candidate_pairs_sampled"] = int(counted[2].sum())
        return rows, counted

    def _report_split(self, rows: _Rows, obj_starts: np.ndarray, obj_cand: np.ndarray,
                      stats: dict[str, Any]) -> None:
        """List the objects whose pairs exceed ``pair_budget`` (swept in chunks, exactly)."""
        split = np.flatnonzero(obj_cand > self.pair_budget)
        split = split[np.argsort(-obj_cand[split], kind="stable")]
        room = max(0, _MAX_REPORTED - len(stats["popular_objects"]))
        for k in split[:room]:
            stats["popular_objects"].append({
                "object_id": rows.obj_id[int(rows.o[obj_starts[k]])].as_py(),
                "candidate_pairs": int(obj_cand[k]), "handling": "chunked",
                "chunks": -(-int(obj_cand[k]) // self.pair_budget)})
        stats["popular_objects_count"] += len(split)

    def _check_disk(self, rows: _Rows, obj_starts: np.ndarray, obj_cand: np.ndarray,
                    total: int, mem_pairs: int, where: Path) -> None:
        """Refuse, before any pair is built, a run whose spilled candidates (8 or 16 bytes a
        pair beyond the ``mem_pairs`` held in memory) exceed the disk budget."""
        per_pair = 8 if len(rows.o) < (1 << 31) else 16
        need = 0 if total <= mem_pairs else total * per_pair
        budget = spill.disk_budget_bytes(self.disk_mb, where)
        if need <= budget:
            return
        k = int(np.argmax(obj_cand))
        size = np.diff(np.r_[obj_starts, len(rows.o)])
        obj = rows.obj_id[int(rows.o[obj_starts[k]])].as_py()
        spill.check_spill(
            need, budget,
            what=(f"{self._signal_name()}: {total:,} candidate pairs within "
                  f"{self.window if self.window is not None else 'the estimated'} s; object "
                  f"{obj!r} alone implies {int(obj_cand[k]):,} of them ({int(size[k]):,} "
                  "actions)"),
            advice=("thin popular objects (popular_threshold, e.g. 10,000,000), narrow the "
                    "window, or raise the disk budget"))

    def _sweep(self, rows: _Rows, cand: np.ndarray, spill_dir: Path, stats: dict[str, Any],
               lap: Callable[[str], None], null: CoActionNull) -> pa.Table:
        """Emit the candidate pairs in bounded steps, then reduce each key-range bucket."""
        n_acc = len(rows.acc_id)
        buckets = _Buckets(rows.a, n_acc, int(cand.sum()), len(rows.o), self.pair_budget,
                           spill_dir)
        try:
            _emit_pairs(rows, cand, buckets, min(self.pair_budget, _EMIT_STEP), stats)
        except BaseException:
            buckets.close()  # the spill files (drain closes them otherwise)
            raise
        lap("emit")
        signal = self._signal_name()

        def finish(bucket: tuple[np.ndarray, np.ndarray, np.ndarray, int]
                   ) -> tuple[int, int, pa.Table | None]:
            part = _reduce(*bucket, rows, self.max_evidence, self.min_weight, null.g)
            return (int(part["event_pairs"]), len(part["key"]),
                    _part_table(part, rows, n_acc, signal, null, max_p=self.max_p)
                    if len(part["key"]) else None)

        # buckets are independent: reduce them on both cores (numpy and Arrow release the GIL)
        done = list(_bounded_map(finish, buckets.drain(), _THREADS))
        stats["spilled_pairs"] = buckets.spilled_pairs
        stats["event_pairs"] = sum(n for n, _, _ in done)
        stats["pairs_tested"] = sum(n for _, n, _ in done)
        tables = [t for _, _, t in done if t is not None]
        lap("aggregate")
        return pa.concat_tables(tables) if tables else empty_edges()

    def write_pairs(self, workspace: Workspace | str | Path, path: str | Path, /, *,
                    fmt: str | None = None, evidence: bool = False,
                    memory_mb: int = 256) -> dict[str, Any]:
        """Stream the edges that :meth:`fit` would compute to a CSV or Parquet file, bucket
        by bucket, without holding the edge table (:mod:`lockstep.detectors.coaction_io`).

        Parameters
        ----------
        workspace : Workspace or path
        path : path
            The file (written to a temporary name, then renamed).
        fmt : {"csv", "parquet"} or None
            ``None``: Parquet for a ``.parquet`` / ``.pq`` path, CSV otherwise.
        evidence : bool, default False
            Add an ``evidence`` column (the first ``max_evidence`` event pairs).
        memory_mb : int, default 256
            Working memory beyond the staged rows (about 16 bytes per row of an object
            acted on twice): DuckDB's limit while staging, candidate pairs held before
            spilling to disk, buckets in flight.

        Returns
        -------
        dict
            The run's statistics, as :attr:`stats_` after :meth:`fit`, plus ``edges`` (rows
            written), ``path``, ``format`` and ``spilled_pairs``. The detector is not fitted.
        """
        from lockstep.detectors.coaction_io import stream_pairs

        return stream_pairs(self, workspace, path, fmt=fmt, evidence=evidence,
                            memory_mb=memory_mb)

    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        # An independent SQL self-join on the two accounts' events, in the order of edges_.
        scope = "platform" if self.object_type in PLATFORM_SCOPED else "''"
        sql = f"""
        WITH r AS (
            SELECT DISTINCT platform, event_id, account_id, epoch_us(ts) AS t,
                {scope} AS op, object_id
            FROM objects
            WHERE object_type = $otype AND object_id IS NOT NULL AND trim(object_id) <> ''
              AND account_id IN ($aa, $ab) AND ts IS NOT NULL AND event_id IS NOT NULL),
        x AS (SELECT * FROM r WHERE account_id = $aa AND ($pa IS NULL OR platform = $pa)),
        y AS (SELECT * FROM r WHERE account_id = $ab AND ($pb IS NULL OR platform = $pb))
        SELECT DISTINCT x.platform, x.account_id, x.event_id, x.t,
            y.platform, y.account_id, y.event_id, y.t
        FROM x JOIN y ON x.op = y.op AND x.object_id = y.object_id
            AND abs(x.t - y.t) <= $w
        WHERE x.platform <> y.platform OR x.account_id <> y.account_id
        """
        got = con.execute(sql, {"otype": self.object_type, "aa": a[1], "ab": b[1],
                                "pa": a[0], "pb": b[0],
                                "w": int(self.stats_["window_us"])}).fetchall()
        pairs = []
        for p1, a1, e1, t1, p2, a2, e2, t2 in got:
            if (p1, a1) > (p2, a2):
                p1, a1, e1, t1, p2, a2, e2, t2 = p2, a2, e2, t2, p1, a1, e1, t1
            pairs.append((abs(t2 - t1), t1, p1, e1, t2, p2, e2))
        pairs.sort()
        return [f"{p[3]}|{p[6]}" for p in pairs]


def estimate_window(o: np.ndarray, t: np.ndarray, q: float = COORNET_Q,
                    p: float = COORNET_P) -> tuple[float, str]:
    """CooRnet's coordination interval, in seconds, from rows sorted by (object, time).

    Among objects with at least two actions, keep those whose second action came within the
    ``q``-quantile of all first-to-second gaps; for each, the time from its first action to
    the first action that takes it past a share ``p`` of its actions; return the
    ``p``-quantile of those times (linear interpolation, R's default) and the rule's text.
    Giglietto et al. (2020), ``estimate_coord_interval`` in CooRnet.
    """
    rule = f"coornet(q={q}, p={p})"
    if len(o) < 2:
        return FALLBACK_WINDOW_S, rule + ": no object acted on twice; fell back to 60 s"
    starts, size = _segments(o)
    keep = size >= 2
    starts, size = starts[keep], size[keep]
    if len(starts) == 0:
        return FALLBACK_WINDOW_S, rule + ": no object acted on twice; fell back to 60 s"
    second = t[starts + 1] - t[starts]
    quick = second <= np.quantile(second, q)
    s, n = starts[quick], size[quick]
    reach = t[s + np.floor(p * n).astype(np.int64)] - t[s]
    return float(np.quantile(reach, p)) / _US, rule


_TS = pa.timestamp("us", tz="UTC")


def _part_table(p: dict[str, Any], rows: _Rows, n_acc: int, signal: str,
                null: CoActionNull, *, max_p: float | None = None) -> pa.Table:
    """The edges of one bucket as an Arrow table (one chunk per bucket keeps string offsets
    in range on very large outputs); edges with a p-value above ``max_p`` are left out."""
    lo, hi = p["key"] // n_acc, p["key"] % n_acc
    expected, p_value = null.pvalues(lo, hi, p["support"], p["gmax"], p["weight"], max_p=max_p)
    if max_p is not None:
        keep = p_value <= max_p
        if not keep.all():
            ev_keep = np.repeat(keep, p["n_ev"])
            p = {**{k: v[keep] for k, v in p.items()
                    if k in ("key", "weight", "support", "first", "last", "median_us",
                             "n_ev")},
                 "ev_lo": p["ev_lo"][ev_keep], "ev_hi": p["ev_hi"][ev_keep]}
            lo, hi, expected, p_value = lo[keep], hi[keep], expected[keep], p_value[keep]
    n = len(lo)
    offsets = np.r_[0, np.cumsum(p["n_ev"])].astype(np.int32)
    ids = pc.binary_join_element_wise(rows.ev_id.take(p["ev_lo"]), rows.ev_id.take(p["ev_hi"]),
                                      "|")
    plats = rows.acc_platform
    if len(plats) and plats[0] == plats[-1]:  # sorted: one platform only
        plat_a = plat_b = pa.repeat(plats[0], n)
    else:
        plat_a, plat_b = plats.take(lo), plats.take(hi)
    return pa.table([
        plat_a, rows.acc_id.take(lo), plat_b, rows.acc_id.take(hi),
        pa.repeat(pa.scalar(signal), n),
        pa.array(p["weight"], type=pa.int64()), pa.array(p["support"], type=pa.int64()),
        pa.array(p["first"], type=pa.int64()).cast(_TS),
        pa.array(p["last"], type=pa.int64()).cast(_TS),
        pa.array(p["median_us"] / _US, type=pa.float64()),
        pa.ListArray.from_arrays(pa.array(offsets), ids),
        pa.array(expected, type=pa.float64()), pa.array(p_value, type=pa.float64()),
    ], schema=EDGE_SCHEMA)
