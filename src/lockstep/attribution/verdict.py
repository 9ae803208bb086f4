"""Verdict per network: ``cib``, ``spam``, ``authentic`` or ``undetermined``, with reasons.

Coordination alone is not a violation; deception about who is behind a network and where it
runs from is. :func:`decide` reads only behavioural evidence (:mod:`.behaviour`, operator
linkage from :mod:`.operators`, location from :mod:`.location`), never what posts say, and
states every reason in plain words with the numbers behind it.

Rules
-----
Evidence of deception, one count per independent kind:

``new_accounts``
    Most personas are young (``young_share >= 0.5``: under a year old at the network's first
    activity) and many were made together (``burst_share >= 0.25`` within 72 hours).
``shared_devices``
    Personas presented as independent log in from each other's devices
    (``device_share_share >= 0.25`` of the members with sessions, at least 3 of them).
``persona_reuse``
    At least 20% of the accounts share a bio with another member.
``hidden_operators``
    Person accounts outside the public face of the network run several of its assets:
    an operator linked with ``medium`` or ``high`` confidence to at least 2 assets.
``common_admins``
    At least two pages, groups or channels that present as separate are administered by the
    same operator.
``location_mismatch``
    It presents as one country and runs from another (:func:`.location.locate_networks`).

Evidence against (openly coordinated people): ``established_accounts`` (at most 10% under a
year old), ``own_devices`` (at most 10% share a device, with telemetry), ``distinct_personas``
(under 10% bio reuse), ``consistent_location`` (no mismatch and, with telemetry, origin equals
the presented country).

Spam (checked first): high-volume link pushing with no persona building: at least 60% of
posts carry a link, at least 70% of accounts have no bio, and bulk behaviour (creation burst
``>= 0.5``, or posting into at least 5 groups per account, or one user agent for 20+ accounts).

Verdict: ``spam`` by the spam rule; else ``cib`` with two or more kinds of deception
(``high`` confidence with three or more, else ``medium``); else ``authentic`` with no
deception and at least two kinds of evidence against (``high`` with three or more); else
``undetermined`` (``low``). Thresholds were set on simulated seeds 11 and 12 only.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from lockstep.attribution.operators import NO_TELEMETRY

__all__ = ["decide", "VERDICT_SCHEMA", "DECEPTION", "AGAINST", "VERDICTS"]

VERDICTS = ("cib", "spam", "authentic", "undetermined")
DECEPTION = ("new_accounts", "shared_devices", "persona_reuse", "hidden_operators",
             "common_admins", "location_mismatch")
AGAINST = ("established_accounts", "own_devices", "distinct_personas", "consistent_location")

VERDICT_SCHEMA = pa.schema([
    ("network_id", pa.string()), ("verdict", pa.string()), ("confidence", pa.string()),
    ("deception", pa.list_(pa.string())), ("against", pa.list_(pa.string())),
    ("spam_signs", pa.list_(pa.string())), ("reasons", pa.list_(pa.string())),
    ("limitations", pa.list_(pa.string())),
])


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _rows(t: pa.Table | None, key: str = "network_id") -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if t is None:
        return out
    for r in t.to_pylist():
        out.setdefault(r[key], []).append(r)
    return out


def _admin_sharing(links: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(most assets administered by one operator, operators doing so) from role links."""
    by_op: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for ln in links:
        if ln["kind"] == "role":
            by_op.setdefault((ln["platform"], ln["account_id"]), set()).add(
                (ln["asset_platform"], ln["asset_id"]))
    shared = [len(a) for a in by_op.values() if len(a) >= 2]
    return (max(shared) if shared else 0, len(shared))


def decide(behaviour: pa.Table, *, operators: pa.Table | None = None,
           links: pa.Table | None = None, location: pa.Table | None = None,
           telemetry: bool = True) -> pa.Table:
    """The verdict of each network, with its reasons.

    Parameters
    ----------
    behaviour : pyarrow.Table
        :func:`lockstep.attribution.behaviour.network_behaviour`.
    operators, links : pyarrow.Table, optional
        ``OperatorLinks.operators`` and ``.links`` (:func:`~.operators.link_operators`).
    location : pyarrow.Table, optional
        :func:`~.location.locate_networks`.
    telemetry : bool
        Whether the workspace has sessions or roles at all (public data has none).

    Returns
    -------
    pyarrow.Table
        :data:`VERDICT_SCHEMA`, one row per network: the verdict, its confidence, the kinds
        of evidence found for deception, against it and for spam, the reasons in plain words
        and what could not be established.
    """
    ops, lks, loc = _rows(operators), _rows(links), _rows(location)
    out: dict[str, list[Any]] = {f.name: [] for f in VERDICT_SCHEMA}
    for b in behaviour.to_pylist():
        nid = b["network_id"]
        n = max(int(b["n_members"] or 0), 1)
        dec: list[str] = []
        against: list[str] = []
        spam: list[str] = []
        reasons: list[str] = []
        limits: list[str] = []
        young, burst = b["young_share"], b["burst_share"]
        if young is not None and burst is not None:
            if young >= 0.5 and burst >= 0.25:
                dec.append("new_accounts")
                reasons.append(f"new accounts: {_pct(young)} of its accounts were under a year "
                               f"old when it started (median age {b['age_median_days']:.0f} days)"
                               f" and {_pct(burst)} were created within 72 hours of each other")
            elif young <= 0.1:
                against.append("established_accounts")
                reasons.append(f"against: established accounts, median age "
                               f"{b['age_median_days'] / 365:.1f} years, {_pct(young)} under "
                               "a year")
        else:
            limits.append("no account creation dates: account ages not assessed")
        ws_ = int(b["with_sessions"] or 0)
        dss = b["device_share_share"]
        if ws_ >= 3 and dss is not None:
            if dss >= 0.25:
                dec.append("shared_devices")
                reasons.append(f"shared devices: {_pct(dss)} of the {ws_} accounts with "
                               "sessions log in from devices that other accounts of the network "
                               f"use ({b['devices_per_account']:.2f} devices per account)")
            elif dss <= 0.1:
                against.append("own_devices")
                reasons.append(f"against: own devices, {_pct(dss)} of {ws_} accounts share one")
        elif telemetry:
            limits.append("fewer than 3 accounts with sessions: devices not assessed")
        bio = b["bio_reuse_share"]
        if bio is not None and bio >= 0.2:
            dec.append("persona_reuse")
            reasons.append(f"persona reuse: {_pct(bio)} of the accounts share their bio with "
                           "another account of the network")
        elif bio is not None and bio < 0.1:
            against.append("distinct_personas")
        strong_ops = [o for o in ops.get(nid, []) if o["confidence"] in ("high", "medium")
                      and (o["n_assets"] or 0) >= 2 and not o.get("in_network")]
        if strong_ops:
            dec.append("hidden_operators")
            best = sorted(strong_ops, key=lambda o: -(o["n_assets"] or 0))[0]
            emp = {o["employer"] for o in strong_ops if o.get("employer")}
            reasons.append(
                f"hidden operators: {len(strong_ops)} person account(s) run its assets, e.g. "
                f"{best['platform']}:{best['account_id']} linked to {best['n_assets']} assets "
                f"({best['confidence']} confidence: {', '.join(best['evidence_kinds'] or [])})"
                + (f"; profiles name {', '.join(sorted(emp))}" if emp else ""))
        most, n_admins = _admin_sharing(lks.get(nid, []))
        if most >= 2:
            dec.append("common_admins")
            reasons.append(f"common admins: {n_admins} operator(s) each administer several of "
                           f"its pages, groups or channels (up to {most})")
        lc = (loc.get(nid) or [None])[0]
        if lc is not None:
            if lc.get("location_mismatch"):
                dec.append("location_mismatch")
                reasons.append(f"location mismatch: {lc.get('mismatch_reason')}")
            elif lc.get("telemetry") and lc.get("origin_country") and (
                    not lc.get("presented_country")
                    or lc["presented_country"] == lc["origin_country"]):
                against.append("consistent_location")
                reasons.append(f"against: consistent location, runs from "
                               f"{lc['origin_country']} where it presents itself")
            if lc.get("limitations"):
                limits.append(lc["limitations"])
        link, nobio = b["link_share"] or 0.0, b["empty_bio_share"] or 0.0
        if link >= 0.6 and nobio >= 0.7:
            agents = b["agents_per_account"]
            if burst is not None and burst >= 0.5:
                spam.append("bulk_creation")
            if (b["venues_per_poster"] or 0) >= 5:
                spam.append("many_groups")
            if agents is not None and ws_ >= 20 and agents * ws_ <= max(1.0, ws_ / 20):
                spam.append("one_user_agent")
        if not telemetry:
            limits.append(NO_TELEMETRY)
        if spam and link >= 0.6 and nobio >= 0.7:
            verdict, conf = "spam", "high" if len(spam) >= 2 else "medium"
            reasons.insert(0, f"spam: {_pct(link)} of its posts push links "
                              f"({_pct(b['top_domains_share'])} to its top three domains), "
                              f"{_pct(nobio)} of its accounts have no bio, "
                              f"{b['venues_per_poster']:.1f} groups per account; "
                              + ", ".join(s.replace('_', ' ') for s in spam))
        elif len(dec) >= 2:
            verdict, conf = "cib", "high" if len(dec) >= 3 else "medium"
        elif not dec and len(against) >= 2:
            verdict, conf = "authentic", "high" if len(against) >= 3 else "medium"
        else:
            verdict, conf = "undetermined", "low"
            if len(dec) == 1:
                reasons.append("only one kind of deception found; a verdict of cib needs two")
        reasons.insert(0, f"{n} accounts; verdict {verdict} ({conf})")
        for k, v in (("network_id", nid), ("verdict", verdict), ("confidence", conf),
                     ("deception", dec), ("against", against), ("spam_signs", spam),
                     ("reasons", reasons), ("limitations", sorted(set(limits)))):
            out[k].append(v)
    return pa.table(out, schema=VERDICT_SCHEMA)
