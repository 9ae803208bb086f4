"""Helpers shared by the format readers, so that no reader repeats another.

Reading text line by line while checking UTF-8 (and naming the bad line), CSV headers and rows
with line numbers, list-like strings (``[a, b]``, ``['a', 'b']``), and row dictionaries turned
into :class:`~lockstep.readers.base.Chunk` objects with the contract's column types (strings,
``list<string>`` for multi-valued columns, ``int64`` for ``_line``). Nothing here parses
timestamps into types or normalises values: that is the pipeline's job.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from lockstep.exceptions import BadInputError, RowError
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, GENERIC_COLUMNS, LIST_COLUMNS, Chunk

__all__ = ["REENCODE_HINT", "bad_input", "iter_text_lines", "read_head", "sniff_csv_header",
           "sniff_first_json", "CsvFile", "iter_json_lines", "parse_list_like", "dedup",
           "clean_int", "bool_str", "unix_us_to_iso", "conform", "ChunkBuilder"]

#: What to tell a user whose file is not UTF-8.
REENCODE_HINT = ("re-encode the file as UTF-8, e.g. "
                 "`iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv`")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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
        On the first line that is not valid UTF-8, or when the file cannot be opened.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator-owned
    except OSError as exc:
        raise bad_input(path, None, f"cannot open the file: {exc.strerror}") from None
    try:
        for number, raw in enumerate(fh, 1):
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


def sniff_first_json(path: Path, max_bytes: int = 16 * 1024 * 1024) -> dict[str, Any] | None:
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
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
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
    Raises :class:`BadInputError` for an empty file, invalid UTF-8 or a CSV syntax error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader = csv.reader(iter_text_lines(path))
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
            self.index.setdefault(name, position)

    def _next(self) -> list[str] | None:
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise bad_input(self.path, self._reader.line_num, f"unreadable CSV: {exc}") from None
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


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each non-blank line of a JSON Lines file.

    Raises
    ------
    BadInputError
        For an empty file, invalid UTF-8, or a line that is not valid JSON (truncated or
        malformed), naming the line and the parser's reason.
    """
    seen = False
    for number, text in enumerate(iter_text_lines(path), 1):
        if not text.strip():
            continue
        seen = True
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            end = len(text.rstrip())
            what = "truncated JSON (the line ends inside a value)" if exc.pos >= end \
                or "Unterminated" in exc.msg else "invalid JSON"
            raise bad_input(path, number, f"{what}: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise bad_input(path, number, "invalid JSON: nested too deeply") from None
        yield number, value
    if not seen:
        raise bad_input(path, None, "empty file: no JSON lines")


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
        data = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        return Chunk(self.table, data, self.source)


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
