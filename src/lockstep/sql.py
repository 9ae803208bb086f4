"""Quoting for the SQL Lockstep builds: the one place where text becomes SQL.

DuckDB binds ``?`` parameters in queries over data, but not in statements such as ``SET``,
``COPY ... TO '<path>'``, ``read_parquet([<paths>])`` inside a view, or identifiers. Everything
that is not a bound parameter goes through :func:`literal` (a string constant) or
:func:`ident` (a column or table name); a workspace named ``o'brien ws`` or a file named
``x'); COPY ... TO ('`` is then one string constant, never SQL (``docs/security.md``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["literal", "ident", "literal_list"]


def literal(value: str | os.PathLike[str]) -> str:
    """``value`` as a SQL string constant: ``'`` doubled, NUL refused.

    Paths are written with forward slashes (``Path.as_posix``) when given as ``PathLike``.

    >>> literal("o'brien ws")
    "'o''brien ws'"
    """
    if isinstance(value, os.PathLike):
        from pathlib import PurePath

        text = PurePath(os.fspath(value)).as_posix()
    else:
        text = str(value)
    if "\x00" in text:
        raise ValueError(f"a NUL character cannot be part of a SQL string: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def literal_list(values: Iterable[str | os.PathLike[str]]) -> str:
    """``[ 'a', 'b' ]``: a DuckDB list of string constants (for ``read_parquet``)."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier: ``"`` doubled, NUL refused.

    >>> ident('a"b')
    '"a""b"'
    """
    if "\x00" in name:
        raise ValueError(f"a NUL character cannot be part of a SQL name: {name!r}")
    return '"' + name.replace('"', '""') + '"'
