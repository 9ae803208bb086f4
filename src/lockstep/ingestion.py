"""Ingest: read files in any supported format into a workspace, whole or not at all.

(This module is `ingestion`, not `ingest`, so that `lockstep.ingest` stays the function.)

For each source file: load it into a DuckDB staging table (the generic format through DuckDB's
own readers, the platform formats through their readers' Arrow chunks), type and validate it
with :func:`~lockstep.readers.transform.typed_select`, refuse it (default) or set its bad rows
aside (``skip_bad_rows``), drop rows whose key is already stored or repeated in the file, write
Parquet into ``.staging/`` and commit it with :meth:`Workspace.commit`.
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

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lockstep.exceptions import BadInputError, RowError, UsageError
from lockstep.readers.base import TABLES
from lockstep.readers.generic import GenericReader, generic_sources
from lockstep.readers.registry import detect_format, get_reader
from lockstep.readers.transform import install_transform_functions, typed_select
from lockstep.schema import TABLE_COLUMNS, TABLE_KEYS
from lockstep.urls import install_url_functions, url_map_table
from lockstep.workspace import Workspace

__all__ = ["ingest", "write_report", "FileReport", "IngestReport", "MAX_REPORTED_ERRORS"]

MAX_REPORTED_ERRORS = 20
_BAD_ROW = "lockstep: bad row"  # message of the guard that aborts an optimistic COPY
Progress = Callable[[str, int, int], None]


@dataclass
class FileReport:
    """What happened to one source file."""

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
    #: seconds per stage: load, check, write, urls, commit
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class IngestReport:
    """The outcome of one :func:`ingest` call; ``files`` in the order they were read."""

    ingest_id: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def rows_added(self) -> int:
        return sum(f.rows_added for f in self.files)

    def to_dict(self) -> dict[str, object]:
        return {"ingest_id": self.ingest_id, "files": [asdict(f) for f in self.files]}


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


def ingest(workspace: Workspace, paths: Sequence[str | Path], *, fmt: str = "auto",
           platform: str | None = None, skip_bad_rows: bool = False,
           progress: Progress | None = None, memory_limit: str = "1GB") -> IngestReport:
    """Read ``paths`` into ``workspace``; each file is committed whole or not at all.

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
        One :class:`FileReport` per file. Raises :class:`BadInputError` for the first file
        refused (files before it stay loaded; nothing of it is).
    """
    ingest_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    report = IngestReport(ingest_id)
    sources = [s for p in paths for s in _sources(Path(p), fmt)]
    def tick(msg: str) -> None:
        if progress:
            progress(msg, 0, 100)

    with workspace.lock():
        for name, table, path in sources:
            stage = workspace.staging_dir()
            con = duckdb.connect()
            try:
                con.execute(f"SET memory_limit = '{memory_limit}'; SET TimeZone = 'UTC'; "
                            f"SET temp_directory = '{(stage / 'tmp').as_posix()}'; "
                            # staging tables keep record order (rowid gives lines and
                            # first rows); the COPY itself turns it off
                            "SET preserve_insertion_order = true; "
                            # progress is tracked only with the bar enabled; we draw our own
                            "SET enable_progress_bar = true; SET enable_progress_bar_print = false")
                install_url_functions(con)
                install_transform_functions(con)
                started = time.perf_counter()
                label = f"[{len(report.files) + 1}/{len(sources)}] {path.name}"
                tick(f"{label}: reading")
                loaded = _load(con, name, table, path, platform)
                load_s = time.perf_counter() - started
                for tbl, columns, parse_rejects, streaming in loaded:
                    with _watch(con, progress, f"{label}: {tbl}"):
                        fr = _store(workspace, con, stage, ingest_id, name, tbl, path, columns,
                                    parse_rejects, platform, skip_bad_rows, streaming)
                    fr.stages = {"load": round(load_s, 3), **fr.stages}
                    fr.seconds = round(time.perf_counter() - started, 3)
                    report.files.append(fr)
            finally:
                con.close()
                shutil.rmtree(stage, ignore_errors=True)
    return report


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
          platform: str | None) -> list[tuple[str, dict[str, str], list[RowError], bool]]:
    """Fill staging tables ``raw_<table>``; return (table, column types, parser rejects,
    streaming) where ``streaming`` means ``raw_<table>`` is a view re-reading the file."""
    if name == "generic":
        streaming = path.suffix.lower() in (".csv", ".parquet", ".pq")
        cols, rejects = GenericReader().load(con, f"raw_{table}", path, table, streaming=streaming)
        return [(table, _column_types(con, f"raw_{table}"), rejects, streaming)]
    reader = get_reader(name)
    seen: dict[str, bool] = {}
    for chunk in reader.read(path, platform=platform):
        if chunk.table not in TABLES:
            raise UsageError(f"reader {name} produced unknown table {chunk.table!r}")
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


def _store(ws: Workspace, con: duckdb.DuckDBPyConnection, stage: Path, ingest_id: str,
           fmt: str, table: str, path: Path, columns: dict[str, str],
           parse_rejects: list[RowError], platform: str | None, skip_bad_rows: bool,
           streaming: bool = False) -> FileReport:
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
    out = stage / f"{table}.parquet"

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
        written = _optimistic_copy(ws, con, table, path, out, copy)
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
        fr.rejects_file = str(_write_rejects(ws, ingest_id, path, table, con, errors))
    if written is None:
        lap("check")
    key_eq = " AND ".join(f"e.{k} IS NOT DISTINCT FROM t.{k}" for k in keys)
    existing = ws.table_sql(table) if ws.files(table) else None
    # Filter on _err only when there are bad rows: DuckDB pushes the filter below the
    # projection and would evaluate the whole transform twice (measured: 2x slower write).
    where = "t._err IS NULL" if n_bad else "true"
    if existing:
        con.execute(f"CREATE OR REPLACE TEMP VIEW existing AS SELECT {', '.join(keys)} FROM ({existing})")
        where += f" AND NOT EXISTS (SELECT 1 FROM existing e WHERE {key_eq})"
    qualify = (f" QUALIFY row_number() OVER (PARTITION BY {', '.join('t.' + k for k in keys)} "
               "ORDER BY t._ord) = 1") if dup_in_file else ""
    if written is None:
        fr.rows_added = copy(where, qualify)
        lap("write")
    else:
        fr.rows_added = written[1]
    fr.duplicates = fr.rows_read - fr.rejected - fr.rows_added
    staged: dict[str, list[Path]] = {table: [out] if fr.rows_added else []}
    if table == "events" and staged[table]:
        urls = _new_urls(ws, con, staged[table], stage / "url_map.parquet")
        if urls:
            staged["url_map"] = [urls]
    lap("urls")
    if not fr.rows_added:
        fr.status = "unchanged"
    record = {"ingest_id": ingest_id, "source": str(path), "format": fmt, "table": table,
              "rows_read": fr.rows_read, "rows_added": fr.rows_added,
              "duplicates": fr.duplicates, "rejected": fr.rejected,
              "rejects_file": fr.rejects_file}
    ws.commit(staged, record)
    lap("commit")
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
            f"COPY ({select}) TO '{out.as_posix()}' (FORMAT parquet, "
            # a small dictionary limit: ids and text are nearly unique, and building a
            # dictionary for them only to drop it cost 8% of the write (files no larger)
            "COMPRESSION snappy, ROW_GROUP_SIZE 122880, DICTIONARY_SIZE_LIMIT 4096)"
        ).fetchall()[0][0])
    finally:
        con.execute("SET preserve_insertion_order = true")


def _optimistic_copy(ws: Workspace, con: duckdb.DuckDBPyConnection, table: str, path: Path,
                     out: Path, copy: Callable[..., int]) -> tuple[int, int] | None:
    """Write a CSV or Parquet file in one pass, betting that it is clean; ``(rows read, rows
    added)``, or None if the bet is lost.

    The bet is lost when a row is bad (the guarded COPY aborts), the CSV parser refused a row
    or two rows share a key but differ otherwise (which one is first decides); the caller
    then takes the careful path (staging table, checks, filters). Otherwise the written file
    is filtered: rows repeated whole inside the file (a log that holds a line twice) are kept
    once, and rows whose key is already stored (an export that overlaps an earlier one) are
    dropped. A clean ingest, the common case, so reads the file once instead of twice.
    """
    try:
        written = copy(guard=True)
    except duckdb.InvalidInputException as exc:
        if not str(exc).startswith(f"Invalid Input Error: {_BAD_ROW}"):
            raise
        written = None
    if written is None or GenericReader().parse_rejects(con, path):
        out.unlink(missing_ok=True)
        return None
    if not written:
        return 0, 0
    keys = ", ".join(TABLE_KEYS[table])
    staged = f"read_parquet('{out.as_posix()}')"

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
    if ws.files(table):
        existing = f"({ws.table_sql(table)})"
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
    listing = ", ".join(_lit(str(f)) for f in files)
    src = (f"SELECT DISTINCT unnest(urls) AS url FROM read_parquet([{listing}]) "
           "WHERE urls IS NOT NULL")
    if ws.files("url_map"):
        src = f"SELECT url FROM ({src}) ANTI JOIN ({ws.table_sql('url_map')}) USING (url)"
    table = url_map_table(con, src)
    if not table.num_rows:
        return None
    pq.write_table(table, out, compression="zstd")
    return out


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


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


def _write_rejects(ws: Workspace, ingest_id: str, path: Path, table: str,
                   con: duckdb.DuckDBPyConnection, errors: list[RowError]) -> Path:
    """Write every rejected row (line, reason) to ``reports/<ingest>-<file>-rejects.csv``."""
    rdir = ws.path / "reports"
    rdir.mkdir(exist_ok=True)
    out = rdir / f"{ingest_id}-{path.name}-rejects.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "line", "reason"])
        for e in errors:
            w.writerow([e.file, e.line if e.line is not None else "", e.reason])
    return out


def write_report(ws: Workspace, report: IngestReport) -> Path:
    """Save ``report`` as ``reports/<ingest>.json`` and return its path."""
    rdir = ws.path / "reports"
    rdir.mkdir(exist_ok=True)
    out = rdir / f"{report.ingest_id}.json"
    out.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return out



