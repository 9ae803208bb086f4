"""When people act: daily rhythms in local time, office hours, weekends and reaction delays.

All functions return UNIX seconds inside the simulated period. Local times are converted with
a fixed UTC offset per person (daylight saving time is not modelled).
"""

from __future__ import annotations

import numpy as np

from .config import DAY, DAYS, SPAN, START, START_WEEKDAY
from .geo import COUNTRIES

__all__ = [
    "HOURLY_ORDINARY",
    "HOURLY_OFFICE",
    "delays",
    "local_times",
    "office_times",
    "workday_mask",
]

#: Share of an ordinary person's activity in each local hour (evening peak, quiet night).
HOURLY_ORDINARY = np.array(
    [2.0, 1.2, 0.7, 0.4, 0.3, 0.4, 1.0, 2.2, 3.4, 3.8, 3.9, 4.1, 4.8, 4.9, 4.4, 4.3,
     4.5, 4.9, 5.6, 6.4, 7.2, 7.4, 6.3, 4.1]
)
HOURLY_ORDINARY = HOURLY_ORDINARY / HOURLY_ORDINARY.sum()
#: Office hours 9:00–18:00 with a lunch dip.
HOURLY_OFFICE = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0.3, 4.0, 6.0, 6.5, 4.0, 3.0, 6.0, 6.5, 6.0, 5.0, 1.5, 0.2,
     0, 0, 0, 0], dtype=np.float64
)
HOURLY_OFFICE = HOURLY_OFFICE / HOURLY_OFFICE.sum()


def workday_mask(country: int) -> np.ndarray:
    """Which simulated days are workdays in a country.

    Parameters
    ----------
    country : int
        Country index.

    Returns
    -------
    numpy.ndarray
        Boolean per day.
    """
    wd = (START_WEEKDAY + np.arange(DAYS)) % 7
    return ~np.isin(wd, COUNTRIES[country].weekend)


def _to_utc(day: np.ndarray, local_sec: np.ndarray, offset_h: np.ndarray) -> np.ndarray:
    t = day.astype(np.int64) * DAY + local_sec.astype(np.int64) - np.round(offset_h * 3600).astype(np.int64)
    return START + np.mod(t, SPAN)


def local_times(
    rng: np.random.Generator,
    offset_h: np.ndarray,
    shift_h: np.ndarray | float = 0.0,
    profile: np.ndarray = HOURLY_ORDINARY,
    days: np.ndarray | None = None,
) -> np.ndarray:
    """Times following a daily rhythm in each person's local time.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    offset_h : numpy.ndarray
        UTC offset (hours) per event.
    shift_h : numpy.ndarray or float, optional
        Personal shift of the rhythm (early birds, night owls), hours.
    profile : numpy.ndarray, optional
        24 hourly weights.
    days : numpy.ndarray, optional
        Day numbers to use; uniform over the period when omitted.

    Returns
    -------
    numpy.ndarray
        UNIX seconds.
    """
    n = len(offset_h)
    if days is None:
        days = rng.integers(0, DAYS, n)
    hour = rng.choice(24, size=n, p=profile).astype(np.float64)
    sec = (hour + rng.random(n) + shift_h) * 3600.0
    return _to_utc(days, np.mod(sec, DAY), offset_h)


def office_times(
    rng: np.random.Generator,
    offset_h: np.ndarray,
    country: int,
    spill: float = 0.0,
    jitter_h: float = 0.0,
) -> np.ndarray:
    """Times in office hours on workdays of one country (how paid operators post).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    offset_h : numpy.ndarray
        UTC offset of the office, per event.
    country : int
        Country whose weekend applies.
    spill : float, optional
        Share of events at ordinary times instead (overtime, weekends).
    jitter_h : float, optional
        Standard deviation (hours) of noise added to office hours.

    Returns
    -------
    numpy.ndarray
        UNIX seconds.
    """
    n = len(offset_h)
    work = np.flatnonzero(workday_mask(country))
    days = work[rng.integers(0, len(work), n)]
    shift = rng.normal(0.0, jitter_h, n) if jitter_h > 0 else 0.0
    t = local_times(rng, offset_h, shift, HOURLY_OFFICE, days)
    if spill > 0:
        other = local_times(rng, offset_h)
        t = np.where(rng.random(n) < spill, other, t)
    return t


def delays(
    rng: np.random.Generator, n: int, median_s: float, sigma: float, min_s: float = 1.0
) -> np.ndarray:
    """Reaction delays (seconds) from a lognormal law.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of delays.
    median_s : float
        Median delay.
    sigma : float
        Lognormal shape.
    min_s : float, optional
        Smallest delay.

    Returns
    -------
    numpy.ndarray
        ``int64`` seconds, at least ``min_s``.
    """
    d = rng.lognormal(np.log(median_s), sigma, n)
    return np.maximum(d, min_s).astype(np.int64)
