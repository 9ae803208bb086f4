"""Spam networks: bulk-made bots pushing clickbait links into many groups.

Bots are created in one burst, have templated handles (``deals_4821``), templated display names,
no bios and almost no audience. They post links to a few monetised domains, mostly into
Facebook groups, in bursts around the clock, with templated text and recycled images. One
network works Instagram instead, commenting under popular posts. Sessions come from a few
cloud addresses and emulators that share one user agent. ``truth`` lists them as
``network_kind=spam`` with role ``spam_bot`` and no operator.
"""

from __future__ import annotations

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

__all__ = ["SPAM_PLAN", "plant_spam"]

#: (origin, platform, hosting country) of each spam network.
SPAM_PLAN: tuple[tuple[str, int, str], ...] = (
    ("PH", FB, "SG"), ("NG", FB, "US"), ("IN", FB, "NL"), ("PK", IG, "SG"),
)
_DOMAIN_WORDS = ("deals", "viral", "news24", "offers", "trend", "wow", "buzz", "giveaway", "shop")
_TLDS = (".shop", ".xyz", ".online", ".club", ".site")
_NAMES = ("Deals Hub", "Best Offers", "Daily Deals", "Shop Now", "Lucky Winner", "Trending Now",
          "Viral Today", "Giveaway Club")


def plant_spam(rng: np.random.Generator, w: World) -> None:
    """Plant all spam networks into the world.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    """
    for i, ((origin, platform, host), sub) in enumerate(zip(SPAM_PLAN, rng.spawn(len(SPAM_PLAN)), strict=True)):
        _network(sub, w, i, country_index(origin), platform, country_index(host))


def _network(rng: np.random.Generator, w: World, i: int, origin: int, p: int, host: int) -> None:
    n = int(rng.integers(40, 130))
    pattern = int(rng.integers(0, 100))
    nums = rng.choice(9000, size=n, replace=False) + 1000
    handles = [spam_handle(pattern, int(x)) for x in nums]
    base = _NAMES[pattern % len(_NAMES)]
    names = [f"{base} {int(x) % 100}" if rng.random() < 0.7 else base for x in nums]
    created = START - int(rng.integers(10, 60)) * DAY + rng.integers(0, int(rng.integers(1, 7)) * 3600, n)
    bots = w.reg.add(
        n, platform=p, kind=0, country=origin, offset=0.0, created=created, handle_style=99,
        custom_handle=w.reg.intern(handles), custom_name=w.reg.intern(names),
        followers=rng.lognormal(2.0, 0.8, n).astype(np.int64),
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
    in_burst = rng.random(m) < 0.7
    ts = np.where(in_burst, bursts[rng.integers(0, len(bursts), m)] + rng.integers(0, 1800, m),
                  START + rng.integers(0, SPAN, m))
    templates = (rng.integers(6, 14, 5).astype(np.uint8), rng.integers(1, 2**62, 5))
    j = rng.integers(0, 5, m)
    edit = np.where(rng.random(m) < 0.5, rng.integers(1, 2**62, m), 0)
    spam_imgs = rng.integers(0, 2**62, 3)
    img = near_duplicate_images(rng, spam_imgs[rng.integers(0, 3, m)], max_bits=2)
    has_img = rng.random(m) < 0.6
    urls = Multi(np.ones(m, dtype=np.int32), url_codes(rng, arts[rng.integers(0, len(arts), m)], p, messy=0.3))
    common = dict(text_n=templates[0][j], text_key=templates[1][j], text_edit=edit, urls=urls,
                  hashtags=hashtags_multi(rng, w.vocab, m, 0.0, 1, tag_idx, 0.8),
                  images=Multi.single(has_img, img))
    if p == FB:
        groups = w.pop.groups
        venue = np.where(rng.random(m) < 0.85, groups[rng.integers(0, len(groups), m)], -1)
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

