"""Fuzz every reader: damaged copies of a valid file load consistently or are refused cleanly.

For each format of :data:`lockstep.readers.registry.FORMATS` (the generic format as CSV and as
JSON Lines), a small valid seed file from ``tests/fuzz_seeds/`` is changed by structure
mutations (drop, repeat, rename or reorder columns and keys, change a value's type, put a
hostile string in a cell: markup, ANSI escapes, controls, U+202E, spreadsheet formulas,
quotes, NUL, lone surrogates, long values) and then byte mutations (flip, insert or delete
bytes, truncate, repeat or drop lines), and ingested with :func:`lockstep.ingest`. Each case
must satisfy:

(a) nothing but a :class:`~lockstep.exceptions.LockstepError` escapes (no traceback);
(b) a refused file leaves the workspace as it was: every file's bytes, every table's row
    count, and so :func:`lockstep.workspace_stats`; the refusal names the file and, where it
    gives lines, lines that exist;
(c) a loaded file's ``rows_added + duplicates == rows_read - rejected`` for every table,
    ``rows_added`` is what the table grew by, ``rows_read`` is the number of records an
    independent count finds (the reader's own chunks for the platform formats, Python's
    :mod:`csv`/:mod:`json` for the generic format), the ``text`` of every event stored is the
    text that count read for it (no NUL, CR or surrogate mangled on the way), nothing is
    rejected unless ``skip_bad_rows`` was asked, and ingesting the same file again adds
    nothing. (b) is checked byte for byte on the workspace's files and by ``workspace_stats``.

Run with ``pytest --fuzz`` for 20 times more cases, with fresh randomness each run.

Design choices (one line each):

- Hypothesis draws the mutations (``st.data()``), so a failure shrinks to a small file and
  its drawn steps are printed; ``database=None`` keeps ``.hypothesis/`` out of a shared tree.
- Structure mutations come first and byte mutations after: the first reach the readers'
  field mapping with files that still parse, the second the parsers themselves.
- One workspace per format, reused by its cases: later cases meet stored rows, which
  exercises the duplicate paths as real repeated ingests do.
- The default run is bounded (``MAX_EXAMPLES`` per format, ``derandomize=True``), so CI is
  reproducible and the file stays under about a minute on two cores.
- Bugs the fuzzer found are kept as plain tests at the end (``test_found_*``), each with the
  smallest file that showed it.
"""
from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import snapshot
from lockstep.exceptions import BadInputError, LockstepError
from lockstep.ingestion import FileReport, ingest
from lockstep.readers.registry import FORMATS, get_reader
from lockstep.schema import TABLE_COLUMNS
from lockstep.stats import workspace_stats
from lockstep.workspace import Workspace

SEEDS = Path(__file__).parent / "fuzz_seeds"

#: case id -> (format, seed file, name the mutated file gets, shape)
CASES: dict[str, tuple[str, str, str, str]] = {
    "generic-csv": ("generic", "events.csv", "events.csv", "csv"),
    "generic-jsonl": ("generic", "events.jsonl", "events.jsonl", "jsonl"),
    "generic-csv-gz": ("generic", "events.csv", "events.csv.gz", "csv.gz"),
    "crowdtangle": ("crowdtangle", "crowdtangle.csv", "export.csv", "csv"),
    "twarc2": ("twarc2", "twarc2.jsonl", "tweets.jsonl", "jsonl"),
    "x-archive": ("x-archive", "seed_tweets_csv_hashed.csv", "seed_tweets_csv_hashed.csv", "csv"),
    "telegram": ("telegram", "telegram.json", "result.json", "json"),
    "bluesky": ("bluesky", "bluesky.jsonl", "capture.jsonl", "jsonl"),
    "coortweet": ("coortweet", "coortweet.csv", "coortweet.csv", "csv"),
}
MAX_EXAMPLES = 15

HOSTILE = [
    "[/x]", "[bold red]x[/]", "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\u202egnp.exe",
    "=cmd|' /C calc'!A0", "+SUM(1)", "@x", '"', "'", '""', '","', "\\", "\\\\u0000", "\x00",
    "\x01", "\x7f", "\ud800", "\udfff", "\r", "\n", "\r\n", "\t", ",", "{", "[", "NaN", "-0",
    "1e400", "9" * 30, "", " ", "\ufeff", "\u2028", "null", "true", "é", "😀", "%s%n",
    "x" * 70_000, "<script>x</script>", "'; DROP TABLE events; --", "2021-06-16T22:04",
    "1623881091", "16238", "fb_", "did:plc:x",
]
LONG = "y" * (1 << 20)


def _text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12), st.just(LONG))


def _value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(_text(), st.integers(-2**70, 2**70), st.booleans(), st.none(),
                        st.floats(allow_nan=True, allow_infinity=True))
    return st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(_text(), scalars, max_size=2))


# --- structure mutations ------------------------------------------------------------------

def _mutate_csv(data: st.DataObject, text: str) -> bytes:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for _ in range(data.draw(st.integers(0, 3), label="csv ops")):
        op = data.draw(st.sampled_from(["drop_col", "dup_col", "rename_col", "swap_cols",
                                        "set_cell", "drop_field", "add_field", "dup_row",
                                        "drop_row"]), label="csv op")
        width = len(rows[0])
        col = data.draw(st.integers(0, max(width - 1, 0)), label="column")
        row = data.draw(st.integers(1, max(len(rows) - 1, 1)), label="row")
        if op == "drop_col" and width > 1:
            rows = [r[:col] + r[col + 1:] for r in rows]
        elif op == "dup_col":
            rows = [r[:col + 1] + r[col:col + 1] + r[col + 1:] for r in rows]
        elif op == "rename_col":
            rows[0][col] = data.draw(st.one_of(_text(), st.sampled_from(rows[0])), label="name")
        elif op == "swap_cols":
            other = data.draw(st.integers(0, max(width - 1, 0)), label="other column")
            for r in rows:
                if max(col, other) < len(r):
                    r[col], r[other] = r[other], r[col]
        elif row < len(rows):
            if op == "set_cell" and col < len(rows[row]):
                rows[row][col] = data.draw(_text(), label="cell")
            elif op == "drop_field" and rows[row]:
                rows[row].pop(col % len(rows[row]))
            elif op == "add_field":
                rows[row].insert(col, data.draw(_text(), label="field"))
            elif op == "dup_row":
                rows.insert(row, list(rows[row]))
            elif op == "drop_row":
                rows.pop(row)
    out = io.StringIO()
    quoting = data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), label="quoting")
    ending = data.draw(st.sampled_from(["\n", "\r\n"]), label="line ending")
    csv.writer(out, quoting=quoting, lineterminator=ending).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _containers(value: Any) -> list[Any]:
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


def _mutate_tree(data: st.DataObject, records: list[Any]) -> None:
    for _ in range(data.draw(st.integers(0, 4), label="json ops")):
        places = _containers(records)
        place = places[data.draw(st.integers(0, len(places) - 1), label="container")]
        if isinstance(place, dict):
            if not place:
                place[data.draw(_text(), label="new key")] = data.draw(_value(), label="value")
                continue
            key = data.draw(st.sampled_from(sorted(place, key=str)), label="key")
            op = data.draw(st.sampled_from(["delete", "rename", "set", "retype", "add"]),
                           label="dict op")
            if op == "delete":
                del place[key]
            elif op == "rename":
                place[data.draw(_text(), label="renamed")] = place.pop(key)
            elif op == "set":
                place[key] = data.draw(_value(), label="value")
            elif op == "retype":
                place[key] = _retype(place[key], data)
            else:
                place[data.draw(_text(), label="new key")] = data.draw(_value(), label="value")
        elif place:
            index = data.draw(st.integers(0, len(place) - 1), label="index")
            op = data.draw(st.sampled_from(["delete", "repeat", "set", "retype"]),
                           label="list op")
            if op == "delete":
                place.pop(index)
            elif op == "repeat":
                place.insert(index, json.loads(json.dumps(place[index])))
            elif op == "set":
                place[index] = data.draw(_value(), label="value")
            else:
                place[index] = _retype(place[index], data)


def _retype(value: Any, data: st.DataObject) -> Any:
    """The same value as another JSON type (``"12"`` -> ``12``, ``5`` -> ``"5"`` ...)."""
    kind = data.draw(st.sampled_from(["str", "int", "float", "list", "dict", "bool", "null"]),
                     label="new type")
    if kind == "str":
        return json.dumps(value) if not isinstance(value, str) else value
    if kind == "int":
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return len(str(value))
    if kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")
    if kind == "list":
        return [value]
    if kind == "dict":
        return {"value": value}
    if kind == "bool":
        return bool(value)
    return None


def _dump(value: Any, data: st.DataObject, indent: int | None = None) -> str:
    ascii_only = data.draw(st.booleans(), label="ensure_ascii")
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True, indent=indent)


def _mutate_jsonl(data: st.DataObject, text: str) -> bytes:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    _mutate_tree(data, records)
    lines = [_dump(r, data) for r in records]
    return "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")


def _mutate_json(data: st.DataObject, text: str) -> bytes:
    document = json.loads(text)
    _mutate_tree(data, [document])
    return (_dump(document, data, indent=1) + "\n").encode("utf-8", "surrogatepass")


# --- byte mutations -----------------------------------------------------------------------

def _mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    for _ in range(data.draw(st.integers(0, 3), label="byte ops")):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup_line",
                                        "drop_line", "hostile"]), label="byte op")
        at = data.draw(st.integers(0, len(raw)), label="position")
        if op == "flip" and at < len(raw):
            bit = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]), label="bit")
            raw = raw[:at] + bytes([raw[at] ^ bit]) + raw[at + 1:]
        elif op == "insert":
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=4), label="bytes") \
                + raw[at:]
        elif op == "delete":
            raw = raw[:at] + raw[at + data.draw(st.integers(1, 8), label="length"):]
        elif op == "truncate":
            raw = raw[:at]
        elif op in ("dup_line", "drop_line"):
            lines = raw.splitlines(keepends=True)
            if lines:
                i = at % len(lines)
                lines[i:i + 1] = [lines[i]] * (2 if op == "dup_line" else 0)
                raw = b"".join(lines)
        elif op == "hostile":
            text = data.draw(st.sampled_from(HOSTILE[:-12]), label="hostile")
            raw = raw[:at] + text.encode("utf-8", "surrogatepass") + raw[at:]
    return raw


def _mutate_gz(data: st.DataObject, text: str) -> bytes:
    """A mutated CSV, gzipped; sometimes the compressed bytes are damaged too."""
    raw = gzip.compress(_mutate_bytes(data, _mutate_csv(data, text)), mtime=0)
    return _mutate_bytes(data, raw) if data.draw(st.booleans(), label="damage gz") else raw


MUTATE: dict[str, Callable[[st.DataObject, str], bytes]] = {
    "csv": _mutate_csv, "jsonl": _mutate_jsonl, "json": _mutate_json, "csv.gz": _mutate_gz}


# --- the checks ---------------------------------------------------------------------------

def _counts(ws: Workspace) -> dict[str, int]:
    con = ws.connect()
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in TABLE_COLUMNS}
    finally:
        con.close()


def _line_breaks(raw: bytes) -> int:
    return raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")


def _independent_rows(fmt: str, shape: str, path: Path) -> dict[str, int] | None:
    """Records per table as counted without the ingest pipeline; None when it cannot tell."""
    raw = path.read_bytes()
    if shape == "csv.gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return None
        shape = "csv"
    if fmt == "generic":
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            return None
        if shape == "jsonl":
            return {"events": sum(1 for line in raw.split(b"\n") if line.strip())}
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except csv.Error:
            return None
        return {"events": sum(1 for r in records[1:] if r)}
    found: dict[str, int] = {}
    texts = _READER_TEXTS[path] = {}
    for chunk in get_reader(fmt).read(path):  # BadInputError: the caller expects a refusal
        found[chunk.table] = found.get(chunk.table, 0) + chunk.data.num_rows
        if chunk.table == "events":
            for row in chunk.data.select(["platform", "event_id", "text"]).to_pylist():
                key = ((row["platform"] or "").strip(" ").lower(),
                       (row["event_id"] or "").strip(" "))
                if key[0].isascii() and key[1].isascii():
                    texts.setdefault(key, row["text"])
    return found


#: path -> the event texts its reader gave, keyed like :func:`_generic_texts`
_READER_TEXTS: dict[Path, dict[tuple[str, str], str | None]] = {}


def _generic_texts(shape: str, raw: bytes) -> dict[tuple[str, str], str | None] | None:
    """``(platform, event_id) -> text`` of the first record with each key, parsed by Python
    (ASCII keys only, so that case folding is the same everywhere); None when Python cannot
    parse the file."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    records: list[dict[str, Any]] = []
    if shape == "jsonl":
        for line in text.split("\n"):
            if line.strip():
                try:
                    value = json.loads(line)
                except ValueError:
                    return None
                records.append(value if isinstance(value, dict) else {})
    else:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except csv.Error:
            return None
        header = [name.strip() for name in rows[0]] if rows else []
        records = [dict(zip(header, row)) for row in rows[1:] if row]
    texts: dict[tuple[str, str], str | None] = {}
    for record in records:
        platform, event_id, value = (record.get(k) for k in ("platform", "event_id", "text"))
        if not (isinstance(platform, str) and isinstance(event_id, str)):
            continue
        key = (platform.strip(" ").lower(), event_id.strip(" "))
        if key[0].isascii() and key[1].isascii() and key not in texts:
            texts[key] = value if value != "" else None
    return texts


def _check_texts(ws: Workspace, ingest_id: str, expected: dict[tuple[str, str], str | None]
                 ) -> None:
    """The text of every event this ingest stored is the text Python reads in the file."""
    con = ws.connect()
    try:
        stored = con.execute("SELECT platform, event_id, text FROM events WHERE ingest_id = ?",
                             [ingest_id]).fetchall()
    finally:
        con.close()
    for platform, event_id, text in stored:
        if (platform, event_id) in expected and isinstance(expected[platform, event_id], str):
            assert text == expected[platform, event_id], (platform, event_id, text)


def _check_refusal(exc: LockstepError, path: Path, raw: bytes | None) -> None:
    if isinstance(exc, BadInputError):
        assert exc.file == str(path), exc
        last = _line_breaks(raw) + 1 if raw is not None else 2**62
        for error in exc.errors:
            assert error.file == str(path), exc
            assert error.line is None or 1 <= error.line <= last, (error, last)


def _check_loaded(ws: Workspace, files: list[FileReport], before: dict[str, int],
                  expected: dict[str, int] | None, skip: bool) -> None:
    after = _counts(ws)
    added: dict[str, int] = {}
    for fr in files:
        assert min(fr.rows_read, fr.rows_added, fr.duplicates, fr.rejected) >= 0, fr
        assert fr.rows_added + fr.duplicates == fr.rows_read - fr.rejected, fr
        assert fr.status == ("loaded" if fr.rows_added else "unchanged"), fr
        assert skip or fr.rejected == 0, fr
        added[fr.table] = added.get(fr.table, 0) + fr.rows_added
        if expected is not None and fr.table in expected:
            assert fr.rows_read == expected[fr.table], (fr, expected)
    for table in after:
        if table != "url_map":
            assert after[table] - before[table] == added.get(table, 0), (table, before, after)
    workspace_stats(ws)  # hostile values that were stored must not break the summary


def _fuzz(case: str, tmp: Path, scale: tuple[int, bool]) -> None:
    fmt, seed, name, shape = CASES[case]
    ws = Workspace.open(tmp / "ws")
    seed_text = (SEEDS / seed).read_text(encoding="utf-8")
    number = itertools.count()

    @settings(max_examples=MAX_EXAMPLES * scale[0], derandomize=scale[1], database=None,
              deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        raw = MUTATE[shape](data, seed_text)
        if shape != "csv.gz":  # mutated before and after compression there
            raw = _mutate_bytes(data, raw)
        skip = data.draw(st.booleans(), label="skip_bad_rows")
        path = tmp / f"case{next(number)}" / name
        path.parent.mkdir()
        path.write_bytes(raw)
        check_file(ws, fmt, shape, path, skip, again=data.draw(st.booleans(), label="again"))

    run()


#: workspace -> its stats, kept while refused files leave it unchanged (saves a query)
_STATS: dict[Path, dict[str, Any]] = {}


def check_file(ws: Workspace, fmt: str, shape: str, path: Path, skip: bool,
               again: bool = False) -> None:
    """Ingest ``path`` into ``ws`` and check (a), (b) and (c) of the module docstring."""
    raw: bytes | None = path.read_bytes()
    if shape == "csv.gz":
        try:
            raw = gzip.decompress(raw)  # type: ignore[arg-type]
        except (OSError, EOFError, zlib.error):
            raw = None
    try:
        expected = _independent_rows(fmt, shape, path)
        reader_refused = False
    except BadInputError:
        expected, reader_refused = None, True
    texts = _READER_TEXTS.pop(path, None)
    before, files = _counts(ws), snapshot(ws.path)
    stats = _STATS.get(ws.path)
    if stats is None:
        stats = _STATS[ws.path] = workspace_stats(ws).to_dict()
    try:
        report = ingest(ws, [path], fmt=fmt, skip_bad_rows=skip)
    except LockstepError as exc:  # (a): any other exception fails the test
        _check_refusal(exc, path, raw)
        assert snapshot(ws.path) == files, f"refused ({exc}) but the workspace changed"
        assert _counts(ws) == before
        assert workspace_stats(ws).to_dict() == stats
        return
    _STATS.pop(ws.path, None)
    assert not reader_refused, "the reader refuses the file, but ingest loaded it"
    _check_loaded(ws, report.files, before, expected, skip)
    if fmt == "generic" and raw is not None:
        texts = _generic_texts(shape.removesuffix(".gz"), raw)
    if texts is not None:
        _check_texts(ws, report.ingest_id, texts)
    if again:
        before = _counts(ws)
        repeat = ingest(ws, [path], fmt=fmt, skip_bad_rows=skip)
        assert all(fr.rows_added == 0 for fr in repeat.files), repeat
        _check_loaded(ws, repeat.files, before, expected, skip)


@pytest.mark.parametrize("case", list(CASES))
def test_fuzz_reader(case: str, tmp_path_factory: pytest.TempPathFactory,
                     fuzz_scale: tuple[int, bool]) -> None:
    _fuzz(case, tmp_path_factory.mktemp(f"fuzz-{case}"), fuzz_scale)


def test_every_format_is_fuzzed() -> None:
    assert {fmt for fmt, *_ in CASES.values()} == set(FORMATS)
    assert {(fmt, shape) for fmt, _, _, shape in CASES.values() if fmt == "generic"} == {
        ("generic", "csv"), ("generic", "jsonl"), ("generic", "csv.gz")}


@pytest.mark.parametrize("case", list(CASES))
def test_seeds_load_clean(case: str, tmp_path: Path) -> None:
    fmt, seed, name, shape = CASES[case]
    path = tmp_path / name
    raw = (SEEDS / seed).read_bytes()
    path.write_bytes(gzip.compress(raw) if shape == "csv.gz" else raw)
    report = ingest(Workspace.open(tmp_path / "ws"), [path], fmt=fmt)
    assert all(fr.rows_added and not fr.rejected for fr in report.files), report


# --- bugs the fuzzer found, each as the smallest file that showed it ----------------------

def test_found_a_short_last_record_is_one_rejected_row(tmp_path: Path) -> None:
    # DuckDB logs a record that is too short once per missing column: 1 bad row counted 12x
    path = tmp_path / "events.csv"
    path.write_bytes((SEEDS / "events.csv").read_bytes().split(b"\n")[0] + b"\np")
    fr = ingest(Workspace.open(tmp_path / "ws"), [path], skip_bad_rows=True).files[0]
    assert (fr.rows_read, fr.rejected, len(fr.errors)) == (1, 1, 1)
    assert fr.errors[0].endswith("events.csv:2: wrong number of fields (Expected Number of "
                                 "Columns: 13 Found: 1); truncated or misquoted row?")


def test_found_an_empty_json_key_is_refused_not_a_parser_error(tmp_path: Path) -> None:
    # a key renamed to "" became the SQL identifier "" (a DuckDB ParserException escaped)
    path = tmp_path / "events.jsonl"
    path.write_text('{"platform": "x", "event_id": "1", "": "a", "timestamp": 1}\n',
                    encoding="utf-8")
    with pytest.raises(BadInputError, match=r"events.jsonl:1: a key has an empty name"):
        ingest(Workspace.open(tmp_path / "ws"), [path])


def test_found_a_damaged_gz_is_refused_not_a_zlib_traceback(tmp_path: Path) -> None:
    # a damaged deflate stream raised zlib.error (not an OSError) from the line scan
    packed = bytearray(gzip.compress((SEEDS / "events.csv").read_bytes(), mtime=0))
    packed[10] ^= 0xFF
    path = tmp_path / "events.csv.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(BadInputError, match=r"events.csv.gz: cannot read the file: Error -3 "
                                            r".*\(a damaged .gz file\?\)"):
        ingest(Workspace.open(tmp_path / "ws"), [path])
