"""Network infrastructure: IP addresses, devices and user-agent strings.

IP addresses are ``int64`` codes: IPv4 addresses as their 32-bit value, IPv6 addresses as
``1 << 40 | country << 32 | serial``. Addresses are handed out per country from that country's
invented blocks, so an address's country is consistent across the world. Devices are numbered;
each has a class (Android, iPhone, desktop browser, emulator) and a fixed model, from which the
user agent of a session on a given platform follows.
"""

from __future__ import annotations

import numpy as np

from .geo import COUNTRIES

__all__ = [
    "ANDROID",
    "DESKTOP",
    "EMULATOR",
    "IOS",
    "V6_FLAG",
    "DeviceRegistry",
    "IpAllocator",
    "V6_PREFIX",
    "user_agent_pool",
]

V6_FLAG = 1 << 40
ANDROID, IOS, DESKTOP, EMULATOR = 0, 1, 2, 3
#: IPv6 prefix of residential broadband per country (invented).
V6_PREFIX = {
    "US": "2600:1702", "GB": "2a00:23c6", "DE": "2a02:8108", "BR": "2804:14c", "IN": "2409:4050",
    "PK": "2400:adc1", "RU": "2a00:1fa0", "IR": "2a01:5ec0", "NG": "2c0f:f5c0", "PH": "2001:4450",
    "NL": "2a02:a440", "SG": "2406:3003",
}


def _perm24(x: np.ndarray) -> np.ndarray:
    # An odd multiplier is a bijection modulo 2**24, so serials map to distinct hosts.
    return (x * 0x5BD1E9 + 0x2F) & 0xFFFFFF


class IpAllocator:
    """Hands out distinct addresses per country."""

    def __init__(self) -> None:
        self._res = np.zeros(len(COUNTRIES), dtype=np.int64)
        self._dc = np.zeros(len(COUNTRIES), dtype=np.int64)
        self._v6 = np.zeros(len(COUNTRIES), dtype=np.int64)

    def take(self, country: int, n: int, datacenter: bool = False) -> np.ndarray:
        """Allocate ``n`` IPv4 addresses in a country.

        Parameters
        ----------
        country : int
            Country index.
        n : int
            Number of addresses.
        datacenter : bool, optional
            Take from hosting blocks (VPN exits, proxies, cloud) instead of residential,
            mobile and office blocks.

        Returns
        -------
        numpy.ndarray
            ``int64`` address codes.
        """
        counter = self._dc if datacenter else self._res
        c = COUNTRIES[country]
        octets = np.array(c.dc_octets if datacenter else c.octets, dtype=np.int64)
        serial = counter[country] + np.arange(n, dtype=np.int64)
        counter[country] += n
        k = len(octets)
        return (octets[serial % k] << 24) | _perm24(serial)

    def take_v6(self, country: int, n: int) -> np.ndarray:
        """Allocate ``n`` IPv6 broadband addresses in a country (codes with :data:`V6_FLAG`)."""
        serial = self._v6[country] + np.arange(n, dtype=np.int64)
        self._v6[country] += n
        return V6_FLAG | (np.int64(country) << 32) | serial

    def take_many(self, countries: np.ndarray, datacenter: bool = False,
                  v6_p: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """One new address for each entry of ``countries`` (loops over countries, not rows).

        Parameters
        ----------
        countries : numpy.ndarray
            Country index per address.
        datacenter : bool, optional
            Use hosting blocks.
        v6_p : float, optional
            Share given IPv6 broadband addresses instead.
        rng : numpy.random.Generator, optional
            Needed when ``v6_p > 0``.

        Returns
        -------
        numpy.ndarray
            Address codes.
        """
        out = np.empty(len(countries), dtype=np.int64)
        v6 = (rng.random(len(countries)) < v6_p) if (rng is not None and v6_p > 0) else None
        for ci in np.unique(countries):
            m = countries == ci
            if v6 is not None:
                m6 = m & v6
                out[m6] = self.take_v6(int(ci), int(m6.sum()))
                m = m & ~v6
            out[m] = self.take(int(ci), int(m.sum()), datacenter)
        return out


class DeviceRegistry:
    """Numbered devices with a class and a model variant."""

    def __init__(self) -> None:
        self._cls: list[np.ndarray] = []
        self.n = 0

    def add(self, cls: np.ndarray | int, n: int) -> np.ndarray:
        """Create ``n`` devices.

        Parameters
        ----------
        cls : numpy.ndarray or int
            Device class per device (:data:`ANDROID`, :data:`IOS`, :data:`DESKTOP`,
            :data:`EMULATOR`).
        n : int
            Number of devices.

        Returns
        -------
        numpy.ndarray
            Device numbers.
        """
        self._cls.append(np.broadcast_to(np.asarray(cls, dtype=np.int8), (n,)).copy())
        ids = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return ids

    def phones(self, rng: np.random.Generator, n: int, ios_p: float = 0.3) -> np.ndarray:
        """Create ``n`` phones (Android or iPhone)."""
        return self.add(np.where(rng.random(n) < ios_p, IOS, ANDROID), n)

    def classes(self) -> np.ndarray:
        """Class of every device."""
        return np.concatenate(self._cls) if self._cls else np.zeros(0, dtype=np.int8)


_ANDROID_MODELS = ("SM-A536B", "SM-G991B", "SM-A125F", "Redmi Note 11", "M2101K6G", "CPH2219",
                   "RMX3085", "Pixel 7", "Pixel 6a", "moto g(60)", "V2111", "SM-M315F",
                   "Infinix X6816", "TECNO KG5k", "SM-A326B", "2201117TG")
_IPHONES = ("iPhone13,2", "iPhone14,5", "iPhone14,7", "iPhone15,2", "iPhone12,1", "iPhone16,1")


def user_agent_pool() -> tuple[list[str], np.ndarray, np.ndarray]:
    """All user agents, indexed by (platform, device class).

    Returns
    -------
    pool : list[str]
        User-agent strings.
    start, size : numpy.ndarray
        ``(3, 4)`` arrays: the pool slice for each platform and device class.
    """
    rng = np.random.default_rng(99)
    pool: list[str] = []
    start = np.zeros((3, 4), dtype=np.int64)
    size = np.zeros((3, 4), dtype=np.int64)

    def add(p: int, c: int, items: list[str]) -> None:
        start[p, c] = len(pool)
        size[p, c] = len(items)
        pool.extend(items)

    def av() -> tuple[str, str, str]:
        m = _ANDROID_MODELS[int(rng.integers(len(_ANDROID_MODELS)))]
        a = str(int(rng.integers(10, 15)))
        ch = f"{int(rng.integers(118, 125))}.0.{int(rng.integers(6000, 6400))}.{int(rng.integers(50, 200))}"
        return m, a, ch

    def ios() -> tuple[str, str]:
        d = _IPHONES[int(rng.integers(len(_IPHONES)))]
        return d, f"{int(rng.integers(15, 18))}_{int(rng.integers(0, 7))}"

    def version(major: tuple[int, int], minor: tuple[int, int]) -> str:
        a, b, c = (int(rng.integers(*major)), int(rng.integers(*minor)), int(rng.integers(100, 120)))
        return f"{a}.0.0.{b}.{c}"

    def fbv() -> str:
        return version((440, 460), (20, 60))

    def igv() -> str:
        return version((300, 330), (10, 40))

    def xv() -> str:
        return f"10.{int(rng.integers(20, 40))}.0-release.0"

    fb_a, ig_a, x_a, fb_i, ig_i, x_i = [], [], [], [], [], []
    for _ in range(40):
        m, a, ch = av()
        base = (f"Mozilla/5.0 (Linux; Android {a}; {m} Build/TP1A.2207{int(rng.integers(10, 99))}.001; wv) "
                f"AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{ch} Mobile Safari/537.36")
        fb_a.append(f"{base} [FB_IAB/FB4A;FBAV/{fbv()};]")
        ig_a.append(f"Instagram {igv()} Android ({20 + int(a)}/{a}; 420dpi; 1080x2400; {m}; en_US)")
        x_a.append(f"TwitterAndroid/{xv()} ({m}/{a})")
        d, v = ios()
        fb_i.append(f"Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/{fbv()};FBDV/{d};FBMD/iPhone;FBSN/iOS]")
        ig_i.append(f"Instagram {igv()} ({d}; iOS {v}; en_US; en; scale=3.00)")
        x_i.append(f"Twitter-iPhone/{xv()} iOS/{v.replace('_', '.')} (Apple;{d})")
    desk = []
    for _ in range(40):
        ch = f"{int(rng.integers(118, 125))}.0.0.0"
        kind = int(rng.integers(4))
        webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
        if kind == 0:
            desk.append(f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {webkit} Chrome/{ch} Safari/537.36")
        elif kind == 1:
            desk.append(f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {webkit} Chrome/{ch} Safari/537.36")
        elif kind == 2:
            ff = int(rng.integers(115, 124))
            desk.append(f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{ff}.0) Gecko/20100101 Firefox/{ff}.0")
        else:
            desk.append("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                        f"Version/17.{int(rng.integers(0, 4))} Safari/605.1.15")
    emu = ["Mozilla/5.0 (Linux; Android 9; Android SDK built for x86 Build/PSR1.180720.093; wv) "
           "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 Mobile Safari/537.36 "
           "[FB_IAB/FB4A;FBAV/239.0.0.41.152;]"]
    for p, (a_list, i_list) in enumerate(((fb_a, fb_i), (ig_a, ig_i), (x_a, x_i))):
        add(p, ANDROID, a_list)
        add(p, IOS, i_list)
        add(p, DESKTOP, desk)
        add(p, EMULATOR, emu)
    return pool, start, size
