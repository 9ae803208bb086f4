"""Shared by the benchmarks: open the workspace of a simulated world, ingesting it once."""
from __future__ import annotations

from pathlib import Path

from lockstep.workspace import Workspace


def world_workspace(path: Path, ws_path: Path | None = None) -> Workspace:
    """``path`` itself if it is a workspace; else its workspace (``ws_path``, default
    ``<path>-ws``), ingested from the world's files the first time."""
    if (path / "lockstep.json").exists():
        return Workspace.open(path, create=False)
    ws_path = ws_path or path.with_name(path.name + "-ws")
    if (ws_path / "lockstep.json").exists():
        return Workspace.open(ws_path, create=False)
    from lockstep.ingestion import ingest

    ws = Workspace.open(ws_path)
    ingest(ws, [path])
    return ws
