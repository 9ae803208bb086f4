"""Tests for the Telegram Desktop result.json reader."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers import telegram
from lockstep.readers.base import Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "telegram"
CHANNEL = HERE / "channel_result.json"
GROUP = HERE / "group_result.json"
OTHERS = {"coortweet": CoorTweetReader, "x-archive": XArchiveReader, "twarc2": Twarc2Reader,
          "crowdtangle": CrowdTangleReader, "bluesky": BlueskyReader}


def tables(path: Path, **kwargs: object) -> dict[str, list[dict]]:
    parts: dict[str, list[pa.Table]] = {}
    for chunk in TelegramReader().read(path, **kwargs):
        assert chunk.source == str(path)
        parts.setdefault(chunk.table, []).append(chunk.data)
    return {name: pa.concat_tables(p).to_pylist() for name, p in parts.items()}


def events(path: Path, **kwargs: object) -> dict[str, dict]:
    return {row["event_id"]: row for row in tables(path, **kwargs)["events"]}


def test_protocol() -> None:
    reader = TelegramReader()
    assert isinstance(reader, Reader) and reader.name == "telegram"


def test_channel_messages() -> None:
    rows = events(CHANNEL)
    assert len(rows) == 10  # 12 messages, 2 of them service messages
    plain = rows["channel1234567890:2"]
    assert plain["account_id"] == "channel1234567890" and plain["platform"] == "telegram"
    assert plain["timestamp"] == "1646125200" and plain["action"] == "post"
    assert plain["text"] == "Plain text post" and plain["venue_id"] == "channel1234567890"
    assert plain["_line"] == 17 and plain["_error"] is None
    rich = rows["channel1234567890:3"]
    assert rich["text"] == "Read https://example.com/a and this #news @otherchannel Ivan bold"
    assert rich["urls"] == ["https://example.com/a", "https://example.org/b?x=1"]
    assert rich["hashtags"] == ["news"]
    assert rich["mentions"] == ["otherchannel", "user5551234"]
    assert rows["channel1234567890:12"]["urls"] == ["https://example.ru/путь"]


def test_forwards_and_replies() -> None:
    rows = events(CHANNEL)
    forward = rows["channel1234567890:4"]
    assert forward["action"] == "forward" and forward["reposted_id"] == "channel987654321"
    assert forward["forwarded_from"] == "Big Source" and forward["hashtags"] == ["news"]
    hidden = rows["channel1234567890:5"]
    assert hidden["action"] == "forward" and hidden["reposted_id"] is None
    assert rows["channel1234567890:10"]["reposted_id"] == "channel987654321:4410"
    reply = rows["channel1234567890:6"]
    assert reply["action"] == "reply" and reply["replied_id"] == "channel1234567890:2"
    cross = events(GROUP)["channel1777000111:105"]
    assert cross["replied_id"] == "channel1234567890:55"  # reply_to_peer_id


def test_dates() -> None:
    rows = events(CHANNEL)
    assert rows["channel1234567890:8"]["timestamp"] == "2022-03-01T13:06:00"  # only `date`
    assert rows["channel1234567890:8"]["_error"] is None
    assert rows["channel1234567890:11"]["_error"] == "message has no date_unixtime or date"
    assert sum(r["_error"] is not None for r in rows.values()) == 1


def test_accounts() -> None:
    channel = tables(CHANNEL)["accounts"]
    assert channel == [{**channel[0], "account_id": "channel1234567890", "kind": "channel",
                        "display_name": "Novosti Segodnya", "platform": "telegram"}]
    group = {r["account_id"]: r for r in tables(GROUP)["accounts"]}
    assert group["channel1777000111"]["kind"] == "group"
    assert group["user1412345678901234567890"]["display_name"] == "Anna"
    assert group["channel1234567890"]["kind"] == "channel"
    assert len(group) == 5


def test_group_senders_and_huge_ids() -> None:
    rows = events(GROUP)
    assert rows["channel1777000111:100"]["account_id"] == "user1412345678901234567890"
    assert rows["channel1777000111:100"]["_line"] == 6
    forward = rows["channel1777000111:103"]
    assert forward["action"] == "forward" and forward["reposted_id"] == "channel1234567890"


def test_tiny_blocks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = tables(CHANNEL)
    monkeypatch.setattr(telegram, "_BLOCK", 7)
    assert tables(CHANNEL) == whole


def test_key_order_and_large_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    messages = [{"id": i, "type": "message", "date_unixtime": str(1_600_000_000 + i),
                 "from_id": f"user{i % 7}", "text": f"m{i}"} for i in range(1, 20_001)]
    doc = {"messages": messages, "name": "Late", "type": "private_group", "id": 42}
    path.write_text(json.dumps(doc), encoding="utf-8")  # one line, chat id after messages
    rows = tables(path, chunk_rows=5_000)["events"]
    assert len(rows) == 20_000 and rows[-1]["event_id"] == "chat42:20000"
    assert rows[0]["_line"] == 1 and rows[0]["account_id"] == "user1"


def test_chunking_gives_the_same_content() -> None:
    chunks = list(TelegramReader().read(CHANNEL, chunk_rows=3))
    assert sum(c.table == "events" for c in chunks) == 4
    assert all(c.data.num_rows <= 3 for c in chunks)
    assert {name: rows for name, rows in tables(CHANNEL).items()} == {
        name: pa.concat_tables(c.data for c in chunks if c.table == name).to_pylist()
        for name in ("events", "accounts")}


@pytest.mark.parametrize("name, line, words", [
    ("bad_truncated.json", 167, "truncated JSON"),
    ("bad_utf8.json", 172, "re-encode"),
    ("bad_syntax.json", 207, "invalid JSON"),
])
def test_unreadable_files(name: str, line: int, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(TelegramReader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


@pytest.mark.parametrize("content, words", [
    ("", "empty file"), ("   \n", "empty file"), ("[1, 2]", "expected '{'"),
    ('{"about": "x", "chats": {"list": []}}', "full-account"),
    ('{"name": "x", "id": 1, "messages": [{"id": 1}] } extra', "extra data"),
])
def test_unreadable_documents(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        list(TelegramReader().read(path))
    assert words in info.value.errors[0].reason


def test_sniff() -> None:
    reader = TelegramReader()
    for name in ("channel_result.json", "group_result.json", "bad_truncated.json"):
        assert reader.sniff(HERE / name), name
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)
