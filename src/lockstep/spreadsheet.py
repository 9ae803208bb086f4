"""CSV cells that a spreadsheet would run as formulas, neutralised reversibly (OWASP's rule).

Every CSV Lockstep writes for people (exports, pair lists, rejected rows) goes through
:func:`csv_row`, :func:`neutralise_formula` or, for a file another writer made,
:func:`neutralise_csv_file`; ``docs/exports.md`` says how to read such a file back.

- A string cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a ``'`` in front, and so
  does one that already starts with ``'`` followed by one of those or another ``'``, so that
  :func:`restore_formula` gives back the exact value.
- Only string cells: a negative number is a number, not a formula.
- One module for the rule, because ingest (rejects files), the exports and the pair writer
  all write CSV for spreadsheets.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["FORMULA_START", "neutralise_formula", "restore_formula", "csv_row",
           "neutralise_csv_file"]

#: A string cell a spreadsheet would run as a formula (OWASP's list: ``=``, ``+``, ``-``,
#: ``@``, tab, CR), or one starting with ``'`` that :func:`restore_formula` would otherwise
#: misread; the same pattern (RE2 and Python syntax) serves Python, DuckDB and Arrow.
FORMULA_START = "^(?:[=+\\-@\\t\\r]|'[=+\\-@\\t\\r'])"
_FORMULA = re.compile(FORMULA_START)

def neutralise_formula(value: str) -> str:
    """``value`` with a ``'`` in front when a spreadsheet would run it as a formula.

    The rule is OWASP's (a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR), made
    reversible: a value starting with ``'`` and then one of those or another ``'`` gets the
    prefix too, so :func:`restore_formula` undoes it exactly.

    >>> neutralise_formula("=HYPERLINK(1)"), neutralise_formula("-2"), neutralise_formula("ok")
    ("'=HYPERLINK(1)", "'-2", 'ok')
    """
    return "'" + value if _FORMULA.match(value) else value


def restore_formula(cell: str) -> str:
    """The value :func:`neutralise_formula` was given (a CSV cell read back).

    >>> restore_formula("'=1"), restore_formula("''=1"), restore_formula("'tis")
    ('=1', "'=1", "'tis")
    """
    return cell[1:] if cell[:1] == "'" and _FORMULA.match(cell[1:]) else cell


def csv_row(values: list[Any], *, raw: bool = False) -> list[Any]:
    """One CSV row: ``None`` as an empty cell, strings neutralised (:func:`neutralise_formula`)
    unless ``raw``, numbers as they are."""
    return ["" if v is None else v if raw or not isinstance(v, str) else neutralise_formula(v)
            for v in values]


def neutralise_csv_file(path: str | Path, text_columns: list[str] | tuple[str, ...]) -> bool:
    """Neutralise the cells of ``text_columns`` of the CSV file ``path`` in place.

    For files written by a tool that does not neutralise: read
    in blocks with Arrow (columns as text); when no cell needs the prefix (the usual case)
    the file is left as it is, byte for byte; otherwise it is rewritten to a temporary file
    that replaces it (fields quoted only when needed, lines ending in LF).

    Returns
    -------
    bool
        Whether the file was rewritten.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = Path(path)

    def batches():  # type: ignore[no-untyped-def]
        with open(path, "rb") as fh:
            header = fh.readline()
        names = next(csv.reader([header.decode("utf-8")]))
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=16 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
        return names, reader

    names, reader = batches()
    cols = [c for c in text_columns if c in names]
    needed = any(pc.any(pc.match_substring_regex(b.column(c), FORMULA_START)).as_py()
                 for b in reader for c in cols if b.num_rows)
    if not needed:
        return False
    names, reader = batches()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(path, "rb") as fh, open(tmp, "wb") as dst:
            dst.write(fh.readline())  # the header as it was
            for b in reader:
                fields = []
                for c in names:
                    a = b.column(c)
                    if c in cols:
                        hit = pc.match_substring_regex(a, FORMULA_START)
                        a = pc.if_else(hit, pc.binary_join_element_wise("'", a, ""), a)
                    # quoted only when needed (RFC 4180), as the file was
                    quoted = pc.binary_join_element_wise(
                        '"', pc.replace_substring(a, '"', '""'), '"', "")
                    fields.append(pc.if_else(pc.match_substring_regex(a, '[",\r\n]'),
                                             quoted, a))
                if b.num_rows:
                    rows = pc.binary_join_element_wise(*fields, ",").to_pylist()
                    dst.write(("\n".join(rows) + "\n").encode("utf-8"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
