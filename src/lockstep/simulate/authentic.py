"""Authentic coordinated communities: real people who act together openly.

Fan clubs, activists, volunteers of two opposing parties and a newsroom. Their members are
ordinary, years-old accounts (own devices, own addresses, consistent countries, varied creation
dates) recruited from the ordinary population. They answer their hub's calls, re-sharing the
same posts and links within short windows and using campaign hashtags, which is exactly what
co-action detectors look for: they are the second trap (``network_kind=authentic``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import COMMENT, FB, GROUP, IG, PAGE, POST, REACT, SHARE, START
from .content import hashtags_multi, image_multi, text_columns, url_codes
from .events import EventBatch, Multi
from .geo import country_index
from .names import slug
from .networks import NetworkInfo
from .population import YEAR
from .rhythm import delays, local_times, office_times
from .vocab import camel
from .world import World

__all__ = ["COMMUNITIES", "CommunitySpec", "plant_authentic"]


@dataclass(frozen=True)
class CommunitySpec:
    """Recipe of one authentic community.

    Attributes
    ----------
    theme : str
        ``fan club``, ``activists``, ``party volunteers`` or ``newsroom``.
    platform : int
        Platform code.
    country : str
        Where the members live.
    size : tuple[int, int]
        Member count range.
    hub_kind : int
        Whether the hub is a page or a group.
    participation : float
        Mean share of calls a member answers.
    delay_s : float
        Median reaction delay.
    link_p : float
        Share of calls carrying a link to the community's own site.
    """

    theme: str
    platform: int
    country: str
    size: tuple[int, int]
    hub_kind: int
    participation: float
    delay_s: float
    link_p: float


COMMUNITIES: tuple[CommunitySpec, ...] = (
    CommunitySpec("fan club", IG, "BR", (150, 300), PAGE, 0.35, 1500.0, 0.0),
    CommunitySpec("fan club", FB, "GB", (80, 200), GROUP, 0.25, 2400.0, 0.1),
    CommunitySpec("activists", FB, "DE", (40, 120), PAGE, 0.3, 1800.0, 0.4),
    CommunitySpec("activists", IG, "US", (30, 90), PAGE, 0.3, 2400.0, 0.2),
    CommunitySpec("party volunteers", FB, "US", (100, 300), PAGE, 0.25, 1200.0, 0.5),
    CommunitySpec("party volunteers", FB, "US", (100, 300), PAGE, 0.25, 1200.0, 0.5),
    CommunitySpec("party volunteers", FB, "IN", (60, 200), PAGE, 0.3, 900.0, 0.4),
    CommunitySpec("newsroom", FB, "GB", (15, 40), PAGE, 0.45, 600.0, 1.0),
)
_PARTIES = ("Civic Renewal", "Heritage First", "People's Progress", "New Dawn", "United Farmers",
            "Liberty Alliance")
_HUB_SUFFIX = {"fan club": ("Fan Club", "Army", "Nation"), "activists": ("Now", "Alliance", "Action"),
               "newsroom": ("Gazette", "Chronicle", "Evening Post"),
               "union": ("Workers Union", "Solidarity", "Union Local")}


def _hub_name(rng: np.random.Generator, w: World, spec: CommunitySpec, party: str) -> tuple[str, str]:
    word = w.vocab.words[int(rng.integers(200, 2000))].capitalize()
    if spec.theme == "party volunteers":
        return f"{party} Party Volunteers", party.replace("'", "")
    sfx = _HUB_SUFFIX[spec.theme]
    return f"{word} {sfx[int(rng.integers(len(sfx)))]}", word


def plant_authentic(rng: np.random.Generator, w: World,
                    specs: tuple[CommunitySpec, ...] = COMMUNITIES) -> None:
    """Plant all authentic communities into the world.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world (members are recruited from its ordinary population).
    specs : tuple of CommunitySpec, optional
        The communities (:data:`COMMUNITIES` when omitted).
    """
    parties = list(rng.permutation(_PARTIES))
    for i, (spec, sub) in enumerate(zip(specs, rng.spawn(len(specs)), strict=True)):
        _community(sub, w, i, spec, str(parties[i % len(parties)]))


def _community(rng: np.random.Generator, w: World, i: int, spec: CommunitySpec, party: str) -> None:
    ci = country_index(spec.country)
    p = spec.platform
    pos = w.recruit(rng, p, ci, int(rng.integers(spec.size[0], spec.size[1] + 1)), min_age_years=2.0)
    members = w.pop.users[pos]
    k = len(members)
    if k < 5:
        return
    name, word = _hub_name(rng, w, spec, party)
    tags = [camel(slug(word)) + s for s in ("", "Live", str(int(rng.integers(20, 27))))][: int(rng.integers(2, 4))]
    if spec.theme == "party volunteers":
        tags = [camel(*slug(party, " ").split()), f"Vote{camel(*slug(party, ' ').split()[:1])}"]
    tag_idx = w.vocab.add_hashtags(tags)
    host = slug(name, "-") + (".org" if spec.theme != "newsroom" else ".co.uk")
    domain = w.vocab.add_domain(host, www=spec.theme == "newsroom", style=1)
    topic = w.vocab.new_topic()
    net = w.nets.new(NetworkInfo(f"auth-{i + 1:02d}", "authentic", None, name, spec.theme,
                                 spec.country, spec.country, tags, [host]))

    hub = w.reg.add(
        1, platform=p, kind=spec.hub_kind, country=ci, offset=float(w.pop.offset[pos[0]]),
        created=int(START - rng.uniform(3, 10) * YEAR), handle_style=99 if spec.hub_kind == PAGE else -1,
        custom_handle=w.reg.intern([slug(name)]), custom_name=w.reg.intern([name]), claimed=ci,
        followers=int(rng.lognormal(9.0, 1.0)), verified=spec.theme == "newsroom",
    )[0]
    n_admin = min(k, int(rng.integers(1, 4)))
    w.roles.add(members[:n_admin], np.full(n_admin, hub), "admin",
                np.full(n_admin, int(START - rng.uniform(1, 3) * YEAR)))
    w.nets.add_members(net, np.array([hub]), "page" if spec.hub_kind == PAGE else "group")
    w.nets.add_members(net, members, "member")

    # Calls to action: posted by the page, or by an admin into the group.
    n_calls = int(rng.integers(25, 60))
    offs = np.full(n_calls, float(w.pop.offset[pos[0]]))
    c_ts = office_times(rng, offs, ci, spill=0.3) if spec.theme == "newsroom" else local_times(rng, offs)
    c_acc = np.full(n_calls, hub) if spec.hub_kind == PAGE else members[rng.integers(0, n_admin, n_calls)]
    venue = -1 if spec.hub_kind == PAGE else hub
    arts = w.vocab.add_articles(domain, n_calls)
    has_link = rng.random(n_calls) < spec.link_p
    tn, tk = text_columns(rng, n_calls, 6, 18)
    calls = EventBatch.make(
        p, c_acc, c_ts, POST, text_n=tn, text_key=tk, topic=topic, venue=venue,
        urls=Multi.single(has_link, url_codes(rng, arts, p, messy=0.3)),
        hashtags=hashtags_multi(rng, w.vocab, n_calls, 0.2, 2, tag_idx, 0.85),
        images=image_multi(rng, w.vocab, n_calls, 0.5 if p == FB else 1.0, popular_p=0.0),
    )
    c_gid = w.log.add(calls, "authentic")
    n_events = n_calls

    # Answers: each member has their own propensity; delays are human (minutes to hours).
    prop = np.clip(rng.beta(1.5, 1.5 / spec.participation - 1.5, k), 0.01, 0.95)
    ci_idx, mi_idx = np.nonzero(rng.random((n_calls, k)) < prop[None, :])
    n = len(ci_idx)
    acc = members[mi_idx]
    ts = c_ts[ci_idx] + delays(rng, n, spec.delay_s, 1.3, min_s=20)
    if p == FB:
        act = rng.choice(np.array([SHARE, COMMENT, REACT, POST], np.int8), size=n, p=[0.45, 0.2, 0.25, 0.1])
    else:
        act = rng.choice(np.array([COMMENT, REACT, POST], np.int8), size=n, p=[0.4, 0.45, 0.15])
    tn, tk = text_columns(rng, n, 2, 14)
    tn[act == REACT] = 0
    tn[(act == SHARE) & (rng.random(n) < 0.5)] = 0
    is_post = act == POST
    # Own posts repeat the call's link (newsroom staff share their articles) with the hashtags.
    link = is_post & has_link[ci_idx]
    w.log.add(EventBatch.make(
        p, acc, ts, act, text_n=tn, text_key=tk, topic=np.where(is_post, topic, 0),
        reposted=np.where(act == SHARE, c_gid[ci_idx], -1),
        replied=np.where((act == COMMENT) | (act == REACT), c_gid[ci_idx], -1),
        urls=Multi.single(link, url_codes(rng, arts[ci_idx], p)),
        hashtags=Multi.where(is_post | (act == COMMENT),
                             hashtags_multi(rng, w.vocab, n, 0.1, 2, tag_idx, 0.7), Multi.empty(n)),
    ), "authentic")
    n_events += n

    # Members also use the campaign hashtags on their own schedule.
    per = rng.poisson(2.0, k)
    mm = np.repeat(np.arange(k), per)
    ts = local_times(rng, w.pop.offset[pos[mm]], w.pop.shift[pos[mm]])
    tn, tk = text_columns(rng, len(mm), 4, 20)
    w.log.add(EventBatch.make(
        p, members[mm], ts, POST, text_n=tn, text_key=tk, topic=topic,
        hashtags=hashtags_multi(rng, w.vocab, len(mm), 0.3, 2, tag_idx, 1.0),
        images=image_multi(rng, w.vocab, len(mm), 0.3 if p == FB else 1.0),
    ), "authentic")
    w.nets.nets[net].n_events = n_events + len(mm)

    # Shared places: the newsroom office and the campaign office put members behind one address.
    if spec.theme in ("newsroom", "party volunteers"):
        share = 1.0 if spec.theme == "newsroom" else 0.25
        who = pos[rng.random(k) < share]
        office = w.ips.take(ci, 2)
        per = rng.integers(3, 12, len(who))
        ww = np.repeat(who, per)
        s_ts = office_times(rng, w.pop.offset[ww], ci)
        dev = np.where(w.infra.desktop[ww] >= 0, w.infra.desktop[ww], w.infra.phone[ww])
        w.sessions.add(w.pop.users[ww], s_ts, office[rng.integers(0, 2, len(ww))], dev, ci)
