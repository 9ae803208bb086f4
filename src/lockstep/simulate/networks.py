"""Ground truth: the planted networks, who belongs to them, and who runs which page or group.

:class:`NetworkRegistry` collects the ``truth`` rows (one per planted account) and the
``networks`` table (one row per planted network). :class:`RoleLog` collects the ``roles``
table, for ordinary and planted pages and groups alike. Ordinary people are never in ``truth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MEMBER_ROLES", "NETWORK_KINDS", "PAGE_ROLES", "NetworkInfo", "NetworkRegistry", "RoleLog"]

NETWORK_KINDS = ("cib", "spam", "authentic")
#: Values of the ``truth.role`` extension column.
MEMBER_ROLES = ("operator", "fake", "page", "group", "member", "spam_bot")
#: Values of ``roles.role``.
PAGE_ROLES = ("owner", "admin", "editor", "moderator", "member")


@dataclass
class NetworkInfo:
    """Description of one planted network (a row of the ``networks`` table).

    Attributes
    ----------
    network_id : str
        For example ``"cib-03"``.
    kind : str
        ``cib``, ``spam`` or ``authentic``.
    tier : int or None
        Sophistication 1–3 for CIB.
    name : str
        Cover or community name (for CIB: the operator's employer).
    theme : str
        What it is about.
    origin, target : str
        Country codes (where the people sit, whom they address).
    hashtags, domains : list[str]
        Campaign hashtags and web domains it pushes.
    n_slips : int
        Sessions in which an operator's own account used a fake's device or IP.
    n_events : int
        Events its accounts produced.
    """

    network_id: str
    kind: str
    tier: int | None
    name: str
    theme: str
    origin: str
    target: str
    hashtags: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    n_slips: int = 0
    n_events: int = 0


class NetworkRegistry:
    """Planted networks and their members."""

    def __init__(self) -> None:
        self.nets: list[NetworkInfo] = []
        self._acc: list[np.ndarray] = []
        self._net: list[np.ndarray] = []
        self._role: list[np.ndarray] = []
        self._op: list[np.ndarray] = []

    def new(self, info: NetworkInfo) -> int:
        """Register a network and return its number."""
        self.nets.append(info)
        return len(self.nets) - 1

    def add_members(
        self, net: int, accounts: np.ndarray, role: str, operator: np.ndarray | int = -1
    ) -> None:
        """Add accounts to a network.

        Parameters
        ----------
        net : int
            Network number.
        accounts : numpy.ndarray
            Registry indices.
        role : str
            One of :data:`MEMBER_ROLES`.
        operator : numpy.ndarray or int, optional
            Registry index of the operator running each account (``-1``: none known).
        """
        n = len(accounts)
        self._acc.append(np.asarray(accounts, dtype=np.int64))
        self._net.append(np.full(n, net, dtype=np.int32))
        self._role.append(np.full(n, MEMBER_ROLES.index(role), dtype=np.int8))
        self._op.append(np.broadcast_to(np.asarray(operator, dtype=np.int64), (n,)).copy())

    def columns(self) -> dict[str, np.ndarray]:
        """Member rows: ``account``, ``net``, ``role`` and ``operator`` arrays."""
        if not self._acc:
            z = np.zeros(0, dtype=np.int64)
            return {"account": z, "net": z.astype(np.int32), "role": z.astype(np.int8), "operator": z}
        return {
            "account": np.concatenate(self._acc),
            "net": np.concatenate(self._net),
            "role": np.concatenate(self._role),
            "operator": np.concatenate(self._op),
        }


class RoleLog:
    """Rows of the ``roles`` table: person accounts holding roles on pages and groups."""

    def __init__(self) -> None:
        self._acc: list[np.ndarray] = []
        self._asset: list[np.ndarray] = []
        self._role: list[np.ndarray] = []
        self._since: list[np.ndarray] = []

    def add(
        self, accounts: np.ndarray, assets: np.ndarray, role: str | np.ndarray, since: np.ndarray
    ) -> None:
        """Append role rows.

        Parameters
        ----------
        accounts : numpy.ndarray
            Person accounts holding the role.
        assets : numpy.ndarray
            Pages or groups.
        role : str or numpy.ndarray
            Role name, or codes into :data:`PAGE_ROLES`.
        since : numpy.ndarray
            When the role was granted.
        """
        n = len(accounts)
        code = PAGE_ROLES.index(role) if isinstance(role, str) else role
        self._acc.append(np.asarray(accounts, dtype=np.int64))
        self._asset.append(np.asarray(assets, dtype=np.int64))
        self._role.append(np.broadcast_to(np.asarray(code, dtype=np.int8), (n,)).copy())
        self._since.append(np.asarray(since, dtype=np.int64))

    def columns(self) -> dict[str, np.ndarray]:
        """``account``, ``asset``, ``role`` and ``since`` arrays."""
        return {
            "account": np.concatenate(self._acc),
            "asset": np.concatenate(self._asset),
            "role": np.concatenate(self._role),
            "since": np.concatenate(self._since),
        }
