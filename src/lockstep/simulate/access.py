"""How ordinary people reach the platforms from unexpected places: VPNs and life abroad.

* Commercial VPNs and privacy relays: a few exit addresses in hosting blocks of a few countries,
  each shared by hundreds to thousands of unrelated people worldwide, who appear to log in from
  the exit's country.
* Expats and diaspora: people who state their country of origin while living elsewhere, and
  go home now and then (sessions from there).

Nobody here is in ``truth``.
"""

from __future__ import annotations

import numpy as np

from .geo import COUNTRIES, country_index
from .rhythm import local_times
from .style import PopulationStyle
from .world import World

__all__ = ["VPN_COUNTRIES", "expats", "vpn_sessions"]

#: Countries whose hosting blocks hold the commercial VPN exits.
VPN_COUNTRIES = ("NL", "SG", "US", "DE", "GB")


def _device(w: World, pos: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    desk = w.infra.desktop[pos]
    return np.where((desk >= 0) & (rng.random(len(pos)) < 0.5), desk, w.infra.phone[pos])


def vpn_sessions(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """Sessions of VPN users through a small pool of exits shared worldwide.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``vpn_p``, ``vpn_exits`` and ``vpn_session_p``.

    Returns
    -------
    dict[str, int]
        ``vpn_users``, ``vpn_exits`` and ``vpn_sessions``.
    """
    pop = w.pop
    cc = np.array([country_index(c) for c in VPN_COUNTRIES])
    exit_country = cc[rng.integers(0, len(cc), style.vpn_exits)]
    exits = w.ips.take_many(exit_country, datacenter=True)
    users = np.flatnonzero(rng.random(len(pop.users)) < style.vpn_p)
    per = 1 + rng.poisson(np.minimum(1.0 + 0.25 * w.organic.events_per_user[users], 20.0) * style.vpn_session_p)
    pos = np.repeat(users, per)
    # Each user keeps to a favourite exit or two; popular exits carry most users.
    fav = (rng.random(len(users)) ** 2 * style.vpn_exits).astype(np.int64)
    alt = rng.integers(0, style.vpn_exits, len(users))
    k = np.repeat(np.arange(len(users)), per)
    which = np.where(rng.random(len(pos)) < 0.8, fav[k], alt[k])
    ts = local_times(rng, pop.offset[pos], pop.shift[pos])
    w.sessions.add(pop.users[pos], ts, exits[which], _device(w, pos, rng), exit_country[which])
    return {"vpn_users": len(users), "vpn_exits": style.vpn_exits, "vpn_sessions": len(pos)}


def expats(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """People living abroad who state their home country and visit it.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world (``claimed`` is overwritten for the expats).
    style : PopulationStyle
        ``expat_p``.

    Returns
    -------
    dict[str, int]
        ``expats`` and ``expat_visit_sessions``.
    """
    pop = w.pop
    people = np.array([i for i, c in enumerate(COUNTRIES) if c.user_weight > 0])
    who = np.flatnonzero(rng.random(len(pop.users)) < style.expat_p)
    home = people[rng.integers(0, len(people), len(who))]
    home = np.where(home == pop.country[who], people[(np.searchsorted(people, home) + 1) % len(people)], home)
    states = rng.random(len(who)) < 0.7
    w.reg.set("claimed", pop.users[who[states]], home[states].astype(np.int8))
    visits = rng.random(len(who)) < 0.4
    vw, vh = who[visits], home[visits]
    per = rng.integers(2, 10, len(vw))
    pos, dest = np.repeat(vw, per), np.repeat(vh, per)
    ts = local_times(rng, pop.offset[pos], pop.shift[pos])
    ips = w.ips.take_many(dest)
    w.sessions.add(pop.users[pos], ts, ips, _device(w, pos, rng), dest.astype(np.int8))
    return {"expats": len(who), "expat_visit_sessions": len(pos)}
