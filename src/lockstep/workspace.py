"""A workspace: the directory that holds one investigation.

Layout (schema version :data:`~lockstep.schema.SCHEMA_VERSION`)::

    <workspace>/
      lockstep.json                 manifest: schema version, committed files, ingest log
      events/ingest_id=<ingest>/part-<n>.parquet   one Parquet dataset per table,
      accounts/ sessions/ roles/ truth/             Hive-partitioned by ingest
      url_map/ingest_id=<ingest>/part-<n>.parquet  URL as written -> key, host, domain
      reports/<ingest>.json, reports/<ingest>-rejects.csv
      .staging/                     work in progress (never read)

Crash safety: an ingest writes to ``.staging/``, moves its finished files into the table
directories, then atomically replaces ``lockstep.json``. Only files the manifest lists are
part of the workspace; opening a workspace removes any others (left by a killed process), so a
killed ingest leaves the workspace exactly as it was. Spark or pandas readers that scan the
directories directly should open the workspace with Lockstep once after a crash
(``lockstep stats`` will do).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from lockstep.exceptions import SchemaVersionError, WorkspaceError
from lockstep.schema import NO_PLATFORM, OBJECTS_VIEW_SQL, SCHEMA_VERSION, TABLE_COLUMNS, empty_select
from lockstep.urls import install_url_functions

__all__ = ["Workspace", "default_workspace_path", "default_memory_limit", "MANIFEST"]

MANIFEST = "lockstep.json"
ENV_VAR = "LOCKSTEP_WORKSPACE"


def default_workspace_path() -> Path:
    """``$LOCKSTEP_WORKSPACE`` or ``./lockstep-workspace``."""
    return Path(os.environ.get(ENV_VAR) or "lockstep-workspace")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_memory_limit() -> str:
    """DuckDB's memory limit unless told otherwise: a quarter of the machine's memory, at
    most 3 GB (detection on 10M events must fit in 8 GB with its numpy arrays)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "3GB"
    return f"{max(256, min(3 * 1024, total // 4 // (1 << 20)))}MB"


@dataclass
class Workspace:
    """An investigation's directory; see the module docstring for its layout.

    Use :meth:`open` (or :func:`lockstep.open_workspace`) rather than the constructor.
    """

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Workspace:
        """Open (and by default create) the workspace at ``path``.

        Raises
        ------
        WorkspaceError
            ``path`` is a file, or not a workspace and ``create`` is False.
        SchemaVersionError
            The workspace has a schema version this Lockstep does not know.
        """
        p = Path(path) if path is not None else default_workspace_path()
        mpath = p / MANIFEST
        if p.exists() and not p.is_dir():
            raise WorkspaceError(f"{p} is a file, not a workspace directory")
        if not mpath.exists():
            if not create:
                raise WorkspaceError(
                    f"{p} is not a Lockstep workspace (no {MANIFEST}); run `lockstep ingest` "
                    "or `lockstep demo` to create one, or pass --workspace")
            if p.exists() and any(x for x in p.iterdir() if x.name != ".staging"):
                raise WorkspaceError(
                    f"{p} exists and is not empty but has no {MANIFEST}: refusing to use it as "
                    "a workspace; choose another --workspace")
            p.mkdir(parents=True, exist_ok=True)
            ws = cls(p, {"format": "lockstep-workspace", "schema_version": SCHEMA_VERSION,
                         "created": _now(), "files": {t: [] for t in TABLE_COLUMNS},
                         "ingests": []})
            ws._write_manifest()
            return ws
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{mpath}: cannot read the manifest ({exc})") from None
        version = manifest.get("schema_version")
        if version == 1:
            raise SchemaVersionError(
                f"{p}: workspace schema version 1 was written by an older Lockstep (this one "
                f"reads version {SCHEMA_VERSION}); convert it in place with `lockstep "
                f"--workspace {p} upgrade`")
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{p}: workspace schema version {version!r} is not supported by this Lockstep "
                f"(it reads version {SCHEMA_VERSION}); use the Lockstep release that wrote it, "
                "or ingest the data again into a new workspace")
        for t in TABLE_COLUMNS:
            manifest.setdefault("files", {}).setdefault(t, [])
        ws = cls(p, manifest)
        ws._recover()
        return ws

    # -- manifest and recovery -----------------------------------------------------------
    def _write_manifest(self) -> None:
        tmp = self.path / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.manifest, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / MANIFEST)
        with contextlib.suppress(OSError):
            dfd = os.open(self.path, os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)

    def _recover(self) -> None:
        """Remove whatever a killed writer left that the manifest does not list.

        Skipped while another process holds the writer lock: its staging files are live.
        """
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.lock())
            except WorkspaceError:
                return
            self._remove_unlisted()

    def _remove_unlisted(self) -> None:
        """Delete the Parquet files the manifest does not list (of every table it knows or
        lists, such as an older schema's), emptied ingest directories and ``.staging``; the
        caller holds the writer lock."""
        listed = {f for files in self.manifest["files"].values() for f in files}
        for table in {*TABLE_COLUMNS, *self.manifest["files"]}:
            tdir = self.path / table
            if not tdir.exists():
                continue
            for f in tdir.rglob("*.parquet"):
                if f.relative_to(self.path).as_posix() not in listed:
                    f.unlink()
            for d in tdir.iterdir():  # an ingest's directory left empty
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
        shutil.rmtree(self.path / ".staging", ignore_errors=True)
        for tmp in self.path.glob(f".{MANIFEST}.*.tmp"):
            tmp.unlink()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace's writer lock (one writer at a time, across processes)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WorkspaceError(
                    f"{self.path} is being written by another Lockstep process; wait for it to "
                    "finish") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def staging_dir(self) -> Path:
        """A fresh directory under ``.staging/`` for one unit of work."""
        d = self.path / ".staging" / uuid.uuid4().hex
        d.mkdir(parents=True)
        return d

    def commit(self, staged: dict[str, list[Path]], record: dict[str, Any]
               ) -> dict[str, list[str]]:
        """Make staged Parquet files part of their tables and log ``record``, atomically.

        ``staged`` maps a table to files (without an ``ingest_id`` column); they move into
        ``<table>/ingest_id=<record's ingest_id>/`` and the manifest is replaced in one step,
        so either all of them count or none does.
        """
        added: dict[str, list[str]] = {}
        for table, files in staged.items():
            rel = f"{table}/ingest_id={record['ingest_id']}"
            dest_dir = self.path / rel
            # one ingest of several source files commits several times into its directory
            n = sum(f.startswith(rel + "/") for f in self.manifest["files"][table])
            for i, src in enumerate(files, start=n):
                dest_dir.mkdir(parents=True, exist_ok=True)
                dest = dest_dir / f"part-{i}.parquet"
                os.replace(src, dest)
                added.setdefault(table, []).append(dest.relative_to(self.path).as_posix())
        for table, new in added.items():
            self.manifest["files"][table].extend(new)
        self.manifest["ingests"].append({**record, "files": added, "committed": _now()})
        self._write_manifest()
        return added

    # -- reading -------------------------------------------------------------------------
    def files(self, table: str) -> list[str]:
        """Absolute paths of the committed Parquet files of ``table``."""
        return [str(self.path / f) for f in self.manifest["files"].get(table, [])]

    def table_sql(self, table: str) -> str:
        """A SELECT over the committed files of ``table`` (platform included)."""
        files = self.files(table)
        if not files:
            return empty_select(table)
        cols = ", ".join(c for c, _ in TABLE_COLUMNS[table])
        if table not in NO_PLATFORM:
            cols += ", platform"
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return (f"SELECT {cols} FROM read_parquet([{listing}], hive_partitioning=true, "
                "hive_types={'ingest_id': VARCHAR}, union_by_name=true)")

    def connect(self, *, memory_limit: str | None = None, threads: int | None = None
                ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the views ``events``, ``accounts``, ``sessions``,
        ``roles``, ``truth`` and ``objects`` over this workspace (UTC session time zone).

        ``memory_limit`` (DuckDB syntax, ``"3GB"``) defaults to ``LOCKSTEP_MEMORY_LIMIT`` or
        :func:`default_memory_limit`: DuckDB's own default, 80% of the machine, leaves nothing
        for the numpy work of detection beside it; with a limit it spills to disk instead."""
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        memory_limit = memory_limit or os.environ.get("LOCKSTEP_MEMORY_LIMIT") \
            or default_memory_limit()
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        # spill files go to the system temp dir, not .staging/: another process opening the
        # workspace may clean .staging while this connection is still in use
        tmp = Path(tempfile.gettempdir()) / f"lockstep-duckdb-{os.getpid()}"
        con.execute(f"SET temp_directory = '{tmp.as_posix()}'")
        install_url_functions(con)
        self.define_views(con)
        return con

    def define_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """(Re)define the table views on ``con`` from the current manifest."""
        for table in TABLE_COLUMNS:
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {self.table_sql(table)}")
        con.execute(f"CREATE OR REPLACE VIEW objects AS {OBJECTS_VIEW_SQL}")

    @property
    def ingests(self) -> list[dict[str, Any]]:
        """The ingest log, oldest first."""
        return list(self.manifest["ingests"])
