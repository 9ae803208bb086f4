"""Save and load detection runs in a workspace, beside (not inside) its tables.

Layout::

    <workspace>/runs/
      <run_id>/networks.parquet   ranked networks with score components
      <run_id>/members.parquet    one row per (network, account)
      <run_id>/edges.parquet      internal edges, one row per (pair, signal), with evidence
      <run_id>/run.json           run id, creation time, parameters, row counts
      latest                      text file: the id of the most recent saved run

A run is written into ``runs/.tmp-<uuid>/`` and renamed into place in one step, then
``latest`` is replaced atomically (:func:`os.replace`), so a killed process leaves either the
whole run or nothing, and ``latest`` always names a complete run. Runs are not listed in the
workspace manifest (``lockstep.json``): ingest and detection never touch each other's files.
Run ids sort by creation time (``20250101T120000Z-1a2b3c``).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from lockstep.exceptions import WorkspaceError
from lockstep.graph.networks import Run

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["save_run", "load_run", "list_runs", "latest_run_id", "runs_dir", "RUNS_DIR", "LATEST",
           "RUN_FORMAT_VERSION"]

RUNS_DIR = "runs"
LATEST = "latest"
RUN_FORMAT_VERSION = 1
_TABLES = ("networks", "members", "edges")


def runs_dir(ws: Workspace | str | Path) -> Path:
    """``<workspace>/runs`` (``ws`` is a :class:`~lockstep.workspace.Workspace` or a path)."""
    root = ws.path if hasattr(ws, "path") else Path(ws)
    return Path(root) / RUNS_DIR


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (datetime, date)):
        return x.isoformat()
    if isinstance(x, (set, frozenset, tuple)):
        return sorted(x) if isinstance(x, (set, frozenset)) else list(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"run parameter of type {type(x).__name__} cannot be stored as JSON")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_id(run_id: str) -> str:
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id \
            or run_id == LATEST:
        raise WorkspaceError(f"{run_id!r} is not a valid run id")
    return run_id


def save_run(ws: Workspace | str | Path, run: Run, *, run_id: str | None = None) -> str:
    """Store ``run`` under ``<ws>/runs/<run_id>/`` and make it the latest run.

    Parameters
    ----------
    ws : Workspace or path
    run : Run
        Its ``run_id`` and ``created`` are set on return.
    run_id : str, optional
        Default: the UTC time and six random hex digits.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    WorkspaceError
        ``run_id`` is invalid or already used.
    """
    root = runs_dir(ws)
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rid = _check_id(run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                    + "-" + uuid.uuid4().hex[:6])
    final = root / rid
    if final.exists():
        raise WorkspaceError(f"run {rid} already exists in {root}")
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        for name in _TABLES:
            pq.write_table(getattr(run, name), tmp / f"{name}.parquet", compression="zstd")
        meta = {"format": "lockstep-run", "format_version": RUN_FORMAT_VERSION, "run_id": rid,
                "created": created, "params": run.params,
                "counts": {name: getattr(run, name).num_rows for name in _TABLES}}
        with open(tmp / "run.json", "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, default=_jsonable)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = root / f".{LATEST}.{uuid.uuid4().hex}.tmp"
    with open(pointer, "w", encoding="utf-8") as fh:
        fh.write(rid + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, root / LATEST)
    _fsync_dir(root)
    run.run_id, run.created = rid, created
    return rid


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"{path}: cannot read run.json ({exc})") from None
    if meta.get("format_version") != RUN_FORMAT_VERSION:
        raise WorkspaceError(f"{path}: run format version {meta.get('format_version')!r} is not "
                             f"supported (this Lockstep reads {RUN_FORMAT_VERSION})")
    return meta


def latest_run_id(ws: Workspace | str | Path) -> str | None:
    """The id in ``runs/latest``, or None when no run was saved."""
    try:
        rid = (runs_dir(ws) / LATEST).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return rid or None


def load_run(ws: Workspace | str | Path, run_id: str | None = None) -> Run:
    """Load a saved run (the latest when ``run_id`` is None).

    Raises
    ------
    WorkspaceError
        No run saved yet, unknown ``run_id``, or an unreadable run.
    """
    root = runs_dir(ws)
    if run_id is None:
        run_id = latest_run_id(ws)
        if run_id is None:
            raise WorkspaceError(f"no detection run in {root.parent}; run `lockstep detect` first")
    path = root / _check_id(run_id)
    if not (path / "run.json").exists():
        known = ", ".join(r["run_id"] for r in list_runs(ws)[-5:]) or "none"
        raise WorkspaceError(f"no run {run_id!r} in {root.parent} (recent runs: {known})")
    meta = _read_meta(path)
    tables = {name: pq.read_table(path / f"{name}.parquet") for name in _TABLES}
    return Run(**tables, params=meta.get("params", {}), run_id=meta["run_id"],
               created=meta.get("created"))


def list_runs(ws: Workspace | str | Path) -> list[dict[str, Any]]:
    """Saved runs, oldest first: ``run_id, created, counts, params, latest`` each."""
    root = runs_dir(ws)
    if not root.is_dir():
        return []
    latest = latest_run_id(ws)
    out = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not (p / "run.json").is_file():
            continue
        try:
            meta = _read_meta(p)
        except WorkspaceError:
            continue
        out.append({"run_id": meta["run_id"], "created": meta.get("created"),
                    "counts": meta.get("counts", {}), "params": meta.get("params", {}),
                    "latest": meta["run_id"] == latest})
    out.sort(key=lambda r: (r["created"] or "", r["run_id"]))
    return out
