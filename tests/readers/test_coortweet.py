"""Tests for the CooRTweet reader (standard table and the multi-object german_elections shape)."""
from __future__ import annotations

import random
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lockstep.exceptions import BadInputError
from lockstep.readers.base import GENERIC_COLUMNS, Reader
from lockstep.readers.bluesky import BlueskyReader
from lockstep.readers.coortweet import CoorTweetReader
from lockstep.readers.crowdtangle import CrowdTangleReader
from lockstep.readers.telegram import TelegramReader
from lockstep.readers.twarc2 import Twarc2Reader
from lockstep.readers.x_archive import XArchiveReader

FIXTURES = Path(__file__).parents[1] / "fixtures"
HERE = FIXTURES / "coortweet"
OTHERS = {"x-archive": XArchiveReader, "twarc2": Twarc2Reader, "crowdtangle": CrowdTangleReader,
          "telegram": TelegramReader, "bluesky": BlueskyReader}
GERMAN = Path(__file__).parents[2] / ".." / "shared" / "data" / "german-elections-2021" / \
    "german_elections.csv"


def read(path: Path, **kwargs: object) -> list[dict]:
    chunks = list(CoorTweetReader().read(path, **kwargs))
    assert all(c.table == "events" and c.source == str(path) for c in chunks)
    return pa.concat_tables(c.data for c in chunks).to_pylist() if chunks else []


def by_line(rows: list[dict]) -> dict[int, dict]:
    return {row["_line"]: row for row in rows}


def test_protocol_and_schema() -> None:
    reader = CoorTweetReader()
    assert isinstance(reader, Reader) and reader.name == "coortweet"
    chunk = next(reader.read(HERE / "multi_object.csv"))
    names = chunk.data.column_names
    assert names[:len(GENERIC_COLUMNS["events"])] == list(GENERIC_COLUMNS["events"])
    assert {"domains", "object_ids", "_line", "_error"} <= set(names)
    assert chunk.data.schema.field("urls").type == pa.list_(pa.string())
    assert chunk.data.schema.field("event_id").type == pa.string()
    assert chunk.data.schema.field("_line").type == pa.int64()


def test_multi_row_posts_become_one_event_with_all_objects() -> None:
    rows = by_line(read(HERE / "multi_object.csv"))
    # post 5001 spans lines 2, 4 and 7 (not adjacent); duplicates are dropped, order kept
    post = rows[2]
    assert (post["platform"], post["event_id"], post["account_id"], post["timestamp"]) == \
        ("facebook", "5001", "fb_101", "1629589836")
    assert post["urls"] == ["9001", "9002"]
    assert post["domains"] == ["701", "702"]
    assert post["image_hashes"] == ["8802"]
    assert post["hashtags"] == [] and post["object_ids"] == [] and post["_error"] is None
    assert rows[3]["hashtags"] == ["301", "302"] and rows[3]["platform"] == "x"
    assert rows[6]["urls"] == ["9003", "9010"] and rows[6]["domains"] == ["701", "709"]
    assert rows[6]["image_hashes"] == ["8801"]
    assert rows[9]["platform"] == "instagram" and rows[9]["image_hashes"] == ["8803"]
    # the same post id on another platform is another event
    assert rows[11]["platform"] == "facebook" and rows[11]["event_id"] == "6001"
    assert rows[15]["urls"] == [] and rows[15]["_error"] is None
    # events come in order of their first line, none for lines that continue a post
    assert list(rows) == [2, 3, 6, 9, 10, 11, 12, 13, 14, 15, 16]


def test_huge_ids_stay_exact_strings() -> None:
    rows = by_line(read(HERE / "multi_object.csv"))
    assert rows[10]["event_id"] == "1412345678901234567890"
    std = by_line(read(HERE / "standard.csv", platform="x"))
    assert std[2]["event_id"] == "1412345678901234567890"
    assert std[6]["object_ids"] == ["1412345678901234567999"]


def test_bad_rows_get_an_error() -> None:
    rows = by_line(read(HERE / "multi_object.csv"))
    assert "pass --platform" in rows[12]["_error"] and rows[12]["platform"] is None
    assert "not UNIX seconds" in rows[14]["_error"]
    assert "different account_id" in rows[16]["_error"]
    assert sum(r["_error"] is not None for r in rows.values()) == 3


def test_row_without_post_id_gets_a_synthetic_id() -> None:
    rows = by_line(read(HERE / "multi_object.csv"))
    assert rows[13]["_error"] is None
    assert rows[13]["event_id"] == "noid:fb_103@1629590600"
    assert rows[13]["urls"] == ["9007"]


def test_platform_argument_fills_unprefixed_accounts_only() -> None:
    rows = by_line(read(HERE / "multi_object.csv", platform="facebook"))
    assert rows[12]["platform"] == "facebook" and rows[12]["_error"] is None
    assert rows[12]["account_id"] == "u_401"
    assert rows[3]["platform"] == "x"  # the prefix wins over the argument


def test_standard_table() -> None:
    rows = by_line(read(HERE / "standard.csv", platform="x"))
    first = rows[2]
    assert (first["platform"], first["account_id"], first["timestamp"]) == \
        ("x", "1001", "1609459200")
    assert first["object_ids"] == ["https://example.com/a", "https://example.com/b"]
    assert rows[4]["event_id"] == "2002" and rows[4]["object_ids"] == ["https://example.com/a"]
    assert list(rows) == [2, 4, 5, 6, 7]
    assert "timestamp_share" in rows[7]["_error"]
    assert all(r["_error"] is None for line, r in rows.items() if line != 7)


def test_chunking_gives_the_same_content() -> None:
    path = HERE / "multi_object.csv"
    chunks = list(CoorTweetReader().read(path, chunk_rows=3))
    assert len(chunks) == 4 and all(c.data.num_rows <= 3 for c in chunks)
    assert pa.concat_tables(c.data for c in chunks).to_pylist() == read(path)


def test_shuffled_posts_match_a_plain_python_grouping(tmp_path: Path) -> None:
    rnd = random.Random(7)
    lines = ["account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp"]
    expected: dict[tuple[str, str], dict] = {}
    for line in range(2, 3002):
        post = rnd.randrange(800)
        prefix = ("fb_", "tw_")[post % 2]
        url, tag = str(rnd.randrange(30)), rnd.choice(["", "", str(rnd.randrange(5))])
        lines.append(f"{prefix}{post % 97},{post},{url},{tag},,,{1_600_000_000 + post}")
        event = expected.setdefault((("facebook", "x")[post % 2], str(post)),
                                    {"_line": line, "urls": [], "hashtags": []})
        for key, value in (("urls", url), ("hashtags", tag)):
            if value and value not in event[key]:
                event[key].append(value)
    path = tmp_path / "shuffled.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = read(path, chunk_rows=100)
    assert [r["_line"] for r in rows] == sorted(e["_line"] for e in expected.values())
    for row in rows:
        event = expected[(row["platform"], row["event_id"])]
        assert (row["_line"], row["urls"], row["hashtags"], row["_error"]) == \
            (event["_line"], event["urls"], event["hashtags"], None)


def test_row_with_wrong_field_count_stays_alone(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp\n"
                    "fb_1,10,100,,,,1600000000\n"
                    "fb_1,10,101,,,,1600000000,extra\n"
                    "\n"
                    "fb_1,10,102,,,,1600000000\n", encoding="utf-8")
    rows = by_line(read(path))
    assert rows[2]["urls"] == ["100", "102"] and rows[2]["_error"] is None
    assert rows[3]["urls"] == ["101"] and "8 fields" in rows[3]["_error"]
    assert list(rows) == [2, 3]


@pytest.mark.parametrize("name, line, words", [
    ("bad_missing_column.csv", 1, "'post_id'"),
    ("bad_utf8.csv", 3, "UTF-8"),
    ("empty.csv", None, "empty file"),
])
def test_unreadable_files(name: str, line: int | None, words: str) -> None:
    with pytest.raises(BadInputError) as info:
        list(CoorTweetReader().read(HERE / name))
    error = info.value.errors[0]
    assert info.value.file == str(HERE / name) and error.line == line and words in error.reason


def test_sniff() -> None:
    reader = CoorTweetReader()
    assert reader.sniff(HERE / "multi_object.csv") and reader.sniff(HERE / "standard.csv")
    assert not reader.sniff(HERE / "bad_missing_column.csv")
    assert not reader.sniff(HERE / "empty.csv")
    for name, other in OTHERS.items():
        for path in (FIXTURES / name).iterdir():
            assert not reader.sniff(path), path
        for path in HERE.iterdir():
            assert not other().sniff(path), (name, path)


@pytest.mark.skipif(not GERMAN.exists(), reason=f"real data set not present at {GERMAN}")
def test_real_german_elections_file() -> None:
    start = time.perf_counter()
    chunks = list(CoorTweetReader().read(GERMAN, chunk_rows=50_000))
    elapsed = time.perf_counter() - start
    print(f"german_elections.csv read in {elapsed:.2f} s, {len(chunks)} chunks")
    table = pa.concat_tables(c.data for c in chunks)
    assert len(chunks) > 1 and all(c.data.num_rows <= 50_000 for c in chunks)
    # an independent count of the same file with DuckDB
    con = duckdb.connect()
    con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv('{GERMAN}', all_varchar = true)")
    rows, accounts, keys, keyless = con.execute(
        "SELECT count(*), count(DISTINCT account_id), "
        "count(DISTINCT (substr(account_id, 1, 3), post_id)) FILTER (post_id IS NOT NULL), "
        "count(*) FILTER (post_id IS NULL) FROM src").fetchone()
    assert rows == 218_971
    # every input row was consumed: each (post, object) pair of the file is in an event
    for column, field in (("url_id", "urls"), ("hashtag_id", "hashtags"),
                          ("domain_id", "domains"), ("phash_id", "image_hashes")):
        pairs = con.execute(f"SELECT count(DISTINCT (substr(account_id, 1, 3), post_id, {column})) "
                        f"FROM src WHERE {column} IS NOT NULL").fetchone()[0]
        assert pc.sum(pc.list_value_length(table.column(field))).as_py() == pairs, column
    assert max(table.column("_line").to_pylist()) <= rows + 1
    assert table.column("_line").to_pylist() == sorted(table.column("_line").to_pylist())
    assert len(set(table.column("account_id").to_pylist())) == accounts == 58_317
    ok = table.filter(pc.is_null(table.column("_error")))
    assert table.num_rows == ok.num_rows  # no bad rows in the real file
    # three rows have no post_id: each becomes a post with a synthetic id
    assert keyless == 3
    assert ok.num_rows == keys + keyless == 194_326
    assert set(table.column("platform").to_pylist()) == {"facebook", "x"}
    pairs = set(zip(ok.column("platform").to_pylist(), ok.column("event_id").to_pylist()))
    assert len(pairs) == ok.num_rows
    assert elapsed < 60


# --- issue 13 ---

def test_a_repeated_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share,account_id\n"
                    "o,fb_1,c,1623881091,fb_2\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"t.csv:1: column 'account_id' appears twice"):
        read(path)


def test_a_temp_directory_with_a_quote_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    import tempfile

    plain = read(HERE / "standard.csv")
    odd = tmp_path / "o'brien tmp"
    odd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    assert read(HERE / "standard.csv") == plain  # the SET temp_directory was hand-quoted


# --- issue 14: a CooRTweet table gives its networks with the default detect ---------------

def _coortweet_table(path: Path, *, planted: bool) -> None:
    """Organic shares of Zipf-popular objects at any time by 600 accounts; with ``planted``,
    4 groups of 6 accounts that also share organically and re-share 10 objects of their
    own, each within 20 s."""
    import random

    rnd = random.Random(7)
    rows = ["object_id,account_id,content_id,timestamp_share"]
    t0, k = 1_650_000_000, 0
    members = [f"tw_g{g}a{a}" for g in range(4) for a in range(6)] if planted else []
    people = [f"tw_u{i}" for i in range(600)] + members
    for _ in range(8000):
        k += 1
        obj = int(3000 * rnd.random() ** 3)  # a few popular objects, many rare ones
        rows.append(f"https://ex.org/pop/{obj},{rnd.choice(people)},{k},"
                    f"{t0 + rnd.randrange(0, 30 * 86400)}")
    for g in range(4 if planted else 0):
        for o in range(10):
            t = t0 + rnd.randrange(0, 30 * 86400)
            for a in range(6):
                k += 1
                rows.append(f"https://ex.org/g{g}/o{o},tw_g{g}a{a},{k},{t + rnd.randrange(20)}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_default_detect_reads_opaque_objects(tmp_path: Path) -> None:
    import lockstep
    from lockstep.detect import DEFAULT_SIGNALS, default_signals, detect, why_empty

    src = tmp_path / "shares.csv"
    _coortweet_table(src, planted=True)
    ws = lockstep.open_workspace(tmp_path / "ws")
    lockstep.ingest(ws, [src])
    assert default_signals(ws) == DEFAULT_SIGNALS + ("co-object",)
    run = detect(ws)
    assert why_empty(run) is None
    flagged = set(run.members["account_id"].to_pylist())
    planted = {f"tw_g{g}a{a}" for g in range(4) for a in range(6)}
    assert len(planted & flagged) >= 0.9 * len(planted)
    assert len(flagged - planted) <= 0.02 * 600


def test_a_table_with_no_coaction_says_why_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lockstep.cli import app

    src = tmp_path / "shares.csv"
    src.write_text("object_id,account_id,content_id,timestamp_share\n"
                   + "".join(f"https://ex.org/{i},tw_u{i},{i},{1_650_000_000 + i}\n"
                             for i in range(50)), encoding="utf-8")
    ws = str(tmp_path / "ws")
    assert CliRunner().invoke(app, ["-w", ws, "ingest", str(src)]).exit_code == 0
    got = CliRunner().invoke(app, ["-w", ws, "detect"])
    assert got.exit_code == 0, got.output
    said = " ".join(got.output.split())
    assert "no network found: no two accounts acted on the same object" in said
    assert "co-object" in said
