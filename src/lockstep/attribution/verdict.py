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
    an operator linked with ``medium`` or ``high`` confidence to at least 2 assets, by
    telemetry (a device, an address or a slip). A declared role is not hidden: an agency or
    a newsroom desk administering its clients' pages declares it, and ``common_admins``
    already counts it.
``common_admins``
    At least two pages, groups or channels that present as separate are administered by the
    same operator.
``location_mismatch``
    It presents as one country and runs from another (:func:`.location.locate_networks`).

Evidence against (openly coordinated people): ``established_accounts`` (at most 10% under a
year old), ``own_devices`` (at most 10% share a device, with telemetry), ``distinct_personas``
(under 10% bio reuse), ``consistent_location`` (no mismatch and, with telemetry, origin equals
the presented country).

Spam (checked first), by behaviour, never by what the posts say: link pushing (a share of
posts with a link at least :data:`LINK_PUSHING_RATIO` times the workspace's own and at least
:data:`LINK_PUSHING_MIN`) with at least two signs of bulk operation among ``bulk_creation``
(creation burst ``>= 0.5``), ``many_groups`` (posting into at least 5 groups per account),
``one_user_agent`` (one user agent for 20+ accounts), ``round_the_clock`` (active in at least
20 of the 24 hours of the day, when the behaviour table gives it) and ``no_persona`` (at
least 70% of the accounts have no bio), and no pages among its core members (pages posing as
local outlets are what a political operation builds; a link farm has no use for them; a page
it only amplifies does not count, see :mod:`.assess`).

Verdict: ``spam`` by the spam rule; else ``undetermined`` when the network is not tied by
coordinated activity at all (``activity``); else ``cib`` with two or more kinds of deception and
more kinds of deception than of evidence against (``distinct_personas`` aside: careful
operations write distinct bios too), ``high`` confidence with three or more kinds and a
margin of two, else ``medium``; so old accounts, own devices and a consistent location can
outweigh what ordinary people also produce (a family's tablet, an enrolment day, an expat's
address); else ``authentic`` with no
deception and at least two kinds of evidence against (``high`` with three or more); else
``undetermined`` (``low``). Each verdict says what would change it (``would_change``).
Thresholds were set on simulated seeds 11 and 12 only.
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
    ("limitations", pa.list_(pa.string())), ("would_change", pa.string()),
])
#: Plain words for each kind of evidence, for ``would_change``.
_WORDS = {"new_accounts": "young accounts made together", "shared_devices": "shared devices",
          "persona_reuse": "reused personas", "hidden_operators": "hidden operators",
          "common_admins": "common admins", "location_mismatch": "a location mismatch",
          "established_accounts": "established accounts", "own_devices": "own devices",
          "distinct_personas": "distinct personas",
          "consistent_location": "a consistent location"}
#: Operator evidence that reveals a hidden operator (roles are declared).
_HIDDEN_KINDS = frozenset({"device", "ip", "slip", "alias"})
#: At least this many spam signs, with link pushing, make a network ``spam``.
MIN_SPAM_SIGNS = 2
#: Link pushing: the network's share of posts with a link is at least this many times the
#: workspace's (what people there ordinarily post) ...
LINK_PUSHING_RATIO = 3.0
#: ... and at least this share, so that a workspace of link posts does not make everyone a
#: link pusher.
LINK_PUSHING_MIN = 0.3


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


def _weighed(against: list[str]) -> int:
    """Kinds of evidence against that weigh on a verdict of cib: distinct bios are what a
    careful operation writes too, so ``distinct_personas`` only supports ``authentic``."""
    return sum(1 for k in against if k != "distinct_personas")


def _would_change(verdict: str, dec: list[str], against: list[str], spam: list[str]) -> str:
    """What evidence would move this verdict, in plain words."""
    def words(kinds: list[str]) -> str:
        return ", ".join(_WORDS.get(k, k.replace("_", " ")) for k in kinds) or "none"

    if verdict == "spam":
        return (f"not spam if its bulk signs ({', '.join(s.replace('_', ' ') for s in spam)}) "
                "were explained, or if it ran pages posing as outlets (then judged as a "
                "possible operation)")
    if verdict == "cib":
        need = len(dec) - _weighed(against)
        return (f"not cib if {need} of its kinds of deception ({words(dec)}) were explained "
                "innocently (for example shared devices that each belong to one person) or "
                f"if {need} more kinds of evidence against were found "
                "(established accounts, own devices, consistent location, distinct personas)")
    if verdict == "authentic":
        return ("cib if two kinds of deception were found (young accounts made together, "
                "shared devices, reused personas, hidden operators, common admins, a location "
                f"mismatch) and outnumbered the evidence against ({words(against)})")
    missing = max(2 - len(dec), _weighed(against) + 1 - len(dec), 1)
    return (f"cib with {missing} more kind(s) of deception beyond {words(dec)} "
            f"(against: {words(against)}); authentic with no deception and two kinds of "
            "evidence against")


def decide(behaviour: pa.Table, *, operators: pa.Table | None = None,
           links: pa.Table | None = None, location: pa.Table | None = None,
           telemetry: bool = True, pages: dict[str, int] | None = None,
           activity: dict[str, bool] | None = None) -> pa.Table:
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
    activity : dict of str to bool, optional
        Whether each network is tied by coordinated activity (a co-action signal), not only
        by shared infrastructure or creation cohorts. A network without it is never ``cib``
        (a household's tablet and the children's accounts made one evening are not an
        operation); unknown networks count as active.
    pages : dict of str to int, optional
        Pages and channels each network runs (:func:`lockstep.attribution.assess`): a
        network that runs pages is not judged a link farm. Without it, the pages among the
        members of the behaviour table count.

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
                      and (o["n_assets"] or 0) >= 2 and not o.get("in_network")
                      and set(o.get("evidence_kinds") or ["device"]) & _HIDDEN_KINDS]
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
        link, nobio = b["link_share"] or 0.0, b["empty_bio_share"]
        base = b.get("workspace_link_share")
        pushing = link >= max(LINK_PUSHING_MIN, LINK_PUSHING_RATIO * (base or 0.0)) and (
            base is not None or link >= 0.6)  # no baseline given: the old fixed bar
        if pushing:
            agents = b["agents_per_account"]
            if burst is not None and burst >= 0.5:
                spam.append("bulk_creation")
            if (b["venues_per_poster"] or 0) >= 5:
                spam.append("many_groups")
            if agents is not None and ws_ >= 20 and agents * ws_ <= max(1.0, ws_ / 20):
                spam.append("one_user_agent")
            if (b.get("active_hours") or 0) >= 20:
                spam.append("round_the_clock")
            if nobio is not None and nobio >= 0.7:
                spam.append("no_persona")
        if not telemetry:
            limits.append(NO_TELEMETRY)
        runs_pages = ((pages or {}).get(nid, 0) if pages is not None
                      else (b.get("n_pages") or 0) + (b.get("n_channels") or 0)) > 0
        if len(spam) >= MIN_SPAM_SIGNS and not runs_pages:
            verdict, conf = "spam", "high" if len(spam) >= 3 else "medium"
            reasons.insert(0, f"spam: {_pct(link)} of its posts push links "
                              f"({_pct(b['top_domains_share'])} to its top three domains), "
                              f"{b['venues_per_poster'] or 0:.1f} groups per account; "
                              + ", ".join(s.replace('_', ' ') for s in spam))
        elif not (activity or {}).get(nid, True):
            verdict, conf = "undetermined", "low"
            reasons.append("no coordinated activity: tied only by shared infrastructure or "
                           "creation dates, which households and offices also share; a "
                           "verdict of cib needs accounts that act together")
        elif len(dec) >= 2 and len(dec) > _weighed(against):
            verdict, conf = "cib", ("high" if len(dec) >= 3 and len(dec) - _weighed(against) >= 2
                                    else "medium")
        elif not dec and len(against) >= 2:
            verdict, conf = "authentic", "high" if len(against) >= 3 else "medium"
        else:
            verdict, conf = "undetermined", "low"
            if len(dec) == 1:
                reasons.append("only one kind of deception found; a verdict of cib needs two")
            elif len(dec) >= 2:
                reasons.append(f"{len(dec)} kinds of deception against {_weighed(against)} "
                               "kinds of evidence against: a verdict of cib needs more of "
                               "the first")
        reasons.insert(0, f"{n} accounts; verdict {verdict} ({conf})")
        for k, v in (("network_id", nid), ("verdict", verdict), ("confidence", conf),
                     ("deception", dec), ("against", against), ("spam_signs", spam),
                     ("reasons", reasons), ("limitations", sorted(set(limits))),
                     ("would_change", _would_change(verdict, dec, against, spam))):
            out[k].append(v)
    return pa.table(out, schema=VERDICT_SCHEMA)
