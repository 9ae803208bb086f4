"""What a workspace holds: counts per platform, table and action, time range, top objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lockstep.schema import NO_PLATFORM, TABLE_COLUMNS
from lockstep.workspace import Workspace

__all__ = ["WorkspaceStats", "workspace_stats"]


@dataclass
class WorkspaceStats:
    """Summary of a workspace, as :func:`workspace_stats` computes it."""

    tables: dict[str, dict[str, int]] = field(default_factory=dict)   # table -> platform -> rows
    accounts_acting: dict[str, int] = field(default_factory=dict)     # platform -> distinct
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # platform -> action -> n
    time_range: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    top_objects: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # type -> top

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "accounts_acting": self.accounts_acting,
                "actions": self.actions,
                "time_range": {p: [a.isoformat(), b.isoformat()] for p, (a, b) in self.time_range.items()},
                "top_objects": {k: [list(x) for x in v] for k, v in self.top_objects.items()}}


def workspace_stats(ws: Workspace, *, top: int = 5) -> WorkspaceStats:
    """Count what ``ws`` holds; ``top`` most used objects of each type."""
    con = ws.connect()
    st = WorkspaceStats()
    for table in (t for t in TABLE_COLUMNS if t not in NO_PLATFORM):
        rows = con.execute(f"SELECT platform, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()
        st.tables[table] = {p: int(n) for p, n in rows}
    for p, n, lo, hi in con.execute(
            "SELECT platform, count(DISTINCT account_id), min(ts), max(ts) FROM events "
            "GROUP BY 1 ORDER BY 1").fetchall():
        st.accounts_acting[p] = int(n)
        st.time_range[p] = (lo, hi)
    for p, a, n in con.execute("SELECT platform, action, count(*) FROM events GROUP BY 1, 2 "
                               "ORDER BY 1, 3 DESC").fetchall():
        st.actions.setdefault(p, {})[a] = int(n)
    for otype, oid, n in con.execute(
            "SELECT object_type, object_id, n FROM (SELECT object_type, object_id, count(*) AS n, "
            "row_number() OVER (PARTITION BY object_type ORDER BY count(*) DESC, object_id) AS r "
            "FROM objects GROUP BY 1, 2) WHERE r <= ? ORDER BY 1, 3 DESC", [top]).fetchall():
        st.top_objects.setdefault(otype, []).append((oid, int(n)))
    con.close()
    return st
