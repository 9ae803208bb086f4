"""Shared infrastructure: accounts that logged in from the same device or the same IP address.

Input is the workspace's ``sessions`` table (platform telemetry; public data has none, and
then the detector returns no edges with ``stats_["rows"] == 0``). An account is
``(platform, account_id)``; a device id or an address ties accounts of any platform (the
same phone behind a Facebook and an Instagram account is the strongest link investigators
describe). Device ids are compared as given (trimmed), addresses lower-cased and trimmed.

Semantics (exactly)
-------------------
A session is ``(account, resource, time)`` (exact duplicates count once). Two different
accounts *share* a resource when a session of one and a session of the other on it are at most
``window`` seconds apart (inclusive; by default any time apart for devices and one day for
addresses, since an address re-assigned to another customer days later links nobody). A
session *co-uses* the resource when the other account has a session on it within the window.

- ``support``: the number of distinct resources the pair shares.
- ``weight``: co-uses, ``sum over shared resources of min(u_a, u_b)`` where ``u_a`` is the
  number of account a's sessions on the resource that co-use it (so two accounts that each
  logged in once from a phone weigh 1, and a heavy user cannot inflate a pair alone);
  ``weight >= support``.
- ``first_seen`` / ``last_seen``: the first and last co-using session of either account.
- ``median_delta_s``: the median, over the co-using sessions of both accounts, of the gap to
  the nearest session of the other account on the same resource.
- ``evidence``: ``"device:<device_id>"`` or ``"ip:<address>"``, one per shared resource,
  rarest first (fewest accounts, then id); :meth:`~BaseDetector.evidence` gives the full list
  in the same order.

Resources used by more than ``max_accounts`` accounts (carrier-grade NAT, VPN exits, public
Wi-Fi) give no pairs: they are never expanded, but they count in the null model and are
counted and listed in ``stats_`` (``capped_resources``).

Null model and p-value
----------------------
Rarity is the point: a device used by six accounts links them, an address behind which
thousands of phones sit links nobody. The null is a bipartite configuration model that keeps
every account's number of distinct resources ``d_a`` and every resource's number of accounts
``k_r`` (``M = sum d_a`` account-resource incidences): accounts draw their resources
independently, in proportion to popularity. Two given accounts then both use resource ``r``
with probability about ``d_a d_b k_r (k_r - 1) / M^2``, and within the window with that times
``q_r``, the share of ``r``'s session pairs of different accounts that lie within the window
(times exchangeable within a resource; ``q_r = 1`` without a window). The number of resources
with at most ``K`` accounts that the pair shares is then Poisson with mean

    lambda_ab(K) = d_a d_b C(K) / M^2,    C(K) = sum over r with k_r <= K of k_r (k_r - 1) q_r

(``lambda`` adds the resources' chances, a union bound that errs high where they are not
small, and a sum of independent trials is no more spread out than the Poisson of its mean).
The test statistic is the list of the pair's shared popularities, sorted
``k_(1) <= k_(2) <= ...``: for each ``m``, ``T_m = P(Poisson(lambda_ab(k_(m))) >= m)`` is the
chance that the pair shares at least ``m`` resources as rare as its ``m``-th rarest; each
``T_m`` is a valid p-value on its own (``T_m`` is small exactly when ``k_(m)`` is), and the
weighted Bonferroni combination

    p_value = min(1, min over m of (pi^2 / 6) m^2 T_m)

(weights ``6 / (pi^2 m^2)`` sum to 1) is a valid p-value for "more, or rarer, shared
infrastructure than popularity explains". ``expected`` is ``lambda_ab(k_(m))`` at the ``m``
that gave the minimum. Among 100,000 accounts with two resources each (``M = 2e5``), two
accounts sharing only a phone of six get ``lambda = 4 * 30 / M^2 = 3e-9``; two sharing only
a carrier address of 3,000 get at least ``4 * 3000 * 2999 * q / M^2``, about ``1e-3 q``:
five orders of magnitude weaker (and above the default cap). In a world of 2,006 accounts
where 2,000 sit behind one address, its pairs get ``p = 1``.

This p-value is **per pair and not conditional on the pair being in the output**, unlike the
event-pair detectors: the shared resource *is* the output criterion, so conditioning on it
gives every pair linked by a single resource ``p = 1`` whatever its rarity. Under the null
the p-values of all ``N (N - 1) / 2`` account pairs are (super-)uniform, and
``stats_["pairs_at_risk"]`` is that number, the multiplicity of an honest correction
(Benjamini-Hochberg with ``m = pairs_at_risk``, the pairs not output having ``p = 1``). With
``conditional=True`` the p-value is divided by the pair's chance of appearing at all,
``1 - exp(-lambda_ab(max_accounts))`` (the contract's convention; it makes infrastructure
evidence count only where a pair's sharing is rarer than the typical shared resource).

Algorithm (DuckDB stage, numpy, no per-row Python)
--------------------------------------------------
1. Sessions are staged with integer codes (accounts in ``(platform, account_id)`` order,
   resources in id order), sorted by ``(resource, account, time)``; ``d_a``, ``k_r``, ``M``
   and ``q_r`` (a vectorised binary search counts the session pairs within the window) follow.
2. Candidate pairs are generated per resource with ``2 <= k_r <= max_accounts`` (exactly
   ``sum C(k_r, 2)`` pair-resources, never a Cartesian product of a popular one); with a
   window, pairs whose session spans on the resource are further apart are dropped at once.
3. Pair-resources are sorted by (pair, popularity, resource) and processed in pieces of whole
   pairs, each session of a pair's two accounts looking up the nearest session of the other
   by a vectorised binary search; pieces are bounded in sessions, so memory stays bounded.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lockstep._arrays import budget_slices, unique
from lockstep._lazy import special
from lockstep.detectors.base import (
    EDGE_SCHEMA,
    BaseDetector,
    Laps,
    check_int,
    check_real,
    empty_edges,
)
from lockstep.detectors.sweep import count_candidates
from lockstep.exceptions import UsageError
from lockstep.significance import P_FLOOR  # re-exported

if TYPE_CHECKING:
    import duckdb

__all__ = ["InfrastructureDetector", "SIGNALS", "RESOURCES", "DEFAULT_WINDOW_S", "P_FLOOR"]

#: Signal name -> parameters of the detector that computes it.
SIGNALS: dict[str, dict[str, str]] = {
    "shared-device": {"resource": "device"},
    "shared-ip": {"resource": "ip"},
}
#: Resource -> (sessions column, SQL normalising it, evidence prefix, signal name).
RESOURCES: dict[str, tuple[str, str, str, str]] = {
    "device": ("device_id", "trim(device_id)", "device", "shared-device"),
    "ip": ("ip", "lower(trim(ip))", "ip", "shared-ip"),
}
#: Window used when ``window=None``: devices any time apart, addresses within a day.
DEFAULT_WINDOW_S: dict[str, float] = {"device": math.inf, "ip": 86_400.0}

_US = 1_000_000
_MAX_WINDOW_S = 1e9  # a finite window above ~31 years is the same as none
_PIECE_SESSIONS = 1 << 22  # sessions looked up per piece of pairs (bounds memory)
_EMIT_STEP = 1 << 23  # pair-resources generated per step
_MAX_REPORTED = 20  # capped resources listed in stats_ (all are counted)
_BONFERRONI = math.pi ** 2 / 6.0
_BIG = np.iinfo(np.int64).max


class InfrastructureDetector(BaseDetector):
    """Accounts that used the same device, or the same IP address, weighted by rarity.

    Two different accounts share a resource when a session of each on it lie at most
    ``window`` apart; an edge's ``support`` is its number of shared resources, ``weight``
    its co-uses (see the module docstring), and ``p_value`` says how improbable that much
    (and that rare) sharing is when accounts pick resources independently by popularity.

    Parameters
    ----------
    resource : {"device", "ip"}, default "device"
        ``device`` (signal ``shared-device``) matches ``device_id``; ``ip`` (signal
        ``shared-ip``) matches ``ip``.
    window : float or None, default None
        Seconds; two accounts share a resource only through sessions at most this far apart
        (inclusive). ``None`` uses :data:`DEFAULT_WINDOW_S` (no limit for devices, 86,400 s
        for addresses); ``math.inf`` means no limit.
    max_accounts : int, default 300
        Resources used by more accounts than this give no pairs (carrier NAT, VPN exits);
        they still count in the null model and are listed in ``stats_["capped_resources"]``.
    conditional : bool, default False
        Divide the p-value by the pair's chance of sharing anything (see the module
        docstring); by default it is the pair's unconditional tail probability.
    min_weight : int, default 1
        Keep edges with at least this many co-uses.
    max_evidence : int, default 10
        Resource ids listed per edge, rarest first.

    Attributes
    ----------
    edges_ : pyarrow.Table
        One row per account pair (columns of :data:`~lockstep.detectors.base.EDGE_SCHEMA`).
    signal_ : str
        ``shared-device`` or ``shared-ip``.
    stats_ : dict
        ``rows`` (sessions used), ``accounts``, ``resources``, ``incidences`` (``M``),
        ``shared_resources`` (used by 2 or more accounts), ``candidate_resources``,
        ``capped_resources`` (count, accounts and sessions behind them, and the largest),
        ``pair_resources`` (generated), ``pair_resources_in_window``, ``pairs_at_risk``,
        ``window_s`` (None: no limit), ``null`` and ``seconds`` per stage.
    workspace_ : Workspace

    Notes
    -----
    Meta's takedown reports link fakes to operators through "infrastructural indicators"
    shared among accounts, and note that adversaries answer with clean devices and proxy
    addresses; Kumar et al. label sockpuppets by IP and session overlap. Rarity weighting
    follows the configuration-model logic of co-occurrence significance (a resource's
    evidence falls with the square of its popularity).

    References
    ----------
    .. [1] Kumar, S., Cheng, J., Leskovec, J., & Subrahmanian, V. S. (2017). An army of me:
       sockpuppets in online discussion communities. WWW 2017, 857-866.
       https://doi.org/10.1145/3038912.3052677
    .. [2] Meta, Adversarial Threat Reports (quarterly, 2022-). https://transparency.meta.com/

    Examples
    --------
    >>> import tempfile
    >>> import lockstep
    >>> from lockstep.detectors.infrastructure import InfrastructureDetector
    >>> from lockstep.ingestion import ingest
    >>> from lockstep.testing import make_campaign
    >>> tmp = tempfile.mkdtemp()
    >>> ws = lockstep.open_workspace(tmp + "/ws")
    >>> _ = ingest(ws, [make_campaign(tmp, seed=1)])
    >>> det = InfrastructureDetector(resource="ip").fit(ws)
    >>> det.edges_.num_rows, det.stats_["rows"]  # make_campaign writes no sessions
    (0, 0)
    """

    name = "infrastructure"

    def __init__(self, *, resource: str = "device", window: float | None = None,
                 max_accounts: int = 300, conditional: bool = False, min_weight: int = 1,
                 max_evidence: int = 10) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.resource = resource
        self.window = window
        self.max_accounts = max_accounts
        self.conditional = conditional

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.resource not in RESOURCES:
            raise UsageError(f"resource must be one of {', '.join(RESOURCES)}, not "
                             f"{self.resource!r}")
        check_real("window", self.window, 0, math.inf, optional=True)  # inf: no limit
        check_int("max_accounts", self.max_accounts, 2)
        if not isinstance(self.conditional, bool):
            raise UsageError(f"conditional must be True or False, not {self.conditional!r}")

    def _signal_name(self) -> str:
        return RESOURCES[self.resource][3]

    def _window_us(self) -> int | None:
        """The window in microseconds, or None for no limit."""
        w = DEFAULT_WINDOW_S[self.resource] if self.window is None else float(self.window)
        if math.isinf(w) or w > _MAX_WINDOW_S:
            return None
        return int(round(w * _US))

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        wus = self._window_us()
        cap = int(self.max_accounts)
        st = _stage(con, self.resource)
        lap("stage")
        n_acc = len(st["acc_id"])
        stats: dict[str, Any] = {
            "signal": self._signal_name(), "resource": self.resource,
            "rows": int(len(st["t"])), "accounts": n_acc, "resources": len(st["res_id"]),
            "window_s": None if wus is None else wus / _US, "max_accounts": cap,
            "conditional": self.conditional,
            "null": "configuration model (degrees d_a and popularities k_r kept), Poisson "
                    "scan over shared popularities, weighted Bonferroni",
            "pairs_at_risk": n_acc * (n_acc - 1) // 2,
        }
        if len(st["t"]) == 0:
            stats.update(incidences=0, shared_resources=0, candidate_resources=0,
                         capped_resources={"count": 0, "accounts": 0, "sessions": 0,
                                           "largest": []},
                         pair_resources=0, pair_resources_in_window=0, seconds=secs)
            return empty_edges(), stats

        r, a, t = st["r"], st["a"], st["t"]
        inc = _incidences(r, a, t)
        k = np.bincount(inc["r"], minlength=len(st["res_id"])).astype(np.int64)
        d = np.bincount(inc["a"], minlength=n_acc).astype(np.float64)
        M = float(len(inc["r"]))
        cand_res = (k >= 2) & (k <= cap)
        capped = k > cap
        stats.update(incidences=int(M), shared_resources=int(np.count_nonzero(k >= 2)),
                     candidate_resources=int(np.count_nonzero(cand_res)),
                     capped_resources=_describe_capped(st, inc, k, capped))
        q = _window_share(r, t, inc, k, cand_res, wus)
        # C(K): sum of k (k - 1) q over candidate resources with at most K accounts
        ck = np.bincount(k[cand_res], weights=(k * (k - 1) * q)[cand_res],
                         minlength=cap + 1).cumsum()
        stats["null_mass"] = float(ck[-1])
        lap("null")

        ia, ib = _pair_resources(inc, k, cand_res, wus, stats)
        lap("pairs")
        table = self._scan(st, inc, k, d, M, ck, ia, ib, wus, stats)
        lap("aggregate")
        stats["seconds"] = secs
        return table, stats

    def _scan(self, st: dict[str, Any], inc: dict[str, np.ndarray], k: np.ndarray,
              d: np.ndarray, M: float, ck: np.ndarray, ia: np.ndarray, ib: np.ndarray,
              wus: int | None, stats: dict[str, Any]) -> pa.Table:
        """Order pair-resources by (pair, popularity, resource); reduce pieces of whole pairs."""
        n_acc = len(st["acc_id"])
        if len(ia) == 0:
            stats["pair_resources_in_window"] = 0
            return empty_edges()
        key = inc["a"][ia] * n_acc + inc["a"][ib]
        kr = k[inc["r"][ia]]
        order = np.lexsort((inc["r"][ia], kr, key))
        ia, ib, key = ia[order], ib[order], key[order]
        del order, kr
        cost = inc["n"][ia] + inc["n"][ib]
        new_pair = np.r_[True, key[1:] != key[:-1]]
        cum = np.cumsum(cost)
        bounds = np.r_[np.flatnonzero(new_pair), len(ia)]
        tables = []
        in_window = 0
        s = 0
        while s < len(ia):
            base = int(cum[s - 1]) if s else 0
            fits = int(np.searchsorted(cum, base + _PIECE_SESSIONS, side="right"))
            # end the piece at a pair boundary; a pair bigger than a piece goes whole
            j = int(np.searchsorted(bounds, fits, side="right")) - 1
            if bounds[j] <= s:
                j = int(np.searchsorted(bounds, s, side="right"))
            e = int(bounds[j])
            part, kept = _reduce(st, inc, k, d, M, ck, ia[s:e], ib[s:e], key[s:e], wus,
                                 self.max_evidence, self.conditional, self._signal_name())
            in_window += kept
            if part is not None:
                tables.append(part)
            s = e
        stats["pair_resources_in_window"] = in_window
        return pa.concat_tables(tables) if tables else empty_edges()

    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        # An independent SQL self-join on the two accounts' sessions, in the order of edges_.
        col, norm, prefix, _ = RESOURCES[self.resource]
        wus = self._window_us()
        near = "" if wus is None else "AND abs(x.t - y.t) <= $w"
        sql = f"""
        WITH r AS ({_ROWS_SQL.format(norm=norm, col=col)}),
        x AS (SELECT * FROM r WHERE account_id = $aa AND ($pa IS NULL OR platform = $pa)),
        y AS (SELECT * FROM r WHERE account_id = $ab AND ($pb IS NULL OR platform = $pb)),
        s AS (SELECT DISTINCT x.res FROM x JOIN y ON x.res = y.res {near}
              WHERE x.platform <> y.platform OR x.account_id <> y.account_id),
        kk AS (SELECT r.res, count(DISTINCT (r.platform, r.account_id)) AS k
               FROM r JOIN s USING (res) GROUP BY r.res)
        SELECT res FROM kk WHERE k <= $cap ORDER BY k, res
        """
        params: dict[str, Any] = {"aa": a[1], "ab": b[1], "pa": a[0], "pb": b[0],
                                  "cap": int(self.max_accounts)}
        if wus is not None:
            params["w"] = wus
        got = con.execute(sql, params).fetchall()
        return [f"{prefix}:{res}" for (res,) in got]


# -- stages ------------------------------------------------------------------------------------
_ROWS_SQL = """
SELECT DISTINCT platform, account_id, {norm} AS res, epoch_us(ts) AS t
FROM sessions
WHERE {col} IS NOT NULL AND trim({col}) <> '' AND account_id IS NOT NULL
  AND trim(account_id) <> '' AND platform IS NOT NULL AND ts IS NOT NULL"""


def _stage(con: duckdb.DuckDBPyConnection, resource: str) -> dict[str, Any]:
    """Sessions with integer codes, sorted by (resource, account, time), and the code tables."""
    col, norm, prefix, _ = RESOURCES[resource]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _inf_r AS {_ROWS_SQL.format(norm=norm, col=col)}")
    con.execute("""CREATE OR REPLACE TEMP TABLE _inf_a AS
        SELECT platform, account_id,
               (row_number() OVER (ORDER BY platform, account_id) - 1)::BIGINT AS a
        FROM (SELECT DISTINCT platform, account_id FROM _inf_r)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _inf_o AS
        SELECT res, (row_number() OVER (ORDER BY res) - 1)::BIGINT AS r
        FROM (SELECT DISTINCT res FROM _inf_r)""")
    rows = con.sql("""SELECT o.r, a.a, x.t FROM _inf_r x JOIN _inf_o o USING (res)
        JOIN _inf_a a USING (platform, account_id) ORDER BY o.r, a.a, x.t""").to_arrow_table()
    accs = con.sql("SELECT platform, account_id FROM _inf_a ORDER BY a").to_arrow_table()
    res = con.sql(f"SELECT '{prefix}:' || res AS label FROM _inf_o ORDER BY r").to_arrow_table()
    for tbl in ("_inf_r", "_inf_a", "_inf_o"):
        con.execute(f"DROP TABLE IF EXISTS {tbl}")

    def col_np(tbl: pa.Table, name: str) -> np.ndarray:
        return tbl[name].combine_chunks().to_numpy(zero_copy_only=False).astype(np.int64)

    return {"r": col_np(rows, "r"), "a": col_np(rows, "a"), "t": col_np(rows, "t"),
            "acc_platform": accs["platform"].combine_chunks(),
            "acc_id": accs["account_id"].combine_chunks(),
            "res_id": res["label"].combine_chunks()}


def _incidences(r: np.ndarray, a: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """(resource, account) blocks of the sorted rows: code, first row, end, sessions, span."""
    n = len(r)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.logical_or(r[1:] != r[:-1], a[1:] != a[:-1], out=new[1:])
    start = np.flatnonzero(new)
    end = np.r_[start[1:], n]
    return {"r": r[start], "a": a[start], "start": start, "end": end, "n": end - start,
            "t0": t[start], "t1": t[end - 1]}


def _bisect_right(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each query, the first index in ``[lo, hi)`` with ``t > x`` (``t`` sorted on each
    range); a binary search run on all queries at once."""
    lo = lo.astype(np.int64, copy=True)
    hi = hi.astype(np.int64, copy=True)
    if len(t) == 0:
        return lo
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        go = np.zeros(len(lo), dtype=bool)
        go[active] = t[mid[active]] <= x[active]
        lo = np.where(go, mid + 1, lo)
        hi = np.where(active & ~go, mid, hi)


def _window_share(r: np.ndarray, t: np.ndarray, inc: dict[str, np.ndarray],
                  k: np.ndarray, cand_res: np.ndarray, wus: int | None) -> np.ndarray:
    """``q_r``: the share of session pairs of different accounts on ``r`` within the window
    (1 without a window; computed for candidate resources only)."""
    q = np.ones(len(k))
    if wus is None or not cand_res.any():
        return q
    w = min(wus, int(t.max() - t.min()) + 1)
    rows = np.flatnonzero(cand_res[r])
    rc, tc = r[rows], t[rows]
    n_r = np.bincount(rc, minlength=len(k)).astype(np.float64)
    # same-account pairs: rows are sorted by (resource, account, time)
    ci = np.flatnonzero(cand_res[inc["r"]])
    n_inc = inc["n"][ci]
    # per row, the later rows of its group (incidence, then resource) at most w after it
    same_w = np.bincount(
        rc, weights=count_candidates(np.repeat(np.arange(len(ci)), n_inc), tc, w)[0],
        minlength=len(k))
    same_all = np.bincount(inc["r"][ci], weights=n_inc * (n_inc - 1) / 2.0, minlength=len(k))
    # all pairs: re-sort by (resource, time)
    order = np.lexsort((tc, rc))
    rs, ts = rc[order], tc[order]
    all_w = np.bincount(rs, weights=count_candidates(rs, ts, w)[0], minlength=len(k))
    cross = n_r * (n_r - 1) / 2.0 - same_all
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cross > 0, (all_w - same_w) / cross, 1.0)
    q[cand_res] = np.clip(share[cand_res], 0.0, 1.0)
    return q


def _pair_resources(inc: dict[str, np.ndarray], k: np.ndarray, cand_res: np.ndarray,
                    wus: int | None, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of incidences on the same candidate resource (account a < account b), less
    those whose session spans are further apart than the window."""
    ci = np.flatnonzero(cand_res[inc["r"]])
    if len(ci) == 0:
        stats["pair_resources"] = 0
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kc = k[inc["r"][ci]]
    # position within its resource's block of incidences, and partners after it
    block_start = np.r_[0, np.cumsum(kc[np.r_[True, inc["r"][ci][1:] != inc["r"][ci][:-1]]])]
    starts = np.repeat(block_start[:-1], np.diff(block_start))
    pos = np.arange(len(ci), dtype=np.int64)
    cand = (starts + kc) - pos - 1
    total = int(cand.sum())
    stats["pair_resources"] = total
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    for r0, r1 in budget_slices(cand, _EMIT_STEP):
        c = cand[r0:r1]
        m = int(c.sum())
        if m:
            left = np.repeat(pos[r0:r1], c)
            firsts = np.cumsum(c) - c
            right = np.arange(m, dtype=np.int64) + np.repeat(pos[r0:r1] + 1 - firsts, c)
            xa, xb = ci[left], ci[right]
            if wus is not None:
                ok = ((inc["t0"][xb] <= inc["t1"][xa] + wus)
                      & (inc["t0"][xa] <= inc["t1"][xb] + wus))
                xa, xb = xa[ok], xb[ok]
            out_a.append(xa)
            out_b.append(xb)
    if not out_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_a), np.concatenate(out_b)


def _expand(starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, row)`` for the rows ``starts[i] .. starts[i] + lens[i]`` of every ``i``."""
    owner = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    offs = np.cumsum(lens) - lens
    rows = np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(starts - offs, lens)
    return owner, rows


def _nearest_gap(t: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance from each ``x`` to the nearest ``t`` in its (non-empty, sorted) range."""
    pos = _bisect_right(t, lo, hi, x)
    left = np.where(pos > lo, x - t[np.maximum(pos - 1, 0)], _BIG)
    right = np.where(pos < hi, t[np.minimum(pos, len(t) - 1)] - x, _BIG)
    return np.minimum(left, right)


def _log_tail(m: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """``log P(Poisson(lam) >= m)`` for integer ``m >= 1``, underflow-safe."""
    lam = np.maximum(lam, 1e-300)
    with np.errstate(divide="ignore", under="ignore"):
        tail = special.gammainc(m, lam)
        # where the tail underflows use its leading term lam^m e^-lam / m!, which is within a
        # factor 1 / (1 - lam / (m + 1)) of it (lam << m there)
        lead = m * np.log(lam) - lam - special.gammaln(m + 1.0)
        return np.where(tail > 0, np.log(np.maximum(tail, 1e-320)), lead)


def _reduce(st: dict[str, Any], inc: dict[str, np.ndarray], k: np.ndarray, d: np.ndarray,
            M: float, ck: np.ndarray, ia: np.ndarray, ib: np.ndarray, key: np.ndarray,
            wus: int | None, max_evidence: int, conditional: bool,
            signal: str) -> tuple[pa.Table | None, int]:
    """The edges of whole pairs ``key`` (pair-resources sorted by pair, popularity, id)."""
    t = st["t"]
    n_pr = len(ia)
    # each session of a looks up b's nearest session on the resource, and the reverse
    own_a, rows_a = _expand(inc["start"][ia], inc["n"][ia])
    gap_a = _nearest_gap(t, t[rows_a], inc["start"][ib][own_a], inc["end"][ib][own_a])
    own_b, rows_b = _expand(inc["start"][ib], inc["n"][ib])
    gap_b = _nearest_gap(t, t[rows_b], inc["start"][ia][own_b], inc["end"][ia][own_b])
    if wus is None:
        qa = np.ones(len(gap_a), dtype=bool)
        qb = np.ones(len(gap_b), dtype=bool)
    else:
        qa, qb = gap_a <= wus, gap_b <= wus
    u_a = np.bincount(own_a[qa], minlength=n_pr)
    u_b = np.bincount(own_b[qb], minlength=n_pr)
    ta, tb = t[rows_a], t[rows_b]
    sa, sb = np.cumsum(inc["n"][ia]) - inc["n"][ia], np.cumsum(inc["n"][ib]) - inc["n"][ib]
    first = np.minimum(np.minimum.reduceat(np.where(qa, ta, _BIG), sa),
                       np.minimum.reduceat(np.where(qb, tb, _BIG), sb))
    last = np.maximum(np.maximum.reduceat(np.where(qa, ta, -_BIG), sa),
                      np.maximum.reduceat(np.where(qb, tb, -_BIG), sb))
    keep = u_a > 0
    n_kept = int(np.count_nonzero(keep))
    if n_kept == 0:
        return None, 0
    # the pairs of the kept pair-resources
    kp = np.flatnonzero(keep)
    key_k = key[kp]
    newg = np.r_[True, key_k[1:] != key_k[:-1]]
    gstart = np.flatnonzero(newg)
    gid_k = np.cumsum(newg) - 1
    n_g = len(gstart)
    gid_pr = np.full(n_pr, -1, dtype=np.int64)
    gid_pr[kp] = gid_k
    support = np.diff(np.r_[gstart, n_kept]).astype(np.int64)
    weight = np.add.reduceat(np.minimum(u_a, u_b)[kp], gstart).astype(np.int64)
    g_first = np.minimum.reduceat(first[kp], gstart)
    g_last = np.maximum.reduceat(last[kp], gstart)
    # exact median of the co-using sessions' gaps per pair
    gaps = np.concatenate([gap_a[qa], gap_b[qb]])
    gg = np.concatenate([gid_pr[own_a[qa]], gid_pr[own_b[qb]]])
    o = np.lexsort((gaps, gg))
    gaps = gaps[o]
    cnt = np.bincount(gg, minlength=n_g)
    off = np.cumsum(cnt) - cnt
    median_us = (gaps[off + (cnt - 1) // 2] + gaps[off + cnt // 2]) / 2.0
    # p-values: scan over the pair's shared popularities, rarest first
    a_code = inc["a"][ia[kp]]
    b_code = inc["a"][ib[kp]]
    kr = k[inc["r"][ia[kp]]]
    rank = np.arange(n_kept) - gstart[gid_k] + 1
    scale = d[a_code] * d[b_code] / (M * M)
    lam = scale * ck[kr]
    logp = math.log(_BONFERRONI) + 2.0 * np.log(rank) + _log_tail(rank.astype(np.float64), lam)
    best = np.minimum.reduceat(logp, gstart)
    at_best = np.flatnonzero(logp <= best[gid_k])
    first_best = at_best[np.r_[True, gid_k[at_best][1:] != gid_k[at_best][:-1]]]
    expected = lam[first_best]
    if conditional:
        lam_all = scale[gstart] * ck[-1]
        with np.errstate(divide="ignore"):
            best = best - np.log(-np.expm1(-np.maximum(lam_all, 1e-300)))
    p = np.clip(np.exp(np.minimum(best, 0.0)), P_FLOOR, 1.0)
    # evidence: the first max_evidence resources of each pair
    top = np.flatnonzero(rank <= max_evidence)
    n_ev = np.bincount(gid_k[top], minlength=n_g)
    ev_ids = st["res_id"].take(pa.array(inc["r"][ia[kp[top]]]))
    offsets = pa.array(np.r_[0, np.cumsum(n_ev)].astype(np.int32))
    ga, gb = a_code[gstart], b_code[gstart]
    table = pa.table([
        st["acc_platform"].take(pa.array(ga)), st["acc_id"].take(pa.array(ga)),
        st["acc_platform"].take(pa.array(gb)), st["acc_id"].take(pa.array(gb)),
        pa.array([signal] * n_g, type=pa.string()),
        pa.array(weight, type=pa.int64()), pa.array(support, type=pa.int64()),
        pa.array(g_first, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        pa.array(g_last, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        pa.array(median_us / _US, type=pa.float64()),
        pa.ListArray.from_arrays(offsets, ev_ids),
        pa.array(expected, type=pa.float64()), pa.array(p, type=pa.float64()),
    ], schema=EDGE_SCHEMA)
    return table, n_kept


def _describe_capped(st: dict[str, Any], inc: dict[str, np.ndarray], k: np.ndarray,
                     capped: np.ndarray) -> dict[str, Any]:
    """Count the resources above ``max_accounts`` and list the largest."""
    idx = np.flatnonzero(capped)
    sessions = np.bincount(inc["r"], weights=inc["n"], minlength=len(k))
    big = idx[np.argsort(-k[idx], kind="stable")][:_MAX_REPORTED]
    accounts = unique(inc["a"][capped[inc["r"]]])
    return {"count": int(len(idx)), "accounts": int(len(accounts)),
            "sessions": int(sessions[idx].sum()),
            "largest": [{"resource": st["res_id"][int(i)].as_py(), "accounts": int(k[i]),
                         "sessions": int(sessions[i])} for i in big]}
