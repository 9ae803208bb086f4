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
    # message 8 has only the zone-less `date` while the others have date_unixtime: reading it
    # as UTC would shift it by the exporter's offset against the rest, so it is an error
    assert rows["channel1234567890:8"]["timestamp"] is None
    assert "no date_unixtime while earlier ones have it" in rows["channel1234567890:8"]["_error"]
    assert rows["channel1234567890:11"]["_error"] == "message has no date_unixtime or date"
    assert sum(r["_error"] is not None for r in rows.values()) == 2


def test_an_old_export_with_only_dates_uses_them(tmp_path: Path) -> None:
    doc = json.loads(GROUP.read_text(encoding="utf-8"))
    for message in doc["messages"]:
        message.pop("date_unixtime", None)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    rows = tables(path)["events"]
    assert rows and all(r["_error"] is None and "T" in r["timestamp"] for r in rows)


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


# --- issue 13: refused or reported, never loaded as nothing or shifted ---

def _doc(tmp_path: Path, change: object) -> Path:
    doc = json.loads(GROUP.read_text(encoding="utf-8"))
    if callable(change):
        change(doc)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize("value, shown", [(False, "false"), ({}, "an object"), ("x", "a string"),
                                          (None, "null"), (3, "the number 3")])
def test_messages_that_are_not_a_list_are_refused(tmp_path: Path, value: object,
                                                  shown: str) -> None:
    path = _doc(tmp_path, lambda d: d.update(messages=value))
    with pytest.raises(BadInputError, match=rf"result.json:\d+: messages is {shown}, not a list"):
        tables(path)


def test_a_document_without_messages_is_refused(tmp_path: Path) -> None:
    path = _doc(tmp_path, lambda d: d.pop("messages"))
    with pytest.raises(BadInputError, match="no messages list: not a Telegram chat export"):
        tables(path)


def test_an_empty_chat_loads_only_its_account(tmp_path: Path) -> None:
    got = tables(_doc(tmp_path, lambda d: d.update(messages=[])))
    assert list(got) == ["accounts"] and got["accounts"][0]["kind"] == "group"


@pytest.mark.parametrize("unixtime", ["16461x", "", "-5", "1.5e9", 1.5, True, ["1"], "\u00b2"])
def test_an_invalid_date_unixtime_is_an_error_not_a_shifted_date(tmp_path: Path,
                                                                  unixtime: object) -> None:
    def change(doc: dict) -> None:
        doc["messages"][1]["date_unixtime"] = unixtime
    path = _doc(tmp_path, change)
    rows = {r["_line"]: r for r in tables(path)["events"]}
    bad = [r for r in rows.values() if r["_error"]]
    if unixtime == "":  # empty = missing: the zone-less date, but the other messages have it
        assert "no date_unixtime while earlier ones have it" in bad[0]["_error"]
    else:
        assert "is not UNIX seconds" in bad[0]["_error"]
    assert len(bad) == 1 and bad[0]["timestamp"] is None


@pytest.mark.parametrize("message_id, reason", [
    (1.5, "message id 1.5 is not an id"), (True, "message id true is not an id"),
    ("NaN-literal", "NaN is not a JSON number"), ("1e400-literal", "out of range"),
])
def test_message_ids_that_are_not_ids_are_errors(tmp_path: Path, message_id: object,
                                                 reason: str) -> None:
    def change(doc: dict) -> None:
        doc["messages"][1]["id"] = message_id
    path = _doc(tmp_path, change)
    if isinstance(message_id, str):  # write the non-JSON literal itself
        text = path.read_text(encoding="utf-8").replace(f'"{message_id}"',
                                                        message_id.split("-")[0])
        path.write_text(text, encoding="utf-8")
    rows = tables(path)["events"]
    errors = [r["_error"] for r in rows if r["_error"]]
    assert len(errors) == 1 and reason in errors[0]
    assert not any(r["event_id"] and r["event_id"].endswith((":nan", ":inf", ":1.5", ":True"))
                   for r in rows)


def test_service_messages_are_counted(tmp_path: Path) -> None:
    skipped: dict[str, tuple[int, int]] = {}
    for chunk in TelegramReader().read(CHANNEL):
        skipped.update(chunk.skipped)
    assert skipped == {"service message": (2, 6)}  # the first message's "{" line


def test_a_message_of_an_unknown_type_is_an_error(tmp_path: Path) -> None:
    def change(doc: dict) -> None:
        doc["messages"][1]["type"] = "poll_result"
    rows = tables(_doc(tmp_path, change))["events"]
    assert ['message type "poll_result" is not message or service' in (r["_error"] or "")
            for r in rows].count(True) == 1


@pytest.mark.parametrize("key, value", [("reply_to_message_id", 1.5), ("from_id", True),
                                        ("forwarded_from_id", {}), ("reply_to_peer_id", [1]),
                                        ("forwarded_message_id", 2.5)])
def test_an_unusable_reference_is_an_error_not_dropped(tmp_path: Path, key: str,
                                                       value: object) -> None:
    # dropped, it would turn a reply into a post or give the message to the chat itself
    def change(doc: dict) -> None:
        doc["messages"][1][key] = value
    rows = tables(_doc(tmp_path, change))["events"]
    errors = [r["_error"] for r in rows if r["_error"]]
    assert errors == [f"{key} {json.dumps(value)} is not an id"]
