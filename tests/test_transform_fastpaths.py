"""The ingest's fast paths give exactly what the general rules give.

The expected values below were produced by the general (slower) macros that the fast paths
replaced, on inputs chosen to sit on every branch: URLs with and without ``www``, ports,
user info, fragments, empty and tracking parameters; timestamps in ISO layouts with and
without seconds and fractions, and as UNIX numbers; lists with odd whitespace.
"""
from __future__ import annotations

import duckdb
import pytest

from lockstep.readers.transform import install_transform_functions, typed_select
from lockstep.urls import install_url_functions, normalize_url, url_map_select

URLS = [
    ("HTTPS://WWW.Example.com:443/a/?utm_source=x&id=3#top", "https://example.com/a?id=3"),
    ("example.com/?r=http://x", "http://example.com?r=http://x"),
    ("foo bar://x", "foo bar://x"),
    ("www2.ex.com/a//", "http://ex.com/a"),
    ("http://user:pw@Ex.COM:80/", "http://ex.com"),
    ("ftp://www.x.org:21/a", "ftp://x.org:21/a"),
    ("https://x.com?", "https://x.com"),
    ("https://x.com/?fbclid=1", "https://x.com"),
    ("12345", "12345"),
    ("http://WWW.x.com:8080/p?a=1&utm_x=2&b", "http://x.com:8080/p?a=1&b"),
    ("mailto:x@y", "mailto:x@y"),
    ("https://x.com/#frag", "https://x.com"),
    ("https://x.com/a/b/?__tn__=1", "https://x.com/a/b"),
    ("https://x.com/?a=1&&b=2&", "https://x.com?a=1&b=2"),
    ("https://x.com/??a=1", "https://x.com?a=1"),
    ("https://x.com/?&&", "https://x.com"),
    ("https://x.com/?fbclidx=1&_ga&_gax=2&__cft__[0]=z&utm_=&=&a", "https://x.com?fbclidx=1&_gax=2&=&a"),
    ("https://x.com/?utm_source", "https://x.com"),
    ("https://x.com/?a=utm_source=1&b=fbclid", "https://x.com?a=utm_source=1&b=fbclid"),
    ("https://ü.de/ä?ö=1&utm_x=ü#x", "https://ü.de/ä?ö=1"),
    ("http://a@b@c.com/x?y?z#w#v", "http://b@c.com/x?y?z"),
    ("https://x.com/?gclid=1&gclid=2&x=1&gclid=3", "https://x.com?x=1"),
    ("https://x.com/?=utm_x", "https://x.com?=utm_x"),
    (" https://Wwwx.com/ ", "https://wwwx.com"),
    ("https://www.x.com:443", "https://x.com"),
    ("HTTP://WWW3.X.COM:80/A/", "http://x.com/A"),
    # the simple shape (lockstep_norm_simple) and its near misses
    ("https://news.example.com/2025/05/a-b/", "https://news.example.com/2025/05/a-b"),
    ("https://www.ex-ample.online/p/x.html", "https://ex-ample.online/p/x.html"),
    ("http://www2.x.org", "http://x.org"),
    ("https://wwwx.com/a//", "https://wwwx.com/a"),
    ("https://www.com/", "https://com"),
    ("https://x.com/a@b/C", "https://x.com/a@b/C"),
    ("https://x.com/a b", "https://x.com/a b"),
    ("https://x.com/a ", "https://x.com/a"),
    ("https://x.com", "https://x.com"),
    ("https://x.com//", "https://x.com"),
    ("svn+ssh://h.x/r/", "svn+ssh://h.x/r"),
]

TIMESTAMPS = [
    ("2026-03-01T00:00:05Z", "s", "2026-03-01 00:00:05+00"),
    ("2026-03-01 00:00", "min", "2026-03-01 00:00:00+00"),
    ("2026-03-01T00:00:05.123Z", "ms", "2026-03-01 00:00:05.123+00"),
    ("2026-03-01T00:00:05.1234+02:00", "us", "2026-02-28 22:00:05.1234+00"),
    ("2026-03-01T00:00:05,5Z", "ms", None),
    ("2026-03-01", "day", "2026-03-01 00:00:00+00"),
    ("2026-03-01T0:00:05Z", "s", "2026-03-01 00:00:05+00"),
    ("1700000000", "s", "2023-11-14 22:13:20+00"),
    ("-5", "s", "1969-12-31 23:59:55+00"),
    ("1700000000.25", "ms", "2023-11-14 22:13:20.25+00"),
    ("1700000000.123456", "us", "2023-11-14 22:13:20.123456+00"),
    ("2026-03-01T00:00:05", "s", "2026-03-01 00:00:05+00"),
    ("2026-03-01T00:00", "min", "2026-03-01 00:00:00+00"),
    ("2026-03-01 00:00:05 UTC", "s", "2026-03-01 00:00:05+00"),
    ("2026-03-01T00:00:05+0530", "s", "2026-02-28 18:30:05+00"),
    ("2026-03-01T12:30+02:00", "min", "2026-03-01 10:30:00+00"),
]


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    install_url_functions(c)
    install_transform_functions(c)
    return c


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_url_normalisation(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_simple_url_fast_path_agrees_with_the_parse(con: duckdb.DuckDBPyConnection) -> None:
    fast = 0
    for url, expected in URLS:
        simple, full = con.execute("SELECT lockstep_norm_simple(?), lockstep_norm_url_full(?)",
                                   [url, url]).fetchone()
        assert full == expected, url
        assert simple is None or simple == full, url
        fast += simple is not None
    assert fast >= 8  # the fast path is taken where it can be


def test_url_map_select_agrees_with_normalize_url(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE u (url VARCHAR)")
    con.executemany("INSERT INTO u VALUES (?)", [[u] for u, _ in URLS])
    got = {url: (key, host) for url, key, host
           in con.execute(url_map_select("SELECT url FROM u")).fetchall()}
    assert {u: k for u, (k, _) in got.items()} == dict(URLS)
    assert got["HTTPS://WWW.Example.com:443/a/?utm_source=x&id=3#top"][1] == "example.com"
    assert got["http://WWW.x.com:8080/p?a=1&utm_x=2&b"][1] == "x.com"  # no port
    assert got["12345"][1] is None and got["mailto:x@y"][1] is None  # opaque ids: no host


@pytest.mark.parametrize(("raw", "precision", "parsed"), TIMESTAMPS)
def test_timestamp_parse_and_precision(con: duckdb.DuckDBPyConnection, raw: str,
                                       precision: str, parsed: str | None) -> None:
    got = con.execute("SELECT lockstep_ts_precision(?), lockstep_parse_ts(?)::VARCHAR",
                      [raw, raw]).fetchone()
    assert got == (precision, parsed)


def _typed_events(con: duckdb.DuckDBPyConnection, urls: list[str | None],
                  hashtags: list[str | None]) -> list[tuple[object, object, object]]:
    rows = [("facebook", str(i), "a", "2026-03-01T00:00:00Z", u, h)
            for i, (u, h) in enumerate(zip(urls, hashtags, strict=True))]
    con.execute("CREATE OR REPLACE TABLE raw_events (platform VARCHAR, event_id VARCHAR, "
                "account_id VARCHAR, timestamp VARCHAR, urls VARCHAR, hashtags VARCHAR)")
    con.executemany("INSERT INTO raw_events VALUES (?, ?, ?, ?, ?, ?)", rows)
    cols = {c: "VARCHAR" for c in ("platform", "event_id", "account_id", "timestamp", "urls",
                                   "hashtags")}
    sql = typed_select("events", "raw_events", cols, None)
    con.execute(f"CREATE OR REPLACE TABLE typed AS SELECT * FROM ({sql})")
    keys = {url: key for url, key, _ in con.execute(url_map_select(
        "SELECT DISTINCT unnest(urls) AS url FROM typed")).fetchall()}
    got = con.execute("SELECT urls, hashtags FROM typed ORDER BY _ord").fetchall()
    return [(u, None if u is None else [keys[x] for x in u], h) for u, h in got]


def test_lists_and_url_keys_of_every_length(con: duckdb.DuckDBPyConnection) -> None:
    # lists of one, two, three and five URLs; whitespace of every kind
    five = [URLS[i] for i in (0, 1, 3, 4, 5)]  # not URLS[2]: it holds a space
    many = [u for u, _ in five]
    urls = [None, "", "  ", "\t", URLS[0][0], f"{URLS[0][0]} {URLS[3][0]}",
            f"\t{URLS[1][0]}  {URLS[4][0]}\n{URLS[5][0]} ", " ".join(many)]
    tags = [None, "", "a", "#b c", " x\ty ", "#", "a  b", "##z"]
    got = _typed_events(con, urls, tags)
    assert [g[0] for g in got] == [
        None, None, None, None, [URLS[0][0]], [URLS[0][0], URLS[3][0]],
        [URLS[1][0], URLS[4][0], URLS[5][0]], many]
    assert [g[1] for g in got] == [
        None, None, None, None, [URLS[0][1]], [URLS[0][1], URLS[3][1]],
        [URLS[1][1], URLS[4][1], URLS[5][1]], [e for _, e in five]]
    assert [g[2] for g in got] == [None, None, ["a"], ["b", "c"], ["x", "y"], [""], ["a", "b"],
                                   ["z"]]


def test_trim_and_platform_checks(con: duckdb.DuckDBPyConnection) -> None:
    rows = [(" Facebook ", " e1", "a ", "2026-03-01T00:00:00Z"),
            ("x", "e2", "  ", "2026-03-01T00:00:00Z"),
            ("my net", "e3", "b", "2026-03-01T00:00:00Z"),
            ("mastodon.social", "e4", "c", " 2026-03-01T00:00:00Z ")]
    con.execute("CREATE OR REPLACE TABLE raw_events (platform VARCHAR, event_id VARCHAR, "
                "account_id VARCHAR, timestamp VARCHAR)")
    con.executemany("INSERT INTO raw_events VALUES (?, ?, ?, ?)", rows)
    cols = {c: "VARCHAR" for c in ("platform", "event_id", "account_id", "timestamp")}
    sql = typed_select("events", "raw_events", cols, None)
    got = con.execute(f"SELECT platform, event_id, account_id, ts_precision, _err FROM ({sql}) "
                      "ORDER BY _ord").fetchall()
    assert got[0] == ("facebook", "e1", "a", "s", None)
    assert got[1][2] is None and got[1][4] == "missing account_id"
    assert got[2][4].startswith("platform my net is not a lower-case name")
    assert got[3] == ("mastodon.social", "e4", "c", "s", None)


def test_key_check_compares_exactly_where_hashes_meet() -> None:
    from lockstep.ingestion import _repeats

    c = duckdb.connect()
    keys = ("platform", "event_id")
    c.execute("CREATE TABLE t (platform VARCHAR, event_id VARCHAR)")
    c.execute("INSERT INTO t VALUES ('x', '1'), ('x', '2'), ('y', '1'), ('x', NULL)")
    assert _repeats(c, "t", keys) is None
    c.execute("INSERT INTO t VALUES ('x', '2'), ('x', NULL)")
    assert _repeats(c, "t", keys) is not None  # NULL parts are equal too
    assert sorted(c.execute("SELECT * FROM _repeats").fetchall(), key=repr) == [
        ("x", "2"), ("x", "2"), ("x", None), ("x", None)]
    # different keys whose joined text (and so hash) is the same: the exact count decides
    c.execute("CREATE TABLE u AS SELECT * FROM (VALUES ('a' || chr(0) || 'b', 'c'), "
              "('a', 'b' || chr(0) || 'c')) v(platform, event_id)")
    assert c.execute("SELECT count(DISTINCT hash(platform || chr(0) || event_id)) FROM u"
                     ).fetchone() == (1,)
    assert _repeats(c, "u", keys) is None
