"""Reader for X API v2 data saved by twarc2: raw response pages or flattened tweets (JSONL).

Two line shapes, mixed freely in one file:

- a raw response page ``{"data": [...], "includes": {"users": [...], ...}, "meta": ...,
  "__twarc": ...}`` (``data`` may also be a single tweet object, as tweet lookups return);
- a flattened tweet (``twarc2 flatten``): one tweet per line with its ``author`` inlined.

Tweet → ``events``: ``event_id`` = ``id``, ``account_id`` = ``author_id`` (or
``author.id``), ``timestamp`` = ``created_at`` (ISO UTC, kept as written), ``text``.
``action`` from ``referenced_tweets`` types: ``retweeted`` → ``repost``, else ``replied_to``
→ ``reply``, else ``quoted`` → ``quote``, else ``post`` (the same order as the X archive
reader). ``reposted_id`` / ``replied_id`` are the retweeted / replied-to ids and the quoted
id goes to extension ``quoted_id``, whatever the action. ``urls`` from
``entities.urls[].unwound_url`` or ``expanded_url`` or ``url``; ``hashtags`` from
``entities.hashtags[].tag``; ``mentions`` from ``entities.mentions[].id`` (falling back on
``username`` when the id is absent). Extension ``lang``. Platform ``x`` unless given.

Users from ``includes.users`` and inlined ``author`` objects → ``accounts`` (``id``,
``username`` → ``handle``, ``name`` → ``display_name``, ``description`` → ``bio``,
``created_at``, ``public_metrics.followers_count`` → ``followers``, ``verified``, extension
``location``), each user once per file (the first time it is seen).

Referenced tweets in ``includes.tweets`` are *not* turned into events: they are other
accounts' tweets, present only as context. ``_line`` is the JSONL line the tweet came from
(every tweet of one page shares its page's line).

Design choices (one line each):

- An id must be a string or a whole JSON number: a decimal (``1.5``, or ``1.4e18``, which has
  already lost digits) is an ``_error`` row, and ``NaN``/``Infinity``/``1e400`` are refused by
  the strict JSON decoder, so two different tweets can never collide on ``nan`` or ``inf``.
- A field of the wrong type where the mapping depends on it (``referenced_tweets`` or an
  entity list that is not a list of objects, a ``verified`` that is not a boolean, a user
  that is not an object) makes the row an ``_error`` row instead of being dropped, so a
  retweet never turns silently into a post.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.readers._util import BadRecord, ChunkBuilder, bool_str, clean_int, \
    iter_json_lines, sniff_first_json
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["Twarc2Reader", "tweet_row", "user_row"]

#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"quoted_id": False, "lang": False}
ACCOUNT_EXTENSIONS = {"location": False}
_SUFFIXES = (".jsonl", ".json", ".ndjson")
#: Keys of a response page (a page with only ``meta``/``errors`` holds no tweets).
_PAGE_KEYS = frozenset({"data", "includes", "meta", "errors"})


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _items(value: Any, what: str, errors: list[str]) -> list[dict[str, Any]]:
    """The objects of a list field; a field that is not a list of objects is an error."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.append(f"{what} is not a list of objects")
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) \
            else []
    return value


def _ident(value: Any, what: str, errors: list[str]) -> str | None:
    """An id as text: strings and whole numbers are kept exactly; anything else is an error."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if isinstance(value, float):
        errors.append(f"{what} {shown} is a decimal number, not an id (ids are strings)")
    else:
        errors.append(f"{what} {shown} is not an id")
    return None


def tweet_row(tweet: Any, platform: str, line: int) -> dict[str, Any]:
    """Map one API v2 tweet object to an ``events`` row.

    Parameters
    ----------
    tweet : object
        The tweet as parsed from JSON (anything else gives a row with ``_error``).
    platform : str
        The platform to write.
    line : int
        The JSONL line it came from.

    Returns
    -------
    dict
        The row, with ``_error`` set when the tweet has no id, author or time.
    """
    if not isinstance(tweet, dict):
        return {"platform": platform, "_line": line, "_error": "tweet is not a JSON object"}
    errors: list[str] = []
    author = tweet.get("author") if isinstance(tweet.get("author"), dict) else {}
    refs = {ref.get("type"): _ident(ref.get("id"), "referenced tweet id", errors)
            for ref in _items(tweet.get("referenced_tweets"), "referenced_tweets", errors)}
    if refs.get("retweeted"):
        action = "repost"
    elif refs.get("replied_to"):
        action = "reply"
    elif refs.get("quoted"):
        action = "quote"
    else:
        action = "post"
    entities = tweet.get("entities") if isinstance(tweet.get("entities"), dict) else {}
    urls = [_text(u.get("unwound_url")) or _text(u.get("expanded_url")) or _text(u.get("url"))
            for u in _items(entities.get("urls"), "entities.urls", errors)]
    hashtags = [_text(h.get("tag"))
                for h in _items(entities.get("hashtags"), "entities.hashtags", errors)]
    mentions = [_ident(m.get("id"), "mention id", errors) or _text(m.get("username"))
                for m in _items(entities.get("mentions"), "entities.mentions", errors)]
    row = {
        "platform": platform, "event_id": _ident(tweet.get("id"), "id", errors),
        "account_id": _ident(tweet.get("author_id"), "author_id", errors)
        or _ident(author.get("id"), "author.id", errors),
        "timestamp": _text(tweet.get("created_at")), "action": action,
        "text": tweet.get("text") if isinstance(tweet.get("text"), str) else None,
        "urls": urls, "hashtags": hashtags, "mentions": mentions,
        "reposted_id": refs.get("retweeted"), "replied_id": refs.get("replied_to"),
        "quoted_id": refs.get("quoted"), "lang": _text(tweet.get("lang")), "_line": line,
    }
    missing = [name for name, key in (("id", "event_id"), ("author_id", "account_id"),
                                      ("created_at", "timestamp")) if not row[key]]
    if missing:
        errors.insert(0, "tweet has no " + ", ".join(missing))
    if errors:
        row["_error"] = "; ".join(errors)
    return row


def user_row(user: dict[str, Any], platform: str, line: int) -> dict[str, Any]:
    """Map one API v2 user object to an ``accounts`` row."""
    metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
    errors: list[str] = []
    verified = bool_str(user.get("verified"))
    if verified is None and user.get("verified") is not None:
        errors.append(f"verified {user.get('verified')!r} is not true or false")
    row = {
        "platform": platform, "account_id": _ident(user.get("id"), "user id", errors),
        "kind": "user",
        "handle": _text(user.get("username")), "display_name": _text(user.get("name")),
        "bio": user.get("description") if isinstance(user.get("description"), str) else None,
        "created_at": _text(user.get("created_at")),
        "followers": clean_int(metrics.get("followers_count")),
        "verified": verified, "location": _text(user.get("location")),
        "_line": line,
    }
    if not row["account_id"] and not errors:
        errors.append("user has no id")
    if errors:
        row["_error"] = "; ".join(errors)
    return row


class Twarc2Reader:
    """Read twarc2 JSON Lines: raw API v2 response pages and flattened tweets.

    Attributes
    ----------
    name : str
        ``"twarc2"``.
    description : str
        One line for ``lockstep ingest --help``.

    See Also
    --------
    lockstep.readers.base.Reader : the contract this class implements.
    """

    name = "twarc2"
    description = "twarc2 JSON Lines (X API v2 response pages or `twarc2 flatten` output)"

    def sniff(self, path: Path) -> bool:
        """Return True for a ``.jsonl``/``.json`` file whose first line is a twarc2 record."""
        path = Path(path)
        if path.suffix.lower() not in _SUFFIXES:
            return False
        first = sniff_first_json(path)
        if first is None:
            return False
        return ("data" in first and "includes" in first) or "__twarc" in first \
            or ("author_id" in first and "created_at" in first)

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield ``events`` and ``accounts`` chunks as they fill.

        Parameters
        ----------
        path : Path
            The JSON Lines file.
        platform : str, optional
            Overrides the platform (default ``x``).
        chunk_rows : int
            The most rows per chunk.

        Yields
        ------
        Chunk
            ``events`` (extensions ``quoted_id``, ``lang``) and ``accounts`` (extension
            ``location``) chunks.

        Raises
        ------
        BadInputError
            For an empty file, invalid UTF-8 or a line that is not valid JSON.
        """
        path = Path(path)
        plat = platform or "x"
        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        accounts = ChunkBuilder("accounts", str(path), chunk_rows, ACCOUNT_EXTENSIONS)
        seen_users: set[str] = set()

        def add_user(user: Any, line: int) -> Chunk | None:
            if user is None:
                return None
            if not isinstance(user, dict):
                return accounts.add({"platform": plat, "_line": line,
                                     "_error": "a user is not a JSON object"})
            user_id = _text(user.get("id"))
            if user_id in seen_users:
                return None
            if user_id:
                seen_users.add(user_id)
            return accounts.add(user_row(user, plat, line))

        for line, record in iter_json_lines(path):
            if not isinstance(record, dict):
                reason = record.reason if isinstance(record, BadRecord) else \
                    "line is not a JSON object"
                chunk = events.add({"platform": plat, "_line": line, "_error": reason})
                if chunk:
                    yield chunk
                continue
            if "id" not in record and _PAGE_KEYS & record.keys():
                data = record.get("data")
                tweets = data if isinstance(data, list) else [data] if data is not None else []
                includes = record.get("includes")
                users = includes.get("users") if isinstance(includes, dict) else None
                if (includes is not None and not isinstance(includes, dict)) or \
                        (users is not None and not isinstance(users, list)):
                    chunk = accounts.add({"platform": plat, "_line": line,
                                          "_error": "includes.users is not a list of users"})
                    if chunk:
                        yield chunk
                    users = None
                users = users or []
            else:
                tweets, users = [record], [record.get("author")]
            for tweet in tweets:
                chunk = events.add(tweet_row(tweet, plat, line))
                if chunk:
                    yield chunk
            for user in users:
                chunk = add_user(user, line)
                if chunk:
                    yield chunk
        for builder in (events, accounts):
            last = builder.flush()
            if last:
                yield last
