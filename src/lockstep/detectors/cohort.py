"""Creation cohorts and persona reuse: accounts made together, or made to look alike.

Two signals read the ``accounts`` table (not the events):

``co-creation`` (``kind="creation"``)
    Accounts created in the same *burst*: far more sign-ups in one time bucket than the
    background creation rate of their stratum predicts. Operators register fake accounts in
    batches (LinkedIn groups sign-ups by registration date and checks name patterns, Xiao et
    al. 2015; BotGraph flags sign-up spikes, Zhao et al. 2009).
``persona-reuse`` (``kind="persona"``)
    Accounts sharing a reused persona element: the same normalised bio, the same display name
    or the same handle template (a handle whose digit runs are replaced by ``#``, so
    ``deals_4821`` and ``deals_977`` share ``deals_#``).

Traits and groups
-----------------
A *trait* is a value some accounts share; the accounts holding one value form a *group*.

* ``created``: the account's stratum and time bucket. The stratum is ``(platform, kind,
  shape)`` with ``match="shape"`` (default) or ``(platform, kind)`` with ``match="kind"``.
  The *shape* of a handle is its letters+digits template: lower-cased, every run of letters
  becomes ``a`` and every run of digits ``9`` (``name.surname1234`` -> ``a.a9``); accounts
  without a handle have shape ``none``. Requiring the shape is the second shared trait: a
  batch made by one script shares its handle pattern, while a busy organic day does not.
  Buckets are ``window`` seconds wide on two grids, the second shifted by half a window, so
  a burst that straddles a bucket edge is still whole in one of them. Accounts without
  ``created_at`` have no ``created`` trait. When nearly all creation times are midnights
  (day precision) a window under a day is widened to a day.
* ``bio``: the bio lower-cased, every run of characters that are not letters or digits
  turned into one space; only bios of at least ``min_bio_chars`` characters count (``"Mom of
  two"`` and empty bios are not evidence).
* ``name``: the display name normalised the same way, at least 3 characters.
* ``handle``: the handle template (digit runs -> ``#``), only for handles that contain
  digits and keep at least 3 letters, and not for handles made of the account's own display
  name: its first or last token, both in either order, an initial and the other token, or
  all tokens, plus digits (``mary.williams12`` of "Mary Williams"). That is the organic
  default, and two Marys share ``mary#`` by chance.

Values held by more than ``max(common_min, common_share * N)`` accounts (``N``: all accounts
read) are *common* (boilerplate such as ``"Mother. Wife. Proud citizen."``) and are never
evidence; they are counted in ``stats_["common"]``. Persona values are compared across
platforms unless ``cross_platform=False``.

Null model and p-values
-----------------------
Both nulls are fitted from the workspace and condition on how common the shared thing is, so
that on data where values and creation times go to accounts by popularity alone
(:func:`lockstep.calibration.shuffle_workspace`) pairs are not significant.

* ``created`` (a group of ``n`` accounts of a stratum in a bucket): the stratum's *reference
  population* (its platform and kind; its platform with ``match="kind"``) made ``N`` accounts
  in the bucket, and ``X ~ Binomial(N, s)`` of them are of the stratum, ``s`` its share of
  the reference population's creations in the ``background_days`` on either side (leaving
  out the bucket and its two neighbours), shrunk with one pseudo-account at its overall
  share: ``s = (b + n_s / n_ref) / (B + 1)`` for ``b`` of ``B`` background creations. A
  busy day of the whole platform is thus not a burst; a batch of one handle shape on it is.
  ``mu = N s``.
* persona traits (pair level): a random pair shares a value of type ``j`` held by at most
  ``k`` accounts with probability ``P_j(k) = S_j(k) / (N (N - 1))``, ``S_j(k)`` the sum of
  ``k_v (k_v - 1)`` over the values of that type with ``2 <= k_v <= k`` (the workspace's own
  distribution of group sizes; ``N`` all accounts read). A value shared by thousands has
  ``P_j`` near 1; a rare one a small ``P_j``, but never below the share of pairs that
  chance alone makes that alike. A second, independent component is the creation gap:
  the share of account pairs of the same two (platform, kind) strata created at most as far
  apart (read on a log grid of gaps, rounded up; 1 when a time is unknown). The pair's
  p-value combines, by Fisher's method over a *fixed* number of components (each persona
  type with a shared value in the workspace, plus the gap when creation times exist), its
  shared types' ``P_j`` and its gap share, and is then made conditional on the pair being
  output: multiplied by ``pairs_at_risk / pairs_tested`` (``N (N - 1) / 2`` over the pairs
  that share a value), so Benjamini-Hochberg over the pairs output equals
  Benjamini-Hochberg over every pair at risk. A rare bio alone is thus weak evidence; a rare
  bio held by accounts also created together is strong.

A creation group is *reported* (its pairs become edges) when ``P(X >= n) <= alpha``, i.e.
when ``n >= c``, the smallest count (at least 2) whose tail is at most ``alpha``; its p-value
is conditional on that: ``p_g = P(X >= n) / P(X >= c)``. A co-creation pair's ``p_value``
is the smallest ``p_g`` of its buckets times 2 (Bonferroni over the two grids), at most 1.
Every persona value held by 2 to the common limit accounts is tested (``groups_`` lists it
with ``p_value = P_j`` and ``mu`` = the workspace's pairs sharing a value that common or
rarer); ``stats_`` gives ``pairs_tested``, ``pairs_at_risk`` and ``components``.

``expected``: co-creation, the sum over the pair's buckets of ``mu``; persona, the number of
account pairs that chance makes at least this alike (the product of the pair's component
shares times the pairs at risk).

Creation times that are not sign-up times are set aside: when the times have second (or
finer) precision, a second shared by 5 or more accounts of a platform is a default or a
clipped value (``stats_["placeholder_times"]`` counts them). Accounts created in a burst's
bucket by chance (same day, same shape) are paired with the burst too: bystanders get
significant edges, which other signals must confirm.

Edge columns
------------
``weight`` is the number of evidence ids of the pair (shared traits), ``support`` the number of
distinct trait types among them (``created`` and ``shape``; or ``bio``, ``name``,
``handle``). Evidence ids: ``"created:<bucket start, UTC, YYYY-MM-DDTHH:MMZ>"`` and
``"shape:<shape>"`` (co-creation, the shape only with ``match="shape"``);
``"bio:<hash8>"``, ``"name:<hash8>"`` (the first 8 hex digits of the MD5 of the normalised
text) and ``"handle:<template>"`` (persona), ordered by ``p_g`` then id, the shape last.
``first_seen``/``last_seen`` are the two accounts' creation times (earlier, later); an
account without ``created_at`` uses its first and last event time instead, and one without
events the UNIX epoch. ``median_delta_s`` is the gap between the two creation times in
seconds, 0 when either is unknown.

Caps
----
A group of more than ``max_clique`` accounts is not turned into a clique: its members, in
creation-time order, are each paired with the next ``max_clique // 2`` (a band), so the
group stays connected through its tightest pairs at a cost linear in its size. Banded groups
are listed in ``stats_["capped"]``.

References
----------
.. [1] Xiao, C., Freeman, D. M., & Hwa, T. (2015). Detecting clusters of fake accounts in online
   social networks. ACM AISec 2015. https://doi.org/10.1145/2808769.2808779
.. [2] Zhao, Y., Xie, Y., Yu, F., Ke, Q., Yu, Y., Chen, Y., & Gillum, E. (2009). BotGraph:
   large scale spamming botnet detection. USENIX NSDI 2009.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors.base import (
    EDGE_SCHEMA,
    BaseDetector,
    Laps,
    check_int,
    check_real,
    empty_edges,
)
from lockstep._arrays import unique
from lockstep.exceptions import UsageError
from lockstep.significance import P_FLOOR

if TYPE_CHECKING:
    import duckdb

__all__ = ["KINDS", "SIGNALS", "CohortDetector", "handle_shape"]

#: Signal name of each ``kind``.
KINDS: dict[str, str] = {"creation": "co-creation", "persona": "persona-reuse"}
#: Signal name -> constructor parameters, for the detector registry.
SIGNALS: dict[str, dict[str, Any]] = {sig: {"kind": k} for k, sig in KINDS.items()}

_US = 1_000_000
_DAY_US = 86_400 * _US
_MAX_REPORTED = 100  # groups listed in stats_ (all are counted)
_PERSONA_TYPES = ("bio", "name", "handle")
_TS = pa.timestamp("us", tz="UTC")
_GAP_GRID = 48  # creation gaps at which the persona null reads the share of close pairs
_PLACEHOLDER = 5  # a creation second shared by this many accounts of a platform is a placeholder

# DuckDB (RE2) expressions, on a column {c}
_SHAPE_SQL = ("regexp_replace(regexp_replace(lower(ltrim(trim({c}), '@')), '\\p{{L}}+', 'a', "
              "'g'), '[0-9]+', '9', 'g')")
_TEXT_SQL = "trim(regexp_replace(lower({c}), '[^\\p{{L}}\\p{{N}}]+', ' ', 'g'))"
_TEMPLATE_SQL = "regexp_replace(lower(ltrim(trim({c}), '@')), '[0-9]+', '#', 'g')"

# Letters of a handle made of the account's own name (see the module docstring).
_OWN_NAME_SQL = (
    "coalesce(list_contains([tk[1], tk[-1], tk[1] || tk[-1], tk[-1] || tk[1], "
    "left(tk[1], 1) || tk[-1], tk[1] || left(tk[-1], 1), left(tk[-1], 1) || tk[1], "
    "array_to_string(tk, '')], hl), false)")
_HANDLE_SQL = (
    "SELECT a, t, platform, 2, tmpl FROM (SELECT a, t, platform, "
    + _TEMPLATE_SQL.format(c="handle") + " AS tmpl, "
    "regexp_replace(lower(handle), '[^\\p{L}]+', '', 'g') AS hl, "
    "string_split(trim(regexp_replace(lower(coalesce(display_name, '')), '[^\\p{L}]+', ' ', "
    "'g')), ' ') AS tk FROM _ch_acc WHERE regexp_matches(handle, '[0-9]')) WHERE NOT "
    + _OWN_NAME_SQL)

_ACC_SQL = """
CREATE OR REPLACE TEMP TABLE _ch_acc AS
SELECT (row_number() OVER (ORDER BY platform, account_id) - 1)::BIGINT AS a,
       platform, account_id, coalesce(nullif(trim(kind), ''), 'user') AS kind, handle,
       display_name, bio, epoch_us(created_at) AS t
FROM (SELECT platform, account_id, kind, handle, display_name, bio, created_at FROM accounts
      WHERE account_id IS NOT NULL AND trim(account_id) <> '' AND platform IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY platform, account_id
                                 ORDER BY ingest_id DESC NULLS LAST) = 1)
"""


def handle_shape(handle: str | None) -> str:
    """The letters+digits shape of a handle (``name.surname1234`` -> ``a.a9``), as in SQL.

    Parameters
    ----------
    handle : str or None

    Returns
    -------
    str
        The shape; ``"none"`` for a missing or empty handle.
    """
    import re

    if handle is None or not handle.strip().lstrip("@"):
        return "none"
    s = re.sub(r"[^\W\d_]+", "a", handle.strip().lstrip("@").lower())
    return re.sub(r"[0-9]+", "9", s)


def _binom_group_p(n: np.ndarray, trials: np.ndarray, share: np.ndarray, alpha: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(reported, p)`` of groups of ``n`` accounts of a stratum among ``trials`` of its
    reference population in the bucket, each of the stratum with probability ``share``:
    reported when ``P(X >= n) <= alpha`` for ``X ~ Binomial(trials, share)``, with the
    conditional p-value ``P(X >= n) / P(X >= c)`` (``c`` the least such count, at least 2)."""
    from scipy import stats

    def log_sf(k: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return stats.binom.logsf(k - 1.0, trials, share)

    c = np.nan_to_num(stats.binom.isf(alpha, trials, share), nan=trials) + 1.0
    c = np.maximum(2.0, c)
    la = math.log(alpha)
    for _ in range(64):  # fix rounding of isf
        up = (c <= trials) & (log_sf(c) > la)
        down = (c > 2) & (log_sf(c - 1.0) <= la)
        if not up.any() and not down.any():
            break
        c = c + up - down
    rep = (n >= c) & (c <= trials)
    lp = log_sf(n) - log_sf(np.minimum(c, trials))
    p = np.clip(np.exp(np.minimum(np.nan_to_num(lp, nan=0.0), 0.0)), P_FLOOR, 1.0)
    return rep, p


def _fisher(logp_sum: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Fisher's combined p-value of ``k`` p-values whose logs sum to ``logp_sum``."""
    x = -logp_sum
    total = np.ones_like(x)
    term = np.ones_like(x)
    for i in range(1, int(k.max()) if len(k) else 1):
        term = term * x / i
        total = total + np.where(i < k, term, 0.0)
    with np.errstate(divide="ignore"):
        lp = -x + np.log(total)
    return np.clip(np.exp(np.minimum(lp, 0.0)), P_FLOOR, 1.0)


def _gap_share(t_acc: np.ndarray, timed: np.ndarray, acc: pa.Table, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray:
    """For each pair ``(lo, hi)``, the share of account pairs of the same two strata
    (platform, kind) whose creation times are at most as far apart as theirs: the chance
    that two accounts picked at random from those strata were created that close. Read on a
    grid of gaps (0, then 1 s to the whole range, log-spaced), each pair at the first grid
    gap at or above its own (conservative); 1 where either time is unknown."""
    out = np.ones(len(lo))
    both = timed[lo] & timed[hi]
    if not both.any():
        return out
    strata = pc.binary_join_element_wise(acc["platform"].combine_chunks(),
                                         pc.fill_null(acc["kind"], "").combine_chunks(), "\x1f")
    code = np.asarray(pc.dictionary_encode(strata).indices.to_numpy(zero_copy_only=False),
                      dtype=np.int64)
    code = np.where(timed, code, -1)
    secs = t_acc // _US
    span = float(max(1, int(secs[timed].max() - secs[timed].min())))
    grid = np.r_[0.0, np.logspace(0.0, math.log10(span + 1.0), _GAP_GRID)]
    idx = np.flatnonzero(both)
    a, b = lo[idx], hi[idx]
    gap = np.abs(secs[a] - secs[b]).astype(np.float64)
    gi = np.minimum(np.searchsorted(grid, gap, side="left"), len(grid) - 1)
    ca, cb = np.minimum(code[a], code[b]), np.maximum(code[a], code[b])
    sorted_t = {c: np.sort(secs[code == c]) for c in unique(np.r_[ca, cb])}
    share = np.ones(len(idx))
    for u, v in {(int(x), int(y)) for x, y in zip(ca, cb, strict=True)}:
        tu, tv = sorted_t[u], sorted_t[v]
        if u == v:
            total = len(tu) * (len(tu) - 1.0)
        else:
            total = float(len(tu)) * len(tv)
        if total <= 0:
            continue
        close = np.array([float(np.sum(np.searchsorted(tv, tu + d, "right")
                                       - np.searchsorted(tv, tu - d, "left")))
                          - (len(tu) if u == v else 0.0) for d in grid])
        f = np.clip(close / total, 0.0, 1.0)
        sel = (ca == u) & (cb == v)
        share[sel] = f[gi[sel]]
    out[idx] = np.maximum(share, P_FLOOR)
    return out


def _band_pairs(starts: np.ndarray, sizes: np.ndarray, band: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of positions in a member array whose groups are the segments
    ``[start, start + size)``: ``j`` among the next ``band`` positions after ``i`` in its
    segment. Returns ``(left, right, group)``."""
    if len(sizes) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    g = np.repeat(np.arange(len(sizes)), sizes)
    pos = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    partners = np.minimum(sizes[g] - 1 - pos, band[g])
    total = int(partners.sum())
    member = np.repeat(starts, sizes) + pos  # position in the member array
    left = np.repeat(member, partners)
    off = np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + (np.arange(total, dtype=np.int64) - off)
    return left, right, np.repeat(g, partners)


class CohortDetector(BaseDetector):
    """Accounts created in the same burst (``co-creation``) or sharing a reused persona
    (``persona-reuse``).

    Groups of accounts sharing a trait (a creation bucket of their stratum; a bio, display
    name or handle template) are tested against nulls fitted from the workspace: a creation
    group against its reference population's own sign-ups in the bucket (binomial), a pair
    sharing persona values against how often chance pairs share values that common, and
    were created that close together. See the module docstring for the traits, the null
    models, the p-values and the caps.

    Parameters
    ----------
    kind : {"creation", "persona"}, default "creation"
        ``creation``: signal ``co-creation``; ``persona``: signal ``persona-reuse``.
    window : float, default 86400
        Creation bucket width in seconds (creation only); two grids, half a window apart.
    background_days : float, default 30
        The background creation rate of a bucket is estimated over this many days on either
        side of it (creation only).
    match : {"shape", "kind"}, default "shape"
        Creation strata: ``(platform, kind, handle shape)`` or ``(platform, kind)``.
    alpha : float, default 1e-3
        A creation group is reported when chance gives a group at least as large with
        probability at most ``alpha``; its p-value is conditional on that (creation only).
    min_bio_chars : int, default 12
        Shortest normalised bio that counts as a persona trait.
    common_share : float, default 0.001
        A value held by more than ``max(common_min, common_share * accounts)`` accounts is
        common boilerplate and not evidence.
    common_min : int, default 25
        See ``common_share``.
    cross_platform : bool, default True
        Compare bios, names and handle templates across platforms (persona only); set False
        where many people hold accounts on several platforms under one name.
    max_clique : int, default 200
        Groups larger than this are paired as a band (each member with the next
        ``max_clique // 2`` in creation order) instead of a clique.
    min_weight : int, default 1
        Keep edges with at least this many evidence ids.
    max_evidence : int, default 10
        Evidence ids listed per edge (:meth:`evidence` gives them all).
    max_p : float, optional
        Leave out pairs whose p-value is above this (persona only): they can never pass a
        false-discovery cut at that level, and ``stats_["pairs_tested"]`` still counts them.
        ``lockstep detect`` sets it to its ``alpha``.

    Attributes
    ----------
    edges_ : pyarrow.Table
        One row per account pair (columns of :data:`~lockstep.detectors.base.EDGE_SCHEMA`).
    signal_ : str
        ``co-creation`` or ``persona-reuse``.
    groups_ : pyarrow.Table
        The reported groups: ``evidence`` id, ``trait`` type, ``size``, ``mu`` (chance size),
        ``p_value`` (conditional), ``band`` (partners per member) and, for creation,
        ``platform``, ``kind``, ``shape`` and ``start`` of the bucket.
    stats_ : dict
        ``rows`` (accounts read), ``accounts_timed``, trait and group counts, ``mu`` per
        persona type, ``common`` values, ``capped`` groups, ``largest`` groups, ``pairs`` and
        ``seconds`` per stage.
    workspace_ : Workspace

    Examples
    --------
    >>> import tempfile
    >>> import lockstep
    >>> from lockstep.detectors.cohort import CohortDetector
    >>> ws = lockstep.open_workspace(tempfile.mkdtemp() + "/ws")
    >>> CohortDetector(kind="persona").fit(ws).stats_["rows"]
    0
    """

    name = "cohort"

    def __init__(self, *, kind: str = "creation", window: float = 86_400,
                 background_days: float = 30, match: str = "shape", alpha: float = 1e-3,
                 min_bio_chars: int = 12, common_share: float = 0.001, common_min: int = 25,
                 cross_platform: bool = True, max_clique: int = 200, min_weight: int = 1,
                 max_evidence: int = 10, max_p: float | None = None) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.max_p = max_p
        self.kind = kind
        self.window = window
        self.background_days = background_days
        self.match = match
        self.alpha = alpha
        self.min_bio_chars = min_bio_chars
        self.common_share = common_share
        self.common_min = common_min
        self.cross_platform = cross_platform
        self.max_clique = max_clique

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.kind not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.match not in ("shape", "kind"):
            raise UsageError(f"match must be 'shape' or 'kind', not {self.match!r}")
        for name, lo, hi in (("window", 1.0, 3.2e7), ("background_days", 0.0, 3650.0),
                             ("alpha", 1e-300, 0.5), ("common_share", 0.0, 1.0)):
            check_real(name, getattr(self, name), lo, hi)
        check_int("min_bio_chars", self.min_bio_chars, 1)
        check_int("common_min", self.common_min, 2)
        check_int("max_clique", self.max_clique, 2)
        if self.max_p is not None:
            check_real("max_p", self.max_p, 0.0, 1.0)
        if not isinstance(self.cross_platform, bool):
            raise UsageError(f"cross_platform must be True or False, not {self.cross_platform!r}")

    def _signal_name(self) -> str:
        return KINDS[self.kind]

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        con.execute(_ACC_SQL)
        acc = con.sql("SELECT platform, account_id, t, kind FROM _ch_acc ORDER BY a"
                      ).to_arrow_table()
        n_acc = acc.num_rows
        timed = np.asarray(pc.is_valid(acc["t"]).to_numpy(zero_copy_only=False), dtype=bool)
        t_acc = np.asarray(pc.fill_null(acc["t"], 0).to_numpy(zero_copy_only=False),
                           dtype=np.int64)
        stats: dict[str, Any] = {"signal": self._signal_name(), "kind": self.kind,
                                 "rows": n_acc, "accounts_timed": int(timed.sum()),
                                 "alpha": self.alpha, "max_clique": self.max_clique}
        lap("load")
        self._acc = acc
        if n_acc == 0:
            self._set_groups(_empty_groups(), np.zeros(0, np.int64), np.zeros(0, np.int64),
                             np.zeros(0, np.int64))
            stats.update(groups=0, pairs=0, capped=[], n_capped=0, seconds=secs)
            return empty_edges(), stats
        if self.kind == "creation":
            groups, members, starts, sizes = self._creation(con, acc, stats)
        else:
            groups, members, starts, sizes = self._persona(con, n_acc, stats)
        lap("groups")
        table = self._edges(con, acc, t_acc, timed, groups, members, starts, sizes, stats, lap)
        stats["seconds"] = secs
        return table, stats

    # -- creation groups --------------------------------------------------------------------
    def _creation(self, con: duckdb.DuckDBPyConnection, acc: pa.Table, stats: dict[str, Any]
                  ) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
        shape = _SHAPE_SQL.format(c="handle")
        shape_sql = (f"coalesce(nullif({shape}, ''), 'none')" if self.match == "shape"
                     else "''")
        got = con.execute(f"""
            SELECT coalesce(avg((t % {_DAY_US} = 0)::DOUBLE), 0),
                   coalesce(avg((t % {60 * _US} = 0)::DOUBLE), 0)
            FROM _ch_acc WHERE t IS NOT NULL""").fetchone()
        midnight, minute = (float(got[0]), float(got[1])) if got else (0.0, 0.0)
        # placeholders: with second-or-finer times, one second shared by many accounts of a
        # platform is a default or clipped value (a platform's launch day), not a sign-up
        tie = "" if minute >= 0.5 else f"""
            AND (platform, t // {_US}) NOT IN (
                SELECT (platform, t // {_US}) FROM _ch_acc WHERE t IS NOT NULL
                GROUP BY platform, t // {_US} HAVING count(*) >= {_PLACEHOLDER})"""
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _ch_c AS
            SELECT a, platform, kind, {shape_sql} AS shape, t FROM _ch_acc
            WHERE t IS NOT NULL {tie}""")
        got = con.execute("SELECT count(*) FROM _ch_c").fetchone()
        stats["placeholder_times"] = int(stats["accounts_timed"]) - int(got[0] if got else 0)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _ch_s AS
            SELECT platform, kind, shape, count(*) AS n, min(t) AS lo, max(t) AS hi,
                   (row_number() OVER (ORDER BY platform, kind, shape) - 1)::BIGINT AS s
            FROM _ch_c GROUP BY platform, kind, shape""")
        strata = con.execute("SELECT platform, kind, shape, n, lo, hi FROM _ch_s ORDER BY s"
                             ).fetchall()
        rows = con.execute("""
            SELECT s.s, c.t, c.a FROM _ch_c c JOIN _ch_s s USING (platform, kind, shape)
            ORDER BY s.s, c.t, c.a""").fetchnumpy()
        s = np.asarray(rows["s"], dtype=np.int64)
        t = np.asarray(rows["t"], dtype=np.int64)
        a = np.asarray(rows["a"], dtype=np.int64)
        st_plat = [r[0] for r in strata]
        st_kind = [r[1] for r in strata]
        st_shape = [r[2] for r in strata]
        st_n = np.array([r[3] for r in strata], dtype=np.float64)
        # each platform's range of creation times
        plat_lo: dict[str, int] = {}
        plat_hi: dict[str, int] = {}
        for r in strata:
            plat_lo[r[0]] = min(plat_lo.get(r[0], r[4]), r[4])
            plat_hi[r[0]] = max(plat_hi.get(r[0], r[5]), r[5])
        r_lo = np.array([plat_lo[p] for p in st_plat], dtype=np.int64)
        r_hi = np.array([plat_hi[p] for p in st_plat], dtype=np.int64) + _US
        w = round(float(self.window) * _US)
        if w < _DAY_US and midnight > 0.9:
            w = _DAY_US
        stats.update(window_s=w / _US, day_precision=midnight > 0.9, strata=len(strata),
                     match=self.match)
        if len(t) == 0:
            stats.update(buckets=0, groups=0)
            return _empty_groups(), np.zeros(0, np.int64), np.zeros(0, np.int64), \
                np.zeros(0, np.int64)
        h = round(float(self.background_days) * _DAY_US)
        t0 = int(t.min())
        key = (s << 36) | ((t - t0) // _US)  # seconds since t0 within stratum

        def count(stratum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            lo_k = (stratum << 36) | np.maximum(0, -((t0 - lo) // _US))  # ceil seconds
            hi_k = (stratum << 36) | np.maximum(0, -((t0 - hi) // _US))
            return np.searchsorted(key, hi_k, "left") - np.searchsorted(key, lo_k, "left")

        # reference population of each stratum: its (platform, kind), or its platform when
        # the strata are (platform, kind)
        ref_label = [f"{p}\x1f{k}" if self.match == "shape" else p
                     for p, k in zip(st_plat, st_kind, strict=True)]
        ref_names = sorted(set(ref_label))
        ref = np.array([ref_names.index(x) for x in ref_label], dtype=np.int64)
        ref_n = np.bincount(ref, weights=st_n, minlength=len(ref_names))
        key_ref = np.sort((ref[s] << 36) | ((t - t0) // _US))

        def count_ref(rs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            lo_k = (rs << 36) | np.maximum(0, -((t0 - lo) // _US))
            hi_k = (rs << 36) | np.maximum(0, -((t0 - hi) // _US))
            return np.searchsorted(key_ref, hi_k, "left") - np.searchsorted(key_ref, lo_k, "left")

        def span(lo: np.ndarray, hi: np.ndarray, st: np.ndarray) -> np.ndarray:
            return np.maximum(0, np.minimum(hi, r_hi[st]) - np.maximum(lo, r_lo[st]))

        found: list[dict[str, np.ndarray]] = []
        tested = 0
        for grid, off in enumerate((0, w // 2)):
            b = (t - off) // w
            new = np.r_[True, (s[1:] != s[:-1]) | (b[1:] != b[:-1])]
            gs = np.flatnonzero(new)
            gsize = np.diff(np.r_[gs, len(t)])
            keep = gsize >= 2
            gs, gsize = gs[keep], gsize[keep]
            tested += len(gs)
            st = s[gs]
            start = b[gs] * w + off
            bg = np.maximum(0, count(st, start - h, start + w + h)
                            - count(st, start - w, start + 2 * w))
            sp = np.maximum(0, span(start - h, start + w + h, st)
                            - span(start - w, start + 2 * w, st))
            # the reference population's own creations in the bucket and the background: a
            # busy day of the whole platform (or kind) is not a burst of this stratum
            rs = ref[st]
            n_ref = count_ref(rs, start, start + w)
            bg_ref = np.maximum(0, count_ref(rs, start - h, start + w + h)
                                - count_ref(rs, start - w, start + 2 * w))
            share_all = st_n[st] / ref_n[rs]
            share = np.clip((bg + share_all) / (bg_ref + 1.0), 1e-12, 1.0)
            mu = n_ref * share
            rep, p = _binom_group_p(gsize.astype(np.float64), n_ref.astype(np.float64),
                                    share, float(self.alpha))
            found.append({"start_pos": gs[rep], "size": gsize[rep], "stratum": st[rep],
                          "start": start[rep], "mu": mu[rep], "p": p[rep],
                          "grid": np.full(int(rep.sum()), grid)})
        stats["buckets"] = tested
        g = {k: np.concatenate([f[k] for f in found]) for k in found[0]}
        n_g = len(g["size"])
        starts_iso = pc.strftime(pa.array(g["start"], type=pa.int64()).cast(_TS),
                                 format="%Y-%m-%dT%H:%MZ") if n_g else pa.array([], pa.string())
        ev = pc.binary_join_element_wise("created:", starts_iso, "") if n_g else starts_iso
        sid = g["stratum"]
        shapes = pa.array([st_shape[i] for i in sid], pa.string())
        groups = pa.table({
            "evidence": ev, "trait": pa.repeat(pa.scalar("created"), n_g),
            "size": pa.array(g["size"], pa.int64()), "mu": pa.array(g["mu"], pa.float64()),
            "p_value": pa.array(g["p"], pa.float64()),
            "band": pa.array(self._bands(g["size"]), pa.int64()),
            "platform": pa.array([st_plat[i] for i in sid], pa.string()),
            "kind": pa.array([st_kind[i] for i in sid], pa.string()),
            "shape": shapes, "start": pa.array(g["start"], pa.int64()).cast(_TS),
        })
        return groups, a, g["start_pos"], g["size"]

    # -- persona groups -----------------------------------------------------------------------
    def _persona(self, con: duckdb.DuckDBPyConnection, n_acc: int, stats: dict[str, Any]
                 ) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
        scope = "''" if self.cross_platform else "platform"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _ch_tr AS
            SELECT a, t, ttype, {scope} AS scope, v FROM (
                SELECT a, t, platform, 0 AS ttype, {_TEXT_SQL.format(c='bio')} AS v
                FROM _ch_acc WHERE bio IS NOT NULL
                UNION ALL
                SELECT a, t, platform, 1, {_TEXT_SQL.format(c='display_name')}
                FROM _ch_acc WHERE display_name IS NOT NULL
                UNION ALL
                {_HANDLE_SQL})
            WHERE (ttype = 0 AND length(v) >= $minbio) OR (ttype = 1 AND length(v) >= 3)
               OR (ttype = 2 AND length(regexp_replace(v, '[^\\p{{L}}]', '', 'g')) >= 3)""",
                    {"minbio": int(self.min_bio_chars)})
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _ch_g AS
            SELECT ttype, scope, v, count(*)::BIGINT AS n FROM _ch_tr GROUP BY ALL""")
        cap = max(int(self.common_min), math.floor(float(self.common_share) * n_acc))
        hist = con.execute("SELECT ttype, n, count(*) FROM _ch_g GROUP BY ALL ORDER BY ttype, n"
                           ).fetchall()
        stats["common_limit"] = cap
        stats["values"] = {_PERSONA_TYPES[tt]: int(sum(k for t2, _, k in hist if t2 == tt))
                           for tt in range(3)}
        # the null: accounts hold values by popularity alone. A random pair shares a value of
        # type tt held by at most n accounts with probability S(n) / (N (N - 1)), S(n) the
        # sum of k (k - 1) over the values of that type with 2 <= k <= n (the workspace's own
        # distribution of group sizes); that share is the trait's p-value for a pair
        n_all = max(2.0, float(n_acc))
        denom = n_all * (n_all - 1.0)
        stats["share_shared"] = {}
        cand_t: list[np.ndarray] = []
        cand_n: list[np.ndarray] = []
        cand_p: list[np.ndarray] = []
        types_tested = 0
        for tt in range(3):
            sz = np.array([n for t2, n, _ in hist if t2 == tt and 2 <= n <= cap],
                          dtype=np.int64)
            k = np.array([c for t2, n, c in hist if t2 == tt and 2 <= n <= cap],
                         dtype=np.int64)
            if not len(sz):
                stats["share_shared"][_PERSONA_TYPES[tt]] = 0.0
                continue
            types_tested += 1
            share = np.minimum(1.0, np.cumsum(k * sz * (sz - 1.0)) / denom)
            stats["share_shared"][_PERSONA_TYPES[tt]] = float(share[-1])
            cand_t.append(np.full(len(sz), tt))
            cand_n.append(sz.astype(np.float64))
            cand_p.append(np.maximum(share, P_FLOOR))
        self._n_types = types_tested
        common = con.execute(f"""
            SELECT ttype, n, CASE WHEN ttype = 2 THEN v ELSE left(md5(v), 8) END AS h
            FROM _ch_g WHERE n > {cap} ORDER BY n DESC, ttype, h""").fetchall()
        stats["common"] = {"values": len(common), "accounts": int(sum(r[1] for r in common)),
                           "largest": [{"evidence": f"{_PERSONA_TYPES[r[0]]}:{r[2]}",
                                        "size": int(r[1])} for r in common[:10]]}
        if not cand_t:
            stats["groups"] = 0
            return _empty_groups(), np.zeros(0, np.int64), np.zeros(0, np.int64), \
                np.zeros(0, np.int64)
        ct = np.concatenate(cand_t)
        cn = np.concatenate(cand_n)
        p = np.concatenate(cand_p)
        mu = p * denom / 2.0  # pairs of the workspace sharing a value this common or rarer
        rep = np.ones(len(ct), dtype=bool)
        sizes_tab = pa.table({"ttype": pa.array(ct[rep], pa.int32()),
                              "n": pa.array(cn[rep].astype(np.int64), pa.int64()),
                              "mu": pa.array(mu[rep], pa.float64()),
                              "p": pa.array(p[rep], pa.float64())})
        con.register("_ch_sizes", sizes_tab)
        try:
            con.execute("""
                CREATE OR REPLACE TEMP TABLE _ch_rep AS
                SELECT (row_number() OVER (ORDER BY g.ttype, g.scope, g.v) - 1)::BIGINT AS gid,
                       g.ttype, g.scope, g.v, g.n, z.mu, z.p
                FROM _ch_g g JOIN _ch_sizes z ON g.ttype = z.ttype AND g.n = z.n""")
        finally:
            con.unregister("_ch_sizes")
        grp = con.execute("""
            SELECT gid, ttype, n, mu, p,
                   CASE ttype WHEN 0 THEN 'bio:' || left(md5(v), 8)
                              WHEN 1 THEN 'name:' || left(md5(v), 8)
                              ELSE 'handle:' || v END AS evidence
            FROM _ch_rep ORDER BY gid""").fetchnumpy()
        mem = con.execute("""
            SELECT r.gid, tr.a FROM _ch_tr tr JOIN _ch_rep r
              ON tr.ttype = r.ttype AND tr.scope = r.scope AND tr.v = r.v
            ORDER BY r.gid, tr.t NULLS LAST, tr.a""").fetchnumpy()
        sizes = np.asarray(grp["n"], dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        ttype = np.asarray(grp["ttype"], dtype=np.int64)
        groups = pa.table({
            "evidence": pa.array(list(grp["evidence"]), pa.string()),
            "trait": pa.array(np.array(_PERSONA_TYPES, dtype=object)[ttype].tolist(), pa.string()),
            "size": pa.array(sizes, pa.int64()),
            "mu": pa.array(np.asarray(grp["mu"], np.float64), pa.float64()),
            "p_value": pa.array(np.asarray(grp["p"], np.float64), pa.float64()),
            "band": pa.array(self._bands(sizes), pa.int64()),
        })
        return groups, np.asarray(mem["a"], dtype=np.int64), starts, sizes

    def _bands(self, sizes: np.ndarray) -> np.ndarray:
        sizes = np.asarray(sizes, dtype=np.int64)
        return np.where(sizes > self.max_clique, self.max_clique // 2, sizes - 1)

    # -- pairs and edges ----------------------------------------------------------------------
    def _edges(self, con: duckdb.DuckDBPyConnection, acc: pa.Table, t_acc: np.ndarray,
               timed: np.ndarray, groups: pa.Table, members: np.ndarray, starts: np.ndarray,
               sizes: np.ndarray, stats: dict[str, Any], lap: Any) -> pa.Table:
        n_acc = acc.num_rows
        n_g = groups.num_rows
        band = groups["band"].to_numpy() if n_g else np.zeros(0, np.int64)
        mu = groups["mu"].to_numpy() if n_g else np.zeros(0)
        gp = groups["p_value"].to_numpy() if n_g else np.zeros(0)
        # evidence order of the groups: p-value, then id
        rank = np.empty(n_g, dtype=np.int64)
        if n_g:
            order = pc.sort_indices(pa.table({"p": groups["p_value"], "e": groups["evidence"]}),
                                    sort_keys=[("p", "ascending"), ("e", "ascending")])
            rank[order.to_numpy()] = np.arange(n_g)
        capped = np.flatnonzero(sizes > self.max_clique)
        stats["groups"] = n_g
        stats["n_capped"] = len(capped)
        shown = capped[np.argsort(-sizes[capped], kind="stable")][:_MAX_REPORTED]
        stats["capped"] = [{"evidence": groups["evidence"][int(i)].as_py(),
                            "size": int(sizes[i]), "band": int(band[i])} for i in shown]
        biggest = np.argsort(-sizes, kind="stable")[:10]
        stats["largest"] = [{"evidence": groups["evidence"][int(i)].as_py(),
                             "trait": groups["trait"][int(i)].as_py(), "size": int(sizes[i]),
                             "mu": round(float(mu[i]), 6), "p_value": float(gp[i])}
                            for i in biggest]
        self._set_groups(groups, members, starts, sizes)
        left, right, g = _band_pairs(starts, sizes, band)
        la, lb = members[left], members[right]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        ok = lo != hi
        lo, hi, g = lo[ok], hi[ok], g[ok]
        stats["group_pairs"] = len(g)
        lap("pairs")
        if len(g) == 0:
            stats["pairs"] = 0
            return empty_edges()
        key = lo * n_acc + hi
        srt = np.lexsort((rank[g], key))
        key, g = key[srt], g[srt]
        newk = np.r_[True, key[1:] != key[:-1]]
        ks = np.flatnonzero(newk)
        m = len(ks)
        cnt = np.diff(np.r_[ks, len(key)])
        lo_e, hi_e = key[ks] // n_acc, key[ks] % n_acc
        exp = np.add.reduceat(mu[g], ks)
        extra = self.kind == "creation" and self.match == "shape"
        if self.kind == "creation":
            p = np.minimum(1.0, 2.0 * gp[g][ks])  # sorted by p: the first is the least
            weight = cnt + (1 if extra else 0)
            support = np.full(m, 2 if extra else 1, dtype=np.int64)
        else:
            # Fisher's method over a fixed set of independent components: each persona type
            # with a value shared in the workspace, and the creation gap (when known); a
            # component the pair does not show counts as p = 1
            lsum = np.add.reduceat(np.log(gp[g]), ks)
            n_comp = int(self._n_types)
            if timed.sum() >= 2:
                gap_p = _gap_share(t_acc, timed, acc, lo_e, hi_e)
                lsum = lsum + np.log(gap_p)
                n_comp += 1
            at_risk = n_acc * (n_acc - 1) / 2.0
            p_u = _fisher(lsum, np.full(m, max(1, n_comp)))
            # conditional on the pair sharing a value (the detector's output): divided by the
            # share of all pairs at risk that do, so Benjamini-Hochberg over the pairs output
            # is Benjamini-Hochberg over every pair at risk
            p = np.minimum(1.0, p_u * (at_risk / m))
            exp = np.exp(lsum) * at_risk
            stats.update(pairs_tested=m, pairs_at_risk=int(at_risk), components=n_comp)
            weight = cnt.copy()
            support = cnt.copy()
        p = np.clip(p, P_FLOOR, 1.0)
        if self.max_p is not None:
            # a pair above max_p can never pass a false-discovery cut at that level: it stays
            # counted in pairs_tested (so m is right) but is not built (generic bios shared
            # by thousands give millions of such pairs: 14.6M and 4.9 GB on a medium world)
            keep = p <= self.max_p
            if not keep.all():
                ks, cnt, lo_e, hi_e, exp, p, weight, support = (
                    x[keep] for x in (ks, cnt, lo_e, hi_e, exp, p, weight, support))
                m = len(ks)
        # times
        first, last, delta = self._times(con, acc, t_acc, timed, lo_e, hi_e)
        # evidence lists
        cap = int(self.max_evidence)
        n_grp_ev = np.minimum(cnt, cap)
        has_extra = (n_grp_ev < cap) if extra else np.zeros(m, dtype=bool)
        n_ev = n_grp_ev + has_extra
        pos = np.arange(int(n_grp_ev.sum()), dtype=np.int64) - \
            np.repeat(np.cumsum(n_grp_ev) - n_grp_ev, n_grp_ev)
        src = np.repeat(ks, n_grp_ev) + pos  # rows of the sorted pair list
        ev_ids = groups["evidence"]
        if extra:
            shape_ids = pc.binary_join_element_wise("shape:", groups["shape"], "")
            ev_pool = pa.concat_arrays([ev_ids.combine_chunks(), shape_ids.combine_chunks()])
        else:
            ev_pool = ev_ids.combine_chunks()
        # interleave: each pair's group ids, then its shape id
        total = int(n_ev.sum())
        take = np.empty(total, dtype=np.int64)
        off = np.cumsum(n_ev) - n_ev
        take[np.repeat(off, n_grp_ev) + pos] = g[src]
        if extra and has_extra.any():
            take[(off + n_grp_ev)[has_extra]] = n_g + g[ks][has_extra]
        evidence = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(n_ev)].astype(np.int32)),
                                            ev_pool.take(pa.array(take)))
        plats, ids = acc["platform"].combine_chunks(), acc["account_id"].combine_chunks()
        table = pa.table([
            plats.take(pa.array(lo_e)), ids.take(pa.array(lo_e)),
            plats.take(pa.array(hi_e)), ids.take(pa.array(hi_e)),
            pa.repeat(pa.scalar(self._signal_name()), m),
            pa.array(weight, pa.int64()), pa.array(support, pa.int64()),
            pa.array(first, pa.int64()).cast(_TS), pa.array(last, pa.int64()).cast(_TS),
            pa.array(delta, pa.float64()), evidence,
            pa.array(exp, pa.float64()), pa.array(p, pa.float64()),
        ], schema=EDGE_SCHEMA)
        stats["pairs"] = m
        lap("edges")
        return table

    def _times(self, con: duckdb.DuckDBPyConnection, acc: pa.Table, t_acc: np.ndarray,
               timed: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """first_seen, last_seen (microseconds) and the creation gap (seconds) of pairs."""
        t_first = t_acc.copy()
        t_last = t_acc.copy()
        need = unique(np.r_[lo[~timed[lo]], hi[~timed[hi]]])
        if len(need):
            want = pa.table({"platform": acc["platform"].take(pa.array(need)),
                             "account_id": acc["account_id"].take(pa.array(need)),
                             "i": pa.array(need, pa.int64())})
            con.register("_ch_need", want)
            try:
                got = con.execute("""
                    SELECT n.i AS i, epoch_us(min(e.ts)) AS t0, epoch_us(max(e.ts)) AS t1
                    FROM _ch_need n JOIN events e
                      ON e.platform = n.platform AND e.account_id = n.account_id
                    WHERE e.ts IS NOT NULL GROUP BY n.i""").fetchnumpy()
            finally:
                con.unregister("_ch_need")
            t_first[need] = 0
            t_last[need] = 0
            i = np.asarray(got["i"], dtype=np.int64)
            t_first[i] = np.asarray(got["t0"], dtype=np.int64)
            t_last[i] = np.asarray(got["t1"], dtype=np.int64)
        first = np.minimum(t_first[lo], t_first[hi])
        last = np.maximum(np.maximum(t_last[lo], t_last[hi]), first)
        both = timed[lo] & timed[hi]
        delta = np.where(both, np.abs(t_acc[lo] - t_acc[hi]) / _US, 0.0)
        return first, last, delta

    # -- evidence -----------------------------------------------------------------------------
    def _set_groups(self, groups: pa.Table, members: np.ndarray, starts: np.ndarray,
                    sizes: np.ndarray) -> None:
        """Keep what :meth:`evidence` needs: each reported member's groups and positions."""
        self.groups_ = groups
        n = int(sizes.sum()) if len(sizes) else 0
        g = np.repeat(np.arange(len(sizes)), sizes)
        pos = np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        acc_of = members[np.repeat(starts, sizes) + pos] if n else np.zeros(0, np.int64)
        order = np.argsort(acc_of, kind="stable")
        self._mem = (acc_of[order], g[order], pos[order])

    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        mem_acc, mem_g, mem_pos = self._mem
        uniq = unique(mem_acc)
        if len(uniq) == 0:
            return []
        plats = self._acc["platform"].take(pa.array(uniq)).to_pylist()
        ids = self._acc["account_id"].take(pa.array(uniq)).to_pylist()

        def resolve(ref: tuple[str | None, str]) -> list[int]:
            return [int(u) for u, p, i in zip(uniq, plats, ids, strict=True)
                    if i == ref[1] and (ref[0] is None or ref[0] == p)]

        groups = self.groups_
        ev = groups["evidence"].to_pylist()
        gp = groups["p_value"].to_pylist()
        band = groups["band"].to_pylist()
        shape = groups["shape"].to_pylist() if "shape" in groups.column_names else None
        out: list[str] = []
        for x in resolve(a):
            for y in resolve(b):
                if x == y:
                    continue
                gx = _member_groups(mem_acc, mem_g, mem_pos, x)
                gy = _member_groups(mem_acc, mem_g, mem_pos, y)
                shared = [gi for gi in gx if gi in gy and abs(gx[gi] - gy[gi]) <= band[gi]]
                shared.sort(key=lambda gi: (gp[gi], ev[gi]))
                out.extend(ev[gi] for gi in shared)
                if shared and shape is not None and self.match == "shape":
                    out.append(f"shape:{shape[shared[0]]}")
        return out


def _member_groups(mem_acc: np.ndarray, mem_g: np.ndarray, mem_pos: np.ndarray,
                   x: int) -> dict[int, int]:
    lo, hi = np.searchsorted(mem_acc, x, "left"), np.searchsorted(mem_acc, x, "right")
    return {int(g): int(p) for g, p in zip(mem_g[lo:hi], mem_pos[lo:hi], strict=True)}


def _empty_groups() -> pa.Table:
    return pa.table({"evidence": pa.array([], pa.string()), "trait": pa.array([], pa.string()),
                     "size": pa.array([], pa.int64()), "mu": pa.array([], pa.float64()),
                     "p_value": pa.array([], pa.float64()), "band": pa.array([], pa.int64())})
