"""Staging for the co-action detector: the object rows of one type, integer-coded and sorted.

:func:`_stage` gives everything the full edge table needs (event codes and ids for evidence,
duplicate rows removed); :func:`_stage_lean` gives only object, time and account codes, for
the streaming pair writer (:mod:`lockstep.detectors.coaction_io`): about 16 bytes a row, the
string work done in DuckDB under a memory limit and the sort spilled by DuckDB if need be.
Also here: the object-run helpers (:func:`_segments`, :func:`_sort_by_object`,
:func:`_drop_unshared`) and the thinning of popular objects (:func:`_sample_popular`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import duckdb

#: Object types whose ids mean something only within one platform (a post id, an account
#: id, a page): the object is ``(platform, object_id)``. URLs, domains, hashtags, image
#: hashes and opaque objects are compared across platforms.
PLATFORM_SCOPED = frozenset({"post", "reply", "mention", "venue", "author"})
#: Object types with at most one object per event (a scalar column of ``events``): no event
#: can pair twice through two objects, and a workspace's events are unique, so no duplicate
#: object rows exist.
SCALAR_TYPES = frozenset({"post", "reply", "venue", "author"})

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


@dataclass
class _Rows:
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
    lean: bool = False  # from _stage_lean: no event codes, only objects acted on twice
    t_scale: int = 1  # t is in units of t_scale microseconds (lean rows of whole seconds:
    t_base: int = 0  # 1_000_000, int32) after t_base: microseconds = t * t_scale + t_base


def _stage(con: duckdb.DuckDBPyConnection, otype: str) -> _Rows:
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
    order = _sort_by_object(o)
    return _Rows(o=o[order], t=t[order], a=a[order], e=e[order], multi=multi,
                 acc_platform=accs.column("platform").combine_chunks(),
                 acc_id=accs.column("account_id").combine_chunks(), ev_id=ev_id,
                 obj_id=objs.column("object_id").combine_chunks(), n_events=n_events)


def _stage_lean(con: duckdb.DuckDBPyConnection, otype: str) -> tuple[_Rows, dict[str, int]]:
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
    rows = _Rows(o=o, t=t, a=a, e=np.zeros(0, dtype=np.int32), multi=False,
                 acc_platform=accs.column("platform").combine_chunks(),
                 acc_id=accs.column("account_id").combine_chunks(), ev_id=pa.array([], pa.string()),
                 obj_id=objs.column("object_id").combine_chunks(), n_events=n_rows, lean=True)
    counts = {"rows": n_rows, "accounts": len(rows.acc_id), "objects": n_obj,
              "objects_shared": n_shared}
    return rows, counts


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
    return _Rows(o=rows.o[keep], t=rows.t[keep], a=rows.a[keep],
                 e=rows.e if rows.lean else rows.e[keep], multi=rows.multi,
                 acc_platform=rows.acc_platform, acc_id=rows.acc_id, ev_id=rows.ev_id,
                 obj_id=rows.obj_id, n_events=rows.n_events, lean=rows.lean,
                 t_scale=rows.t_scale, t_base=rows.t_base)


def _drop_unshared(rows: _Rows) -> _Rows:
    """Objects acted on once cannot pair: drop their rows before the sweep."""
    starts, size = _segments(rows.o)
    if len(starts) == 0 or size.min() >= 2:
        return rows
    return _take_rows(rows, np.repeat(size >= 2, size))


def _drop_unshared_counted(rows: _Rows, counted: tuple[np.ndarray, np.ndarray, np.ndarray]
                           ) -> tuple[_Rows, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_drop_unshared` that carries ``_count``'s result along instead of recounting:
    an object acted on once has no candidates, so no other row's count changes."""
    cand, starts, obj_cand = counted
    size = np.diff(np.r_[starts, len(rows.o)])
    shared = size >= 2
    if shared.all():
        return rows, counted
    keep = np.repeat(shared, size)
    size = size[shared]
    return _take_rows(rows, keep), (cand[keep], np.cumsum(size) - size, obj_cand[shared])


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
