"""The account registry: every person, page and group in the world, as parallel arrays.

Accounts are added in blocks (the ordinary population, ordinary pages and groups, then each
planted network). Names are stored as indices into per-country name lists plus a handle style,
so a million handles can be rendered without a Python loop; pages, groups and bots carry custom
strings instead. :meth:`AccountRegistry.table_columns` gives the columns of ``accounts``.
"""

from __future__ import annotations

import numpy as np

from .geo import COUNTRIES
from .sampling import mix64

__all__ = [
    "ACCOUNT_ID_BASE",
    "FIRST_NAMES",
    "HANDLE_CUSTOM",
    "HANDLE_NONE",
    "N_HANDLE_STYLES",
    "LAST_NAMES",
    "AccountRegistry",
    "account_numbers",
    "name_offsets",
]

#: Numeric base of account ids per (platform, kind); ids are strings in the output.
ACCOUNT_ID_BASE = np.array(
    [
        [100_004_000_000_000, 100_064_000_000_000, 100_074_000_000_000],  # facebook user/page/group
        [5_000_000_000, 7_000_000_000, 8_000_000_000],  # instagram
        [1_200_000_000_000_000_000, 1_300_000_000_000_000_000, 1_400_000_000_000_000_000],  # x
    ],
    dtype=np.int64,
)

FIRST_NAMES: list[str] = [n for c in COUNTRIES for n in c.first_names]
LAST_NAMES: list[str] = [n for c in COUNTRIES for n in c.last_names]
HANDLE_NONE = -1
HANDLE_CUSTOM = 99
N_HANDLE_STYLES = 6

_COLS = {
    "platform": np.int8,
    "kind": np.int8,
    "country": np.int8,
    "offset": np.float32,
    "created": np.int64,
    "first": np.int32,
    "last": np.int32,
    "handle_style": np.int8,
    "handle_num": np.int32,
    "custom_handle": np.int32,
    "custom_name": np.int32,
    "bio": np.int32,
    "claimed": np.int8,
    "followers": np.int64,
    "verified": np.bool_,
}


def name_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Start of each country's block in :data:`FIRST_NAMES` and :data:`LAST_NAMES`.

    Returns
    -------
    first_start, last_start : numpy.ndarray
        One offset per country.
    """
    f = np.cumsum([0] + [len(c.first_names) for c in COUNTRIES])
    g = np.cumsum([0] + [len(c.last_names) for c in COUNTRIES])
    return f.astype(np.int64), g.astype(np.int64)


def account_numbers(idx: np.ndarray, platform: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Public id number of accounts from their registry index (unique per platform).

    Parameters
    ----------
    idx : numpy.ndarray
        Registry indices.
    platform, kind : numpy.ndarray
        Codes of each account.

    Returns
    -------
    numpy.ndarray
        ``int64`` id numbers.
    """
    idx = idx.astype(np.int64)
    return ACCOUNT_ID_BASE[platform, kind] + idx * 1009 + (idx * 7919) % 1000


class AccountRegistry:
    """Growing table of accounts; an account's index is its identity inside the simulator."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, np.ndarray]] = []
        self._cache: dict[str, np.ndarray] = {}
        self.strings: list[str] = []
        self._string_index: dict[str, int] = {}
        self.n = 0

    # -- strings --------------------------------------------------------------------------
    def intern(self, values: list[str]) -> np.ndarray:
        """Store strings (handles, names, bios) once and return their indices.

        Parameters
        ----------
        values : list[str]
            Strings; repeats share one index.

        Returns
        -------
        numpy.ndarray
            ``int32`` indices into :attr:`strings`.
        """
        out = np.empty(len(values), dtype=np.int32)
        for i, v in enumerate(values):
            j = self._string_index.get(v)
            if j is None:
                j = len(self.strings)
                self.strings.append(v)
                self._string_index[v] = j
            out[i] = j
        return out

    # -- rows -----------------------------------------------------------------------------
    def add(self, n: int, **cols: object) -> np.ndarray:
        """Append ``n`` accounts.

        Parameters
        ----------
        n : int
            Number of accounts.
        **cols
            Column values (arrays of length ``n`` or scalars). Missing columns get defaults:
            kind user, no handle, no custom strings, no bio, no claimed country, 0 followers.

        Returns
        -------
        numpy.ndarray
            Registry indices of the new accounts.
        """
        defaults = {"custom_handle": -1, "custom_name": -1, "bio": -1, "claimed": -1,
                    "handle_style": HANDLE_NONE, "handle_num": 0, "first": 0, "last": 0,
                    "kind": 0, "followers": 0, "verified": False, "offset": 0.0}
        block: dict[str, np.ndarray] = {}
        for name, dt in _COLS.items():
            v = cols.pop(name, defaults.get(name))
            if v is None:
                raise ValueError(f"column {name!r} is required")
            block[name] = np.broadcast_to(np.asarray(v, dtype=dt), (n,)).copy()
        if cols:
            raise ValueError(f"unknown account columns {sorted(cols)}")
        self._blocks.append(block)
        self._cache.clear()
        ids = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return ids

    def col(self, name: str) -> np.ndarray:
        """One column over all accounts (cached until the next :meth:`add`)."""
        if name not in self._cache:
            self._cache[name] = np.concatenate([b[name] for b in self._blocks])
        return self._cache[name]

    def set(self, name: str, idx: np.ndarray, values: object) -> None:
        """Overwrite a column for some accounts (for example a bio that names an employer).

        Parameters
        ----------
        name : str
            Column.
        idx : numpy.ndarray
            Registry indices.
        values : object
            New values.
        """
        starts = np.cumsum([0] + [len(b[name]) for b in self._blocks])
        vals: np.ndarray = np.broadcast_to(np.asarray(values, dtype=_COLS[name]), (len(idx),))
        which = np.searchsorted(starts, idx, side="right") - 1
        for bi in np.unique(which):
            m = which == bi
            self._blocks[bi][name][idx[m] - starts[bi]] = vals[m]
        self._cache.pop(name, None)

    def numbers(self) -> np.ndarray:
        """Public id numbers of all accounts."""
        return account_numbers(np.arange(self.n), self.col("platform"), self.col("kind"))

    def handle_parts(self) -> dict[str, np.ndarray]:
        """Everything :mod:`lockstep.simulate.render` needs to draw handles and names."""
        return {k: self.col(k) for k in ("first", "last", "handle_style", "handle_num",
                                         "custom_handle", "custom_name", "bio")}

    @staticmethod
    def handle_numbers(idx: np.ndarray, digits: np.ndarray) -> np.ndarray:
        """Digits appended to handles, derived from the account index.

        Parameters
        ----------
        idx : numpy.ndarray
            Registry indices.
        digits : numpy.ndarray
            Number of digits per account (2 to 4).

        Returns
        -------
        numpy.ndarray
            ``int32`` numbers.
        """
        mod = (10 ** digits.astype(np.int64)).astype(np.uint64)
        return (mix64(idx, 17) % mod).astype(np.int32)
