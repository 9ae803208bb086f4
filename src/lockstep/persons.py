"""Persons: accounts that are one person, resolved before any coordination is counted.

One person often holds an account on each of several platforms (Facebook and Instagram linked
in one account centre, an X account too) on their own phone and laptop. Counted as two
accounts, such a person looks like coordination: the two accounts share devices and an
address, often a bio, and act on the same things. Lockstep therefore resolves persons first
and counts coordination, shared infrastructure and operator links *between persons*, never
between a person's own accounts (``../shared/reference/confounders.md``).

The rule (:func:`resolve_persons`)
----------------------------------
Two accounts are one person when all of these hold:

1. they are on **different platforms**;
2. some **device was used by them and by no other account** (a family tablet used by three
   people, or a phone of an operation's cast, is used by others too);
3. their **names or handles are alike** (:func:`names_alike`: the same display name, the same
   handle letters, or one's display name spelled as the other's handle);
4. both were **long-lived**: created at least :data:`MIN_AGE_DAYS` days before the
   workspace's first event (a persona made for an operation is young).

A person is a connected group of such pairs holding **at most one account per platform**;
a group with two accounts on one platform is left apart, since one person per platform is
the pattern this rule trusts. Missing data is never evidence: without sessions, device ids,
names or creation dates nothing is merged. A household that shares a tablet stays several
people: their device is used by more than one account per platform, or their names differ.

Why these four and not more: each is what tells a person's own accounts apart from a fake
pair in the table of confounders; requiring all four keeps an operation's fakes (young, on
devices the cast shares) from hiding as one person, at the cost of missing some real twins
(an unmerged twin still reaches networks only through the significance tests of every
signal).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["Persons", "resolve_persons", "names_alike", "MIN_AGE_DAYS", "PERSON_SCHEMA"]

#: Both accounts of a person must be at least this old when the workspace's activity begins.
MIN_AGE_DAYS = 365
#: Handles and names shorter than this (letters only) are too common to call alike.
MIN_NAME_LETTERS = 5

PERSON_SCHEMA = pa.schema([
    ("platform", pa.string()), ("account_id", pa.string()), ("person_id", pa.string()),
    ("reason", pa.string()),
])
_SEP = "\x1f"

# Pairs of accounts on different platforms whose only common users of some device are they.
_PAIRS_SQL = """
WITH d AS (
    SELECT DISTINCT device_id, platform, account_id FROM sessions
    WHERE device_id IS NOT NULL AND device_id <> ''),
own AS (  -- devices used by 2+ accounts, at most one per platform
    SELECT device_id FROM d GROUP BY device_id
    HAVING count(*) >= 2 AND count(*) = count(DISTINCT platform)),
pairs AS (
    SELECT a.platform AS platform_a, a.account_id AS account_a,
           b.platform AS platform_b, b.account_id AS account_b,
           min(a.device_id) AS device_id, count(*) AS n_devices
    FROM d a JOIN d b ON a.device_id = b.device_id AND a.platform < b.platform
    WHERE a.device_id IN (SELECT device_id FROM own)
    GROUP BY ALL),
start AS (SELECT min(ts) AS t0 FROM events)
SELECT p.*, ka.display_name AS name_a, ka.handle AS handle_a, ka.created_at AS created_a,
       kb.display_name AS name_b, kb.handle AS handle_b, kb.created_at AS created_b,
       (SELECT t0 FROM start) AS t0
FROM pairs p
JOIN accounts ka ON ka.platform = p.platform_a AND ka.account_id = p.account_a
JOIN accounts kb ON kb.platform = p.platform_b AND kb.account_id = p.account_b
WHERE ka.created_at IS NOT NULL AND kb.created_at IS NOT NULL
  AND ka.created_at <= (SELECT t0 FROM start) - INTERVAL '{min_age} days'
  AND kb.created_at <= (SELECT t0 FROM start) - INTERVAL '{min_age} days'
  AND coalesce(ka.kind, 'user') = 'user' AND coalesce(kb.kind, 'user') = 'user'
"""


def _letters(s: str | None) -> str:
    if not s:
        return ""
    s = unicodedata.normalize("NFKD", s)
    return "".join(ch for ch in s.casefold() if ch.isalpha())


def _tokens(s: str | None) -> tuple[str, ...]:
    if not s:
        return ()
    s = unicodedata.normalize("NFKD", s).casefold()
    return tuple(sorted(t for t in (re.sub(r"[^\w]|\d|_", "", w) for w in s.split()) if t))


def names_alike(name_a: str | None, handle_a: str | None, name_b: str | None,
                handle_b: str | None) -> str | None:
    """Why two accounts' names or handles are alike, or None.

    Alike means: the same display name (accents, case, order of words and punctuation
    aside); the same letters in both handles; or one account's display name spelled as the
    other's handle (``"Jane Doe"`` and ``jane_doe84``). Fewer than
    :data:`MIN_NAME_LETTERS` letters never match. Family members who share a surname are
    not alike.

    Examples
    --------
    >>> names_alike("Jane Doe", None, "jane doe", None)
    'same display name'
    >>> names_alike("Jane Doe", "jd", "Carla Wu", "jane.doe84")
    'display name spelled as handle'
    >>> names_alike("Jane Doe", None, "John Doe", None) is None
    True
    """
    ta, tb = _tokens(name_a), _tokens(name_b)
    if ta and ta == tb and len("".join(ta)) >= MIN_NAME_LETTERS:
        return "same display name"
    ha, hb = _letters(handle_a), _letters(handle_b)
    if ha and ha == hb and len(ha) >= MIN_NAME_LETTERS:
        return "same handle"
    na, nb = _letters(name_a), _letters(name_b)
    for n, h in ((na, hb), (nb, ha)):
        if len(n) >= MIN_NAME_LETTERS and h and (h == n or h.startswith(n)):
            return "display name spelled as handle"
    return None


@dataclass
class Persons:
    """Accounts resolved into persons.

    Attributes
    ----------
    table : pyarrow.Table
        :data:`PERSON_SCHEMA`: one row per account that shares its person with another
        account (accounts that are a person alone are not listed). ``person_id`` is
        ``platform:account_id`` of the person's first account in ``(platform, account_id)``
        order; ``reason`` says why the account joins that person.
    rejected : int
        Groups of alike pairs left apart because they held two accounts on one platform.
    """

    table: pa.Table = field(default_factory=PERSON_SCHEMA.empty_table)
    rejected: int = 0

    def __len__(self) -> int:
        return len(set(self.table["person_id"].to_pylist()))

    def mapping(self) -> dict[tuple[str, str], tuple[str, str]]:
        """``(platform, account_id)`` -> the person's first account, for listed accounts."""
        out = {}
        for p, a, pid in zip(self.table["platform"].to_pylist(),
                             self.table["account_id"].to_pylist(),
                             self.table["person_id"].to_pylist(), strict=True):
            rp, _, ra = pid.partition(":")
            out[(p, a)] = (rp, ra)
        return out

    def collapse_edges(self, edges: pa.Table) -> pa.Table:
        """Edges between persons: endpoints replaced by their person's first account, and
        edges between two accounts of one person dropped.

        Duplicates that this makes (a person's two accounts tied to one other account) are
        left for :func:`lockstep.graph.fusion.fuse`, which keeps one row per pair and signal.
        """
        if self.table.num_rows == 0 or edges.num_rows == 0:
            return edges
        keys = pc.binary_join_element_wise(self.table["platform"], self.table["account_id"],
                                           _SEP)
        reps = self.table["person_id"]
        split = pc.split_pattern(reps, ":", max_splits=1)
        rep_p = pc.list_element(split, 0)
        rep_a = pc.list_element(split, 1)
        cols = {c: edges[c] for c in edges.column_names}
        for side in ("a", "b"):
            pcol, acol = f"platform_{side}", f"account_{side}"
            idx = pc.index_in(pc.binary_join_element_wise(edges[pcol], edges[acol], _SEP),
                              value_set=keys)
            hit = pc.is_valid(idx)
            if not pc.any(hit).as_py():
                continue
            safe = pc.fill_null(idx, 0)
            cols[pcol] = pc.if_else(hit, pc.take(rep_p, safe), edges[pcol])
            cols[acol] = pc.if_else(hit, pc.take(rep_a, safe), edges[acol])
        out = pa.table(cols, schema=edges.schema)
        same = pc.and_(pc.equal(out["platform_a"], out["platform_b"]),
                       pc.equal(out["account_a"], out["account_b"]))
        return out.filter(pc.invert(pc.fill_null(same, False)))

    def expand(self, members: pa.Table, accounts: pa.Table | None = None) -> pa.Table:
        """Add to ``members`` (``network_id, platform, account_id, ...``) the other accounts
        of each member's person, and a ``person_id`` column for every row
        (``platform:account_id`` for an account that is a person alone).

        An added account takes the columns ``accounts`` has for it (``kind``, ``handle``,
        ``created_at``), zero in numeric columns (it has no edges of its own: they were
        counted for its person) and null elsewhere.
        """
        meta: dict[tuple[str, str], dict[str, Any]] = {}
        if accounts is not None and self.table.num_rows and accounts.num_rows:
            want = set(self.mapping())
            for r in accounts.to_pylist():
                if (r["platform"], r["account_id"]) in want:
                    meta[(r["platform"], r["account_id"])] = r
        by_person: dict[str, list[tuple[str, str]]] = {}
        pid_of: dict[tuple[str, str], str] = {}
        for p, a, pid in zip(self.table["platform"].to_pylist(),
                             self.table["account_id"].to_pylist(),
                             self.table["person_id"].to_pylist(), strict=True):
            by_person.setdefault(pid, []).append((p, a))
            pid_of[(p, a)] = pid
        rows = members.to_pylist()
        present = {(r["network_id"], r["platform"], r["account_id"]) for r in rows}
        out: list[dict[str, Any]] = []
        blank = {c: None for c in members.column_names}
        for r in rows:
            key = (r["platform"], r["account_id"])
            pid = pid_of.get(key, f"{key[0]}:{key[1]}")
            out.append({**r, "person_id": pid})
            for p, a in by_person.get(pid, []):
                if (r["network_id"], p, a) in present:
                    continue
                present.add((r["network_id"], p, a))
                extra = {**blank, "network_id": r["network_id"], "platform": p,
                         "account_id": a, "person_id": pid}
                known = meta.get((p, a), {})
                for c, f in zip(members.column_names, members.schema, strict=True):
                    if c in known and c not in ("network_id", "platform", "account_id"):
                        extra[c] = known[c]
                    elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
                        extra[c] = 0
                out.append(extra)
        schema = members.schema
        if "person_id" not in schema.names:
            schema = schema.append(pa.field("person_id", pa.string()))
        return pa.Table.from_pylist(out, schema=schema)

    def reasons(self) -> dict[tuple[str, str], str]:
        """``(platform, account_id)`` -> why it was joined to its person."""
        return {(p, a): r for p, a, r in zip(self.table["platform"].to_pylist(),
                                             self.table["account_id"].to_pylist(),
                                             self.table["reason"].to_pylist(), strict=True)}


def _has(con: Any, table: str, column: str) -> bool:
    try:
        return bool(con.execute(f"SELECT count({column}) FROM {table}").fetchall()[0][0])
    except Exception:  # noqa: BLE001 - a view over no files, or no such column
        return False


def resolve_persons(ws: Workspace, *, min_age_days: int = MIN_AGE_DAYS) -> Persons:
    """Resolve the accounts of ``ws`` that are one person (the rule is the module's).

    Parameters
    ----------
    ws : Workspace
    min_age_days : int, default :data:`MIN_AGE_DAYS`
        How old both accounts must be when the workspace's activity begins.

    Returns
    -------
    Persons
        Empty when the workspace has no device ids, names or creation dates.
    """
    con = ws.connect()
    try:
        if not (_has(con, "sessions", "device_id") and _has(con, "accounts", "created_at")):
            return Persons()
        rel = con.sql(_PAIRS_SQL.format(min_age=int(min_age_days)))
        cols = list(rel.columns)
        rows = rel.fetchall()
    finally:
        con.close()
    pairs = []
    for row in rows:
        r = dict(zip(cols, row, strict=True))
        why = names_alike(r["name_a"], r["handle_a"], r["name_b"], r["handle_b"])
        if why is None:
            continue
        a, b = (r["platform_a"], r["account_a"]), (r["platform_b"], r["account_b"])
        reason = (f"{a[0]}:{a[1]} and {b[0]}:{b[1]} use device {r['device_id']}"
                  + (f" (and {r['n_devices'] - 1} more)" if r["n_devices"] > 1 else "")
                  + f" that no other account uses; {why}; both created over "
                  f"{min_age_days} days before the data begins")
        pairs.append((a, b, reason))
    return _group(pairs)


def _group(pairs: list[tuple[tuple[str, str], tuple[str, str], str]]) -> Persons:
    """Union the alike pairs; keep groups with at most one account per platform."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    why: dict[tuple[str, str], list[str]] = {}
    for a, b, reason in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
        why.setdefault(a, []).append(reason)
        why.setdefault(b, []).append(reason)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    out: dict[str, list[Any]] = {f.name: [] for f in PERSON_SCHEMA}
    rejected = 0
    for accounts in groups.values():
        platforms = [p for p, _ in accounts]
        if len(platforms) != len(set(platforms)):
            rejected += 1
            continue
        accounts.sort()
        pid = f"{accounts[0][0]}:{accounts[0][1]}"
        for p, a in accounts:
            out["platform"].append(p)
            out["account_id"].append(a)
            out["person_id"].append(pid)
            out["reason"].append("; ".join(sorted(set(why[(p, a)]))))
    table = pa.table(out, schema=PERSON_SCHEMA).sort_by(
        [("person_id", "ascending"), ("platform", "ascending"), ("account_id", "ascending")])
    return Persons(table=table, rejected=rejected)
