"""Reader for Bluesky Jetstream captures (JSON Lines).

Each line is a Jetstream event ``{did, time_us, kind, commit|identity|account}``. Commits
with ``operation = create`` become ``events``:

- ``app.bsky.feed.post`` → ``post``; ``reply`` when ``record.reply`` is present
  (``replied_id`` = ``reply.parent.uri``). A record embed (``app.bsky.embed.record`` or the
  record of ``recordWithMedia``) is a quote: its URI goes to extension ``quoted_id``, and the
  action is ``quote`` unless the post is also a reply. ``urls`` from link facets (``uri``)
  and external embeds (``external.uri``); ``hashtags`` from tag facets (``tag``) and the
  record's ``tags``; ``mentions`` from mention facets (``did``); ``text`` = ``record.text``.
- ``app.bsky.feed.repost`` → ``repost``, ``reposted_id`` = ``subject.uri``.
- ``app.bsky.feed.like`` → ``react``, ``replied_id`` = ``subject.uri``.
- ``app.bsky.graph.follow`` → ``follow``, ``mentions`` = [``subject``] (a DID).

``event_id`` = ``at://{did}/{collection}/{rkey}``, ``account_id`` = ``did``.
``timestamp`` = ``time_us``, the relay's receive time, written exactly as ISO 8601 UTC with 6
decimals (``2024-09-09T19:46:02.329308Z``); extension ``client_timestamp`` =
``record.createdAt``, which the client sets and can forge or backdate, so it is kept but
never used as the event time.

``identity`` events → ``accounts`` (``did``, ``handle``; one row per DID, its latest handle,
emitted after the events). Updates, deletes, ``account`` events and creates of other
collections (blocks, list items, profiles ...) are not events: they are left out and counted
by reason, with the first line, in :attr:`~lockstep.readers.base.Chunk.skipped`. A line that
is not a Jetstream event at all (no ``kind``, an unknown ``kind``, a ``commit`` event without
its ``commit`` object or operation, a create without a collection) is an ``_error`` row.
Platform ``bluesky`` unless given.

Design choices (one line each):

- Only the known kinds and operations are left out, and counted: anything else is an error,
  because a line that is skipped because it is malformed is data lost without a word.
- Skips are counted rather than logged, so that the ingest report can show them.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.readers._util import BadRecord, ChunkBuilder, SkipCounter, iter_json_lines, \
    sniff_first_json, unix_us_to_iso, with_skips
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["BlueskyReader"]

POST, REPOST, LIKE, FOLLOW = ("app.bsky.feed.post", "app.bsky.feed.repost",
                              "app.bsky.feed.like", "app.bsky.graph.follow")
#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"client_timestamp": False, "quoted_id": False}
_SUFFIXES = (".jsonl", ".json", ".ndjson")
_MAX_US = 253_402_300_800_000_000  # 10000-01-01: beyond, no ISO time can be written
_OPERATIONS = ("create", "update", "delete")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _shown(value: Any) -> str:
    """A short, printable form of a JSON value for an error message."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _time_us(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_US:
        return value
    return None


def _post_fields(record: dict[str, Any]) -> dict[str, Any]:
    """Map a post record's reply, embed and facets to event columns."""
    urls, hashtags, mentions = [], [], []
    for facet in record.get("facets") or []:
        for feature in _dict(facet).get("features") or []:
            feature = _dict(feature)
            kind = str(feature.get("$type", ""))
            if kind.endswith("#link"):
                urls.append(_str(feature.get("uri")))
            elif kind.endswith("#tag"):
                hashtags.append(_str(feature.get("tag")))
            elif kind.endswith("#mention"):
                mentions.append(_str(feature.get("did")))
    hashtags += [_str(tag) for tag in record.get("tags") or [] if isinstance(tag, str)]
    embed = _dict(record.get("embed"))
    embed_type = str(embed.get("$type", ""))
    quoted = None
    if embed_type == "app.bsky.embed.record":
        quoted = _str(_dict(embed.get("record")).get("uri"))
    elif embed_type == "app.bsky.embed.recordWithMedia":
        quoted = _str(_dict(_dict(embed.get("record")).get("record")).get("uri"))
        embed = _dict(embed.get("media"))
    urls.append(_str(_dict(embed.get("external")).get("uri")))
    replied = _str(_dict(_dict(record.get("reply")).get("parent")).get("uri"))
    action = "reply" if record.get("reply") else "quote" if quoted else "post"
    text = record.get("text") if isinstance(record.get("text"), str) else None
    return {"action": action, "text": text, "urls": urls, "hashtags": hashtags,
            "mentions": mentions, "replied_id": replied, "quoted_id": quoted}


class BlueskyReader:
    """Read Bluesky Jetstream JSON Lines captures.

    Attributes
    ----------
    name : str
        ``"bluesky"``.
    description : str
        One line for ``lockstep ingest --help``.

    See Also
    --------
    lockstep.readers.base.Reader : the contract this class implements.
    """

    name = "bluesky"
    description = "Bluesky Jetstream JSON Lines (posts, replies, quotes, reposts, likes, follows)"

    def sniff(self, path: Path) -> bool:
        """Return True for a JSON Lines file whose first line is a Jetstream event."""
        path = Path(path)
        if path.suffix.lower() not in _SUFFIXES:
            return False
        first = sniff_first_json(path)
        return first is not None and {"did", "time_us", "kind"} <= first.keys()

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield ``events`` chunks as they fill, then the ``accounts`` chunks.

        Parameters
        ----------
        path : Path
            The JSON Lines file.
        platform : str, optional
            Overrides ``bluesky``.
        chunk_rows : int
            The most rows per chunk.

        Yields
        ------
        Chunk
            ``events`` (extensions ``client_timestamp``, ``quoted_id``) and ``accounts``.

        Raises
        ------
        BadInputError
            For an empty file, invalid UTF-8 or a line that is not valid JSON.
        """
        path = Path(path)
        skipped = SkipCounter()
        return with_skips(self._read(path, platform or "bluesky", chunk_rows, skipped), skipped,
                          path)

    def _read(self, path: Path, plat: str, chunk_rows: int, skipped: SkipCounter
              ) -> Iterator[Chunk]:
        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        handles: dict[str, tuple[int, str | None]] = {}
        for line, record in iter_json_lines(path):
            row = self._event(record, line, plat, handles, skipped)
            if row is not None:
                chunk = events.add(row)
                if chunk:
                    yield chunk
        last = events.flush()
        if last:
            yield last
        accounts = ChunkBuilder("accounts", str(path), chunk_rows)
        for did, (line, handle) in handles.items():
            chunk = accounts.add({"platform": plat, "account_id": did, "kind": "user",
                                  "handle": handle, "_line": line})
            if chunk:
                yield chunk
        last = accounts.flush()
        if last:
            yield last

    @staticmethod
    def _event(record: Any, line: int, plat: str, handles: dict[str, tuple[int, str | None]],
               skipped: SkipCounter) -> dict[str, Any] | None:
        """Return the ``events`` row of one Jetstream line, or None when it is left out."""
        def error(reason: str) -> dict[str, Any]:
            return {"platform": plat, "_line": line, "_error": reason}

        if isinstance(record, BadRecord):
            return error(record.reason)
        if not isinstance(record, dict):
            return error("line is not a JSON object")
        kind = record.get("kind")
        did = _str(record.get("did"))
        if kind == "identity":
            identity = _dict(record.get("identity"))
            key = _str(identity.get("did")) or did
            if not key:
                return error("identity event without a did")
            first_line = handles[key][0] if key in handles else line
            handles[key] = (first_line, _str(identity.get("handle")) or
                            (handles[key][1] if key in handles else None))
            return None
        if kind == "account":
            skipped.add("account event", line)
            return None
        if kind is None:
            return error("line has no kind (a Jetstream event has kind commit, identity or "
                         "account)")
        if kind != "commit":
            return error(f"unknown kind {_shown(kind)} (expected commit, identity or account)")
        if not isinstance(record.get("commit"), dict):
            return error("commit event without a commit object")
        commit = record["commit"]
        operation = commit.get("operation")
        if operation is None:
            return error("commit has no operation")
        if operation not in _OPERATIONS:
            return error(f"commit.operation {_shown(operation)} is not create, update or "
                         "delete")
        collection = _str(commit.get("collection"))
        if collection is None:
            return error("commit without a collection")
        if operation != "create":
            skipped.add(f"commit {operation}", line)
            return None
        if collection not in (POST, REPOST, LIKE, FOLLOW):
            skipped.add(f"create of {collection[:60]}", line)
            return None
        record_body = _dict(commit.get("record"))
        rkey = _str(commit.get("rkey"))
        micros = _time_us(record.get("time_us"))
        errors = [] if did else ["missing did"]
        errors += [] if rkey else ["missing commit.rkey"]
        if micros is None:
            errors.append(f"time_us {record.get('time_us')!r} is not UNIX microseconds")
        if not record_body:
            errors.append("missing commit.record")
        row: dict[str, Any] = {
            "platform": plat, "account_id": did,
            "event_id": f"at://{did}/{collection}/{rkey}" if did and rkey else None,
            "timestamp": unix_us_to_iso(micros) if micros is not None else None,
            "client_timestamp": _str(record_body.get("createdAt")), "_line": line,
        }
        subject = record_body.get("subject")
        if collection == POST:
            row.update(_post_fields(record_body))
            if record_body.get("reply") is not None and row["replied_id"] is None:
                errors.append("a reply without reply.parent.uri")
        elif collection == REPOST:
            row.update(action="repost", reposted_id=_str(_dict(subject).get("uri")))
        elif collection == LIKE:
            row.update(action="react", replied_id=_str(_dict(subject).get("uri")))
        else:
            row.update(action="follow", mentions=[_str(subject)])
        target = {REPOST: row.get("reposted_id"), LIKE: row.get("replied_id"),
                  FOLLOW: (row.get("mentions") or [None])[0]}.get(collection, "")
        if record_body and target is None:
            errors.append(f"a {collection.rsplit('.', 1)[-1]} without its subject "
                          f"({'a DID' if collection == FOLLOW else 'subject.uri'})")
        row["_error"] = "; ".join(errors) or None
        return row
