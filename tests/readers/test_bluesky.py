"""Tests for the Bluesky Jetstream reader."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers._util import unix_us_to_iso
from lockstep.readers.base import Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "bluesky"
STREAM = HERE / "jetstream.jsonl"
OTHERS = {"coortweet": CoorTweetReader, "x-archive": XArchiveReader, "twarc2": Twarc2Reader,
          "crowdtangle": CrowdTangleReader, "telegram": TelegramReader}
ALICE, BOB, CAROL = ("did:plc:eygmaihciaxprqvxpfvl6flk", "did:plc:wa7b35aakoll7hugkrjtf3xf",
                     "did:web:example.com")
BOB_POST = f"at://{BOB}/app.bsky.feed.post/3l3pte3p2e325"


def tables(path: Path, **kwargs: object) -> dict[str, list[dict]]:
    parts: dict[str, list[pa.Table]] = {}
    for chunk in BlueskyReader().read(path, **kwargs):
        assert chunk.source == str(path)
        parts.setdefault(chunk.table, []).append(chunk.data)
    return {name: pa.concat_tables(p).to_pylist() for name, p in parts.items()}


def events() -> dict[int, dict]:
    return {row["_line"]: row for row in tables(STREAM)["events"]}


def test_protocol() -> None:
    reader = BlueskyReader()
    assert isinstance(reader, Reader) and reader.name == "bluesky"


def test_post_with_facets() -> None:
    post = events()[2]
    assert post["event_id"] == f"at://{ALICE}/app.bsky.feed.post/3l3qo2vuowo2b"
    assert post["account_id"] == ALICE and post["platform"] == "bluesky"
    assert post["timestamp"] == "2024-09-09T19:46:02.329308Z"  # time_us, exact
    assert post["client_timestamp"] == "2024-09-09T19:46:02.102Z"
    assert post["action"] == "post" and post["text"].startswith("Klima jetzt!")
    assert post["urls"] == ["https://example.com/a"] and post["hashtags"] == ["klima"]
    assert post["mentions"] == [BOB] and post["_error"] is None


def test_backdated_post_keeps_relay_time() -> None:
    post = events()[3]
    assert post["timestamp"] == "2024-09-09T19:46:03.000000Z"
    assert post["client_timestamp"] == "2020-01-01T00:00:00.000Z"
    assert post["urls"] == ["https://news.example.org/story"] and post["hashtags"] == ["backdated"]


def test_actions() -> None:
    rows = events()
    assert rows[4]["action"] == "reply" and rows[4]["replied_id"] == BOB_POST
    assert rows[5]["action"] == "quote" and rows[5]["quoted_id"] == BOB_POST
    assert rows[6]["action"] == "quote" and rows[6]["quoted_id"] == BOB_POST
    assert rows[6]["urls"] == ["https://media.example.net/x"]
    assert rows[7]["action"] == "repost" and rows[7]["reposted_id"] == BOB_POST
    assert rows[7]["event_id"] == f"at://{ALICE}/app.bsky.feed.repost/3l3qrepost001"
    assert rows[8]["action"] == "react" and rows[8]["replied_id"] == BOB_POST
    assert rows[9]["action"] == "follow" and rows[9]["mentions"] == [ALICE]


def test_skipped_and_bad_lines() -> None:
    rows = events()
    # identity (1, 10, 15), account (11), delete (12), update (13), block (14): no events
    assert list(rows) == [2, 3, 4, 5, 6, 7, 8, 9, 16, 17]
    assert "time_us 'soon'" in rows[16]["_error"] and rows[16]["timestamp"] is None
    assert sum(r["_error"] is not None for r in rows.values()) == 1


def test_identity_accounts() -> None:
    accounts = tables(STREAM)["accounts"]
    assert [(a["account_id"], a["handle"], a["_line"]) for a in accounts] == [
        (ALICE, "alice.example.com", 1), (BOB, "bob.test", 10)]  # the latest handle


def test_unix_us_to_iso() -> None:
    assert unix_us_to_iso(0) == "1970-01-01T00:00:00.000000Z"
    assert unix_us_to_iso(1725911162329308) == "2024-09-09T19:46:02.329308Z"


def test_chunking_gives_the_same_content() -> None:
    chunks = list(BlueskyReader().read(STREAM, chunk_rows=3))
    assert sum(c.table == "events" for c in chunks) == 4
    assert all(c.data.num_rows <= 3 for c in chunks)
    assert tables(STREAM) == {
        name: pa.concat_tables(c.data for c in chunks if c.table == name).to_pylist()
        for name in ("events", "accounts")}


@pytest.mark.parametrize("name, line, words", [
    ("bad_truncated.jsonl", 2, "truncated JSON"),
    ("bad_utf8.jsonl", 2, "UTF-8"),
])
def test_unreadable_files(name: str, line: int, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(BlueskyReader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


def test_sniff() -> None:
    reader = BlueskyReader()
    assert reader.sniff(STREAM) and reader.sniff(HERE / "bad_utf8.jsonl")
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)
