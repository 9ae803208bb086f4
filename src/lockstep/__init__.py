"""Lockstep: find coordinated inauthentic behaviour, with the evidence behind every link.

The Python API is what the CLI calls; a notebook can do everything the CLI does::

    import lockstep
    ws = lockstep.open_workspace("my-investigation")
    lockstep.ingest(ws, ["events.csv"])
    lockstep.workspace_stats(ws)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "open_workspace", "Workspace", "ingest", "workspace_stats",
           "simulate", "normalize_url", "registered_domain", "upgrade_workspace", "LockstepError"]

if TYPE_CHECKING:
    from lockstep.exceptions import LockstepError
    from lockstep.ingestion import ingest
    from lockstep.simulate import simulate
    from lockstep.stats import workspace_stats
    from lockstep.upgrade import upgrade_workspace
    from lockstep.urls import normalize_url, registered_domain
    from lockstep.workspace import Workspace

_LAZY = {
    "Workspace": "lockstep.workspace",
    "ingest": "lockstep.ingestion",
    "workspace_stats": "lockstep.stats",
    "simulate": "lockstep.simulate",
    "normalize_url": "lockstep.urls",
    "registered_domain": "lockstep.urls",
    "upgrade_workspace": "lockstep.upgrade",
    "LockstepError": "lockstep.exceptions",
}


def open_workspace(path: Any = None, *, create: bool = True) -> Workspace:
    """Open (or create) the workspace at ``path`` (default ``$LOCKSTEP_WORKSPACE`` or
    ``./lockstep-workspace``)."""
    from lockstep.workspace import Workspace

    return Workspace.open(path, create=create)


def __getattr__(name: str) -> Any:
    # heavy modules (duckdb, pyarrow) load on first use, not at `import lockstep`
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lockstep' has no attribute {name!r}")
