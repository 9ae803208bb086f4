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


# --- issue 13: nothing skipped without a count or an error ---

def _jet(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "capture.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


LIKE_LINE = ('{"did":"did:plc:a","time_us":1725911162329308,"kind":"commit","commit":'
             '{"operation":"create","collection":"app.bsky.feed.like","rkey":"r1","record":'
             '{"subject":{"uri":"at://did:plc:b/app.bsky.feed.post/p"}}}}')


@pytest.mark.parametrize("line, reason", [
    (LIKE_LINE.replace('"kind":"commit",', ""), "line has no kind"),
    ('{"did":"did:plc:a","time_us":1725911162329308,"kind":"commit"}',
     "commit event without a commit object"),
    ('{"did":"did:plc:a","time_us":1725911162329308,"kind":"commit","commit":"x"}',
     "commit event without a commit object"),
    (LIKE_LINE.replace('"operation":"create",', ""), "commit has no operation"),
    (LIKE_LINE.replace('"operation":"create"', '"operation":7'), "commit.operation 7 is not"),
    (LIKE_LINE.replace('"collection":"app.bsky.feed.like",', ""), "commit without a collection"),
    (LIKE_LINE.replace('"kind":"commit"', '"kind":"firehose"'), 'unknown kind "firehose"'),
    (LIKE_LINE.replace('1725911162329308', '"\u00b2"'), "is not UNIX microseconds"),
])
def test_malformed_lines_are_error_rows(tmp_path: Path, line: str, reason: str) -> None:
    rows = tables(_jet(tmp_path, LIKE_LINE, line))["events"]
    assert [r["_error"] for r in rows][0] is None
    assert rows[1]["_line"] == 2 and reason in rows[1]["_error"]


def test_left_out_records_are_counted_on_the_chunks(tmp_path: Path) -> None:
    delete = LIKE_LINE.replace('"create"', '"delete"')
    block = LIKE_LINE.replace("app.bsky.feed.like", "app.bsky.graph.block")
    account = '{"did":"did:plc:a","time_us":1725911162329309,"kind":"account","account":{}}'
    path = _jet(tmp_path, delete, LIKE_LINE, block, delete, account)
    skipped: dict[str, tuple[int, int]] = {}
    for chunk in BlueskyReader().read(path, chunk_rows=1):
        for reason, (n, first) in chunk.skipped.items():
            m, f = skipped.get(reason, (0, first))
            skipped[reason] = (m + n, min(f, first))
    assert skipped == {"commit delete": (2, 1), "create of app.bsky.graph.block": (1, 3),
                       "account event": (1, 5)}


def test_a_file_with_nothing_to_load_says_what_was_left_out(tmp_path: Path) -> None:
    path = _jet(tmp_path, LIKE_LINE.replace('"create"', '"update"'))
    with pytest.raises(BadInputError, match=r"every record was left out \(1 commit update "
                                            r"\(first at line 1\)\)"):
        tables(path)


def test_unusable_json_values_are_error_rows(tmp_path: Path) -> None:
    deep = '{"did":"did:plc:a","kind":"commit","x":' + "[" * 50_000 + "]" * 50_000 + "}"
    path = _jet(tmp_path, LIKE_LINE, LIKE_LINE.replace('1725911162329308', "NaN"),
                LIKE_LINE.replace('"r1"', '"\\udc00"'), deep)
    rows = tables(path)["events"]
    assert [(r["_line"], (r["_error"] or "")[:20]) for r in rows] == [
        (1, ""), (2, "NaN is not a JSON nu"), (3, "a string holds a lon"),
        (4, "the JSON is nested t")]


@pytest.mark.parametrize("old, new, reason", [
    ('"subject":{"uri":"at://did:plc:b/app.bsky.feed.post/p"}', '"subject":{"cid":"x"}',
     "a like without its subject (subject.uri)"),
    ('"app.bsky.feed.like"', '"app.bsky.feed.repost"', None),
    ('"collection":"app.bsky.feed.like","rkey":"r1","record":{"subject":{"uri":"at://did:plc:b/'
     'app.bsky.feed.post/p"}}', '"collection":"app.bsky.graph.follow","rkey":"r1","record":'
     '{"subject":7}', "a follow without its subject (a DID)"),
])
def test_an_action_without_its_target_is_an_error(tmp_path: Path, old: str, new: str,
                                                  reason: str | None) -> None:
    line = LIKE_LINE.replace(old, new)
    assert line != LIKE_LINE
    row = tables(_jet(tmp_path, line))["events"][0]
    assert row["_error"] == reason


def test_left_out_records_reach_the_ingest_report_and_the_cli(tmp_path: Path) -> None:
    import lockstep
    from typer.testing import CliRunner

    from lockstep.cli import app

    delete = LIKE_LINE.replace('"create"', '"delete"')
    path = _jet(tmp_path, delete, LIKE_LINE, delete)
    ws = lockstep.open_workspace(tmp_path / "ws")
    rep = lockstep.ingest(ws, [path], fmt="bluesky")
    assert rep.files[0].skipped == {"commit delete": [2, 1]}
    assert all(not f.skipped for f in rep.files[1:])
    logged = [r for r in ws.ingests if r.get("skipped")]
    assert [r["skipped"] for r in logged] == [{"commit delete": [2, 1]}]
    got = CliRunner().invoke(app, ["-w", str(tmp_path / "ws2"), "ingest", "--format",
                                   "bluesky", str(path)])
    assert got.exit_code == 0, got.output
    said = " ".join(got.output.split())  # the terminal wraps lines
    assert "2 records of capture.jsonl left out on purpose: commit delete (the first at line 1)" \
        in said
