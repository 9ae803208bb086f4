"""Reader for the Lockstep generic format, version 1 (``shared/reference/generic-format.md``).

A dataset is a directory holding ``events`` (required) and optionally ``accounts``,
``sessions``, ``roles`` and ``truth``, each as ``<table>.csv``, ``<table>.parquet`` or
``<table>.jsonl`` (``.ndjson``, ``.json`` lines; ``.csv.gz`` too); or a single events file.

Unlike the platform readers, this one does not yield Arrow chunks through Python: it has
DuckDB load the file straight into a staging table (:meth:`GenericReader.load`), because that
is several times faster on the multi-million-row CSVs platforms export and keeps peak memory
bounded (DuckDB spills to disk). Line numbers for error messages are worked out afterwards,
and only for the rows that are reported.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from lockstep.exceptions import BadInputError, RowError, UsageError
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, GENERIC_COLUMNS, LIST_COLUMNS, REQUIRED_COLUMNS, TABLES, Chunk

__all__ = ["GenericReader", "generic_sources", "table_of"]

_EXTS = {".csv": "csv", ".gz": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
         ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".csv.gz"):
        return "csv"
    return _EXTS.get(path.suffix.lower()) if path.suffix.lower() != ".gz" else None


def table_of(path: Path) -> str | None:
    """The generic table a file holds, from its name (``events.csv`` -> ``events``)."""
    stem = path.name.split(".")[0].lower()
    return stem if stem in TABLES else None


def generic_sources(path: Path) -> list[tuple[str, Path]]:
    """``(table, file)`` pairs of a generic dataset directory or single file, events first."""
    if path.is_dir():
        found = [(table_of(f), f) for f in sorted(path.iterdir())
                 if f.is_file() and _kind(f) and table_of(f)]
        if not any(t == "events" for t, _ in found):
            raise UsageError(f"{path}: a generic dataset directory needs an events file "
                             "(events.csv, events.parquet or events.jsonl)")
        return sorted(((t, f) for t, f in found if t), key=lambda x: TABLES.index(x[0]))
    if _kind(path) is None:
        raise UsageError(f"{path}: unknown file type; generic files are .csv, .parquet or .jsonl")
    return [(table_of(path) or "events", path)]


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class GenericReader:
    """The generic format v1: CSV, Parquet or JSON Lines, one file per table."""

    name = "generic"
    description = "Lockstep generic format v1: events/accounts/sessions/roles/truth as CSV, Parquet or JSON Lines"

    def sniff(self, path: Path) -> bool:
        """A directory with an events file, a file named after a generic table, or a CSV
        whose header has the required events columns (``event_id, account_id, timestamp``)."""
        if path.is_dir():
            return any(table_of(f) == "events" and _kind(f) for f in path.iterdir())
        if _kind(path) is None:
            return False
        if table_of(path) is not None:
            return True
        if _kind(path) == "csv":
            header = _csv_header(path)
            return header is not None and set(REQUIRED_COLUMNS["events"]) <= set(header)
        return False

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Not used: generic files are loaded by DuckDB directly (:meth:`load`)."""
        raise NotImplementedError("GenericReader loads through DuckDB; use load()")

    # -- fast path -----------------------------------------------------------------------
    def load(self, con: duckdb.DuckDBPyConnection, target: str, path: Path, table: str,
             *, streaming: bool = False) -> tuple[set[str], list[RowError]]:
        """Load ``path`` into the DuckDB table ``target`` (all VARCHAR, lists as VARCHAR[]).

        Returns the generic columns present and the rows the CSV parser itself refused
        (wrong number of fields, broken quoting, invalid UTF-8), with their line numbers.
        With ``streaming`` a CSV or Parquet file becomes a view that re-reads the file on each
        scan instead of a table (no ``rowid``; a CSV's parser rejects are known only after a
        scan, see :meth:`parse_rejects`): the fast path for a clean file, which then never
        has to fit in memory or spill.
        """
        kind = _kind(path)
        src = _sql_str(str(path))
        rejects: list[RowError] = []
        if kind == "csv":
            header = _csv_header(path)
            if header is None:
                raise BadInputError(str(path), [RowError(str(path), 1, "empty file or no header row")])
            _check_required(path, table, header)
            types = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in header) + "}"
            try:
                con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
                kind_sql = "VIEW" if streaming else "TABLE"
                con.execute(
                    f"CREATE TEMP {kind_sql} {target} AS SELECT * FROM read_csv({src}, header=true, "
                    f"delim=',', quote='\"', escape='\"', columns={types}, "
                    "store_rejects=true, auto_detect=false, strict_mode=true, "
                    "null_padding=false, parallel=true)")
                rejects = [] if streaming else self.parse_rejects(con, path)
            except duckdb.Error as exc:
                raise BadInputError(str(path), [RowError(str(path), None, _clean(exc))]) from None
            cols = set(header)
        elif kind == "parquet":
            try:
                desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({src})").fetchall()
            except duckdb.Error as exc:
                raise BadInputError(str(path), [RowError(str(path), None, f"not a readable Parquet file ({_clean(exc)})")]) from None
            cols = {name for name, *_ in desc}
            _check_required(path, table, list(cols))
            sel = []
            for name, typ, *_ in desc:
                q = '"' + name.replace('"', '""') + '"'
                if name in LIST_COLUMNS and typ.endswith("[]"):
                    sel.append(f"CAST({q} AS VARCHAR[]) AS {q}")
                else:
                    sel.append(f"CAST({q} AS VARCHAR) AS {q}")
            con.execute(f"CREATE TEMP {'VIEW' if streaming else 'TABLE'} {target} AS "
                        f"SELECT {', '.join(sel)} FROM read_parquet({src})")
        else:  # jsonl
            # DuckDB parses the file; only when it finds a problem does a (slow) Python pass
            # look for the lines to name
            try:
                non_objects, keys_list = con.execute(
                    f"WITH src AS MATERIALIZED (SELECT json, json_type(json) = 'OBJECT' AS obj "
                    f"FROM read_json_objects({src}, format='newline_delimited')) "
                    "SELECT (SELECT count(*) FROM src WHERE NOT obj), (SELECT list(DISTINCT k) "
                    "FROM (SELECT unnest(json_keys(json)) AS k FROM src WHERE obj))").fetchone()
                failure = None
            except duckdb.Error as exc:
                non_objects, keys_list, failure = 0, [], exc
            if non_objects or failure is not None:
                bad = _first_bad_json_lines(path) or [RowError(str(path), None, _clean(failure))]
                raise BadInputError(str(path), bad, hint=" (fix the JSON on those lines)")
            keys = set(keys_list or [])
            _check_required(path, table, list(keys))
            sel = []
            for k in sorted(keys):
                q = '"' + k.replace('"', '""') + '"'
                p = _sql_str("$." + json.dumps(k))
                if k in LIST_COLUMNS:
                    sel.append(
                        f"CASE json_type(json, {p}) WHEN 'ARRAY' THEN "
                        f"CAST(json_extract_string(json, {_sql_str('$.' + json.dumps(k) + '[*]')}) AS VARCHAR[]) "
                        f"ELSE string_split_regex(trim(json_extract_string(json, {p})), '\\s+') END AS {q}")
                else:
                    sel.append(f"json_extract_string(json, {p}) AS {q}")
            con.execute(f"CREATE TEMP TABLE {target} AS SELECT {', '.join(sel)} FROM "
                        f"read_json_objects({src}, format='newline_delimited')")
            cols = keys
        return cols, rejects

    def parse_rejects(self, con: duckdb.DuckDBPyConnection, path: Path) -> list[RowError]:
        """The rows DuckDB's CSV parser refused in the scans so far (record numbers)."""
        try:
            found = con.execute("SELECT DISTINCT line, error_type, error_message FROM reject_errors "
                                "ORDER BY line").fetchall()
        except duckdb.Error:
            return []
        return [RowError(str(path), int(line) if line is not None else None,
                         _reject_reason(etype, msg)) for line, etype, msg in found]

    def lines_of(self, path: Path, ordinals: Iterable[int], rejected_records: set[int]
                 ) -> tuple[dict[int, int], dict[int, int]]:
        """Physical line numbers for loaded rows and for rows the CSV parser refused.

        ``ordinals`` are 0-based positions among the loaded rows; ``rejected_records`` are
        DuckDB's reject "lines", which count records (header = 1) rather than physical lines
        when a quoted field spans lines. Returns ``(ordinal -> line, record -> line)``.
        """
        wanted = set(ordinals)
        kind = _kind(path)
        if kind == "parquet":
            return {o: o + 1 for o in wanted}, {}
        ords: dict[int, int] = {}
        recs: dict[int, int] = {}
        if not wanted and not rejected_records:
            return ords, recs
        if kind == "jsonl":
            ordinal = -1
            with open(path, "rb") as fh:
                for lineno, raw in enumerate(fh, start=1):
                    if not raw.strip():
                        continue
                    ordinal += 1
                    if ordinal in wanted:
                        ords[ordinal] = lineno
                        if len(ords) == len(wanted):
                            break
            return ords, recs
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            next(reader, None)
            start = reader.line_num + 1
            record = 1
            ordinal = -1
            need = len(wanted) + len(rejected_records)
            try:
                for _ in reader:
                    record += 1
                    if record in rejected_records:
                        recs[record] = start
                    else:
                        ordinal += 1
                        if ordinal in wanted:
                            ords[ordinal] = start
                    if len(ords) + len(recs) >= need:
                        break
                    start = reader.line_num + 1
            except csv.Error:
                pass  # a broken tail: whatever was mapped so far stands
        return ords, recs


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _csv_header(path: Path) -> list[str] | None:
    try:
        with _open_text(path) as fh:
            row = next(csv.reader(fh), None)
    except (OSError, csv.Error, EOFError):
        return None
    if not row:
        return None
    row[0] = row[0].lstrip("\ufeff")
    return [c.strip() for c in row]


def _check_required(path: Path, table: str, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in columns]
    if missing:
        expected = ", ".join(GENERIC_COLUMNS[table])
        raise BadInputError(str(path), [RowError(
            str(path), 1, f"missing required column(s) {', '.join(missing)} for the {table} "
            f"table (generic format v1 columns: {expected})")])


def _first_bad_json_lines(path: Path, limit: int = 20) -> list[RowError]:
    bad: list[RowError] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    bad.append(RowError(str(path), lineno, "a line must hold one JSON object"))
            except UnicodeDecodeError:
                bad.append(RowError(str(path), lineno, "not UTF-8; re-encode the file as UTF-8"))
            except ValueError as exc:
                bad.append(RowError(str(path), lineno, f"invalid JSON ({exc.msg}; truncated file?)"))
            if len(bad) >= limit:
                break
    return bad


def _reject_reason(etype: str, msg: str) -> str:
    etype = (etype or "").upper()
    if "UNICODE" in etype or "ENCODING" in etype:
        return "not UTF-8; re-encode the file as UTF-8"
    if "TOO MANY" in etype or "MISSING COLUMNS" in etype:
        return f"wrong number of fields ({msg}); truncated or misquoted row?"
    if "QUOTE" in etype:
        return "unterminated quoted field; truncated file?"
    return f"{etype.lower()}: {msg}"


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\w+ Error: ", "", text)
