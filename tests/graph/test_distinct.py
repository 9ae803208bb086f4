"""One observed action is one piece of evidence: distinct event pairs across co-action signals
(issue 12, item 7), counted in fusion and in network scores."""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import GERMAN

from lockstep.detectors import CoActionDetector
from lockstep.graph import detect_networks, fuse
from lockstep.graph.distinct import DISTINCT_SCHEMA, distinct_event_pairs
from lockstep.testing import events_workspace

T0 = 1_600_000_000
COLUMNS = ("platform", "event_id", "account_id", "timestamp", "urls", "hashtags",
           "image_hashes")
TYPES = ("url", "domain", "hashtag", "image")


def _events(accounts: tuple[str, ...]) -> list[dict]:
    """Each account makes the same four posts, seconds apart: two carry the same link, one
    another link of the same site (the domain only is shared), one a hashtag and an image."""
    out = []
    for k, acc in enumerate(accounts):
        out += [
            {"account_id": acc, "timestamp": T0 + k, "urls": "https://news.example.com/a"},
            {"account_id": acc, "timestamp": T0 + 100 + k, "urls": "https://news.example.com/b"},
            {"account_id": acc, "timestamp": T0 + 200 + k,
             "urls": f"https://news.example.com/only-{acc}"},
            {"account_id": acc, "timestamp": T0 + 300 + k, "hashtags": "vote",
             "image_hashes": "abc123"},
        ]
    return out


def _no_p(t: pa.Table) -> pa.Table:
    """``t`` without p-values: two or three accounts give p ~ 1, so let support decide."""
    i = t.schema.get_field_index("p_value")
    return t.set_column(i, "p_value", pa.nulls(t.num_rows, pa.float64()))


def _tables(ws, window=60):
    return [_no_p(CoActionDetector(object_type=t, window=window).fit(ws).edges_)
            for t in TYPES]


@pytest.fixture
def two(tmp_path: Path):
    return events_workspace(tmp_path, _events(("a", "b")), columns=COLUMNS)


def test_each_post_pair_counts_once(two) -> None:
    tables = _tables(two)
    by_signal = {t["signal"][0].as_py(): t.to_pylist()[0] for t in tables}
    # today's per-signal counts: 2 + 3 + 1 + 1 = 7 event pairs for 4 pairs of posts
    assert {s: r["weight"] for s, r in by_signal.items()} == {
        "co-link": 2, "co-domain": 3, "co-hashtag": 1, "co-image": 1}
    d = distinct_event_pairs(two, tables, window=60)
    assert d.schema.equals(DISTINCT_SCHEMA)
    got = {tuple(r["signals"]): r["event_pairs"] for r in d.to_pylist()}
    assert got == {("co-domain", "co-link"): 2, ("co-domain",): 1,
                   ("co-hashtag", "co-image"): 1}
    # each signal's own count is recovered from the rows that hold it
    for s, r in by_signal.items():
        assert sum(n for ss, n in got.items() if s in ss) == r["weight"]

    before, after = fuse(tables), fuse(tables, distinct=d)
    assert before.edges["event_pairs"].to_pylist() == [7]
    assert after.edges["event_pairs"].to_pylist() == [4]
    # each event pair is credited to the strongest signal of the pair that saw it
    raw = {r["signal"]: r["strength"] for r in before.signal_edges.to_pylist()}
    long = {r["signal"]: r for r in after.signal_edges.to_pylist()}
    assert sum(r["new_event_pairs"] for r in long.values()) == 4
    rank = sorted(raw, key=lambda s: (-raw[s], s))
    credit = dict.fromkeys(raw, 0)
    for ss, n in got.items():
        credit[min(ss, key=rank.index)] += n
    for s, r in long.items():
        assert r["new_event_pairs"] == credit[s]
        assert r["strength"] == pytest.approx(raw[s] * credit[s] / by_signal[s]["weight"])
        assert r["weight"] == by_signal[s]["weight"]  # the per-signal evidence is kept
    w = after.edges["weight"][0].as_py()
    assert w == pytest.approx(sum(r["strength"] for r in long.values()))
    assert max(raw.values()) <= w < sum(raw.values())


def test_a_signal_that_repeats_another_adds_nothing(tmp_path: Path) -> None:
    # only the shared link: co-domain sees exactly co-link's event pairs
    ev = [e for e in _events(("a", "b")) if "news.example.com/a" in e.get("urls", "")
          or "news.example.com/b" in e.get("urls", "")]
    ws = events_workspace(tmp_path, ev, columns=COLUMNS)
    link, domain = (_no_p(CoActionDetector(object_type=t, window=60).fit(ws).edges_)
                    for t in ("url", "domain"))
    d = distinct_event_pairs(ws, [link, domain], window={"co-link": 60, "co-domain": 60})
    assert [(r["signals"], r["event_pairs"]) for r in d.to_pylist()] == [
        (["co-domain", "co-link"], 2)]
    g = fuse([link, domain], distinct=d)
    strongest = max(fuse([link]).edges["weight"][0].as_py(),
                    fuse([domain]).edges["weight"][0].as_py())
    assert g.edges["weight"][0].as_py() == pytest.approx(strongest)
    assert g.edges["event_pairs"].to_pylist() == [2]
    assert sorted(g.signal_edges["new_event_pairs"].to_pylist()) == [0, 2]


def test_windows_per_signal_and_checked(two) -> None:
    tables = _tables(two)
    with pytest.raises(ValueError, match="co-image"):
        distinct_event_pairs(two, tables, window={"co-link": 60, "co-domain": 60,
                                                  "co-hashtag": 60})
    # a window below the accounts' one-second offsets: no event pair, nothing to credit
    d = distinct_event_pairs(two, tables, window=0.5)
    assert d.num_rows == 0
    g = fuse(tables, distinct=d)
    assert g.edges["event_pairs"].to_pylist() == [7]  # nothing recounted: kept as given
    assert distinct_event_pairs(two, [], window=60).num_rows == 0


def test_network_scores_count_classes_not_object_types(tmp_path: Path) -> None:
    ws = events_workspace(tmp_path, _events(("a", "b", "c")), columns=COLUMNS)
    tables = _tables(ws)
    stats: dict = {}
    d = distinct_event_pairs(ws, tables, window=60, stats=stats)
    assert stats["pairs"] == 3 and stats["event_pairs"] == 12
    run = detect_networks(tables, distinct=d, method="components")
    (net,) = run.networks.to_pylist()
    # four co-action object types are one class of evidence: no diversity
    assert net["diversity"] == 0.0 and len(net["signals"]) == 4
    per_pair = defaultdict(int)
    for r in run.edges.to_pylist():
        per_pair[(r["account_a"], r["account_b"])] += r["new_event_pairs"]
    assert dict(per_pair) == {("a", "b"): 4, ("a", "c"): 4, ("b", "c"): 4}
    # a shared device is another class
    dev = pa.table({"platform_a": ["x"] * 3, "account_a": ["a", "a", "b"],
                    "platform_b": ["x"] * 3, "account_b": ["b", "c", "c"],
                    "signal": ["shared-device"] * 3, "support": [3] * 3})
    run2 = detect_networks([*tables, dev], distinct=d, method="components")
    assert 0 < run2.networks["diversity"][0].as_py() <= 0.5
    assert run2.params["fusion"]["distinct_event_pairs"] is True


# -- the German election data -------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not GERMAN.exists(), reason=f"shared data set not present at {GERMAN}")
def test_german_network_edges_count_distinct_post_pairs(ws) -> None:
    """Every network edge's event pairs in fusion are its distinct post pairs, counted here
    by a plain self-join of the raw CSV; before, one pair counted 21 for 11."""
    from lockstep.detect import DEFAULT_WINDOW, EVIDENCE_PER_PAIR
    from lockstep.ingestion import ingest
    from lockstep.significance import DEFAULT_ALPHA, fdr_filter

    ingest(ws, [GERMAN])
    dets = [CoActionDetector(object_type=t, window=DEFAULT_WINDOW, max_p=DEFAULT_ALPHA,
                             max_evidence=EVIDENCE_PER_PAIR).fit(ws)
            for t in ("post", "url", "reply", "image", "hashtag", "domain")]
    untested = sum(max(0, d.stats_["pairs_tested"] - d.edges_.num_rows) for d in dets)
    significant, _ = fdr_filter([d.edges_ for d in dets], DEFAULT_ALPHA, untested=untested)
    d = distinct_event_pairs(ws, significant, window=DEFAULT_WINDOW)
    run = detect_networks(significant, distinct=d)
    assert run.n_networks > 10
    fused: dict[tuple[str, str], int] = defaultdict(int)
    summed: dict[tuple[str, str], int] = defaultdict(int)
    sigs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in run.edges.to_pylist():
        key = (r["account_a"], r["account_b"])
        fused[key] += r["new_event_pairs"]
        summed[key] += r["weight"]
        sigs[key].add(r["signal"])
    column = {"co-link": "url_id", "co-hashtag": "hashtag_id", "co-domain": "domain_id",
              "co-image": "phash_id"}
    assert set().union(*sigs.values()) <= set(column)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE src AS SELECT * FROM read_csv('{GERMAN}', all_varchar=true)")
    con.execute("CREATE TABLE obj AS " + " UNION ALL ".join(
        f"SELECT DISTINCT account_id, post_id, CAST(timestamp AS BIGINT) AS t, '{s}' AS signal, "
        f"{c} AS oid FROM src WHERE {c} IS NOT NULL" for s, c in column.items()))
    con.execute("CREATE TABLE pairs (a VARCHAR, b VARCHAR, signal VARCHAR)")
    con.executemany("INSERT INTO pairs VALUES (?, ?, ?)",
                    [(a, b, s) for (a, b), ss in sigs.items() for s in ss])
    want = dict(con.execute(f"""
        SELECT x.account_id || '|' || y.account_id, count(DISTINCT (x.post_id, y.post_id))
        FROM pairs p
        JOIN obj x ON x.account_id = p.a AND x.signal = p.signal
        JOIN obj y ON y.account_id = p.b AND y.signal = p.signal AND y.oid = x.oid
        WHERE abs(x.t - y.t) <= {int(DEFAULT_WINDOW)}
        GROUP BY ALL""").fetchall())
    assert {f"{a}|{b}": n for (a, b), n in fused.items()} == want
    # the double count this removes: some pair's signals summed to about twice its posts
    worst = max(fused, key=lambda k: summed[k] / fused[k])
    assert summed[worst] >= 1.5 * fused[worst]
    assert sum(summed.values()) > sum(fused.values())
