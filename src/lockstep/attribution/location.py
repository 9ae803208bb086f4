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
within an hour of its working time zone (at the times of its events) count ``rhythm_factor``
(0.3) of their weight.
``origin_countries`` are the resulting shares.

**Presented location**: ``claimed_country`` of the members (a page or channel weighs 3, a group
2, a user 1) plus audience hints in ``accounts.extra`` (``audience_country`` or
``audience_countries``, weight 1 each). The simulator writes no ``extra`` on accounts, so its
worlds use claimed countries only.

**Time zone** (works on public data, no telemetry): the members' events are placed on the
local clock of each of :data:`REPRESENTATIVE_ZONES` (real IANA zones, one per distinct pattern
of UTC offsets and daylight-saving rules), each event with the zone's offset at that instant
(:mod:`zoneinfo`), binned by half hour of the local week and scored, by log-likelihood, against
an ordinary daily rhythm (quiet night, evening peak) and office hours (09:00-18:00 on workdays
with a lunch dip, mixed with some ordinary activity) for five weekend conventions (Sat-Sun,
Sun, Fri, Fri-Sat, Thu-Fri). ``time_zone`` is the best zone, ``time_zone_offset`` its offsets
at the events (``UTC+1 and UTC+2`` when the clocks changed during the activity),
``time_zone_evidence`` the zone in plain words ("UTC+2, consistent with Central European summer
time (Europe/Berlin)") with what it rests on and the zones with the same offsets at every
event (they cannot be told apart). ``rhythm_offset_h`` is the offset at most events;
``rhythm_office_score`` is how much better (nats per event) office hours explain the activity
than a daily rhythm, and ``rhythm_office_hours`` is that score above ``office_threshold``.
``rhythm_countries`` are the countries of :data:`COUNTRY_ZONES` with a zone of the same
offsets: what the zone is consistent with, never an origin.

A zone needs at least :data:`MIN_ZONE_EVENTS` events from :data:`MIN_ZONE_ACCOUNTS` accounts
(otherwise "not enough activity to infer a time zone"), the best template must beat a flat
week, and the two halves of the period (even and odd weeks) must agree within 2 h, so that
bursts at random times (spam) give no zone.

**Without telemetry** (no sessions for the network's accounts) a rhythm gives a time zone,
never a country by itself: the origin is the network's presented country, with ``low``
confidence, only when its activity follows office hours in one of that country's zones; it is
left empty otherwise, and ``limitations`` gives the zone and says that a time zone is shared by
many countries (and that a daily rhythm shows the audience's time zone as much as the
operators').

**Confidence**: ``high`` when the top origin has at least 60% of the weighted evidence and two
independent kinds of evidence point to it (member sessions on revealing addresses, operator or
admin sessions, office hours in one of its time zones); ``medium`` with 50% and one kind;
``low`` otherwise and for rhythm-only origins; ``none`` when nothing is known.

**Mismatch**: the network presents as country P (the top presented country, at least 40% of
the claims) and its origin is another country O (with telemetry: O has at least half of the
weighted evidence and 1.2 times P's share; without: office hours in a zone more than 1.5 h
from every time zone of P at the times of the events).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import duckdb

    from lockstep.workspace import Workspace

__all__ = ["locate_networks", "fit_rhythm", "LocationWeights", "COUNTRY_ZONES", "COUNTRY_TIME_ZONES",
           "REPRESENTATIVE_ZONES", "MIN_ZONE_EVENTS", "MIN_ZONE_ACCOUNTS", "LOCATION_SCHEMA",
           "RhythmFit", "countries_in_zone", "zone_offset_h", "describe_zone"]

#: Fewest events for a time zone: with fewer, a daily rhythm passes for office hours, or one
#: zone for another an hour away, by chance (65 events by 3 accounts gave "office hours at
#: UTC+3:30, weekend Fri" on the German election data).
MIN_ZONE_EVENTS = 200
#: Fewest accounts with events for a time zone: a zone describes a network, not the schedule
#: of one or two of its accounts (a single page's posting tool, one person's habits).
MIN_ZONE_ACCOUNTS = 5

#: Per country: its main IANA time zones (the most populous first), weekend days (Monday = 0)
#: and population in millions (rough, to order countries sharing a time zone). Offsets, with
#: daylight saving, come from :mod:`zoneinfo` at the time of each event.
COUNTRY_ZONES: dict[str, tuple[tuple[str, ...], tuple[int, ...], float]] = {
    "US": (("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
            "America/Phoenix", "America/Anchorage", "Pacific/Honolulu"), (5, 6), 335),
    "CA": (("America/Toronto", "America/Vancouver", "America/Edmonton", "America/Winnipeg",
            "America/Halifax", "America/St_Johns", "America/Regina"), (5, 6), 39),
    "MX": (("America/Mexico_City", "America/Tijuana", "America/Hermosillo", "America/Cancun"),
           (5, 6), 128),
    "GT": (("America/Guatemala",), (5, 6), 18), "HN": (("America/Tegucigalpa",), (5, 6), 10),
    "SV": (("America/El_Salvador",), (5, 6), 6), "NI": (("America/Managua",), (5, 6), 7),
    "CR": (("America/Costa_Rica",), (5, 6), 5), "CU": (("America/Havana",), (5, 6), 11),
    "PA": (("America/Panama",), (5, 6), 4), "CO": (("America/Bogota",), (5, 6), 52),
    "PE": (("America/Lima",), (5, 6), 34), "EC": (("America/Guayaquil",), (5, 6), 18),
    "VE": (("America/Caracas",), (5, 6), 28), "BO": (("America/La_Paz",), (5, 6), 12),
    "DO": (("America/Santo_Domingo",), (5, 6), 11), "CL": (("America/Santiago",), (5, 6), 20),
    "BR": (("America/Sao_Paulo", "America/Manaus"), (5, 6), 216),
    "AR": (("America/Argentina/Buenos_Aires",), (5, 6), 46),
    "UY": (("America/Montevideo",), (5, 6), 3), "PY": (("America/Asuncion",), (5, 6), 7),
    "GB": (("Europe/London",), (5, 6), 68), "IE": (("Europe/Dublin",), (5, 6), 5),
    "PT": (("Europe/Lisbon", "Atlantic/Azores"), (5, 6), 10), "GH": (("Africa/Accra",), (5, 6), 34),
    "SN": (("Africa/Dakar",), (5, 6), 18), "CI": (("Africa/Abidjan",), (5, 6), 28),
    "ES": (("Europe/Madrid", "Atlantic/Canary"), (5, 6), 48), "FR": (("Europe/Paris",), (5, 6), 68),
    "DE": (("Europe/Berlin",), (5, 6), 84), "IT": (("Europe/Rome",), (5, 6), 59),
    "NL": (("Europe/Amsterdam",), (5, 6), 18), "BE": (("Europe/Brussels",), (5, 6), 12),
    "CH": (("Europe/Zurich",), (5, 6), 9), "AT": (("Europe/Vienna",), (5, 6), 9),
    "PL": (("Europe/Warsaw",), (5, 6), 37), "SE": (("Europe/Stockholm",), (5, 6), 10),
    "NO": (("Europe/Oslo",), (5, 6), 5), "DK": (("Europe/Copenhagen",), (5, 6), 6),
    "CZ": (("Europe/Prague",), (5, 6), 11), "HU": (("Europe/Budapest",), (5, 6), 10),
    "RS": (("Europe/Belgrade",), (5, 6), 7), "HR": (("Europe/Zagreb",), (5, 6), 4),
    "NG": (("Africa/Lagos",), (5, 6), 224), "DZ": (("Africa/Algiers",), (4, 5), 45),
    "MA": (("Africa/Casablanca",), (5, 6), 37), "TN": (("Africa/Tunis",), (5, 6), 12),
    "CM": (("Africa/Douala",), (5, 6), 28), "AO": (("Africa/Luanda",), (5, 6), 37),
    "CD": (("Africa/Kinshasa", "Africa/Lubumbashi"), (5, 6), 102),
    "UA": (("Europe/Kyiv",), (5, 6), 37), "RO": (("Europe/Bucharest",), (5, 6), 19),
    "GR": (("Europe/Athens",), (5, 6), 10), "FI": (("Europe/Helsinki",), (5, 6), 6),
    "BG": (("Europe/Sofia",), (5, 6), 6), "MD": (("Europe/Chisinau",), (5, 6), 3),
    "EG": (("Africa/Cairo",), (4, 5), 113), "IL": (("Asia/Jerusalem",), (4, 5), 10),
    "PS": (("Asia/Gaza",), (4, 5), 5), "LB": (("Asia/Beirut",), (5, 6), 5),
    "ZA": (("Africa/Johannesburg",), (5, 6), 60), "ZW": (("Africa/Harare",), (5, 6), 16),
    "SD": (("Africa/Khartoum",), (4, 5), 48), "LY": (("Africa/Tripoli",), (4, 5), 7),
    "RU": (("Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Europe/Samara",
            "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Vladivostok"), (5, 6), 144),
    "BY": (("Europe/Minsk",), (5, 6), 9), "TR": (("Europe/Istanbul",), (5, 6), 85),
    "SA": (("Asia/Riyadh",), (4, 5), 37), "IQ": (("Asia/Baghdad",), (4, 5), 45),
    "SY": (("Asia/Damascus",), (4, 5), 23), "JO": (("Asia/Amman",), (4, 5), 11),
    "KW": (("Asia/Kuwait",), (4, 5), 4), "QA": (("Asia/Qatar",), (4, 5), 3),
    "BH": (("Asia/Bahrain",), (4, 5), 1.5), "YE": (("Asia/Aden",), (4, 5), 34),
    "KE": (("Africa/Nairobi",), (5, 6), 55), "ET": (("Africa/Addis_Ababa",), (5, 6), 126),
    "TZ": (("Africa/Dar_es_Salaam",), (5, 6), 67), "UG": (("Africa/Kampala",), (5, 6), 48),
    "IR": (("Asia/Tehran",), (3, 4), 89),
    "AE": (("Asia/Dubai",), (5, 6), 10), "OM": (("Asia/Muscat",), (4, 5), 5),
    "AZ": (("Asia/Baku",), (5, 6), 10), "GE": (("Asia/Tbilisi",), (5, 6), 4),
    "AM": (("Asia/Yerevan",), (5, 6), 3), "AF": (("Asia/Kabul",), (3, 4), 42),
    "PK": (("Asia/Karachi",), (5, 6), 240), "UZ": (("Asia/Tashkent",), (5, 6), 36),
    "KZ": (("Asia/Almaty", "Asia/Aqtobe"), (5, 6), 20),
    "IN": (("Asia/Kolkata",), (6,), 1430), "LK": (("Asia/Colombo",), (5, 6), 22),
    "NP": (("Asia/Kathmandu",), (5,), 31), "BD": (("Asia/Dhaka",), (4, 5), 173),
    "MM": (("Asia/Yangon",), (5, 6), 54), "TH": (("Asia/Bangkok",), (5, 6), 72),
    "VN": (("Asia/Ho_Chi_Minh",), (5, 6), 99), "KH": (("Asia/Phnom_Penh",), (5, 6), 17),
    "ID": (("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"), (5, 6), 278),
    "CN": (("Asia/Shanghai",), (5, 6), 1410), "HK": (("Asia/Hong_Kong",), (5, 6), 7.5),
    "TW": (("Asia/Taipei",), (5, 6), 24), "SG": (("Asia/Singapore",), (5, 6), 6),
    "MY": (("Asia/Kuala_Lumpur",), (5, 6), 34), "PH": (("Asia/Manila",), (5, 6), 117),
    "JP": (("Asia/Tokyo",), (5, 6), 124), "KR": (("Asia/Seoul",), (5, 6), 52),
    "AU": (("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Perth",
            "Australia/Adelaide"), (5, 6), 27),
    "NZ": (("Pacific/Auckland",), (5, 6), 5),
}

#: The zones a rhythm is fitted to: one per distinct pattern of UTC offsets and daylight-saving
#: rules, the most populous first (zones with the same offsets during the data are tied, and the
#: first one names the fit; the others are listed as equally consistent). Events are binned by
#: half hour, so zones a quarter hour apart (Asia/Kathmandu, UTC+5:45) are not told apart from
#: their neighbours: Nepal is among the countries consistent with Asia/Kolkata.
REPRESENTATIVE_ZONES: tuple[str, ...] = (
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Phoenix", "America/Denver", "America/Mexico_City", "America/Chicago",
    "America/Bogota", "America/New_York", "America/Caracas", "America/Halifax",
    "America/Santiago", "America/St_Johns", "America/Sao_Paulo", "Atlantic/Cape_Verde",
    "Atlantic/Azores", "Europe/London", "Africa/Abidjan", "Africa/Casablanca", "Europe/Berlin",
    "Africa/Lagos", "Africa/Cairo", "Africa/Johannesburg", "Europe/Kyiv", "Asia/Jerusalem",
    "Asia/Beirut", "Europe/Moscow", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi",
    "Asia/Kolkata", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok",
    "Asia/Shanghai", "Asia/Tokyo", "Australia/Darwin", "Australia/Adelaide",
    "Australia/Brisbane", "Australia/Sydney", "Pacific/Noumea", "Pacific/Auckland",
    "Pacific/Tarawa", "Pacific/Tongatapu", "Pacific/Kiritimati",
)

#: Plain names of the representative zones: (standard time, daylight-saving time or None).
_ZONE_WORDS: dict[str, tuple[str, str | None]] = {
    "Pacific/Honolulu": ("Hawaii standard time", None),
    "America/Anchorage": ("Alaska standard time", "Alaska daylight time"),
    "America/Los_Angeles": ("US Pacific standard time", "US Pacific daylight time"),
    "America/Phoenix": ("US Mountain standard time (Arizona)", None),
    "America/Denver": ("US Mountain standard time", "US Mountain daylight time"),
    "America/Mexico_City": ("Mexican central time", "Mexican central daylight time"),
    "America/Chicago": ("US Central standard time", "US Central daylight time"),
    "America/Bogota": ("Colombia time", None),
    "America/New_York": ("US Eastern standard time", "US Eastern daylight time"),
    "America/Caracas": ("Venezuela time", None),
    "America/Halifax": ("Atlantic standard time", "Atlantic daylight time"),
    "America/Santiago": ("Chile standard time", "Chile summer time"),
    "America/St_Johns": ("Newfoundland standard time", "Newfoundland daylight time"),
    "America/Sao_Paulo": ("Brasilia time", None),
    "Europe/London": ("Greenwich Mean Time (UK)", "British summer time"),
    "Africa/Abidjan": ("Greenwich Mean Time (West Africa)", None),
    "Europe/Berlin": ("Central European standard time", "Central European summer time"),
    "Africa/Lagos": ("West Africa time", None),
    "Africa/Cairo": ("Egypt standard time", "Egypt summer time"),
    "Africa/Johannesburg": ("South African standard time", None),
    "Europe/Kyiv": ("Eastern European standard time", "Eastern European summer time"),
    "Asia/Jerusalem": ("Israel standard time", "Israel daylight time"),
    "Europe/Moscow": ("Moscow time", None),
    "Asia/Tehran": ("Iran standard time", "Iran daylight time"),
    "Asia/Dubai": ("Gulf standard time", None),
    "Asia/Karachi": ("Pakistan standard time", None),
    "Asia/Kolkata": ("India standard time", None),
    "Asia/Kathmandu": ("Nepal time", None),
    "Asia/Dhaka": ("Bangladesh standard time", None),
    "Asia/Yangon": ("Myanmar time", None),
    "Asia/Bangkok": ("Indochina time", None),
    "Asia/Shanghai": ("China standard time", None),
    "Asia/Tokyo": ("Japan standard time", None),
    "Australia/Sydney": ("Australian Eastern standard time", "Australian Eastern daylight time"),
    "Pacific/Auckland": ("New Zealand standard time", "New Zealand daylight time"),
}

_WEEKENDS: tuple[tuple[int, ...], ...] = ((5, 6), (6,), (4,), (4, 5), (3, 4))
_WEEKEND_NAMES = {(5, 6): "Sat-Sun", (6,): "Sun", (4,): "Fri", (4, 5): "Fri-Sat", (3, 4): "Thu-Fri"}
_SPILLS = (0.05, 0.15, 0.3, 0.5)
_BINS = 7 * 48  # half hours of the week, Monday 00:00 first
_SLOT_S = 900  # events are counted by quarter hour: every real offset is a multiple of 15 min

#: A generic daily rhythm of ordinary people by local hour: quiet nights, evening peak.
_DAILY = np.array([2.2, 1.3, 0.8, 0.5, 0.4, 0.5, 1.0, 2.0, 3.2, 3.8, 4.0, 4.2, 4.6, 4.7, 4.4, 4.3,
                   4.5, 4.8, 5.4, 6.2, 6.8, 7.0, 6.0, 4.2])
#: Office work by local hour: 09:00-18:00 with a lunch dip.
_OFFICE = np.array([0, 0, 0, 0, 0, 0, 0, 0.01, 0.08, 0.65, 0.95, 1.0, 0.65, 0.55, 0.95, 1.0,
                    0.95, 0.8, 0.3, 0.06, 0.01, 0, 0, 0])


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def _offset_s(name: str, epoch_s: int) -> tuple[int, bool]:
    """UTC offset (seconds) of zone ``name`` at ``epoch_s``, and whether it is daylight saving."""
    z = _zone(name)
    if z is None:
        return 0, False
    t = datetime.fromtimestamp(epoch_s, tz=z)
    off, dst = t.utcoffset(), t.dst()
    return (int(off.total_seconds()) if off is not None else 0), bool(dst)


def zone_offset_h(zone: str, when: float | datetime) -> float | None:
    """UTC offset in hours of IANA ``zone`` at ``when`` (epoch seconds or an aware datetime),
    daylight saving included; ``None`` for a zone this machine does not know."""
    if _zone(zone) is None:
        return None
    ts = when.timestamp() if isinstance(when, datetime) else float(when)
    return _offset_s(zone, int(ts))[0] / 3600.0


def _standard_offset_h(zone: str) -> float:
    z = _zone(zone)
    if z is None:
        return 0.0
    offs = []
    for month in (1, 7):
        t = datetime(2024, month, 15, tzinfo=z)
        off = t.utcoffset()
        dst = t.dst()
        offs.append(((off.total_seconds() if off else 0.0) - (dst.total_seconds() if dst else 0.0))
                    / 3600.0)
    return offs[0]


#: Standard-time offsets of :data:`COUNTRY_ZONES` (derived with :mod:`zoneinfo`, daylight saving
#: removed), for callers that compare fixed offsets such as the simulator's; the rhythm fit
#: itself uses the zones.
COUNTRY_TIME_ZONES: dict[str, tuple[tuple[float, ...], tuple[int, ...], float]] = {
    code: (tuple(_standard_offset_h(z) for z in zones), we, pop)
    for code, (zones, we, pop) in COUNTRY_ZONES.items()}

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
    ("rhythm_accounts", pa.int64()),
    ("rhythm_offset_h", pa.float64()),
    ("rhythm_office_hours", pa.bool_()),
    ("rhythm_office_score", pa.float64()),
    ("rhythm_weekend", pa.string()),
    ("rhythm_hours", pa.string()),
    ("rhythm_countries", pa.list_(pa.string())),
    ("time_zone", pa.string()),
    ("time_zone_offset", pa.string()),
    ("time_zone_evidence", pa.string()),
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
    #: fewest events, and accounts with events, for a time zone (:data:`MIN_ZONE_EVENTS`,
    #: :data:`MIN_ZONE_ACCOUNTS`), and fewest events for calling it office hours
    min_rhythm_events: int = MIN_ZONE_EVENTS
    min_rhythm_accounts: int = MIN_ZONE_ACCOUNTS
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
_IS_OFFICE = np.array([m[0] == "office" for m in _T_META])


@dataclass
class RhythmFit:
    """The time-zone fit of one network (see :func:`fit_rhythm`).

    Attributes
    ----------
    events, accounts : int
        Events counted, and accounts with events (``None`` when not given).
    zone : str or None
        The IANA zone whose local clock best explains the activity; ``None`` when no zone is
        inferred (``reason`` says why).
    offset_h : float or None
        The UTC offset of ``zone`` at most of the events (daylight saving included).
    offsets_h : tuple of float
        Every offset of ``zone`` in effect at the events, the commonest first.
    dst_share : float or None
        Share of the events that fall in ``zone``'s daylight-saving time.
    same_offsets : tuple of str
        Other candidate zones with the same offsets at every event: equally consistent.
    office_hours, office_score, weekend, hours, strength
        Whether office hours (with this weekend, Monday = 0) explain the activity better than
        a daily rhythm, by how much (nats per event), the local hours holding 80% of it, and
        by how much the best template beats a flat week.
    countries : list of str
        Countries with a time zone of the same offsets at the events (what the zone is
        consistent with, never an origin by itself).
    instants : tuple of float
        First, median and last event (epoch seconds), where zones are compared.
    reason : str or None
        Why no zone was inferred.
    """

    events: int
    offset_h: float | None
    office_hours: bool
    office_score: float | None
    weekend: tuple[int, ...] | None
    hours: str | None
    countries: list[str]
    strength: float | None = None
    accounts: int | None = None
    zone: str | None = None
    offsets_h: tuple[float, ...] = ()
    dst_share: float | None = None
    same_offsets: tuple[str, ...] = ()
    instants: tuple[float, ...] = ()
    reason: str | None = None


def _fmt_offset(off: float) -> str:
    sign = "+" if off >= 0 else "-"
    a = abs(off)
    h, m = int(a), int(round((a - int(a)) * 60))
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def describe_zone(fit: RhythmFit) -> str | None:
    """Plain words for a fitted zone, e.g. ``"UTC+2, consistent with Central European summer
    time (Europe/Berlin)"``; ``None`` when the fit has no zone."""
    if fit.zone is None or fit.offset_h is None:
        return None
    offs = " and ".join(_fmt_offset(o) for o in sorted(fit.offsets_h or (fit.offset_h,)))
    std, summer = _ZONE_WORDS.get(fit.zone, (None, None))
    dst = fit.dst_share or 0.0
    if std is None:
        words = fit.zone
    elif summer is None or dst <= 0.0:
        words = f"{std} ({fit.zone})"
    elif dst >= 1.0:
        words = f"{summer} ({fit.zone})"
    else:
        words = f"{std} and {summer} ({fit.zone}, daylight saving changed during the activity)"
    return f"{offs}, consistent with {words}"


def countries_in_zone(zone: str, at: Sequence[float | datetime], *, tolerance_h: float = 0.5,
                      weekend: tuple[int, ...] | None = None) -> list[str]:
    """Countries of :data:`COUNTRY_ZONES` with a zone whose offsets match ``zone``'s at ``at``.

    Parameters
    ----------
    zone : str
        An IANA zone.
    at : sequence of float or datetime
        Instants (epoch seconds or aware datetimes) at which the offsets are compared, daylight
        saving included.
    tolerance_h : float
        Largest difference in hours, at any instant, that still matches.
    weekend : tuple of int, optional
        Weekend days (Monday = 0) seen in the activity; countries with this weekend come first.

    Returns
    -------
    list of str
        Country codes, the closest first (ties: matching weekend first, then countries whose
        main time zone matches, then the most populous).
    """
    found = []
    for code, (zones, we, population) in COUNTRY_ZONES.items():
        dist = [_zone_distance(zone, z, at) for z in zones]
        known = [d for d in dist if d is not None]
        if not known:
            continue
        d = min(known)
        if d <= tolerance_h + 1e-9:
            found.append((d, 0 if (weekend is None or tuple(we) == tuple(weekend)) else 1,
                          int(dist.index(d) > 0), -population, code))
    return [c for *_, c in sorted(found)]


def _offset_distance(a: float, b: float) -> float:
    d = abs(a - b) % 24
    return min(d, 24 - d)


def _zone_distance(a: str, b: str, at: Sequence[float | datetime]) -> float | None:
    """Largest difference in hours between zones ``a`` and ``b`` over the instants ``at``."""
    worst = 0.0
    for t in at:
        oa, ob = zone_offset_h(a, t), zone_offset_h(b, t)
        if oa is None or ob is None:
            return None
        worst = max(worst, _offset_distance(oa, ob))
    return worst


def _country_distance(code: str, fit: RhythmFit) -> float | None:
    """Hours between the fitted zone and the closest zone of country ``code`` at the events."""
    z = COUNTRY_ZONES.get(code)
    if z is None or fit.zone is None:
        return None
    dist = [d for d in (_zone_distance(fit.zone, c, fit.instants) for c in z[0]) if d is not None]
    return min(dist) if dist else None


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


def _epoch_seconds(times: Any) -> np.ndarray:
    """Epoch seconds (float64) of numbers, ``datetime64`` values or aware datetimes."""
    a = np.asarray(times)
    if a.dtype.kind == "M":
        return a.astype("datetime64[us]").astype(np.int64) / 1e6
    if a.dtype.kind == "O":
        return np.array([t.timestamp() for t in a], dtype=np.float64)
    return a.astype(np.float64)


def _zone_offsets(zone: str, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (seconds) and daylight-saving flags of ``zone`` at each quarter-hour slot.

    Looked up once per UTC day, and per slot only on the days the offset changes."""
    per_day = 86400 // _SLOT_S
    days = slots // per_day
    ud, inv = np.unique(days, return_inverse=True)
    start = [_offset_s(zone, int(d) * 86400) for d in ud]
    end = [_offset_s(zone, int(d) * 86400 + 86399) for d in ud]
    off = np.array([s[0] for s in start], dtype=np.int64)[inv]
    dst = np.array([s[1] for s in start], dtype=bool)[inv]
    for j in np.nonzero(np.array([s != e for s, e in zip(start, end, strict=True)]))[0]:
        idx = np.nonzero(inv == j)[0]
        vals = [_offset_s(zone, int(slots[i]) * _SLOT_S) for i in idx]
        off[idx] = [v[0] for v in vals]
        dst[idx] = [v[1] for v in vals]
    return off, dst


def fit_rhythm(times: Any, *, weights: Any = None, group: Any = None, n_groups: int | None = None,
               accounts: Sequence[int] | None = None, zones: Sequence[str] = REPRESENTATIVE_ZONES,
               office_threshold: float = _DEFAULT.office_threshold,
               min_events: int = MIN_ZONE_EVENTS, min_accounts: int = MIN_ZONE_ACCOUNTS,
               min_office_events: int = _DEFAULT.min_office_events,
               min_strength: float = 0.06, stable_h: float = 2.0) -> list[RhythmFit]:
    """Fit the time zone of each group's activity among real zones, daylight saving included.

    Every event is placed at its local half hour of the week in each candidate zone, with the
    zone's UTC offset at that instant (:mod:`zoneinfo`). Each zone's local week is scored by
    log-likelihood against an ordinary daily rhythm and office hours (five weekend
    conventions); the best zone wins, and zones with the same offsets at every event tie (the
    first in ``zones`` names the fit, the others are listed in ``same_offsets``).

    Parameters
    ----------
    times : array-like
        Event times: epoch seconds, ``datetime64`` values or aware datetimes.
    weights : array-like, optional
        Events at each time (default 1 each).
    group : array-like of int, optional
        The group (network) index of each time, ``0 .. n_groups - 1`` (default: one group).
    n_groups : int, optional
        Number of groups (default ``max(group) + 1``).
    accounts : sequence of int, optional
        Accounts with events in each group. Given, a group with fewer than ``min_accounts``
        gets no zone; not given, the number of accounts is not checked.
    zones : sequence of str
        Candidate IANA zones (:data:`REPRESENTATIVE_ZONES`); zones unknown to this machine are
        skipped.
    office_threshold : float
        Nats per event by which the best office-hours template must beat the best daily rhythm
        for ``office_hours``.
    min_events, min_accounts : int
        Fewer events, or fewer accounts, give no zone (:data:`MIN_ZONE_EVENTS`,
        :data:`MIN_ZONE_ACCOUNTS`).
    min_office_events : int
        Fewer events are never called office hours.
    min_strength : float
        Nats per event by which the best template must beat a flat week.
    stable_h : float
        The even and odd UTC weeks are fitted apart; when both hold at least half of
        ``min_events`` events and their zones' offsets differ by more than ``stable_h`` hours,
        the activity has no stable rhythm (bursts at random times) and no zone is given.

    Returns
    -------
    list of RhythmFit
        One per group.
    """
    t = _epoch_seconds(times)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=np.float64)
    g = np.zeros(len(t), dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    ng = int(n_groups if n_groups is not None else (int(g.max()) + 1 if len(g) else 1))
    zs = [z for z in zones if _zone(z) is not None]
    n = np.bincount(g, weights=w, minlength=ng) if len(g) else np.zeros(ng)
    slots_all = np.floor(t / _SLOT_S).astype(np.int64)
    uniq, inv = np.unique(slots_all, return_inverse=True)
    z_off = np.empty((len(zs), len(uniq)), dtype=np.int64)
    z_dst = np.empty((len(zs), len(uniq)), dtype=bool)
    for k, z in enumerate(zs):
        z_off[k], z_dst[k] = _zone_offsets(z, uniq)
    half_of = ((np.floor(uniq * _SLOT_S / 86400).astype(np.int64) + 3) // 7) % 2  # even/odd week

    out: list[RhythmFit | None] = [None] * ng
    eligible = []
    for i in range(ng):
        acc = None if accounts is None else int(accounts[i])
        if n[i] < min_events or (acc is not None and acc < min_accounts):
            need = f"at least {min_events:,} events" + (
                f" from {min_accounts} accounts" if accounts is not None else "")
            got = f"{int(n[i]):,} events" + (f" from {acc:,} account{'s' if acc != 1 else ''}"
                                             if acc is not None else "")
            out[i] = RhythmFit(int(n[i]), None, False, None, None, None, [], accounts=acc,
                               reason=f"not enough activity to infer a time zone ({got}; a zone "
                                      f"needs {need})")
        else:
            eligible.append(i)
    if eligible and zs:
        order = np.argsort(g, kind="stable")
        bounds = np.searchsorted(g[order], np.arange(ng + 1))
        chunk: list[int] = []
        rows_in = 0
        for i in eligible:
            chunk.append(i)
            rows_in += int(bounds[i + 1] - bounds[i])
            if rows_in >= 50_000 or len(chunk) >= 64:
                _fit_chunk(chunk, order, bounds, t, w, inv, uniq, z_off, z_dst, half_of, zs,
                           accounts, out, office_threshold, min_events, min_office_events,
                           min_strength, stable_h)
                chunk, rows_in = [], 0
        if chunk:
            _fit_chunk(chunk, order, bounds, t, w, inv, uniq, z_off, z_dst, half_of, zs, accounts,
                       out, office_threshold, min_events, min_office_events, min_strength,
                       stable_h)
    return [f if f is not None else RhythmFit(int(n[i]), None, False, None, None, None, [],
                                              reason="no candidate zone is known on this machine")
            for i, f in enumerate(out)]


def _fit_chunk(chunk: list[int], order: np.ndarray, bounds: np.ndarray, t: np.ndarray,
               w: np.ndarray, inv: np.ndarray, uniq: np.ndarray, z_off: np.ndarray,
               z_dst: np.ndarray, half_of: np.ndarray, zs: list[str],
               accounts: Sequence[int] | None, out: list[RhythmFit | None],
               office_threshold: float, min_events: int, min_office_events: int,
               min_strength: float, stable_h: float) -> None:
    """Fit the groups of ``chunk`` (see :func:`fit_rhythm`); results go to ``out``."""
    nz = len(zs)
    rows = np.concatenate([order[bounds[i]:bounds[i + 1]] for i in chunk])
    local_g = np.concatenate([np.full(int(bounds[i + 1] - bounds[i]), j, dtype=np.int64)
                              for j, i in enumerate(chunk)])
    u = inv[rows]
    local = uniq[u][None, :] * _SLOT_S + z_off[:, u]  # (zones, rows) local epoch seconds
    day = np.floor_divide(local, 86400)
    b = ((day + 3) % 7) * 48 + (local - day * 86400) // 1800
    h = half_of[u]
    idx = ((local_g[None, :] * 2 + h[None, :]) * nz + np.arange(nz)[:, None]) * _BINS + b
    counts = np.bincount(idx.ravel(), weights=np.broadcast_to(w[rows], idx.shape).ravel(),
                         minlength=len(chunk) * 2 * nz * _BINS).reshape(len(chunk), 2, nz, _BINS)
    full = counts.sum(axis=1)
    ll = full @ _LOG_T.T  # (groups, zones, templates)
    for j, i in enumerate(chunk):
        sel = local_g == j
        u_i = u[sel]
        w_i = w[rows[sel]]
        ne = float(w_i.sum())
        li = ll[j]
        d_z = int(np.argmax(li[:, 0]))
        d_ll = float(li[d_z, 0])
        sub = np.where(_IS_OFFICE[None, :], li, -np.inf)
        o_z, o_t = np.unravel_index(int(np.argmax(sub)), sub.shape)
        o_ll = float(sub[o_z, o_t])
        score = (o_ll - d_ll) / ne
        office = score > office_threshold and ne >= min_office_events
        strength = (max(o_ll, d_ll) - ne * np.log(1.0 / _BINS)) / ne
        zi = int(o_z) if office else d_z
        acc = None if accounts is None else int(accounts[i])
        ts_i = np.sort(uniq[u_i] * _SLOT_S).astype(np.float64)
        instants = (float(ts_i[0]), float(ts_i[len(ts_i) // 2]), float(ts_i[-1]))
        stable = strength >= min_strength
        halves = counts[j]
        if stable and (halves.sum(axis=(1, 2)) / nz >= min_events / 2).all():
            offs = []
            for hh in range(2):
                lh = halves[hh] @ _LOG_T.T
                if office:
                    sh = np.where(_IS_OFFICE[None, :], lh, -np.inf)
                    zh = int(np.unravel_index(int(np.argmax(sh)), sh.shape)[0])
                else:
                    zh = int(np.argmax(lh[:, 0]))
                offs.append(zone_offset_h(zs[zh], instants[1]) or 0.0)
            stable = _offset_distance(offs[0], offs[1]) <= stable_h
        if not stable:
            out[i] = RhythmFit(int(ne), None, False, float(score), None, None, [], float(strength),
                               accounts=acc, instants=instants,
                               reason=f"{int(ne):,} events without a stable daily pattern (active "
                                      "around the clock or in bursts): no time zone")
            continue
        we = _T_META[int(o_t)][1] if office else None
        zone_off = z_off[zi, u_i]
        vals, inv_o = np.unique(zone_off, return_inverse=True)
        by = np.bincount(inv_o, weights=w_i)
        offsets = tuple(float(vals[k]) / 3600.0 for k in np.argsort(-by, kind="stable"))
        dst_share = float((w_i * z_dst[zi, u_i]).sum() / ne)
        same = tuple(zs[k] for k in range(nz)
                     if k != zi and np.array_equal(z_off[k, u_i], zone_off))
        loc = full[j, zi]
        if office:
            days = [d for d in range(7) if d not in (we or ())]
            local48 = loc.reshape(7, 48)[days].sum(axis=0)
        else:
            local48 = loc.reshape(7, 48).sum(axis=0)
        s0, length = _active_window(local48)
        out[i] = RhythmFit(int(ne), offsets[0], bool(office), float(score), we,
                           f"{_hhmm(s0)}-{_hhmm(s0 + length)}",
                           countries_in_zone(zs[zi], instants, weekend=we)[:12], float(strength),
                           accounts=acc, zone=zs[zi], offsets_h=offsets, dst_share=dst_share,
                           same_offsets=same, instants=instants)


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

    # 1. Time zone from the members' events (public data), by quarter hour of UTC time.
    rows = con.execute(
        "SELECT m.network_id, CAST(floor(epoch(e.ts) / 900) AS BIGINT) AS s, count(*) AS n "
        "FROM events e JOIN (SELECT DISTINCT network_id, platform, account_id FROM _loc_m) m "
        "USING (platform, account_id) WHERE e.ts IS NOT NULL GROUP BY ALL").fetchnumpy()
    acc_rows = con.execute(
        "SELECT m.network_id, count(DISTINCT (e.platform, e.account_id)) AS k "
        "FROM events e JOIN (SELECT DISTINCT network_id, platform, account_id FROM _loc_m) m "
        "USING (platform, account_id) WHERE e.ts IS NOT NULL GROUP BY ALL").fetchall()
    n_acc = [0] * len(nets)
    for net, k in acc_rows:
        n_acc[net_index[net]] = int(k)
    idx = np.array([net_index[x] for x in rows["network_id"]], dtype=np.int64)
    fits = fit_rhythm(np.asarray(rows["s"], dtype=np.float64) * 900.0,
                      weights=np.asarray(rows["n"], dtype=np.float64), group=idx,
                      n_groups=len(nets), accounts=n_acc, office_threshold=w.office_threshold,
                      min_events=w.min_rhythm_events, min_accounts=w.min_rhythm_accounts,
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
        zone_words = describe_zone(fit)
        if tel and orig:
            conf = _confidence(orig, kinds.get(net, set()), fit)
        elif not tel:
            # No telemetry: a rhythm gives a time zone, never a country by itself. A country is
            # named only when the network's own claimed country agrees with office hours there.
            p = pr[0]["country"] if pr and pr[0]["share"] >= w.min_presented_share else None
            dist = _country_distance(p, fit) if p and fit.office_hours else None
            if dist is not None and dist <= 0.5:
                orig = [{"country": p, "share": 1.0}]
                conf = "low"
                evidence[net] = [f"{p}: claimed by {_pct(pr[0]['share'])} of the weighted claims, "
                                 f"and office hours at {zone_words}, which fits {p}"]
                limits.append(f"no sessions: origin {p} rests on its claimed country and office "
                              "hours in one of its time zones; other countries share the zone")
            elif fit.zone is not None:
                evidence[net] = ["activity: " + _rhythm_phrase(fit)]
                limits.append(f"no sessions: origin country not established (activity gives a "
                              f"time zone only: {zone_words}; a time zone is shared by many "
                              "countries"
                              + ("" if fit.office_hours else ", and a daily rhythm shows the "
                                 "audience's time zone as much as the operators'") + ")")
            else:
                limits.append("no sessions and no time zone: origin not established")
        if tel and not orig:
            limits.append("sessions carry no country")
        if fit.zone is None:
            limits.append(f"time zone: {fit.reason}" if fit.reason else "time zone not inferred")
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
            "rhythm_accounts": fit.accounts,
            "rhythm_offset_h": fit.offset_h, "rhythm_office_hours": fit.office_hours,
            "rhythm_office_score": None if fit.office_score is None else round(fit.office_score, 4),
            "rhythm_weekend": _WEEKEND_NAMES.get(fit.weekend) if fit.weekend else None,
            "rhythm_hours": fit.hours, "rhythm_countries": fit.countries,
            "time_zone": fit.zone,
            "time_zone_offset": (" and ".join(_fmt_offset(o) for o in sorted(fit.offsets_h))
                                 if fit.zone else None),
            "time_zone_evidence": _zone_evidence(fit),
            "location_mismatch": mismatch, "mismatch_reason": reason,
            "limitations": "; ".join(limits) or None,
        }
        for k, v in row.items():
            out[k].append(v)
    return pa.table(out, schema=LOCATION_SCHEMA)


def _zone_label(fit: RhythmFit) -> str:
    return f"{_fmt_offset(fit.offset_h or 0.0)} ({fit.zone})"


def _rhythm_phrase(fit: RhythmFit) -> str:
    if fit.zone is None:
        return ""
    if fit.office_hours:
        return (f"it works {fit.hours} {_zone_label(fit)} on weekdays"
                f" (weekend {_WEEKEND_NAMES.get(fit.weekend or (), '?')})")
    return f"its activity follows a daily rhythm at {_zone_label(fit)} (active {fit.hours})"


def _zone_evidence(fit: RhythmFit) -> str | None:
    """The time zone in plain words, with what it rests on."""
    words = describe_zone(fit)
    if words is None:
        return None
    kind = (f"office hours {fit.hours} on weekdays, weekend "
            f"{_WEEKEND_NAMES.get(fit.weekend or (), '?')}" if fit.office_hours
            else f"a daily rhythm, active {fit.hours}")
    acc = f" by {fit.accounts:,} accounts" if fit.accounts is not None else ""
    out = f"{words}: {kind}; {fit.events:,} events{acc}"
    if fit.same_offsets:
        out += f"; the same offsets at these events: {', '.join(fit.same_offsets[:6])}"
    return out


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
            dist = _country_distance(o["country"], fit)
            fits_o = dist is not None and dist <= 1.0
            reason += f" and {rp}" + (f", which fits {o['country']}" if fits_o and fit.office_hours else "")
        return True, reason
    if fit.office_hours and fit.zone is not None:
        dist = _country_distance(p, fit)
        if dist is not None and dist > w.rhythm_mismatch_h:
            zones = ", ".join(f"{z} " + "/".join(sorted({_fmt_offset(zone_offset_h(z, t) or 0.0)
                                                         for t in fit.instants}))
                              for z in COUNTRY_ZONES[p][0])
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
    if fit.office_hours and fit.zone is not None:
        d = _country_distance(top["country"], fit)
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
            if fit.office_hours and fit.zone is not None:
                d = _country_distance(country, fit)
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
            if fit.office_hours and fit.zone is not None:
                d = _country_distance(c, fit)
                if d is not None and d > 1.0:
                    notes.append(f"outside the working time zone {_zone_label(fit)}, "
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
        if fit.zone is not None:
            ev.append(("activity: " + _rhythm_phrase(fit)
                       + (f"; consistent with {', '.join(fit.countries[:6])}"
                          if fit.countries else "")))
        evidence[net] = ev
        kinds[net] = k
    return origin, evidence, n_ses, telemetry, kinds, short
