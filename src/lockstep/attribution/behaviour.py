"""Behavioural traits of each network: who its accounts are and how they behave, never what
they say.

:func:`network_behaviour` measures, per network, the traits a verdict rests on
(:mod:`lockstep.attribution.verdict`): account ages and creation bursts, persona reuse,
devices shared among supposedly independent personas, audience, and the spam pattern of
high-volume link pushing to a few domains into many groups. Text, hashtags and the names of
links are never read: only whether a post carries a link, which registered domain it points
to (by identity, to measure concentration), and where it was posted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["network_behaviour", "BEHAVIOUR_COLUMNS", "BURST_SPAN_H", "MIN_KNOWN",
           "MIN_KNOWN_SHARE", "BIO_CONCENTRATION", "ACTIVE_HOURS_MIN_EVENTS"]

#: Length of a creation burst: the most member accounts created within this many hours.
BURST_SPAN_H = 72.0

#: A share (bio reuse, empty bios, young accounts, shared devices, ...) is computed over the
#: members whose value is known, and is unknown (``None``) when fewer than this many are known:
#: a share of one or two accounts says nothing about a network.
MIN_KNOWN = 3
#: ... or when the value is known for less than this share of the members it applies to: what
#: the known few show need not hold for the rest (public data often has no profiles at all).
MIN_KNOWN_SHARE = 0.5

#: Columns of :func:`network_behaviour` (besides ``network_id``), each explained in its
#: docstring.
BEHAVIOUR_COLUMNS = (
    "n_members", "n_users", "n_pages", "n_groups", "n_channels", "followers_total",
    "followers_known", "created_known", "age_median_days", "young_share", "burst_share",
    "bio_known", "bio_reuse_share", "empty_bio_share", "verified_share", "followers_median",
    "events", "events_per_account_day", "link_share", "workspace_link_share",
    "top_domains_share",
    "venues_per_poster", "with_sessions", "with_devices", "device_share_share",
    "devices_per_account", "agents_per_account", "active_hours", "first_activity",
    "last_activity",
)

#: A bio shared inside a network is reuse only when the network holds at least this share of
#: the workspace's accounts with that bio: a generic bio ("Living in Berlin") held by
#: thousands says nothing about the few members who have it.
BIO_CONCENTRATION = 0.5
#: ``active_hours`` reads members with at least this many events (a day's worth of hours).
ACTIVE_HOURS_MIN_EVENTS = 24

_SQL = """
WITH m AS (SELECT DISTINCT network_id, platform, account_id, person_id FROM _members),
-- a platform's bios are known only where its source carries bios at all: some account of the
-- workspace on it has one (a missing accounts row, or a source without bios, is unknown)
bio_src AS (SELECT DISTINCT platform FROM accounts WHERE nullif(trim(bio), '') IS NOT NULL),
acc AS (
    SELECT m.network_id, m.platform, m.account_id, m.person_id, a.kind, a.created_at,
           a.followers,
           a.verified, nullif(trim(lower(a.bio)), '') AS bio,
           a.account_id IS NOT NULL AND bs.platform IS NOT NULL AS bio_known
    FROM m LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN bio_src bs ON bs.platform = m.platform),
ev AS (
    SELECT m.network_id, e.platform, e.account_id, e.ts, e.venue_id,
           len(coalesce(e.urls, [])) > 0 AS has_link
    FROM m JOIN events e USING (platform, account_id)),
act AS (
    SELECT network_id, min(ts) AS first_activity, max(ts) AS last_activity, count(*) AS events,
           avg(has_link::INT) AS link_share,
           count(DISTINCT (platform, account_id)) AS posters
    FROM ev GROUP BY 1),
ven AS (
    SELECT network_id, count(DISTINCT (platform, account_id, venue_id))::DOUBLE
           / nullif(count(DISTINCT (platform, account_id)), 0) AS venues_per_poster
    FROM ev WHERE venue_id IS NOT NULL AND venue_id <> '' GROUP BY 1),
dom AS (
    SELECT network_id, d, count(*) AS n,
           row_number() OVER (PARTITION BY network_id ORDER BY count(*) DESC, d) AS r
    FROM (SELECT m.network_id, o.object_id AS d FROM m JOIN objects o USING (platform, account_id)
          WHERE o.object_type = 'domain') GROUP BY 1, 2),
domc AS (
    SELECT network_id, sum(n) FILTER (WHERE r <= 3)::DOUBLE / sum(n) AS top_domains_share
    FROM dom GROUP BY 1),
bio AS (  -- persons per bio: a person's own accounts sharing a bio is not reuse
    SELECT network_id, bio, count(*) AS n, count(DISTINCT person_id) AS persons
    FROM acc WHERE bio IS NOT NULL AND bio_known GROUP BY 1, 2),
bio_all AS (
    SELECT nullif(trim(lower(a.bio)), '') AS bio, count(*) AS n_all FROM accounts a
    WHERE nullif(trim(lower(a.bio)), '') IN (SELECT bio FROM bio WHERE persons > 1)
    GROUP BY 1),
bioc AS (
    SELECT network_id, sum(n) FILTER (WHERE persons > 1
                                      AND n >= {concentration} * n_all) AS reused
    FROM bio JOIN bio_all USING (bio) GROUP BY 1),
hrs AS (  -- distinct hours of the day each well-observed member acts in
    SELECT network_id, platform, account_id, count(DISTINCT hour(ts)) AS hours
    FROM ev GROUP BY 1, 2, 3 HAVING count(*) >= {hours_min_events}),
hrsc AS (
    SELECT network_id, median(hours) AS active_hours, count(*) AS hours_known
    FROM hrs GROUP BY 1),
ses AS (
    SELECT m.network_id, s.platform, s.account_id, m.person_id, s.device_id, s.user_agent
    FROM m JOIN sessions s USING (platform, account_id)),
dev AS (  -- persons per device: a person's phone used by its own two accounts is not shared
    SELECT network_id, device_id, count(DISTINCT person_id) AS k
    FROM ses WHERE device_id IS NOT NULL AND device_id <> '' GROUP BY 1, 2),
devshared AS (
    SELECT DISTINCT s.network_id, s.platform, s.account_id
    FROM ses s JOIN dev d USING (network_id, device_id) WHERE d.k > 1),
sesc AS (
    SELECT network_id, count(DISTINCT (platform, account_id)) AS with_sessions,
           count(DISTINCT (platform, account_id)) FILTER (
               WHERE device_id IS NOT NULL AND device_id <> '') AS with_devices,
           count(DISTINCT device_id) AS devices, count(DISTINCT user_agent) AS agents
    FROM ses GROUP BY 1),
base AS (
    SELECT network_id, count(*) AS n_members,
           count(*) FILTER (WHERE coalesce(kind, 'user') = 'user') AS n_users,
           count(*) FILTER (WHERE kind = 'page') AS n_pages,
           count(*) FILTER (WHERE kind = 'group') AS n_groups,
           count(*) FILTER (WHERE kind = 'channel') AS n_channels,
           count(followers) AS followers_known,
           sum(followers) AS followers_sum,
           count(created_at) AS created_known,
           count(*) FILTER (WHERE bio_known) AS bio_known,
           avg((bio IS NULL)::INT) FILTER (WHERE bio_known) AS empty_bio_raw,
           count(verified) AS verified_known,
           avg(verified::INT) AS verified_raw,
           median(followers) AS followers_median_raw
    FROM acc GROUP BY 1),
-- known for enough members (MIN_KNOWN and MIN_KNOWN_SHARE, filled in below)
kn AS (
    SELECT *,
           followers_known >= {min_known} AND followers_known >= {min_share} * n_members AS f_ok,
           bio_known >= {min_known} AND bio_known >= {min_share} * n_members AS b_ok,
           verified_known >= {min_known} AND verified_known >= {min_share} * n_members AS v_ok
    FROM base)
SELECT b.network_id, b.n_members, b.n_users, b.n_pages, b.n_groups, b.n_channels,
       b.created_known, b.followers_known, b.bio_known,
       CASE WHEN b.followers_known > 0 AND b.followers_known >= {min_share} * b.n_members
            THEN b.followers_sum END AS followers_total,
       CASE WHEN b.f_ok THEN b.followers_median_raw END AS followers_median,
       CASE WHEN b.b_ok THEN b.empty_bio_raw END AS empty_bio_share,
       CASE WHEN b.v_ok THEN b.verified_raw END AS verified_share,
       act.events, act.link_share, act.first_activity, act.last_activity,
       (SELECT avg(s) FROM (SELECT avg((len(coalesce(urls, [])) > 0)::INT) AS s FROM events
                            GROUP BY platform, account_id)) AS workspace_link_share,
       act.events::DOUBLE / greatest(b.n_members, 1) / greatest(
           date_diff('second', act.first_activity, act.last_activity) / 86400.0, 1.0)
           AS events_per_account_day,
       coalesce(domc.top_domains_share, 0) AS top_domains_share,
       coalesce(ven.venues_per_poster, 0) AS venues_per_poster,
       CASE WHEN b.b_ok THEN coalesce(bioc.reused, 0)::DOUBLE / b.bio_known END
           AS bio_reuse_share,
       coalesce(sesc.with_sessions, 0) AS with_sessions,
       coalesce(sesc.with_devices, 0) AS with_devices,
       CASE WHEN sesc.with_devices >= {min_known} THEN
           (SELECT count(*) FROM devshared d WHERE d.network_id = b.network_id)::DOUBLE
           / sesc.with_devices END AS device_share_share,
       sesc.devices::DOUBLE / nullif(sesc.with_sessions, 0) AS devices_per_account,
       sesc.agents::DOUBLE / nullif(sesc.with_sessions, 0) AS agents_per_account,
       CASE WHEN hrsc.hours_known >= {min_known} THEN hrsc.active_hours END AS active_hours
FROM kn b LEFT JOIN act USING (network_id) LEFT JOIN domc USING (network_id)
    LEFT JOIN ven USING (network_id) LEFT JOIN bioc USING (network_id)
    LEFT JOIN sesc USING (network_id) LEFT JOIN hrsc USING (network_id)
ORDER BY network_id
"""


def _ages(members_created: pa.Table, first: dict[str, object]) -> dict[str, dict]:
    """Per network: median age at first activity, young share, creation-burst share."""
    out: dict[str, dict] = {}
    nid = members_created["network_id"].to_pylist()
    if not nid:  # no member's creation time is known (public data without profiles)
        return out
    created = members_created["created_us"].to_numpy(zero_copy_only=False)
    order = np.argsort(np.array(nid, dtype=object), kind="stable")
    nid_sorted = [nid[i] for i in order]
    created = created[order]
    starts = [0] + [i for i in range(1, len(nid_sorted)) if nid_sorted[i] != nid_sorted[i - 1]]
    span = BURST_SPAN_H * 3600e6
    for s, e in zip(starts, [*starts[1:], len(nid_sorted)], strict=True):
        net = nid_sorted[s]
        users = e - s  # user members, with or without a known creation time
        c = np.sort(created[s:e])
        c = c[~np.isnan(c)]
        if len(c) < MIN_KNOWN or len(c) < MIN_KNOWN_SHARE * users:
            out[net] = {"age_median_days": None, "young_share": None, "burst_share": None}
            continue
        f = first.get(net)
        ref = f.timestamp() * 1e6 if f is not None else float(c.max())  # type: ignore[attr-defined]
        ages = (ref - c) / 86400e6
        within = np.searchsorted(c, c + span, side="right") - np.arange(len(c))
        out[net] = {"age_median_days": float(np.median(ages)),
                    "young_share": float(np.mean(ages < 365)),
                    "burst_share": float(within.max() / len(c))}
    return out


def network_behaviour(ws: Workspace, members: pa.Table) -> pa.Table:
    """Behavioural traits of each network's accounts (one row per network).

    Parameters
    ----------
    ws : Workspace
    members : pyarrow.Table
        ``network_id, platform, account_id`` (the network's assets).

    Returns
    -------
    pyarrow.Table
        ``network_id`` and :data:`BEHAVIOUR_COLUMNS`:

        - counts by kind (``n_users, n_pages, n_groups, n_channels``),
          ``followers_total`` (over the members whose count is known; null when under half
          of the members have one) and ``followers_known``;
        - unknown is never a value: each share below is computed over the members whose
          value is known (``created_known``, ``bio_known``, ``with_devices``) and is null
          when fewer than :data:`MIN_KNOWN` or under :data:`MIN_KNOWN_SHARE` of the members
          it applies to have it (devices: fewer than :data:`MIN_KNOWN` members with a device
          in their sessions). A bio is known for a member with a profile on a platform whose
          source carries bios (some account of the workspace on it has one);
        - ``age_median_days`` (age at the network's first activity), ``young_share``
          (younger than a year), ``burst_share`` (the most members created within
          :data:`BURST_SPAN_H` hours, as a share of those with a known creation time);
        - ``bio_reuse_share`` (members whose bio another member, a different person, also
          has, counting only bios the network holds at least :data:`BIO_CONCENTRATION` of in
          the whole workspace: a generic bio says nothing),
          ``empty_bio_share``, ``verified_share``, ``followers_median``;
        - ``events``, ``events_per_account_day``, ``link_share`` (events with a link),
          ``workspace_link_share`` (the mean over every account of the workspace of its own
          share: what a typical account posts, the baseline link pushing is measured against;
          a few newsrooms posting links all day do not raise it),
          ``top_domains_share`` (the three commonest registered domains' share of links),
          ``venues_per_poster`` (distinct groups or venues posted into per account);
        - with sessions: ``with_sessions`` (members with any), ``device_share_share``
          (members using a device another member uses, over ``with_devices``),
          ``devices_per_account``,
          ``agents_per_account`` (distinct user agents per member); a device is shared when
          members of different persons use it (``person_id`` in ``members``,
          :mod:`lockstep.persons`);
        - ``active_hours``: median distinct hours of the day (UTC) in which members with at
          least :data:`ACTIVE_HOURS_MIN_EVENTS` events act (people sleep; bots need not).
    """
    con = ws.connect()
    try:
        m = members.select(["network_id", "platform", "account_id"])
        pid = (members["person_id"] if "person_id" in members.column_names
               else pa.nulls(members.num_rows, pa.string()))
        own = pc.binary_join_element_wise(members["platform"], members["account_id"], ":")
        con.register("_members", m.append_column("person_id", pc.coalesce(pid, own)))
        t = con.sql(_SQL.format(
            min_known=int(MIN_KNOWN), min_share=float(MIN_KNOWN_SHARE),
            concentration=float(BIO_CONCENTRATION),
            hours_min_events=int(ACTIVE_HOURS_MIN_EVENTS))).to_arrow_table()
        created = con.sql(
            "SELECT DISTINCT m.network_id, m.platform, m.account_id, "
            "epoch_us(a.created_at)::DOUBLE AS created_us FROM _members m "
            "LEFT JOIN accounts a USING (platform, account_id) "
            "WHERE coalesce(a.kind, 'user') = 'user'").to_arrow_table()
    finally:
        con.close()
    first = dict(zip(t["network_id"].to_pylist(), t["first_activity"].to_pylist()))
    ages = _ages(created, first)
    cols = {name: t[name] for name in t.column_names}
    for key in ("age_median_days", "young_share", "burst_share"):
        cols[key] = pa.array([ages.get(n, {}).get(key) for n in t["network_id"].to_pylist()],
                             pa.float64())
    return pa.table({"network_id": cols["network_id"],
                     **{c: cols[c] for c in BEHAVIOUR_COLUMNS}})
