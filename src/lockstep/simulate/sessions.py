"""Login sessions of ordinary people, with the shared infrastructure that fools naive linking.

Most people have their own phone, sometimes a computer, and a home broadband address. Around
them are the traps: mobile carriers put thousands of accounts behind each carrier-grade NAT
address; households of 2–4 people share a tablet and a home address; offices and universities
put tens to hundreds of colleagues behind one address; people travel. Planted networks add
their own sessions through :class:`SessionLog`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DAY, SPAN, START, START_WEEKDAY
from .geo import COUNTRIES
from .infra import DESKTOP, IOS, DeviceRegistry, IpAllocator
from .population import Population
from .rhythm import local_times

__all__ = ["PersonalInfra", "SessionLog", "ordinary_sessions"]

_IOS_SHARE = {"US": 0.55, "GB": 0.5, "DE": 0.35}


class SessionLog:
    """Collects session rows: account, time, IP code, device number, country index."""

    def __init__(self) -> None:
        self._cols: dict[str, list[np.ndarray]] = {k: [] for k in ("account", "ts", "ip", "device", "country")}

    def add(self, account: np.ndarray, ts: np.ndarray, ip: np.ndarray, device: np.ndarray,
            country: np.ndarray | int) -> None:
        """Append sessions (arguments are parallel arrays; ``country`` may be a scalar)."""
        n = len(account)
        self._cols["account"].append(np.asarray(account, dtype=np.int64))
        self._cols["ts"].append(np.asarray(ts, dtype=np.int64))
        self._cols["ip"].append(np.broadcast_to(np.asarray(ip, dtype=np.int64), (n,)).copy())
        self._cols["device"].append(np.broadcast_to(np.asarray(device, dtype=np.int64), (n,)).copy())
        self._cols["country"].append(np.broadcast_to(np.asarray(country, dtype=np.int8), (n,)).copy())

    def columns(self) -> dict[str, np.ndarray]:
        """All rows inside the simulated period, sorted by time (stable)."""
        cols = {k: np.concatenate(v) for k, v in self._cols.items()}
        keep = np.flatnonzero((cols["ts"] >= START) & (cols["ts"] < START + SPAN))
        order = keep[np.argsort(cols["ts"][keep], kind="stable")]
        return {k: v[order] for k, v in cols.items()}

    def __len__(self) -> int:
        return sum(len(a) for a in self._cols["account"])


@dataclass
class PersonalInfra:
    """Each ordinary person's own infrastructure (aligned with ``Population.users``).

    Attributes
    ----------
    home_ip, phone, desktop, office_ip : numpy.ndarray
        Address codes and device numbers (``-1``: none).
    carrier_pool : dict[int, numpy.ndarray]
        Carrier-grade NAT addresses per country, most used first.
    household, workplace : numpy.ndarray or None
        Household and workplace number per person (``-1``: none).
    """

    home_ip: np.ndarray
    phone: np.ndarray
    desktop: np.ndarray
    office_ip: np.ndarray
    carrier_pool: dict[int, np.ndarray]
    household: np.ndarray | None = None
    workplace: np.ndarray | None = None


def _households(rng: np.random.Generator, country: np.ndarray, share: float,
                max_size: int = 4) -> np.ndarray:
    """Household number per person (``-1`` for people living alone on the platforms)."""
    house = np.full(len(country), -1, dtype=np.int64)
    next_id = 0
    for ci in range(len(COUNTRIES)):
        members = np.flatnonzero((country == ci) & (rng.random(len(country)) < share))
        if len(members) < 2:
            continue
        members = rng.permutation(members)
        sizes = rng.integers(2, max_size + 1, len(members) // 2 + 1)
        labels = np.repeat(np.arange(len(sizes)), sizes)[: len(members)]
        house[members] = next_id + labels
        next_id += len(sizes)
    return house


def _clusters(rng: np.random.Generator, country: np.ndarray, share: float, alpha: float,
              lo: int, hi: int) -> np.ndarray:
    """Workplace number per person (``-1``: none); sizes are Pareto-distributed."""
    out = np.full(len(country), -1, dtype=np.int64)
    next_id = 0
    for ci in range(len(COUNTRIES)):
        members = np.flatnonzero((country == ci) & (rng.random(len(country)) < share))
        if len(members) == 0:
            continue
        sizes = np.minimum(lo + (rng.pareto(alpha, len(members)) * lo).astype(np.int64), hi)
        labels = np.repeat(np.arange(len(sizes)), sizes)[: len(members)]
        out[rng.permutation(members)] = next_id + labels
        next_id += len(sizes)
    return out


def ordinary_sessions(
    rng: np.random.Generator, pop: Population, ips: IpAllocator, devices: DeviceRegistry,
    log: SessionLog, events_per_user: np.ndarray, *, household_share: float = 0.14,
    household_max: int = 4, work_share: float = 0.22, work_alpha: float = 1.1, work_max: int = 400,
    nat_subscribers: int = 700, person: np.ndarray | None = None,
) -> PersonalInfra:
    """Give every ordinary person devices, addresses and sessions.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    pop : Population
        The people.
    ips : IpAllocator
        Address source.
    devices : DeviceRegistry
        Device source.
    log : SessionLog
        Receives the sessions.
    events_per_user : numpy.ndarray
        Events of each person (more active people log in more often).
    household_share, household_max : float, int, optional
        Share of people living with others on the platforms, and the largest household.
    work_share, work_alpha, work_max : float, float, int, optional
        Share of people with a workplace address, Pareto shape and cap of workplace sizes.
    nat_subscribers : int, optional
        Subscribers of a mobile carrier per carrier-grade NAT address.
    person : numpy.ndarray, optional
        Position of the account's person (their first account) per position; an account of
        a person who has several uses that person's phone, computer, home and office
        addresses, household and carrier.

    Returns
    -------
    PersonalInfra
        Their infrastructure, for planted networks that reuse it.
    """
    n = len(pop.users)
    country = pop.country
    house = _households(rng, country, household_share, household_max)
    n_house = int(house.max()) + 1 if n else 0
    # One home address per household, one per person otherwise.
    owner = np.where(house >= 0, house, n_house + np.arange(n))
    uniq, inv = np.unique(owner, return_inverse=True)
    first_member = np.zeros(len(uniq), dtype=np.int64)
    first_member[inv[::-1]] = np.arange(n)[::-1]
    home_ips = ips.take_many(country[first_member], v6_p=0.15, rng=rng)
    home_ip = home_ips[inv]
    moved = rng.random(n) < 0.12
    home_ip2 = np.where(moved, ips.take_many(country, v6_p=0.1, rng=rng), home_ip)
    switch = START + rng.integers(0, SPAN, n)
    tablet = np.full(n, -1, dtype=np.int64)
    if n_house:
        tabs = devices.phones(rng, n_house, ios_p=0.5)
        tablet[house >= 0] = tabs[house[house >= 0]]

    ios_p = np.array([_IOS_SHARE.get(c.code, 0.15) for c in COUNTRIES])[country]
    phone = devices.add(np.where(rng.random(n) < ios_p, IOS, 0), n)
    has_desk = rng.random(n) < 0.4
    desktop = np.full(n, -1, dtype=np.int64)
    desktop[has_desk] = devices.add(DESKTOP, int(has_desk.sum()))

    work = _clusters(rng, country, work_share, work_alpha, 3, work_max)
    n_work = int(work.max()) + 1 if (work >= 0).any() else 0
    work_country = np.zeros(max(n_work, 1), dtype=np.int64)
    work_country[work[work >= 0]] = country[work >= 0]
    work_ip = ips.take_many(work_country[:n_work]) if n_work else np.zeros(0, dtype=np.int64)
    office_ip = np.where(work >= 0, work_ip[np.maximum(work, 0)] if n_work else -1, -1)

    # Carriers: 3 per country with uneven market shares; each has a small pool of NAT addresses.
    carrier = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    cid = country.astype(np.int64) * 3 + carrier
    counts = np.bincount(cid, minlength=len(COUNTRIES) * 3)
    pool_size = np.maximum(1, counts // nat_subscribers)
    pool_start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(pool_size, out=pool_start[1:])
    nat = np.concatenate([ips.take(k // 3, int(pool_size[k])) for k in range(len(counts))])
    carrier_pool = {ci: nat[pool_start[3 * ci]: pool_start[3 * ci + 1]] for ci in range(len(COUNTRIES))}
    mobile_p = np.where(rng.random(n) < 0.25, 0.0, rng.beta(2.0, 2.0, n))
    if person is not None:
        # One person, several accounts: the same phone, computer, addresses and carrier.
        alias = np.flatnonzero(person != np.arange(n))
        src = person[alias]
        for arr in (home_ip, home_ip2, switch, tablet, phone, desktop, office_ip, mobile_p, cid,
                    house, work):
            arr[alias] = arr[src]

    # Sessions.
    n_s = 1 + rng.poisson(np.minimum(1.0 + 0.25 * events_per_user, 20.0))
    u = np.repeat(np.arange(n, dtype=np.int64), n_s)
    m = len(u)
    ts = local_times(rng, pop.offset[u], pop.shift[u])
    local = ts - START + np.round(pop.offset[u] * 3600).astype(np.int64)
    hour = (local % DAY) // 3600
    weekday = (START_WEEKDAY + local // DAY) % 7
    weekend = np.zeros(m, dtype=bool)
    for ci, c in enumerate(COUNTRIES):
        sel = country[u] == ci
        weekend[sel] = np.isin(weekday[sel], c.weekend)
    r = rng.random(m)
    at_office = (office_ip[u] >= 0) & ~weekend & (hour >= 9) & (hour < 18) & (r < 0.75)
    travel = ~at_office & (rng.random(m) < 0.02)
    mobile = ~at_office & ~travel & (rng.random(m) < mobile_p[u])
    home = ~at_office & ~travel & ~mobile

    ip = np.where(ts >= switch[u], home_ip2[u], home_ip[u])
    ip = np.where(at_office, office_ip[u], ip)
    k = cid[u]
    pick = pool_start[k] + np.floor(rng.random(m) ** 2 * pool_size[k]).astype(np.int64)
    ip = np.where(mobile, nat[pick], ip)
    sess_country = country[u].astype(np.int64)
    if travel.any():
        dest = rng.integers(0, len(COUNTRIES), int(travel.sum()))
        ip[travel] = ips.take_many(dest)
        sess_country[travel] = dest

    dev = phone[u].copy()
    use_desk = (desktop[u] >= 0) & (at_office | (home & (rng.random(m) < 0.4)))
    dev[use_desk] = desktop[u][use_desk]
    use_tab = home & (tablet[u] >= 0) & (rng.random(m) < 0.35)
    dev[use_tab] = tablet[u][use_tab]
    log.add(pop.users[u], ts, ip, dev, sess_country)
    return PersonalInfra(home_ip=home_ip, phone=phone, desktop=desktop, office_ip=office_ip,
                         carrier_pool=carrier_pool, household=house, workplace=work)
