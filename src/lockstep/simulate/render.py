"""Turn identity and infrastructure codes into strings: ids, handles, names, IPs, devices.

Every function works on whole arrays (Arrow compute kernels and numpy), never row by row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .accounts import FIRST_NAMES, HANDLE_CUSTOM, LAST_NAMES, N_HANDLE_STYLES
from .geo import COUNTRIES
from .infra import V6_FLAG, V6_PREFIX
from .render_content import hex16
from .sampling import mix64

__all__ = ["AccountRenderer", "device_strings", "id_strings", "ip_strings", "user_agent_strings"]

_NULL = pa.scalar(None, pa.string())


def id_strings(nums: np.ndarray) -> pa.Array:
    """Decimal id strings; null where the number is negative.

    Parameters
    ----------
    nums : numpy.ndarray
        ``int64`` id numbers.

    Returns
    -------
    pyarrow.Array
        Strings.
    """
    return pc.cast(pa.array(nums, pa.int64(), mask=nums < 0), pa.string())


def ip_strings(codes: np.ndarray) -> pa.Array:
    """Dotted IPv4 or compressed IPv6 strings for address codes (see :mod:`.infra`)."""
    v6 = codes >= V6_FLAG
    v4 = np.where(v6, 0, codes)
    octs = [pc.cast(pa.array((v4 >> s) & 0xFF), pa.string()) for s in (24, 16, 8, 0)]
    dotted = pc.binary_join_element_wise(*octs, ".")
    if not v6.any():
        return dotted
    country = ((codes >> 32) & 0xFF).astype(np.int64)
    prefixes = pa.array([V6_PREFIX.get(c.code, "2001:db8") for c in COUNTRIES], pa.string())
    h = hex16(mix64(codes, 61))
    groups = [pc.utf8_ltrim(pc.utf8_slice_codeunits(h, k, k + 4), "0") for k in (0, 4, 8, 12)]
    groups = [pc.if_else(pc.equal(g, ""), "0", g) for g in groups]
    pre = prefixes.take(pa.array(np.minimum(country, len(COUNTRIES) - 1)))
    six = pc.binary_join_element_wise(pre, *groups, ":")
    six = pc.binary_join_element_wise(six, "::1", "")
    return pc.if_else(pa.array(v6), six, dotted)


def device_strings(dev: np.ndarray) -> pa.Array:
    """UUID-style device identifiers for device numbers."""
    a = hex16(mix64(dev, 71))
    b = hex16(mix64(dev, 73))
    s = pc.utf8_slice_codeunits
    return pc.binary_join_element_wise(s(a, 0, 8), s(a, 8, 12), s(a, 12, 16), s(b, 0, 4), s(b, 4, 16), "-")


def user_agent_strings(
    dev: np.ndarray, platform: np.ndarray, dev_cls: np.ndarray, pool: pa.Array,
    start: np.ndarray, size: np.ndarray,
) -> pa.Array:
    """User agent of each session: fixed by the device model and the platform's app.

    Parameters
    ----------
    dev, platform : numpy.ndarray
        Device number and platform code per session.
    dev_cls : numpy.ndarray
        Class of every device.
    pool : pyarrow.Array
        User-agent strings.
    start, size : numpy.ndarray
        Pool slices per (platform, class).

    Returns
    -------
    pyarrow.Array
        Strings.
    """
    cls = dev_cls[dev].astype(np.int64)
    p = platform.astype(np.int64)
    variant = (mix64(dev, 79) % size[p, cls].astype(np.uint64)).astype(np.int64)
    return pool.take(pa.array(start[p, cls] + variant))


class AccountRenderer:
    """Renders handles, display names and bios from the registry's compact columns.

    Parameters
    ----------
    strings : list[str]
        The registry's interned strings.
    """

    def __init__(self, strings: list[str]) -> None:
        self.strings = pa.array(strings, pa.string())
        self.first = pa.array(FIRST_NAMES, pa.string())
        self.last = pa.array(LAST_NAMES, pa.string())
        self.first_l = pc.utf8_lower(self.first)
        self.last_l = pc.utf8_lower(self.last)

    def _custom(self, idx: np.ndarray) -> pa.Array:
        return self.strings.take(pa.array(np.maximum(idx, 0)))

    def handles(self, cols: dict[str, np.ndarray]) -> pa.Array:
        """Handles: derived from the name in one of six patterns, custom, or none."""
        style = cols["handle_style"].astype(np.int64)
        f = self.first_l.take(pa.array(cols["first"]))
        g = self.last_l.take(pa.array(cols["last"]))
        num = pc.cast(pa.array(cols["handle_num"].astype(np.int64)), pa.string())
        ini = pc.utf8_slice_codeunits(f, 0, 1)
        j = pc.binary_join_element_wise
        variants = [
            j(f, ".", g, ""), j(f, g, num, ""), j(f, "_", g, num, ""), j(f, num, ""),
            j(ini, g, num, ""), j(g, ".", f, num, ""),
        ]
        assert len(variants) == N_HANDLE_STYLES
        n = len(style)
        stacked = pa.concat_arrays([v for v in variants])
        derived = stacked.take(pa.array(np.clip(style, 0, N_HANDLE_STYLES - 1) * n + np.arange(n)))
        out = pc.if_else(pa.array(style == HANDLE_CUSTOM), self._custom(cols["custom_handle"]), derived)
        none = (style < 0) | ((style == HANDLE_CUSTOM) & (cols["custom_handle"] < 0))
        return pc.if_else(pa.array(none), _NULL, out)

    def display_names(self, cols: dict[str, np.ndarray]) -> pa.Array:
        """Display names: ``First Last``, or the custom name of a page, group or bot."""
        full = pc.binary_join_element_wise(self.first.take(pa.array(cols["first"])),
                                           self.last.take(pa.array(cols["last"])), " ")
        custom = cols["custom_name"]
        return pc.if_else(pa.array(custom >= 0), self._custom(custom), full)

    def bios(self, cols: dict[str, np.ndarray]) -> pa.Array:
        """Bios, null where the account has none."""
        b = cols["bio"]
        return pc.if_else(pa.array(b >= 0), self._custom(b), _NULL)
