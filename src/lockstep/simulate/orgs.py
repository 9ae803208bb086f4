"""Organisations that run many pages in the open: newsroom and brand social desks, agencies.

* A social desk: one team schedules the same link on many pages that say who runs them (a
  newspaper's sections and regional editions, a brand's country pages), within minutes, from
  the office address and a few shared computers. The team and the pages are planted as an
  ``authentic`` network in ``truth`` (coordinated, not deceptive).
* A social-media agency: one person (sometimes two or three) administers many unrelated
  clients' pages with declared roles, and schedules the clients' posts on the quarter hour
  from the agency's office. The agency staff and the client pages stay ordinary (no ``truth``).
"""

from __future__ import annotations

import numpy as np

from .config import FB, IG, PAGE, POST, START
from .content import image_multi, text_columns, url_codes
from .events import EventBatch, Multi
from .geo import COUNTRIES
from .infra import DESKTOP
from .names import slug
from .networks import NetworkInfo
from .population import YEAR
from .rhythm import office_times
from .style import PopulationStyle
from .world import World

__all__ = ["agencies", "social_desks"]

_DESK_SECTIONS = ("News", "Sport", "Politics", "Business", "Culture", "Opinion", "Local",
                  "Weather", "Tech", "Travel", "Food", "Live", "Video", "Science")
_ORG_WORDS = ("Daily", "Herald", "Tribune", "Post", "Group", "Media", "Brands", "Foods", "Motors")


def _office(rng: np.random.Generator, w: World, staff_pos: np.ndarray, ci: int, n_dev: int) -> int:
    """Office sessions of staff: a couple of office addresses, a few shared computers."""
    office = w.ips.take(ci, 2)
    shared = w.devices.add(DESKTOP, n_dev)
    per = rng.integers(8, 25, len(staff_pos))
    pos = np.repeat(staff_pos, per)
    ts = office_times(rng, w.pop.offset[pos], ci)
    dev = np.where(rng.random(len(pos)) < 0.6, shared[rng.integers(0, n_dev, len(pos))], w.infra.phone[pos])
    w.sessions.add(w.pop.users[pos], ts, office[rng.integers(0, 2, len(pos))], dev, ci)
    return len(pos)


def social_desks(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """Plant newsroom and brand social desks (``authentic`` networks).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``desks`` and ``desk_pages``.

    Returns
    -------
    dict[str, int]
        ``desks``, ``desk_pages`` and ``desk_posts``.
    """
    people = [i for i, c in enumerate(COUNTRIES) if c.user_weight > 0]
    n_pages_all = posts_all = made = 0
    for d in range(style.desks):
        ci = int(people[int(rng.integers(len(people)))])
        staff_pos = w.recruit(rng, FB, ci, int(rng.integers(3, 15)), min_age_years=1.0)
        if len(staff_pos) < 2:
            continue
        staff = w.pop.users[staff_pos]
        org = f"{COUNTRIES[ci].places[int(rng.integers(len(COUNTRIES[ci].places)))]} " \
              f"{_ORG_WORDS[int(rng.integers(len(_ORG_WORDS)))]}"
        k = int(rng.integers(style.desk_pages[0], style.desk_pages[1] + 1))
        sections = rng.permutation(len(_DESK_SECTIONS))[:k]
        names = [f"{org} {_DESK_SECTIONS[int(j)]}" for j in sections]
        if len(names) < k:
            names += [f"{org} {i}" for i in range(k - len(names))]
        plat = np.where(rng.random(len(names)) < 0.7, FB, IG).astype(np.int8)
        plat[0] = FB
        pages = w.reg.add(
            len(names), platform=plat, kind=PAGE, country=ci, offset=float(COUNTRIES[ci].offsets[0]),
            created=(START - rng.uniform(2, 12, len(names)) * YEAR).astype(np.int64), handle_style=99,
            custom_handle=w.reg.intern([slug(nm) for nm in names]), custom_name=w.reg.intern(names),
            claimed=ci, followers=rng.lognormal(10.0, 1.2, len(names)).astype(np.int64),
            verified=rng.random(len(names)) < 0.6,
        )
        host = slug(org, "-") + ".com"
        domain = w.vocab.add_domain(host, www=True, style=1)
        net = w.nets.new(NetworkInfo(f"desk-{d + 1:02d}", "authentic", None, org, "social desk",
                                     COUNTRIES[ci].code, COUNTRIES[ci].code, [], [host]))
        w.nets.add_members(net, pages, "page")
        w.nets.add_members(net, staff, "member")
        # Declared roles: every staff member edits every page.
        hold = np.repeat(staff, len(pages))
        asset = np.tile(pages, len(staff))
        since = (START - rng.uniform(0.2, 3.0, len(hold)) * YEAR).astype(np.int64)
        role = np.where(rng.random(len(hold)) < 0.3, 1, 2).astype(np.int8)
        w.roles.add(hold, asset, role, since)
        # Articles, each scheduled on several pages within minutes.
        n_art = int(rng.integers(3, 15) * 30)
        arts = w.vocab.add_articles(domain, n_art)
        t0 = office_times(rng, np.full(n_art, float(COUNTRIES[ci].offsets[0])), ci, spill=0.2)
        n_on = np.minimum(len(pages), 2 + rng.poisson(len(pages) * 0.3, n_art))
        a = np.repeat(np.arange(n_art), n_on)
        pg = np.concatenate([rng.permutation(len(pages))[:m] for m in n_on])
        ts = t0[a] + rng.integers(0, 600, len(a))
        keys = rng.integers(1, 2**62, n_art)
        edit = np.where(rng.random(len(a)) < 0.4, rng.integers(1, 2**62, len(a)), 0)
        p = plat[pg]
        urls = Multi.single(p == FB, url_codes(rng, arts[a], p, messy=0.2))
        imgs = image_multi(rng, w.vocab, len(a), 0.6, popular_p=0.0)
        for q in (FB, IG):
            s = p == q
            if s.any():
                w.log.add(EventBatch.make(q, pages[pg[s]], ts[s], POST, text_n=np.full(int(s.sum()), 14),
                                          text_key=keys[a[s]], text_edit=edit[s],
                                          urls=urls.take(np.flatnonzero(s)), images=imgs.take(np.flatnonzero(s))),
                          "authentic")
        w.nets.nets[net].n_events = len(a)
        _office(rng, w, staff_pos, ci, int(rng.integers(1, 4)))
        n_pages_all += len(pages)
        posts_all += len(a)
        made += 1
    return {"desks": made, "desk_pages": n_pages_all, "desk_posts": posts_all}


def agencies(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """Agencies administering unrelated clients' pages (ordinary).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``agencies_per_100k`` and ``agency_clients``.

    Returns
    -------
    dict[str, int]
        ``agencies``, ``agency_clients`` and ``agency_posts``.
    """
    pop = w.pop
    n = max(1, int(round(style.agencies_per_100k * len(pop.users) / 100_000)))
    clients_all = posts = 0
    free = np.ones(len(pop.pages), bool)
    for _ in range(n):
        cand = np.flatnonzero(free)
        k = int(rng.integers(style.agency_clients[0], style.agency_clients[1] + 1))
        if len(cand) < k:
            break
        clients = cand[rng.choice(len(cand), k, replace=False)]
        free[clients] = False
        home = int(pop.page_country[clients[0]])
        staff_pos = np.flatnonzero((pop.country == home) & (pop.platform == FB))
        if not len(staff_pos):
            continue
        staff_pos = staff_pos[rng.choice(len(staff_pos), min(len(staff_pos), int(rng.integers(1, 4))), replace=False)]
        staff = pop.users[staff_pos]
        hold = np.repeat(staff, k)
        asset = np.tile(pop.pages[clients], len(staff))
        w.roles.add(hold, asset, np.where(rng.random(len(hold)) < 0.5, 1, 2).astype(np.int8),
                    (START - rng.uniform(0.1, 4.0, len(hold)) * YEAR).astype(np.int64))
        # Scheduled client posts on the quarter hour, in the agency's office hours.
        per = rng.integers(10, 40, k)
        c = np.repeat(clients, per)
        ts = office_times(rng, np.full(len(c), float(pop.offset[staff_pos[0]])), home)
        ts = ts - ts % 900
        p = pop.page_platform[c]
        arts = w.vocab.articles_of(rng, pop.page_domain[c])
        tn, tk = text_columns(rng, len(c), 8, 20)
        has = rng.random(len(c)) < 0.6
        for q in (FB, IG):
            s = p == q
            if s.any():
                w.log.add(EventBatch.make(q, pop.pages[c[s]], ts[s], POST, text_n=tn[s], text_key=tk[s],
                                          urls=Multi.single(has[s] & (q == FB), url_codes(rng, arts[s], q)),
                                          images=image_multi(rng, w.vocab, int(s.sum()), 0.7, popular_p=0.0)),
                          "ordinary")
        _office(rng, w, staff_pos, home, int(rng.integers(1, 3)))
        clients_all += k
        posts += len(c)
    return {"agencies": n, "agency_clients": clients_all, "agency_posts": posts}
