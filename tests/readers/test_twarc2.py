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


# --- issue 13: ids that are not ids are refused, never stored as nan/inf ---

def _tweets(tmp_path: Path, *ids: str) -> Path:
    path = tmp_path / "tweets.jsonl"
    path.write_text("".join(f'{{"id": {i}, "author_id": "7", "created_at": '
                            f'"2022-12-02T08:00:00.000Z", "text": "t{n}"}}\n'
                            for n, i in enumerate(ids)), encoding="utf-8")
    return path


def test_non_finite_and_decimal_ids_are_error_rows(tmp_path: Path) -> None:
    path = _tweets(tmp_path, '"1"', "NaN", "Infinity", "-Infinity", "1e400", "2.5",
                   "1600000000000000101", "true")
    rows = [r for chunk in Twarc2Reader().read(path) if chunk.table == "events"
            for r in chunk.data.to_pylist()]
    got = {r["_line"]: (r["event_id"], r["_error"]) for r in rows}
    assert got[1] == ("1", None)
    assert got[7] == ("1600000000000000101", None)  # a whole number is exact
    for line in (2, 3, 4):
        assert got[line][0] is None and "is not a JSON number" in got[line][1]
    assert got[5][0] is None and "1e400 is out of range" in got[5][1]
    assert got[6][0] is None and "id 2.5 is a decimal number" in got[6][1]
    assert got[8][0] is None and "id True is not an id" in got[8][1]


def test_nan_ids_never_collide_in_a_workspace(tmp_path: Path) -> None:
    from lockstep.ingestion import ingest
    from lockstep.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    path = _tweets(tmp_path, "NaN", "Infinity", "1e400", '"5"')
    with pytest.raises(BadInputError, match=r"tweets.jsonl:1: NaN is not a JSON number"):
        ingest(ws, [path], fmt="twarc2")
    fr = next(f for f in ingest(ws, [path], fmt="twarc2", skip_bad_rows=True).files
              if f.table == "events")
    assert (fr.rows_read, fr.rows_added, fr.rejected, fr.duplicates) == (4, 1, 3, 0)


def test_a_retweet_with_a_malformed_reference_is_not_a_post(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "9", "author_id": "7", "created_at": "2022-12-02T08:00:00.000Z", '
                    '"referenced_tweets": ["retweeted:1"]}\n', encoding="utf-8")
    row = read(path)["events"]["9"]
    assert "referenced_tweets is not a list of objects" in row["_error"]


def test_lone_surrogates_are_error_rows_not_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "9", "author_id": "7", "created_at": "2022-12-02T08:00:00.000Z", '
                    '"text": "cut emoji \\ud83d", "author": {"id": "7", "name": "\\udc00"}}\n',
                    encoding="utf-8")
    rows = [r for chunk in Twarc2Reader().read(path) for r in chunk.data.to_pylist()]
    assert [(r["_line"], "lone UTF-16 surrogate" in r["_error"]) for r in rows] == [(1, True)]
