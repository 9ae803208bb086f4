"""Tests for the X information-operations archive reader."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers._util import parse_list_like
from lockstep.readers.base import Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "x-archive"
TWEETS = HERE / "testcampaign_202001_tweets_csv_hashed.csv"
USERS = HERE / "testcampaign_202001_users_csv_hashed.csv"
OTHERS = {"coortweet": CoorTweetReader, "twarc2": Twarc2Reader, "crowdtangle": CrowdTangleReader,
          "telegram": TelegramReader, "bluesky": BlueskyReader}


def read(path: Path, **kwargs: object) -> dict[str, dict[int, dict]]:
    tables: dict[str, list[pa.Table]] = {}
    for chunk in XArchiveReader().read(path, **kwargs):
        assert chunk.source == str(path)
        tables.setdefault(chunk.table, []).append(chunk.data)
    return {name: {row["_line"]: row for row in pa.concat_tables(parts).to_pylist()}
            for name, parts in tables.items()}


def test_protocol() -> None:
    reader = XArchiveReader()
    assert isinstance(reader, Reader) and reader.name == "x-archive"


def test_tweet_fields() -> None:
    events = read(TWEETS)["events"]
    post = events[2]
    assert post["platform"] == "x" and post["event_id"] == "1080000000000000101"
    assert post["account_id"] == "b2c0f3a1e9d8c7b6a5"
    assert post["timestamp"] == "2019-01-02T13:45:00Z" and post["ts_precision"] == "min"
    assert post["action"] == "post" and post["text"] == "Hoy #venezuela #maduro http://bit.ly/abc"
    assert post["hashtags"] == ["venezuela", "maduro"]
    assert post["urls"] == ["http://bit.ly/abc", "https://example.com/x?a=1,2"]
    assert post["mentions"] == [] and post["client"] == "Twitter for Android"
    assert post["_error"] is None


def test_actions() -> None:
    events = read(TWEETS)["events"]
    retweet = events[3]
    assert retweet["action"] == "repost" and retweet["reposted_id"] == "1080000000000000001"
    assert retweet["mentions"] == ["555000111"]
    reply = events[4]
    assert reply["action"] == "reply" and reply["replied_id"] == "1080000000000000002"
    assert reply["mentions"] == ["987654321098765432"]
    quote = events[5]
    assert quote["action"] == "quote" and quote["quoted_id"] == "1080000000000000003"
    assert quote["reposted_id"] is None and quote["replied_id"] is None
    assert events[13]["action"] == "repost"  # is_retweet written "true"
    assert events[12]["action"] == "post" and events[12]["urls"] == ["https://a.example/1"]
    assert events[12]["hashtags"] == ["a", "b"]


def test_multiline_row_huge_id_and_seconds() -> None:
    events = read(TWEETS)["events"]
    row = events[6]  # spans lines 6-7 (quoted newline in the text)
    assert row["event_id"] == "1412345678901234567890"
    assert row["text"] == "Texto en\ndos líneas #VenezuelaLibre"
    assert row["timestamp"] == "2019-01-03T08:00:15Z" and row["ts_precision"] == "s"
    assert row["mentions"] == ["111", "222"]
    assert list(events) == [2, 3, 4, 5, 6, 9, 11, 12, 13]


def test_bad_rows_get_an_error() -> None:
    events = read(TWEETS)["events"]
    assert "tweet_time 'yesterday'" in events[9]["_error"] and events[9]["timestamp"] is None
    assert events[11]["_error"] == "missing tweetid"
    assert sum(r["_error"] is not None for r in events.values()) == 2


def test_accounts_from_the_tweets_file_once_per_user() -> None:
    accounts = read(TWEETS)["accounts"]
    assert list(accounts) == [2, 3, 6]
    radio = accounts[3]
    assert radio == {**radio, "account_id": "987654321098765432", "handle": "radiolibre",
                     "display_name": "Radio Libre", "bio": "Radio 24h",
                     "created_at": "2012-11-20", "followers": "15000", "location": "Miami FL",
                     "claimed_country": None, "kind": "user", "platform": "x"}


def test_users_file() -> None:
    tables = read(USERS)
    assert set(tables) == {"accounts"}
    accounts = tables["accounts"]
    assert accounts[3]["followers"] == "15000"  # "15,000"
    assert accounts[2]["location"] == "Caracas, Venezuela"
    assert accounts[2]["claimed_country"] is None
    assert accounts[4]["bio"] == "Primera línea\nsegunda línea"
    assert accounts[6]["_error"] == "missing userid"


def test_platform_override() -> None:
    tables = read(TWEETS, platform="twitter")
    assert {r["platform"] for t in tables.values() for r in t.values()} == {"twitter"}


def test_chunking_gives_the_same_content() -> None:
    chunks = list(XArchiveReader().read(TWEETS, chunk_rows=3))
    assert sum(c.table == "events" for c in chunks) == 3
    assert all(c.data.num_rows <= 3 for c in chunks)
    whole = list(XArchiveReader().read(TWEETS))
    for table in ("events", "accounts"):
        assert pa.concat_tables(c.data for c in chunks if c.table == table).to_pylist() == \
            pa.concat_tables(c.data for c in whole if c.table == table).to_pylist()


@pytest.mark.parametrize("name, line, words", [
    ("bad_missing_tweet_time.csv", 1, "'tweet_time'"),
    ("bad_utf8_tweets_csv_hashed.csv", 3, "re-encode"),
])
def test_unreadable_files(name: str, line: int, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(XArchiveReader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


@pytest.mark.parametrize("text, expected", [
    ("[a, b]", ["a", "b"]), ("['a', 'b']", ["a", "b"]), ("[]", []), ("", []), (None, []),
    ('["x,y", "z"]', ["x,y", "z"]), ("['it\\'s']", ["it's"]), ("[ 1 , , 2 ]", ["1", "2"]),
])
def test_parse_list_like(text: str | None, expected: list[str]) -> None:
    assert parse_list_like(text) == expected


def test_sniff(tmp_path: Path) -> None:
    reader = XArchiveReader()
    assert reader.sniff(TWEETS) and reader.sniff(USERS)
    renamed = tmp_path / "tweets.csv"
    renamed.write_bytes(TWEETS.read_bytes())
    assert reader.sniff(renamed)  # by header
    assert not reader.sniff(HERE / "bad_missing_tweet_time.csv")
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)


# --- issue 13: truncation and repeated columns ---

def test_a_truncated_quoted_last_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c_tweets_csv_hashed.csv"
    path.write_bytes(TWEETS.read_bytes().rstrip(b"\n") + b'\n9,u9,"cut')
    lines = path.read_bytes().count(b"\n") + 1
    with pytest.raises(BadInputError, match=rf"csv:{lines}: a quoted field opened here is never "
                                            "closed"):
        read(path)


def test_a_truncated_last_line_missing_fields_is_an_error_row(tmp_path: Path) -> None:
    path = tmp_path / "c_tweets_csv_hashed.csv"
    path.write_bytes(TWEETS.read_bytes().rstrip(b"\n") + b"\n9,u9,2020-01-0")
    rows = read(path)["events"]
    last = rows[max(rows)]
    assert "fields, the header has" in last["_error"]


def test_text_after_a_closing_quote_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c_users_csv_hashed.csv"
    path.write_text('userid,user_display_name\nu1,"Ann"a\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=r"csv:2: text after the closing quote"):
        read(path)


def test_a_repeated_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c_users_csv_hashed.csv"
    path.write_text("userid,user_display_name,userid\nu1,Ann,u2\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"csv:1: column 'userid' appears twice in the header "
                                            r"\(columns 1 and 3\)"):
        read(path)


def test_an_unreadable_is_retweet_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c_tweets_csv_hashed.csv"
    path.write_text("tweetid,userid,tweet_time,is_retweet,retweet_tweetid\n"
                    "1,u1,2019-01-02 13:45,perhaps,7\n2,u1,2019-01-02 13:46,True,7\n",
                    encoding="utf-8")
    rows = read(path)["events"]
    assert rows[2]["_error"] == "is_retweet 'perhaps' is not true or false"
    assert rows[3]["_error"] is None and rows[3]["action"] == "repost"
