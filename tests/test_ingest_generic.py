"""The generic format v1 reader and the ingest rules (whole file or nothing, no duplicates)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import snapshot, write
from lockstep.exceptions import BadInputError, UsageError
from lockstep.ingestion import ingest
from lockstep.workspace import Workspace

HEADER = "platform,event_id,account_id,timestamp,action,text,urls,hashtags,mentions,reposted_id,replied_id,image_hashes,venue_id\n"


def rows(ws: Workspace, sql: str) -> list[tuple]:
    con = ws.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_csv_all_fields(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", HEADER +
              'facebook,1,a,2021-06-16T22:04:51+02:00,post,"hi, ""you""",https://WWW.Ex.com/a/?utm_source=x http://bbc.co.uk/n,Tag #b,m1 m2,,,ABCD,g1\n'
              "facebook,2,b,1623881091,SHARE,,,,,1,,,\n"
              "x,1412345678901234567890,c,2021-06-16 22:04,reply,,,,,,99,,\n"
              "x,5,c,1623881091.25,,,,,,,,,\n")
    rep = ingest(ws, [f])
    assert [(r.status, r.rows_read, r.rows_added) for r in rep.files] == [("loaded", 4, 4)]
    got = {r[0]: r for r in rows(ws, "SELECT event_id, account_id, ts, ts_precision, action, text, "
                                     "urls, NULL, domains, hashtags, mentions, reposted_id, "
                                     "replied_id, image_hashes, venue_id, platform FROM events")}
    e1 = got["1"]
    assert e1[2] == datetime(2021, 6, 16, 20, 4, 51, tzinfo=timezone.utc)
    assert e1[3] == "s" and e1[4] == "post" and e1[5] == 'hi, "you"'
    assert e1[6] == ["https://WWW.Ex.com/a/?utm_source=x", "http://bbc.co.uk/n"]
    # URL keys and registered domains live in the url_map table, joined by the objects view
    assert sorted(rows(ws, "SELECT object_id FROM objects WHERE event_id = '1' AND object_type = 'url'")) == [
        ("http://bbc.co.uk/n",), ("https://ex.com/a",)]
    assert e1[8] is None
    assert sorted(rows(ws, "SELECT object_id FROM objects WHERE event_id = '1' AND object_type = 'domain'")) == [
        ("bbc.co.uk",), ("ex.com",)]
    assert e1[9] == ["Tag", "b"] and e1[10] == ["m1", "m2"] and e1[13] == ["ABCD"] and e1[14] == "g1"
    assert got["2"][4] == "share" and got["2"][11] == "1" and got["2"][6] is None
    big = got["1412345678901234567890"]  # an id beyond 2^64 stays exact text
    assert big[15] == "x" and big[3] == "min" and big[12] == "99"
    assert got["5"][3] == "ms" and got["5"][4] == "post"
    assert got["5"][2] == datetime(2021, 6, 16, 22, 4, 51, 250000, tzinfo=timezone.utc)


def test_objects_view(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", HEADER +
              "facebook,1,a,1623881091,post,,https://x.com/a?fbclid=1 https://x.com/a/,Tag tag,,,,FF,v\n"
              "facebook,2,b,1623881092,share,,,,,1,,,\n")
    ingest(ws, [f])
    objs = sorted(rows(ws, "SELECT event_id, object_type, object_id FROM objects"))
    assert objs == [("1", "domain", "x.com"), ("1", "hashtag", "tag"), ("1", "hashtag", "tag"),
                    ("1", "image", "ff"), ("1", "url", "https://x.com/a"), ("1", "venue", "v"),
                    ("2", "post", "1")]


def test_author_objects_are_the_pages_amplified(ws: Workspace, tmp_path: Path) -> None:
    d = tmp_path / "gen"
    d.mkdir()
    write(d / "events.csv", HEADER +
          "facebook,1,pg,1623881091,post,,,,,,,,\n"
          "facebook,2,b,1623881092,share,,,,,1,,,\n"
          "facebook,3,c,1623881093,comment,,,,,,1,,\n"
          "facebook,4,u,1623881094,post,,,,,,,,\n"
          "facebook,5,b,1623881095,share,,,,,4,,,\n"
          "facebook,6,pg,1623881096,share,,,,,1,,,\n")
    write(d / "accounts.csv", "platform,account_id,kind\nfacebook,pg,page\nfacebook,u,user\n")
    ingest(ws, [d])
    got = sorted(rows(ws, "SELECT event_id, object_id FROM objects WHERE object_type = 'author'"))
    # re-sharing and replying to the page count; a user's post and the page's own share do not
    assert got == [("2", "pg"), ("3", "pg")]


def test_explicit_domains_and_url_map_table(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "a" / "events.csv", "platform,event_id,account_id,timestamp,urls\n"
              "x,1,a,1,https://news.bbc.co.uk/a https://www.bbc.co.uk/b\nx,2,a,2,https://y.github.io/ "
              "https://www.bbc.co.uk/b opaque-id-7\n")
    ingest(ws, [f])
    assert sorted(rows(ws, "SELECT url, url_key, host, domain FROM url_map")) == [
        ("https://news.bbc.co.uk/a", "https://news.bbc.co.uk/a", "news.bbc.co.uk", "bbc.co.uk"),
        ("https://www.bbc.co.uk/b", "https://bbc.co.uk/b", "bbc.co.uk", "bbc.co.uk"),
        ("https://y.github.io/", "https://y.github.io", "y.github.io", "y.github.io"),
        ("opaque-id-7", "opaque-id-7", None, None)]  # each URL once, though event 2 repeats one
    # one domain object per event even when two URLs share it
    assert sorted(rows(ws, "SELECT event_id, object_id FROM objects WHERE object_type = 'domain'")) == [
        ("1", "bbc.co.uk"), ("2", "bbc.co.uk"), ("2", "y.github.io")]
    g = write(tmp_path / "b" / "events.csv", "platform,event_id,account_id,timestamp,urls,domains\n"
              "x,3,a,3,https://bbc.co.uk/c,D77\n")
    ingest(ws, [g])
    # only the new URL is mapped; no URL stored twice
    assert rows(ws, "SELECT count(*), count(DISTINCT url) FROM url_map") == [(5, 5)]
    assert sorted(rows(ws, "SELECT object_id FROM objects WHERE event_id = '3' AND object_type = 'domain'")) == [
        ("bbc.co.uk",), ("d77",)]


def test_platform_option_and_missing_platform(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "event_id,account_id,timestamp\n1,a,1623881091\n")
    with pytest.raises(UsageError, match="--platform"):
        ingest(ws, [f])
    ingest(ws, [f], platform="Telegram")
    assert rows(ws, "SELECT platform, event_id FROM events") == [("telegram", "1")]


def test_same_file_twice_adds_nothing(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", HEADER + "facebook,1,a,1623881091,,,,,,,,,\n"
              "facebook,2,a,1623881092,,,,,,,,,\nfacebook,2,a,1623881092,,,,,,,,,\n")
    first = ingest(ws, [f]).files[0]
    assert (first.rows_added, first.duplicates) == (2, 1)
    before = snapshot(ws.path / "events")
    second = ingest(ws, [f]).files[0]
    assert (second.status, second.rows_added, second.duplicates) == ("unchanged", 0, 3)
    assert snapshot(ws.path / "events") == before
    assert rows(ws, "SELECT count(*) FROM events") == [(2,)]
    # overlapping file: only the new event is added; same id on another platform is distinct
    g = write(tmp_path / "more" / "events.csv", HEADER + "facebook,2,a,1623881092,,,,,,,,,\n"
              "facebook,3,a,1623881093,,,,,,,,,\ninstagram,2,z,1623881093,,,,,,,,,\n")
    overlap = ingest(ws, [g]).files[0]
    assert (overlap.rows_read, overlap.rows_added, overlap.duplicates) == (3, 2, 1)
    assert "check" not in overlap.stages  # one read of the CSV: the written file is filtered
    assert sorted(rows(ws, "SELECT platform, event_id, account_id FROM events")) == [
        ("facebook", "1", "a"), ("facebook", "2", "a"), ("facebook", "3", "a"),
        ("instagram", "2", "z")]
    # a clean file all of whose rows are stored: nothing written, one read
    again = ingest(ws, [g]).files[0]
    assert (again.status, again.rows_added, again.duplicates) == ("unchanged", 0, 3)
    assert "check" not in again.stages
    assert rows(ws, "SELECT count(*) FROM events") == [(4,)]


BAD = (b"platform,event_id,account_id,timestamp,text\n"
       b'facebook,1,a,2021-01-01T00:00:00Z,"multi\nline"\n'   # lines 2-3: fine
       b"facebook,2,b,notatime,x\n"                            # line 4
       b"facebook,3,c,1623881091,caf\xe9\n"                    # line 5: latin-1
       b"facebook,4,d,1623881091000,y\n"                       # line 6: milliseconds
       b"facebook,5,,1623881091,y\n"                           # line 7: no account
       b"facebook,6,e,16238")                                  # line 8: truncated


def test_bad_rows_refuse_the_file_with_lines(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", BAD)
    before = snapshot(ws.path)
    with pytest.raises(BadInputError) as exc:
        ingest(ws, [f])
    found = [(e.line, e.reason) for e in exc.value.errors]
    assert [line for line, _ in found] == [4, 5, 6, 7, 8]
    assert "unparseable timestamp notatime" in found[0][1]
    assert "UTF-8" in found[1][1]
    assert "milliseconds" in found[2][1]
    assert found[3][1] == "missing account_id"
    assert "number of fields" in found[4][1]
    assert str(exc.value).startswith(f"{f}:4: ")
    assert exc.value.total == 5
    assert snapshot(ws.path) == before  # nothing stored, nothing left behind


def test_skip_bad_rows_loads_the_rest_and_writes_rejects(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", BAD)
    fr = ingest(ws, [f], skip_bad_rows=True).files[0]
    assert (fr.rows_read, fr.rows_added, fr.rejected) == (6, 1, 5)
    assert rows(ws, "SELECT event_id, text FROM events") == [("1", "multi\nline")]
    rejects = Path(fr.rejects_file).read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "file,line,reason"
    assert [r.split(",")[1] for r in rejects[1:]] == ["4", "5", "6", "7", "8"]
    assert Path(fr.rejects_file).parent == ws.path / "reports"


def test_missing_required_column(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "platform,event_id,timestamp\nx,1,1623881091\n")
    with pytest.raises(BadInputError, match=r"events.csv:1: missing required column\(s\) account_id"):
        ingest(ws, [f])


def test_empty_file(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "")
    with pytest.raises(BadInputError, match="empty file"):
        ingest(ws, [f])


def test_jsonl_lists_and_strings(ws: Workspace, tmp_path: Path) -> None:
    lines = [
        {"platform": "bluesky", "event_id": "a1", "account_id": "did:1", "timestamp": "2024-01-01T00:00:00Z",
         "urls": ["https://x.com/1", ""], "hashtags": "one two"},
        {"platform": "bluesky", "event_id": "a2", "account_id": "did:2", "timestamp": 1704067201,
         "mentions": ["did:1"], "extra_field": {"k": 1}},
    ]
    f = write(tmp_path / "events.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert ingest(ws, [f]).files[0].rows_added == 2
    got = dict((r[0], r[1:]) for r in rows(ws, "SELECT event_id, urls, hashtags, mentions, ts, extra FROM events"))
    assert got["a1"][0] == ["https://x.com/1"] and got["a1"][1] == ["one", "two"]
    assert got["a2"][2] == ["did:1"]
    assert got["a2"][3] == datetime(2024, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert json.loads(got["a2"][4]) == {"extra_field": '{"k":1}'}


def test_jsonl_truncated_line(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.jsonl", '{"platform":"x","event_id":"1","account_id":"a","timestamp":1}\n'
              '{"platform":"x","event_id":"2","acc')
    with pytest.raises(BadInputError, match=r"events.jsonl:2: truncated JSON"):
        ingest(ws, [f])


def test_parquet_with_list_columns(ws: Workspace, tmp_path: Path) -> None:
    t = pa.table({"platform": ["x", "x"], "event_id": ["1", "2"], "account_id": ["a", "b"],
                  "timestamp": pa.array([datetime(2024, 1, 1, tzinfo=timezone.utc)] * 2, pa.timestamp("s", "UTC")),
                  "urls": pa.array([["https://x.com/a/"], None], pa.list_(pa.string()))})
    tmp_path.mkdir(exist_ok=True)
    pq.write_table(t, tmp_path / "events.parquet")
    ingest(ws, [tmp_path / "events.parquet"])
    assert sorted(rows(ws, "SELECT event_id, urls, ts FROM events")) == [
        ("1", ["https://x.com/a/"], datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2", None, datetime(2024, 1, 1, tzinfo=timezone.utc))]
    assert rows(ws, "SELECT event_id, object_id FROM objects WHERE object_type = 'url'") == [
        ("1", "https://x.com/a")]


def test_dataset_directory_all_tables(ws: Workspace, tmp_path: Path) -> None:
    d = tmp_path / "world"
    write(d / "events.csv", "platform,event_id,account_id,timestamp\nfacebook,1,p1,1623881091\n")
    write(d / "accounts.csv", "platform,account_id,kind,handle,created_at,claimed_country,followers,verified,bio\n"
          "facebook,p1,page,kashmir_news,2019-03-01,IN,\"1,234\",false,Local news\n"
          "facebook,u1,,,,,,,\n")
    write(d / "sessions.csv", "platform,account_id,timestamp,ip,device_id,user_agent,country\n"
          "facebook,u1,2021-06-01T10:00:00Z,10.0.0.1,dev1,UA,PK\n")
    write(d / "roles.csv", "platform,account_id,asset_id,role,since\nfacebook,u1,p1,,\n")
    write(d / "truth.csv", "platform,account_id,network_id,network_kind,operator_id,tier\n"
          "facebook,p1,n1,cib,u1,2\n")
    rep = ingest(ws, [d])
    assert [(r.table, r.rows_added) for r in rep.files] == [
        ("events", 1), ("accounts", 2), ("sessions", 1), ("roles", 1), ("truth", 1)]
    assert rows(ws, "SELECT account_id, kind, followers, verified, claimed_country FROM accounts ORDER BY 1") == [
        ("p1", "page", 1234, False, "IN"), ("u1", "user", None, None, None)]
    assert rows(ws, "SELECT role FROM roles") == [("admin",)]
    assert rows(ws, "SELECT network_kind, extra FROM truth") == [("cib", '{"tier":"2"}')]
    assert rows(ws, "SELECT device_id, ip, country FROM sessions") == [("dev1", "10.0.0.1", "PK")]


def test_accounts_bad_followers(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "accounts.csv", "platform,account_id,followers,verified\nx,a,many,maybe\n")
    with pytest.raises(BadInputError, match="accounts.csv:2: followers many is not a whole number"):
        ingest(ws, [f])


@pytest.mark.parametrize("problem, line", [
    (b"facebook,3,c,1623881093,x,extra\n", 4),          # only the CSV parser sees this one
    (b"facebook,1,c,1623881093,x\n", None),             # a key repeated in the file
    (b"facebook,3,c,1623881093,x\n", None),             # clean, but a later ingest overlaps
])
def test_one_pass_fast_path_falls_back_when_the_file_is_not_clean(
        ws: Workspace, tmp_path: Path, problem: bytes, line: int | None) -> None:
    f = write(tmp_path / "events.csv", b"platform,event_id,account_id,timestamp,text\n"
              b"facebook,1,a,1623881091,x\nfacebook,2,b,1623881092,y\n" + problem)
    if line is not None:
        with pytest.raises(BadInputError) as exc:
            ingest(ws, [f])
        assert [e.line for e in exc.value.errors] == [line]
        assert rows(ws, "SELECT count(*) FROM events") == [(0,)]
        return
    fr = ingest(ws, [f]).files[0]
    assert rows(ws, "SELECT count(DISTINCT event_id), count(*) FROM events") == [(fr.rows_added, fr.rows_added)]
    again = ingest(ws, [f]).files[0]
    assert again.rows_added == 0 and again.duplicates == again.rows_read


def test_jsonl_line_that_is_not_an_object(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.jsonl", '{"platform":"x","event_id":"1","account_id":"a","timestamp":1}\n'
              '[1, 2]\n')
    with pytest.raises(BadInputError, match=r"events.jsonl:2: a line must hold one JSON object"):
        ingest(ws, [f])


def test_parquet_one_pass_and_its_fallbacks(ws: Workspace, tmp_path: Path) -> None:
    def pq_events(path: Path, ids: list[str], times: list[str]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"platform": ["x"] * len(ids), "event_id": ids,
                                 "account_id": ["a"] * len(ids), "timestamp": times}), path)
        return path

    clean = pq_events(tmp_path / "a" / "events.parquet", ["1", "2"], ["1623881091", "1623881092"])
    fr = ingest(ws, [clean]).files[0]
    assert (fr.rows_added, "check" in fr.stages) == (2, False)  # read once, no staging table
    # a bad row: the one-pass COPY aborts, the careful path names the row (1-based)
    bad = pq_events(tmp_path / "b" / "events.parquet", ["3", "4", "5"],
                    ["1623881093", "soon", "1623881095"])
    with pytest.raises(BadInputError) as exc:
        ingest(ws, [bad])
    assert [(e.line, e.reason) for e in exc.value.errors] == [
        (2, "unparseable timestamp soon (use ISO 8601 or UNIX seconds)")]
    assert rows(ws, "SELECT count(*) FROM events") == [(2,)]
    # a key repeated inside the file: the careful path keeps its first row
    rep = pq_events(tmp_path / "c" / "events.parquet", ["6", "6", "2"],
                    ["1623881096", "1623881097", "1623881092"])
    fr = ingest(ws, [rep]).files[0]
    assert (fr.rows_added, fr.duplicates, "check" in fr.stages) == (1, 2, True)
    assert rows(ws, "SELECT event_id, epoch(ts)::BIGINT FROM events WHERE event_id = '6'") == [
        ("6", 1623881096)]


def test_sessions_with_empty_key_parts_and_repeated_lines(ws: Workspace, tmp_path: Path) -> None:
    head = "platform,account_id,timestamp,ip,device_id,user_agent,country\n"
    f = write(tmp_path / "a" / "sessions.csv", head + "facebook,a,1623881091,1.2.3.4,,,\n"
              "facebook,b,1623881092,,d1,ua,DE\nfacebook,b,1623881092,,d1,ua,DE\n")
    first = ingest(ws, [f]).files[0]
    # a line logged twice is one session, kept in one pass (no staging table)
    assert (first.rows_read, first.rows_added, first.duplicates) == (3, 2, 1)
    assert "check" not in first.stages
    # empty parts of the key (no device, no country) still match what is stored
    again = ingest(ws, [f]).files[0]
    assert (again.status, again.rows_added, again.duplicates) == ("unchanged", 0, 3)
    g = write(tmp_path / "b" / "sessions.csv", head + "facebook,a,1623881091,1.2.3.4,,,\n"
              "facebook,c,1623881093,,,,\n")
    more = ingest(ws, [g]).files[0]
    assert (more.rows_added, more.duplicates) == (1, 1)
    assert sorted(rows(ws, "SELECT account_id, ip, device_id, country FROM sessions")) == [
        ("a", "1.2.3.4", None, None), ("b", None, "d1", "DE"), ("c", None, None, None)]


def test_a_key_repeated_with_other_values_keeps_the_first_row(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp,text\n"
              "x,7,a,1623881091,first\nx,8,a,1623881092,\nx,7,a,1623881093,second\n"
              "x,8,a,1623881092,\n")
    fr = ingest(ws, [f]).files[0]
    assert (fr.rows_added, fr.duplicates, "check" in fr.stages) == (2, 2, True)
    assert sorted(rows(ws, "SELECT event_id, text FROM events")) == [("7", "first"), ("8", None)]


# --- issue 13: rows refused or reported, never dropped; one-line errors, never tracebacks ---

def _events_csv(path: Path, middle: bytes, *, newline: bytes = b"\n") -> Path:
    head = b"platform,event_id,account_id,timestamp,text" + newline
    rows = [b"x,1,a,1623881091,short", middle, b"x,3,a,1623881093,short"]
    return write(path, head + newline.join(rows) + newline)


def test_a_row_over_the_limit_is_refused_not_dropped(ws: Workspace, tmp_path: Path) -> None:
    # a 40 MiB line is longer than DuckDB's read buffer: it used to vanish ("loaded, 0 rejected")
    f = _events_csv(tmp_path / "events.csv", b"x,2,a,1623881092," + b"y" * (40 << 20))
    for skip in (False, True):
        with pytest.raises(BadInputError, match=r"events.csv:3: the line is longer than 16 MiB"):
            ingest(ws, [f], skip_bad_rows=skip)
    assert rows(ws, "SELECT count(*) FROM events") == [(0,)]


def test_a_long_row_under_the_limit_loads(ws: Workspace, tmp_path: Path) -> None:
    # 3 MiB used to be refused by DuckDB's 2 MB default while platform readers stopped at 128 KiB
    f = _events_csv(tmp_path / "events.csv", b"x,2,a,1623881092," + b"y" * (3 << 20))
    fr = ingest(ws, [f]).files[0]
    assert (fr.rows_read, fr.rows_added, fr.rejected) == (3, 3, 0)
    assert rows(ws, "SELECT length(text) FROM events WHERE event_id = '2'") == [(3 << 20,)]


def test_a_quoted_record_over_the_limit_is_a_rejected_row(ws: Workspace, tmp_path: Path) -> None:
    # short lines, one 20 MiB quoted field: DuckDB's own max_line_size names the record
    f = _events_csv(tmp_path / "events.csv",
                    b'x,2,a,1623881092,"' + b"z" * 999 + (b"\n" + b"z" * 999) * 20_000 + b'"')
    with pytest.raises(BadInputError, match=r"events.csv:3: the row is longer than 16 MiB"):
        ingest(ws, [f])
    fr = ingest(ws, [f], skip_bad_rows=True).files[0]
    assert (fr.rows_read, fr.rows_added, fr.rejected) == (3, 2, 1)


@pytest.mark.parametrize("data, line, what", [
    (b"platform,event_id,account_id,timestamp\r\nx,1,a,1623881091\r\nx,2,a,1623881092\n"
     b"x,3,a,1623881093\r\n", 3, "ends with LF but the first line with CRLF"),
    (b"platform,event_id,account_id,timestamp\nx,1,a,1623881091\r\nx,2,a,1623881092\n", 2,
     "ends with CRLF but the first line with LF"),
    # a flipped byte ('-' ^ 0x20 is CR) in an LF file
    (b"platform,event_id,account_id,timestamp\nx,1,a,2021\r06-16\nx,2,a,1623881092\n", 2,
     "carriage return (CR) outside quotes where lines end with LF"),
    (b"platform,event_id,account_id,timestamp\nx,1,a,1623881091\nx,2,a,1623881092\r", 3,
     "carriage return (CR) outside quotes"),
])
def test_mixed_line_endings_are_one_line_errors(ws: Workspace, tmp_path: Path, data: bytes,
                                                line: int, what: str) -> None:
    f = write(tmp_path / "events.csv", data)
    with pytest.raises(BadInputError) as exc:
        ingest(ws, [f])
    assert str(exc.value).startswith(f"{f}:{line}: ") and what in str(exc.value)
    assert "\n" not in str(exc.value) and "dos2unix" in str(exc.value)


def test_crlf_inside_quotes_of_an_lf_file_loads(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", b"platform,event_id,account_id,timestamp,text\n"
              b'x,1,a,1623881091,"one\r\ntwo"\nx,2,a,1623881092,"cr\ronly"\n')
    fr = ingest(ws, [f]).files[0]
    assert (fr.rows_added, fr.rejected) == (2, 0)
    assert sorted(rows(ws, "SELECT event_id, text FROM events")) == [
        ("1", "one\r\ntwo"), ("2", "cr\ronly")]


def test_jsonl_lone_surrogate_and_deep_nesting_name_the_line(ws: Workspace, tmp_path: Path) -> None:
    ok = '{"platform":"x","event_id":"1","account_id":"a","timestamp":1}\n'
    f = write(tmp_path / "a" / "events.jsonl", ok + '{"platform":"x","event_id":"2",'
              '"account_id":"a","timestamp":1,"text":"\\ud800"}\n')
    with pytest.raises(BadInputError, match=r"events.jsonl:2: .*lone UTF-16 surrogate"):
        ingest(ws, [f])
    g = write(tmp_path / "b" / "events.jsonl", ok + "[" * 100_000 + "]" * 100_000 + "\n")
    for fmt in ("generic", "auto"):  # auto: the format sniffers parse the first line too
        with pytest.raises(BadInputError, match=r"events.jsonl:2: .*nested too deeply"):
            ingest(ws, [g], fmt=fmt)
    assert rows(ws, "SELECT count(*) FROM events") == [(0,)]


def test_duplicate_header_names_the_column(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp,text, text\n"
              "x,1,a,1623881091,t,u\n")
    with pytest.raises(BadInputError, match=r"events.csv:1: column 'text' appears twice in the "
                                            r"header \(columns 5 and 6\)"):
        ingest(ws, [f])
    g = write(tmp_path / "b" / "events.csv", "platform,event_id,account_id,timestamp,text,TEXT\n"
              "x,1,a,1623881091,t,u\n")
    with pytest.raises(BadInputError, match=r"columns 'text' and 'TEXT' differ only in case"):
        ingest(ws, [g])
    h = write(tmp_path / "c" / "events.jsonl", '{"platform":"x","event_id":"1","account_id":"a",'
              '"timestamp":1}\n{"platform":"x","event_id":"2","account_id":"a","timestamp":1,'
              '"Platform":"y"}\n')
    with pytest.raises(BadInputError, match=r"events.jsonl:2: keys 'Platform' and 'platform' "
                                            "differ only in case"):
        ingest(ws, [h])
    assert rows(ws, "SELECT count(*) FROM events") == [(0,)]


def test_unnamed_columns_are_named_and_kept(ws: Workspace, tmp_path: Path) -> None:
    # a header that ends in commas, as spreadsheets write it, used to fail inside DuckDB
    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp,,\n"
              "x,1,a,1623881091,kept,\n")
    assert ingest(ws, [f]).files[0].rows_added == 1
    assert rows(ws, "SELECT extra FROM events") == [('{"unnamed_5":"kept","unnamed_6":null}',)]
    g = write(tmp_path / "b" / "events.jsonl", '{"platform":"x","event_id":"2","account_id":"a",'
              '"timestamp":1,"":"no name"}\n')
    with pytest.raises(BadInputError, match=r"events.jsonl:1: a key has an empty name"):
        ingest(ws, [g])


def test_a_nul_in_a_column_name_is_refused(ws: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", b"platform,event_id,account_id,timestamp,te\x00xt\n"
              b"x,1,a,1623881091,t\n")
    with pytest.raises(BadInputError, match=r"events.csv:1: column 'te\\x00xt' has a NUL"):
        ingest(ws, [f])


@pytest.mark.parametrize("tail, line, what", [
    (b'x,2,b,1623881092,"cut in the mid', 3, "quoted field is not closed"),   # partial quote
    (b"x,2,b,16238", 3, "number of fields"),                                 # missing fields
])
def test_a_truncated_last_record_is_refused(ws: Workspace, tmp_path: Path, tail: bytes,
                                            line: int, what: str) -> None:
    f = write(tmp_path / "events.csv", b"platform,event_id,account_id,timestamp,text\n"
              b"x,1,a,1623881091,t\n" + tail)
    with pytest.raises(BadInputError) as exc:
        ingest(ws, [f])
    assert [e.line for e in exc.value.errors] == [line] and what in exc.value.errors[0].reason
