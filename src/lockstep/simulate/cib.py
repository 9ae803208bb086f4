"""CIB operations: who runs them, and the fake accounts, pages and groups they set up.

Each operation has an origin country (where its operators sit) and a target country (whom its
assets pretend to be). Operators are real, years-old personal accounts recruited from the
ordinary population of the origin country, some with a bio naming their employer. Fakes are
created in bursts and pose as locals of the target; pages and groups pose as independent local
outlets. Operators hold admin roles on the pages and groups (in tier 3 sometimes a fake does).
Behaviour is in :mod:`lockstep.simulate.cib_activity`, infrastructure in
:mod:`lockstep.simulate.cib_infra`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounts import N_HANDLE_STYLES
from .config import DAY, FB, GROUP, IG, PAGE, START
from .geo import COUNTRIES, COUNTRY_CODES, country_index
from .names import BRAND_WORDS, EMPLOYERS, employer_bio, group_name, outlet_name, slug
from .networks import NetworkInfo
from .population import YEAR, draw_people
from .tiers import TIERS, TierParams
from .vocab import camel
from .world import World

__all__ = ["OP_CANDIDATES", "Operation", "plan_operations"]

#: (origin, target) pairs each tier draws its operations from.
OP_CANDIDATES: dict[int, tuple[tuple[str, str], ...]] = {
    1: (("PK", "PK"), ("IN", "IN"), ("BR", "BR"), ("PK", "IN"), ("NG", "NG"), ("IN", "PK")),
    2: (("IN", "PK"), ("IR", "GB"), ("RU", "DE"), ("PK", "GB"), ("PH", "US"), ("IR", "IN")),
    3: (("RU", "US"), ("IR", "US"), ("RU", "DE"), ("PK", "US"), ("RU", "GB"), ("IN", "US")),
}
OPS_PER_TIER = 4
_PERSONA = ("Proud {c} patriot", "Love my country", "Truth seeker", "Mother. Patriot. {c}",
            "Student | {c}", "Just a simple person from {p}", "Citizen journalist", "{p} born and raised",
            "Nation first", "Speak the truth", "Housewife from {p}", "Farmer's son")


@dataclass
class Operation:
    """Everything about one CIB operation that its behaviour and sessions need.

    Attributes
    ----------
    net : int
        Network number.
    tier : int
        Sophistication (1 crude, 3 sophisticated).
    params : TierParams
        Behaviour parameters of the tier.
    origin, target : int
        Country indices.
    origin_offset, target_offset : float
        UTC offsets of the operators' office and of the audience.
    operators : numpy.ndarray
        Operators' Facebook accounts.
    operator_pos : numpy.ndarray
        Their positions in ``Population.users``.
    operators_ig : numpy.ndarray
        Their Instagram accounts (created when the operation uses Instagram), else empty.
    fakes, fake_platform, fake_op : numpy.ndarray
        Fake accounts, their platform, and which operator (0-based) runs each.
    pages, page_platform, page_op : numpy.ndarray
        Pages (on Instagram: professional accounts).
    groups : numpy.ndarray
        Facebook groups.
    tags : numpy.ndarray
        Campaign hashtag indices.
    articles : numpy.ndarray
        Articles on the operation's own sites.
    topic : int
        Topic of its texts.
    rng : numpy.random.Generator
        The operation's own random stream (its behaviour and sessions draw from it).
    """

    net: int
    tier: int
    params: TierParams
    origin: int
    target: int
    origin_offset: float
    target_offset: float
    operators: np.ndarray
    operator_pos: np.ndarray
    operators_ig: np.ndarray
    fakes: np.ndarray
    fake_platform: np.ndarray
    fake_op: np.ndarray
    pages: np.ndarray
    page_platform: np.ndarray
    page_op: np.ndarray
    groups: np.ndarray
    tags: np.ndarray
    articles: np.ndarray
    topic: int
    rng: np.random.Generator


def _creation_bursts(rng: np.random.Generator, n: int, tp: TierParams) -> np.ndarray:
    k = int(rng.integers(tp.bursts[0], tp.bursts[1] + 1))
    centres = START - rng.uniform(tp.created_days_ago[0], tp.created_days_ago[1], k) * DAY
    which = rng.integers(0, k, n)
    return (centres[which] + rng.random(n) * tp.burst_span_h * 3600).astype(np.int64)


def _operators(rng: np.random.Generator, w: World, origin: int, tp: TierParams,
               employer: str) -> tuple[np.ndarray, np.ndarray]:
    n_ops = int(rng.integers(tp.operators[0], tp.operators[1] + 1))
    pos = w.recruit(rng, FB, origin, n_ops, min_age_years=6.0, weight_power=0.0)
    ops = w.pop.users[pos]
    names_employer = rng.random(len(ops)) < tp.employer_bio_p
    if names_employer.any():
        bios = w.reg.intern([employer_bio(rng, employer) for _ in range(int(names_employer.sum()))])
        w.reg.set("bio", ops[names_employer], bios)
    w.reg.set("claimed", ops, origin)
    return ops, pos


def plan_operations(
    rng: np.random.Generator, w: World, tiers: dict[int, TierParams] | None = None,
    ops_per_tier: dict[int, int] | None = None,
) -> list[Operation]:
    """Create the accounts, roles and ground truth of every CIB operation.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    tiers : dict[int, TierParams], optional
        Parameters per tier (:data:`~lockstep.simulate.tiers.TIERS` when omitted).
    ops_per_tier : dict[int, int], optional
        Operations per tier (at most 6; :data:`OPS_PER_TIER` each when omitted).

    Returns
    -------
    list[Operation]
        The operations, tier 1 first.
    """
    ops: list[Operation] = []
    employers = list(rng.permutation(EMPLOYERS))
    used_names: set[str] = set()
    for tier in (1, 2, 3):
        tp = (tiers or TIERS)[tier]
        cands = OP_CANDIDATES[tier]
        k = OPS_PER_TIER if ops_per_tier is None else ops_per_tier.get(tier, 0)
        for ci in rng.permutation(len(cands))[:k]:
            origin_code, target_code = cands[int(ci)]
            employer = str(employers[len(ops) % len(employers)])
            sub = rng.spawn(1)[0]
            ops.append(_plan_one(sub, w, len(ops), tier, tp, country_index(origin_code),
                                 country_index(target_code), employer, used_names))
    return ops


def _plan_one(rng: np.random.Generator, w: World, i: int, tier: int, tp: TierParams, origin: int,
              target: int, employer: str, used: set[str]) -> Operation:
    reg = w.reg
    tgt = COUNTRIES[target]
    origin_offset = float(COUNTRIES[origin].offsets[0])
    target_offset = float(rng.choice(np.array(tgt.offsets), p=np.array(tgt.offset_weights)))
    n_assets = int(rng.integers(tp.assets[0], tp.assets[1] + 1))
    uses_ig = rng.random() < 0.6
    info = NetworkInfo(f"cib-{i + 1:02d}", "cib", tier, employer, "", COUNTRY_CODES[origin],
                       COUNTRY_CODES[target])
    net = w.nets.new(info)
    operators, op_pos = _operators(rng, w, origin, tp, employer)
    n_ops = len(operators)

    n_pages = max(2, int(round(n_assets * tp.page_share)))
    n_groups = int(round(n_assets * tp.group_share))
    n_fakes = max(8, n_assets - n_pages - n_groups - n_ops)
    fake_platform = np.where(uses_ig & (rng.random(n_fakes) < tp.ig_share), IG, FB).astype(np.int8)
    page_platform = np.where(uses_ig & (rng.random(n_pages) < tp.ig_share), IG, FB).astype(np.int8)
    page_platform[0] = FB

    # Fakes: local names of the target, created in bursts, persona reuse in tiers 1-2.
    created = _creation_bursts(rng, n_fakes, tp)
    age = (START - created) / YEAR
    styles = rng.permutation(N_HANDLE_STYLES)[: tp.handle_styles]
    if tp.bio_pool:
        places = tgt.places
        persona = [_PERSONA[int(j)].format(c=tgt.code, p=places[int(rng.integers(len(places)))])
                   for j in rng.permutation(len(_PERSONA))[: tp.bio_pool]]
        bios, bio_p = reg.intern(persona), 0.8
    else:
        bios, bio_p = _ordinary_bios(w), 0.35
    if tp.fake_bio_p is not None:
        bio_p = tp.fake_bio_p
    fakes, _ = draw_people(rng, reg, n_fakes, fake_platform, np.full(n_fakes, target), age,
                           bios, bio_p, styles)
    reg.set("created", fakes, created)
    reg.set("country", fakes, origin)
    reg.set("offset", fakes, origin_offset)
    reg.set("claimed", fakes, np.where(rng.random(n_fakes) < tp.claimed_p, target, -1))
    reg.set("followers", fakes, rng.lognormal(tp.followers_log, 0.8, n_fakes).astype(np.int64))
    reg.set("verified", fakes, False)

    # Pages posing as independent local outlets (and a few hobby pages), and local groups.
    p_names = [outlet_name(rng, target, used) if rng.random() < 0.75 else
               f"{w.vocab.words[int(rng.integers(200, 3000))].capitalize()} "
               f"{BRAND_WORDS[int(rng.integers(len(BRAND_WORDS)))]}" for _ in range(n_pages)]
    p_created = np.where(rng.random(n_pages) < tp.old_page_p,
                         START - rng.uniform(2, 6, n_pages) * YEAR, _creation_bursts(rng, n_pages, tp))
    pages = reg.add(
        n_pages, platform=page_platform, kind=PAGE, country=origin, offset=origin_offset,
        created=p_created.astype(np.int64), handle_style=99,
        custom_handle=reg.intern([slug(nm) for nm in p_names]), custom_name=reg.intern(p_names),
        claimed=target, followers=rng.lognormal(7.5, 1.2, n_pages).astype(np.int64),
    )
    g_names = [group_name(rng, target, used) for _ in range(n_groups)]
    groups = reg.add(
        n_groups, platform=FB, kind=GROUP, country=origin, offset=origin_offset,
        created=_creation_bursts(rng, n_groups, tp), custom_name=reg.intern(g_names),
        claimed=np.where(rng.random(n_groups) < 0.5, target, -1),
        followers=rng.lognormal(6.5, 1.0, n_groups).astype(np.int64),
    )

    # Operators' Instagram accounts, when the operation runs Instagram assets.
    ops_ig = np.zeros(0, dtype=np.int64)
    if (fake_platform == IG).any() or (page_platform == IG).any():
        ops_ig = reg.add(
            n_ops, platform=IG, kind=0, country=origin, offset=origin_offset,
            created=(START - rng.uniform(5, 11, n_ops) * YEAR).astype(np.int64),
            first=reg.col("first")[operators], last=reg.col("last")[operators],
            handle_style=rng.integers(0, N_HANDLE_STYLES, n_ops), handle_num=rng.integers(10, 99, n_ops),
            claimed=origin, followers=rng.lognormal(5.5, 1.0, n_ops).astype(np.int64),
        )

    fake_op = rng.integers(0, n_ops, n_fakes)
    page_op = rng.integers(0, n_ops, n_pages)
    group_op = rng.integers(0, n_ops, n_groups)

    def runner(platform: np.ndarray, which: np.ndarray) -> np.ndarray:
        ig = np.asarray(platform) == IG
        fb_run = operators[which]
        return np.where(ig, ops_ig[which] if len(ops_ig) else fb_run, fb_run)

    nets = w.nets
    nets.add_members(net, operators, "operator", operators)
    if len(ops_ig):
        nets.add_members(net, ops_ig, "operator", ops_ig)
    nets.add_members(net, fakes, "fake", runner(fake_platform, fake_op))
    nets.add_members(net, pages, "page", runner(page_platform, page_op))
    nets.add_members(net, groups, "group", operators[group_op])

    # Roles: operators administer the pages and groups; in tier 3 a fake often fronts for them.
    asset = np.concatenate([pages, groups])
    asset_platform = np.concatenate([page_platform, np.full(n_groups, FB, np.int8)])
    holder = runner(asset_platform, np.concatenate([page_op, group_op]))
    front = rng.random(len(asset)) < tp.fake_admin_p
    same_platform_fakes = [fakes[fake_platform == asset_platform[j]] for j in range(len(asset))]
    for j in np.flatnonzero(front):
        if len(same_platform_fakes[j]):
            holder[j] = same_platform_fakes[j][int(rng.integers(len(same_platform_fakes[j])))]
    since = np.maximum(reg.col("created")[asset], START - 3 * YEAR) + rng.integers(0, 30 * DAY, len(asset))
    w.roles.add(holder, asset, "admin", since)
    if tier == 1 and len(fakes):
        editors = fakes[rng.integers(0, len(fakes), len(asset))]
        ok = reg.col("platform")[editors] == asset_platform
        w.roles.add(editors[ok], asset[ok], "editor", since[ok] + DAY)

    # Campaign identity: hashtags, own sites and their articles.
    place = tgt.places[int(rng.integers(len(tgt.places)))]
    theme_words = [w.vocab.words[int(rng.integers(150, 2500))] for _ in range(4)]
    tags = [camel(place, theme_words[0]), camel(theme_words[1], "Truth"), camel(place, "First"),
            camel(theme_words[2], theme_words[3])][: int(rng.integers(2, 5))]
    tag_idx = w.vocab.add_hashtags(tags)
    hosts = [slug(p_names[j], "-") + rng.choice(np.array([".com", ".net", ".info", ".news"]))
             for j in range(min(len(p_names), int(rng.integers(1, 4))))]
    articles = np.concatenate([w.vocab.add_articles(w.vocab.add_domain(h, www=rng.random() < 0.3), 120)
                               for h in hosts])
    info.hashtags, info.domains = tags, hosts
    info.theme = f"{'local news' if tier < 3 else 'politics'} aimed at {tgt.code}"
    return Operation(
        net=net, tier=tier, params=tp, origin=origin, target=target, origin_offset=origin_offset,
        target_offset=target_offset, operators=operators, operator_pos=op_pos, operators_ig=ops_ig,
        fakes=fakes, fake_platform=fake_platform, fake_op=fake_op, pages=pages,
        page_platform=page_platform, page_op=page_op, groups=groups, tags=tag_idx,
        articles=articles, topic=w.vocab.new_topic(), rng=rng,
    )


def _ordinary_bios(w: World) -> np.ndarray:
    """Interned indices of the ordinary bio pool (the first strings interned)."""
    bios = w.reg.col("bio")[w.pop.users]
    return np.unique(bios[bios >= 0])
