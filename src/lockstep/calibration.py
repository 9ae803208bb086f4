"""Calibration of the detectors' null models on data where coordination is broken.

A detector's p-values are valid when, on data with no coordination, the share of tested pairs
with ``p <= x`` is at most ``x`` (conservative is fine; more is the defect: chance then makes
networks). Real data has no such ground truth, but it can be *made*: :func:`shuffle_workspace`
writes a copy of a workspace in which every link between accounts that coordination could
make is broken, while what each account does and how popular each value is are kept.

What the shuffle keeps and what it breaks
-----------------------------------------
events
    Times are permuted *within each account* (an account keeps its own set of timestamps,
    reassigned among its events at random, with their precision). Each object column is
    permuted *across events* of the same platform, among the events that have a value:
    ``reposted_id``, ``replied_id``, ``venue_id`` and the lists ``urls``, ``domains``,
    ``hashtags``, ``mentions``, ``image_hashes``, ``object_ids`` (a list moves whole). So each
    post, URL, hashtag, image... keeps its number of uses and each account its number of
    events of each kind, but who used what, and when, is random.
accounts
    ``bio``, ``display_name`` and ``handle`` are each permuted across the accounts of a
    platform that have one (each bio keeps its number of holders); ``created_at`` is permuted
    across the accounts of the same platform and kind.
sessions
    Device ids and addresses are permuted across the *(account, resource) incidences*, each
    kind on its own, so each device or address keeps its number of users and each account its
    number of devices and addresses; session times are permuted within each account.
truth
    Not copied: nothing is planted in the shuffled workspace. ``url_map`` and ``roles`` are
    copied unchanged.

The permutations are pseudo-random functions of ``seed``, the column and the row keys (DuckDB
``hash`` of one string: hashes of several arguments are combined so that a constant argument
only rotates the order, which would give every column the same permutation),
so the same seed gives the same workspace.

The check (:func:`calibrate`)
-----------------------------
One detector is fitted as :func:`lockstep.detect.detect` fits it (co-action: the default
window and popular-object thinning, but every pair's p-value is kept), and its p-values are
read over the hypotheses that ``detect``'s Benjamini-Hochberg counts: a co-action detector
tested every pair it produced (``stats_["pairs_tested"]``), an unconditional infrastructure
detector every pair at risk (``stats_["pairs_at_risk"]``), any other detector its output
pairs. Tested pairs that were not output count as ``p = 1``. Reported: the shares with
``p <= 0.01`` and ``p <= 0.001``, their ratio to the nominal level, a QQ summary (observed
quantile of p at expected shares ``1e-1 ... 1e-6``) and, optionally, the networks and
significant pairs that ``detect`` finds with that signal alone at the default ``alpha``.
"""
from __future__ import annotations

import math
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lockstep.detect import DEFAULT_WINDOW, EVIDENCE_PER_PAIR, POPULAR_THRESHOLD, detect
from lockstep.detectors import REGISTRY, CoActionDetector, get_detector
from lockstep.exceptions import UsageError
from lockstep.schema import TABLE_COLUMNS
from lockstep.significance import DEFAULT_ALPHA
from lockstep.workspace import Workspace
from lockstep.sql import literal

__all__ = ["shuffle_workspace", "calibrate", "Calibration", "QQ_LEVELS", "pvalues_tested"]

#: Expected shares at which the QQ summary reads the observed quantile of p.
QQ_LEVELS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)

_SCALAR_COLUMNS = ("reposted_id", "replied_id", "venue_id")
_LIST_COLUMNS = ("urls", "domains", "hashtags", "mentions", "image_hashes", "object_ids")
_PERSONA_COLUMNS = ("bio", "display_name", "handle")
_RESOURCES = ("device_id", "ip")


def _cols(table: str) -> list[str]:
    return [c for c, _ in TABLE_COLUMNS[table] if c != "ingest_id"]


def _permute(source: str, col: str, part: str, key: str, seed: int, salt: str) -> str:
    """SQL: ``(k, v)`` pairs that give each row ``k`` (``key``) of ``source`` with a non-null
    ``col`` the ``col`` of another such row of the same ``part``, a random permutation."""
    return f"""
        SELECT a.k, b.v FROM
          (SELECT {key} AS k, {part} AS p, row_number() OVER (PARTITION BY {part}
                  ORDER BY hash({key} || ':{seed}:{salt}'), {key}) AS i
           FROM {source} WHERE {col} IS NOT NULL) a
        JOIN
          (SELECT {col} AS v, {part} AS p, row_number() OVER (PARTITION BY {part}
                  ORDER BY {key}) AS i
           FROM {source} WHERE {col} IS NOT NULL) b
        ON a.p IS NOT DISTINCT FROM b.p AND a.i = b.i"""


def shuffle_workspace(ws: Workspace, out: str | Path, *, seed: int = 0,
                      overwrite: bool = False) -> Workspace:
    """Write a copy of ``ws`` at ``out`` with coordination broken (see the module docstring).

    Parameters
    ----------
    ws : Workspace
        The workspace to shuffle (not changed).
    out : path
        Where the shuffled workspace goes; must not exist unless ``overwrite``.
    seed : int
        Seed of the permutations (the same seed gives the same workspace).
    overwrite : bool
        Replace ``out`` if it exists.

    Returns
    -------
    Workspace
        The shuffled workspace, opened.
    """
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise UsageError(f"{out} exists; choose another path or pass overwrite=True")
        shutil.rmtree(out)
    seed = int(seed)
    dest = Workspace.open(out)
    con = ws.connect()
    stage = dest.staging_dir()
    staged: dict[str, list[Path]] = {}
    rows: dict[str, int] = {}
    try:
        con.execute("CREATE TEMP TABLE _sh_ev AS SELECT * FROM events")
        ev_cols = _cols("events")
        # times within each account: rank events by a hash, and give the i-th the i-th time
        con.execute(f"""
            CREATE TEMP TABLE _sh_t AS
            SELECT a.platform, a.event_id, b.ts, b.ts_precision, b.client_ts FROM
              (SELECT platform, event_id, account_id, row_number() OVER (
                       PARTITION BY platform, account_id
                       ORDER BY hash(event_id || ':{seed}:ts'), event_id) AS i FROM _sh_ev) a
            JOIN
              (SELECT platform, account_id, ts, ts_precision, client_ts, row_number() OVER (
                       PARTITION BY platform, account_id ORDER BY ts, event_id) AS i
               FROM _sh_ev) b
            ON a.platform = b.platform AND a.account_id IS NOT DISTINCT FROM b.account_id
               AND a.i = b.i""")
        joins, select = [], []
        for c in ev_cols:
            if c in ("ts", "ts_precision", "client_ts"):
                select.append(f"t.{c}")
            elif c in _SCALAR_COLUMNS or c in _LIST_COLUMNS:
                con.execute(f"CREATE TEMP TABLE _sh_{c} AS "
                            + _permute("_sh_ev", c, "platform", "(platform || ':' || event_id)",
                                       seed, c))
                joins.append(f"LEFT JOIN _sh_{c} ON _sh_{c}.k = e.platform || ':' || e.event_id")
                select.append(f"_sh_{c}.v AS {c}")
            else:
                select.append(f"e.{c}")
        f = stage / "events.parquet"
        rows["events"] = _copy(con, f"""
            SELECT {', '.join(select)}, e.platform FROM _sh_ev e
            JOIN _sh_t t ON t.platform = e.platform AND t.event_id = e.event_id
            {' '.join(joins)}""", f)
        staged["events"] = [f] if rows["events"] else []

        # accounts: persona values across a platform's accounts, creation times within kind
        acc_cols = _cols("accounts")
        con.execute("CREATE TEMP TABLE _sh_acc AS SELECT * FROM accounts")
        key = "(platform || ':' || account_id)"
        joins, select = [], []
        for c in acc_cols:
            if c in _PERSONA_COLUMNS or c == "created_at":
                part = "platform || ':' || coalesce(kind, '')" if c == "created_at" \
                    else "platform"
                con.execute(f"CREATE TEMP TABLE _sh_a_{c} AS "
                            + _permute("_sh_acc", c, part, key, seed, c))
                joins.append(f"LEFT JOIN _sh_a_{c} ON _sh_a_{c}.k = e.platform || ':' || "
                             "e.account_id")
                select.append(f"_sh_a_{c}.v AS {c}")
            else:
                select.append(f"e.{c}")
        f = stage / "accounts.parquet"
        rows["accounts"] = _copy(con, f"SELECT {', '.join(select)}, e.platform "
                                      f"FROM _sh_acc e {' '.join(joins)}", f)
        staged["accounts"] = [f] if rows["accounts"] else []

        # sessions: resources across (account, resource) incidences, times within accounts
        con.execute("CREATE TEMP TABLE _sh_se AS SELECT *, row_number() OVER () AS _row "
                    "FROM sessions")
        joins, select = [], []
        for c in _cols("sessions"):
            if c in _RESOURCES:
                con.execute(f"""CREATE TEMP TABLE _sh_i_{c} AS
                    SELECT DISTINCT platform, account_id, {c} AS old FROM _sh_se
                    WHERE {c} IS NOT NULL""")
                ik = f"(platform || ':' || account_id || ':' || old)"
                con.execute(f"CREATE TEMP TABLE _sh_m_{c} AS "
                            + _permute(f"_sh_i_{c}", "old", "1", ik, seed, c))
                joins.append(f"LEFT JOIN _sh_m_{c} ON _sh_m_{c}.k = e.platform || ':' || "
                             f"e.account_id || ':' || e.{c}")
                select.append(f"_sh_m_{c}.v AS {c}")
            elif c in ("ts", "ts_precision"):
                select.append(f"t.{c}")
            else:
                select.append(f"e.{c}")
        con.execute(f"""
            CREATE TEMP TABLE _sh_st AS
            SELECT a._row, b.ts, b.ts_precision FROM
              (SELECT _row, platform, account_id, row_number() OVER (
                       PARTITION BY platform, account_id ORDER BY hash(_row::VARCHAR || ':{seed}:st'), _row)
                       AS i FROM _sh_se) a
            JOIN
              (SELECT platform, account_id, ts, ts_precision, row_number() OVER (
                       PARTITION BY platform, account_id ORDER BY ts, _row) AS i FROM _sh_se) b
            ON a.platform = b.platform AND a.account_id IS NOT DISTINCT FROM b.account_id
               AND a.i = b.i""")
        f = stage / "sessions.parquet"
        # a session may now repeat another of its account (same key): keep one
        rows["sessions"] = _copy(con, f"""
            SELECT DISTINCT ON (e.platform, e.account_id, t.ts, ip, device_id, e.user_agent,
                                e.country) {', '.join(select)}, e.platform
            FROM _sh_se e JOIN _sh_st t ON t._row = e._row {' '.join(joins)}""", f)
        staged["sessions"] = [f] if rows["sessions"] else []

        for table in ("roles", "url_map"):
            f = stage / f"{table}.parquet"
            plat = "" if table == "url_map" else ", platform"
            rows[table] = _copy(con, f"SELECT {', '.join(_cols(table))}{plat} FROM {table}", f)
            staged[table] = [f] if rows[table] else []
    finally:
        con.close()
    record = {"ingest_id": time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8],
              "source": f"shuffle of {ws.path} (seed {seed})", "format": "shuffle",
              "table": "*", "rows_read": sum(rows.values()), "rows_added": sum(rows.values()),
              "duplicates": 0, "rejected": 0, "rejects_file": None}
    with dest.lock():
        dest.commit({t: fs for t, fs in staged.items() if fs}, record)
    shutil.rmtree(stage, ignore_errors=True)
    return dest


def _copy(con: Any, select: str, out: Path) -> int:
    return int(con.execute(f"COPY ({select}) TO {literal(out)} (FORMAT parquet)"
                           ).fetchall()[0][0])


@dataclass
class Calibration:
    """What :func:`calibrate` measured for one signal.

    Attributes
    ----------
    signal : str
    tested : int
        Hypotheses ``detect``'s false-discovery control counts for this signal (``m``).
    output : int
        Pairs the detector output (with a p-value); the other ``tested - output`` count as 1.
    share_01, share_001 : float
        Shares of the tested pairs with ``p <= 0.01`` and ``p <= 0.001``.
    ratio_01, ratio_001 : float
        Those shares over their nominal levels (valid: about 1 or below).
    qq : list of (float, float)
        ``(expected share, observed quantile of p)`` at :data:`QQ_LEVELS` (valid: observed
        at least the expected).
    significant_pairs, networks : int or None
        Pairs kept by ``detect`` at ``alpha`` with this signal alone, and the networks it
        lists (None when not run).
    seconds : float
    stats : dict
        The detector's ``stats_`` keys that say what it tested.
    """

    signal: str
    tested: int
    output: int
    share_01: float
    share_001: float
    ratio_01: float
    ratio_001: float
    qq: list[tuple[float, float]] = field(default_factory=list)
    significant_pairs: int | None = None
    networks: int | None = None
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    pvalues: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (``pvalues`` left out)."""
        d = asdict(self)
        d.pop("pvalues", None)
        return d


def pvalues_tested(det: Any) -> tuple[np.ndarray, int]:
    """``(p-values of the output pairs, tested)`` of a fitted detector, ``tested`` counted as
    :func:`lockstep.detect.detect` counts its ``m`` (see the module docstring)."""
    p = det.edges_["p_value"].to_numpy(zero_copy_only=False) if det.edges_.num_rows \
        else np.zeros(0)
    tested = det.stats_.get("pairs_tested")
    if "pairs_at_risk" in det.stats_ and not det.get_params().get("conditional", True):
        tested = det.stats_["pairs_at_risk"]
    return np.asarray(p, dtype=np.float64), max(len(p), int(tested or 0))


def calibrate(ws: Workspace, signal: str, *, networks: bool = True,
              alpha: float = DEFAULT_ALPHA, keep_pvalues: bool = False,
              **params: Any) -> Calibration:
    """Fit one signal's detector on ``ws`` (a shuffled workspace) and read its p-values.

    Parameters
    ----------
    ws : Workspace
        Usually the output of :func:`shuffle_workspace`.
    signal : str
        A signal of :data:`lockstep.detectors.REGISTRY`.
    networks : bool
        Also run :func:`lockstep.detect.detect` with this signal alone (no assessment, not
        saved) and count the significant pairs and networks it lists.
    alpha : float
        The false discovery rate of that run.
    keep_pvalues : bool
        Keep the output pairs' p-values on the result (for plots).
    **params
        Detector parameters (over those ``detect`` sets).

    Returns
    -------
    Calibration
    """
    if signal not in REGISTRY:
        raise UsageError(f"unknown signal {signal!r}")
    t0 = time.perf_counter()
    det = get_detector(signal)
    if isinstance(det, CoActionDetector):
        # as detect() sets it, but every pair's p-value is kept (no max_p)
        det.set_params(min_weight=1, max_evidence=EVIDENCE_PER_PAIR,
                       popular_threshold=POPULAR_THRESHOLD,
                       **({} if "window" in REGISTRY[signal][1] else {"window": DEFAULT_WINDOW}))
    if params:
        det.set_params(**params)
    det.fit(ws)
    p, m = pvalues_tested(det)
    n01 = int(np.count_nonzero(p <= 0.01))
    n001 = int(np.count_nonzero(p <= 0.001))
    s01 = n01 / m if m else 0.0
    s001 = n001 / m if m else 0.0
    ps = np.sort(p)
    qq = []
    for lev in QQ_LEVELS:
        r = math.ceil(lev * m) if m else 0
        if r == 0:
            continue
        qq.append((lev, float(ps[r - 1]) if r <= len(ps) else 1.0))
    keys = ("pairs_tested", "pairs_at_risk", "rows", "groups", "pairs")
    cal = Calibration(signal, m, len(p), s01, s001, s01 / 0.01, s001 / 0.001, qq,
                      stats={k: det.stats_[k] for k in keys if k in det.stats_},
                      pvalues=p if keep_pvalues else None)
    if networks:
        run = detect(ws, signals=[signal], alpha=alpha, save=False, assess=False,
                     amplified=False)
        cal.networks = run.n_networks
        cal.significant_pairs = int(run.params["detectors"][signal].get("significant_pairs", 0))
    cal.seconds = round(time.perf_counter() - t0, 3)
    return cal
