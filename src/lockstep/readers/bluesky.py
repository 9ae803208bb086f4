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
collections (blocks, list items, profiles ...) are skipped without error; their counts are
logged at DEBUG level only. Platform ``bluesky`` unless given.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.readers._util import ChunkBuilder, iter_json_lines, sniff_first_json, \
    unix_us_to_iso
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["BlueskyReader"]

_log = logging.getLogger(__name__)

POST, REPOST, LIKE, FOLLOW = ("app.bsky.feed.post", "app.bsky.feed.repost",
                              "app.bsky.feed.like", "app.bsky.graph.follow")
#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"client_timestamp": False, "quoted_id": False}
_SUFFIXES = (".jsonl", ".json", ".ndjson")
_MAX_US = 253_402_300_800_000_000  # 10000-01-01: beyond, no ISO time can be written


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _time_us(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
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
        plat = platform or "bluesky"
        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        handles: dict[str, tuple[int, str | None]] = {}
        skipped: Counter[str] = Counter()
        for line, record in iter_json_lines(path):
            row = self._event(record, line, plat, handles, skipped)
            if row is not None:
                chunk = events.add(row)
                if chunk:
                    yield chunk
        last = events.flush()
        if last:
            yield last
        if skipped:
            _log.debug("%s: skipped %s", path, dict(skipped))
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
               skipped: Counter[str]) -> dict[str, Any] | None:
        """Return the ``events`` row of one Jetstream line, or None when it is skipped."""
        if not isinstance(record, dict):
            return {"platform": plat, "_line": line, "_error": "line is not a JSON object"}
        kind = record.get("kind")
        did = _str(record.get("did"))
        if kind == "identity":
            identity = _dict(record.get("identity"))
            key = _str(identity.get("did")) or did
            if key:
                first_line = handles[key][0] if key in handles else line
                handles[key] = (first_line, _str(identity.get("handle")) or
                                (handles[key][1] if key in handles else None))
            return None
        commit = _dict(record.get("commit"))
        if kind != "commit" or commit.get("operation") != "create":
            skipped[f"{kind}:{commit.get('operation', '')}" if kind == "commit" else str(kind)] += 1
            return None
        collection = _str(commit.get("collection"))
        if collection not in (POST, REPOST, LIKE, FOLLOW):
            skipped[f"create:{collection}"] += 1
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
        elif collection == REPOST:
            row.update(action="repost", reposted_id=_str(_dict(subject).get("uri")))
        elif collection == LIKE:
            row.update(action="react", replied_id=_str(_dict(subject).get("uri")))
        else:
            row.update(action="follow", mentions=[_str(subject)])
        row["_error"] = "; ".join(errors) or None
        return row
