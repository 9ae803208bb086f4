"""Save and load detection runs in a workspace, beside (not inside) its tables.

Layout::

    <workspace>/runs/
      <run_id>/networks.parquet   ranked networks with score components
      <run_id>/members.parquet    one row per (network, account)
      <run_id>/edges.parquet      internal edges, one row per (pair, signal), with evidence
      <run_id>/run.json           run id, creation time, parameters, row counts
      latest                      text file: the id of the most recent saved run

A run is written into ``runs/.tmp-<pid>-<uuid>/`` (removed by the next save once that process
is dead) and renamed into place in one step, then
``latest`` is replaced atomically (:func:`os.replace`), so a killed process leaves either the
whole run or nothing, and ``latest`` always names a complete run. ``save_run(...,
latest=False, extra=...)`` stores a run without publishing it: detection writes the run and
its assessment into the temporary directory, renames it into place, and only then points
``latest`` at it (:func:`publish_run`), so a process killed at any point leaves the previous
run as the latest, never one without its verdicts (killed between the rename and the
pointer, a complete run that is not the latest remains; :func:`discard_run` removes one). Runs are not listed in the
workspace manifest (``lockstep.json``): ingest and detection never touch each other's files.
Run ids sort by creation time (``20250101T120000Z-1a2b3c``).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from lockstep import spill
from lockstep.exceptions import WorkspaceError
from lockstep.graph.networks import Run

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["save_run", "publish_run", "discard_run", "replace_dir", "new_run_id", "load_run",
           "list_runs", "latest_run_id", "runs_dir", "RUNS_DIR", "LATEST", "RUN_FORMAT_VERSION"]

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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the system or file system cannot."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_dir(new: Path, final: Path) -> None:
    """Put the directory ``new`` in place of ``final`` so that a reader sees the old or the
    new one, never neither: swapped atomically where the system can, else the old one is
    renamed aside first (a process killed in that instant leaves ``final`` missing)."""
    if final.exists() and _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # now the old one
        _fsync_dir(final.parent)
        return
    old = final.parent / f".old-{uuid.uuid4().hex}"
    if final.exists():
        os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(final.parent)


def _check_id(run_id: str) -> str:
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id \
            or run_id == LATEST:
        raise WorkspaceError(f"{run_id!r} is not a valid run id")
    return run_id


def new_run_id() -> str:
    """A fresh run id: the UTC time and six random hex digits (sorts by creation)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def save_run(ws: Workspace | str | Path, run: Run, *, run_id: str | None = None,
             latest: bool = True, extra: Callable[[Path], object] | None = None) -> str:
    """Store ``run`` under ``<ws>/runs/<run_id>/`` and (by default) make it the latest run.

    Parameters
    ----------
    ws : Workspace or path
    run : Run
        Its ``run_id`` and ``created`` are set on return.
    run_id : str, optional
        Default: the UTC time and six random hex digits.
    latest : bool, default True
        Point ``runs/latest`` at it. False stores it only; :func:`publish_run` makes it the
        latest later.
    extra : callable, optional
        ``extra(directory)`` writes more into the run's directory before it is renamed into
        place (detection writes the assessment so), so the run never appears without it.

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
    rid = _check_id(run_id or new_run_id())
    final = root / rid
    if final.exists():
        raise WorkspaceError(f"run {rid} already exists in {root}")
    _clean_dead(root)
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
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
        if extra is not None:
            extra(tmp)
        _fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)
    run.run_id, run.created = rid, created
    if latest:
        publish_run(ws, rid)
    return rid


def publish_run(ws: Workspace | str | Path, run_id: str) -> None:
    """Make the saved run ``run_id`` the latest, atomically (:func:`os.replace` of
    ``runs/latest``)."""
    root = runs_dir(ws)
    if not (root / _check_id(run_id) / "run.json").is_file():
        raise WorkspaceError(f"no saved run {run_id!r} in {root.parent}")
    pointer = root / f".{LATEST}.{uuid.uuid4().hex}.tmp"
    try:
        with open(pointer, "w", encoding="utf-8") as fh:
            fh.write(run_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer, root / LATEST)
    except BaseException:
        pointer.unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def discard_run(ws: Workspace | str | Path, run_id: str) -> None:
    """Remove a saved run that is not the latest (one whose detection did not finish);
    it is first renamed away, so no reader sees it half removed."""
    root = runs_dir(ws)
    if latest_run_id(ws) == _check_id(run_id):
        raise WorkspaceError(f"run {run_id} is the latest run; it cannot be discarded")
    path = root / run_id
    if not path.exists():
        return
    gone = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
    os.rename(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


def _clean_dead(root: Path) -> None:
    """Remove the ``.tmp-<pid>-*`` directories of processes that died while writing a run
    (SIGKILL, power loss): never visible as runs, but disk all the same."""
    for d in root.glob(".tmp-*-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and not spill.process_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


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
