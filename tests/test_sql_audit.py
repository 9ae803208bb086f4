"""The SQL Lockstep builds from strings quotes text through one helper (issue 13, item 6).

A static audit of every f-string in ``src/lockstep``: a value put between SQL quotes by hand
(``'{path}'``) or quoted by hand (``.replace("'", "''")``) outside :mod:`lockstep.sql` fails
this test, unless it is a constant of the code listed below with the reason. The workspace
path that ran ``COPY ... TO`` was such a case. ``docs/security.md`` has the whole audit.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lockstep.sql import ident, literal, literal_list

SRC = Path(__file__).resolve().parents[1] / "src" / "lockstep"
#: An f-string that reads as SQL (a value at one end of a quoted constant counts there).
_SQL = re.compile(r"\b(SELECT|SET|COPY|FROM|WHERE|WHEN|VIEW|TABLE)\b|read_\w+\(|error\(")

#: (file, expression) put between quotes, and why it can never hold outside text.
CONSTANTS = {
    ("attribution/operators.py", "k"): "ROLE_WEIGHTS keys, constants of the module",
    ("schema.py", "otype"): "object types, constants of the schema",
    ("detectors/text.py", "strip"): "a constant regular expression",
    ("detectors/sweep.py", "t"): "object types checked against OBJECT_TYPES first",
    ("detectors/infrastructure.py", "prefix"): "evidence prefixes, constants of RESOURCES",
    ("ingestion.py", "_BAD_ROW"): "a constant message",
    ("calibration.py", "salt"): "constant salts of the shuffles",
    ("readers/transform.py", "c"): "names of REQUIRED_COLUMNS, constants of the schema",
}


def _quoted_values() -> list[tuple[str, int, str]]:
    """Every ``'{expr}'`` in an f-string of the package, and every value at one end of a
    quoted constant in an f-string that reads as SQL (``'{prefix}:'``): (file, line,
    expression)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            parts = node.values
            text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
            for i, part in enumerate(parts):
                if not isinstance(part, ast.FormattedValue):
                    continue
                before = parts[i - 1] if i else None
                after = parts[i + 1] if i + 1 < len(parts) else None
                opens = isinstance(before, ast.Constant) and str(before.value).endswith("'")
                closes = isinstance(after, ast.Constant) and str(after.value)[:1] == "'"
                if (opens and closes) or ((opens or closes) and _SQL.search(text)):
                    found.append((rel, node.lineno, ast.unparse(part.value)))
    return found


def test_no_text_put_between_sql_quotes_by_hand() -> None:
    bad = [f"{f}:{n}: '{{{e}}}'" for f, n, e in _quoted_values() if (f, e) not in CONSTANTS]
    assert not bad, ("quote these through lockstep.sql.literal (or list a true constant in "
                     "CONSTANTS with the reason):\n" + "\n".join(bad))


def test_the_allowed_constants_are_still_there() -> None:
    # an entry whose code went away must go too, or it would allow a new case silently
    seen = {(f, e) for f, _, e in _quoted_values()}
    assert not set(CONSTANTS) - seen, sorted(set(CONSTANTS) - seen)


def test_no_hand_rolled_quoting() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "sql.py":
            continue
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if """replace("'", "''")""" in text or '''replace("\\"", '""')''' in text:
                bad.append(f"{rel}:{n}: {text.strip()}")
    assert not bad, "use lockstep.sql.literal / ident:\n" + "\n".join(bad)


@pytest.mark.parametrize("text", ["o'brien ws", "x'); COPY (SELECT 1) TO '/tmp/pwn", "a\nb",
                                  "$HOME; ü \"q\"", "'", "''", "\\'"])
def test_literal_and_ident_round_trip_through_duckdb(text: str) -> None:
    import duckdb

    con = duckdb.connect()
    assert con.execute(f"SELECT {literal(text)}").fetchall() == [(text,)]
    assert con.execute(f"SELECT 1 AS {ident(text)}").description[0][0] == text
    assert con.execute(f"SELECT {literal_list([text, 'b'])}").fetchall() == [([text, "b"],)]


def test_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        literal("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        ident("a\x00b")


def test_a_hostile_memory_limit_is_one_string() -> None:
    import duckdb

    con = duckdb.connect()
    with pytest.raises(duckdb.Error):  # refused by DuckDB as a bad size, never run as SQL
        con.execute(f"SET memory_limit = {literal(chr(39) + '; CREATE TABLE pwn AS SELECT 1; --')}")
    assert not con.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'pwn'").fetchall()
