"""People, not accounts: generic bios, one person's accounts on several platforms, family and
class sign-ups.

These change the ordinary population of a randomised world before anything acts:

* generic bios from a small template vocabulary (a job title, "Living in <city>", two hobbies,
  a flag and a hobby, a slogan) drawn by a Zipf law, so thousands share the commonest;
* cross-platform twins: a person's Facebook and Instagram accounts (sometimes X too), with the
  same name, the same or a similar handle, often the same bio, both long-lived; the sessions
  module gives them the person's own phone, computer and home address;
* children's accounts made one evening by a parent, and a class or a new intake made to sign
  up on one day at a workplace or campus (creation bursts that are not operations).

Nobody here is in ``truth``.
"""

from __future__ import annotations

import numpy as np

from .accounts import N_HANDLE_STYLES, AccountRegistry
from .config import DAY, FB, IG, START, USER, X
from .geo import COUNTRIES
from .population import YEAR, Population
from .sampling import ZipfSampler
from .style import PopulationStyle

__all__ = ["JOBS", "HOBBIES", "SLOGANS", "add_twins", "assign_bios", "generic_bios", "signup_bursts"]

JOBS = ("Teacher", "Nurse", "Software engineer", "Student", "Accountant", "Doctor", "Lawyer",
        "Engineer", "Designer", "Photographer", "Chef", "Mechanic", "Electrician", "Driver",
        "Entrepreneur", "Marketing manager", "Sales", "Pharmacist", "Architect", "Farmer",
        "Civil servant", "Retired", "Barista", "Developer", "Banker", "Police officer",
        "Social worker", "Journalist", "Consultant", "Graphic designer")
HOBBIES = ("Football", "Music", "Travel", "Coffee", "Books", "Cooking", "Running", "Gaming",
           "Photography", "Movies", "Cricket", "Hiking", "Fitness", "Dogs", "Cats", "Art",
           "Fashion", "Yoga", "Cycling", "Fishing", "Gardening", "Dancing", "Anime", "Cars")
SLOGANS = ("Family first", "God is good", "Live laugh love", "Blessed", "Good vibes only",
           "Living my best life", "Carpe diem", "Stay humble", "Dream big", "No bad days")


def _flag(code: str) -> str:
    return "".join(chr(0x1F1E6 + ord(c) - 65) for c in code)


def generic_bios(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct generic bios, in the order of their popularity rank.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Pool size.

    Returns
    -------
    list[str]
        Bios such as ``"Teacher"``, ``"Living in Lagos"``, ``"Music & Travel"``.
    """
    places = [(c.code, p) for c in COUNTRIES if c.user_weight > 0 for p in c.places]
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(n * 20):
        if len(out) >= n:
            break
        kind = int(rng.integers(6))
        if kind == 0:
            b = JOBS[int(rng.integers(len(JOBS)))]
        elif kind == 1:
            b = f"Living in {places[int(rng.integers(len(places)))][1]}"
        elif kind == 2:
            a, c = rng.choice(len(HOBBIES), 2, replace=False)
            b = f"{HOBBIES[int(a)]} & {HOBBIES[int(c)]}"
        elif kind == 3:
            code = places[int(rng.integers(len(places)))][0]
            b = f"{_flag(code)} {HOBBIES[int(rng.integers(len(HOBBIES)))]}"
        elif kind == 4:
            b = SLOGANS[int(rng.integers(len(SLOGANS)))]
        else:
            b = f"{JOBS[int(rng.integers(len(JOBS)))]} | {HOBBIES[int(rng.integers(len(HOBBIES)))]}"
        if b not in seen:
            seen.add(b)
            out.append(b)
    return out


def assign_bios(rng: np.random.Generator, reg: AccountRegistry, pop: Population,
                style: PopulationStyle) -> np.ndarray:
    """Give a share of ordinary people a generic bio (the others none).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    reg : AccountRegistry
        Registry (``bio`` is overwritten for ``pop.users``).
    pop : Population
        Ordinary people.
    style : PopulationStyle
        ``bio_p``, ``bio_templates`` and ``bio_zipf``.

    Returns
    -------
    numpy.ndarray
        Interned bio indices of the pool, most common first.
    """
    pool = reg.intern(generic_bios(rng, style.bio_templates))
    zipf = ZipfSampler(len(pool), style.bio_zipf, rng)
    zipf.order = np.arange(len(pool), dtype=np.int64)
    n = len(pop.users)
    bio = np.where(rng.random(n) < style.bio_p, pool[zipf.draw(rng, n)], -1)
    reg.set("bio", pop.users, bio)
    styles = rng.permutation(N_HANDLE_STYLES)[: style.handle_styles]
    hs = reg.col("handle_style")[pop.users]
    named = hs >= 0
    reg.set("handle_style", pop.users[named], styles[rng.integers(0, len(styles), int(named.sum()))])
    return pool


def add_twins(rng: np.random.Generator, reg: AccountRegistry, pop: Population,
              style: PopulationStyle) -> tuple[Population, np.ndarray]:
    """Give a share of people a second account on another platform (and some a third on X).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    reg : AccountRegistry
        Registry to add the accounts to.
    pop : Population
        Ordinary people.
    style : PopulationStyle
        ``twin_p``, ``twin_x_p``, ``twin_same_bio_p``, ``twin_same_handle_p``.

    Returns
    -------
    population : Population
        The population with the new accounts appended (same pages and groups).
    person : numpy.ndarray
        Position of each account's person (their first account): itself for most.
    """
    n = len(pop.users)
    prim = np.flatnonzero((pop.platform != X) & (rng.random(n) < style.twin_p))
    other = np.where(pop.platform[prim] == FB, IG, FB).astype(np.int8)
    third = prim[rng.random(len(prim)) < style.twin_x_p]
    src = np.concatenate([prim, third])
    plat = np.concatenate([other, np.full(len(third), X, np.int8)])
    k = len(src)
    users = pop.users[src]
    # Both accounts long-lived: at least a year and a half old.
    old = START - (1.5 + rng.gamma(2.0, 2.0, len(prim))) * YEAR
    reg.set("created", pop.users[prim], np.minimum(reg.col("created")[pop.users[prim]], old).astype(np.int64))
    p_created = reg.col("created")[users]
    created = p_created + (rng.integers(-400, 400, k) * DAY)
    created = np.minimum(np.maximum(created, START - 15 * YEAR), START - 1.2 * YEAR).astype(np.int64)
    style_p = reg.col("handle_style")[users]
    same_handle = (rng.random(k) < style.twin_same_handle_p) & (style_p >= 0)
    hstyle = np.where(same_handle, style_p, rng.integers(0, N_HANDLE_STYLES, k)).astype(np.int8)
    bio_p = reg.col("bio")[users]
    bio = np.where(rng.random(k) < style.twin_same_bio_p, bio_p, -1)
    idx = reg.add(
        k, platform=plat, kind=USER, country=pop.country[src], offset=pop.offset[src],
        created=created, first=reg.col("first")[users], last=reg.col("last")[users],
        handle_style=hstyle, bio=bio, claimed=reg.col("claimed")[users],
        followers=rng.lognormal(5.0, 1.4, k).astype(np.int64),
    )
    num = AccountRegistry.handle_numbers(idx, rng.integers(2, 5, k))
    reg.set("handle_num", idx, np.where(same_handle, reg.col("handle_num")[users], num))
    person = np.concatenate([np.arange(n), src])
    out = Population(
        users=np.concatenate([pop.users, idx]), platform=np.concatenate([pop.platform, plat]),
        country=np.concatenate([pop.country, pop.country[src]]),
        offset=np.concatenate([pop.offset, pop.offset[src]]),
        shift=np.concatenate([pop.shift, pop.shift[src] + rng.normal(0, 0.3, k)]),
        activity=np.concatenate([pop.activity, pop.activity[src] * rng.lognormal(-0.3, 0.6, k)]),
        created=np.zeros(0, np.int64), pages=pop.pages, page_platform=pop.page_platform,
        page_country=pop.page_country, page_domain=pop.page_domain, groups=pop.groups,
        group_country=pop.group_country,
    )
    out.created = reg.col("created")[out.users]
    return out, person


def signup_bursts(rng: np.random.Generator, reg: AccountRegistry, pop: Population,
                  household: np.ndarray, workplace: np.ndarray, style: PopulationStyle) -> dict[str, int]:
    """Children's accounts made one evening by a parent; a class signed up on one day.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    reg : AccountRegistry
        Registry (``created`` is overwritten).
    pop : Population
        Ordinary people (``created`` is updated too).
    household, workplace : numpy.ndarray
        Household and workplace number per position (``-1``: none).
    style : PopulationStyle
        ``kids_signup_p`` and ``class_signup_p``.

    Returns
    -------
    dict[str, int]
        ``family_signups`` (accounts) and ``class_signups`` (accounts).
    """
    counts = {"family_signups": 0, "class_signups": 0}
    first = np.arange(len(pop.users))
    for key, groups, p, lo, hi, evening in (
            ("family_signups", household, style.kids_signup_p, 3, 3, True),
            ("class_signups", workplace, style.class_signup_p, 12, 60, False)):
        pos = first[groups[first] >= 0]
        if not len(pos):
            continue
        order = pos[np.argsort(groups[pos], kind="stable")]
        g = groups[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        sizes = np.diff(np.r_[starts, len(g)])
        chosen = np.flatnonzero((sizes >= lo) & (rng.random(len(sizes)) < p))
        for s in chosen:
            members = order[starts[s]: starts[s] + sizes[s]]
            k = int(rng.integers(2, 4)) if evening else min(len(members), int(rng.integers(lo, hi + 1)))
            who = rng.permutation(members)[:k]
            day = START - int(rng.uniform(0.3, 6.0) * YEAR / DAY) * DAY
            hour = rng.uniform(18, 22) if evening else rng.uniform(9, 15)
            t0 = day + int((hour - float(pop.offset[who[0]])) * 3600)
            spread = 40 * 60 if evening else 3 * 3600
            ts = t0 + rng.integers(0, spread, len(who))
            reg.set("created", pop.users[who], ts.astype(np.int64))
            pop.created[who] = ts
            counts[key] += len(who)
    return counts
