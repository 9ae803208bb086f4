"""The ordinary population: people on each platform, and the pages and groups they follow.

People differ in country, time zone, personal rhythm, activity (heavy-tailed), age of account
and audience. Pages are outlets and brands with their own web domain; groups are local
communities on Facebook. Page and group admins are ordinary people (see ``roles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounts import N_HANDLE_STYLES, AccountRegistry, name_offsets
from .config import DAY, FB, GROUP, IG, PAGE, START, USER
from .geo import COUNTRIES, sample_offsets
from .names import BRAND_WORDS, bio_pool, group_name, outlet_name, slug
from .networks import RoleLog
from .sampling import pick_in_segments, segment_bounds
from .vocab import Vocabulary

__all__ = ["PLATFORM_SHARE", "YEAR", "Population", "build_population", "draw_people", "ordinary_roles"]

#: Share of ordinary people on facebook, instagram and x.
PLATFORM_SHARE = np.array([0.55, 0.33, 0.12])
YEAR = 365.25 * DAY


@dataclass
class Population:
    """Ordinary accounts and their hidden attributes.

    Attributes
    ----------
    users : numpy.ndarray
        Registry indices of ordinary people.
    platform, country : numpy.ndarray
        Per person.
    offset, shift : numpy.ndarray
        UTC offset and personal rhythm shift (hours), per person.
    activity : numpy.ndarray
        Relative activity (lognormal), per person.
    created : numpy.ndarray
        Creation time, per person.
    pages, page_platform, page_country, page_domain : numpy.ndarray
        Ordinary pages and their attributes.
    groups, group_country : numpy.ndarray
        Ordinary Facebook groups.
    """

    users: np.ndarray
    platform: np.ndarray
    country: np.ndarray
    offset: np.ndarray
    shift: np.ndarray
    activity: np.ndarray
    created: np.ndarray
    pages: np.ndarray
    page_platform: np.ndarray
    page_country: np.ndarray
    page_domain: np.ndarray
    groups: np.ndarray
    group_country: np.ndarray

    def candidates(
        self, platform: int, country: int | None = None, created_before: int | None = None
    ) -> np.ndarray:
        """Positions (into :attr:`users`) of people matching the filters.

        Parameters
        ----------
        platform : int
            Platform code.
        country : int, optional
            Country index.
        created_before : int, optional
            Only accounts created before this time.

        Returns
        -------
        numpy.ndarray
            Positions.
        """
        m = self.platform == platform
        if country is not None:
            m &= self.country == country
        if created_before is not None:
            m &= self.created < created_before
        return np.flatnonzero(m)


def draw_people(
    rng: np.random.Generator, reg: AccountRegistry, n: int, platform: np.ndarray,
    country: np.ndarray, age_years: np.ndarray, bios: np.ndarray | None = None,
    bio_p: float = 0.35, handle_styles: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Register ``n`` person accounts with names, handles and audiences.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    reg : AccountRegistry
        Registry to add to.
    n : int
        Number of people.
    platform, country : numpy.ndarray
        Per person.
    age_years : numpy.ndarray
        Age of each account at the start of the period.
    bios : numpy.ndarray, optional
        Interned bio strings to draw from.
    bio_p : float, optional
        Share with a bio.
    handle_styles : numpy.ndarray, optional
        Handle styles to draw from (all styles when omitted).

    Returns
    -------
    idx : numpy.ndarray
        Registry indices.
    offset : numpy.ndarray
        UTC offset of each person.
    """
    fs, ls = name_offsets()
    n_first = np.array([len(c.first_names) for c in COUNTRIES])[country]
    n_last = np.array([len(c.last_names) for c in COUNTRIES])[country]
    first = fs[country] + np.floor(rng.random(n) * n_first).astype(np.int64)
    last = ls[country] + np.floor(rng.random(n) * n_last).astype(np.int64)
    styles = handle_styles if handle_styles is not None else np.arange(N_HANDLE_STYLES)
    style = styles[rng.integers(0, len(styles), n)].astype(np.int8)
    # Half of Facebook profiles have no vanity handle.
    style[(platform == FB) & (rng.random(n) < 0.5)] = -1
    bio = np.full(n, -1, dtype=np.int32)
    if bios is not None and len(bios):
        has = rng.random(n) < bio_p
        bio[has] = bios[rng.integers(0, len(bios), int(has.sum()))]
    followers = rng.lognormal(5.0, 1.4, n).astype(np.int64)
    verified = (followers > 150_000) & (rng.random(n) < 0.5)
    offset = sample_offsets(rng, country)
    claimed = np.where(rng.random(n) < 0.12, country, -1)
    idx = reg.add(
        n, platform=platform, kind=USER, country=country, offset=offset,
        created=(START - age_years * YEAR).astype(np.int64), first=first, last=last,
        handle_style=style, handle_num=0, bio=bio, claimed=claimed, followers=followers,
        verified=verified,
    )
    digits = rng.integers(2, 5, n)
    reg.set("handle_num", idx, AccountRegistry.handle_numbers(idx, digits))
    return idx, offset


def _ages(rng: np.random.Generator, platform: np.ndarray) -> np.ndarray:
    age = rng.gamma(2.2, 2.8, len(platform)) + rng.random(len(platform)) * 0.3
    cap = np.array([18.5, 15.3, 19.5])[platform]
    return np.clip(age, 0.02, cap)


def build_population(
    rng: np.random.Generator, reg: AccountRegistry, vocab: Vocabulary, n_users: int
) -> Population:
    """Create the ordinary people, pages and groups.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    reg : AccountRegistry
        Registry to add to.
    vocab : Vocabulary
        Gives pages their home domains.
    n_users : int
        Number of ordinary people.

    Returns
    -------
    Population
        The population.
    """
    weights = np.array([c.user_weight for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n_users, p=weights / weights.sum())
    platform = rng.choice(3, size=n_users, p=PLATFORM_SHARE)
    bios = reg.intern(bio_pool(rng, 6000))
    age = _ages(rng, platform)
    users, offset = draw_people(rng, reg, n_users, platform, country, age, bios)
    shift = rng.normal(0.0, 1.3, n_users)
    activity = rng.lognormal(0.0, 1.35, n_users)

    # Pages: news outlets and brands with their own domain.
    n_pages = max(60, n_users // 80)
    p_country = rng.choice(len(COUNTRIES), size=n_pages, p=weights / weights.sum())
    p_platform = np.where(rng.random(n_pages) < 0.72, FB, IG)
    used: set[str] = set()
    names: list[str] = []
    for i in range(n_pages):
        if rng.random() < 0.6:
            names.append(outlet_name(rng, int(p_country[i]), used))
        else:
            w = vocab.words[int(rng.integers(len(vocab.words)))].capitalize()
            name = f"{w} {BRAND_WORDS[int(rng.integers(len(BRAND_WORDS)))]}"
            if name in used:
                name = f"{name} {COUNTRIES[int(p_country[i])].code}"
            used.add(name)
            names.append(name)
    handles = [slug(nm) + (str(i % 97) if i % 4 == 0 else "") for i, nm in enumerate(names)]
    p_age = rng.gamma(2.0, 3.0, n_pages) + 0.5
    p_followers = rng.lognormal(9.0, 1.8, n_pages).astype(np.int64)
    pages = reg.add(
        n_pages, platform=p_platform, kind=PAGE, country=p_country,
        offset=sample_offsets(rng, p_country), created=(START - np.minimum(p_age, 15) * YEAR).astype(np.int64),
        handle_style=99, custom_handle=reg.intern(handles), custom_name=reg.intern(names),
        claimed=np.where(rng.random(n_pages) < 0.7, p_country, -1), followers=p_followers,
        verified=(p_followers > 50_000) & (rng.random(n_pages) < 0.4),
    )
    page_domain = vocab.domain_zipf.draw(rng, n_pages)

    # Groups: local communities on Facebook (venues, they do not act themselves).
    n_groups = max(40, n_users // 120)
    g_country = rng.choice(len(COUNTRIES), size=n_groups, p=weights / weights.sum())
    g_names = [group_name(rng, int(c), used) for c in g_country]
    g_age = rng.gamma(2.0, 2.5, n_groups) + 0.3
    groups = reg.add(
        n_groups, platform=FB, kind=GROUP, country=g_country, offset=sample_offsets(rng, g_country),
        created=(START - np.minimum(g_age, 15) * YEAR).astype(np.int64), custom_name=reg.intern(g_names),
        claimed=np.where(rng.random(n_groups) < 0.3, g_country, -1),
        followers=rng.lognormal(7.0, 1.5, n_groups).astype(np.int64),
    )
    return Population(
        users=users, platform=platform, country=country, offset=offset, shift=shift,
        activity=activity, created=reg.col("created")[users], pages=pages,
        page_platform=p_platform, page_country=p_country, page_domain=page_domain,
        groups=groups, group_country=g_country,
    )


def ordinary_roles(rng: np.random.Generator, pop: Population, reg: AccountRegistry, roles: RoleLog) -> None:
    """Give each ordinary page and group one to three admins from its platform and country.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    pop : Population
        The population (pages, groups and candidate admins).
    reg : AccountRegistry
        Account attributes.
    roles : RoleLog
        Receives the rows.
    """
    n_c = len(COUNTRIES)
    key = pop.platform.astype(np.int64) * n_c + pop.country
    order = np.argsort(key, kind="stable")
    bounds = segment_bounds(key[order], 3 * n_c)
    assets = np.concatenate([pop.pages, pop.groups])
    a_key = reg.col("platform")[assets].astype(np.int64) * n_c + reg.col("country")[assets]
    k = rng.integers(1, 4, len(assets))
    a = np.repeat(np.arange(len(assets)), k)
    pos = pick_in_segments(rng, bounds, a_key[a])
    ok = pos >= 0
    holder = pop.users[order[pos[ok]]]
    asset = assets[a[ok]]
    first = np.r_[True, a[ok][1:] != a[ok][:-1]]
    role = np.where(first, 0, np.where(rng.random(len(asset)) < 0.6, 1, 2)).astype(np.int8)
    _, uniq = np.unique(asset * reg.n + holder, return_index=True)
    uniq.sort()
    holder, asset, role = holder[uniq], asset[uniq], role[uniq]
    since = np.maximum(reg.col("created")[asset], reg.col("created")[holder]) + rng.integers(0, 400 * DAY, len(asset))
    roles.add(holder, asset, role, np.minimum(since, START - DAY))
