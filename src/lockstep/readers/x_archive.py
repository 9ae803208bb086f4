"""Reader for the X (Twitter) information-operations archive: tweets and users CSV files.

The archive (``<campaign>_<YYYYMM>[_n]_tweets_csv_hashed.csv`` and
``..._users_csv_hashed.csv``) is read by header name, since the column order differs
between releases.

Tweets file → ``events`` (and ``accounts``)
    ``event_id`` = ``tweetid``, ``account_id`` = ``userid``, ``timestamp`` = ``tweet_time``
    (a UTC string, ``2019-01-02 13:45``: minute precision gives extension
    ``ts_precision="min"``, a time with seconds gives ``"s"``; written as ISO with ``Z``).
    ``action``: ``repost`` when ``is_retweet`` is true, else ``reply`` when
    ``in_reply_to_tweetid`` is set, else ``quote`` when ``quoted_tweet_tweetid`` is set, else
    ``post``. ``reposted_id`` = ``retweet_tweetid``, ``replied_id`` = ``in_reply_to_tweetid``,
    extension ``quoted_id`` = ``quoted_tweet_tweetid`` (set whatever the action),
    ``text`` = ``tweet_text``, extension ``client`` = ``tweet_client_name``.
    ``hashtags``, ``urls`` and ``user_mentions`` are list-like strings (``[a, b]``,
    ``['a', 'b']``, ``[]``). The user columns repeated on every tweet also give one
    ``accounts`` row per ``userid`` (its first row).

Users file → ``accounts``
    ``account_id`` = ``userid``, ``handle`` = ``user_screen_name``, ``display_name`` =
    ``user_display_name``, ``bio`` = ``user_profile_description``, ``created_at`` =
    ``account_creation_date``, ``followers`` = ``follower_count``. ``claimed_country`` stays
    empty: ``user_reported_location`` is free text, kept as extension ``location``.

Platform is ``x`` unless ``platform`` is given. All ids stay strings (hashed ids are hex;
unhashed ones exceed 2^53).

Design choices (one line each):

- The CSV goes through :class:`~lockstep.readers._util.CsvFile`: strict quoting (a quote left
  open by a truncated file is refused), the shared record limit, and a repeated column name
  refused by name.
- An ``is_retweet`` that is neither true nor false is an ``_error``: read as false, it would
  turn a retweet into a post without a word.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.readers._util import (ChunkBuilder, CsvFile, bool_str, clean_int, parse_list_like,
                                   sniff_csv_header)
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["XArchiveReader"]

_NAME = re.compile(r"_(tweets|users)_csv_(un)?hashed\.csv$", re.IGNORECASE)
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(?:Z|\+00:?00| UTC)?$")

#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"ts_precision": False, "quoted_id": False, "client": False}
ACCOUNT_EXTENSIONS = {"location": False}

_USER_COLUMNS = {
    "handle": "user_screen_name",
    "display_name": "user_display_name",
    "bio": "user_profile_description",
    "created_at": "account_creation_date",
    "location": "user_reported_location",
}


def _tweet_time(value: str) -> tuple[str | None, str | None, str | None]:
    """Return ``(iso, precision, error)`` for a ``tweet_time`` value."""
    text = value.strip()
    if not text:
        return None, None, "missing tweet_time"
    match = _TIME.match(text)
    if match is None:
        return None, None, f"tweet_time {text!r} is not a UTC time like 2019-01-02 13:45"
    day, minute, seconds = match.groups()
    if seconds:
        return f"{day}T{minute}{seconds}Z", "s", None
    return f"{day}T{minute}:00Z", "min", None


class XArchiveReader:
    """Read X information-operations archive tweets and users files.

    Attributes
    ----------
    name : str
        ``"x-archive"``.
    description : str
        One line for ``lockstep ingest --help``.

    See Also
    --------
    lockstep.readers.base.Reader : the contract this class implements.
    """

    name = "x-archive"
    description = ("X/Twitter information-operations archive: *_tweets_csv_hashed.csv "
                   "(events + accounts) and *_users_csv_hashed.csv (accounts)")

    def sniff(self, path: Path) -> bool:
        """Return True for an archive file name or a tweets/users header."""
        path = Path(path)
        if _NAME.search(path.name):
            return True
        header = sniff_csv_header(path)
        if header is None:
            return False
        if {"tweetid", "userid", "tweet_time"} <= set(header):
            return True
        return header[:2] == ["userid", "user_display_name"]

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield ``events`` and ``accounts`` chunks (tweets file) or ``accounts`` (users file).

        Parameters
        ----------
        path : Path
            A tweets or users CSV file.
        platform : str, optional
            Overrides the platform (default ``x``).
        chunk_rows : int
            The most rows per chunk.

        Yields
        ------
        Chunk
            Chunks of both tables, interleaved as they fill.

        Raises
        ------
        BadInputError
            For an empty file, invalid UTF-8, a CSV syntax error or a missing column
            (``tweetid``/``userid``/``tweet_time`` for tweets, ``userid`` for users).
        """
        path = Path(path)
        csv_file = CsvFile(path)
        plat = platform or "x"
        accounts = ChunkBuilder("accounts", str(path), chunk_rows, ACCOUNT_EXTENSIONS)
        is_tweets = "tweetid" in csv_file.index or "tweets" in path.name.lower()
        if is_tweets:
            csv_file.require("tweetid", "userid", "tweet_time")
            yield from self._tweets(csv_file, plat, accounts, chunk_rows)
        else:
            csv_file.require("userid")
            for line, fields, error in csv_file.rows():
                row = self._account(csv_file, fields, plat, line)
                if error:
                    row["_error"] = error
                elif not row["account_id"]:
                    row["_error"] = "missing userid"
                chunk = accounts.add(row)
                if chunk:
                    yield chunk
        last = accounts.flush()
        if last:
            yield last

    @staticmethod
    def _account(csv_file: CsvFile, fields: list[str], plat: str, line: int) -> dict[str, Any]:
        index = csv_file.index
        row: dict[str, Any] = {"platform": plat, "kind": "user", "_line": line,
                               "account_id": fields[index["userid"]].strip() or None}
        for column, source in _USER_COLUMNS.items():
            if source in index:
                row[column] = fields[index[source]].strip() or None
        if "follower_count" in index:
            row["followers"] = clean_int(fields[index["follower_count"]])
        return row

    def _tweets(self, csv_file: CsvFile, plat: str, accounts: ChunkBuilder,
                chunk_rows: int) -> Iterator[Chunk]:
        index = csv_file.index
        events = ChunkBuilder("events", str(csv_file.path), chunk_rows, EVENT_EXTENSIONS)
        has_user_columns = any(source in index for source in _USER_COLUMNS.values())
        seen_users: set[str] = set()

        def get(fields: list[str], name: str) -> str | None:
            position = index.get(name)
            return (fields[position].strip() or None) if position is not None else None

        for line, fields, error in csv_file.rows():
            errors = [error] if error else []
            tweet_id, user_id = get(fields, "tweetid"), get(fields, "userid")
            timestamp, precision, time_error = _tweet_time(fields[index["tweet_time"]])
            errors += [time_error] if time_error else []
            errors += [] if tweet_id else ["missing tweetid"]
            errors += [] if user_id else ["missing userid"]
            retweeted, replied = get(fields, "retweet_tweetid"), get(fields, "in_reply_to_tweetid")
            quoted = get(fields, "quoted_tweet_tweetid")
            is_retweet = bool_str(get(fields, "is_retweet"))
            if is_retweet is None and get(fields, "is_retweet") is not None:
                errors.append(f"is_retweet {get(fields, 'is_retweet')!r} is not true or false")
            if is_retweet == "true":
                action = "repost"
            elif replied:
                action = "reply"
            elif quoted:
                action = "quote"
            else:
                action = "post"
            text_position = index.get("tweet_text")
            chunk = events.add({
                "platform": plat, "event_id": tweet_id, "account_id": user_id,
                "timestamp": timestamp, "action": action,
                "text": fields[text_position] if text_position is not None else None,
                "urls": parse_list_like(get(fields, "urls")),
                "hashtags": parse_list_like(get(fields, "hashtags")),
                "mentions": parse_list_like(get(fields, "user_mentions")),
                "reposted_id": retweeted, "replied_id": replied, "quoted_id": quoted,
                "ts_precision": precision, "client": get(fields, "tweet_client_name"),
                "_line": line, "_error": "; ".join(errors) or None,
            })
            if chunk:
                yield chunk
            if has_user_columns and user_id and user_id not in seen_users:
                seen_users.add(user_id)
                chunk = accounts.add(self._account(csv_file, fields, plat, line))
                if chunk:
                    yield chunk
        last = events.flush()
        if last:
            yield last
