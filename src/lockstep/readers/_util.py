"""Helpers shared by the format readers, so that no reader repeats another.

Reading text line by line while checking UTF-8 (and naming the bad line), CSV headers and rows
with line numbers, list-like strings (``[a, b]``, ``['a', 'b']``), and row dictionaries turned
into :class:`~lockstep.readers.base.Chunk` objects with the contract's column types (strings,
``list<string>`` for multi-valued columns, ``int64`` for ``_line``). Nothing here parses
timestamps into types or normalises values: that is the pipeline's job.

Design choices (one line each):

- Lines are read with a bounded ``readline`` (:data:`MAX_RECORD_BYTES`), so a file without line
  breaks (or a run of NUL bytes after a crash) is refused by line number, never read whole.
- CSV is parsed with ``strict=True``: a quote left open at the end of the file (a truncated
  file) or text after a closing quote is refused, as DuckDB's strict parser does for the
  generic format; a lax parse would load the shortened value.
- ``csv.field_size_limit`` is raised to :data:`MAX_RECORD_BYTES` (it is process-wide and only
  ever raised), so that platform CSVs and the generic reader accept the same field sizes.
- A repeated column name is refused: which of the two columns a reader used would be a guess.
- JSON is decoded strictly: ``NaN``/``Infinity`` (not JSON) and numbers beyond a double (``1e400``)
  would become ``nan``/``inf`` and make different ids collide, and a lone UTF-16 surrogate
  (``"\\ud800"``) cannot be stored as UTF-8; such a record becomes a :class:`BadRecord`
  (one bad row with its line), while text that is not JSON at all refuses the file.
- :class:`ChunkBuilder` checks text only when Arrow refuses it (a lone surrogate from any
  source), so the common path pays nothing and a bad value becomes an ``_error`` row.
- Records left out on purpose are counted by :class:`SkipCounter` and put on the chunks by
  :func:`with_skips`, which holds each chunk back by one so the last carries the tail's counts.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from lockstep.exceptions import BadInputError, RowError
from lockstep.readers.base import (DEFAULT_CHUNK_ROWS, GENERIC_COLUMNS, LIST_COLUMNS,
                                   MAX_RECORD_BYTES, Chunk)

__all__ = ["REENCODE_HINT", "bad_input", "iter_text_lines", "read_head", "sniff_csv_header",
           "sniff_first_json", "CsvFile", "iter_json_lines", "parse_list_like", "dedup",
           "clean_int", "bool_str", "unix_us_to_iso", "conform", "ChunkBuilder", "BadRecord",
           "parse_json_record", "json_problem", "STRICT_JSON", "LONE_SURROGATE", "SkipCounter",
           "with_skips", "size_text", "long_line_reason", "allow_long_csv_fields"]

#: What to tell a user whose file is not UTF-8.
REENCODE_HINT = ("re-encode the file as UTF-8, e.g. "
                 "`iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv`")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def size_text(n: int) -> str:
    """``16777216`` -> ``"16 MiB"`` (one decimal when not whole)."""
    mib = n / 2**20
    return f"{mib:.0f} MiB" if mib == int(mib) else f"{mib:.1f} MiB"


def long_line_reason(limit: int = MAX_RECORD_BYTES) -> str:
    """Why a line over ``limit`` bytes is refused (one sentence, the same in every reader)."""
    return (f"the line is longer than {size_text(limit)}, the limit for one record (a corrupt "
            "file, or a file without line breaks?)")


def allow_long_csv_fields() -> None:
    """Let Python's :mod:`csv` read fields up to :data:`MAX_RECORD_BYTES` (default 128 KiB)."""
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)


allow_long_csv_fields()


def bad_input(path: Path | str, line: int | None, reason: str) -> BadInputError:
    """Return the :class:`BadInputError` refusing ``path`` for one problem at ``line``."""
    name = str(path)
    return BadInputError(name, [RowError(name, line, reason)])


def iter_text_lines(path: Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file, line endings kept, without a leading BOM.

    The file is read in binary and decoded line by line, so memory stays bounded and an
    invalid byte is reported with its line number.

    Raises
    ------
    BadInputError
        On the first line that is not valid UTF-8 or longer than :data:`MAX_RECORD_BYTES`
        (read no further than the limit), or when the file cannot be opened.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator-owned
    except OSError as exc:
        raise bad_input(path, None, f"cannot open the file: {exc.strerror}") from None
    try:
        number = 0
        while True:
            raw = fh.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                break
            number += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                raise bad_input(path, number, long_line_reason())
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 4]
                raise bad_input(path, number, f"invalid UTF-8 (bytes {bad!r} at byte "
                                f"{exc.start + 1} of the line); {REENCODE_HINT}") from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text
    finally:
        fh.close()


def read_head(path: Path, size: int = 65536) -> str | None:
    """Return the first ``size`` bytes of ``path`` as text (lenient), or None if unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
    except OSError:
        return None
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def sniff_csv_header(path: Path) -> list[str] | None:
    """Return the stripped column names of a CSV file's first row, or None; never raises."""
    head = read_head(path)
    if not head or "\x00" in head:
        return None
    try:
        first = next(csv.reader(io.StringIO(head)), None)
    except csv.Error:
        return None
    if not first:
        return None
    return [name.strip() for name in first]


def sniff_first_json(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> dict[str, Any] | None:
    """Return the first non-blank line of a JSON Lines file parsed as an object, or None."""
    try:
        with open(path, "rb") as fh:
            for _ in range(5):
                raw = fh.readline(max_bytes)
                if not raw:
                    return None
                if raw.strip():
                    obj = json.loads(raw.decode("utf-8").lstrip("\ufeff"))
                    return obj if isinstance(obj, dict) else None
    except (OSError, ValueError, RecursionError):  # Unicode/JSONDecodeError are ValueErrors
        return None
    return None


class CsvFile:
    """A CSV file opened for streaming: its header, then rows with their line numbers.

    The file must be UTF-8 (a BOM is allowed); the header is line 1.

    Attributes
    ----------
    header : list of str
        Column names, stripped of surrounding whitespace.
    index : dict of str to int
        Position of each column name (the first one where a name repeats).

    Notes
    -----
    Raises :class:`BadInputError` for an empty file, invalid UTF-8, a CSV syntax error (a quote
    never closed, text after a closing quote, a stray carriage return), a line or field over
    :data:`MAX_RECORD_BYTES`, or a column name that appears twice in the header.

    What a truncated file looks like, and what can be told: a last row cut inside a quoted
    field is refused (the quote is never closed); a last row cut before its last field has too
    few fields and :meth:`rows` reports it; a last row cut inside its last, unquoted field
    cannot be told from a complete row, because CSV (RFC 4180) allows the last line to end
    without a line break, so ``...,16238`` may be a whole value or the start of ``1623881091``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = csv.reader(iter_text_lines(path), strict=True)
        self._last = 0
        header: list[str] = []
        while not header:
            row = self._next()
            if row is None:
                raise bad_input(path, None, "empty file: expected a CSV header row")
            header = [name.strip() for name in row] if any(f.strip() for f in row) else []
        self.header = header
        self.header_line = self._last
        self.index: dict[str, int] = {}
        for position, name in enumerate(header):
            first = self.index.setdefault(name, position)
            if first != position and name:
                raise bad_input(path, self.header_line, duplicate_column_reason(name, first,
                                                                                position))

    def _next(self) -> list[str] | None:
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            line, reason = csv_error_reason(str(exc), self._last + 1, self._reader.line_num)
            raise bad_input(self.path, line, reason) from None
        self._start = self._last + 1
        self._last = self._reader.line_num
        return row

    def require(self, *names: str) -> None:
        """Raise :class:`BadInputError` naming the first of ``names`` not in the header."""
        for name in names:
            if name not in self.index:
                shown = ", ".join(self.header[:12]) + (", ..." if len(self.header) > 12 else "")
                raise bad_input(self.path, self.header_line,
                                f"missing required column {name!r} (the header has: {shown})")

    def rows(self) -> Iterator[tuple[int, list[str], str | None]]:
        """Yield ``(line, fields, error)`` for each data row; blank lines are skipped.

        ``line`` is the row's first line. ``fields`` always has as many values as the header
        (padded with ``""`` or cut); ``error`` says so when the row's field count was wrong.
        """
        width = len(self.header)
        while True:
            row = self._next()
            if row is None:
                return
            if not row:
                continue
            if len(row) == width:
                yield self._start, row, None
            elif len(row) == 1 and not row[0].strip():
                continue
            else:
                error = f"row has {len(row)} fields, the header has {width}"
                yield self._start, (row + [""] * width)[:width], error


def duplicate_column_reason(name: str, first: int, second: int) -> str:
    """The message for a column name that appears twice in a header (0-based positions)."""
    return (f"column {name!r} appears twice in the header (columns {first + 1} and "
            f"{second + 1}); rename or remove one")


def csv_error_reason(message: str, start: int, line: int) -> tuple[int, str]:
    """``(line, reason)`` for a :class:`csv.Error` raised in a record that began at ``start``
    and was read up to ``line``: Python's messages, said in terms of the file."""
    if "field larger than field limit" in message:
        return line, (f"a field is longer than {size_text(MAX_RECORD_BYTES)}, the limit for "
                      "one record (an unclosed quote?)")
    if "unexpected end of data" in message:
        return start, ("a quoted field opened here is never closed before the end of the file "
                       "(a truncated file, or a stray \")")
    if "expected after" in message:
        return line, "text after the closing quote of a quoted field (a stray \" inside it?)"
    if "new-line character seen in unquoted field" in message:
        return line, ("a carriage return (CR) inside the line: the file mixes line endings "
                      "(CR, LF, CRLF); convert it to one style, e.g. with dos2unix")
    return line, f"unreadable CSV: {message}"


class BadRecord:
    """A record that is valid syntax but cannot be used: the reader makes it an ``_error`` row.

    Attributes
    ----------
    reason : str
        Why, e.g. ``"NaN is not a JSON number"``.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"BadRecord({self.reason!r})"


class _NotJson(ValueError):
    """A value Python's :mod:`json` would accept but JSON does not (NaN, 1e400)."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number (NaN and Infinity are not JSON)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:40]} is out of range (beyond a 64-bit float)")
    return value


#: A JSON decoder that refuses NaN, Infinity and numbers beyond a double.
STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
#: A JSON ``\uD8xx`` escape not followed by a low one, or a low one not preceded by a high
#: one; a cheap filter (an escaped backslash can fool it), confirmed on the parsed value.
LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE_REASON = ("a string holds a lone UTF-16 surrogate (such as \\ud800), which is not "
                     "valid Unicode")
_DEEP_REASON = "the JSON is nested too deeply to read (over about 900 levels)"


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):  # pragma: no cover - parsed values always dump
        return False
    return False


def parse_json_record(text: str, start: int = 0, decoder: json.JSONDecoder = STRICT_JSON
                      ) -> tuple[Any, int]:
    """Decode the JSON value at ``text[start:]``: ``(value, end)``.

    ``value`` is a :class:`BadRecord` for a value that is JSON-like but unusable (NaN,
    Infinity, 1e400, a lone surrogate, nesting too deep). Text that is not JSON raises
    :class:`json.JSONDecodeError`.
    """
    try:
        value, end = decoder.raw_decode(text, start)
    except _NotJson as exc:
        # the rest of the value is still skipped with a lenient parse, to find its end
        try:
            _, end = json.JSONDecoder().raw_decode(text, start)
        except RecursionError:
            return BadRecord(_DEEP_REASON), len(text)
        return BadRecord(str(exc)), end
    except RecursionError:
        end = _end_of_deep_value(text, start)
        return BadRecord(_DEEP_REASON), end
    if LONE_SURROGATE.search(text, start, end) and _has_lone_surrogate(value):
        return BadRecord(_SURROGATE_REASON), end
    return value, end


def _end_of_deep_value(text: str, start: int) -> int:
    """The end of the (too deeply nested) array or object at ``text[start]``, found by
    counting brackets outside strings; ``len(text)`` if it never closes."""
    depth, i, n = 0, start, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def json_problem(text: str) -> str | None:
    """Why one JSON Lines line cannot be used, or None when it can (for error listings)."""
    stripped = text.strip()
    try:
        value, end = parse_json_record(stripped)
    except json.JSONDecodeError as exc:
        return _json_syntax_reason(stripped, exc)
    if end != len(stripped):
        return f"invalid JSON: extra data after the value at column {end + 1}"
    if isinstance(value, BadRecord):
        return value.reason
    return None


def _json_syntax_reason(text: str, exc: json.JSONDecodeError) -> str:
    end = len(text.rstrip())
    what = "truncated JSON (the line ends inside a value)" if exc.pos >= end \
        or "Unterminated" in exc.msg else "invalid JSON"
    return f"{what}: {exc.msg} at column {exc.colno}"


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each non-blank line of a JSON Lines file.

    ``value`` is a :class:`BadRecord` for a line that parses but cannot be used (NaN or
    Infinity, a number beyond a double, a lone UTF-16 surrogate, nesting too deep): the
    reader turns it into an ``_error`` row, so it is reported with its line.

    Raises
    ------
    BadInputError
        For an empty file, invalid UTF-8, a line over :data:`MAX_RECORD_BYTES`, or a line
        that is not valid JSON (truncated or malformed), naming the line and the reason.
    """
    seen = False
    for number, text in enumerate(iter_text_lines(path), 1):
        if not text.strip():
            continue
        seen = True
        stripped = text.strip()
        try:
            value, end = parse_json_record(stripped)
        except json.JSONDecodeError as exc:
            raise bad_input(path, number, _json_syntax_reason(stripped, exc)) from None
        if end != len(stripped):
            raise bad_input(path, number, f"invalid JSON: extra data after the value at "
                                          f"column {end + 1}")
        yield number, value
    if not seen:
        raise bad_input(path, None, "empty file: no JSON lines")


class SkipCounter:
    """Count records a reader leaves out on purpose, by reason, with each reason's first line.

    :func:`with_skips` moves the counts onto the chunks the reader yields
    (:attr:`~lockstep.readers.base.Chunk.skipped`).
    """

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, int]] = {}
        self.total: dict[str, tuple[int, int]] = {}

    def add(self, reason: str, line: int) -> None:
        """Count one record left out at ``line``."""
        for book in (self._pending, self.total):
            count, first = book.get(reason, (0, line))
            book[reason] = (count + 1, first)

    def take(self) -> dict[str, tuple[int, int]]:
        """The counts since the last call."""
        taken, self._pending = self._pending, {}
        return taken


def with_skips(chunks: Iterator[Chunk], skips: SkipCounter, path: Path | str) -> Iterator[Chunk]:
    """Yield ``chunks`` with the skip counts attached, one chunk late so the last one carries
    the counts made after it was filled.

    Raises :class:`BadInputError` when the reader yields nothing at all but skipped records,
    saying what was skipped (rather than the pipeline's bare "no rows").
    """
    held: Chunk | None = None
    for chunk in chunks:
        if held is not None:
            held.skipped = _merge(held.skipped, skips.take())
            yield held
        held = chunk
    if held is not None:
        held.skipped = _merge(held.skipped, skips.take())
        yield held
    elif skips.total:
        what = ", ".join(f"{n} {reason} (first at line {line})"
                         for reason, (n, line) in skips.total.items())
        raise bad_input(path, None, f"no rows to load: every record was left out ({what})")


def _merge(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]
           ) -> dict[str, tuple[int, int]]:
    out = dict(a)
    for reason, (n, line) in b.items():
        m, first = out.get(reason, (0, line))
        out[reason] = (m + n, min(first, line))
    return out


def parse_list_like(value: str | None) -> list[str]:
    """Parse a list-like string such as ``[a, b]``, ``['a', 'b']``, ``["a"]`` or ``[]``.

    Items may be bare (cut at commas, stripped) or quoted with ``'`` or ``"`` (a backslash
    escapes the next character). A bare item cannot contain a comma. Empty items are dropped.

    Examples
    --------
    >>> parse_list_like("['a', 'b,c']")
    ['a', 'b,c']
    >>> parse_list_like("[x, y]")
    ['x', 'y']
    >>> parse_list_like("[]")
    []
    """
    if value is None:
        return []
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    items: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if text[i] in "'\"":
            quote, j, buf = text[i], i + 1, []
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            item = "".join(buf)
            comma = text.find(",", j)
            i = n if comma < 0 else comma + 1
        else:
            comma = text.find(",", i)
            end = n if comma < 0 else comma
            item = text[i:end].strip()
            i = end + 1
        if item:
            items.append(item)
    return items


def dedup(values: Iterable[Any]) -> list[str]:
    """Return the distinct non-empty values as strings, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        text = str(value)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def clean_int(value: Any) -> str | None:
    """Return an integer-like value as plain digits (``"1,234"`` and ``"1234.0"`` → ``"1234"``).

    A value that does not look like an integer is returned stripped and unchanged, so that
    the pipeline reports it; blank becomes None. Booleans are not integers here.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if not text:
        return None
    plain = text.replace(",", "").replace("\u00a0", "").replace(" ", "")
    if plain.endswith(".0"):
        plain = plain[:-2]
    return plain if plain.lstrip("-").isdigit() else text


def bool_str(value: Any) -> str | None:
    """Map a boolean-like value to ``"true"``/``"false"`` (None when blank or unknown)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text in {"true", "t", "1", "yes", "y"}:
        return "true"
    if text in {"false", "f", "0", "no", "n"}:
        return "false"
    return None


def unix_us_to_iso(microseconds: int) -> str:
    """Write UNIX microseconds exactly as ISO 8601 UTC with 6 decimals and ``Z``."""
    moment = _EPOCH + timedelta(microseconds=microseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _columns(table: str, extensions: Mapping[str, bool]) -> list[tuple[str, pa.DataType]]:
    names = [*GENERIC_COLUMNS[table], *(e for e in extensions if e not in GENERIC_COLUMNS[table])]
    listed = {n for n, is_list in extensions.items() if is_list} | LIST_COLUMNS
    cols = [(n, pa.list_(pa.string()) if n in listed else pa.string()) for n in names]
    return [*cols, ("_line", pa.int64()), ("_error", pa.string())]


def conform(table: str, data: pa.Table, extensions: Mapping[str, bool] | None = None) -> pa.Table:
    """Give an Arrow table the reader contract's columns, order and types.

    Missing generic or extension columns are added (null strings, empty lists); columns
    are cast to ``string`` / ``list<string>`` / ``int64`` and put in the contract's order.

    ``extensions`` maps each extension column to keep to True when it is a list column.
    """
    arrays, fields = [], []
    for name, kind in _columns(table, extensions or {}):
        if name in data.column_names:
            column = data.column(name)
            if column.type != kind:
                column = column.cast(kind)
        elif pa.types.is_list(kind):
            column = pa.array([[]] * data.num_rows, kind)
        else:
            column = pa.nulls(data.num_rows, kind)
        arrays.append(column)
        fields.append(pa.field(name, kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class ChunkBuilder:
    """Collect row dictionaries of one generic table and cut them into chunks.

    Parameters
    ----------
    table : str
        The generic table name.
    source : str
        The source file, copied into each chunk.
    chunk_rows : int
        The most rows a chunk may hold.
    extensions : mapping of str to bool, optional
        Extension columns the reader fills, each marked True when it is a list column.

    Notes
    -----
    A row is a dict of column values; missing keys are null (empty list for list columns).
    Scalars are written with ``str``; list values are de-duplicated in first-seen order.
    """

    def __init__(self, table: str, source: str, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 extensions: Mapping[str, bool] | None = None) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.table = table
        self.source = source
        self.chunk_rows = chunk_rows
        self._columns = _columns(table, extensions or {})
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> Chunk | None:
        """Add one row; return a full :class:`Chunk` when ``chunk_rows`` rows are waiting."""
        self._rows.append(row)
        return self.flush() if len(self._rows) >= self.chunk_rows else None

    def flush(self) -> Chunk | None:
        """Return the waiting rows as a :class:`Chunk` (None when there are none)."""
        if not self._rows:
            return None
        rows, self._rows = self._rows, []
        try:
            data = self._table(rows)
        except UnicodeEncodeError:  # a lone surrogate somewhere: find it, flag the row
            data = self._table([_encodable_row(r) for r in rows])
        return Chunk(self.table, data, self.source)

    def _table(self, rows: list[dict[str, Any]]) -> pa.Table:
        arrays, fields = [], []
        for name, kind in self._columns:
            if pa.types.is_list(kind):
                values: list[Any] = [dedup(r.get(name) or ()) for r in rows]
            elif name == "_line":
                values = [r.get("_line") for r in rows]
            else:
                values = [_as_str(r.get(name)) for r in rows]
            arrays.append(pa.array(values, kind))
            fields.append(pa.field(name, kind))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _utf8_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodable_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every value that is not valid Unicode emptied and named in ``_error``."""
    bad: list[str] = []
    out = dict(row)
    for name, value in row.items():
        if isinstance(value, (list, tuple)):
            if not all(_utf8_ok(v) for v in value):
                bad.append(name)
                out[name] = []
        elif not _utf8_ok(value):
            bad.append(name)
            out[name] = None
    if bad:
        reason = f"{', '.join(bad)}: {_SURROGATE_REASON}"
        previous = out.get("_error")
        out["_error"] = f"{previous}; {reason}" if previous and _utf8_ok(previous) else reason
    return out


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
