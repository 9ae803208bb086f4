"""Operator linkage: which person accounts run a network's assets, with the evidence.

A detected network's accounts are its *assets* (fake accounts, pages, groups, channels). Its
*operators* are person accounts that run them. Platform telemetry (``sessions``) and page
administration (``roles``) link the two; post content is never read.

Evidence kinds (each link row is one operator, one asset, one kind)
------------------------------------------------------------------
``role``
    The account holds a role on a page, group or channel of the network. Weight by role:
    owner and admin 1.0, editor and moderator 0.8, anything else 0.3.
``device``
    The account logged in from a device (``device_id``) that assets of the network use.
``ip``
    The account logged in from an address that assets of the network use.
``slip``
    One of those sessions came within ``slip_window_s`` of an asset's session on the same
    device or address: someone operating a fake account, then logging into their own.
``alias``
    Another account of an operator: every device it ever used is one of the operator's, and
    one of them is used by no more than ``alias_max_users`` accounts (so a family tablet or an
    office computer does not count). The link names the operator account and the device.

Rarity weighting
----------------
Each device or address ``r`` touched by a network's assets gets the weight::

    ash(r)    = sessions of the network's assets on r / all sessions on r
    weight(r) = ash(r)                                          for a device
    weight(r) = ash(r) * min(1, assets on r / ip_min_assets)
                       * min(1, asset sessions on r / ip_min_sessions)   for an address

so a carrier-NAT address shared by thousands weighs next to nothing (its sessions are mostly
other people's); a residential proxy address, which is some family's home, weighs little (the
family's own sessions dominate, and one or two fakes passed through it a few times); a family
tablet a fake once borrowed weighs little; while a work phone or an office address that the
network's accounts fill weighs close to 1. A link is **strong** at ``weight >=
strong_weight``; weaker links down to ``weak_weight`` are kept as weak evidence.

Who counts as an operator
-------------------------
A candidate is a person account (``kind`` ``user`` or unknown) that holds a role on, or shares
a kept device or address with, the network's assets. Members are assets, except members that
look like persons: a ``user`` account at least ``max(min_person_age_days, person_age_ratio *
median age of the network's user accounts)`` old. Such a member is a possible operator
(``in_network``), reported only with a role or a strong device link (sharing an address with
the rest of a community is what colleagues do). A candidate outside the network is **not**
an operator but a *suspected undetected asset* (``suspected_assets``) when its account is no
older than the network's assets (at most ``asset_age_margin`` times the 90th percentile of
their ages; an operator is an established person, the fakes are made for the operation), or,
when its age is unknown and it holds no role, when at least ``asset_like_share`` of its
sessions are on the network's strong devices and addresses.

Confidence
----------
Evidence falls into three independent classes: ``role``, ``device`` (device links and slips
on a device) and ``ip`` (address links and slips on an address). ``high``: strong evidence
in at least two classes (device and role, device and address, role and address).
``medium``: strong evidence in one class. ``low``: weak evidence in at least two classes
whose noisy-or ``score = 1 - prod(1 - best weight of each class)`` reaches ``min_score``,
or an alias of an operator. Anything less is not reported.

Operator clusters connect operators that share an asset or a strong device or address,
across networks too. A candidate employer is read from the operator's profile (``bio``, and
the ``extra`` keys ``employer``, ``company``, ``organization``, ``organisation``, ``work``,
``works_at``): "linked to individuals associated with ...".

Without any session or role of the members, nothing is guessed: the result says
``"no telemetry: operator attribution not possible"``.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lockstep.exceptions import UsageError
from lockstep.sql import literal

if TYPE_CHECKING:
    import duckdb

    from lockstep.workspace import Workspace

__all__ = ["OperatorLinks", "link_operators", "CONF_RANK", "LINK_SCHEMA", "OPERATOR_SCHEMA", "NETWORK_SCHEMA",
           "SUSPECT_SCHEMA", "NO_TELEMETRY", "extract_employer", "ROLE_WEIGHTS"]

NO_TELEMETRY = "no telemetry: operator attribution not possible"
#: Weight of a role on one of the network's pages, groups or channels.
ROLE_WEIGHTS: dict[str, float] = {"owner": 1.0, "admin": 1.0, "editor": 0.8, "moderator": 0.8}
_OTHER_ROLE_WEIGHT = 0.3

_TS = pa.timestamp("us", tz="UTC")
LINK_SCHEMA = pa.schema([
    ("network_id", pa.string()), ("platform", pa.string()), ("account_id", pa.string()),
    ("asset_platform", pa.string()), ("asset_id", pa.string()), ("kind", pa.string()),
    ("detail", pa.string()), ("first_ts", _TS), ("last_ts", _TS), ("n_sessions", pa.int64()),
    ("weight", pa.float64()),
])
OPERATOR_SCHEMA = pa.schema([
    ("network_id", pa.string()), ("platform", pa.string()), ("account_id", pa.string()),
    ("confidence", pa.string()), ("evidence_kinds", pa.list_(pa.string())),
    ("n_assets", pa.int64()), ("score", pa.float64()), ("employer", pa.string()),
    ("cluster_id", pa.string()), ("in_network", pa.bool_()), ("handle", pa.string()),
    ("display_name", pa.string()), ("created_at", _TS), ("reasons", pa.string()),
])
NETWORK_SCHEMA = pa.schema([
    ("network_id", pa.string()), ("telemetry", pa.bool_()), ("n_sessions", pa.int64()),
    ("n_roles", pa.int64()), ("n_operators", pa.int64()), ("confidence", pa.string()),
    ("employers", pa.list_(pa.string())), ("clusters", pa.list_(pa.string())),
])
SUSPECT_SCHEMA = pa.schema([
    ("network_id", pa.string()), ("platform", pa.string()), ("account_id", pa.string()),
    ("share_on_network_infra", pa.float64()), ("created_at", _TS), ("n_assets", pa.int64()),
    ("reason", pa.string()),
])
#: Order of the confidence levels (higher is surer).
CONF_RANK = {"high": 3, "medium": 2, "low": 1}


@dataclass
class OperatorLinks:
    """What :func:`link_operators` found.

    Attributes
    ----------
    links : pyarrow.Table
        The evidence (:data:`LINK_SCHEMA`): one row per network, operator, asset, kind and
        detail (device id, address, role name, or for ``alias`` the device shared with the
        other account), with the operator's first and last session behind it and their count
        (roles: ``since`` and 0), and the weight of the link.
    operators : pyarrow.Table
        One row per network and operator (:data:`OPERATOR_SCHEMA`), strongest first.
    networks : pyarrow.Table
        Per network (:data:`NETWORK_SCHEMA`): whether it has telemetry, how many operators,
        the best confidence, candidate employers and operator clusters.
    suspected_assets : pyarrow.Table
        Accounts outside the network that share its infrastructure but look like more of its
        assets rather than operators (:data:`SUSPECT_SCHEMA`).
    telemetry : bool
        Whether any member had a session or a role at all.
    limitations : list[str]
        What could not be established, in plain words.
    stats : dict
        Counts and timings.
    """

    links: pa.Table
    operators: pa.Table
    networks: pa.Table
    suspected_assets: pa.Table
    telemetry: bool
    limitations: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# employer from a profile
#: Words that mark a capitalised phrase as an organisation's name.
_ORG_WORDS = frozenset((
    "ltd", "limited", "llc", "inc", "gmbh", "pvt", "plc", "corp", "co", "company", "agency",
    "group", "media", "solutions", "digital", "marketing", "communications", "consulting",
    "consultants", "services", "labs", "pr", "affairs", "outreach", "strategic", "reputation",
    "works", "technologies", "partners", "associates", "studio", "studios", "network",
    "holdings", "systems", "ventures", "advisory", "analytics", "foundation", "institute",
    "ministry", "department", "bureau", "office", "center", "centre", "international"))
_NAME = r"[A-Z0-9][\w&.'\-]*(?:\s+(?:[A-Z0-9][\w&.'\-]*|&|of|and|the|for|de|du))*"
_AT_RE = re.compile(r"(?:\bworks?\s+(?:at|for|with)|\bemployed\s+(?:at|by)|\bemployee\s+(?:at|of)|"
                    r"\bat|@|\bwith)\s+(" + _NAME + ")")
_EXTRA_KEYS = ("employer", "company", "organization", "organisation", "work", "works_at")


def _org_name(s: str) -> bool:
    """A capitalised phrase of at least two words, one of them an organisation word
    ("Lotus PR Pvt Ltd", "Cedar Communications")."""
    words = s.split()
    caps = [w for w in words if w[:1].isupper() or w[:1].isdigit()]
    return len(caps) >= 2 and any(re.sub(r"[^a-z]", "", w.lower()) in _ORG_WORDS for w in caps)


def extract_employer(bio: str | None, extra: str | None = None) -> str | None:
    """A candidate employer named in a profile, or None.

    Reads the ``extra`` JSON keys ``employer``, ``company``, ``organization``,
    ``organisation``, ``work`` or ``works_at`` first. In the bio, each part (split at ``|``,
    ``•``, ``/``, ``,`` and sentence ends) may name one as "Works at X", "... @ X", "... at X"
    or "with X" where X is a capitalised name of two or more words, or be an organisation's
    name by itself (two or more capitalised words, one of them an organisation word such as
    Ltd, Agency, Media, Communications, Solutions). "Chef at home" or "Marketing" are not
    employers.
    """
    if extra:
        try:
            obj = json.loads(extra)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for k in _EXTRA_KEYS:
                v = obj.get(k)
                if isinstance(v, str) and v.strip():
                    return v.strip()
    if not bio:
        return None
    text = " ".join(str(bio).split())
    for part in re.split(r"\s*(?:\||•|/|,|;|\. )\s*", text):
        part = part.strip(" .!")
        if not part:
            continue
        m = _AT_RE.search(part)
        if m:
            name = m.group(1).strip(" .")
            if len(name.split()) >= 2 or _org_name(name):
                return name
        if _org_name(part):
            return part
    return None


# --------------------------------------------------------------------------------------------
def _check_members(members: pa.Table) -> pa.Table:
    need = ("network_id", "platform", "account_id")
    if not isinstance(members, pa.Table):
        raise UsageError("members must be a pyarrow Table with network_id, platform, account_id")
    missing = [c for c in need if c not in members.column_names]
    if missing:
        raise UsageError(f"members lacks the column(s) {', '.join(missing)}")
    return pa.table({c: members[c].cast(pa.string()) for c in need})


def link_operators(
    ws: Workspace,
    members: pa.Table,
    *,
    slip_window_s: float = 7200.0,
    strong_weight: float = 0.6,
    weak_weight: float = 0.2,
    ip_min_assets: int = 3,
    ip_min_sessions: int = 10,
    min_score: float = 0.5,
    asset_like_share: float = 0.5,
    min_person_age_days: float = 3 * 365.0,
    person_age_ratio: float = 2.0,
    asset_age_margin: float = 1.25,
    alias_max_users: int = 2,
    max_link_rows_per_operator: int = 1000,
    con: duckdb.DuckDBPyConnection | None = None,
) -> OperatorLinks:
    """Link each network's assets to the person accounts that operate them.

    Parameters
    ----------
    ws : Workspace
        The workspace (its ``sessions``, ``roles`` and ``accounts``).
    members : pyarrow.Table
        ``network_id, platform, account_id``: the accounts of each network (its suspected
        assets).
    slip_window_s : float
        A session on an asset's device or address this close in time to an asset's session
        there is a slip.
    strong_weight, weak_weight : float
        Link weights for strong evidence and for weak evidence kept at all.
    ip_min_assets : int
        An address counts fully once this many of the network's assets use it.
    min_score : float
        Noisy-or score that weak-only evidence must reach.
    ip_min_sessions : int
        An address counts fully once the network's assets logged in from it this many times.
    asset_like_share : float
        A candidate of unknown age without a role with at least this share of its sessions on
        the network's strong devices and addresses is a suspected undetected asset.
    min_person_age_days, person_age_ratio : float
        A member counts as a person (a possible in-network operator) when its account is at
        least ``max(min_person_age_days, person_age_ratio * median asset age)`` old.
    asset_age_margin : float
        A candidate no older than this times the 90th percentile of the network's user
        accounts' ages is a suspected undetected asset, not an operator.
    alias_max_users : int
        Most accounts on the device that ties an alias to an operator.
    max_link_rows_per_operator : int
        Cap on evidence rows per operator and network (strongest first).
    con : duckdb.DuckDBPyConnection, optional
        A connection from ``ws.connect()`` to reuse.

    Returns
    -------
    OperatorLinks
    """
    t0 = time.perf_counter()
    members = _check_members(members)
    own = con is None
    con = ws.connect() if con is None else con
    try:
        return _run(con, members, dict(
            slip_window_s=float(slip_window_s), strong=float(strong_weight),
            weak=float(weak_weight), ip_min_assets=max(1, int(ip_min_assets)),
            ip_min_sessions=max(1, int(ip_min_sessions)), min_score=float(min_score),
            asset_like_share=float(asset_like_share),
            min_age_s=float(min_person_age_days) * 86400, age_ratio=float(person_age_ratio),
            age_margin=float(asset_age_margin), alias_max_users=max(1, int(alias_max_users)),
            max_rows=max(1, int(max_link_rows_per_operator))), t0)
    finally:
        for t in _TEMPS:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.unregister("_lo_members_in")
        if own:
            con.close()


_TEMPS = ("_lo_m", "_lo_acc", "_lo_assets", "_lo_as", "_lo_rn", "_lo_rs", "_lo_rw", "_lo_cs",
          "_lo_cr", "_lo_rl", "_lo_cand", "_lo_ops", "_lo_alias", "_lo_users", "_lo_kinds")


def _run(con: duckdb.DuckDBPyConnection, members: pa.Table, p: dict[str, Any], t0: float
         ) -> OperatorLinks:
    q = con.execute
    con.register("_lo_members_in", members)
    q("""CREATE OR REPLACE TEMP TABLE _lo_m AS SELECT DISTINCT network_id, platform, account_id
         FROM _lo_members_in WHERE network_id IS NOT NULL AND platform IS NOT NULL
         AND account_id IS NOT NULL""")
    # members' metadata; a member is an asset unless it looks like a person (old account)
    q("""CREATE OR REPLACE TEMP TABLE _lo_acc AS
         SELECT m.network_id, m.platform, m.account_id, a.kind, a.created_at
         FROM _lo_m m LEFT JOIN (SELECT platform, account_id, any_value(kind) kind,
           min(created_at) created_at FROM accounts GROUP BY ALL) a USING (platform, account_id)""")
    # ages are taken at the end of the data (last session, else last event), not today
    ref = q("SELECT coalesce((SELECT max(ts) FROM sessions), (SELECT max(ts) FROM events))"
            ).fetchone()[0]
    ref_sql = "now()" if ref is None else f"TIMESTAMPTZ {literal(ref.isoformat())}"
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_assets AS
         WITH age AS (SELECT *, epoch({ref_sql}) - epoch(created_at) AS age_s FROM _lo_acc),
         med AS (SELECT network_id, median(age_s) med_s, quantile_cont(age_s, 0.9) p90_s
                 FROM age WHERE age_s IS NOT NULL AND coalesce(kind, 'user') = 'user'
                 GROUP BY ALL)
         SELECT age.network_id, platform, account_id, kind, created_at, age_s,
           coalesce(kind, 'user') = 'user' AND age_s IS NOT NULL
             AND age_s >= greatest({p['min_age_s']}, {p['age_ratio']} * med.med_s) AS person,
           med.p90_s
         FROM age LEFT JOIN med USING (network_id)""")
    n_person_members = q("SELECT count(*) FROM _lo_assets WHERE person").fetchone()[0]

    # asset sessions, long format (one row per session and resource)
    q("""CREATE OR REPLACE TEMP TABLE _lo_as AS
         WITH a AS (SELECT network_id, platform, account_id FROM _lo_assets WHERE NOT person),
         s AS (SELECT s.platform, s.account_id, s.ts, s.ip, s.device_id, a.network_id
               FROM sessions s JOIN a USING (platform, account_id))
         SELECT network_id, platform, account_id, ts, 'device' AS rtype, device_id AS rval FROM s
           WHERE device_id IS NOT NULL AND device_id <> ''
         UNION ALL
         SELECT network_id, platform, account_id, ts, 'ip', ip FROM s
           WHERE ip IS NOT NULL AND ip <> ''""")
    # sessions and roles per network, each counted once; the totals are their sums
    n_sess = dict(q("SELECT network_id, count(*) FROM _lo_as GROUP BY network_id").fetchall())
    net_roles: dict[str, int] = dict(q("""SELECT m.network_id, count(*) FROM roles r
        JOIN _lo_m m ON r.platform = m.platform
        AND (r.asset_id = m.account_id OR r.account_id = m.account_id)
        GROUP BY m.network_id""").fetchall())
    per_net = [(n, n_sess.get(n, 0))
               for (n,) in q("SELECT DISTINCT network_id FROM _lo_m").fetchall()]
    n_asset_sessions = sum(n_sess.values())
    n_roles = sum(net_roles.values())
    telemetry = bool(n_asset_sessions or n_roles)
    limitations: list[str] = []
    if not telemetry:
        limitations.append(NO_TELEMETRY)
        nets = pa.table({
            "network_id": pa.array([r[0] for r in per_net], pa.string()),
            "telemetry": pa.array([False] * len(per_net)),
            "n_sessions": pa.array([0] * len(per_net), pa.int64()),
            "n_roles": pa.array([0] * len(per_net), pa.int64()),
            "n_operators": pa.array([0] * len(per_net), pa.int64()),
            "confidence": pa.array([None] * len(per_net), pa.string()),
            "employers": pa.array([[]] * len(per_net), pa.list_(pa.string())),
            "clusters": pa.array([[]] * len(per_net), pa.list_(pa.string())),
        }, schema=NETWORK_SCHEMA)
        return OperatorLinks(LINK_SCHEMA.empty_table(), OPERATOR_SCHEMA.empty_table(), nets,
                             SUSPECT_SCHEMA.empty_table(), False, limitations,
                             {"seconds": round(time.perf_counter() - t0, 3),
                              "members": members.num_rows})

    # per network and resource: how much of the resource is the network's
    q("""CREATE OR REPLACE TEMP TABLE _lo_rn AS
         SELECT network_id, rtype, rval, count(DISTINCT (platform, account_id)) AS n_assets,
                count(*) AS a_sess
         FROM _lo_as GROUP BY ALL""")
    q("""CREATE OR REPLACE TEMP TABLE _lo_rs AS
         WITH d AS (SELECT DISTINCT rval FROM _lo_rn WHERE rtype = 'device'),
              i AS (SELECT DISTINCT rval FROM _lo_rn WHERE rtype = 'ip')
         SELECT s.platform, s.account_id, s.ts, 'device' AS rtype, s.device_id AS rval
           FROM sessions s SEMI JOIN d ON s.device_id = d.rval
         UNION ALL
         SELECT s.platform, s.account_id, s.ts, 'ip', s.ip FROM sessions s
           SEMI JOIN i ON s.ip = i.rval""")
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_rw AS
         WITH ra AS (SELECT rtype, rval, count(DISTINCT (platform, account_id)) AS n_users,
                            count(*) AS t_sess FROM _lo_rs GROUP BY ALL),
         w AS (SELECT rn.*, ra.n_users, ra.t_sess, rn.a_sess / ra.t_sess AS ash FROM _lo_rn rn
               JOIN ra USING (rtype, rval))
         SELECT *, CASE WHEN rtype = 'device' THEN ash
                   ELSE ash * least(1.0, n_assets / {p['ip_min_assets']})
                            * least(1.0, a_sess / {p['ip_min_sessions']}) END AS weight
         FROM w WHERE n_users > n_assets""")
    # candidate sessions: others on a kept resource of the network
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_cs AS
         SELECT r.network_id, r.rtype, r.rval, r.weight, r.n_assets, r.n_users, s.platform,
                s.account_id, s.ts
         FROM (SELECT * FROM _lo_rw WHERE weight >= {p['weak']}) r JOIN _lo_rs s USING (rtype, rval)
         ANTI JOIN (SELECT network_id, platform, account_id FROM _lo_assets WHERE NOT person) a
           ON a.network_id = r.network_id AND a.platform = s.platform
           AND a.account_id = s.account_id""")
    # slips: the nearest asset session on the same resource before and after
    win = p["slip_window_s"]
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_cr AS
         WITH c AS (SELECT row_number() OVER () AS cid, * FROM _lo_cs),
         a AS (SELECT network_id, rtype, rval, ts, platform AS a_platform, account_id AS a_id
               FROM _lo_as SEMI JOIN (SELECT DISTINCT network_id, rtype, rval FROM _lo_cs) k
               USING (network_id, rtype, rval)),
         b AS (SELECT c.cid, a.ts AS bts, a.a_platform AS b_p, a.a_id AS b_id FROM c ASOF JOIN a
               ON c.network_id = a.network_id AND c.rtype = a.rtype AND c.rval = a.rval
               AND c.ts >= a.ts),
         f AS (SELECT c.cid, a.ts AS fts, a.a_platform AS f_p, a.a_id AS f_id FROM c ASOF JOIN a
               ON c.network_id = a.network_id AND c.rtype = a.rtype AND c.rval = a.rval
               AND c.ts <= a.ts),
         j AS (SELECT c.*, b.bts, b.b_p, b.b_id, f.fts, f.f_p, f.f_id FROM c
               LEFT JOIN b USING (cid) LEFT JOIN f USING (cid))
         SELECT *,
           CASE WHEN bts IS NOT NULL AND epoch(ts) - epoch(bts) <= {win}
                 AND (fts IS NULL OR epoch(ts) - epoch(bts) <= epoch(fts) - epoch(ts)) THEN b_p
                WHEN fts IS NOT NULL AND epoch(fts) - epoch(ts) <= {win} THEN f_p END AS slip_p,
           CASE WHEN bts IS NOT NULL AND epoch(ts) - epoch(bts) <= {win}
                 AND (fts IS NULL OR epoch(ts) - epoch(bts) <= epoch(fts) - epoch(ts)) THEN b_id
                WHEN fts IS NOT NULL AND epoch(fts) - epoch(ts) <= {win} THEN f_id END AS slip_id
         FROM j""")

    # roles on the network's assets (and roles the network's persons hold)
    q("""CREATE OR REPLACE TEMP TABLE _lo_rl AS
         SELECT a.network_id, r.platform, r.account_id, a.platform AS asset_platform,
                a.account_id AS asset_id, coalesce(r.role, 'admin') AS role, r.since
         FROM roles r JOIN (SELECT * FROM _lo_assets WHERE NOT person) a
           ON r.platform = a.platform AND r.asset_id = a.account_id
         ANTI JOIN (SELECT network_id, platform, account_id FROM _lo_assets WHERE NOT person) x
           ON x.network_id = a.network_id AND x.platform = r.platform
           AND x.account_id = r.account_id""")
    role_w = _role_case()
    strong, weak = p["strong"], p["weak"]

    # candidates: per network and account, the best weight of each class
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_cand AS
         WITH sess AS (
           SELECT network_id, platform, account_id,
             max(weight) FILTER (WHERE rtype = 'device') AS w_dev,
             max(weight) FILTER (WHERE rtype = 'ip') AS w_ip,
             max(weight) FILTER (WHERE slip_id IS NOT NULL) AS w_slip,
             count(DISTINCT ts) FILTER (WHERE weight >= {strong}) AS n_strong_sess
           FROM _lo_cr GROUP BY ALL),
         rl AS (SELECT network_id, platform, account_id, max({role_w}) AS w_role
                FROM _lo_rl GROUP BY ALL),
         u AS (SELECT network_id, platform, account_id FROM sess UNION
               SELECT network_id, platform, account_id FROM rl),
         tot AS (SELECT s.platform, s.account_id, count(*) AS n_total FROM sessions s
                 SEMI JOIN (SELECT DISTINCT platform, account_id FROM u) k
                 USING (platform, account_id)
                 GROUP BY ALL),
         acc AS (SELECT platform, account_id, any_value(kind) kind, min(created_at) created_at
                 FROM accounts SEMI JOIN (SELECT DISTINCT platform, account_id FROM u) k
                 USING (platform, account_id) GROUP BY ALL),
         nets AS (SELECT network_id, any_value(p90_s) p90_s FROM _lo_assets GROUP BY ALL)
         SELECT u.*, coalesce(sess.w_dev, 0) w_dev, coalesce(sess.w_ip, 0) w_ip,
           coalesce(sess.w_slip, 0) w_slip, coalesce(rl.w_role, 0) w_role,
           coalesce(sess.n_strong_sess, 0) n_strong_sess, coalesce(tot.n_total, 0) n_total,
           acc.kind, acc.created_at, epoch({ref_sql}) - epoch(acc.created_at) AS age_s,
           nets.p90_s, (pm.account_id IS NOT NULL) AS in_network
         FROM u LEFT JOIN sess USING (network_id, platform, account_id)
           LEFT JOIN rl USING (network_id, platform, account_id)
           LEFT JOIN tot USING (platform, account_id) LEFT JOIN acc USING (platform, account_id)
           LEFT JOIN nets USING (network_id)
           LEFT JOIN (SELECT * FROM _lo_assets WHERE person) pm
             USING (network_id, platform, account_id)""")
    # decide
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_ops AS
         WITH c AS (
           SELECT *,
             n_strong_sess / greatest(n_total, 1) AS infra_share,
             (w_dev >= {strong})::INT + (w_ip >= {strong})::INT + (w_role >= {strong})::INT
               AS n_strong,
             (w_dev >= {weak})::INT + (w_ip >= {weak})::INT + (w_role >= {weak})::INT AS n_weak,
             1 - (1 - w_dev) * (1 - w_ip) * (1 - w_role) AS score
           FROM _lo_cand WHERE coalesce(kind, 'user') = 'user')
         SELECT *,
           CASE WHEN in_network THEN NULL
                WHEN age_s IS NOT NULL AND p90_s IS NOT NULL
                     AND age_s <= {p['age_margin']} * p90_s
                  THEN 'account no older than the network''s assets'
                WHEN age_s IS NULL AND w_role < {strong}
                     AND infra_share >= {p['asset_like_share']}
                  THEN 'most of its sessions are on the network''s devices and addresses'
           END AS asset_like,
           CASE WHEN in_network AND w_role < {strong} AND w_dev < {strong} THEN NULL
                WHEN n_strong >= 2 THEN 'high' WHEN n_strong = 1 THEN 'medium'
                WHEN n_weak >= 2 AND score >= {p['min_score']} THEN 'low' END AS confidence
         FROM c""")
    cand_rows = q("SELECT count(*) FROM _lo_ops").fetchone()[0]

    # aliases: other accounts of a found operator (all their devices are the operator's)
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_alias AS
         WITH op AS (SELECT DISTINCT network_id, platform, account_id FROM _lo_ops
                     WHERE asset_like IS NULL AND confidence IS NOT NULL),
         od AS (SELECT DISTINCT op.network_id, op.platform, op.account_id, s.device_id
                FROM sessions s JOIN op USING (platform, account_id)
                WHERE s.device_id IS NOT NULL AND s.device_id <> ''),
         dev AS (SELECT DISTINCT device_id FROM od),
         ds AS (SELECT s.platform, s.account_id, s.device_id FROM sessions s
                SEMI JOIN dev USING (device_id)),
         du AS (SELECT device_id, count(DISTINCT (platform, account_id)) n_users FROM ds
                GROUP BY ALL),
         pair AS (SELECT DISTINCT od.network_id, od.platform AS o_platform, od.account_id AS o_id,
                    ds.platform, ds.account_id, od.device_id
                  FROM od JOIN ds USING (device_id) JOIN du USING (device_id)
                  WHERE du.n_users <= {p['alias_max_users']}
                    AND (ds.platform, ds.account_id) <> (od.platform, od.account_id)),
         ps AS (SELECT s.platform, s.account_id, s.device_id FROM sessions s
                SEMI JOIN (SELECT DISTINCT platform, account_id FROM pair) k
                USING (platform, account_id)),
         alld AS (SELECT platform, account_id, count(DISTINCT device_id) n_dev
                  FROM ps GROUP BY ALL),
         shared AS (SELECT p.network_id, p.o_platform, p.o_id, p.platform, p.account_id,
                      count(DISTINCT od.device_id) n_shared, min(p.device_id) AS via
                    FROM pair p JOIN ps x USING (platform, account_id)
                    JOIN od ON od.network_id = p.network_id AND od.platform = p.o_platform
                      AND od.account_id = p.o_id AND od.device_id = x.device_id
                    GROUP BY ALL)
         SELECT sh.network_id, sh.platform, sh.account_id, sh.o_platform, sh.o_id, sh.via
         FROM shared sh JOIN alld USING (platform, account_id)
         LEFT JOIN (SELECT platform, account_id, any_value(kind) kind FROM accounts GROUP BY ALL) a
           USING (platform, account_id)
         ANTI JOIN (SELECT network_id, platform, account_id FROM _lo_assets WHERE NOT person) x
           USING (network_id, platform, account_id)
         ANTI JOIN (SELECT network_id, platform, account_id FROM _lo_ops
                    WHERE confidence IS NOT NULL AND asset_like IS NULL) y
           USING (network_id, platform, account_id)
         WHERE sh.n_shared = alld.n_dev AND coalesce(a.kind, 'user') = 'user'""")
    return _assemble(con, p, limitations, telemetry, per_net, net_roles, n_asset_sessions,
                     n_roles, n_person_members, cand_rows, t0)


def _assemble(con: duckdb.DuckDBPyConnection, p: dict[str, Any], limitations: list[str],
              telemetry: bool, per_net: list[tuple[str, int]], net_roles: dict[str, int],
              n_asset_sessions: int, n_roles: int, n_person_members: int, cand_rows: int,
              t0: float) -> OperatorLinks:
    q = con.execute
    strong = p["strong"]
    # which assets use each device or address of a network (the evidence kinds and the links)
    q("""CREATE OR REPLACE TEMP TABLE _lo_users AS
         SELECT DISTINCT network_id, rtype, rval, platform AS asset_platform,
                account_id AS asset_id FROM _lo_as""")
    q(f"""CREATE OR REPLACE TEMP TABLE _lo_kinds AS
         SELECT network_id, platform, account_id,
           list_sort(list_distinct(list(kind))) evidence_kinds,
           count(DISTINCT (asset_platform, asset_id)) n_assets
         FROM ({_kinds_sql(strong)}) GROUP BY ALL""")
    # evidence rows of the chosen operators
    links = con.sql(f"""
        WITH op AS (SELECT network_id, platform, account_id FROM _lo_ops
                    WHERE asset_like IS NULL AND confidence IS NOT NULL),
        cr AS (SELECT c.* FROM _lo_cr c SEMI JOIN op USING (network_id, platform, account_id)),
        res AS (SELECT network_id, platform, account_id, rtype, rval, any_value(weight) weight,
                  min(ts) first_ts, max(ts) last_ts, count(*) n FROM cr GROUP BY ALL),
        users AS (SELECT * FROM _lo_users
                  SEMI JOIN (SELECT DISTINCT network_id, rtype, rval FROM res) k
                  USING (network_id, rtype, rval)),
        shared AS (SELECT r.network_id, r.platform, r.account_id, u.asset_platform, u.asset_id,
                     r.rtype AS kind, r.rval AS detail, r.first_ts, r.last_ts, r.n AS n_sessions,
                     r.weight FROM res r JOIN users u USING (network_id, rtype, rval)),
        slips AS (SELECT network_id, platform, account_id, slip_p AS asset_platform,
                    slip_id AS asset_id, 'slip' AS kind, rval AS detail, min(ts) first_ts,
                    max(ts) last_ts, count(*) n_sessions, any_value(weight) weight
                  FROM cr WHERE slip_id IS NOT NULL GROUP BY ALL),
        roles AS (SELECT r.network_id, r.platform, r.account_id, r.asset_platform, r.asset_id,
                    'role' AS kind, r.role AS detail, r.since AS first_ts, r.since AS last_ts,
                    0 AS n_sessions, {_role_case()} AS weight
                  FROM _lo_rl r SEMI JOIN op USING (network_id, platform, account_id)),
        al AS (SELECT network_id, platform, account_id, o_platform AS asset_platform,
                 o_id AS asset_id, 'alias' AS kind, via AS detail, NULL::TIMESTAMPTZ first_ts,
                 NULL::TIMESTAMPTZ last_ts, 0 AS n_sessions, 1.0 AS weight FROM _lo_alias),
        u AS (SELECT * FROM shared UNION ALL SELECT * FROM slips UNION ALL SELECT * FROM roles
              UNION ALL SELECT * FROM al),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY network_id, platform, account_id
                     ORDER BY weight DESC, kind = 'slip' DESC, first_ts, asset_id, detail) rk
                   FROM u)
        SELECT network_id, platform, account_id, asset_platform, asset_id, kind, detail,
               first_ts, last_ts, n_sessions::BIGINT n_sessions, weight::DOUBLE weight
        FROM ranked WHERE rk <= {p['max_rows']}
        ORDER BY network_id, platform, account_id, weight DESC, kind, asset_platform, asset_id,
                 detail
        """).to_arrow_table()
    links = links.cast(LINK_SCHEMA)

    ops = q("""
        WITH o AS (SELECT * FROM _lo_ops WHERE asset_like IS NULL AND confidence IS NOT NULL),
        kinds AS (SELECT * FROM _lo_kinds),
        al AS (SELECT DISTINCT network_id, platform, account_id, o_platform, o_id FROM _lo_alias)
        SELECT o.network_id, o.platform, o.account_id, o.confidence, k.evidence_kinds,
          coalesce(k.n_assets, 0) n_assets, o.score, o.in_network, o.w_dev, o.w_ip, o.w_role,
          o.w_slip, NULL AS o_platform, NULL AS o_id
        FROM o LEFT JOIN kinds k USING (network_id, platform, account_id)
        UNION ALL
        SELECT a.network_id, a.platform, a.account_id, 'low', ['alias'], 0, 0.0,
          false, 0.0, 0.0, 0.0, 0.0, a.o_platform, a.o_id
        FROM al a
        """).fetchall()
    names = ["network_id", "platform", "account_id", "confidence", "evidence_kinds", "n_assets",
             "score", "in_network", "w_dev", "w_ip", "w_role", "w_slip", "o_platform", "o_id"]
    rows = [dict(zip(names, r)) for r in ops]
    # aliases: one row per alias account and network (the strongest operator it is tied to)
    seen: set[tuple[str, str, str]] = set()
    dedup = []
    for r in rows:
        k = (r["network_id"], r["platform"], r["account_id"])
        if k in seen:
            continue
        seen.add(k)
        dedup.append(r)
    rows = dedup
    prof = {}
    if rows:
        keys = pa.table({"platform": [r["platform"] for r in rows],
                         "account_id": [r["account_id"] for r in rows]})
        con.register("_lo_keys", keys)
        try:
            for pl, aid, handle, dname, bio, extra, created in q(
                    """SELECT a.platform, a.account_id, any_value(handle), any_value(display_name),
                         any_value(bio), any_value(extra), min(created_at) FROM accounts a
                       SEMI JOIN _lo_keys k USING (platform, account_id)
                      GROUP BY ALL""").fetchall():
                prof[(pl, aid)] = (handle, dname, bio, extra, created)
        finally:
            con.unregister("_lo_keys")
    clusters = _clusters(rows, links, strong)
    out_rows = []
    for r in rows:
        handle, dname, bio, extra, created = prof.get((r["platform"], r["account_id"]),
                                                      (None, None, None, None, None))
        out_rows.append({
            "network_id": r["network_id"], "platform": r["platform"], "account_id": r["account_id"],
            "confidence": r["confidence"], "evidence_kinds": list(r["evidence_kinds"] or []),
            "n_assets": int(r["n_assets"] or 0), "score": float(r["score"] or 0.0),
            "employer": extract_employer(bio, extra),
            "cluster_id": clusters.get((r["platform"], r["account_id"])),
            "in_network": bool(r["in_network"]), "handle": handle, "display_name": dname,
            "created_at": created, "reasons": _reasons(r, strong),
        })
    out_rows.sort(key=lambda r: (r["network_id"], -CONF_RANK[r["confidence"]], -r["score"],
                                 -r["n_assets"], r["platform"], r["account_id"]))
    operators = pa.Table.from_pylist(out_rows, schema=OPERATOR_SCHEMA)

    suspects = con.sql("""SELECT o.network_id, o.platform, o.account_id,
                      o.infra_share AS share_on_network_infra, o.created_at,
                      coalesce(k.n_assets, 0) AS n_assets, o.asset_like AS reason
                    FROM _lo_ops o LEFT JOIN _lo_kinds k USING (network_id, platform, account_id)
                    WHERE o.asset_like IS NOT NULL AND o.n_strong >= 1
                    ORDER BY o.network_id, o.platform, o.account_id""").to_arrow_table()
    suspects = suspects.cast(SUSPECT_SCHEMA)

    nets = _network_summary(per_net, net_roles, out_rows)
    if telemetry and not any(r["telemetry"] for r in nets.to_pylist()):
        limitations.append(NO_TELEMETRY)
    no_tel = [r["network_id"] for r in nets.to_pylist() if not r["telemetry"]]
    if no_tel and len(no_tel) < nets.num_rows:
        more = ", ..." if len(no_tel) > 5 else ""
        limitations.append(f"no telemetry for {len(no_tel)} network(s) ({', '.join(no_tel[:5])}"
                           f"{more}): operators not attributable there")
    if n_person_members:
        limitations.append(
            f"{n_person_members} member(s) look like persons (old accounts) rather than assets; "
            "they are treated as possible operators (in_network) and their infrastructure is not "
            "counted as the network's")
    stats = {"seconds": round(time.perf_counter() - t0, 3), "asset_sessions": n_asset_sessions,
             "roles": n_roles, "candidates": cand_rows, "operators": operators.num_rows,
             "links": links.num_rows, "suspected_assets": suspects.num_rows,
             "person_members": n_person_members}
    return OperatorLinks(links, operators, nets, suspects, telemetry, limitations, stats)


def _role_case() -> str:
    role_case = " ".join(f"WHEN lower(role) = '{k}' THEN {v}" for k, v in ROLE_WEIGHTS.items())
    return f"CASE {role_case} ELSE {_OTHER_ROLE_WEIGHT} END"


def _kinds_sql(strong: float) -> str:
    """Evidence kinds of each candidate, counting only links at or above the strong weight
    (weak-only operators list their weak kinds)."""
    return f"""
        SELECT c.network_id, c.platform, c.account_id, c.rtype AS kind, a.asset_platform,
               a.asset_id
          FROM (SELECT DISTINCT network_id, platform, account_id, rtype, rval FROM _lo_cr
                WHERE weight >= {strong}) c
          JOIN _lo_users a USING (network_id, rtype, rval)
        UNION ALL
        SELECT network_id, platform, account_id, 'slip', slip_p, slip_id FROM _lo_cr
          WHERE slip_id IS NOT NULL AND weight >= {strong}
        UNION ALL
        SELECT network_id, platform, account_id, 'role', asset_platform, asset_id FROM _lo_rl
        UNION ALL
        SELECT c.network_id, c.platform, c.account_id, c.rtype, a.asset_platform, a.asset_id
          FROM (SELECT DISTINCT network_id, platform, account_id, rtype, rval FROM _lo_cr
                WHERE weight < {strong}) c
          JOIN _lo_users a USING (network_id, rtype, rval)
          SEMI JOIN (SELECT network_id, platform, account_id FROM _lo_ops WHERE n_strong = 0)
          USING (network_id, platform, account_id)"""


def _reasons(r: dict[str, Any], strong: float) -> str:
    if r.get("o_id"):
        return (f"uses only devices of operator {r['o_platform']}:{r['o_id']} "
                "(another account of that person)")
    parts = []
    if r["w_role"] >= strong:
        parts.append("holds a role on the network's pages/groups")
    if r["w_slip"] >= strong:
        parts.append("logged in from the assets' device or address right after an asset did (slip)")
    if r["w_dev"] >= strong:
        parts.append(f"uses a device the assets use (weight {r['w_dev']:.2f})")
    if r["w_ip"] >= strong:
        parts.append(f"uses an address the assets use (weight {r['w_ip']:.2f})")
    if not parts:
        parts.append("only weak shared infrastructure")
    return "; ".join(parts)


def _clusters(rows: list[dict[str, Any]], links: pa.Table, strong: float
              ) -> dict[tuple[str, str], str]:
    """Connected components of operators joined by a shared asset or strong device/address."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not rows:
        return {}
    ops = sorted({(r["platform"], r["account_id"]) for r in rows})
    idx = {k: i for i, k in enumerate(ops)}
    other: dict[tuple[str, str], int] = {}
    a, b = [], []
    lk = links.to_pydict()
    for i in range(links.num_rows):
        o = idx.get((lk["platform"][i], lk["account_id"][i]))
        if o is None:
            continue
        if lk["kind"][i] == "alias":
            t = idx.get((lk["asset_platform"][i], lk["asset_id"][i]))
            if t is not None:
                a.append(o)
                b.append(t)
            continue
        keys = [("a", lk["asset_platform"][i], lk["asset_id"][i])]
        if lk["kind"][i] in ("device", "ip") and lk["weight"][i] >= strong:
            keys.append(("r", lk["kind"][i], lk["detail"][i]))
        for k in keys:
            n = other.setdefault(k, len(ops) + len(other))
            a.append(o)
            b.append(n)
    n = len(ops) + len(other)
    g = coo_matrix((np.ones(len(a)), (np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))),
                   shape=(n, n))
    _, lab = connected_components(g, directed=False)
    op_lab = lab[: len(ops)]
    # number clusters by their smallest operator, stable across runs
    first: dict[int, int] = {}
    for i, c in enumerate(op_lab):
        first.setdefault(int(c), i)
    order = sorted(first, key=lambda c: first[c])
    name = {c: f"opc-{j + 1:03d}" for j, c in enumerate(order)}
    return {k: name[int(op_lab[i])] for k, i in idx.items()}


def _network_summary(per_net: list[tuple[str, int]], roles: dict[str, int],
                     ops: list[dict[str, Any]]) -> pa.Table:
    """Per network: telemetry, sessions (``per_net``), roles (``roles``, by network) and the
    operators found."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in ops:
        by.setdefault(r["network_id"], []).append(r)
    out = []
    for net, n_s in sorted(per_net):
        rs = by.get(net, [])
        best = max((r["confidence"] for r in rs), key=lambda c: CONF_RANK[c], default=None)
        emp: dict[str, int] = {}
        for r in rs:
            if r["employer"]:
                emp[r["employer"]] = emp.get(r["employer"], 0) + 1
        out.append({"network_id": net, "telemetry": bool(n_s or roles.get(net, 0)),
                    "n_sessions": int(n_s), "n_roles": int(roles.get(net, 0)),
                    "n_operators": len(rs), "confidence": best,
                    "employers": sorted(emp, key=lambda e: (-emp[e], e)),
                    "clusters": sorted({r["cluster_id"] for r in rs if r["cluster_id"]})})
    return pa.Table.from_pylist(out, schema=NETWORK_SCHEMA)
