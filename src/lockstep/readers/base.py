"""The reader contract: every input format becomes chunks of generic-format-v1 tables.

A reader turns a file (or directory) it recognises into :class:`Chunk` objects: Arrow tables
whose columns are those of ``shared/reference/generic-format.md`` version 1 for one table
(``events``, ``accounts``, ``sessions``, ``roles`` or ``truth``). The common ingest pipeline
(:mod:`lockstep.ingestion`) then validates, types, normalises and stores them, so a
reader only maps fields; it never parses timestamps into types, normalises URLs or dedups.

Column conventions for a chunk's ``data``:

- every generic column is ``string`` (missing = null or ``""``), except the multi-valued
  ``urls``, ``hashtags``, ``mentions`` and ``image_hashes``, which are ``list<string>``;
- ``timestamp`` (events, sessions), ``created_at`` (accounts) and ``since`` (roles) are
  strings in a form the generic format accepts: ISO 8601 with ``Z`` or an offset, naive ISO
  (= UTC), or UNIX seconds. A reader that reads local times converts them to an offset form;
- optional extension columns of ``events``: ``domains`` (list: web domains given as such,
  e.g. anonymised domain codes; used as the ``domain`` objects instead of deriving them from
  ``urls``), ``object_ids`` (list: opaque objects of unknown type, e.g. CooRTweet's
  ``object_id``), ``ts_precision`` (``s``, ``min``, ... when the source is coarser
  than its text shows, e.g. ``min`` for the X archive), ``client_timestamp`` (a second, less
  trusted time, e.g. Bluesky's ``createdAt``);
- ``_line`` (int64): the line (or record) number in the source, for ``file:line`` errors;
- ``_error`` (string, optional): a reason the reader already knows the row is bad (null if
  fine). The pipeline reports or rejects such rows like any other bad row.

What a reader does with a record it cannot use, so that nothing is lost silently:

- a record that is bad (a missing id, an unparseable time, a line of the wrong kind) becomes a
  row with ``_error`` set: the pipeline refuses the file naming ``file:line``, or with
  ``--skip-bad-rows`` sets the row aside in the rejects file;
- a record that is left out on purpose because it is not one of the tables' rows (a Telegram
  service message, a Bluesky delete) is counted in :attr:`Chunk.skipped` by reason, with the
  first line, so the ingest report can say how many and where;
- a file that cannot be read at all raises :class:`~lockstep.exceptions.BadInputError`.

Design choices (one line each):

- ``MAX_RECORD_BYTES`` is one limit for every reader (a CSV row, a JSON line, a Telegram
  message), so that a file is not refused by one reader and accepted by the next; 16 MiB is
  DuckDB's own default for a JSON object and holds a twarc2 page of 500 tweets.
- ``Chunk.skipped`` rides on the chunks the reader yields anyway, so that the reader contract
  stays one iterator and counting costs nothing when nothing is skipped.

A reader raises :class:`~lockstep.exceptions.BadInputError` for a file it cannot read at all
(wrong encoding, truncated JSON, missing required column) and must never let a parser's
traceback escape for bad data.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

__all__ = ["TABLES", "LIST_COLUMNS", "GENERIC_COLUMNS", "REQUIRED_COLUMNS", "Chunk", "Reader",
           "DEFAULT_CHUNK_ROWS", "MAX_RECORD_BYTES"]

TABLES = ("events", "accounts", "sessions", "roles", "truth")

#: Multi-valued columns (whitespace-separated in CSV, lists elsewhere).
LIST_COLUMNS = frozenset({"urls", "hashtags", "mentions", "image_hashes"})

#: Generic format v1 columns per table, in order.
GENERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("platform", "event_id", "account_id", "timestamp", "action", "text", "urls",
               "hashtags", "mentions", "reposted_id", "replied_id", "image_hashes", "venue_id"),
    "accounts": ("platform", "account_id", "kind", "handle", "display_name", "bio",
                 "created_at", "claimed_country", "followers", "verified"),
    "sessions": ("platform", "account_id", "timestamp", "ip", "device_id", "user_agent",
                 "country"),
    "roles": ("platform", "account_id", "asset_id", "role", "since"),
    "truth": ("platform", "account_id", "network_id", "network_kind", "operator_id"),
}

#: Columns a row must have a value in (``platform`` may come from ``--platform``).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "account_id", "timestamp"),
    "accounts": ("account_id",),
    "sessions": ("account_id", "timestamp"),
    "roles": ("account_id", "asset_id"),
    "truth": ("account_id",),
}

DEFAULT_CHUNK_ROWS = 200_000

#: The longest record any reader accepts, in bytes: one CSV row (also one physical line and
#: one field), one JSON line, one Telegram message. Longer is refused with ``file:line``.
MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass
class Chunk:
    """A slice of one generic table read from one source file."""

    table: str
    data: pa.Table
    source: str
    #: Records read since the previous chunk and left out on purpose, by reason:
    #: ``reason -> (count, first line)`` (e.g. ``{"service message": (3, 120)}``).
    skipped: dict[str, tuple[int, int]] = field(default_factory=dict)


@runtime_checkable
class Reader(Protocol):
    """What a format reader provides; see the module docstring for the column contract."""

    #: The ``--format`` name, e.g. ``"telegram"``.
    name: str
    #: One line for ``lockstep ingest --help`` and the README's format table.
    description: str

    def sniff(self, path: Path) -> bool:
        """Return True when ``path`` is unambiguously in this format (by name or header)."""
        ...

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield the chunks of ``path``; ``platform`` fills a missing ``platform`` column."""
        ...
