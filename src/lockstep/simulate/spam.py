"""Spam networks: bulk-made bots pushing clickbait links into many groups.

Bots are created in one burst, have templated handles (``deals_4821``), templated display names,
no bios and almost no audience. They post links to a few monetised domains, mostly into
Facebook groups, in bursts around the clock, with templated text and recycled images. One
network works Instagram instead, commenting under popular posts. Sessions come from a few
cloud addresses and emulators that share one user agent. ``truth`` lists them as
``network_kind=spam`` with role ``spam_bot`` and no operator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import COMMENT, DAY, FB, IG, POST, SPAN, START
from .content import hashtags_multi, near_duplicate_images, url_codes
from .events import EventBatch, Multi
from .geo import COUNTRY_CODES, country_index
from .infra import EMULATOR
from .names import slug, spam_handle
from .networks import NetworkInfo
from .vocab import camel
from .world import World

__all__ = ["SPAM_PLAN", "SpamStyle", "plant_spam"]

#: (origin, platform, hosting country) of each spam network.
SPAM_PLAN: tuple[tuple[str, int, str], ...] = (
    ("PH", FB, "SG"), ("NG", FB, "US"), ("IN", FB, "NL"), ("PK", IG, "SG"),
)
_DOMAIN_WORDS = ("deals", "viral", "news24", "offers", "trend", "wow", "buzz", "giveaway", "shop")
_TLDS = (".shop", ".xyz", ".online", ".club", ".site")
_NAMES = ("Deals Hub", "Best Offers", "Daily Deals", "Shop Now", "Lucky Winner", "Trending Now",
          "Viral Today", "Giveaway Club")


@dataclass(frozen=True)
class SpamStyle:
    """How one spam network behaves (the defaults are the standard world's).

    Attributes
    ----------
    size : tuple[int, int]
        Range of bot count.
    bio_p : float
        Share of bots with a bio copied from an ordinary person (0: none).
    link_p : float
        Share of posts that carry a link.
    burst_p : float
        Share of posts made in synchronised bursts.
    created_span_h : tuple[int, int]
        Range of the length (hours) of the one creation burst.
    group_p : float
        Share of Facebook posts placed into groups.
    """

    size: tuple[int, int] = (40, 130)
    bio_p: float = 0.0
    link_p: float = 1.0
    burst_p: float = 0.7
    created_span_h: tuple[int, int] = (1, 7)
    group_p: float = 0.85


def plant_spam(
    rng: np.random.Generator, w: World,
    plan: tuple[tuple[str, int, str], ...] = SPAM_PLAN,
    styles: tuple[SpamStyle, ...] | None = None,
) -> None:
    """Plant all spam networks into the world.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    plan : tuple, optional
        ``(origin, platform, hosting country)`` per network.
    styles : tuple of SpamStyle, optional
        Behaviour per network (the standard one when omitted).
    """
    styles = styles if styles is not None else tuple(SpamStyle() for _ in plan)
    for i, ((origin, platform, host), st, sub) in enumerate(
            zip(plan, styles, rng.spawn(len(plan)), strict=True)):
        _network(sub, w, i, country_index(origin), platform, country_index(host), st)


def _network(rng: np.random.Generator, w: World, i: int, origin: int, p: int, host: int,
             st: SpamStyle) -> None:
    n = int(rng.integers(st.size[0], st.size[1]))
    pattern = int(rng.integers(0, 100))
    nums = rng.choice(9000, size=n, replace=False) + 1000
    handles = [spam_handle(pattern, int(x)) for x in nums]
    base = _NAMES[pattern % len(_NAMES)]
    names = [f"{base} {int(x) % 100}" if rng.random() < 0.7 else base for x in nums]
    created = START - int(rng.integers(10, 60)) * DAY + rng.integers(
        0, int(rng.integers(*st.created_span_h)) * 3600, n)
    bio = -1
    if st.bio_p > 0:
        held = w.reg.col("bio")[w.pop.users]
        held = held[held >= 0]
        if len(held):
            bio = np.where(rng.random(n) < st.bio_p, held[rng.integers(0, len(held), n)], -1)
    bots = w.reg.add(
        n, platform=p, kind=0, country=origin, offset=0.0, created=created, handle_style=99,
        custom_handle=w.reg.intern(handles), custom_name=w.reg.intern(names),
        followers=rng.lognormal(2.0, 0.8, n).astype(np.int64), bio=bio,
    )
    k_dom = int(rng.integers(2, 5))
    hosts = [f"{_DOMAIN_WORDS[int(j)]}-{slug(w.vocab.words[int(rng.integers(150, 1500))])}"
             f"{_TLDS[int(rng.integers(len(_TLDS)))]}" for j in rng.permutation(len(_DOMAIN_WORDS))[:k_dom]]
    arts = np.concatenate([w.vocab.add_articles(w.vocab.add_domain(h, style=2), 150) for h in hosts])
    tags = [camel(t) for t in ("giveaway", "deals", "free", "viral")][: int(rng.integers(2, 5))]
    tag_idx = w.vocab.add_hashtags([f"{t}{int(rng.integers(2024, 2027))}" for t in tags])
    net = w.nets.new(NetworkInfo(f"spam-{i + 1:02d}", "spam", None, base, "clickbait links",
                                 COUNTRY_CODES[origin], "", [w.vocab.hashtags[j] for j in tag_idx], hosts))
    w.nets.add_members(net, bots, "spam_bot")

    # Volume: 0.6-2 posts a bot a day, most of them in synchronised bursts.
    per = rng.poisson(rng.uniform(0.6, 2.0, n) * 30)
    b = np.repeat(np.arange(n), per)
    m = len(b)
    bursts = START + rng.integers(0, SPAN, int(rng.integers(15, 40)))
    in_burst = rng.random(m) < st.burst_p
    ts = np.where(in_burst, bursts[rng.integers(0, len(bursts), m)] + rng.integers(0, 1800, m),
                  START + rng.integers(0, SPAN, m))
    templates = (rng.integers(6, 14, 5).astype(np.uint8), rng.integers(1, 2**62, 5))
    j = rng.integers(0, 5, m)
    edit = np.where(rng.random(m) < 0.5, rng.integers(1, 2**62, m), 0)
    spam_imgs = rng.integers(0, 2**62, 3)
    img = near_duplicate_images(rng, spam_imgs[rng.integers(0, 3, m)], max_bits=2)
    has_img = rng.random(m) < 0.6
    urls = Multi(np.ones(m, dtype=np.int32), url_codes(rng, arts[rng.integers(0, len(arts), m)], p, messy=0.3))
    if st.link_p < 1.0:
        urls = Multi.single(rng.random(m) < st.link_p, urls.values)
    common = dict(text_n=templates[0][j], text_key=templates[1][j], text_edit=edit, urls=urls,
                  hashtags=hashtags_multi(rng, w.vocab, m, 0.0, 1, tag_idx, 0.8),
                  images=Multi.single(has_img, img))
    if p == FB:
        groups = w.pop.groups
        venue = np.where(rng.random(m) < st.group_p, groups[rng.integers(0, len(groups), m)], -1)
        w.log.add(EventBatch.make(p, bots[b], ts, POST, venue=venue, **common), "spam")
    else:
        pool = w.organic.posts[IG]
        tgt = pool.pick(rng, ts)
        replied = np.where(tgt >= 0, pool.gid[np.maximum(tgt, 0)], -1)
        act = np.where(tgt >= 0, COMMENT, POST).astype(np.int8)
        w.log.add(EventBatch.make(p, bots[b], ts, act, replied=replied, **common), "spam")
    w.nets.nets[net].n_events = m

    # Sessions: a few cloud addresses, a rack of emulators with one user agent.
    ips = w.ips.take(host, int(rng.integers(3, 12)), datacenter=True)
    devs = w.devices.add(EMULATOR, max(2, n // 8))
    k = 3 + rng.poisson(per / 10)
    s = np.repeat(np.arange(n), k)
    s_ts = START + rng.integers(0, SPAN, len(s))
    w.sessions.add(bots[s], s_ts, ips[rng.integers(0, len(ips), len(s))],
                   devs[s % len(devs)], host)

