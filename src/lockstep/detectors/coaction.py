"""Co-action on a shared object: accounts that act on the same object within a time window.

Semantics (exactly): two events by two *different* accounts on the same object with
``|t1 - t2| <= window`` (inclusive) form one *event pair*. An account is
``(platform, account_id)``. An edge's ``weight`` is its number of distinct event pairs (two
posts that share two hashtags count once), its ``support`` the number of distinct objects behind
them. Exact duplicate rows count once, and an empty object field is no object.

Algorithm (partition by object, sort by time, sweep; never a Cartesian product per object):

1. *Stage* (DuckDB, both cores; :mod:`lockstep.detectors.sweep`): the object rows of one type
   with integer codes for object, account (in ``(platform, account_id)`` order) and event (in
   ``(time, platform, event_id)`` order), sorted by ``(object, time, event)``.
2. *Count*, 3. *Emit*, 4. *Reduce* (numpy; :mod:`lockstep.detectors.sweep`): one
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

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lockstep import spill
from lockstep.detectors.base import (
    BaseDetector,
    Laps,
    check_int,
    check_real,
    empty_edges,
)
from lockstep.detectors.sweep import (
    EMIT_STEP,
    PLATFORM_SCOPED,
    SIGNALS,
    THREADS,
    Buckets,
    Rows,
    bounded_map,
    check_disk,
    count_candidates,
    describe_largest,
    drop_unshared_counted,
    emit_pairs,
    estimate_window,
    part_table,
    reduce_bucket,
    report_split,
    stage_rows,
    thin_popular,
)
from lockstep.exceptions import UsageError
from lockstep.schema import OBJECT_TYPES

if TYPE_CHECKING:
    import duckdb

    from lockstep.significance import CoActionNull  # scipy: imported when fitting

    from lockstep.workspace import Workspace

__all__ = ["CoActionDetector", "SIGNALS", "PLATFORM_SCOPED", "estimate_window"]

_US = 1_000_000
_MAX_WINDOW_S = 1e9  # ~31 years; keeps every shifted time below 2**62 microseconds


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
        check_real("window", self.window, 0, _MAX_WINDOW_S, optional=True)
        check_int("pair_budget", self.pair_budget, 1)
        if self.popular_threshold is not None:
            check_int("popular_threshold", self.popular_threshold, 1)
        check_int("random_state", self.random_state, 0)
        check_real("max_p", self.max_p, 0, 1, open_low=True, optional=True)
        if self.disk_mb is not None:
            check_int("disk_mb", self.disk_mb, 0)

    def _signal_name(self) -> str:
        return SIGNALS[self.object_type]

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        rows = stage_rows(con, self.object_type)
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
        counted = count_candidates(rows.o, rows.t, wus)
        _, all_starts, all_cand = counted
        stats.update(candidate_pairs=int(all_cand.sum()),
                     largest_objects=describe_largest(rows, all_starts, all_cand))
        lap("count")
        rows, counted = thin_popular(rows, counted, wus, stats,
                                     threshold=self.popular_threshold, seed=self.random_state)
        lap("popular")
        from lockstep.significance import CoActionNull

        # fitted after thinning: the null describes the data the pairs are counted on
        null = CoActionNull.from_rows(rows.o, rows.a, counted[2], counted[1], len(rows.acc_id),
                                      t=rows.t, window=wus)
        rows, (cand, obj_starts, obj_cand) = drop_unshared_counted(rows, counted)
        del counted
        stats["objects_shared"] = int(len(obj_starts))
        report_split(rows, obj_starts, obj_cand, stats, self.pair_budget)
        lap("null")
        got = con.execute("SELECT current_setting('temp_directory')").fetchone()
        spill_dir = spill.spill_dir("coaction", (got[0] if got else None) or None)
        check_disk(rows, obj_starts, obj_cand, int(cand.sum()), self.pair_budget,
                   spill_dir.parent, disk_mb=self.disk_mb, signal=self._signal_name(),
                   window=self.window)
        try:
            table = self._sweep(rows, cand, spill_dir, stats, lap, null)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        stats["seconds"] = secs
        return table, stats

    def _sweep(self, rows: Rows, cand: np.ndarray, spill_dir: Path, stats: dict[str, Any],
               lap: Callable[[str], None], null: CoActionNull) -> pa.Table:
        """Emit the candidate pairs in bounded steps, then reduce each key-range bucket."""
        n_acc = len(rows.acc_id)
        buckets = Buckets(rows.a, n_acc, int(cand.sum()), len(rows.o), self.pair_budget,
                          spill_dir)
        try:
            emit_pairs(rows, cand, buckets, min(self.pair_budget, EMIT_STEP), stats)
        except BaseException:
            buckets.close()  # the spill files (drain closes them otherwise)
            raise
        lap("emit")
        signal = self._signal_name()

        def finish(bucket: tuple[np.ndarray, np.ndarray, np.ndarray, int]
                   ) -> tuple[int, int, pa.Table | None]:
            part = reduce_bucket(*bucket, rows, self.max_evidence, self.min_weight, null.g)
            return (int(part["event_pairs"]), len(part["key"]),
                    part_table(part, rows, n_acc, signal, null, max_p=self.max_p)
                    if len(part["key"]) else None)

        # buckets are independent: reduce them on both cores (numpy and Arrow release the GIL)
        done = list(bounded_map(finish, buckets.drain(), THREADS))
        stats["spilled_pairs"] = buckets.spilled_pairs
        stats["event_pairs"] = sum(n for n, _, _ in done)
        stats["pairs_tested"] = sum(n for _, n, _ in done)
        tables = [t for _, _, t in done if t is not None]
        lap("aggregate")
        return pa.concat_tables(tables) if tables else empty_edges()

    def write_pairs(self, workspace: Workspace | str | Path, path: str | Path, /, *,
                    fmt: str | None = None, evidence: bool = False,
                    memory_mb: int = 256, raw: bool = False) -> dict[str, Any]:
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
        raw : bool, default False
            Write a CSV's ids exactly; by default an id a spreadsheet would run as a formula
            (``=``, ``+``, ``-``, ``@``, tab, CR first) gets a ``'`` in front
            (:mod:`lockstep.spreadsheet`).

        Returns
        -------
        dict
            The run's statistics, as :attr:`stats_` after :meth:`fit`, plus ``edges`` (rows
            written), ``path``, ``format`` and ``spilled_pairs``. The detector is not fitted.
        """
        from lockstep.detectors.coaction_io import stream_pairs

        return stream_pairs(self, workspace, path, fmt=fmt, evidence=evidence,
                            memory_mb=memory_mb, raw=raw)

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

