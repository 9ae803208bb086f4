"""Tests for the CrowdTangle CSV export reader."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers.base import Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader, local_to_iso
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "crowdtangle"
OTHERS = {"coortweet": CoorTweetReader, "x-archive": XArchiveReader, "twarc2": Twarc2Reader,
          "telegram": TelegramReader, "bluesky": BlueskyReader}
BIG = "1412345678901234567890"


def read(path: Path, **kwargs: object) -> dict[str, dict]:
    """Events keyed by line, accounts keyed by account id."""
    tables: dict[str, list[pa.Table]] = {}
    for chunk in CrowdTangleReader().read(path, **kwargs):
        assert chunk.source == str(path)
        tables.setdefault(chunk.table, []).append(chunk.data)
    events = pa.concat_tables(tables["events"]).to_pylist()
    accounts = pa.concat_tables(tables["accounts"]).to_pylist()
    return {"events": {r["_line"]: r for r in events},
            "accounts": {r["account_id"]: r for r in accounts}}


def test_protocol() -> None:
    reader = CrowdTangleReader()
    assert isinstance(reader, Reader) and reader.name == "crowdtangle"


def test_facebook_events() -> None:
    events = read(HERE / "facebook_pages.csv")["events"]
    first = events[2]
    assert first["platform"] == "facebook"
    assert first["event_id"] == "https://www.facebook.com/dailytruth/posts/1001"
    assert first["account_id"] == "100064123456789" and first["venue_id"] == "100064123456789"
    assert first["timestamp"] == "2021-07-06T16:45:20-04:00"
    assert first["text"] == "Read this, now!"  # Message, not the link preview Description
    assert first["urls"] == ["https://bit.ly/3xyz", "https://example.com/story?id=1"]
    assert first["action"] == "post" and first["post_type"] == "Link" and first["_error"] is None
    assert events[3]["urls"] == ["https://example.com/story?id=2"]  # Link == Final Link
    multi = events[4]  # a quoted newline: the row spans lines 4 and 5
    assert multi["text"] == "Multi\nline message" and multi["account_id"] == BIG
    assert multi["timestamp"] == "2021-01-15T08:30:00-05:00"
    assert events[6]["text"] is None and events[6]["urls"] == []
    assert events[7]["timestamp"] == "2021-07-06T18:00:00+02:00"  # CEST
    assert events[8]["timestamp"] == "2021-07-06T22:30:00+05:30"  # IST = India
    assert events[13]["timestamp"] == "2021-07-06T10:00:00+02:00"  # numeric offset
    assert list(events) == [2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13]


def test_bad_rows_get_an_error() -> None:
    events = read(HERE / "facebook_pages.csv")["events"]
    assert "unknown timezone abbreviation 'XYZ'" in events[9]["_error"]
    assert "no timezone abbreviation" in events[10]["_error"]
    assert "not a valid date" in events[11]["_error"]
    assert "missing URL" in events[12]["_error"] and events[12]["event_id"] is None
    assert all(events[line]["timestamp"] is None for line in (9, 10, 11))
    assert sum(r["_error"] is not None for r in events.values()) == 4


def test_facebook_accounts() -> None:
    accounts = read(HERE / "facebook_pages.csv")["accounts"]
    assert set(accounts) == {"100064123456789", BIG}
    page = accounts["100064123456789"]
    assert page == {**page, "kind": "page", "handle": "dailytruth", "display_name": "Daily Truth",
                    "bio": "News, every day", "created_at": "2016-02-10T18:20:58",
                    "claimed_country": "MK", "admin_country": "MK", "platform": "facebook"}
    assert page["followers"] == "1300"  # at the latest post (2021-07-07), "1,300"
    other = accounts[BIG]
    assert other["followers"] == "51500" and other["handle"] is None  # latest valid time
    assert other["claimed_country"] == "US"


def test_group_export() -> None:
    tables = read(HERE / "facebook_groups.csv")
    group = tables["accounts"]["2233445566"]
    assert group["kind"] == "group" and group["display_name"] == "Mums for Freedom"
    assert group["followers"] == "9000"
    assert tables["events"][2]["timestamp"] == "2020-11-03T20:15:00-06:00"  # CST = US Central


def test_instagram_export() -> None:
    tables = read(HERE / "instagram.csv")
    post = tables["events"][2]
    assert post["platform"] == "instagram" and post["account_id"] == "greenfuture"
    assert post["event_id"] == "https://www.instagram.com/p/CUabc123/"
    assert post["text"] == "Klima jetzt! #klima" and post["venue_id"] is None
    assert tables["events"][4]["timestamp"] == "2021-09-21T19:00:00+10:00"  # AEST
    account = tables["accounts"]["greenfuture"]
    assert account["handle"] == "greenfuture" and account["display_name"] == "Green Future"
    assert account["followers"] == "1240000" and account["kind"] == "user"


def test_platform_override() -> None:
    tables = read(HERE / "instagram.csv", platform="threads")
    assert {r["platform"] for r in tables["events"].values()} == {"threads"}


@pytest.mark.parametrize("text, expected", [
    ("2021-07-06 16:45:20 EDT", "2021-07-06T16:45:20-04:00"),
    ("2021-01-06 16:45:20 est", "2021-01-06T16:45:20-05:00"),
    ("2021-07-06 16:45 UTC", "2021-07-06T16:45:00+00:00"),
    ("2021-07-06 16:45:20 NPT", "2021-07-06T16:45:20+05:45"),
    ("2021-07-06 16:45:20 -0330", "2021-07-06T16:45:20-03:30"),
])
def test_local_to_iso(text: str, expected: str) -> None:
    assert local_to_iso(text) == (expected, None)


def test_chunking_gives_the_same_content() -> None:
    path = HERE / "facebook_pages.csv"
    chunks = list(CrowdTangleReader().read(path, chunk_rows=3))
    assert sum(c.table == "events" for c in chunks) == 4
    assert all(c.data.num_rows <= 3 for c in chunks)
    whole = list(CrowdTangleReader().read(path))
    for table in ("events", "accounts"):
        assert pa.concat_tables(c.data for c in chunks if c.table == table).to_pylist() == \
            pa.concat_tables(c.data for c in whole if c.table == table).to_pylist()


@pytest.mark.parametrize("name, line, words", [
    ("bad_missing_post_created.csv", 1, "'Post Created'"),
    ("bad_utf8.csv", 3, "re-encode"),
])
def test_unreadable_files(name: str, line: int, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(CrowdTangleReader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


def test_sniff() -> None:
    reader = CrowdTangleReader()
    for name in ("facebook_pages.csv", "facebook_groups.csv", "instagram.csv", "bad_utf8.csv"):
        assert reader.sniff(HERE / name), name
    assert not reader.sniff(HERE / "bad_missing_post_created.csv")
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)


# --- issue 13: one record limit, strict quoting, repeated columns ---

def _export(tmp_path: Path, edit: object) -> Path:
    text = (HERE / "facebook_pages.csv").read_text(encoding="utf-8")
    path = tmp_path / "export.csv"
    path.write_bytes(edit(text.encode("utf-8")))  # type: ignore[operator]
    return path


def test_a_field_over_128_kib_loads_like_in_the_generic_reader(tmp_path: Path) -> None:
    # Python's csv stopped at 128 KiB while the generic reader took 2 MB: one limit now
    long_text = "x" * (1 << 20)
    path = _export(tmp_path, lambda b: b.replace(b'"Read this, now!"', long_text.encode(), 1))
    texts = [r["text"] for r in read(path)["events"].values()]
    assert long_text in texts


def test_a_line_over_the_record_limit_is_refused(tmp_path: Path) -> None:
    path = _export(tmp_path, lambda b: b + b"x" * (17 << 20))
    with pytest.raises(BadInputError, match=r"export.csv:\d+: the line is longer than 16 MiB"):
        read(path)


def test_a_repeated_column_is_refused_by_name(tmp_path: Path) -> None:
    path = _export(tmp_path, lambda b: b.replace(b"Message", b"URL", 1))
    with pytest.raises(BadInputError, match=r"export.csv:1: column 'URL' appears twice"):
        read(path)


def test_a_quote_left_open_by_truncation_is_refused(tmp_path: Path) -> None:
    path = _export(tmp_path, lambda b: b.rstrip(b"\n") + b'\nx,"cut in the mi')
    lines = path.read_bytes().count(b"\n") + 1
    with pytest.raises(BadInputError, match=rf"export.csv:{lines}: a quoted field opened here is "
                                            "never closed"):
        read(path)


def test_a_stray_carriage_return_is_a_clear_error(tmp_path: Path) -> None:
    path = _export(tmp_path, lambda b: b.replace(b"2021-", b"2021\r", 1))
    with pytest.raises(BadInputError, match=r"export.csv:\d+: a carriage return \(CR\) inside "
                                            "the line"):
        read(path)
