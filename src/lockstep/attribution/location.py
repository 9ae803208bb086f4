"""Where a network really runs from, where it pretends to be from, and whether the two differ.

:func:`locate_networks` gives one row per network with three independent readings and the
verdict that compares them:

**Origin** (needs platform telemetry: the ``sessions`` table). Every session of a network
account (its members, the operator accounts given, and the person-accounts holding an admin
role on its pages and groups) votes for the country it came from, with a weight that says how
much that address reveals about where the person sits::

    weight = account weight x address weight x country factors

Account weight (:class:`LocationWeights`): ``member`` 1, ``admin`` 3 (owner/admin/editor/
moderator of a member page or group who is not a member), ``operator`` 5 (an operator's own
account is rarely proxied). Address weight, from the behaviour of the address across the whole
workspace (first matching rule):

========== ============================================================= =========
category   rule                                                          weight
========== ============================================================= =========
exit       shared with >= 3 outside accounts, most of whose other           0.2
           sessions are in other countries (commercial VPN or proxy exit)
borrowed   someone else's address: 1-10 outside accounts use it at least as  0.15
           much as the network does and this account used it at most twice
           (residential proxy)
consumer   shared with > 10 outside accounts that mostly live in its        1.0
           country (carrier NAT, ISP)
one-off    used once by each of at most 3 network accounts (rotating       0.15
           proxies, travel)
pooled     used by several network accounts (their office, or a VPN exit)   1.0
own        an address the account keeps coming back to                      1.0
unknown    session without an address                                       0.5
========== ============================================================= =========

Country factors: sessions from a country the network *presents* itself as being from count
half (``presented_factor``: a VPN or proxy address in the target country is weak evidence, and
a network that really runs from its presented country has all its sessions there anyway); and
when the network's own activity follows office hours, countries none of whose time zones is
within an hour of its working time zone count ``rhythm_factor`` (0.3) of their weight.
``origin_countries`` are the resulting shares.

**Presented location**: ``claimed_country`` of the members (a page or channel weighs 3, a group
2, a user 1) plus audience hints in ``accounts.extra`` (``audience_country`` or
``audience_countries``, weight 1 each). The simulator writes no ``extra`` on accounts, so its
worlds use claimed countries only.

**Rhythm** (works on public data, no telemetry): the members' events are binned by half hour of
the UTC week and scored, by log-likelihood, against daily templates shifted by every UTC offset
from -12 to +14 in half hours: an ordinary daily rhythm (quiet night, evening peak), and office
hours (09:00-18:00 on workdays with a lunch dip, mixed with some ordinary activity) for five
weekend conventions (Sat-Sun, Sun, Fri, Fri-Sat, Thu-Fri). ``rhythm_offset_h`` is the best
offset; ``rhythm_office_score`` is how much better (nats per event) office hours explain the
activity than a daily rhythm, and ``rhythm_office_hours`` is that score above
``office_threshold``. ``rhythm_countries`` are the countries of :data:`COUNTRY_TIME_ZONES`
with a time zone within half an hour of the offset. Daylight saving time is not modelled.

A fit needs 30 events, and office hours 50 (fewer events from a daily rhythm pass for office
hours by chance), and the two halves of the period (even and odd weeks) must agree on the
offset within 2 h, so that bursts at random times (spam) give no rhythm.

**Without telemetry** (no sessions for the network's accounts) the origin is the countries of
the working time zone, with ``low`` confidence, when the activity follows office hours, and is
left empty otherwise (a daily rhythm shows the audience's time zone as much as the operators');
``limitations`` says so.

**Confidence**: ``high`` when the top origin has at least 60% of the weighted evidence and two
independent kinds of evidence point to it (member sessions on revealing addresses, operator or
admin sessions, office hours in one of its time zones); ``medium`` with 50% and one kind;
``low`` otherwise and for rhythm-only origins; ``none`` when nothing is known.

**Mismatch**: the network presents as country P (the top presented country, at least 40% of
the claims) and its origin is another country O (with telemetry: O has at least half of the
weighted evidence and 1.2 times P's share; without: office hours at an offset more than 1.5 h
from every time zone of P).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import duckdb

    from lockstep.workspace import Workspace

__all__ = ["locate_networks", "fit_rhythm", "LocationWeights", "COUNTRY_TIME_ZONES",
           "LOCATION_SCHEMA", "RhythmFit", "countries_at_offset"]

#: Per country: standard-time UTC offsets (main zones, the most populous first), weekend days
#: (Monday = 0) and population in millions (rough, to order countries sharing a time zone).
#: Daylight saving time is ignored. Used to name the countries a working time zone fits.
COUNTRY_TIME_ZONES: dict[str, tuple[tuple[float, ...], tuple[int, ...], float]] = {
    "US": ((-5.0, -6.0, -7.0, -8.0), (5, 6), 335), "CA": ((-3.5, -4.0, -5.0, -6.0, -7.0, -8.0), (5, 6), 39),
    "MX": ((-6.0, -7.0), (5, 6), 128), "GT": ((-6.0,), (5, 6), 18), "HN": ((-6.0,), (5, 6), 10),
    "SV": ((-6.0,), (5, 6), 6), "NI": ((-6.0,), (5, 6), 7), "CR": ((-6.0,), (5, 6), 5),
    "CU": ((-5.0,), (5, 6), 11), "PA": ((-5.0,), (5, 6), 4), "CO": ((-5.0,), (5, 6), 52),
    "PE": ((-5.0,), (5, 6), 34), "EC": ((-5.0,), (5, 6), 18), "VE": ((-4.0,), (5, 6), 28),
    "BO": ((-4.0,), (5, 6), 12), "DO": ((-4.0,), (5, 6), 11), "CL": ((-4.0,), (5, 6), 20),
    "BR": ((-3.0, -4.0), (5, 6), 216), "AR": ((-3.0,), (5, 6), 46), "UY": ((-3.0,), (5, 6), 3),
    "PY": ((-3.0,), (5, 6), 7),
    "GB": ((0.0,), (5, 6), 68), "IE": ((0.0,), (5, 6), 5), "PT": ((0.0,), (5, 6), 10), "GH": ((0.0,), (5, 6), 34),
    "SN": ((0.0,), (5, 6), 18), "CI": ((0.0,), (5, 6), 28),
    "ES": ((1.0,), (5, 6), 48), "FR": ((1.0,), (5, 6), 68), "DE": ((1.0,), (5, 6), 84), "IT": ((1.0,), (5, 6), 59),
    "NL": ((1.0,), (5, 6), 18), "BE": ((1.0,), (5, 6), 12), "CH": ((1.0,), (5, 6), 9), "AT": ((1.0,), (5, 6), 9),
    "PL": ((1.0,), (5, 6), 37), "SE": ((1.0,), (5, 6), 10), "NO": ((1.0,), (5, 6), 5), "DK": ((1.0,), (5, 6), 6),
    "CZ": ((1.0,), (5, 6), 11), "HU": ((1.0,), (5, 6), 10), "RS": ((1.0,), (5, 6), 7), "HR": ((1.0,), (5, 6), 4),
    "NG": ((1.0,), (5, 6), 224), "DZ": ((1.0,), (4, 5), 45), "MA": ((1.0,), (5, 6), 37), "TN": ((1.0,), (5, 6), 12),
    "CM": ((1.0,), (5, 6), 28), "AO": ((1.0,), (5, 6), 37), "CD": ((1.0, 2.0), (5, 6), 102),
    "UA": ((2.0,), (5, 6), 37), "RO": ((2.0,), (5, 6), 19), "GR": ((2.0,), (5, 6), 10), "FI": ((2.0,), (5, 6), 6),
    "BG": ((2.0,), (5, 6), 6), "MD": ((2.0,), (5, 6), 3), "EG": ((2.0,), (4, 5), 113), "IL": ((2.0,), (4, 5), 10),
    "PS": ((2.0,), (4, 5), 5), "LB": ((2.0,), (5, 6), 5), "ZA": ((2.0,), (5, 6), 60), "ZW": ((2.0,), (5, 6), 16),
    "SD": ((2.0,), (4, 5), 48), "LY": ((2.0,), (4, 5), 7),
    "RU": ((3.0, 5.0, 7.0), (5, 6), 144), "BY": ((3.0,), (5, 6), 9), "TR": ((3.0,), (5, 6), 85),
    "SA": ((3.0,), (4, 5), 37), "IQ": ((3.0,), (4, 5), 45), "SY": ((3.0,), (4, 5), 23), "JO": ((3.0,), (4, 5), 11),
    "KW": ((3.0,), (4, 5), 4), "QA": ((3.0,), (4, 5), 3), "BH": ((3.0,), (4, 5), 1.5), "YE": ((3.0,), (4, 5), 34),
    "KE": ((3.0,), (5, 6), 55), "ET": ((3.0,), (5, 6), 126), "TZ": ((3.0,), (5, 6), 67), "UG": ((3.0,), (5, 6), 48),
    "IR": ((3.5,), (3, 4), 89),
    "AE": ((4.0,), (5, 6), 10), "OM": ((4.0,), (4, 5), 5), "AZ": ((4.0,), (5, 6), 10), "GE": ((4.0,), (5, 6), 4),
    "AM": ((4.0,), (5, 6), 3), "AF": ((4.5,), (3, 4), 42),
    "PK": ((5.0,), (5, 6), 240), "UZ": ((5.0,), (5, 6), 36), "KZ": ((5.0,), (5, 6), 20),
    "IN": ((5.5,), (6,), 1430), "LK": ((5.5,), (5, 6), 22), "NP": ((5.75,), (5,), 31), "BD": ((6.0,), (4, 5), 173),
    "MM": ((6.5,), (5, 6), 54), "TH": ((7.0,), (5, 6), 72), "VN": ((7.0,), (5, 6), 99), "KH": ((7.0,), (5, 6), 17),
    "ID": ((7.0, 8.0, 9.0), (5, 6), 278), "CN": ((8.0,), (5, 6), 1410), "HK": ((8.0,), (5, 6), 7.5),
    "TW": ((8.0,), (5, 6), 24), "SG": ((8.0,), (5, 6), 6), "MY": ((8.0,), (5, 6), 34), "PH": ((8.0,), (5, 6), 117),
    "JP": ((9.0,), (5, 6), 124), "KR": ((9.0,), (5, 6), 52), "AU": ((10.0, 9.5, 8.0), (5, 6), 27),
    "NZ": ((12.0,), (5, 6), 5),
}

#: Candidate UTC offsets of the rhythm fit: -12 to +14 hours in half hours.
OFFSETS = np.arange(-24, 29) / 2.0
_WEEKENDS: tuple[tuple[int, ...], ...] = ((5, 6), (6,), (4,), (4, 5), (3, 4))
_WEEKEND_NAMES = {(5, 6): "Sat-Sun", (6,): "Sun", (4,): "Fri", (4, 5): "Fri-Sat", (3, 4): "Thu-Fri"}
_SPILLS = (0.05, 0.15, 0.3, 0.5)
_BINS = 7 * 48  # half hours of the week, Monday 00:00 first

#: A generic daily rhythm of ordinary people by local hour: quiet nights, evening peak.
_DAILY = np.array([2.2, 1.3, 0.8, 0.5, 0.4, 0.5, 1.0, 2.0, 3.2, 3.8, 4.0, 4.2, 4.6, 4.7, 4.4, 4.3,
                   4.5, 4.8, 5.4, 6.2, 6.8, 7.0, 6.0, 4.2])
#: Office work by local hour: 09:00-18:00 with a lunch dip.
_OFFICE = np.array([0, 0, 0, 0, 0, 0, 0, 0.01, 0.08, 0.65, 0.95, 1.0, 0.65, 0.55, 0.95, 1.0,
                    0.95, 0.8, 0.3, 0.06, 0.01, 0, 0, 0])

LOCATION_SCHEMA = pa.schema([
    ("network_id", pa.string()),
    ("telemetry", pa.bool_()),
    ("n_sessions", pa.int64()),
    ("origin_country", pa.string()),
    ("origin_countries", pa.list_(pa.struct([("country", pa.string()), ("share", pa.float64())]))),
    ("origin_confidence", pa.string()),
    ("origin_evidence", pa.list_(pa.string())),
    ("presented_country", pa.string()),
    ("presented_countries", pa.list_(pa.struct([("country", pa.string()), ("share", pa.float64())]))),
    ("presented_evidence", pa.string()),
    ("rhythm_events", pa.int64()),
    ("rhythm_offset_h", pa.float64()),
    ("rhythm_office_hours", pa.bool_()),
    ("rhythm_office_score", pa.float64()),
    ("rhythm_weekend", pa.string()),
    ("rhythm_hours", pa.string()),
    ("rhythm_countries", pa.list_(pa.string())),
    ("location_mismatch", pa.bool_()),
    ("mismatch_reason", pa.string()),
    ("limitations", pa.string()),
])


@dataclass(frozen=True)
class LocationWeights:
    """The weights and thresholds of :func:`locate_networks` (see the module docstring)."""

    member: float = 1.0
    admin: float = 3.0
    operator: float = 5.0
    exit: float = 0.2
    borrowed: float = 0.15
    consumer: float = 1.0
    one_off: float = 0.15
    pooled: float = 1.0
    own: float = 1.0
    unknown: float = 0.5
    presented_factor: float = 0.5
    rhythm_factor: float = 0.3
    #: nats per event by which office hours must beat a daily rhythm
    office_threshold: float = 0.08
    #: fewest events for a rhythm fit, and for calling it office hours
    min_rhythm_events: int = 30
    min_office_events: int = 50
    #: a presented country needs this share of the claims
    min_presented_share: float = 0.4
    #: telemetry mismatch: origin share at least this, and this multiple of the presented share
    min_origin_share: float = 0.5
    origin_ratio: float = 1.2
    #: rhythm-only mismatch: office hours this far (hours) from every zone of the presented country
    rhythm_mismatch_h: float = 1.5


_DEFAULT = LocationWeights()


# -- rhythm ------------------------------------------------------------------------------------
def _smooth(hourly: np.ndarray, sigma_h: float) -> np.ndarray:
    """Hourly curve -> half-hourly (48), circularly smoothed by a Gaussian of ``sigma_h``."""
    half = np.repeat(hourly.astype(np.float64), 2)
    k = np.arange(-8, 9) / 2.0
    g = np.exp(-0.5 * (k / sigma_h) ** 2)
    g /= g.sum()
    out = np.zeros(48)
    for j, w in zip(range(-8, 9), g, strict=True):
        out += w * np.roll(half, j)
    return out / out.sum()


def _templates() -> tuple[np.ndarray, list[tuple[str, tuple[int, ...], float]]]:
    """Log-templates over the local week (rows) and what each row is."""
    daily = _smooth(_DAILY, 0.75)
    office = _smooth(_OFFICE, 0.35)
    rows: list[np.ndarray] = []
    meta: list[tuple[str, tuple[int, ...], float]] = []
    eps = 0.01 / _BINS
    rows.append(np.tile(daily, 7) / 7 + eps)
    meta.append(("daily", (), 1.0))
    for we in _WEEKENDS:
        work = np.array([0.0 if d in we else 1.0 for d in range(7)])
        office_week = np.concatenate([office * w for w in work])
        office_week /= office_week.sum()
        for s in _SPILLS:
            rows.append((1 - s) * office_week + s * np.tile(daily, 7) / 7 + eps)
            meta.append(("office", we, s))
    t = np.array(rows)
    t /= t.sum(axis=1, keepdims=True)
    return np.log(t), meta


_LOG_T, _T_META = _templates()


def _shifted_log_templates() -> np.ndarray:
    """``(templates, offsets, bins)``: log template value at each UTC half-hour of the week."""
    k = len(_LOG_T)
    out = np.empty((k, len(OFFSETS), _BINS))
    for j, off in enumerate(OFFSETS):
        # local bin = utc bin + 2 * offset
        out[:, j, :] = np.roll(_LOG_T, -int(round(off * 2)), axis=1)
    return out


_SHIFTED = _shifted_log_templates()


@dataclass
class RhythmFit:
    """The rhythm fit of one network (see :func:`fit_rhythm`)."""

    events: int
    offset_h: float | None
    office_hours: bool
    office_score: float | None
    weekend: tuple[int, ...] | None
    hours: str | None
    countries: list[str]
    strength: float | None = None


def _fmt_offset(off: float) -> str:
    sign = "+" if off >= 0 else "-"
    a = abs(off)
    h, m = int(a), int(round((a - int(a)) * 60))
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def countries_at_offset(offset_h: float, *, tolerance_h: float = 0.5,
                        weekend: tuple[int, ...] | None = None) -> list[str]:
    """Countries of :data:`COUNTRY_TIME_ZONES` with a time zone within ``tolerance_h`` hours.

    Parameters
    ----------
    offset_h : float
        A UTC offset in hours.
    tolerance_h : float
        Largest distance that still fits.
    weekend : tuple of int, optional
        Weekend days (Monday = 0) seen in the activity; countries with this weekend come first.

    Returns
    -------
    list of str
        Country codes, the closest first (ties: matching weekend first, then countries whose
        main time zone fits, then the most populous).
    """
    found = []
    for code, (offs, we, population) in COUNTRY_TIME_ZONES.items():
        dist = [_offset_distance(offset_h, o) for o in offs]
        d = min(dist)
        if d <= tolerance_h + 1e-9:
            found.append((d, 0 if (weekend is None or tuple(we) == tuple(weekend)) else 1,
                          int(np.argmin(dist) > 0), -population, code))
    return [c for *_, c in sorted(found)]


def _offset_distance(a: float, b: float) -> float:
    d = abs(a - b) % 24
    return min(d, 24 - d)


def _country_distance(code: str, offset_h: float) -> float | None:
    z = COUNTRY_TIME_ZONES.get(code)
    if z is None:
        return None
    return min(_offset_distance(offset_h, o) for o in z[0])


def _active_window(local48: np.ndarray, cover: float = 0.8) -> tuple[int, int]:
    """Shortest circular window of half hours holding ``cover`` of the activity: (start, length)."""
    total = local48.sum()
    best = (0, 48)
    if total <= 0:
        return best
    ext = np.concatenate([local48, local48])
    csum = np.concatenate([[0.0], np.cumsum(ext)])
    for length in range(2, 49):
        sums = csum[length:length + 48] - csum[:48]
        j = int(np.argmax(sums))
        if sums[j] >= cover * total:
            return j, length
    return best


def _hhmm(half: int) -> str:
    half %= 48
    return f"{half // 2:02d}:{'30' if half % 2 else '00'}"


def fit_rhythm(counts: np.ndarray, *, office_threshold: float = _DEFAULT.office_threshold,
               min_events: int = _DEFAULT.min_rhythm_events,
               min_office_events: int = _DEFAULT.min_office_events,
               min_strength: float = 0.06, stable_h: float = 2.0) -> list[RhythmFit]:
    """Fit a working time zone to activity counts by half hour of the UTC week.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(networks, 336)`` event counts, bin ``b`` being half hour ``b % 48`` of weekday
        ``b // 48`` (Monday = 0) in UTC; or ``(networks, 2, 336)``, the same split into two
        halves of the period (for example even and odd weeks) to check that the rhythm is
        stable: when both halves have at least ``min_events`` events and their best offsets
        differ by more than ``stable_h`` hours, the activity has no stable rhythm (bursts at
        random times) and no offset is given.
    office_threshold : float
        Nats per event by which the best office-hours template must beat the best daily rhythm
        for ``office_hours``.
    min_events : int
        Fewer events give no fit.
    min_office_events : int
        Fewer events are never called office hours (a few dozen events from a daily rhythm
        look like office hours by chance in about one network in twelve).
    min_strength : float
        Nats per event by which the best template must beat a flat week.
    stable_h : float
        See ``counts``.

    Returns
    -------
    list of RhythmFit
        One per network.
    """
    c = np.asarray(counts, dtype=np.float64)
    halves = c if c.ndim == 3 else None
    full = halves.sum(axis=1) if halves is not None else c.reshape(-1, _BINS)
    k, n_off, _ = _SHIFTED.shape
    flat = _SHIFTED.reshape(k * n_off, _BINS).T
    is_office = np.array([m[0] == "office" for m in _T_META])

    def best(ll: np.ndarray, office: bool) -> tuple[int, int, float]:
        if not office:
            j = int(np.argmax(ll[0]))
            return 0, j, float(ll[0, j])
        sub = np.where(is_office[:, None], ll, -np.inf)
        t, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
        return int(t), int(j), float(sub[t, j])

    n = full.sum(axis=1)
    ll_full = (full @ flat).reshape(-1, k, n_off)
    out: list[RhythmFit] = []
    for i in range(len(full)):
        if n[i] < min_events:
            out.append(RhythmFit(int(n[i]), None, False, None, None, None, []))
            continue
        _, d_j, d_ll = best(ll_full[i], False)
        t_o, j_o, o_ll = best(ll_full[i], True)
        score = (o_ll - d_ll) / n[i]
        office = score > office_threshold and n[i] >= min_office_events
        # a rhythm at all: the best template must beat a flat week clearly ...
        strength = (max(o_ll, d_ll) - n[i] * np.log(1.0 / _BINS)) / n[i]
        off = float(OFFSETS[j_o] if office else OFFSETS[d_j])
        stable = strength >= min_strength
        # ... and both halves of the period must agree on it
        if stable and halves is not None and (halves[i].sum(axis=1) >= min_events).sum() >= 2:
            offs = []
            for h in halves[i]:
                if h.sum() >= min_events:
                    _, jh, _ = best((h @ flat).reshape(k, n_off), office)
                    offs.append(float(OFFSETS[jh]))
            stable = max(_offset_distance(a, b) for a in offs for b in offs) <= stable_h
        if not stable:
            out.append(RhythmFit(int(n[i]), None, False, float(score), None, None, [],
                                 float(strength)))
            continue
        we = _T_META[t_o][1] if office else None
        local = np.roll(full[i], int(round(off * 2)))  # local bin = utc bin + 2 * offset
        if office:
            days = [d for d in range(7) if d not in (we or ())]
            local48 = local.reshape(7, 48)[days].sum(axis=0)
        else:
            local48 = local.reshape(7, 48).sum(axis=0)
        s0, length = _active_window(local48)
        out.append(RhythmFit(int(n[i]), off, bool(office), float(score), we,
                             f"{_hhmm(s0)}-{_hhmm(s0 + length)}",
                             countries_at_offset(off, weekend=we)[:12], float(strength)))
    return out


# -- helpers -----------------------------------------------------------------------------------
def _shares(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    total = sum(w for _, w in pairs)
    if total <= 0:
        return []
    agg: dict[str, float] = {}
    for c, w in pairs:
        agg[c] = agg.get(c, 0.0) + w
    return [{"country": c, "share": round(w / total, 4)}
            for c, w in sorted(agg.items(), key=lambda kv: (-kv[1], kv[0])) if w > 0]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _audience_codes(extra: str | None) -> list[str]:
    if not extra:
        return []
    try:
        d = json.loads(extra)
    except (TypeError, ValueError):
        return []
    if not isinstance(d, dict):
        return []
    out: list[str] = []
    for key in ("audience_country", "audience_countries"):
        v = d.get(key)
        if isinstance(v, str):
            out += [x for x in v.replace(",", " ").split() if x]
        elif isinstance(v, list):
            out += [str(x) for x in v if x]
    return [c.strip().upper() for c in out if 2 <= len(c.strip()) <= 3]


def _clean_members(t: pa.Table, what: str) -> pa.Table:
    need = {"network_id", "platform", "account_id"}
    missing = need - set(t.column_names)
    if missing:
        raise ValueError(f"{what} lacks the columns {sorted(missing)}")
    t = pa.table({c: t[c].cast(pa.string()) for c in ("network_id", "platform", "account_id")})
    return t.filter(pc.is_valid(t["network_id"]))


# -- main --------------------------------------------------------------------------------------
def locate_networks(ws: Workspace, members: pa.Table, *, operators: pa.Table | None = None,
                    weights: LocationWeights | None = None,
                    con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """Where each network runs from, where it presents itself as from, and any mismatch.

    Parameters
    ----------
    ws : Workspace
        The workspace (``events``, ``accounts``, ``sessions``, ``roles``).
    members : pyarrow.Table
        ``network_id, platform, account_id`` of each network's assets (accounts, pages,
        groups, channels).
    operators : pyarrow.Table, optional
        ``network_id, platform, account_id`` of operator accounts linked to each network; their
        sessions count ``weights.operator`` times a member's.
    weights : LocationWeights, optional
        Weights and thresholds (defaults documented in the module docstring).
    con : duckdb.DuckDBPyConnection, optional
        A connection from ``ws.connect()`` to reuse.

    Returns
    -------
    pyarrow.Table
        One row per network, :data:`LOCATION_SCHEMA`, ordered by ``network_id``.
    """
    w = weights or _DEFAULT
    own_con = con is None
    con = con or ws.connect()
    try:
        return _locate(con, _clean_members(members, "members"),
                       None if operators is None else _clean_members(operators, "operators"), w)
    finally:
        for v in ("_loc_m", "_loc_o"):
            try:
                con.unregister(v)
            except Exception:  # noqa: BLE001 - not registered
                pass
        if own_con:
            con.close()


def _locate(con: duckdb.DuckDBPyConnection, members: pa.Table, operators: pa.Table | None,
            w: LocationWeights) -> pa.Table:
    nets = sorted(set(members["network_id"].to_pylist()) | (
        set(operators["network_id"].to_pylist()) if operators is not None else set()))
    net_index = {n: i for i, n in enumerate(nets)}
    con.register("_loc_m", members)
    if operators is None:
        operators = members.schema.empty_table()
    con.register("_loc_o", operators)

    # 1. Rhythm from the members' events (public data).
    rows = con.execute(
        "SELECT m.network_id, ((CAST(floor(epoch(e.ts) / 86400) AS BIGINT) + 3) % 7) * 48 "
        "+ CAST(floor((epoch(e.ts) % 86400) / 1800) AS BIGINT) AS b, "
        "(CAST(floor((epoch(e.ts) / 86400 + 3) / 7) AS BIGINT) % 2) AS h, count(*) AS n "
        "FROM events e JOIN (SELECT DISTINCT network_id, platform, account_id FROM _loc_m) m "
        "USING (platform, account_id) GROUP BY ALL").fetchnumpy()
    counts = np.zeros((len(nets), 2, _BINS))
    if len(rows["b"]):
        idx = np.array([net_index[x] for x in rows["network_id"]], dtype=np.int64)
        np.add.at(counts, (idx, rows["h"].astype(np.int64) % 2, rows["b"].astype(np.int64) % _BINS),
                  rows["n"].astype(np.float64))
    fits = fit_rhythm(counts, office_threshold=w.office_threshold, min_events=w.min_rhythm_events,
                      min_office_events=w.min_office_events)

    # 2. Presented location: claimed countries (pages weigh more) and audience hints.
    pres = con.execute(
        "SELECT m.network_id, a.kind, upper(trim(a.claimed_country)) AS c, a.extra "
        "FROM accounts a JOIN (SELECT DISTINCT network_id, platform, account_id FROM _loc_m) m "
        "USING (platform, account_id) "
        "WHERE (a.claimed_country IS NOT NULL AND trim(a.claimed_country) <> '') "
        "OR a.extra LIKE '%audience_countr%'").fetchall()
    kind_w = {"page": 3.0, "channel": 3.0, "group": 2.0}
    claims: dict[str, list[tuple[str, float]]] = {n: [] for n in nets}
    n_claim: dict[str, dict[str, int]] = {n: {} for n in nets}
    n_aud: dict[str, int] = {n: 0 for n in nets}
    for net, kind, c, extra in pres:
        if c:
            claims[net].append((c, kind_w.get(kind or "user", 1.0)))
            n_claim[net][kind or "user"] = n_claim[net].get(kind or "user", 0) + 1
        for a in _audience_codes(extra):
            claims[net].append((a, 1.0))
            n_aud[net] += 1
    presented = {n: _shares(claims[n]) for n in nets}

    # 3. Origin from sessions.
    origin, evidence, n_ses, telemetry, kinds, notes = _origin(con, nets, presented, fits, w)

    # 4. Assemble.
    out: dict[str, list[Any]] = {f.name: [] for f in LOCATION_SCHEMA}
    for net in nets:
        fit = fits[net_index[net]]
        pr = presented[net]
        orig = origin.get(net, [])
        tel = telemetry.get(net, False)
        limits: list[str] = []
        conf = "none"
        if tel and orig:
            conf = _confidence(orig, kinds.get(net, set()), fit)
        elif fit.office_hours and fit.countries:
            # no telemetry: the working time zone is the only origin evidence
            orig = [{"country": c, "share": round(1.0 / len(fit.countries), 4)}
                    for c in fit.countries]
            conf = "low"
            limits.append("no sessions: origin inferred from activity rhythm only "
                          f"(office hours at {_fmt_offset(fit.offset_h or 0.0)}; several countries "
                          "share a time zone)")
        elif not tel:
            limits.append("no sessions: origin not established (activity follows a daily rhythm, "
                          "which shows the audience's time zone as much as the operators')"
                          if fit.offset_h is not None else
                          "no sessions and no usable activity rhythm: origin not established")
        if tel and not orig:
            limits.append("sessions carry no country")
        if fit.offset_h is None:
            limits.append(f"rhythm: only {fit.events:,} events" if fit.events < w.min_rhythm_events
                          else f"rhythm: {fit.events:,} events without a stable daily pattern "
                          "(active around the clock or in bursts)")
        if not pr:
            limits.append("no claimed country or audience: presented location unknown")
        pres_ev = None
        if pr:
            nc = n_claim[net]
            parts = [f"{v:,} {k}{'s' if v != 1 else ''}" for k, v in sorted(nc.items())]
            pres_ev = (f"{pr[0]['country']} in {_pct(pr[0]['share'])} of weighted claims "
                       f"({', '.join(parts) or 'no'} with a claimed country"
                       + (f", {n_aud[net]:,} audience hints" if n_aud[net] else "") + ")")
        mismatch, reason = _mismatch(pr, orig, tel, n_ses.get(net, {}), notes.get(net, {}), fit, w)
        row = {
            "network_id": net, "telemetry": tel, "n_sessions": int(sum(n_ses.get(net, {}).values())),
            "origin_country": orig[0]["country"] if orig else None, "origin_countries": orig,
            "origin_confidence": conf, "origin_evidence": evidence.get(net, []),
            "presented_country": pr[0]["country"] if pr else None, "presented_countries": pr,
            "presented_evidence": pres_ev, "rhythm_events": fit.events,
            "rhythm_offset_h": fit.offset_h, "rhythm_office_hours": fit.office_hours,
            "rhythm_office_score": None if fit.office_score is None else round(fit.office_score, 4),
            "rhythm_weekend": _WEEKEND_NAMES.get(fit.weekend) if fit.weekend else None,
            "rhythm_hours": fit.hours, "rhythm_countries": fit.countries,
            "location_mismatch": mismatch, "mismatch_reason": reason,
            "limitations": "; ".join(limits) or None,
        }
        for k, v in row.items():
            out[k].append(v)
    return pa.table(out, schema=LOCATION_SCHEMA)


def _rhythm_phrase(fit: RhythmFit) -> str:
    if fit.offset_h is None:
        return ""
    if fit.office_hours:
        return (f"it works {fit.hours} {_fmt_offset(fit.offset_h)} on weekdays"
                f" (weekend {_WEEKEND_NAMES.get(fit.weekend or (), '?')})")
    return f"its activity follows a daily rhythm at {_fmt_offset(fit.offset_h)} (active {fit.hours})"


def _mismatch(pr: list[dict[str, Any]], orig: list[dict[str, Any]], tel: bool,
              n_ses: dict[str, int], notes: dict[str, str], fit: RhythmFit,
              w: LocationWeights) -> tuple[bool, str | None]:
    if not pr or pr[0]["share"] < w.min_presented_share:
        return False, None
    p = pr[0]["country"]
    head = f"presents as {p} ({_pct(pr[0]['share'])} of claimed countries)"
    if tel and orig:
        o = orig[0]
        if o["country"] == p:
            return False, None
        p_share = next((x["share"] for x in orig if x["country"] == p), 0.0)
        if o["share"] < w.min_origin_share or o["share"] < w.origin_ratio * p_share:
            return False, None
        total = sum(n_ses.values())
        reason = (f"{head} but sessions come from {o['country']} ({_pct(o['share'])} of weighted "
                  f"evidence, {n_ses.get(o['country'], 0):,} of {total:,} sessions)")
        if p_share > 0:
            reason += (f"; {p} only {_pct(p_share)} ({n_ses.get(p, 0):,} sessions"
                       + (f", {notes[p]}" if notes.get(p) else "") + ")")
        rp = _rhythm_phrase(fit)
        if rp:
            dist = _country_distance(o["country"], fit.offset_h or 0.0)
            fits_o = dist is not None and dist <= 1.0
            reason += f" and {rp}" + (f", which fits {o['country']}" if fits_o and fit.office_hours else "")
        return True, reason
    if fit.office_hours and fit.offset_h is not None:
        dist = _country_distance(p, fit.offset_h)
        if dist is not None and dist > w.rhythm_mismatch_h:
            zones = ", ".join(_fmt_offset(o) for o in COUNTRY_TIME_ZONES[p][0])
            where = ", ".join(fit.countries[:5]) or "no listed country"
            return True, (f"{head} but {_rhythm_phrase(fit)}, which does not fit {p} ({zones}) "
                          f"and fits {where} (no sessions: rhythm only)")
    return False, None


def _confidence(orig: list[dict[str, Any]], kinds: set[str], fit: RhythmFit) -> str:
    """``high``: top share >= 0.6 and two kinds of evidence agree; ``medium``: top share >= 0.5
    with one kind; ``low`` otherwise. Kinds: member sessions on revealing addresses (own,
    pooled, consumer), operator or admin sessions, office hours in a zone of the country."""
    top = orig[0]
    k = set(kinds)
    if fit.office_hours and fit.offset_h is not None:
        d = _country_distance(top["country"], fit.offset_h)
        if d is not None and d <= 1.0:
            k.add("rhythm")
    if top["share"] >= 0.6 and len(k) >= 2:
        return "high"
    if top["share"] >= 0.5 and k:
        return "medium"
    return "low"


_CATEGORY_SQL = """
CASE
  WHEN s.ip IS NULL THEN 'unknown'
  WHEN i.g_acc - n.n_acc >= 3 AND coalesce(x.native, 1.0) < 0.5 THEN 'exit'
  WHEN i.g_acc - n.n_acc BETWEEN 1 AND 10 AND i.g_ses - n.n_ses >= n.n_ses AND ai.n_ai <= 2
       THEN 'borrowed'
  WHEN i.g_acc - n.n_acc > 10 THEN 'consumer'
  WHEN n.n_ses = n.n_acc AND n.n_acc <= 3 THEN 'one_off'
  WHEN n.n_acc >= 2 THEN 'pooled'
  ELSE 'own'
END"""

_CATEGORY_WORDS = {
    "pooled": "addresses shared by several network accounts (office or VPN)",
    "own": "addresses an account keeps using",
    "consumer": "mobile/ISP addresses shared with many local users",
    "one_off": "addresses used once (rotating proxies, travel)",
    "borrowed": "other people's home addresses used briefly (residential proxies)",
    "exit": "VPN/proxy exits whose other users live elsewhere",
    "unknown": "sessions without an address",
}
_STRONG = ("pooled", "own", "consumer")


def _origin(con: duckdb.DuckDBPyConnection, nets: list[str],
            presented: dict[str, list[dict[str, Any]]], fits: list[RhythmFit],
            w: LocationWeights) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]],
                                         dict[str, dict[str, int]], dict[str, bool], dict[str, set[str]],
                                         dict[str, dict[str, str]]]:
    role_w = {"member": w.member, "admin": w.admin, "operator": w.operator}
    cat_w = {"exit": w.exit, "borrowed": w.borrowed, "consumer": w.consumer, "one_off": w.one_off,
             "pooled": w.pooled, "own": w.own, "unknown": w.unknown}
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _loc_acct AS
        SELECT network_id, platform, account_id, arg_max(src, rw) AS src, max(rw) AS rw FROM (
          SELECT network_id, platform, account_id, 'member' AS src, {w.member} AS rw FROM _loc_m
          UNION ALL
          SELECT network_id, platform, account_id, 'operator', {w.operator} FROM _loc_o
          UNION ALL
          SELECT m.network_id, r.platform, r.account_id, 'admin', {w.admin}
          FROM roles r JOIN _loc_m m ON r.platform = m.platform AND r.asset_id = m.account_id
          WHERE coalesce(lower(r.role), 'admin') IN ('owner', 'admin', 'editor', 'moderator')
        ) GROUP BY ALL""")
    # an account that is a member is a member, not an admin, even if it holds a role
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _loc_acct2 AS
        SELECT a.network_id, a.platform, a.account_id,
               CASE WHEN a.src = 'admin' AND m.account_id IS NOT NULL THEN 'member' ELSE a.src END AS src
        FROM _loc_acct a LEFT JOIN (SELECT DISTINCT network_id, platform, account_id FROM _loc_m) m
        USING (network_id, platform, account_id)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _loc_ses AS
        SELECT a.network_id, a.src, s.platform, s.account_id, s.ip, upper(s.country) AS country
        FROM sessions s JOIN _loc_acct2 a USING (platform, account_id)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _loc_ip AS
        SELECT ip, count(DISTINCT platform || chr(31) || account_id) AS g_acc, count(*) AS g_ses,
               mode(upper(country)) AS ip_country
        FROM sessions WHERE ip IN (SELECT DISTINCT ip FROM _loc_ses WHERE ip IS NOT NULL)
        GROUP BY ip""")
    # addresses shared with outsiders: do their users mostly live in the address's country?
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _loc_native AS
        WITH shared AS (SELECT ip, ip_country FROM _loc_ip WHERE g_acc >= 4),
        on_ip AS (SELECT DISTINCT s.ip, s.platform, s.account_id, sh.ip_country
                  FROM sessions s JOIN shared sh USING (ip)),
        accs AS (SELECT DISTINCT platform, account_id FROM on_ip),
        acc_c AS (SELECT s.platform, s.account_id, upper(s.country) AS country, count(*) AS n,
                         sum(count(*)) OVER (PARTITION BY s.platform, s.account_id) AS tot
                  FROM sessions s JOIN accs USING (platform, account_id)
                  GROUP BY s.platform, s.account_id, upper(s.country))
        SELECT o.ip, avg(coalesce(c.n, 0) / t.tot) AS native
        FROM on_ip o
        JOIN (SELECT DISTINCT platform, account_id, tot FROM acc_c) t USING (platform, account_id)
        LEFT JOIN acc_c c ON c.platform = o.platform AND c.account_id = o.account_id
                         AND c.country = o.ip_country
        GROUP BY o.ip""")
    rows = con.execute(f"""
        WITH n AS (SELECT network_id, ip, count(DISTINCT platform || chr(31) || account_id) AS n_acc,
                          count(*) AS n_ses FROM _loc_ses GROUP BY ALL),
        ai AS (SELECT network_id, platform, account_id, ip, count(*) AS n_ai FROM _loc_ses GROUP BY ALL)
        SELECT s.network_id, s.src, s.country, {_CATEGORY_SQL} AS cat, count(*) AS n
        FROM _loc_ses s
        LEFT JOIN n ON n.network_id = s.network_id AND n.ip = s.ip
        LEFT JOIN ai ON ai.network_id = s.network_id AND ai.platform = s.platform
                    AND ai.account_id = s.account_id AND ai.ip = s.ip
        LEFT JOIN _loc_ip i ON i.ip = s.ip
        LEFT JOIN _loc_native x ON x.ip = s.ip
        GROUP BY ALL""").fetchall()
    for t in ("_loc_acct", "_loc_acct2", "_loc_ses", "_loc_ip", "_loc_native"):
        con.execute(f"DROP TABLE IF EXISTS {t}")

    net_index = {n: i for i, n in enumerate(nets)}
    by_net: dict[str, list[tuple[str, str | None, str, int]]] = {}
    for net, src, country, cat, n in rows:
        by_net.setdefault(net, []).append((src, country, cat, int(n)))

    origin: dict[str, list[dict[str, Any]]] = {}
    evidence: dict[str, list[str]] = {}
    n_ses: dict[str, dict[str, int]] = {}
    telemetry: dict[str, bool] = {}
    kinds: dict[str, set[str]] = {}
    short: dict[str, dict[str, str]] = {}
    for net, items in by_net.items():
        fit = fits[net_index[net]]
        pres = {p["country"] for p in presented.get(net, []) if p["share"] >= 0.2}
        telemetry[net] = True
        score: dict[str, float] = {}
        cnt: dict[str, int] = {}
        by_cat: dict[str, dict[str, int]] = {}
        by_src: dict[str, dict[str, int]] = {}
        for src, country, cat, n in items:
            if not country:
                continue
            f = role_w[src] * cat_w[cat]
            if country in pres:
                f *= w.presented_factor
            if fit.office_hours and fit.offset_h is not None:
                d = _country_distance(country, fit.offset_h)
                if d is not None and d > 1.0:
                    f *= w.rhythm_factor
            score[country] = score.get(country, 0.0) + f * n
            cnt[country] = cnt.get(country, 0) + n
            by_cat.setdefault(country, {}).setdefault(cat, 0)
            by_cat[country][cat] += n
            by_src.setdefault(country, {}).setdefault(src, 0)
            by_src[country][src] += n
        n_ses[net] = cnt
        shares = _shares(list(score.items()))
        origin[net] = shares
        ev: list[str] = []
        k: set[str] = set()
        for item in shares[:3]:
            c = item["country"]
            cats = by_cat[c]
            srcs = by_src[c]
            strong = sum(cats.get(x, 0) for x in _STRONG)
            weak = cnt[c] - strong
            line = (f"{c}: {_pct(item['share'])} of weighted evidence; {cnt[c]:,} sessions, "
                    f"{strong:,} on revealing addresses")
            detail = [f"{cats[x]:,} on {_CATEGORY_WORDS[x]}" for x in
                      ("pooled", "own", "consumer", "one_off", "borrowed", "exit", "unknown") if cats.get(x)]
            line += " (" + "; ".join(detail) + ")"
            who = [f"{srcs[s]:,} of operator accounts" if s == "operator" else
                   f"{srcs[s]:,} of page/group admins" for s in ("operator", "admin") if srcs.get(s)]
            if who:
                line += "; " + ", ".join(who)
            notes = []
            if weak > strong:
                worst = max(("one_off", "borrowed", "exit", "unknown"), key=lambda x: cats.get(x, 0))
                notes.append({"one_off": "mostly addresses used once (rotating proxies)",
                              "borrowed": "mostly other people's home addresses (residential proxies)",
                              "exit": "mostly VPN/proxy exits",
                              "unknown": "mostly without an address"}[worst] + ", down-weighted")
            if c in pres:
                notes.append("presented country, counted half")
            if fit.office_hours and fit.offset_h is not None:
                d = _country_distance(c, fit.offset_h)
                if d is not None and d > 1.0:
                    notes.append(f"outside the working time zone {_fmt_offset(fit.offset_h)}, "
                                 f"counted {w.rhythm_factor:g}")
            if notes:
                line += " [" + "; ".join(notes) + "]"
            ev.append(line)
            short.setdefault(net, {})[c] = "; ".join(notes)
        top = shares[0]["country"] if shares else None
        if top:
            if sum(by_cat[top].get(x, 0) for x in _STRONG if x) and by_src[top].get("member", 0):
                k.add("member sessions")
            if by_src[top].get("operator", 0) or by_src[top].get("admin", 0):
                k.add("operator/admin sessions")
        if fit.offset_h is not None:
            ev.append(("activity: " + _rhythm_phrase(fit)
                       + (f"; fits {', '.join(fit.countries[:6])}" if fit.countries else "")))
        evidence[net] = ev
        kinds[net] = k
    return origin, evidence, n_ses, telemetry, kinds, short
