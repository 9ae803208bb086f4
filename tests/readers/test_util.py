"""Tests for the helpers every reader shares (:mod:`lockstep.readers._util`)."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers._util import (BadRecord, ChunkBuilder, CsvFile, SkipCounter,
                                   iter_json_lines, iter_text_lines, json_problem,
                                   parse_json_record, with_skips)
from lockstep.readers.base import MAX_RECORD_BYTES, Chunk


@pytest.mark.parametrize("text, reason", [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    ('{"a": 1e400}', "1e400 is out of range"),
    ('{"a": "\\ud800"}', "lone UTF-16 surrogate"),
    ('{"a": "x\\udc00"}', "lone UTF-16 surrogate"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_unusable_json_is_a_bad_record(text: str, reason: str) -> None:
    value, end = parse_json_record(text)
    assert isinstance(value, BadRecord) and reason in value.reason and end == len(text)


@pytest.mark.parametrize("text", ['{"a": "\\ud83d\\ude00"}', '{"a": "\\\\ud800"}',
                                  '{"a": 1.5e300, "b": 12345678901234567890123}'])
def test_valid_json_stays_valid(text: str) -> None:
    value, _ = parse_json_record(text)
    assert isinstance(value, dict) and json_problem(text) is None


def test_json_lines_yield_bad_records_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": NaN}\n{"a": 2}\n', encoding="utf-8")
    got = [(line, v.reason[:3] if isinstance(v, BadRecord) else v)
           for line, v in iter_json_lines(path)]
    assert got == [(1, {"a": 1}), (3, "NaN"), (4, {"a": 2})]


def test_a_line_over_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b"x" * (MAX_RECORD_BYTES + 1) + b"\n")
    lines = iter_text_lines(path)
    assert next(lines) == '{"a": 1}\n'
    with pytest.raises(BadInputError, match=r"x.jsonl:2: the line is longer than 16 MiB"):
        next(lines)
    exact = tmp_path / "y.jsonl"  # exactly the limit, plus its line break: fine
    exact.write_bytes(b"y" * MAX_RECORD_BYTES + b"\n")
    assert len(next(iter_text_lines(exact))) == MAX_RECORD_BYTES + 1


def test_chunk_builder_turns_unencodable_text_into_an_error_row() -> None:
    builder = ChunkBuilder("events", "src")
    builder.add({"event_id": "1", "text": "fine", "_line": 1})
    builder.add({"event_id": "2", "text": "cut \ud83d", "hashtags": ["ok", "\udc00"],
                 "_line": 2, "_error": "already bad"})
    rows = builder.flush().data.to_pylist()
    assert rows[0]["text"] == "fine" and rows[0]["_error"] is None
    assert rows[1]["text"] is None and rows[1]["hashtags"] == []
    assert rows[1]["_error"].startswith("already bad; text, hashtags: a string holds a lone")


@pytest.mark.parametrize("data, line, reason", [
    (b'a,b\n1,"open\n2,3\n', 2, "a quoted field opened here is never closed"),
    (b'a,b\n1,"x"y\n', 2, "text after the closing quote"),
    (b"a,b\n1,2\r3,4\n", 2, "a carriage return (CR) inside the line"),
    (b"a,b,a\n1,2,3\n", 1, "column 'a' appears twice in the header (columns 1 and 3)"),
])
def test_csv_syntax_errors_name_line_and_reason(tmp_path: Path, data: bytes, line: int,
                                                reason: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(BadInputError) as exc:
        list(CsvFile(path).rows())
    assert exc.value.errors[0].line == line and reason in exc.value.errors[0].reason


def test_csv_unnamed_columns_may_repeat(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b,,\n1,2,,\n")
    assert [fields for _, fields, _ in CsvFile(path).rows()] == [["1", "2", "", ""]]


def test_skips_ride_on_the_chunks_and_the_last_one_gets_the_tail() -> None:
    skips = SkipCounter()

    def chunks():  # type: ignore[no-untyped-def]
        skips.add("service message", 3)
        yield Chunk("events", pa.table({"a": [1]}), "s")
        skips.add("service message", 9)
        skips.add("delete", 10)
        yield Chunk("events", pa.table({"a": [2]}), "s")
        skips.add("delete", 12)

    got = [c.skipped for c in with_skips(chunks(), skips, "s")]
    assert got == [{"service message": (2, 3), "delete": (1, 10)}, {"delete": (1, 12)}]


def test_nothing_but_skips_is_a_clear_refusal() -> None:
    skips = SkipCounter()

    def chunks():  # type: ignore[no-untyped-def]
        skips.add("commit delete", 4)
        yield from ()

    with pytest.raises(BadInputError, match=r"src: no rows to load: every record was left out "
                                            r"\(1 commit delete \(first at line 4\)\)"):
        list(with_skips(chunks(), skips, "src"))
