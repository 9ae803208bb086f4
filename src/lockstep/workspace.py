"""A workspace: the directory that holds one investigation.

Layout (schema version :data:`~lockstep.schema.SCHEMA_VERSION`)::

    <workspace>/
      lockstep.json                 manifest: schema version, committed files, ingest log
      events/ingest_id=<ingest>/part-<n>.parquet   one Parquet dataset per table,
      accounts/ sessions/ roles/ truth/             Hive-partitioned by ingest
      url_map/ingest_id=<ingest>/part-<n>.parquet  URL as written -> key, host, domain
      reports/<ingest>.json, reports/<ingest>-rejects.csv
      .staging/                     work in progress (never read)
      .lock                         the writers' lock (flock)

One write path: every writer holds :meth:`Workspace.lock`, which re-reads the manifest once it
is held, and changes the workspace only through :meth:`Workspace.commit_many` (or
:meth:`~Workspace.commit`): staged files move into the table directories, then ``lockstep.json``
is atomically replaced. Only files the manifest lists are part of the workspace; opening a
workspace removes any others (left by a killed process), so a killed writer leaves the
workspace exactly as it was. Spark or pandas readers that scan the directories directly should
open the workspace with Lockstep once after a crash (``lockstep stats`` will do).

Design choices, one line each:

- The lock waits (``LOCKSTEP_LOCK_TIMEOUT`` seconds, default 600) instead of failing at once:
  concurrent ingests queue, and only a writer stuck for ten minutes is an error.
- The lock re-reads the manifest once held: a handle opened before another process committed
  would otherwise append to an old manifest and drop that commit (and its files at next open).
- Reading takes no lock: commits are atomic renames and committed files are never rewritten or
  deleted while listed, so a reader sees one manifest and files that stay; a read-only
  workspace can therefore be read, and opening it writes nothing (recovery is skipped).
- A handle re-reads the manifest when the file changed (inode, size, mtime) before it lists
  files or defines views, so it sees other processes' commits; :meth:`Workspace.snapshot` gives
  a handle pinned to one manifest for work that must see one state throughout (detection).
- Recovery deletes unlisted files only under the lock and after re-reading the manifest, never
  from a handle's possibly stale copy, and is skipped while a writer holds the lock.
- Committed files are never compacted in place (readers holding an older manifest may be
  reading them); an ingest compacts its own staged parts before it commits instead.
"""
from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from lockstep import spill
from lockstep.exceptions import (DiskFullError, Interrupted, LockstepError, SchemaVersionError,
                                 WorkspaceError)
from lockstep.schema import NO_PLATFORM, OBJECTS_VIEW_SQL, SCHEMA_VERSION, TABLE_COLUMNS, empty_select
from lockstep.sql import ident, literal, literal_list
from lockstep.urls import install_url_functions

__all__ = ["Workspace", "default_workspace_path", "default_memory_limit", "lock_timeout",
           "write_guard",
           "MANIFEST", "LOCK_TIMEOUT_ENV", "DEFAULT_LOCK_TIMEOUT"]

MANIFEST = "lockstep.json"
ENV_VAR = "LOCKSTEP_WORKSPACE"
LOCK_FILE = ".lock"
LOCK_TIMEOUT_ENV = "LOCKSTEP_LOCK_TIMEOUT"
#: Seconds a writer waits for the lock: an ingest of the large world takes about a minute,
#: so ten minutes queue several behind it, yet a hung writer still ends in an error.
DEFAULT_LOCK_TIMEOUT = 600.0


def default_workspace_path() -> Path:
    """``$LOCKSTEP_WORKSPACE`` or ``./lockstep-workspace``."""
    return Path(os.environ.get(ENV_VAR) or "lockstep-workspace")


def lock_timeout() -> float:
    """Seconds to wait for the writers' lock: ``$LOCKSTEP_LOCK_TIMEOUT`` or 600."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise WorkspaceError(f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None


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


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC from the OS, or DuckDB's and Arrow's wording of it."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, (OSError, duckdb.Error)) and "No space left on device" in str(exc)


def _interrupted(exc: BaseException) -> bool:
    """DuckDB's answer to Ctrl-C: ``InterruptException``, or a ``RuntimeError`` "Query
    interrupted" when the signal reaches a query run from a Python callback."""
    if isinstance(exc, duckdb.InterruptException):
        return True
    return isinstance(exc, (RuntimeError, duckdb.Error)) and (
        "Query interrupted" in str(exc) or str(exc).startswith("INTERRUPT Error"))


@contextlib.contextmanager
def write_guard(path: str | Path, doing: str, kept: str) -> Iterator[None]:
    """Turn Ctrl-C and a full disk inside a write into one-line :class:`LockstepError`s.

    ``doing`` says what was under way (``"ingesting"``), ``kept`` what the workspace holds
    now (``"nothing from this call was loaded; the workspace is unchanged"``); the writer
    inside must have left it so (staging removed, nothing committed). Ctrl-C and DuckDB's
    ``InterruptException`` become :class:`Interrupted` (still a ``KeyboardInterrupt``),
    ENOSPC :class:`DiskFullError`.
    """
    try:
        yield
    except LockstepError:
        raise
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while {doing}; {kept}") from None
    except Exception as exc:
        if _interrupted(exc):
            raise Interrupted(f"interrupted while {doing}; {kept}") from None
        if _disk_full(exc):
            raise DiskFullError(f"{path}: no space left on device while {doing}; {kept}"
                                ) from exc
        raise


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What changes when the manifest is replaced (a rename gives a new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path`` as stored (any schema version), every table listed."""
    mpath = path / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"{mpath}: cannot read the manifest ({exc})") from None
    for t in TABLE_COLUMNS:
        manifest.setdefault("files", {}).setdefault(t, [])
    manifest.setdefault("ingests", [])
    return manifest


def _check_version(path: Path, manifest: Mapping[str, Any]) -> None:
    version = manifest.get("schema_version")
    if version == 1:
        raise SchemaVersionError(
            f"{path}: workspace schema version 1 was written by an older Lockstep (this one "
            f"reads version {SCHEMA_VERSION}); convert it in place with `lockstep "
            f"--workspace {path} upgrade`")
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: workspace schema version {version!r} is not supported by this Lockstep "
            f"(it reads version {SCHEMA_VERSION}); use the Lockstep release that wrote it, "
            "or ingest the data again into a new workspace")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


#: names an empty directory may hold and still become a workspace (what a concurrent
#: creator leaves before its manifest exists)
_CREATION_LEFTOVERS = (".staging", LOCK_FILE)


@dataclass
class Workspace:
    """An investigation's directory; see the module docstring for its layout.

    Use :meth:`open` (or :func:`lockstep.open_workspace`) rather than the constructor.
    """

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    _seen: tuple[int, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _pinned: bool = field(default=False, init=False, repr=False, compare=False)
    _owner: int | None = field(default=None, init=False, repr=False, compare=False)
    _depth: int = field(default=0, init=False, repr=False, compare=False)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Workspace:
        """Open (and by default create) the workspace at ``path``.

        Opening a workspace in a directory this process cannot write works for reading and
        writes nothing (no lock file, no recovery).

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
            created = cls._create(p)
            if created is not None:
                return created
        ws = cls(p)
        ws.refresh(force=True)
        _check_version(p, ws.manifest)
        ws._recover()
        return ws

    @classmethod
    def _create(cls, p: Path) -> Workspace | None:
        """Create the workspace at ``p``; None if another process created it meanwhile."""
        cls._refuse_foreign(p)
        if (p / MANIFEST).exists():
            return None
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"{p}: cannot create the workspace ({exc.strerror})") from None
        ws = cls(p)
        with ws.lock():  # two processes creating one workspace: the second reads the first's
            if (p / MANIFEST).exists():
                return None
            cls._refuse_foreign(p)
            ws._write_manifest({"format": "lockstep-workspace",
                                "schema_version": SCHEMA_VERSION, "created": _now(),
                                "files": {t: [] for t in TABLE_COLUMNS}, "ingests": []})
        return ws

    @staticmethod
    def _refuse_foreign(p: Path) -> None:
        if (p / MANIFEST).exists():  # another process created it meanwhile: not foreign
            return
        foreign = sorted(x.name for x in p.iterdir() if x.name not in _CREATION_LEFTOVERS
                         and not x.name.startswith(f".{MANIFEST}.")) if p.exists() else []
        if foreign and not (p / MANIFEST).exists():
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise WorkspaceError(
                f"{p} exists and is not empty ({shown}) but has no {MANIFEST}: refusing to "
                "use it as a workspace; choose another --workspace")

    @property
    def writable(self) -> bool:
        """Whether this process may write the workspace directory."""
        return os.access(self.path, os.W_OK)

    def snapshot(self) -> Workspace:
        """A handle pinned to the manifest as it is now: it does not see later commits.

        For work that must read one state throughout (every detector of a detection run
        over the same rows, even while an ingest commits)."""
        self.refresh()
        ws = Workspace(self.path, copy.deepcopy(self.manifest))
        ws._seen, ws._pinned = self._seen, True
        return ws

    # -- manifest and recovery -----------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Re-read the manifest if another process replaced it; True if it was re-read.

        A pinned handle (:meth:`snapshot`) is only re-read with ``force``."""
        if self._pinned and not force:
            return False
        stamp = _stamp(self.path / MANIFEST)
        if not force and (stamp is None or stamp == self._seen):
            return False
        self.manifest = _read_manifest(self.path)
        self._seen = stamp
        return True

    def _write_manifest(self, manifest: dict[str, Any] | None = None) -> None:
        """Replace ``lockstep.json`` atomically with ``manifest`` (default: the handle's)
        and make it the handle's; the caller holds the lock."""
        manifest = self.manifest if manifest is None else manifest
        tmp = self.path / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / MANIFEST)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.manifest = manifest
        self._seen = _stamp(self.path / MANIFEST)
        _fsync_dir(self.path)

    def _recover(self) -> None:
        """Remove whatever a killed writer left that the manifest does not list.

        Skipped in a directory this process cannot write, and while another process holds
        the writer lock (its staging files are live)."""
        if not self.writable:
            return
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.lock(timeout=0))
            except WorkspaceError:
                return
            self._remove_unlisted()

    def _remove_unlisted(self) -> None:
        """Delete the Parquet files the manifest on disk does not list (of every table it
        knows or lists, such as an older schema's), emptied ingest directories and
        ``.staging``; the caller holds the writer lock.

        The manifest is read from disk here, not taken from this handle: a handle opened
        before another process committed would otherwise delete that commit's files."""
        manifest = _read_manifest(self.path)
        if not self._pinned:
            self.manifest, self._seen = manifest, _stamp(self.path / MANIFEST)
        listed = {f for files in manifest["files"].values() for f in files}
        for table in {*TABLE_COLUMNS, *manifest["files"]}:
            tdir = self.path / table
            if not tdir.is_dir():
                continue
            for f in tdir.rglob("*.parquet"):
                if f.relative_to(self.path).as_posix() not in listed:
                    f.unlink(missing_ok=True)
            for d in tdir.iterdir():  # an ingest's directory left empty
                if d.is_dir() and not any(d.iterdir()):
                    with contextlib.suppress(OSError):
                        d.rmdir()
        shutil.rmtree(self.path / ".staging", ignore_errors=True)
        for tmp in self.path.glob(f".{MANIFEST}.*.tmp"):
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the workspace's writer lock (one writer at a time, across processes).

        Waits up to ``timeout`` seconds (default :func:`lock_timeout`) for another writer to
        finish; once held, the manifest is re-read, so what the holder writes starts from
        the latest commit. Re-entrant within one thread of one handle.

        Raises
        ------
        WorkspaceError
            Another process kept the lock for ``timeout`` seconds, or the directory cannot
            be written.
        """
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        wait = lock_timeout() if timeout is None else timeout
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise WorkspaceError(f"{self.path}: cannot write the workspace ({exc.strerror}); "
                                 "reading it needs no write access, changing it does") from None
        try:
            deadline = time.monotonic() + wait
            pause = 0.005
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise WorkspaceError(
                            f"{self.path} is being written by another Lockstep process; gave "
                            f"up after waiting {wait:g} s (set {LOCK_TIMEOUT_ENV} to wait "
                            "longer)") from None
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 0.1)
            try:
                self._owner, self._depth = me, 1
                if (self.path / MANIFEST).exists() and not self._pinned:
                    self.refresh(force=True)
                yield
            finally:
                self._owner, self._depth = None, 0
                fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            fh.close()

    def staging_dir(self) -> Path:
        """A fresh directory under ``.staging/`` for one unit of work."""
        d = self.path / ".staging" / uuid.uuid4().hex
        d.mkdir(parents=True)
        return d

    def commit(self, staged: Mapping[str, Sequence[Path]], record: Mapping[str, Any]
               ) -> dict[str, list[str]]:
        """Make staged Parquet files part of their tables and log ``record``, atomically.

        ``staged`` maps a table to files (without an ``ingest_id`` column); they move into
        ``<table>/ingest_id=<record's ingest_id>/`` and the manifest is replaced in one step,
        so either all of them count or none does. Takes the lock if the caller does not
        hold it."""
        return self.commit_many([(staged, record)])[0]

    def commit_many(self, units: Sequence[tuple[Mapping[str, Sequence[Path]],
                                                Mapping[str, Any]]]
                    ) -> list[dict[str, list[str]]]:
        """Commit several ``(staged, record)`` units (see :meth:`commit`) in ONE manifest
        write: all of them land or none does.

        Each record is appended to the ingest log with the relative paths of its files
        (``files``) and the time (``committed``). On any error, the files already moved are
        removed again before the error propagates, so the workspace is as before."""
        with self.lock():
            manifest = copy.deepcopy(self.manifest)  # re-read when the lock was taken
            moved: list[Path] = []
            results: list[dict[str, list[str]]] = []
            try:
                for staged, record in units:
                    added: dict[str, list[str]] = {}
                    for table, files in staged.items():
                        if not files:
                            continue
                        listed = manifest["files"].setdefault(table, [])
                        rel = f"{table}/ingest_id={record['ingest_id']}"
                        n = sum(f.startswith(rel + "/") for f in listed)
                        (self.path / rel).mkdir(parents=True, exist_ok=True)
                        for i, src in enumerate(files, start=n):
                            dest = self.path / rel / f"part-{i}.parquet"
                            os.replace(src, dest)
                            moved.append(dest)
                            listed.append(f"{rel}/{dest.name}")
                            added.setdefault(table, []).append(f"{rel}/{dest.name}")
                    manifest["ingests"].append({**record, "files": added, "committed": _now()})
                    results.append(added)
                self._write_manifest(manifest)
            except BaseException:
                self._unmove(moved)
                raise
        return results

    def _unmove(self, moved: list[Path]) -> None:
        """Remove files a failed commit moved in, unless the manifest on disk lists them
        (the failure came after the manifest was replaced)."""
        try:
            listed = {f for fs in _read_manifest(self.path)["files"].values() for f in fs}
        except WorkspaceError:
            return  # cannot tell: leave them to the next recovery
        for f in moved:
            if f.relative_to(self.path).as_posix() not in listed:
                f.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    f.parent.rmdir()

    # -- reading -------------------------------------------------------------------------
    def files(self, table: str) -> list[str]:
        """Absolute paths of the committed Parquet files of ``table`` (as of the latest
        commit, unless this handle is a :meth:`snapshot`)."""
        self.refresh()
        return [str(self.path / f) for f in self.manifest["files"].get(table, [])]

    def table_sql(self, table: str) -> str:
        """A SELECT over the committed files of ``table`` (platform included)."""
        files = self.files(table)
        if not files:
            return empty_select(table)
        cols = ", ".join(c for c, _ in TABLE_COLUMNS[table])
        if table not in NO_PLATFORM:
            cols += ", platform"
        return (f"SELECT {cols} FROM read_parquet({literal_list(files)}, hive_partitioning=true, "
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
            con.execute(f"SET memory_limit = {literal(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        # spill files go to the system temp dir, not .staging/: another process opening the
        # workspace may clean .staging while this connection is still in use, and a
        # read-only workspace has no room for them; bounded by the disk budget (lockstep.spill)
        spill.configure_duckdb(con)
        install_url_functions(con)
        self.define_views(con)
        return con

    def define_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """(Re)define the table views on ``con`` from the current manifest."""
        for table in TABLE_COLUMNS:
            con.execute(f"CREATE OR REPLACE VIEW {ident(table)} AS {self.table_sql(table)}")
        con.execute(f"CREATE OR REPLACE VIEW objects AS {OBJECTS_VIEW_SQL}")

    @property
    def ingests(self) -> list[dict[str, Any]]:
        """The ingest log, oldest first."""
        self.refresh()
        return list(self.manifest["ingests"])
