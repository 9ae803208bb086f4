"""One observed action is one piece of evidence: distinct event pairs across co-action signals.

The co-action signals (:class:`lockstep.detectors.CoActionDetector`: co-repost, co-link,
co-hashtag, co-domain ...) each count the event pairs of an account pair on their own object
type, so one pair of posts is counted again by every signal that sees it: a shared link is
also a shared domain, and a post carrying a hashtag and an image pairs twice. On the German
election data one account pair had 21 event pairs across signals for 11 distinct post pairs.

:func:`distinct_event_pairs` recounts, for the account pairs that some co-action signal found
significant (tens of thousands, not the millions of candidate pairs), which signals saw each
distinct event pair ``(event_u, event_v)``, and returns one row per account pair and *set* of
signals with the number of event pairs seen by exactly that set. Its input is the
workspace's ``objects`` view restricted to those accounts, the signals' object types and
their windows, with the detector's semantics (two events by two different accounts on the same
object, ``|t1 - t2| <= window`` inclusive, exact duplicate rows ignored, empty fields no
object, post, reply, mention, venue and author ids matched within one platform).
:func:`lockstep.graph.fusion.fuse` then credits each event pair to one signal only (the
strongest of the pair's signals that saw it), so the co-action family counts it once.

The recount is exact over all rows: objects that a detector thinned
(``popular_threshold``) are counted whole here, so a signal's recount can exceed its
``weight`` on such objects; only the significant pairs are recounted, so this is cheap.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors.coaction import PLATFORM_SCOPED, SIGNALS

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["distinct_event_pairs", "COACTION_SIGNALS", "DISTINCT_SCHEMA"]

#: Object type of each co-action signal (``co-link`` -> ``url`` ...).
COACTION_SIGNALS: dict[str, str] = {signal: otype for otype, signal in SIGNALS.items()}

#: Columns of :func:`distinct_event_pairs` (``signals`` sorted by name).
DISTINCT_SCHEMA = pa.schema([
    ("platform_a", pa.string()), ("account_a", pa.string()),
    ("platform_b", pa.string()), ("account_b", pa.string()),
    ("signals", pa.list_(pa.string())), ("event_pairs", pa.int64()),
])

_US = 1_000_000
#: DuckDB memory for the recount (spills past it).
MEMORY_LIMIT = "1GB"

#: The accounts' object rows of the signals' types (exact duplicates removed), each account
#: mapped to its person (``_ls_pm``), integer-coded: account ``a``, event ``e``, object ``o``
#: (type, scope and id), with the type's signal ``bit`` and window ``w`` (microseconds).
_ROWS_SQL = ("""
CREATE OR REPLACE TEMP TABLE _ls_acc AS
SELECT platform, account_id, (row_number() OVER (ORDER BY platform, account_id))::INTEGER AS a
FROM (SELECT platform_a AS platform, account_a AS account_id FROM _ls_dp
      UNION SELECT platform_b, account_b FROM _ls_dp)
""", """
CREATE OR REPLACE TEMP TABLE _ls_r AS
WITH o AS (
    SELECT DISTINCT acc.a, o.platform AS ev_platform, o.event_id, epoch_us(o.ts) AS t,
        o.object_type, CASE WHEN ty.scoped THEN o.platform ELSE '' END AS op, o.object_id,
        ty.bit, ty.w_us
    FROM objects o
    JOIN _ls_ty ty ON o.object_type = ty.object_type
    LEFT JOIN _ls_pm m ON o.platform = m.platform AND o.account_id = m.account_id
    JOIN _ls_acc acc ON acc.platform = coalesce(m.rep_platform, o.platform)
        AND acc.account_id = coalesce(m.rep_account, o.account_id)
    WHERE o.object_id IS NOT NULL AND trim(o.object_id) <> '' AND o.ts IS NOT NULL
      AND o.event_id IS NOT NULL AND o.account_id IS NOT NULL)
SELECT a, (dense_rank() OVER (ORDER BY ev_platform, event_id))::INTEGER AS e, t,
    (dense_rank() OVER (ORDER BY object_type, op, object_id))::INTEGER AS o, bit, w_us
FROM o
""", """
CREATE OR REPLACE TEMP TABLE _ls_p AS
SELECT d.pair_id, x.a AS a, y.a AS b, d.sigmask
FROM _ls_dp d
JOIN _ls_acc x ON x.platform = d.platform_a AND x.account_id = d.account_a
JOIN _ls_acc y ON y.platform = d.platform_b AND y.account_id = d.account_b
""")
#: Which signals see each distinct event pair of each account pair.
_SQL = """
WITH hit AS (
    SELECT p.pair_id, x.e AS ea, y.e AS eb, x.bit
    FROM _ls_p p
    JOIN _ls_r x ON x.a = p.a
    JOIN _ls_r y ON y.a = p.b AND y.o = x.o
    WHERE abs(x.t - y.t) <= x.w_us AND (p.sigmask & x.bit) <> 0),
ep AS (SELECT pair_id, bit_or(bit) AS mask FROM hit GROUP BY pair_id, ea, eb)
SELECT pair_id, mask, count(*) AS n FROM ep GROUP BY pair_id, mask ORDER BY pair_id, mask
"""


def _coaction_pairs(edge_tables: Sequence[pa.Table]) -> pa.Table:
    """Distinct ``(platform_a, account_a, platform_b, account_b, signal)`` rows of the
    co-action signals, each pair in ``(platform, account_id)`` order."""
    cols = ["platform_a", "account_a", "platform_b", "account_b", "signal"]
    parts = []
    for t in edge_tables:
        if t.num_rows == 0:
            continue
        t = t.select(cols)
        t = t.filter(pc.is_in(t["signal"], value_set=pa.array(list(COACTION_SIGNALS))))
        if t.num_rows:
            parts.append(pa.Table.from_arrays([pc.cast(t[c], pa.string()) for c in cols],
                                              names=cols))
    if not parts:
        return pa.schema([(c, pa.string()) for c in cols]).empty_table()
    t = pa.concat_tables(parts)
    pa_, aa, pb, ab = (t[c] for c in cols[:4])
    swap = pc.fill_null(pc.or_(pc.greater(pa_, pb),
                               pc.and_(pc.equal(pa_, pb), pc.greater(aa, ab))), False)
    t = pa.table({"platform_a": pc.if_else(swap, pb, pa_), "account_a": pc.if_else(swap, ab, aa),
                  "platform_b": pc.if_else(swap, pa_, pb), "account_b": pc.if_else(swap, aa, ab),
                  "signal": t["signal"]})
    same = pc.and_(pc.equal(t["platform_a"], t["platform_b"]),
                   pc.equal(t["account_a"], t["account_b"]))
    t = t.filter(pc.invert(pc.fill_null(same, True)))
    return t.group_by(cols).aggregate([])


def distinct_event_pairs(ws: Workspace, edge_tables: Sequence[pa.Table], *,
                         window: float | Mapping[str, float],
                         persons: Mapping[tuple[str, str], tuple[str, str]] | None = None,
                         stats: dict[str, Any] | None = None) -> pa.Table:
    """Distinct event pairs of each account pair across the co-action signals that found it.

    Parameters
    ----------
    ws : Workspace
        The workspace the edges were detected in (its ``objects`` view is read).
    edge_tables : sequence of pyarrow.Table
        Edge tables in the detector contract (``platform_a, account_a, platform_b,
        account_b, signal``, ...), typically the significant ones that are fused. Rows of
        signals that are not co-action signals (:data:`COACTION_SIGNALS`) are ignored.
    window : float or mapping of str to float
        Co-action window in seconds, one for all signals or one per signal name (as each
        detector's ``stats_["window_s"]``); a signal present in ``edge_tables`` must have one.
    persons : mapping, optional
        ``(platform, account_id)`` of an account -> that of its person's node, when edges
        were collapsed to persons (:meth:`lockstep.persons.Persons.mapping`): the events of
        all of a person's accounts are the person's.
    stats : dict, optional
        Filled with ``pairs`` (account pairs recounted), ``signals``, ``event_pairs``
        (distinct, over all pairs), ``seconds`` and ``sql_seconds`` (by step).

    Returns
    -------
    pyarrow.Table
        :data:`DISTINCT_SCHEMA`: one row per account pair (in ``(platform, account_id)``
        order) and set of signals, with the number of distinct event pairs that exactly those
        of the pair's co-action signals see. Summed over a pair's rows: its distinct event
        pairs; summed over the rows whose ``signals`` hold ``s``: signal ``s``'s event pairs.

    Raises
    ------
    ValueError
        A signal has no window, or a window is negative.

    Examples
    --------
    >>> import tempfile, lockstep
    >>> from lockstep.detectors import CoActionDetector
    >>> from lockstep.testing import make_campaign
    >>> tmp = tempfile.mkdtemp()
    >>> ws = lockstep.open_workspace(tmp + "/ws")
    >>> _ = lockstep.ingest(ws, [make_campaign(tmp, seed=1)])
    >>> det = CoActionDetector(object_type="post", window=30, min_weight=3).fit(ws)
    >>> d = distinct_event_pairs(ws, [det.edges_], window=30)
    >>> sum(d["event_pairs"].to_pylist()) == sum(det.edges_["weight"].to_pylist())
    True
    """
    t0 = time.perf_counter()
    pairs = _coaction_pairs(edge_tables)
    names = sorted(set(pairs["signal"].to_pylist()))
    if len(names) > 62:  # pragma: no cover - there are ten co-action signals
        raise ValueError("too many co-action signals for a 64-bit mask")
    windows: dict[str, float] = {}
    for s in names:
        w = window.get(s) if isinstance(window, Mapping) else window
        if w is None:
            raise ValueError(f"no co-action window given for signal {s!r}")
        if not w >= 0:
            raise ValueError(f"window of {s!r} must be >= 0, not {w!r}")
        windows[s] = float(w)
    out = DISTINCT_SCHEMA.empty_table()
    n_pairs = 0
    timing: dict[str, float] = {}
    if names:
        bit = {s: 1 << i for i, s in enumerate(names)}
        keyed = pairs.group_by(["platform_a", "account_a", "platform_b", "account_b"]).aggregate(
            [("signal", "list")]).sort_by([(c, "ascending") for c in
                                           ("platform_a", "account_a", "platform_b",
                                            "account_b")])
        n_pairs = keyed.num_rows
        masks = [sum(bit[s] for s in ss) for ss in keyed["signal_list"].to_pylist()]
        dp = pa.table({"pair_id": pa.array(range(keyed.num_rows), pa.int64()),
                       **{c: keyed[c] for c in ("platform_a", "account_a", "platform_b",
                                                "account_b")},
                       "sigmask": pa.array(masks, pa.int64())})
        ty = pa.table({"object_type": [COACTION_SIGNALS[s] for s in names],
                       "bit": pa.array([bit[s] for s in names], pa.int64()),
                       "w_us": pa.array([int(round(windows[s] * _US)) for s in names],
                                        pa.int64()),
                       "scoped": [COACTION_SIGNALS[s] in PLATFORM_SCOPED for s in names]})
        pm = list((persons or {}).items())
        pm_t = pa.table({"platform": [k[0] for k, _ in pm], "account_id": [k[1] for k, _ in pm],
                         "rep_platform": [v[0] for _, v in pm],
                         "rep_account": [v[1] for _, v in pm]},
                        schema=pa.schema([(c, pa.string()) for c in (
                            "platform", "account_id", "rep_platform", "rep_account")]))
        # its temporary tables hold every object row of the accounts recounted: capped, they
        # spill to disk instead of adding to detection's peak (the large world: 5.0 GB)
        con = ws.connect(memory_limit=MEMORY_LIMIT)
        try:
            con.register("_ls_dp", dp)
            con.register("_ls_ty", ty)
            con.register("_ls_pm", pm_t)
            t1 = time.perf_counter()
            for sql in _ROWS_SQL:
                con.execute(sql)
            t2 = time.perf_counter()
            got = con.sql(_SQL).to_arrow_table()
            t3 = time.perf_counter()
            for name in ("_ls_acc", "_ls_r", "_ls_p"):
                con.execute(f"DROP TABLE {name}")
        finally:
            con.close()
        timing = {"rows": round(t2 - t1, 3), "join": round(t3 - t2, 3)}
        pid = got["pair_id"]
        sets = {m: [s for s in names if m & bit[s]] for m in set(got["mask"].to_pylist())}
        out = pa.table({
            **{c: keyed[c].take(pid) for c in ("platform_a", "account_a", "platform_b",
                                                "account_b")},
            "signals": pa.array([sets[m] for m in got["mask"].to_pylist()],
                                pa.list_(pa.string())),
            "event_pairs": pc.cast(got["n"], pa.int64()),
        }, schema=DISTINCT_SCHEMA)
    if stats is not None:
        stats.update(pairs=n_pairs, signals=names, event_pairs=int(pc.sum(out["event_pairs"]).as_py() or 0),
            seconds=round(time.perf_counter() - t0, 3), sql_seconds=timing)
    return out
