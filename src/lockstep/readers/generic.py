"""Reader for the Lockstep generic format, version 1 (``shared/reference/generic-format.md``).

A dataset is a directory holding ``events`` (required) and optionally ``accounts``,
``sessions``, ``roles`` and ``truth``, each as ``<table>.csv``, ``<table>.parquet`` or
``<table>.jsonl`` (``.ndjson``, ``.json`` lines; ``.csv.gz`` too); or a single events file.

Unlike the platform readers, this one does not yield Arrow chunks through Python: it has
DuckDB load the file straight into a staging table (:meth:`GenericReader.load`), because that
is several times faster on the multi-million-row CSVs platforms export and keeps peak memory
bounded (DuckDB spills to disk). Line numbers for error messages are worked out afterwards,
and only for the rows that are reported.

Design choices (one line each):

- A CSV is scanned once in Python before DuckDB reads it (:func:`scan_csv`: ``find`` calls per
  4 MiB block, plus a numpy check where there are CRs; disk speed for LF files, about 0.7 GB/s
  for CRLF): DuckDB silently drops a line longer than its read buffer (a 40 MiB row was
  "loaded, 0 rejected"), so a line over :data:`MAX_RECORD_BYTES` is refused here, by line.
- ``max_line_size`` is :data:`MAX_RECORD_BYTES`, the limit every reader shares; a row spread
  over several lines by a quoted field and over the limit is a parser reject with its line.
- ``strict_mode`` stays on: without it DuckDB loads a quote left open by a truncated file and
  cuts rows with too many fields without a word. Its price is that a line ending unlike the
  first one (CRLF in an LF file, a stray CR from a flipped byte) stops the parser; the scan
  notices mixed endings, and only then a DuckDB pass checks the file and, when it fails, a
  slow scan names the line (refused with ``dos2unix`` as the fix, not rewritten: a copy with
  one style of line ending would double the disk the file needs).
- What a truncated last row can show: cut inside a quoted field, a parser reject (the quote is
  never closed); cut before its last field, too few fields; cut inside its last unquoted field,
  nothing: CSV allows the last line without a line break, so ``...,16238`` may be whole, and
  refusing every file without a final line break would refuse many hand-made files.
- DuckDB logs a short record once per missing column; :meth:`GenericReader.parse_rejects`
  keeps one error per record, so that one bad row counts once.
- A damaged ``.csv.gz`` (a ``zlib.error``, not an ``OSError``) is a one-line refusal.
- A header with a repeated column name (after trimming spaces, and ignoring case, as DuckDB
  does), an empty JSON key or a NUL in a name is refused naming the column, because DuckDB
  would fail with an internal message or merge the two; an unnamed CSV column (a header
  ending in a comma) is named ``unnamed_<position>`` and kept in ``extra``.
- Every path and name that goes into SQL is quoted by :mod:`lockstep.sql`.
"""
from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import duckdb
import numpy as np

from lockstep.exceptions import BadInputError, RowError, UsageError
from lockstep.readers._util import (allow_long_csv_fields, duplicate_column_reason, json_problem,
                                   long_line_reason, size_text)
from lockstep.readers.base import (DEFAULT_CHUNK_ROWS, GENERIC_COLUMNS, LIST_COLUMNS,
                                   MAX_RECORD_BYTES, REQUIRED_COLUMNS, TABLES, Chunk)
from lockstep.sql import ident, literal

__all__ = ["GenericReader", "generic_sources", "table_of", "scan_csv", "file_kind", "csv_header",
           "check_required", "check_names"]

#: Bytes read per step by the line scans; at most MAX_RECORD_BYTES (see :func:`scan_csv`).
_SCAN_BLOCK = 4 << 20

_EXTS = {".csv": "csv", ".gz": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
         ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def file_kind(path: Path) -> str | None:
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
                 if f.is_file() and file_kind(f) and table_of(f)]
        if not any(t == "events" for t, _ in found):
            raise UsageError(f"{path}: a generic dataset directory needs an events file "
                             "(events.csv, events.parquet or events.jsonl)")
        return sorted(((t, f) for t, f in found if t), key=lambda x: TABLES.index(x[0]))
    if file_kind(path) is None:
        raise UsageError(f"{path}: unknown file type; generic files are .csv, .parquet or .jsonl")
    return [(table_of(path) or "events", path)]


def _bad(path: Path, line: int | None, reason: str) -> BadInputError:
    return BadInputError(str(path), [RowError(str(path), line, reason)])


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def scan_csv(path: Path) -> bool:
    """Check every line of a CSV for length; return True when its line endings are mixed.

    Refuses (:class:`BadInputError` with the line) a line longer than
    :data:`MAX_RECORD_BYTES`, which DuckDB would drop without a word once it exceeds its read
    buffer. Lines end at LF, CRLF or CR, as an editor counts them. "Mixed" means the file
    holds more than one style (which is also true of an LF file with CRLF inside quoted
    text, so it only asks for a closer look).

    Cost: a block without a CR (an LF file) takes four ``find``/``rfind`` calls, which stop at
    the first hit (a line longer than the limit must span a block boundary, since blocks are
    no longer than the limit, so only the first and last break of a block matter); a block
    with CRs adds a vectorised check that each CR is followed by an LF and each LF preceded
    by a CR. About 1 ms per 4 MiB block for CRLF files; line numbers are counted only for
    an error.
    """
    limit = MAX_RECORD_BYTES
    pos = 0              # offset of the block in the file
    line_start = 0       # offset where the current line starts
    any_cr = any_lf = bare_lf = False
    crlf = True          # every CR seen is followed by an LF, every LF preceded by a CR
    prev_cr = False      # the previous block ended with a CR
    try:
        with _open_binary(path) as fh:
            while True:
                block = fh.read(_SCAN_BLOCK)
                if not block:
                    break
                lf, cr = block.find(b"\n"), block.find(b"\r")
                first = min(x for x in (lf, cr, len(block)) if x >= 0)
                if pos + first - line_start > limit:
                    raise _bad(path, _line_at(path, line_start), long_line_reason(limit))
                if first < len(block):
                    line_start = pos + max(block.rfind(b"\n"), block.rfind(b"\r")) + 1
                any_lf = any_lf or lf >= 0
                if cr < 0 and not prev_cr:
                    bare_lf = bare_lf or lf >= 0
                else:
                    any_cr = True
                    if crlf:
                        crlf = _all_crlf(block, prev_cr)
                prev_cr = block.endswith(b"\r")
                pos += len(block)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        damaged = " (a damaged .gz file?)" if path.name.lower().endswith(".gz") else ""
        raise _bad(path, None, f"cannot read the file: {exc}{damaged}") from None
    if prev_cr:
        crlf = False  # the file ends with a CR alone
    # LF only or CR only is one style; CRs and LFs together must pair up as CRLF
    return any_cr and any_lf and (bare_lf or not crlf)


def _all_crlf(block: bytes, prev_cr: bool) -> bool:
    """True when, in ``block``, each CR is followed by an LF and each LF preceded by a CR
    (a CR at the very end is checked with the next block; ``prev_cr``: the last one was)."""
    data = np.frombuffer((b"\r" if prev_cr else b"") + block, np.uint8)
    crs, lfs = data == 13, data == 10
    if lfs[0]:
        return False
    return bool(np.array_equal(crs[:-1], lfs[1:]))


def _line_at(path: Path, offset: int) -> int:
    """The line (LF, CRLF or CR ending, 1-based) holding byte ``offset``; for error messages."""
    lines, pos, prev_cr = 1, 0, False
    with _open_binary(path) as fh:
        while pos < offset:
            block = fh.read(min(_SCAN_BLOCK, offset - pos))
            if not block:
                break
            lines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if prev_cr and block.startswith(b"\n"):
                lines -= 1
            prev_cr = block.endswith(b"\r")
            pos += len(block)
    return lines


def _line_ending_problem(path: Path) -> tuple[int, str] | None:
    """The first line whose ending differs from the file's first one outside quotes (the
    lines DuckDB's strict parser stops at); None when there is none. Slow: a Python step
    per quote and line break, run only after DuckDB has refused the file."""
    token = re.compile(rb'"|\r\n|\r|\n')
    names = {b"\n": "LF", b"\r\n": "CRLF", b"\r": "CR"}
    style: bytes | None = None
    in_quotes = False
    line = 1
    carry = b""
    with _open_binary(path) as fh:
        while True:
            block = fh.read(_SCAN_BLOCK)
            data, carry = carry + block, b""
            if block and data.endswith(b"\r"):
                data, carry = data[:-1], b"\r"
            for match in token.finditer(data):
                found = match.group()
                if found == b'"':
                    in_quotes = not in_quotes
                    continue
                if not in_quotes:
                    if style is None:
                        style = found
                    elif found != style:
                        if found == b"\r":
                            return line, ("a carriage return (CR) outside quotes where "
                                          f"lines end with {names[style]}: mixed line endings "
                                          "(or a damaged byte); convert the file to one style, "
                                          "e.g. with dos2unix")
                        return line, (f"the line ends with {names[found]} but the first line "
                                      f"with {names[style]}: mixed line endings; convert the "
                                      "file to one style, e.g. with dos2unix")
                line += 1
            if not block:
                return None


def check_names(path: Path, names: list[str], line: int | None = 1,
                 what: str = "column") -> None:
    """Refuse a NUL in a name, an empty name, or two names DuckDB cannot tell apart (its
    names are case-insensitive: ``text`` and ``Text`` are one column there)."""
    problem = _name_problem(names, what)
    if problem is not None:
        raise _bad(path, line, problem[0])


def _name_problem(names: list[str], what: str) -> tuple[str, set[str]] | None:
    """``(reason, names at fault)`` for the first unusable name of ``names``, or None."""
    seen: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(names):
        if "\x00" in name:
            return f"{what} {name!r} has a NUL character in its name", {name}
        if not name:
            return f"a {what} has an empty name; name it or remove it", {name}
        folded = name.casefold()
        if folded in seen:
            first, other = seen[folded]
            if other == name:
                return duplicate_column_reason(name, first, position), {name}
            return (f"{what}s {other!r} and {name!r} differ only in case, and DuckDB, which "
                    "stores them, would take them for one; rename one"), {name, other}
        seen[folded] = (position, name)
    return None


def _first_line_with_key(path: Path, keys: set[str]) -> int | None:
    """The line of a JSON Lines file by which every one of ``keys`` has appeared (where two
    keys that clash first meet; error path only)."""
    first: dict[str, int] = {}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                for key in keys & value.keys():
                    first.setdefault(key, number)
                if len(first) == len(keys):
                    return max(first.values())
    return None


def _name_unnamed(names: list[str]) -> list[str]:
    """Name each unnamed CSV column ``unnamed_<position>`` (a header ending in a comma, as
    spreadsheets write it): its values are kept in ``extra`` like any other extra column."""
    taken = {n.casefold() for n in names}
    out = []
    for position, name in enumerate(names, 1):
        if not name:
            name = f"unnamed_{position}"
            while name.casefold() in taken:
                name += "_"
            taken.add(name.casefold())
        out.append(name)
    return out


class GenericReader:
    """The generic format v1: CSV, Parquet or JSON Lines, one file per table."""

    name = "generic"
    description = "Lockstep generic format v1: events/accounts/sessions/roles/truth as CSV, Parquet or JSON Lines"

    def sniff(self, path: Path) -> bool:
        """A directory with an events file, a file named after a generic table, or a CSV
        whose header has the required events columns (``event_id, account_id, timestamp``)."""
        if path.is_dir():
            return any(table_of(f) == "events" and file_kind(f) for f in path.iterdir())
        if file_kind(path) is None:
            return False
        if table_of(path) is not None:
            return True
        if file_kind(path) == "csv":
            header = csv_header(path)
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
        kind = file_kind(path)
        src = literal(path)
        rejects: list[RowError] = []
        if kind == "csv":
            mixed = scan_csv(path)  # first: a giant line must not reach the parsers
            header = csv_header(path)
            if header is None:
                raise BadInputError(str(path), [RowError(str(path), 1, "empty file or no header row")])
            check_names(path, header)
            check_required(path, table, header)
            types = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
            read = (f"read_csv({src}, header=true, delim=',', quote='\"', escape='\"', "
                    f"columns={types}, store_rejects=true, auto_detect=false, strict_mode=true, "
                    f"null_padding=false, parallel=true, max_line_size={MAX_RECORD_BYTES})")
            try:
                if mixed:  # mixed line endings may stop the parser: find out now, not mid-COPY
                    con.execute(f"SELECT count(*) FROM {read}").fetchall()
                con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
                kind_sql = "VIEW" if streaming else "TABLE"
                con.execute(f"CREATE TEMP {kind_sql} {ident(target)} AS SELECT * FROM {read}")
                rejects = [] if streaming else self.parse_rejects(con, path)
            except duckdb.Error as exc:
                raise self.csv_failure(path, exc) from None
            cols = set(header)
        elif kind == "parquet":
            try:
                desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({src})").fetchall()
            except duckdb.Error as exc:
                raise BadInputError(str(path), [RowError(str(path), None, f"not a readable Parquet file ({_clean(exc)})")]) from None
            check_names(path, [name for name, *_ in desc], None)
            cols = {name for name, *_ in desc}
            check_required(path, table, list(cols))
            sel = []
            for name, typ, *_ in desc:
                q = ident(name)
                if name in LIST_COLUMNS and typ.endswith("[]"):
                    sel.append(f"CAST({q} AS VARCHAR[]) AS {q}")
                else:
                    sel.append(f"CAST({q} AS VARCHAR) AS {q}")
            con.execute(f"CREATE TEMP {'VIEW' if streaming else 'TABLE'} {ident(target)} AS "
                        f"SELECT {', '.join(sel)} FROM read_parquet({src})")
        else:  # jsonl
            # DuckDB parses the file; only when it finds a problem does a (slow) Python pass
            # look for the lines to name
            objects = (f"read_json_objects({src}, format='newline_delimited', "
                       f"maximum_object_size={MAX_RECORD_BYTES})")
            try:
                non_objects, keys_list = con.execute(
                    f"WITH src AS MATERIALIZED (SELECT json, json_type(json) = 'OBJECT' AS obj "
                    f"FROM {objects}) "
                    "SELECT (SELECT count(*) FROM src WHERE NOT obj), (SELECT list(DISTINCT k) "
                    "FROM (SELECT unnest(json_keys(json)) AS k FROM src WHERE obj))").fetchone()
                failure = None
            except duckdb.Error as exc:
                non_objects, keys_list, failure = 0, [], exc
            if non_objects or failure is not None:
                bad = _first_bad_json_lines(path) or [RowError(str(path), None, _clean(failure))]
                raise BadInputError(str(path), bad, hint=" (fix the JSON on those lines)")
            keys = set(keys_list or [])
            problem = _name_problem(sorted(keys), "key")
            if problem is not None:
                raise _bad(path, _first_line_with_key(path, problem[1]), problem[0])
            check_required(path, table, list(keys))
            sel = []
            for k in sorted(keys):
                q = ident(k)
                p = literal("$." + json.dumps(k))
                if k in LIST_COLUMNS:
                    sel.append(
                        f"CASE json_type(json, {p}) WHEN 'ARRAY' THEN "
                        f"CAST(json_extract_string(json, {literal('$.' + json.dumps(k) + '[*]')}) AS VARCHAR[]) "
                        f"ELSE string_split_regex(trim(json_extract_string(json, {p})), '\\s+') END AS {q}")
                else:
                    sel.append(f"json_extract_string(json, {p}) AS {q}")
            con.execute(f"CREATE TEMP TABLE {ident(target)} AS SELECT {', '.join(sel)} FROM "
                        f"{objects}")
            cols = keys
        return cols, rejects

    @staticmethod
    def csv_failure(path: Path, exc: duckdb.Error) -> BadInputError:
        """The one-line refusal for a CSV DuckDB could not parse at all, with the line when
        it is a line-ending problem (DuckDB does not say where it stopped)."""
        if "state machine" in str(exc):
            found = _line_ending_problem(path)
            if found is not None:
                return _bad(path, *found)
            return _bad(path, None, "DuckDB's CSV parser stopped (a stray carriage return or "
                                    "quote?); check the line endings and quoting")
        return _bad(path, None, _clean(exc))

    def parse_rejects(self, con: duckdb.DuckDBPyConnection, path: Path) -> list[RowError]:
        """The rows DuckDB's CSV parser refused in the scans so far (record numbers), one
        error per record: DuckDB logs a short record once per missing column ("Found: 1",
        "Found: 2", ...), which would count one bad row many times; the first is kept."""
        try:
            found = con.execute("SELECT DISTINCT line, error_type, error_message FROM reject_errors "
                                "ORDER BY line").fetchall()
        except duckdb.Error:
            return []
        first: dict[int | None, tuple[str, str]] = {}
        unnumbered: list[RowError] = []
        for line, etype, msg in sorted(found, key=lambda f: (f[0] is None, f[0] or 0,
                                                            _found_columns(f[2]), f[1], f[2])):
            if line is None:
                unnumbered.append(RowError(str(path), None, _reject_reason(etype, msg)))
            else:
                first.setdefault(int(line), (etype, msg))
        return [RowError(str(path), line, _reject_reason(etype, msg))
                for line, (etype, msg) in first.items()] + unnumbered

    def lines_of(self, path: Path, ordinals: Iterable[int], rejected_records: set[int]
                 ) -> tuple[dict[int, int], dict[int, int]]:
        """Physical line numbers for loaded rows and for rows the CSV parser refused.

        ``ordinals`` are 0-based positions among the loaded rows; ``rejected_records`` are
        DuckDB's reject "lines", which count records (header = 1) rather than physical lines
        when a quoted field spans lines. Returns ``(ordinal -> line, record -> line)``.
        """
        wanted = set(ordinals)
        kind = file_kind(path)
        if kind == "parquet":
            return {o: o + 1 for o in wanted}, {}
        ords: dict[int, int] = {}
        recs: dict[int, int] = {}
        if not wanted and not rejected_records:
            return ords, recs
        allow_long_csv_fields()
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
            except (csv.Error, OSError, EOFError, zlib.error):
                pass  # a broken tail: whatever was mapped so far stands
        return ords, recs


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def csv_header(path: Path) -> list[str] | None:
    allow_long_csv_fields()
    try:
        with _open_text(path) as fh:
            row = next(csv.reader(fh), None)
    except (OSError, csv.Error, EOFError, zlib.error):
        return None
    if not row:
        return None
    row[0] = row[0].lstrip("\ufeff")
    return _name_unnamed([c.strip() for c in row])


def check_required(path: Path, table: str, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in columns]
    if missing:
        expected = ", ".join(GENERIC_COLUMNS[table])
        raise BadInputError(str(path), [RowError(
            str(path), 1, f"missing required column(s) {', '.join(missing)} for the {table} "
            f"table (generic format v1 columns: {expected})")])


def _first_bad_json_lines(path: Path, limit: int = 20) -> list[RowError]:
    bad: list[RowError] = []
    lineno = 0
    with open(path, "rb") as fh:
        while len(bad) < limit:
            raw = fh.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                bad.append(RowError(str(path), lineno, long_line_reason()))
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = fh.readline(_SCAN_BLOCK)
                continue
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(RowError(str(path), lineno, "not UTF-8; re-encode the file as UTF-8"))
                continue
            problem = json_problem(text.lstrip("\ufeff") if lineno == 1 else text)
            if problem is None and not text.strip().startswith("{"):
                problem = "a line must hold one JSON object"
            if problem is not None:
                bad.append(RowError(str(path), lineno, problem))
    return bad


def _found_columns(message: str | None) -> int:
    """The "Found: N" of a DuckDB field-count reject (0 when there is none)."""
    match = re.search(r"Found: (\d+)", message or "")
    return int(match.group(1)) if match else 0


def _reject_reason(etype: str, msg: str) -> str:
    etype = (etype or "").upper()
    if "UNICODE" in etype or "ENCODING" in etype:
        return "not UTF-8; re-encode the file as UTF-8"
    if "TOO MANY" in etype or "MISSING COLUMNS" in etype:
        return f"wrong number of fields ({msg}); truncated or misquoted row?"
    if "QUOTE" in etype:
        return ("a quoted field is not closed properly (a stray \" inside it, or a file "
                "truncated inside a quoted field)")
    if "LINE SIZE" in etype:
        return (f"the row is longer than {size_text(MAX_RECORD_BYTES)}, the limit for one "
                "record (an unclosed quote?)")
    return f"{etype.lower()}: {msg}"


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\w+ Error: ", "", text)
