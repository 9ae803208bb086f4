"""Staging and sort-and-sweep kernels shared by the detectors: stage, sort, count, emit, reduce.

One module, not two: staging and sweep share :class:`Rows` and the object-run helpers.

Used by co-action (:mod:`~lockstep.detectors.coaction`) and its streaming writer
(:mod:`~lockstep.detectors.coaction_io`), co-text, synchrony, dense blocks (staging, object
runs) and infrastructure (the count).

Staging (DuckDB to integer codes):

- :func:`stage_rows` gives everything the full edge table needs (object, time, account and
  event codes, event ids for evidence, duplicate rows removed), sorted by
  ``(object, time, event)``; :func:`stage_lean` gives only object, time and account codes,
  for the streaming pair writer (:mod:`lockstep.detectors.coaction_io`): about 16 bytes a
  row, the string work done in DuckDB under a memory limit and the sort spilled by DuckDB if
  need be.
- :func:`stage_actions` gives the (account, object, event, time) rows of several object
  types at once (:class:`Actions`), for synchrony and dense blocks.
- The object-run helpers (:func:`segments`, :func:`sort_by_object`, :func:`drop_unshared`),
  CooRnet's window (:func:`estimate_window`) and the handling of popular objects
  (:func:`thin_popular`, :func:`report_split`, :func:`check_disk`).

The sweep (numpy):

1. *Count* (:func:`count_candidates`): each object's times are shifted onto one increasing
   axis with a gap wider than the window between objects, so a single ``searchsorted``
   gives, for every row, the end of its window inside its own object. ``end - i - 1`` is
   the exact number of candidate pairs starting at row ``i``; their sum is known before any
   pair exists.
2. *Emit* (:func:`emit_pairs`): candidate pairs are materialised in steps (a viral object
   is split across steps, exactly), same-account pairs dropped, and each pair routed by its
   key ``account_a * n_accounts + account_b`` to a key-range bucket (:class:`Buckets`). Only
   the two row indices of a pair are kept (8 bytes); at most ``mem_pairs`` pairs stay in
   memory, the rest wait in one file per bucket.
3. *Reduce* (:func:`reduce_bucket`, :func:`reduce_bucket_lean`): each bucket is sorted by key
   (a packed 64-bit sort, stable, so a pair's event pairs stay in emission order, which is
   object order) and reduced to weight, support, first/last seen and the exact median delta
   (and, for :func:`reduce_bucket`, the first ``max_evidence`` event pairs). Buckets are
   disjoint key ranges in key order, so their results concatenate into the sorted edge list
   (:func:`part_table`) or stream to a file.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep import spill
from lockstep.detectors.base import EDGE_SCHEMA
from lockstep.exceptions import UsageError
from lockstep.schema import OBJECT_TYPES

if TYPE_CHECKING:
    import duckdb

    from lockstep.significance import CoActionNull

__all__ = [
    # constants
    "SIGNALS", "PLATFORM_SCOPED", "SCALAR_TYPES", "KIND_SQL", "THREADS", "EMIT_STEP",
    "COORNET_Q", "COORNET_P", "FALLBACK_WINDOW_S",
    # staging
    "Rows", "stage_rows", "stage_lean", "Actions", "stage_actions", "type_list", "scope_sql",
    "check_object_types", "pack", "distinct_per_group",
    # object runs and popular objects
    "packed_argsort", "sort_by_object", "segments", "drop_unshared", "drop_unshared_counted",
    "describe_largest", "estimate_window", "sample_popular", "thin_popular", "report_split",
    "check_disk",
    # count, emit, reduce
    "count_candidates", "count_candidates_range", "emit", "Buckets", "load_buckets",
    "emit_pairs", "bounded_map", "reduce_bucket", "reduce_bucket_lean", "part_table",
]

#: Signal name of each object type.
SIGNALS: dict[str, str] = {
    "post": "co-repost", "url": "co-link", "reply": "co-reply", "hashtag": "co-hashtag",
    "image": "co-image", "domain": "co-domain", "mention": "co-mention", "venue": "co-venue",
    "object": "co-object", "author": "co-amplify",
}
#: Object types whose ids mean something only within one platform (a post id, an account
#: id, a page): the object is ``(platform, object_id)``. URLs, domains, hashtags, image
#: hashes and opaque objects are compared across platforms.
PLATFORM_SCOPED = frozenset({"post", "reply", "mention", "venue", "author"})
#: Object types with at most one object per event (a scalar column of ``events``): no event
#: can pair twice through two objects, and a workspace's events are unique, so no duplicate
#: object rows exist.
SCALAR_TYPES = frozenset({"post", "reply", "venue", "author"})
#: A reply to a post and a re-post of it are both actions on that post: one object kind.
KIND_SQL = "CASE WHEN object_type = 'reply' THEN 'post' ELSE object_type END"
#: Worker threads (at most 4) for staging, emitting and reducing: "use both cores" where
#: it is cheap.
THREADS = max(1, min(4, os.cpu_count() or 1))
#: Pairs per emission step: small enough to stay in cache.
EMIT_STEP = 1 << 21
#: CooRnet's parameters for the data-driven window (Giglietto et al. 2020).
COORNET_Q = 0.1
COORNET_P = 0.5
#: Window used when ``window=None`` and no object was acted on twice.
FALLBACK_WINDOW_S = 60.0

_T = TypeVar("_T")
_R = TypeVar("_R")
_US = 1_000_000
_TS = pa.timestamp("us", tz="UTC")
_BUCKET_ROWS = 1 << 20  # target pairs per aggregation bucket
_COUNT_ROWS = 1 << 18  # rows per counting chunk (whole objects; bounds the temporaries)
_MAX_BUCKETS = 1 << 16  # the route of a pair is a 16-bit radix sort
_MAX_REPORTED = 100  # popular objects listed in stats_ (all are counted)

_FILTER = """object_type = $otype AND object_id IS NOT NULL AND trim(object_id) <> ''
  AND account_id IS NOT NULL AND trim(account_id) <> '' AND ts IS NOT NULL
  AND event_id IS NOT NULL"""
_STAGE_SQL = (f"""
CREATE OR REPLACE TEMP TABLE _co_r AS
SELECT platform, event_id, account_id, epoch_us(ts) AS t, {{scope}} AS op, object_id
FROM objects
WHERE {_FILTER}""", """
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
# lean: only integer columns leave DuckDB; objects acted on once are dropped in SQL
_LEAN_SQL = (f"""
CREATE OR REPLACE TEMP TABLE _co_a AS
SELECT platform, account_id, (row_number() OVER (ORDER BY platform, account_id) - 1)::INTEGER AS a
FROM (SELECT DISTINCT platform, account_id FROM objects WHERE {_FILTER})""", f"""
CREATE OR REPLACE TEMP TABLE _co_n AS
SELECT {{scope}} AS op, object_id, count(*) AS n FROM objects WHERE {_FILTER} GROUP BY ALL""", """
CREATE OR REPLACE TEMP TABLE _co_o AS
SELECT op, object_id, (row_number() OVER (ORDER BY op, object_id) - 1)::INTEGER AS o
FROM _co_n WHERE n >= 2""")
_LEAN_ROWS_SQL = f"""
SELECT o.o, a.a, r.t FROM (
    SELECT platform, account_id, epoch_us(ts) AS t, {{scope}} AS op, object_id
    FROM objects WHERE {_FILTER}) r
JOIN _co_o o USING (op, object_id) JOIN _co_a a USING (platform, account_id)
ORDER BY o.o, r.t
"""

# -- staging: the object rows of one type ------------------------------------------------------
@dataclass
class Rows:
    """Object rows sorted by ``(object, time, event)``, with the code tables."""

    o: np.ndarray  # object code (int64; int32 when lean)
    t: np.ndarray  # time, UNIX microseconds (int64)
    a: np.ndarray  # account code, in (platform, account_id) order (int64; int32 when lean)
    e: np.ndarray  # event code, in (time, platform, event_id) order (int64; empty when lean)
    multi: bool  # some event has several objects of this type
    acc_platform: pa.Array
    acc_id: pa.Array
    ev_id: pa.Array  # event_id by event code (empty when lean)
    obj_id: pa.Array  # object_id by object code
    n_events: int
    lean: bool = False  # from stage_lean: no event codes, only objects acted on twice
    t_scale: int = 1  # t is in units of t_scale microseconds (lean rows of whole seconds:
    t_base: int = 0  # 1_000_000, int32) after t_base: microseconds = t * t_scale + t_base


def stage_rows(con: duckdb.DuckDBPyConnection, otype: str) -> Rows:
    """Every object row of ``otype`` with object, account and event codes, exact duplicate
    rows removed, sorted by ``(object, time, event)``."""
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
    order = sort_by_object(o)
    return Rows(o=o[order], t=t[order], a=a[order], e=e[order], multi=multi,
                acc_platform=accs.column("platform").combine_chunks(),
                acc_id=accs.column("account_id").combine_chunks(), ev_id=ev_id,
                obj_id=objs.column("object_id").combine_chunks(), n_events=n_events)


def stage_lean(con: duckdb.DuckDBPyConnection, otype: str) -> tuple[Rows, dict[str, int]]:
    """The rows of the objects of ``otype`` acted on at least twice, as int32 object and
    account codes and int64 times sorted by ``(object, time)``, with the counts of the whole
    input (``rows``, ``accounts``, ``objects``, ``objects_shared``).

    Only for :data:`SCALAR_TYPES` (no event has two objects, no duplicate rows), where the
    event codes are not needed for pair counts, weights, supports, times and medians.
    """
    if otype not in SCALAR_TYPES:
        raise ValueError(f"lean staging is for {sorted(SCALAR_TYPES)}, not {otype!r}")
    scope = "platform" if otype in PLATFORM_SCOPED else "''"
    for sql in _LEAN_SQL:
        con.execute(sql.format(scope=scope), {"otype": otype} if "$otype" in sql else None)
    got = con.execute("SELECT count(*), coalesce(sum(n), 0), count(*) FILTER (WHERE n >= 2), "
                      "coalesce(sum(n) FILTER (WHERE n >= 2), 0) FROM _co_n").fetchall()
    n_obj, n_rows, n_shared, n = (int(x) for x in got[0])
    o = np.empty(n, dtype=np.int32)
    a = np.empty(n, dtype=np.int32)
    t = np.empty(n, dtype=np.int64)
    at = 0
    reader = con.sql(_LEAN_ROWS_SQL.format(scope=scope), params={"otype": otype}
                     ).to_arrow_reader(1 << 18)
    for batch in reader:
        k = batch.num_rows
        o[at:at + k] = batch.column(0).to_numpy()
        a[at:at + k] = batch.column(1).to_numpy()
        t[at:at + k] = batch.column(2).to_numpy()
        at += k
    if at != n:  # pragma: no cover - the counts come from the same tables
        raise RuntimeError(f"staged {at} rows, expected {n}")
    accs = con.sql("SELECT platform, account_id FROM _co_a ORDER BY a").to_arrow_table()
    objs = con.sql("SELECT object_id FROM _co_o ORDER BY o").to_arrow_table()
    for name in ("_co_a", "_co_n", "_co_o"):
        con.execute(f"DROP TABLE {name}")
    rows = Rows(o=o, t=t, a=a, e=np.zeros(0, dtype=np.int32), multi=False,
                acc_platform=accs.column("platform").combine_chunks(),
                acc_id=accs.column("account_id").combine_chunks(), ev_id=pa.array([], pa.string()),
                obj_id=objs.column("object_id").combine_chunks(), n_events=n_rows, lean=True)
    counts = {"rows": n_rows, "accounts": len(rows.acc_id), "objects": n_obj,
              "objects_shared": n_shared}
    return rows, counts


# -- staging: the actions of several types (synchrony, dense blocks) --------------------------
@dataclass
class Actions:
    """Account-object-event rows, integer coded, in event order."""

    a: np.ndarray  # account code, in (platform, account_id) order
    o: np.ndarray  # object code, in (object_type, scope, object_id) order
    e: np.ndarray  # event code, in (time, platform, event_id) order
    t: np.ndarray  # event time, UNIX microseconds
    acc_platform: pa.Array
    acc_id: pa.Array
    obj_type: pa.Array  # object kind ('post' for re-posts and replies)
    obj_scope: pa.Array  # platform for platform-scoped kinds, else ''
    obj_id: pa.Array
    ev_id: pa.Array  # event_id by event code
    n_events: int


def type_list(object_types: tuple[str, ...]) -> str:
    """``object_types`` as an SQL list of string literals."""
    return ", ".join(f"'{t}'" for t in object_types)  # validated against OBJECT_TYPES


def scope_sql(col: str = "object_type") -> str:
    """SQL of an object's scope: its platform for :data:`PLATFORM_SCOPED` types, else ``''``."""
    return (f"CASE WHEN {col} IN ({type_list(tuple(sorted(PLATFORM_SCOPED)))}) "
            "THEN platform ELSE '' END")


def stage_actions(con: duckdb.DuckDBPyConnection, object_types: tuple[str, ...],
                  prefix: str) -> Actions:
    """Stage the (account, object, event, time) rows of ``object_types``, distinct."""
    r, a_, o_, e_ = (f"_{prefix}_{x}" for x in "raoe")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {r} AS
    SELECT DISTINCT platform, event_id, account_id, epoch_us(ts) AS t, {KIND_SQL} AS ot,
        {scope_sql()} AS op, object_id
    FROM objects
    WHERE object_type IN ({type_list(object_types)}) AND object_id IS NOT NULL
      AND trim(object_id) <> '' AND account_id IS NOT NULL AND trim(account_id) <> ''
      AND ts IS NOT NULL AND event_id IS NOT NULL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {a_} AS
    SELECT platform, account_id, (row_number() OVER (ORDER BY platform, account_id) - 1)::BIGINT
        AS a FROM (SELECT DISTINCT platform, account_id FROM {r})""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {o_} AS
    SELECT ot, op, object_id, (row_number() OVER (ORDER BY ot, op, object_id) - 1)::BIGINT AS o
    FROM (SELECT DISTINCT ot, op, object_id FROM {r})""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {e_} AS
    SELECT platform, event_id, (row_number() OVER (ORDER BY t, platform, event_id) - 1)::BIGINT
        AS e FROM (SELECT DISTINCT platform, event_id, t FROM {r})""")
    tb = con.sql(f"""SELECT a.a, o.o, e.e, r.t FROM {r} r
        JOIN {a_} a USING (platform, account_id) JOIN {o_} o USING (ot, op, object_id)
        JOIN {e_} e USING (platform, event_id) ORDER BY e.e, o.o""").to_arrow_table()
    accs = con.sql(f"SELECT platform, account_id FROM {a_} ORDER BY a").to_arrow_table()
    objs = con.sql(f"SELECT ot, op, object_id FROM {o_} ORDER BY o").to_arrow_table()
    evs = con.sql(f"SELECT event_id FROM {e_} ORDER BY e").to_arrow_table()
    for name in (r, a_, o_, e_):
        con.execute(f"DROP TABLE {name}")

    def col(name: str) -> np.ndarray:
        return tb.column(name).to_numpy().astype(np.int64, copy=False)

    return Actions(a=col("a"), o=col("o"), e=col("e"), t=col("t"),
                   acc_platform=accs.column("platform").combine_chunks(),
                   acc_id=accs.column("account_id").combine_chunks(),
                   obj_type=objs.column("ot").combine_chunks(),
                   obj_scope=objs.column("op").combine_chunks(),
                   obj_id=objs.column("object_id").combine_chunks(),
                   ev_id=evs.column("event_id").combine_chunks(), n_events=evs.num_rows)


def check_object_types(object_types: Any) -> None:
    """Raise :class:`UsageError` unless ``object_types`` is a non-empty tuple of distinct
    object types (:data:`lockstep.schema.OBJECT_TYPES`)."""
    if (not isinstance(object_types, tuple) or not object_types
            or any(t not in OBJECT_TYPES for t in object_types)
            or len(set(object_types)) != len(object_types)):
        raise UsageError(f"object_types must be a non-empty tuple of distinct types among "
                         f"{', '.join(OBJECT_TYPES)}, not {object_types!r}")


def pack(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """An order-preserving int64 code of the pairs ``(x, y)`` (non-negative ints)."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    ny = int(y.max()) + 1
    if (int(x.max()) + 1) * ny < (1 << 62):
        return x * ny + y
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    new = np.r_[True, (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])]
    code = np.empty(len(x), dtype=np.int64)
    code[order] = np.cumsum(new) - 1
    return code


def distinct_per_group(gid: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Number of distinct values of ``x`` in each group ``0..n-1``."""
    o = np.lexsort((x, gid))
    g2, x2 = gid[o], x[o]
    new = np.r_[True, (g2[1:] != g2[:-1]) | (x2[1:] != x2[:-1])]
    return np.bincount(g2[new], minlength=n)


# -- object runs -------------------------------------------------------------------------------
def packed_argsort(vals: np.ndarray, vmax: int) -> np.ndarray:
    """Stable argsort of non-negative int64 ``vals`` (at most ``vmax``): value and position
    packed in one int64 when they fit, which numpy sorts several times faster than argsort."""
    n = len(vals)
    bits = max(1, (n - 1).bit_length())
    if int(vmax).bit_length() + bits <= 63:
        packed = (vals.astype(np.int64) << bits) | np.arange(n, dtype=np.int64)
        packed.sort()
        return packed & ((1 << bits) - 1)
    return np.argsort(vals, kind="stable")


def sort_by_object(o: np.ndarray) -> np.ndarray:
    """The stable order of the object codes ``o`` (rows arriving in ``(time, platform,
    event_id)`` order come out in ``(object, time, event)`` order)."""
    if len(o) == 0:
        return np.zeros(0, dtype=np.int64)
    return packed_argsort(o, int(o.max()))


def segments(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of each object's run of rows."""
    if len(o) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    return starts, np.diff(np.r_[starts, len(o)])


def _take_rows(rows: Rows, keep: np.ndarray) -> Rows:
    return Rows(o=rows.o[keep], t=rows.t[keep], a=rows.a[keep],
                e=rows.e if rows.lean else rows.e[keep], multi=rows.multi,
                acc_platform=rows.acc_platform, acc_id=rows.acc_id, ev_id=rows.ev_id,
                obj_id=rows.obj_id, n_events=rows.n_events, lean=rows.lean,
                t_scale=rows.t_scale, t_base=rows.t_base)


def drop_unshared(rows: Rows) -> Rows:
    """Objects acted on once cannot pair: drop their rows before the sweep."""
    starts, size = segments(rows.o)
    if len(starts) == 0 or size.min() >= 2:
        return rows
    return _take_rows(rows, np.repeat(size >= 2, size))


def drop_unshared_counted(rows: Rows, counted: tuple[np.ndarray, np.ndarray, np.ndarray]
                          ) -> tuple[Rows, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`drop_unshared` that carries :func:`count_candidates`'s result along instead of
    recounting: an object acted on once has no candidates, so no other row's count changes."""
    cand, starts, obj_cand = counted
    size = np.diff(np.r_[starts, len(rows.o)])
    shared = size >= 2
    if shared.all():
        return rows, counted
    keep = np.repeat(shared, size)
    size = size[shared]
    return _take_rows(rows, keep), (cand[keep], np.cumsum(size) - size, obj_cand[shared])


def describe_largest(rows: Rows, starts: np.ndarray, obj_cand: np.ndarray,
                     top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` objects with the most candidate pairs (``stats_["largest_objects"]``)."""
    if len(starts) == 0:
        return []
    size = np.diff(np.r_[starts, len(rows.o)])
    best = np.argsort(-obj_cand, kind="stable")[:top]
    return [{"object_id": rows.obj_id[int(rows.o[starts[k]])].as_py(), "events": int(size[k]),
             "candidate_pairs": int(obj_cand[k])} for k in best if obj_cand[k] > 0]


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
    starts, size = segments(o)
    keep = size >= 2
    starts, size = starts[keep], size[keep]
    if len(starts) == 0:
        return FALLBACK_WINDOW_S, rule + ": no object acted on twice; fell back to 60 s"
    second = t[starts + 1] - t[starts]
    quick = second <= np.quantile(second, q)
    s, n = starts[quick], size[quick]
    reach = t[s + np.floor(p * n).astype(np.int64)] - t[s]
    return float(np.quantile(reach, p)) / _US, rule


# -- popular objects ---------------------------------------------------------------------------
def _hash01(x: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic uniform [0, 1) value per integer (splitmix64)."""
    z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & (2**64 - 1))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample_popular(rows: Rows, starts: np.ndarray, obj_cand: np.ndarray, threshold: int,
                   seed: int) -> tuple[Rows, list[dict[str, Any]]]:
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


def thin_popular(rows: Rows, counted: tuple[np.ndarray, np.ndarray, np.ndarray], window: int,
                 stats: dict[str, Any], *, threshold: int | None, seed: int, **count: Any
                 ) -> tuple[Rows, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Sample the events of objects with more than ``threshold`` candidate pairs (the
    detector's ``popular_threshold``; ``None``: none), seeded by ``seed``.

    ``counted`` is what :func:`count_candidates` gave ``rows`` (``window`` is in the unit of
    ``rows.t``; ``count`` goes to :func:`count_candidates`); returns the rows kept and their
    counts, recounted only when something was sampled.
    """
    stats["popular_objects"] = []
    stats["popular_objects_count"] = 0
    stats["exact"] = True
    _, starts, obj_cand = counted
    if threshold is None or not np.any(obj_cand > threshold):
        return rows, counted
    rows, sampled = sample_popular(rows, starts, obj_cand, threshold, seed)
    stats["popular_objects"] = sampled[:_MAX_REPORTED]
    stats["popular_objects_count"] = len(sampled)
    stats["exact"] = False
    counted = count_candidates(rows.o, rows.t, window, **count)
    stats["candidate_pairs_sampled"] = int(counted[2].sum())
    return rows, counted


def report_split(rows: Rows, obj_starts: np.ndarray, obj_cand: np.ndarray,
                 stats: dict[str, Any], pair_budget: int) -> None:
    """List the objects whose pairs exceed ``pair_budget`` (swept in chunks, exactly)."""
    split = np.flatnonzero(obj_cand > pair_budget)
    split = split[np.argsort(-obj_cand[split], kind="stable")]
    room = max(0, _MAX_REPORTED - len(stats["popular_objects"]))
    for k in split[:room]:
        stats["popular_objects"].append({
            "object_id": rows.obj_id[int(rows.o[obj_starts[k]])].as_py(),
            "candidate_pairs": int(obj_cand[k]), "handling": "chunked",
            "chunks": -(-int(obj_cand[k]) // pair_budget)})
    stats["popular_objects_count"] += len(split)


def check_disk(rows: Rows, obj_starts: np.ndarray, obj_cand: np.ndarray, total: int,
               mem_pairs: int, where: Path, *, disk_mb: int | None, signal: str,
               window: float | None) -> None:
    """Refuse, before any pair is built, a run whose spilled candidates (8 or 16 bytes a
    pair beyond the ``mem_pairs`` held in memory) exceed the disk budget (``disk_mb``, see
    :func:`lockstep.spill.disk_budget_bytes`); ``signal`` and ``window`` (seconds, ``None``
    when estimated) name the run in the message."""
    per_pair = 8 if len(rows.o) < (1 << 31) else 16
    need = 0 if total <= mem_pairs else total * per_pair
    budget = spill.disk_budget_bytes(disk_mb, where)
    if need <= budget:
        return
    k = int(np.argmax(obj_cand))
    size = np.diff(np.r_[obj_starts, len(rows.o)])
    obj = rows.obj_id[int(rows.o[obj_starts[k]])].as_py()
    spill.check_spill(
        need, budget,
        what=(f"{signal}: {total:,} candidate pairs within "
              f"{window if window is not None else 'the estimated'} s; object "
              f"{obj!r} alone implies {int(obj_cand[k]):,} of them ({int(size[k]):,} "
              "actions)"),
        advice=("thin popular objects (popular_threshold, e.g. 10,000,000), narrow the "
                "window, or raise the disk budget"))


# -- count -------------------------------------------------------------------------------------
def count_candidates(o: np.ndarray, t: np.ndarray, w: int, *, dtype: Any = np.int64
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
    starts, size = segments(o)
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


def count_candidates_range(o: np.ndarray, t: np.ndarray, w: int, obj_starts: np.ndarray,
                           r0: int, r1: int, dtype: Any = np.int32) -> np.ndarray:
    """The candidate pairs of rows ``r0..r1`` (what :func:`count_candidates` gives them),
    counted over just the rows they can pair with: a row's partners come after it in its
    object, so the count starts at ``r0`` and ends where the last row's window does (a viral
    object spanning many ranges is not recounted whole for each); the per-row counts need not
    be kept."""
    if r1 <= r0:
        return np.zeros(0, dtype=dtype)
    g1 = int(np.searchsorted(obj_starts, r1 - 1, side="right"))
    end = int(obj_starts[g1]) if g1 < len(obj_starts) else len(o)
    a1 = r1 + int(np.searchsorted(t[r1:end], t[r1 - 1] + w, side="right"))
    cand, _, _ = count_candidates(o[r0:a1], t[r0:a1], w, dtype=dtype)
    return cand[:r1 - r0]


# -- emit --------------------------------------------------------------------------------------
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


def emit(cand: np.ndarray, r0: int, r1: int, sub: tuple[int, int] | None,
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


class Buckets:
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
            self.spill()

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

    def spill(self) -> None:
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


def _load_bucket(sets: list[Buckets], b: int
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


def _keyed(first: Buckets, pairs: np.ndarray, b: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(key, left, right, base)`` of bucket ``b`` from its ``(n, 2)`` row pairs."""
    left = np.ascontiguousarray(pairs[:, 0])
    right = np.ascontiguousarray(pairs[:, 1])
    al, ar = first.a[left], first.a[right]
    key = np.minimum(al, ar).astype(np.int64)
    key *= first.n_acc
    key += np.maximum(al, ar)
    return key, left, right, b * first.width


def load_buckets(sets: list[Buckets], b0: int, b1: int
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


def _drain(sets: list[Buckets]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
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


def emit_pairs(rows: Rows, cand: np.ndarray | Callable[[int, int], np.ndarray],
               buckets: Buckets | list[Buckets], step: int, stats: dict[str, Any], *,
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
            obj_starts, obj_cand = segments(rows.o)[0], None
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
                left, right = emit(cw, r0, r1, sub, dtype)
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


def bounded_map(fn: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[_R]:
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


# -- reduce ------------------------------------------------------------------------------------
def reduce_bucket(key: np.ndarray, left: np.ndarray, right: np.ndarray, base: int, rows: Rows,
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
    order = packed_argsort(key - base, int(key.max()) - base)
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


def reduce_bucket_lean(key: np.ndarray, left: np.ndarray, right: np.ndarray, base: int,
                       rows: Rows, min_weight: int, g: np.ndarray | None = None
                       ) -> dict[str, Any]:
    """:func:`reduce_bucket` without evidence, for rows where no two pairs can repeat an event
    pair (``rows.multi`` False): weight is the number of pairs, support the object changes within
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


def part_table(p: dict[str, Any], rows: Rows, n_acc: int, signal: str,
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
