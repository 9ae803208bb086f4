"""Tests for the twarc2 JSON Lines reader."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers.base import Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "twarc2"
OTHERS = {"coortweet": CoorTweetReader, "x-archive": XArchiveReader,
          "crowdtangle": CrowdTangleReader, "telegram": TelegramReader, "bluesky": BlueskyReader}


def read(path: Path, **kwargs: object) -> dict[str, dict[str, dict]]:
    """Rows by table, keyed by event id / account id."""
    tables: dict[str, list[pa.Table]] = {}
    for chunk in Twarc2Reader().read(path, **kwargs):
        assert chunk.source == str(path)
        tables.setdefault(chunk.table, []).append(chunk.data)
    key = {"events": "event_id", "accounts": "account_id"}
    return {name: {row[key[name]]: row for row in pa.concat_tables(parts).to_pylist()}
            for name, parts in tables.items()}


def test_protocol() -> None:
    reader = Twarc2Reader()
    assert isinstance(reader, Reader) and reader.name == "twarc2"


def test_page_tweets() -> None:
    events = read(HERE / "pages.jsonl")["events"]
    assert len(events) == 6  # includes.tweets are context, not events
    post = events["1600000000000000001"]
    assert post["account_id"] == "1412345678901234567890"
    assert post["timestamp"] == "2022-12-01T10:00:00.000Z" and post["platform"] == "x"
    assert post["action"] == "post" and post["_line"] == 1 and post["lang"] == "de"
    assert post["urls"] == ["https://example.com/klima?x=1"]  # unwound_url first
    assert post["hashtags"] == ["Klima", "COP27"] and post["mentions"] == ["2244994945"]
    retweet = events["1600000000000000002"]
    assert retweet["action"] == "repost" and retweet["reposted_id"] == "1600000000000000001"
    reply = events["1600000000000000003"]
    assert reply["action"] == "reply" and reply["replied_id"] == "1600000000000000001"
    assert reply["urls"] == ["https://example.org/a"]  # expanded_url
    assert reply["mentions"] == ["klimafan"]  # no id: the username
    quote = events["1600000000000000004"]
    assert quote["action"] == "quote" and quote["quoted_id"] == "1600000000000000001"
    assert quote["_line"] == 2
    assert quote["urls"] == ["https://t.co/ghi",
                             "https://twitter.com/klimafan/status/1600000000000000001"]
    both = events["1600000000000000005"]
    assert both["action"] == "reply" and both["replied_id"] == "1600000000000000003"
    assert both["quoted_id"] == "1600000000000000004"
    assert events["1600000000000000006"]["_error"] == "tweet has no created_at"
    assert sum(e["_error"] is not None for e in events.values()) == 1


def test_users_deduplicated() -> None:
    accounts = read(HERE / "pages.jsonl")["accounts"]
    assert len(accounts) == 3
    fan = accounts["1412345678901234567890"]
    assert fan == {**fan, "handle": "klimafan", "display_name": "Klima Fan",
                   "bio": "Für das Klima 🌍", "created_at": "2019-05-01T10:00:00.000Z",
                   "followers": "1234", "verified": "false", "location": "Berlin",
                   "kind": "user", "platform": "x", "_line": 1}
    assert accounts["2244994945"]["verified"] == "true"


def test_flattened_lines() -> None:
    tables = read(HERE / "flattened.jsonl")
    events, accounts = tables["events"], tables["accounts"]
    assert [e["_line"] for e in events.values()] == [1, 2, 3]
    assert events["1600000000000000101"]["hashtags"] == ["API"]
    retweet = events["1600000000000000102"]
    assert retweet["action"] == "repost" and retweet["reposted_id"] == "1600000000000000101"
    assert retweet["account_id"] == "1412345678901234567890"
    assert set(accounts) == {"2244994945", "1412345678901234567890"}
    assert accounts["2244994945"]["followers"] == "570000"


def test_chunking_gives_the_same_content() -> None:
    path = HERE / "pages.jsonl"
    chunks = list(Twarc2Reader().read(path, chunk_rows=3))
    assert sum(c.table == "events" for c in chunks) == 2
    assert all(c.data.num_rows <= 3 for c in chunks)
    whole = list(Twarc2Reader().read(path))
    for table in ("events", "accounts"):
        assert pa.concat_tables(c.data for c in chunks if c.table == table).to_pylist() == \
            pa.concat_tables(c.data for c in whole if c.table == table).to_pylist()


@pytest.mark.parametrize("name, line, words", [
    ("bad_truncated.jsonl", 2, "truncated JSON"),
    ("bad_utf8.jsonl", 3, "UTF-8"),
    ("empty.jsonl", None, "empty file"),
])
def test_unreadable_files(name: str, line: int | None, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(Twarc2Reader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


def test_sniff() -> None:
    reader = Twarc2Reader()
    assert reader.sniff(HERE / "pages.jsonl") and reader.sniff(HERE / "flattened.jsonl")
    assert not reader.sniff(HERE / "empty.jsonl")
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)
