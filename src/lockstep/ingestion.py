"""Ingest: read files in any supported format into a workspace, one call whole or not at all.

(This module is `ingestion`, not `ingest`, so that `lockstep.ingest` stays the function.)

For each source file: load it into a DuckDB staging table (the generic format through DuckDB's
own readers, the platform formats through their readers' Arrow chunks), type and validate it
with :func:`~lockstep.readers.transform.typed_select`, refuse it (default) or set its bad rows
aside (``skip_bad_rows``), drop rows whose key is already stored, staged earlier in the same
call or repeated in the file, and write Parquet into ``.staging/``. When every file is staged,
the small parts of each table are merged, the new URLs mapped, and everything is committed in
ONE manifest write (:meth:`Workspace.commit_many`).

Design choices, one line each:

- The unit is the call: a refused file, Ctrl-C or a full disk leaves the workspace exactly as
  before the call, so a directory (events without accounts) or a multi-table file (CrowdTangle
  posts without their pages) never lands in part.
- The whole call runs under the writers' lock (which re-reads the manifest), so the rows it
  checks for duplicates and the manifest it commits to are the latest, and a second writer
  queues instead of overwriting.
- Files later in a call are de-duplicated against the parts staged earlier in it (the
  "existing" rows are the committed files plus those parts), and URLs are mapped once, at the
  end, over all staged events: one pass instead of one per file.
- One DuckDB connection serves the whole call (58 ms each to set up), and staged parts under
  32 MB are merged every 32 files and at the end: a directory of a thousand small files
  commits one part per table, costs linear time, and leaves no slow workspace behind.
"""
from __future__ import annotations

import contextlib
import csv
import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lockstep import spill
from lockstep.exceptions import BadInputError, RowError, UsageError
from lockstep.readers.base import TABLES
from lockstep.readers.generic import GenericReader, generic_sources
from lockstep.readers.registry import detect_format, get_reader
from lockstep.readers.transform import install_transform_functions, typed_select
from lockstep.schema import TABLE_COLUMNS, TABLE_KEYS
from lockstep.spreadsheet import csv_row
from lockstep.sql import ident, literal, literal_list
from lockstep.urls import install_url_functions, url_map_table
from lockstep.workspace import Workspace, write_guard

__all__ = ["ingest", "write_report", "FileReport", "IngestReport", "MAX_REPORTED_ERRORS"]

MAX_REPORTED_ERRORS = 20
_BAD_ROW = "lockstep: bad row"  # message of the guard that aborts an optimistic COPY
Progress = Callable[[str, int, int], None]
#: Staged parts smaller than this are merged with each other before the commit.
COMPACT_BELOW = 32 << 20
#: Merge a table's small staged parts once this many wait: each later file checks its keys
#: against every staged part, so their number is kept bounded.
COMPACT_EVERY = 32


@dataclass
class FileReport:
    """What happened to one source file (one table of it)."""

    source: str
    table: str
    format: str
    status: str  # loaded | unchanged | refused
    rows_read: int = 0
    rows_added: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: seconds per stage: load, check, write
    stages: dict[str, float] = field(default_factory=dict)
    #: records the reader left out on purpose (a Bluesky delete, a Telegram service
    #: message), by reason: ``[count, first line]``; on the file's first table only
    skipped: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class IngestReport:
    """The outcome of one :func:`ingest` call; ``files`` in the order they were read."""

    ingest_id: str
    files: list[FileReport] = field(default_factory=list)
    #: seconds of the call's own stages: compact, urls, commit
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def rows_added(self) -> int:
        return sum(f.rows_added for f in self.files)

    def to_dict(self) -> dict[str, object]:
        return {"ingest_id": self.ingest_id, "files": [asdict(f) for f in self.files],
                "stages": dict(self.stages)}


def _sources(path: Path, fmt: str) -> list[tuple[str, str, Path]]:
    """``(format, table, file)`` for one path given on the command line."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    name = detect_format(path) if fmt == "auto" else fmt
    if name == "generic":
        return [("generic", t, f) for t, f in generic_sources(path)]
    get_reader(name)  # validates the name
    if path.is_dir():
        return [(name, "*", f) for f in sorted(path.iterdir()) if f.is_file()
                and not f.name.startswith(".")]
    return [(name, "*", path)]


class _Batch:
    """What one ingest call has staged and not yet committed: Parquet parts per table, the
    log record of each source file, and rejects files waiting for their final place."""

    def __init__(self, ws: Workspace, stage: Path, ingest_id: str) -> None:
        self.ws, self.stage, self.ingest_id = ws, stage, ingest_id
        self.parts: dict[str, list[Path]] = {}
        self.records: list[dict[str, Any]] = []
        self.rejects: list[tuple[Path, Path]] = []  # (staged, final)
        self._n = 0

    def new_part(self, table: str) -> Path:
        self._n += 1
        d = self.stage / "parts"
        d.mkdir(exist_ok=True)
        return d / f"{table}-{self._n}.parquet"

    def has_rows(self, table: str) -> bool:
        return bool(self.parts.get(table)) or bool(self.ws.files(table))

    def existing_sql(self, table: str) -> str | None:
        """The keys of ``table`` already committed or staged by this call, as a SELECT."""
        keys = ", ".join(TABLE_KEYS[table])
        parts = []
        if self.ws.files(table):
            parts.append(f"SELECT {keys} FROM ({self.ws.table_sql(table)})")
        if self.parts.get(table):
            parts.append(f"SELECT {keys} FROM read_parquet({literal_list(self.parts[table])}, "
                         "union_by_name=true)")
        return " UNION ALL ".join(parts) or None

    def add(self, con: duckdb.DuckDBPyConnection, table: str, part: Path) -> None:
        self.parts.setdefault(table, []).append(part)
        small = [p for p in self.parts[table] if p.stat().st_size < COMPACT_BELOW]
        if len(small) >= COMPACT_EVERY:
            self.compact(con, table)

    def compact(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Merge the small staged parts of ``table`` into one."""
        parts = self.parts.get(table, [])
        small = [p for p in parts if p.stat().st_size < COMPACT_BELOW]
        if len(small) < 2:
            return
        out = self.new_part(table)
        _write_parquet(con, f"SELECT * FROM read_parquet({literal_list(small)}, "
                            "union_by_name=true)", out)
        for p in small:
            p.unlink()
        self.parts[table] = [p for p in parts if p not in small] + [out]

    def rejects_path(self, path: Path) -> tuple[Path, Path]:
        """Where a rejects file is written now and where it goes once committed."""
        rdir = self.ws.path / "reports"
        name = f"{self.ingest_id}-{path.name}-rejects.csv"
        taken = {final.name for _, final in self.rejects}
        n = 1
        while name in taken:  # two files of one name in one call
            n += 1
            name = f"{self.ingest_id}-{path.name}-{n}-rejects.csv"
        pair = (self.stage / name, rdir / name)
        self.rejects.append(pair)
        return pair


def ingest(workspace: Workspace, paths: Sequence[str | Path], *, fmt: str = "auto",
           platform: str | None = None, skip_bad_rows: bool = False,
           progress: Progress | None = None, memory_limit: str = "1GB") -> IngestReport:
    """Read ``paths`` into ``workspace``; the whole call is committed at once or not at all.

    Parameters
    ----------
    workspace : Workspace
        Where the data goes.
    paths : sequence of paths
        Files, or directories (a generic dataset, or a folder of one format's files).
    fmt : str
        A name from :data:`lockstep.readers.registry.FORMATS`, or ``"auto"``.
    platform : str, optional
        Platform of rows that carry none (e.g. a generic file without a platform column).
    skip_bad_rows : bool
        Load the good rows and write the bad ones to ``reports/<ingest>-rejects.csv``
        instead of refusing the file.
    progress : callable, optional
        ``progress(message, done, total)``: ``message`` names the file and stage, ``done``
        out of ``total`` is the share of that stage's DuckDB query finished (polled every
        0.2 s while it runs, so a 10M-row file shows a moving bar).

    Returns
    -------
    IngestReport
        One :class:`FileReport` per file (and table of it).

    Raises
    ------
    BadInputError
        For the first file refused: nothing of this call is loaded, neither that file nor
        the files before or after it (one call is one unit; the workspace is as before).
    Interrupted
        Ctrl-C (a :class:`KeyboardInterrupt` too); nothing of this call is loaded.
    DiskFullError
        The disk filled up; nothing of this call is loaded.
    WorkspaceError
        Another writer kept the workspace locked longer than ``LOCKSTEP_LOCK_TIMEOUT``.
    """
    ingest_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    report = IngestReport(ingest_id)
    sources = [s for p in paths for s in _sources(Path(p), fmt)]
    nothing = ("nothing from this call was loaded" if len(sources) > 1
               else "nothing from this file was loaded")

    def tick(msg: str) -> None:
        if progress:
            progress(msg, 0, 100)

    with write_guard(workspace.path, "ingesting", f"{nothing}; the workspace is unchanged"), \
            workspace.lock():
        stage = workspace.staging_dir()
        con = None
        try:  # the stage is removed on any exit (a leftover one at the next open)
            batch = _Batch(workspace, stage, ingest_id)
            con = duckdb.connect()
            con.execute(f"SET memory_limit = {literal(memory_limit)}; SET TimeZone = 'UTC'; "
                        # staging tables keep record order (rowid gives lines and first
                        # rows); the COPY itself turns it off
                        "SET preserve_insertion_order = true; "
                        # progress is tracked only with the bar enabled; we draw our own
                        "SET enable_progress_bar = true; SET enable_progress_bar_print = false")
            spill.configure_duckdb(con, stage / "tmp")  # its spill bounded by the disk budget
            install_url_functions(con)
            install_transform_functions(con)
            for name, table, path in sources:
                started = time.perf_counter()
                label = f"[{len(report.files) + 1}/{len(sources)}] {path.name}"
                tick(f"{label}: reading")
                try:
                    skipped: dict[str, list[int]] = {}
                    loaded = _load(con, name, table, path, platform, skipped)
                    load_s = time.perf_counter() - started
                    for tbl, columns, parse_rejects, streaming in loaded:
                        with _watch(con, progress, f"{label}: {tbl}"):
                            fr = _store(batch, con, name, tbl, path, columns, parse_rejects,
                                        platform, skip_bad_rows, streaming)
                        fr.skipped, skipped = skipped, {}  # said once per file
                        if fr.skipped:
                            batch.records[-1]["skipped"] = fr.skipped
                        fr.stages = {"load": round(load_s, 3), **fr.stages}
                        fr.seconds = round(time.perf_counter() - started, 3)
                        report.files.append(fr)
                except BadInputError as exc:
                    if len(sources) > 1:
                        raise BadInputError(exc.file, exc.errors, exc.total, exc.hint,
                                            others=len(sources) - 1) from None
                    raise
                except UsageError as exc:
                    if len(sources) > 1:
                        raise UsageError(f"{exc}; nothing from this call was loaded") from None
                    raise
                _reset(con)
            _finish(batch, con, report)
        finally:
            if con is not None:
                con.close()
            shutil.rmtree(stage, ignore_errors=True)
    return report


def _reset(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what one source file left on the connection (staging tables and views, the CSV
    parser's rejects), so the next file starts clean."""
    for kind, name in con.execute(
            "SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND NOT internal "
            "UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary"
    ).fetchall():
        con.execute(f"DROP {kind} IF EXISTS {ident(name)}")


def _finish(batch: _Batch, con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
    """Merge small parts, map the new URLs and commit everything in one manifest write."""
    ws = batch.ws
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.stages[stage] = round(now - clock, 3)
        clock = now

    for table in list(batch.parts):
        batch.compact(con, table)
    lap("compact")
    staged: dict[str, list[Path]] = {t: list(p) for t, p in batch.parts.items() if p}
    if staged.get("events"):
        urls = _new_urls(ws, con, staged["events"], batch.stage / "url_map.parquet")
        if urls:
            staged["url_map"] = [urls]
    lap("urls")
    # each table's files (and the URLs, with the events) go to the first record of that
    # table, as `lockstep upgrade` does: a record stands for one source file
    units: list[tuple[dict[str, list[Path]], dict[str, Any]]] = []
    given: set[str] = set()
    for record in batch.records:
        tables = [record["table"]] + (["url_map"] if record["table"] == "events" else [])
        mine = {t: staged[t] for t in tables if t in staged and t not in given}
        given.update(mine)
        units.append((mine, record))
    leftover = {t: f for t, f in staged.items() if t not in given}
    if leftover:  # cannot happen (every part comes from a record); never drop rows silently
        units.append((leftover, {"ingest_id": batch.ingest_id, "source": None, "table": "*"}))
    if units:
        ws.commit_many(units)
    for tmp, final in batch.rejects:
        final.parent.mkdir(exist_ok=True)
        shutil.move(tmp, final)
    lap("commit")


@contextlib.contextmanager
def _watch(con: duckdb.DuckDBPyConnection, progress: Progress | None, label: str
           ) -> Iterator[None]:
    """Report DuckDB's progress on the running query every 0.2 s (from a side thread)."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            try:
                pct = con.query_progress()
            except duckdb.Error:
                continue
            if pct >= 0:
                progress(label, int(pct), 100)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        progress(label, 100, 100)


def _load(con: duckdb.DuckDBPyConnection, name: str, table: str, path: Path,
          platform: str | None, skipped: dict[str, list[int]] | None = None
          ) -> list[tuple[str, dict[str, str], list[RowError], bool]]:
    """Fill staging tables ``raw_<table>``; return (table, column types, parser rejects,
    streaming) where ``streaming`` means ``raw_<table>`` is a view re-reading the file.
    Records the reader left out on purpose are added to ``skipped`` (reason -> [count,
    first line])."""
    if name == "generic":
        streaming = path.suffix.lower() in (".csv", ".parquet", ".pq")
        cols, rejects = GenericReader().load(con, f"raw_{table}", path, table, streaming=streaming)
        return [(table, _column_types(con, f"raw_{table}"), rejects, streaming)]
    reader = get_reader(name)
    seen: dict[str, bool] = {}
    for chunk in reader.read(path, platform=platform):
        if chunk.table not in TABLES:
            raise UsageError(f"reader {name} produced unknown table {chunk.table!r}")
        if skipped is not None:
            for reason, (n, first) in chunk.skipped.items():
                got = skipped.setdefault(reason, [0, first])
                got[0] += n
                got[1] = min(got[1], first)
        if not chunk.data.num_rows and chunk.table in seen:
            continue
        target = f"raw_{chunk.table}"
        data = chunk.data
        if "_line" not in data.column_names:
            data = data.append_column("_line", pa.nulls(len(data), pa.int64()))
        con.register("chunk_view", data)
        if chunk.table not in seen:
            con.execute(f"CREATE TEMP TABLE {target} AS SELECT * FROM chunk_view")
            seen[chunk.table] = True
        else:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM chunk_view")
        con.unregister("chunk_view")
    if not seen:
        raise BadInputError(str(path), [RowError(str(path), None, f"no rows found for format {name}")])
    return [(t, _column_types(con, f"raw_{t}"), [], False) for t in TABLES if t in seen]


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {n: t for n, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def _store(batch: _Batch, con: duckdb.DuckDBPyConnection, fmt: str, table: str, path: Path,
           columns: dict[str, str], parse_rejects: list[RowError], platform: str | None,
           skip_bad_rows: bool, streaming: bool = False) -> FileReport:
    """Check one table of one source file and stage its new rows in ``batch``."""
    if "platform" not in columns and not platform:
        raise UsageError(f"{path}: the {table} table has no platform column; pass --platform "
                         "(e.g. --platform facebook)")
    fr = FileReport(str(path), table, fmt, "loaded")
    keys = TABLE_KEYS[table]
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        fr.stages[stage] = round(now - clock, 3)
        clock = now

    # a view, not a table: the transform runs once, inside the COPY; the checks below only
    # evaluate the columns they need (DuckDB prunes the rest)
    def make_view() -> None:
        ord_expr = "NULL::BIGINT" if streaming else "rowid"
        con.execute(f"CREATE OR REPLACE TEMP VIEW typed AS "
                    f"{typed_select(table, f'raw_{table}', columns, platform, ord_expr=ord_expr)}")

    def check() -> tuple[int, int, int]:
        make_view()
        return con.execute(  # type: ignore[return-value]
            f"SELECT count(*), count(*) FILTER (_err IS NOT NULL), count(*) FILTER (_err IS NULL)"
            f" - count(DISTINCT CASE WHEN _err IS NULL THEN ({', '.join(keys)}) END) FROM typed"
        ).fetchall()[0]

    stored = [c for c, _ in TABLE_COLUMNS[table] if c != "ingest_id"]  # ingest_id: the directory
    out = batch.new_part(table)

    def copy(where: str = "true", qualify: str = "", guard: bool = False) -> int:
        platform = "t.platform"
        if guard:  # a bad row aborts the COPY instead of being written
            platform += f" || coalesce(CASE WHEN t._err IS NOT NULL THEN error('{_BAD_ROW}') END, '')"
        select = (f"SELECT {', '.join('t.' + c for c in stored)}, {platform} AS platform "
                  f"FROM typed t WHERE {where}{qualify}")
        return _write_parquet(con, select, out)

    written = None
    if streaming:
        make_view()
        written = _optimistic_copy(batch, con, table, path, out, copy)
    if streaming and written is None:
        # not a clean new file: stage it as a table, whose rowid gives lines and first rows
        con.execute(f"DROP VIEW raw_{table}")
        streaming = False
        _, parse_rejects = GenericReader().load(con, f"raw_{table}", path, table)
    if written is not None:
        n_rows, n_bad, dup_in_file = written[0], 0, 0
        lap("write")  # one pass: checked while written
    else:
        n_rows, n_bad, dup_in_file = check()
    fr.rows_read = n_rows + len(parse_rejects)
    fr.rejected = n_bad + len(parse_rejects)
    if fr.rejected:
        limit = None if skip_bad_rows else MAX_REPORTED_ERRORS
        errors = _row_errors(con, fmt, path, parse_rejects, limit)
        fr.errors = [str(e) for e in errors[:MAX_REPORTED_ERRORS]]
        if not skip_bad_rows:
            fr.status = "refused"
            raise BadInputError(str(path), errors[:MAX_REPORTED_ERRORS], total=fr.rejected,
                                hint="; fix those rows or pass --skip-bad-rows")
        fr.rejects_file = str(_write_rejects(batch, path, errors))
    if written is None:
        lap("check")
    key_eq = " AND ".join(f"e.{k} IS NOT DISTINCT FROM t.{k}" for k in keys)
    existing = batch.existing_sql(table)
    # Filter on _err only when there are bad rows: DuckDB pushes the filter below the
    # projection and would evaluate the whole transform twice (measured: 2x slower write).
    where = "t._err IS NULL" if n_bad else "true"
    if existing:
        con.execute(f"CREATE OR REPLACE TEMP VIEW existing AS {existing}")
        where += f" AND NOT EXISTS (SELECT 1 FROM existing e WHERE {key_eq})"
    qualify = (f" QUALIFY row_number() OVER (PARTITION BY {', '.join('t.' + k for k in keys)} "
               "ORDER BY t._ord) = 1") if dup_in_file else ""
    if written is None:
        fr.rows_added = copy(where, qualify)
        lap("write")
    else:
        fr.rows_added = written[1]
    fr.duplicates = fr.rows_read - fr.rejected - fr.rows_added
    if fr.rows_added:
        batch.add(con, table, out)
    else:
        fr.status = "unchanged"
        out.unlink(missing_ok=True)
    batch.records.append({"ingest_id": batch.ingest_id, "source": str(path), "format": fmt,
                          "table": table, "rows_read": fr.rows_read,
                          "rows_added": fr.rows_added, "duplicates": fr.duplicates,
                          "rejected": fr.rejected, "rejects_file": fr.rejects_file})
    con.execute("DROP VIEW typed")
    if existing:
        con.execute("DROP VIEW existing")
    return fr


def _write_parquet(con: duckdb.DuckDBPyConnection, select: str, out: Path) -> int:
    """COPY ``select`` to the Parquet file ``out``; the number of rows written."""
    # One file, its row groups in whatever order the threads finish them: keeping the input's
    # order cost 5 s of CPU on the large world (rows have no meaningful order; first rows and
    # lines come from the staging table's rowid, not from here)
    con.execute("SET preserve_insertion_order = false")
    try:
        return int(con.execute(
            f"COPY ({select}) TO {literal(out)} (FORMAT parquet, "
            # a small dictionary limit: ids and text are nearly unique, and building a
            # dictionary for them only to drop it cost 8% of the write (files no larger)
            "COMPRESSION snappy, ROW_GROUP_SIZE 122880, DICTIONARY_SIZE_LIMIT 4096)"
        ).fetchall()[0][0])
    finally:
        con.execute("SET preserve_insertion_order = true")


def _optimistic_copy(batch: _Batch, con: duckdb.DuckDBPyConnection, table: str, path: Path,
                     out: Path, copy: Callable[..., int]) -> tuple[int, int] | None:
    """Write a CSV or Parquet file in one pass, betting that it is clean; ``(rows read, rows
    added)``, or None if the bet is lost.

    The bet is lost when a row is bad (the guarded COPY aborts), the CSV parser refused a row
    or two rows share a key but differ otherwise (which one is first decides); the caller
    then takes the careful path (staging table, checks, filters). Otherwise the written file
    is filtered: rows repeated whole inside the file (a log that holds a line twice) are kept
    once, and rows whose key is already stored (an export that overlaps an earlier one) are
    dropped (stored: committed, or staged earlier in the same call). A clean ingest, the
    common case, so reads the file once instead of twice.
    """
    try:
        written = copy(guard=True)
    except duckdb.InvalidInputException as exc:
        if not str(exc).startswith(f"Invalid Input Error: {_BAD_ROW}"):
            if path.suffix.lower() == ".csv":  # a hard parser error: one line, no traceback
                raise GenericReader.csv_failure(path, exc) from None
            raise
        written = None
    if written is None or GenericReader().parse_rejects(con, path):
        out.unlink(missing_ok=True)
        return None
    if not written:
        return 0, 0
    keys = ", ".join(TABLE_KEYS[table])
    staged = f"read_parquet({literal(out)})"

    def keep(select: str) -> int:  # rewrite the staged file as ``select`` over it
        new = out.with_name(f"new-{out.name}")
        n = _write_parquet(con, select, new)
        new.replace(out)
        return n

    kept = written
    hashed = _repeats(con, staged, TABLE_KEYS[table])
    if hashed:
        columns = ", ".join(f'"{c}"' for c, _ in TABLE_COLUMNS[table] if c != "ingest_id")
        whole = con.execute(f"SELECT count(DISTINCT ({keys})) = count(DISTINCT ({columns}, "
                            "platform)) FROM _repeats").fetchall()[0][0]
        if not whole:  # a key repeated with other values: which row is first decides
            out.unlink()
            return None
        kept = keep(f"SELECT * FROM {staged} WHERE {hashed} NOT IN (SELECT h FROM _repeat_hashes) "
                    "UNION ALL SELECT DISTINCT * FROM _repeats")
    if batch.has_rows(table):
        existing = f"({batch.existing_sql(table)})"
        # IS NOT DISTINCT FROM: a session with no country equals a stored one with none
        same = " AND ".join(f"s.{k} IS NOT DISTINCT FROM e.{k}" for k in TABLE_KEYS[table])
        stored = con.execute(f"SELECT count(*) FROM {staged} s SEMI JOIN {existing} e "
                             f"ON {same}").fetchall()[0][0]
        if stored == kept:
            out.unlink()
            return written, 0
        if stored:
            kept = keep(f"SELECT * FROM {staged} s ANTI JOIN {existing} e ON {same}")
    return written, kept


def _repeats(con: duckdb.DuckDBPyConnection, source: str, keys: Sequence[str]) -> str | None:
    """Find the rows of ``source`` that share ``keys`` with another row.

    None when there are none. Otherwise the temp table ``_repeats`` holds them (with any rows
    whose keys only share a hash) and ``_repeat_hashes`` their hashes; returns the SQL of
    that hash, for filtering ``source``.

    The 64-bit hashes of the keys are grouped (0.9 s against 1.2 s for an exact distinct count
    on 10M events) and only rows whose hash repeats are compared exactly. The keys are joined
    into one string with separators first: DuckDB's hash of numeric strings is weak (on the
    large world's ids ``hash(event_id)`` had 84 collisions, and combining the hashes of
    ``platform`` and ``event_id`` some too; the joined string none). NULL parts are equal.
    """
    h = "hash(" + " || chr(0) || ".join(f"coalesce({k}::VARCHAR, chr(1))" for k in keys) + ")"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _repeat_hashes AS SELECT h FROM (SELECT {h} AS h "
                f"FROM {source}) GROUP BY h HAVING count(*) > 1")
    if not con.execute("SELECT count(*) FROM _repeat_hashes").fetchall()[0][0]:
        return None
    con.execute(f"CREATE OR REPLACE TEMP TABLE _repeats AS SELECT * FROM {source} "
                f"WHERE {h} IN (SELECT h FROM _repeat_hashes)")
    if con.execute(f"SELECT count(*) = count(DISTINCT ({', '.join(keys)})) FROM _repeats"
                   ).fetchall()[0][0]:
        return None  # only hashes met
    return h


def _new_urls(ws: Workspace, con: duckdb.DuckDBPyConnection, files: list[Path], out: Path
              ) -> Path | None:
    """Write the ``url_map`` rows of the new events' URLs not yet mapped: each distinct URL
    normalised once, its host's registered domain computed once per distinct host."""
    src = (f"SELECT DISTINCT unnest(urls) AS url FROM read_parquet({literal_list(files)}, "
           "union_by_name=true) WHERE urls IS NOT NULL")
    if ws.files("url_map"):
        src = f"SELECT url FROM ({src}) ANTI JOIN ({ws.table_sql('url_map')}) USING (url)"
    table = url_map_table(con, src)
    if not table.num_rows:
        return None
    pq.write_table(table, out, compression="zstd")
    return out


def _row_errors(con: duckdb.DuckDBPyConnection, fmt: str, path: Path,
                parse_rejects: list[RowError], limit: int | None) -> list[RowError]:
    lim = f"LIMIT {limit}" if limit else ""
    rows = con.execute(f"SELECT _ord, _line, _err FROM typed WHERE _err IS NOT NULL "
                       f"ORDER BY _ord {lim}").fetchall()
    if fmt == "generic":
        recs = {e.line for e in parse_rejects if e.line is not None}
        ords, rec_lines = GenericReader().lines_of(path, [r[0] for r in rows], recs)
        errs = [RowError(str(path), ords.get(o), reason) for o, _, reason in rows]
        parse_rejects = [RowError(e.file, rec_lines.get(e.line, e.line) if e.line else None,
                                  e.reason) for e in parse_rejects]
    else:
        errs = [RowError(str(path), line, reason) for _, line, reason in rows]
    merged = sorted(errs + parse_rejects, key=lambda e: (e.line is None, e.line or 0))
    return merged if limit is None else merged[:limit]


def _write_rejects(batch: _Batch, path: Path, errors: list[RowError]) -> Path:
    """Write every rejected row (line, reason; cells a spreadsheet would run neutralised,
    :mod:`lockstep.spreadsheet`) for ``reports/<ingest>-<file>-rejects.csv``:
    staged now, moved there once the call is committed; returns the final path."""
    tmp, out = batch.rejects_path(path)
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "line", "reason"])
        for e in errors:
            # reasons quote the data: a spreadsheet must not run them (lockstep.spreadsheet)
            w.writerow(csv_row([e.file, e.line, e.reason]))
    return out


def write_report(ws: Workspace, report: IngestReport) -> Path:
    """Save ``report`` as ``reports/<ingest>.json`` and return its path."""
    rdir = ws.path / "reports"
    rdir.mkdir(exist_ok=True)
    out = rdir / f"{report.ingest_id}.json"
    out.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return out



