"""Names and profile text: bios, outlet and group names, employers, bot handles.

Everything here is invented. Outlet and group names are built from a country's places and a
few words in its language, which is how CIB pages pose as independent local outlets.
"""

from __future__ import annotations

import numpy as np

from .geo import COUNTRIES

__all__ = [
    "BIO_PHRASES",
    "BRAND_WORDS",
    "EMPLOYERS",
    "bio_pool",
    "employer_bio",
    "group_name",
    "outlet_name",
    "slug",
    "spam_handle",
]

BIO_PHRASES: tuple[str, ...] = (
    "Coffee lover", "Proud parent", "Football fan", "Engineer", "Traveller", "Dog person",
    "Cat person", "Student", "Photographer", "Music is life", "Views are my own", "Teacher",
    "Nurse", "Entrepreneur", "Foodie", "Gamer", "Runner", "Bookworm", "Dreamer", "Blessed",
    "Family first", "Love my city", "Just vibing", "Designer", "Developer", "Artist",
    "Mom of two", "Dad of three", "Retired", "Cricket fan", "Gym rat", "Chef at home",
    "Nature lover", "Tea addict", "Movie buff", "Living my best life", "Here for the memes",
    "Small business owner", "Marketing", "Sales", "Lawyer", "Doctor", "Farmer", "Mechanic",
    "Volunteer", "Grandma", "Cyclist", "Fisherman", "Poet", "Always learning",
)
BRAND_WORDS: tuple[str, ...] = (
    "Bakery", "Fitness", "Fashion", "Cars", "Recipes", "Memes", "Music", "Travel", "Beauty", "Tech",
    "Pets", "Deals", "Football", "Cricket", "Movies", "Garden",
)
_SEPARATORS = (" | ", ". ", " • ", ", ", " / ")

EMPLOYERS: tuple[str, ...] = (
    "Acme Media Solutions", "Crescent Digital Works", "Lotus PR Pvt Ltd", "Northstar Strategic "
    "Communications", "BlueHarbor Marketing", "Silverline IT Services", "Meridian Reputation Group",
    "Aurora Social Agency", "Keystone Public Affairs", "Falcon Web Solutions", "Pinnacle Outreach",
    "Vertex Narrative Labs", "Orbit Digital Consulting", "Cedar Communications",
)
_EMPLOYER_BIO = ("Works at {e}", "{e}", "Digital marketing at {e}", "Team lead, {e}",
                 "Social media executive @ {e}")

_OUTLET = {
    "en": ("Times", "Daily", "News", "Voice", "Post", "Herald", "Today", "Updates", "Tribune",
           "Insider", "Chronicle", "Report", "Live", "Now", "Express", "Gazette"),
    "de": ("Nachrichten", "Aktuell", "Bote", "Rundschau", "Blick", "Heute", "Echo", "Kurier",
           "Zeitung", "Stimme"),
    "pt": ("Noticias", "Diario", "Agora", "Hoje", "Jornal", "Em Foco", "Voz", "Informa"),
}
_GROUP = {
    "en": ("Community", "Forum", "Residents", "Buy and Sell", "Patriots", "Voices", "Network",
           "Friends", "United", "Matters"),
    "de": ("Gemeinschaft", "Buerger", "Forum", "Nachbarn", "Flohmarkt", "Heimat"),
    "pt": ("Comunidade", "Amigos", "Forum", "Vizinhos", "Classificados", "Unidos"),
}


def bio_pool(rng: np.random.Generator, n: int) -> list[str]:
    """Build ``n`` ordinary bios from 1–3 phrases (short ones repeat, as in real data).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Pool size.

    Returns
    -------
    list[str]
        Bios.
    """
    out = []
    for _ in range(n):
        k = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        parts = rng.choice(len(BIO_PHRASES), size=k, replace=False)
        sep = _SEPARATORS[int(rng.integers(len(_SEPARATORS)))]
        out.append(sep.join(BIO_PHRASES[int(i)] for i in parts))
    return out


def employer_bio(rng: np.random.Generator, employer: str) -> str:
    """A bio that names the account holder's employer."""
    return _EMPLOYER_BIO[int(rng.integers(len(_EMPLOYER_BIO)))].format(e=employer)


def outlet_name(rng: np.random.Generator, country: int, used: set[str]) -> str:
    """A local-sounding news outlet name for a country, not yet in ``used``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    country : int
        Country index.
    used : set[str]
        Names taken so far (updated).

    Returns
    -------
    str
        For example ``"Kashmir Daily Voice"``.
    """
    c = COUNTRIES[country]
    words = _OUTLET[c.lang]
    for attempt in range(100):
        place = c.places[int(rng.integers(len(c.places)))]
        w = words[int(rng.integers(len(words)))]
        if attempt % 3 == 2:
            w = f"{w} {words[int(rng.integers(len(words)))]}"
        name = f"{place} {w}" if rng.random() < 0.7 else f"The {place} {w}"
        if c.lang == "pt" and name.startswith("The "):
            name = name[4:]
        if name not in used:
            used.add(name)
            return name
    name = f"{name} {len(used)}"
    used.add(name)
    return name


def group_name(rng: np.random.Generator, country: int, used: set[str]) -> str:
    """A local community group name for a country, not yet in ``used``."""
    c = COUNTRIES[country]
    words = _GROUP[c.lang]
    for _ in range(100):
        place = c.places[int(rng.integers(len(c.places)))]
        name = f"{place} {words[int(rng.integers(len(words)))]}"
        if rng.random() < 0.3:
            name += f" {int(rng.integers(1, 99))}" if rng.random() < 0.3 else " Official"
        if name not in used:
            used.add(name)
            return name
    name = f"{name} {len(used)}"
    used.add(name)
    return name


def slug(name: str, sep: str = "") -> str:
    """Lower-case ASCII handle or host fragment from a display name."""
    keep = "".join(ch.lower() if ch.isalnum() else " " for ch in name)
    return sep.join(keep.split())


_SPAM_PATTERNS = ("deals_{n}", "promo.{n}", "best_offers{n}", "daily.deals{n}", "shop_now_{n}",
                  "win.{n}", "giveaway_{n}", "trending.{n}")


def spam_handle(pattern: int, number: int) -> str:
    """Templated bot handle such as ``deals_4821``."""
    return _SPAM_PATTERNS[pattern % len(_SPAM_PATTERNS)].format(n=number)
