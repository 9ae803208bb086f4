"""The summary returned by :func:`lockstep.simulate.simulate`: counts and output paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import KINDS, PLATFORMS
from .events import EventBatch
from .networks import MEMBER_ROLES
from .world import World

__all__ = ["SimulationSummary", "summarize"]


@dataclass
class SimulationSummary:
    """Counts and output paths of one simulated world.

    Attributes
    ----------
    out : pathlib.Path
        Output directory.
    scale, fmt : str
        Scale preset and file format.
    seed : int
        Seed.
    paths : dict[str, pathlib.Path]
        Table name to file.
    events_by_platform : dict[str, int]
        Events per platform.
    events_by_source : dict[str, int]
        Events per origin: ``ordinary``, ``cascade``, ``authentic``, ``cib``, ``spam``.
    accounts_by_kind : dict[str, int]
        Accounts per kind (``user``, ``page``, ``group``).
    accounts_by_platform : dict[str, int]
        Accounts per platform.
    planted_by_role : dict[str, int]
        ``truth`` rows per role (``operator``, ``fake``, ``page``, ``group``, ``member``,
        ``spam_bot``).
    networks_by_kind : dict[str, int]
        Planted networks per kind.
    cib_by_tier : dict[int, int]
        CIB networks per tier.
    operator_slips_by_tier : dict[int, int]
        Operator slip sessions per CIB tier.
    cascades : int
        Viral cascades.
    sessions, roles, truth_rows : int
        Row counts.
    elapsed_s : float
        Wall time.
    """

    out: Path
    scale: str
    seed: int
    fmt: str
    paths: dict[str, Path] = field(default_factory=dict)
    events_by_platform: dict[str, int] = field(default_factory=dict)
    events_by_source: dict[str, int] = field(default_factory=dict)
    accounts_by_kind: dict[str, int] = field(default_factory=dict)
    accounts_by_platform: dict[str, int] = field(default_factory=dict)
    planted_by_role: dict[str, int] = field(default_factory=dict)
    networks_by_kind: dict[str, int] = field(default_factory=dict)
    cib_by_tier: dict[int, int] = field(default_factory=dict)
    operator_slips_by_tier: dict[int, int] = field(default_factory=dict)
    cascades: int = 0
    sessions: int = 0
    roles: int = 0
    truth_rows: int = 0
    elapsed_s: float = 0.0

    @property
    def events(self) -> int:
        """Total number of events."""
        return sum(self.events_by_platform.values())

    @property
    def accounts(self) -> int:
        """Total number of accounts."""
        return sum(self.accounts_by_kind.values())


def _counts(names: tuple[str, ...], codes: np.ndarray) -> dict[str, int]:
    return {k: int(c) for k, c in zip(names, np.bincount(codes, minlength=len(names)), strict=True)}


def summarize(
    w: World, ev: EventBatch, by_source: dict[str, int], n_cascades: int,
    written: dict[str, object], out: Path, scale: str, seed: int, fmt: str,
) -> SimulationSummary:
    """Count what a finished world contains.

    Parameters
    ----------
    w : World
        The world.
    ev : EventBatch
        Its finalised events.
    by_source : dict[str, int]
        Events per source, from :meth:`lockstep.simulate.events.EventLog.finalize`.
    n_cascades : int
        Number of viral cascades.
    written : dict[str, object]
        What :func:`lockstep.simulate.export.write_world` returned.
    out : pathlib.Path
        Output directory.
    scale, fmt : str
        Scale preset and format.
    seed : int
        Seed.

    Returns
    -------
    SimulationSummary
        The summary (``elapsed_s`` left at 0 for the caller to set).
    """
    s = SimulationSummary(out=out, scale=scale, seed=seed, fmt=fmt)
    s.paths = dict(written["paths"])  # type: ignore[call-overload]
    s.events_by_platform = _counts(PLATFORMS, ev.platform)
    s.events_by_source = dict(by_source)
    s.accounts_by_kind = _counts(KINDS, w.reg.col("kind"))
    s.accounts_by_platform = _counts(PLATFORMS, w.reg.col("platform"))
    s.planted_by_role = _counts(MEMBER_ROLES, w.nets.columns()["role"])
    for n in w.nets.nets:
        s.networks_by_kind[n.kind] = s.networks_by_kind.get(n.kind, 0) + 1
        if n.tier is not None:
            s.cib_by_tier[n.tier] = s.cib_by_tier.get(n.tier, 0) + 1
            s.operator_slips_by_tier[n.tier] = s.operator_slips_by_tier.get(n.tier, 0) + n.n_slips
    s.cascades = n_cascades
    s.sessions = int(written["sessions"])  # type: ignore[call-overload]
    s.roles = int(written["roles"])  # type: ignore[call-overload]
    s.truth_rows = int(written["truth"])  # type: ignore[call-overload]
    return s
