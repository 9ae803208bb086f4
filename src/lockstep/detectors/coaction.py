"""Co-action on a shared object: accounts that act on the same object within a time window.

Semantics (exactly): two events by two *different* accounts on the same object with
``|t1 - t2| <= window`` (inclusive) form one *event pair*. An account is
``(platform, account_id)``. An edge's ``weight`` is its number of distinct event pairs (two
posts that share two hashtags count once), its ``support`` the number of distinct objects behind
them. Exact duplicate rows count once, and an empty object field is no object.

Algorithm (partition by object, sort by time, sweep; never a Cartesian product per object):

1. *Stage* (DuckDB, both cores): the object rows of one type with integer codes for object,
   account (in ``(platform, account_id)`` order) and event (in ``(time, platform, event_id)``
   order), sorted by ``(object, time, event)``.
2. *Count* (numpy): each object's times are shifted onto one increasing axis with a gap
   wider than the window between objects, so a single ``searchsorted`` gives, for every row,
   the end of its window inside its own object. ``end - i - 1`` is the exact number of
   candidate pairs starting at row ``i``; their sum is known before any pair exists.
3. *Emit* (numpy): candidate pairs are materialised in steps of at most 2M (a viral object is
   split across steps, exactly), same-account pairs dropped, and each pair keyed by
   ``account_a * n_accounts + account_b`` and routed to a key-range bucket. At most
   ``pair_budget`` pairs (16 bytes each) stay in memory; the rest wait in per-bucket files.
4. *Aggregate* (numpy, two threads): each bucket is sorted by key (a packed 64-bit sort) and
   reduced: weight, support, first/last seen, exact median delta and the first
   ``max_evidence`` event pairs. Buckets are disjoint key ranges, so concatenating them is the
   sorted result.

Time is ``O(N log N + P log P)`` for ``N`` rows and ``P`` candidate pairs; memory is bounded
by ``pair_budget`` plus the edges returned.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors.base import EDGE_SCHEMA, BaseDetector, _check_int, empty_edges
from lockstep.exceptions import UsageError
from lockstep.schema import OBJECT_TYPES
from lockstep.significance import CoActionNull

if TYPE_CHECKING:
    import duckdb

__all__ = ["CoActionDetector", "SIGNALS", "PLATFORM_SCOPED", "estimate_window"]

#: Signal name of each object type.
SIGNALS: dict[str, str] = {
    "post": "co-repost", "url": "co-link", "reply": "co-reply", "hashtag": "co-hashtag",
    "image": "co-image", "domain": "co-domain", "mention": "co-mention", "venue": "co-venue",
    "object": "co-object",
}
#: Object types whose ids mean something only within one platform (a post id, an account
#: id, a page): the object is ``(platform, object_id)``. URLs, domains, hashtags, image
#: hashes and opaque objects are compared across platforms.
PLATFORM_SCOPED = frozenset({"post", "reply", "mention", "venue"})

#: CooRnet's parameters for the data-driven window (Giglietto et al. 2020).
COORNET_Q = 0.1
COORNET_P = 0.5
#: Window used when ``window=None`` and no object was acted on twice.
FALLBACK_WINDOW_S = 60.0

_T = TypeVar("_T")
_R = TypeVar("_R")
_US = 1_000_000
_MAX_WINDOW_S = 1e9  # ~31 years; keeps every shifted time below 2**62 microseconds
_EMIT_STEP = 1 << 21  # pairs per emission step: small enough to stay in cache
_BUCKET_ROWS = 1 << 20  # target pairs per aggregation bucket
_THREADS = max(1, min(4, os.cpu_count() or 1))  # "use both cores" where it is cheap
_MAX_REPORTED = 100  # popular objects listed in stats_ (all are counted)
_STAGE_SQL = ("""
CREATE OR REPLACE TEMP TABLE _co_r AS
SELECT platform, event_id, account_id, epoch_us(ts) AS t, {scope} AS op, object_id
FROM objects
WHERE object_type = $otype AND object_id IS NOT NULL AND trim(object_id) <> ''
  AND account_id IS NOT NULL AND trim(account_id) <> '' AND ts IS NOT NULL
  AND event_id IS NOT NULL""", """
CREATE OR REPLACE TEMP TABLE _co_o AS
SELECT op, object_id, (row_number() OVER (ORDER BY op, object_id) - 1)::BIGINT AS o
FROM (SELECT DISTINCT op, object_id FROM _co_r)""", """
CREATE OR REPLACE TEMP TABLE _co_a AS
SELECT platform, account_id, (row_number() OVER (ORDER BY platform, account_id) - 1)::BIGINT AS a
FROM (SELECT DISTINCT platform, account_id FROM _co_r)""")
_ROWS_SQL = """
SELECT o.o, r.t, a.a, r.platform, r.event_id
FROM _co_r r JOIN _co_o o USING (op, object_id) JOIN _co_a a USING (platform, account_id)
ORDER BY r.t, r.platform, r.event_id, o.o
"""


@dataclass
class _Rows:
    """Object rows sorted by ``(object, time, event)``, with the code tables."""

    o: np.ndarray  # object code (int64)
    t: np.ndarray  # time, UNIX microseconds (int64)
    a: np.ndarray  # account code, in (platform, account_id) order (int64)
    e: np.ndarray  # event code, in (time, platform, event_id) order (int64)
    multi: bool  # some event has several objects of this type
    acc_platform: pa.Array
    acc_id: pa.Array
    ev_id: pa.Array  # event_id by event code
    obj_id: pa.Array  # object_id by object code
    n_events: int


class CoActionDetector(BaseDetector):
    """Accounts acting on the same object (post, URL, hashtag, ...) within a time window.

    Two events by two different accounts on the same object with ``|t1 - t2| <= window``
    (inclusive) are an event pair; an edge's ``weight`` is its number of distinct event pairs
    and ``support`` its number of distinct objects. ``expected`` and ``p_value`` test the
    support against chance: accounts picking objects independently (keeping their activity
    and the objects' popularity) and times shuffled within each object, with rare objects
    counting more than viral ones (:class:`lockstep.significance.CoActionNull`). The join is a
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
        ``None`` keeps every object whole (exact).
    random_state : int, default 0
        Seed of the sampling of popular objects.

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
                 popular_threshold: int | None = None, random_state: int = 0) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
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
        if self.window is not None and (isinstance(self.window, bool)
                                        or not isinstance(self.window, Real)
                                        or not 0 <= self.window <= _MAX_WINDOW_S):
            raise UsageError(f"window must be a number of seconds between 0 and "
                             f"{_MAX_WINDOW_S:.0e}, or None, not {self.window!r}")
        _check_int("pair_budget", self.pair_budget, 1)
        if self.popular_threshold is not None:
            _check_int("popular_threshold", self.popular_threshold, 1)
        _check_int("random_state", self.random_state, 0)

    def _signal_name(self) -> str:
        return SIGNALS[self.object_type]

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        secs: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            secs[name] = round(now - clock, 4)
            clock = now

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
        _, all_starts, all_cand = _count(rows.o, rows.t, wus)
        null = CoActionNull.from_rows(rows.o, rows.a, all_cand, all_starts, len(rows.acc_id))
        del all_starts, all_cand
        rows = _drop_unshared(rows)
        cand, obj_starts, obj_cand = _count(rows.o, rows.t, wus)
        stats.update(objects_shared=int(len(obj_starts)), candidate_pairs=int(cand.sum()),
                     largest_objects=_describe_largest(rows, obj_starts, obj_cand))
        lap("count")
        rows, cand = self._popular(rows, cand, obj_starts, obj_cand, wus, stats)
        lap("popular")
        got = con.execute("SELECT current_setting('temp_directory')").fetchone()
        spill_dir = Path((got[0] if got else None) or tempfile.gettempdir()) / (
            f"coaction-{os.getpid()}-{id(self):x}-{time.monotonic_ns()}")
        try:
            table = self._sweep(rows, cand, spill_dir, stats, lap, null)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        stats["seconds"] = secs
        return table, stats

    def _popular(self, rows: _Rows, cand: np.ndarray, obj_starts: np.ndarray,
                 obj_cand: np.ndarray, wus: int, stats: dict[str, Any]
                 ) -> tuple[_Rows, np.ndarray]:
        """Sample the objects above ``popular_threshold``; list those split across chunks."""
        stats["popular_objects"] = []
        n_sampled = 0
        stats["exact"] = True
        if self.popular_threshold is not None and np.any(obj_cand > self.popular_threshold):
            rows, sampled = _sample_popular(rows, obj_starts, obj_cand, self.popular_threshold,
                                            self.random_state)
            n_sampled = len(sampled)
            stats["popular_objects"] = sampled[:_MAX_REPORTED]
            stats["exact"] = False
            cand, obj_starts, obj_cand = _count(rows.o, rows.t, wus)
            stats["candidate_pairs_sampled"] = int(cand.sum())
        split = np.flatnonzero(obj_cand > self.pair_budget)
        split = split[np.argsort(-obj_cand[split], kind="stable")]
        for k in split[:_MAX_REPORTED]:
            stats["popular_objects"].append({
                "object_id": rows.obj_id[int(rows.o[obj_starts[k]])].as_py(),
                "candidate_pairs": int(obj_cand[k]), "handling": "chunked",
                "chunks": -(-int(obj_cand[k]) // self.pair_budget)})
        stats["popular_objects_count"] = n_sampled + len(split)
        return rows, cand

    def _sweep(self, rows: _Rows, cand: np.ndarray, spill_dir: Path, stats: dict[str, Any],
               lap: Callable[[str], None], null: CoActionNull) -> pa.Table:
        """Emit the candidate pairs in bounded steps, then reduce each key-range bucket."""
        n_acc = len(rows.acc_id)
        buckets = _Buckets(n_acc, int(cand.sum()), len(rows.o), self.pair_budget, spill_dir)
        steps = same = 0
        for r0, r1, sub in _pieces(cand, min(self.pair_budget, _EMIT_STEP)):
            left, right = _emit(cand, r0, r1, sub)
            steps += 1
            al, ar = rows.a[left], rows.a[right]
            keep = al != ar  # an account never pairs with itself
            n_keep = int(np.count_nonzero(keep))
            if n_keep < len(keep):
                same += len(keep) - n_keep
                left, right, al, ar = left[keep], right[keep], al[keep], ar[keep]
            buckets.add(np.minimum(al, ar) * n_acc + np.maximum(al, ar), left, right)
        stats.update(same_account_pairs=same, emit_steps=steps, buckets=buckets.k)
        lap("emit")
        signal = self._signal_name()

        def finish(bucket: tuple[np.ndarray, np.ndarray, np.ndarray, int]
                   ) -> tuple[int, pa.Table | None]:
            part = _reduce(*bucket, rows, self.max_evidence, self.min_weight, null.g)
            return (int(part["event_pairs"]),
                    _part_table(part, rows, n_acc, signal, null) if len(part["key"])
                    else None)

        # buckets are independent: reduce them on both cores (numpy and Arrow release the GIL)
        done = list(_bounded_map(finish, buckets.drain(), _THREADS))
        stats["spilled_pairs"] = buckets.spilled_pairs
        stats["event_pairs"] = sum(n for n, _ in done)
        tables = [t for _, t in done if t is not None]
        lap("aggregate")
        return pa.concat_tables(tables) if tables else empty_edges()

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
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    size = np.diff(np.r_[starts, len(o)])
    keep = size >= 2
    starts, size = starts[keep], size[keep]
    if len(starts) == 0:
        return FALLBACK_WINDOW_S, rule + ": no object acted on twice; fell back to 60 s"
    second = t[starts + 1] - t[starts]
    quick = second <= np.quantile(second, q)
    s, n = starts[quick], size[quick]
    reach = t[s + np.floor(p * n).astype(np.int64)] - t[s]
    return float(np.quantile(reach, p)) / _US, rule


# -- stages ------------------------------------------------------------------------------------
def _stage(con: duckdb.DuckDBPyConnection, otype: str) -> _Rows:
    scope = "platform" if otype in PLATFORM_SCOPED else "''"
    con.execute(_STAGE_SQL[0].format(scope=scope), {"otype": otype})
    for sql in _STAGE_SQL[1:]:
        con.execute(sql)
    tb = con.sql(_ROWS_SQL).to_arrow_table()
    accs = con.sql("SELECT platform, account_id FROM _co_a ORDER BY a").to_arrow_table()
    objs = con.sql("SELECT object_id FROM _co_o ORDER BY o").to_arrow_table()
    for name in ("_co_r", "_co_o", "_co_a"):
        con.execute(f"DROP TABLE {name}")
    n = tb.num_rows
    o = tb.column("o").to_numpy()
    t = tb.column("t").to_numpy()
    a = tb.column("a").to_numpy()
    plat, evid = tb.column("platform"), tb.column("event_id")
    new_ev = np.ones(n, dtype=bool)
    if n > 1:
        diff_ev = pc.or_(pc.not_equal(evid.slice(1), evid.slice(0, n - 1)),
                         pc.not_equal(plat.slice(1), plat.slice(0, n - 1)))
        new_ev[1:] = diff_ev.to_numpy(zero_copy_only=False)
    e = np.cumsum(new_ev) - 1
    n_events = int(np.count_nonzero(new_ev))
    ev_id = evid.filter(pa.array(new_ev)).combine_chunks()
    # exact duplicate rows (same event and object) are adjacent: keep one
    if n > 1:
        dup = np.zeros(n, dtype=bool)
        dup[1:] = (~new_ev[1:]) & (o[1:] == o[:-1])
        if dup.any():
            keep = ~dup
            o, t, a, e = o[keep], t[keep], a[keep], e[keep]
    multi = len(e) > n_events
    order = _sort_by_object(o)
    return _Rows(o=o[order], t=t[order], a=a[order], e=e[order], multi=multi,
                 acc_platform=accs.column("platform").combine_chunks(),
                 acc_id=accs.column("account_id").combine_chunks(), ev_id=ev_id,
                 obj_id=objs.column("object_id").combine_chunks(), n_events=n_events)


def _packed_argsort(vals: np.ndarray, vmax: int) -> np.ndarray:
    """Stable argsort of non-negative int64 ``vals`` (at most ``vmax``): value and position
    packed in one int64 when they fit, which numpy sorts several times faster than argsort."""
    n = len(vals)
    bits = max(1, (n - 1).bit_length())
    if int(vmax).bit_length() + bits <= 63:
        packed = (vals.astype(np.int64) << bits) | np.arange(n, dtype=np.int64)
        packed.sort()
        return packed & ((1 << bits) - 1)
    return np.argsort(vals, kind="stable")


def _sort_by_object(o: np.ndarray) -> np.ndarray:
    # rows arrive in (time, platform, event_id) order: a stable sort by object gives
    # (object, time, event) order
    if len(o) == 0:
        return np.zeros(0, dtype=np.int64)
    return _packed_argsort(o, int(o.max()))


def _segments(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of each object's run of rows."""
    if len(o) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    return starts, np.diff(np.r_[starts, len(o)])


def _take_rows(rows: _Rows, keep: np.ndarray) -> _Rows:
    return _Rows(o=rows.o[keep], t=rows.t[keep], a=rows.a[keep], e=rows.e[keep],
                 multi=rows.multi, acc_platform=rows.acc_platform, acc_id=rows.acc_id,
                 ev_id=rows.ev_id, obj_id=rows.obj_id, n_events=rows.n_events)


def _drop_unshared(rows: _Rows) -> _Rows:
    """Objects acted on once cannot pair: drop their rows before the sweep."""
    starts, size = _segments(rows.o)
    if len(starts) == 0 or size.min() >= 2:
        return rows
    return _take_rows(rows, np.repeat(size >= 2, size))


def _count(o: np.ndarray, t: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact candidate pairs per row (partners later in the same object within ``w``), the
    object starts, and the candidates per object.

    Each object's times are moved onto one increasing axis, objects separated by more than
    ``w``, so that one ``searchsorted`` finds every row's window end inside its own object.
    """
    n = len(o)
    starts, size = _segments(o)
    if n == 0:
        return np.zeros(0, dtype=np.int64), starts, np.zeros(0, dtype=np.int64)
    tmin = t[starts]
    gap = t[starts + size - 1] - tmin + w + 1
    end = np.empty(n, dtype=np.int64)
    # keep the shifted axis below 2**62: group objects whose cumulative length fits
    group = np.floor(np.cumsum(gap.astype(np.float64)) / float(1 << 61)).astype(np.int64)
    cuts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1, len(starts)]
    for g0, g1 in zip(cuts[:-1], cuts[1:], strict=True):
        r0 = int(starts[g0])
        r1 = int(starts[g1]) if g1 < len(starts) else n
        offs = np.r_[0, np.cumsum(gap[g0:g1])[:-1]]
        tt = t[r0:r1] + np.repeat(offs - tmin[g0:g1], size[g0:g1])
        end[r0:r1] = r0 + np.searchsorted(tt, tt + w, side="right")
    cand = end - np.arange(n) - 1
    return cand, starts, np.add.reduceat(cand, starts)


def _describe_largest(rows: _Rows, starts: np.ndarray, obj_cand: np.ndarray,
                      top: int = 5) -> list[dict[str, Any]]:
    if len(starts) == 0:
        return []
    size = np.diff(np.r_[starts, len(rows.o)])
    best = np.argsort(-obj_cand, kind="stable")[:top]
    return [{"object_id": rows.obj_id[int(rows.o[starts[k]])].as_py(), "events": int(size[k]),
             "candidate_pairs": int(obj_cand[k])} for k in best if obj_cand[k] > 0]


def _hash01(x: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic uniform [0, 1) value per integer (splitmix64)."""
    z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & (2**64 - 1))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _sample_popular(rows: _Rows, starts: np.ndarray, obj_cand: np.ndarray, threshold: int,
                    seed: int) -> tuple[_Rows, list[dict[str, Any]]]:
    """Thin each popular object's events to a rate that brings its pairs near ``threshold``."""
    size = np.diff(np.r_[starts, len(rows.o)])
    rate = np.ones(len(starts))
    popular = np.flatnonzero(obj_cand > threshold)
    rate[popular] = np.sqrt(threshold / obj_cand[popular])
    keep = _hash01(rows.e, seed) < np.repeat(rate, size)
    kept = np.add.reduceat(keep.astype(np.int64), starts)
    popular = popular[np.argsort(-obj_cand[popular], kind="stable")]
    report = [{"object_id": rows.obj_id[int(rows.o[starts[k]])].as_py(),
               "events": int(size[k]), "candidate_pairs": int(obj_cand[k]),
               "handling": "sampled", "rate": float(rate[k]), "events_kept": int(kept[k])}
              for k in popular]
    return _take_rows(rows, keep), report


def _pieces(cand: np.ndarray, step: int) -> Iterator[tuple[int, int, tuple[int, int] | None]]:
    """Row ranges whose candidate pairs total at most ``step``; a row with more than ``step``
    alone is cut into sub-ranges of its partners ``(r, r + 1, (first, stop))``."""
    n = len(cand)
    cum = np.cumsum(cand)
    r = 0
    while r < n:
        base = int(cum[r - 1]) if r else 0
        r1 = int(np.searchsorted(cum, base + step, side="right"))
        if r1 > r:
            if int(cum[r1 - 1]) > base:
                yield r, r1, None
            r = r1
        else:
            k = int(cand[r])
            for s in range(0, k, step):
                yield r, r + 1, (s, min(k, s + step))
            r += 1


def _emit(cand: np.ndarray, r0: int, r1: int,
          sub: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(left, right)`` of the candidate pairs of rows ``r0..r1``."""
    if sub is not None:
        right = np.arange(r0 + 1 + sub[0], r0 + 1 + sub[1], dtype=np.int64)
        return np.full(len(right), r0, dtype=np.int64), right
    k = cand[r0:r1]
    idx = np.arange(r0, r1, dtype=np.int64)
    firsts = np.cumsum(k) - k
    # the p-th pair overall (p from 0) of row i pairs it with row i + 1 + (p - first_i)
    right = np.arange(int(firsts[-1] + k[-1]), dtype=np.int64) + np.repeat(idx + 1 - firsts, k)
    return np.repeat(idx, k), right


class _Buckets:
    """Pairs routed to key-range buckets, each small enough to sort fast; buckets are in key
    order, so their reduced results concatenate into the sorted edge list. When more than
    ``mem_pairs`` pairs are held, they are appended to one file per bucket under
    ``spill_dir`` (about 16 bytes a pair), so memory stays bounded whatever the input."""

    def __init__(self, n_acc: int, est_pairs: int, n_rows: int, mem_pairs: int,
                 spill_dir: Path) -> None:
        space = max(1, n_acc * n_acc)
        k = 1
        while k < (1 << 16):
            avg = est_pairs / k
            bits = max(1, int(avg * 4 + 1).bit_length())
            if avg <= _BUCKET_ROWS and (-(-space // k)).bit_length() + bits <= 62:
                break
            k *= 2
        # a power-of-two key range per bucket: the bucket of a key is a shift
        self.shift = max(0, (-(-space // k) - 1).bit_length())
        self.width = 1 << self.shift
        self.k = -(-space // self.width)
        self.idx_dtype = np.int32 if n_rows < (1 << 31) else np.int64
        self.parts: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [
            [] for _ in range(self.k)]
        self.mem_pairs = mem_pairs
        self.held = 0
        self.spill_dir = spill_dir
        self.spilled_pairs = 0
        self.on_disk: set[int] = set()

    def add(self, key: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
        if len(key) == 0:
            return
        left, right = left.astype(self.idx_dtype), right.astype(self.idx_dtype)
        if self.k == 1:
            self.parts[0].append((key, left, right))
        else:
            bid = key >> self.shift
            order = np.argsort(bid.astype(np.uint16), kind="stable")  # radix sort
            counts = np.bincount(bid, minlength=self.k)
            key, left, right = key[order], left[order], right[order]
            ends = np.cumsum(counts)
            for b in np.flatnonzero(counts):
                s, e = int(ends[b] - counts[b]), int(ends[b])
                self.parts[b].append((key[s:e], left[s:e], right[s:e]))
        self.held += len(key)
        if self.held > self.mem_pairs:
            self._spill()

    def _files(self, b: int) -> list[Path]:
        return [self.spill_dir / f"{b}.{name}" for name in ("key", "left", "right")]

    def _spill(self) -> None:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        for b, got in enumerate(self.parts):
            if not got:
                continue
            for col, path in enumerate(self._files(b)):
                with open(path, "ab") as fh:
                    for g in got:
                        g[col].tofile(fh)
            self.on_disk.add(b)
            self.parts[b] = []
        self.spilled_pairs += self.held
        self.held = 0

    def drain(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """Yield ``(key, left, right, base)`` per bucket in key order, releasing each."""
        for b in range(self.k):
            got = self.parts[b]
            self.parts[b] = []
            if b in self.on_disk:
                paths = self._files(b)
                got = [(np.fromfile(paths[0], dtype=np.int64),
                        np.fromfile(paths[1], dtype=self.idx_dtype),
                        np.fromfile(paths[2], dtype=self.idx_dtype)), *got]
                for path in paths:
                    path.unlink()
            if got:
                yield (np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got]),
                       np.concatenate([g[2] for g in got]), b * self.width)


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
            max_evidence: int, min_weight: int, g: np.ndarray) -> dict[str, Any]:
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
    gmax = np.maximum.reduceat(g[rows.o[left[order]]], starts)
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


_TS = pa.timestamp("us", tz="UTC")


def _part_table(p: dict[str, Any], rows: _Rows, n_acc: int, signal: str,
                null: CoActionNull) -> pa.Table:
    """The edges of one bucket as an Arrow table (one chunk per bucket keeps string offsets
    in range on very large outputs)."""
    n = len(p["key"])
    lo, hi = p["key"] // n_acc, p["key"] % n_acc
    expected, p_value = null.pvalues(lo, hi, p["support"], p["gmax"])
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
