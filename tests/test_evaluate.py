"""Account-level evaluation against a truth table, on a small hand-computed example."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write

from lockstep.evaluate import TRUTH_COLUMNS, evaluate, read_truth
from lockstep.exceptions import UsageError
from lockstep.ingestion import ingest

# planted: cib n1 (tier 1) a1-a4, cib n2 (tier 3) b1-b4, spam s1 s1-s2, authentic au1 h1-h3;
# o1 is in the truth table with no network (ordinary); z1 is not in the truth table at all.
TRUTH_ROWS = ([(f"a{i}", "n1", "cib", 1) for i in range(1, 5)]
              + [(f"b{i}", "n2", "cib", 3) for i in range(1, 5)]
              + [("s1", "s1", "spam", None), ("s2", "s1", "spam", None)]
              + [(f"h{i}", "au1", "authentic", None) for i in range(1, 4)]
              + [("o1", None, None, None)])
FLAGGED_ROWS = ([("N1", a) for a in ("a1", "a2", "a3", "o1", "z1")]
                + [("N2", a) for a in ("b1", "h1", "h2")]
                + [("N3", a) for a in ("s1", "s2", "a4")])


def truth_table(with_tier: bool = True) -> pa.Table:
    cols = {"platform": ["x"] * len(TRUTH_ROWS), "account_id": [r[0] for r in TRUTH_ROWS],
            "network_id": [r[1] for r in TRUTH_ROWS],
            "network_kind": [r[2] for r in TRUTH_ROWS],
            "operator_id": [None] * len(TRUTH_ROWS)}
    if with_tier:
        cols["tier"] = pa.array([r[3] for r in TRUTH_ROWS], pa.int64())
    return pa.table(cols)


def flagged_table() -> pa.Table:
    return pa.table({"network_id": [r[0] for r in FLAGGED_ROWS],
                     "platform": ["x"] * len(FLAGGED_ROWS),
                     "account_id": [r[1] for r in FLAGGED_ROWS]})


def test_overall_kind_and_tier_numbers():
    r = evaluate(flagged_table(), truth_table(), all_accounts=113)
    # F = 11 flagged, P = 13 planted, F & P = 9 (a1-a4, b1, h1, h2, s1, s2)
    o = r.overall
    assert (o.planted, o.flagged) == (13, 9) and r.n_flagged == 11
    assert o.precision == pytest.approx(9 / 11)
    assert o.recall == pytest.approx(9 / 13)
    assert o.f1 == pytest.approx(0.75)  # 2 * 9 / (11 + 13)
    kinds = {g.group: g for g in r.by_kind}
    assert list(kinds) == ["kind=cib", "kind=spam", "kind=authentic"]
    # precision of a group is against the 2 flagged ordinary accounts (o1, z1)
    assert (kinds["kind=cib"].recall, kinds["kind=cib"].precision) == (5 / 8, 5 / 7)
    assert kinds["kind=cib"].f1 == pytest.approx(2 / 3)
    assert (kinds["kind=spam"].recall, kinds["kind=spam"].precision) == (1.0, 0.5)
    assert kinds["kind=authentic"].recall == pytest.approx(2 / 3)
    assert kinds["kind=authentic"].f1 == pytest.approx(4 / 7)
    tiers = {g.group: g for g in r.by_tier}
    assert list(tiers) == ["tier=1", "tier=3"]
    assert (tiers["tier=1"].planted, tiers["tier=1"].flagged) == (4, 4)
    assert tiers["tier=1"].recall == 1.0 and tiers["tier=1"].precision == pytest.approx(4 / 6)
    assert tiers["tier=1"].f1 == pytest.approx(0.8)
    assert tiers["tier=3"].recall == 0.25 and tiers["tier=3"].precision == pytest.approx(1 / 3)
    assert tiers["tier=3"].f1 == pytest.approx(2 / 7)
    assert r.authentic_flagged == 2
    assert r.ordinary_flagged == 2
    assert r.ordinary_share == pytest.approx(2 / 100)


def test_best_matching_networks():
    m = {x.network_id: x for x in evaluate(flagged_table(), truth_table()).matches}
    assert list(m) == ["au1", "n1", "n2", "s1"]
    assert (m["n1"].best_match, m["n1"].jaccard, m["n1"].overlap) == ("N1", 0.5, 3)
    assert (m["n1"].n_detected, m["n1"].flagged, m["n1"].recall) == (2, 4, 1.0)
    assert (m["n1"].network_kind, m["n1"].tier, m["n1"].size) == ("cib", 1, 4)
    assert (m["n2"].best_match, m["n2"].recall) == ("N2", 0.25)
    assert m["n2"].jaccard == pytest.approx(1 / 6)
    assert (m["s1"].best_match, m["s1"].jaccard) == ("N3", pytest.approx(2 / 3))
    assert (m["au1"].best_match, m["au1"].jaccard) == ("N2", 0.5)
    assert m["au1"].tier is None


def test_table_and_dict():
    r = evaluate(flagged_table(), truth_table(), all_accounts=113)
    rows = r.table()
    assert [x["group"] for x in rows] == ["overall", "kind=cib", "kind=spam", "kind=authentic",
                                          "tier=1", "tier=3"]
    assert set(rows[0]) == {"group", "planted", "flagged", "precision", "recall", "f1"}
    d = json.loads(json.dumps(r.to_dict()))
    assert d["overall"]["f1"] == pytest.approx(0.75)
    assert d["ordinary_flagged"] == 2 and len(d["matches"]) == 4


def test_no_tier_column_and_edge_cases():
    r = evaluate(flagged_table(), truth_table(with_tier=False))
    assert r.by_tier == [] and r.ordinary_share is None
    assert all(m.tier is None for m in r.matches)
    empty = evaluate(flagged_table().slice(0, 0), truth_table())
    assert empty.overall.precision is None and empty.overall.recall == 0.0
    assert empty.overall.f1 is None and empty.matches[0].best_match is None
    # an account flagged twice counts once; ties go to the smaller network id
    dup = pa.table({"network_id": ["N2", "N1"], "platform": ["x", "x"],
                    "account_id": ["s1", "s1"]})
    r = evaluate(dup, truth_table())
    assert r.n_flagged == 1 and r.overall.precision == 1.0
    assert {m.network_id: m.best_match for m in r.matches}["s1"] == "N1"


def test_platform_is_part_of_the_account():
    flagged = pa.table({"network_id": ["N1"], "platform": ["facebook"], "account_id": ["a1"]})
    r = evaluate(flagged, truth_table())
    assert r.overall.flagged == 0 and r.ordinary_flagged == 1


def test_read_truth_from_files(tmp_path: Path):
    csv_path = write(tmp_path / "truth.csv",
                     "platform,account_id,network_id,network_kind,operator_id,tier,role,"
                     "origin_country\nx,a1,n1,cib,op1,2,fake,IN\nx,o1,,,,,,\n")
    t = read_truth(csv_path)
    assert tuple(t.column_names) == TRUTH_COLUMNS
    assert t.to_pylist()[0] == {"platform": "x", "account_id": "a1", "network_id": "n1",
                                "network_kind": "cib", "operator_id": "op1", "tier": 2,
                                "role": "fake", "origin_country": "IN"}
    assert t["network_id"][1].as_py() is None
    pq.write_table(truth_table(), tmp_path / "truth.parquet")
    assert read_truth(tmp_path / "truth.parquet")["tier"].to_pylist()[:5] == [1, 1, 1, 1, 3]
    with pytest.raises(UsageError):
        read_truth(tmp_path / "missing.csv")


def test_read_truth_from_workspace(ws, tmp_path: Path):
    d = tmp_path / "world"
    write(d / "events.csv", "platform,event_id,account_id,timestamp\nx,1,a1,1623881091\n")
    write(d / "truth.csv", "platform,account_id,network_id,network_kind,operator_id,tier,role\n"
          "x,a1,n1,cib,op1,2,fake\nx,a2,n1,cib,op1,2,operator\n")
    ingest(ws, [d])
    t = read_truth(ws).sort_by("account_id")
    assert t["tier"].to_pylist() == [2, 2] and t["role"].to_pylist() == ["fake", "operator"]
    flagged = pa.table({"network_id": ["N1"], "platform": ["x"], "account_id": ["a1"]})
    assert evaluate(flagged, t).by_tier[0].recall == 0.5


def test_both_evaluations_pick_the_same_best_match_on_a_tie():
    """Two detected networks match a planted one equally well: detection's and the
    assessment's evaluation name the same one (the smallest id), whatever the row order."""
    from lockstep.evaluate import evaluate_assessment

    truth = pa.table({"platform": ["x"] * 4, "account_id": ["a", "b", "c", "d"],
                      "network_id": ["n1"] * 4, "network_kind": ["cib"] * 4,
                      "operator_id": [None] * 4, "tier": pa.array([1] * 4, pa.int64()),
                      "role": ["fake"] * 4, "origin_country": ["IN"] * 4})
    members = pa.table({"network_id": ["N2", "N2", "N1", "N1"], "platform": ["x"] * 4,
                        "account_id": ["a", "b", "c", "d"]})
    det = evaluate(members, truth).matches[0]
    inv = pa.Table.from_pylist([{"network_id": "N1", "verdict": "cib", "origin_countries": []},
                                {"network_id": "N2", "verdict": "spam", "origin_countries": []}])
    accounts = members.append_column("verdict", pa.array(["spam", "spam", "cib", "cib"]))
    ops = pa.table({"network_id": pa.array([], pa.string()), "platform": pa.array([], pa.string()),
                    "account_id": pa.array([], pa.string())})
    rep = evaluate_assessment(members, accounts, inv, ops, truth)
    assert det.best_match == rep.networks[0]["best_match"] == "N1"
    assert rep.networks[0]["verdict"] == "cib"


def _export_fixture() -> tuple[pa.Table, pa.Table]:
    truth = pa.table({
        "platform": ["x"] * 7,
        "account_id": ["op", "f1", "f2", "s1", "s2", "m1", "m2"],
        "network_id": ["c1", "c1", "c1", "s1", "s1", "a1", "a1"],
        "network_kind": ["cib", "cib", "cib", "spam", "spam", "authentic", "authentic"],
        "role": ["operator", "fake", "fake", "spam_bot", "spam_bot", "member", "member"],
    })
    # N1: the CIB network (f1, f2 as assets, op exported as operator) plus one ordinary account;
    # N2: one spam bot labelled cib; N3: ordinary people only, with an "operator" who is their
    # own twin; N4: an authentic member, labelled authentic.
    acc = pa.table({
        "network_id": ["N1", "N1", "N1", "N1", "N2", "N3", "N3", "N3", "N4"],
        "platform": ["x"] * 9,
        "account_id": ["f1", "f2", "o1", "op", "s1", "o2", "o3", "o4", "m1"],
        "role": ["asset", "asset", "asset", "operator", "asset", "asset", "asset", "operator",
                 "asset"],
        "verdict": ["cib", "cib", "cib", "cib", "cib", "cib", "cib", "cib", "authentic"],
    })
    return acc, truth


def test_evaluate_export_counts_what_a_user_exports():
    from lockstep.evaluate import evaluate_export

    acc, truth = _export_fixture()
    r = evaluate_export(acc, truth)
    # labelled cib: f1 f2 o1 op s1 o2 o3 o4 (8), of which op f1 f2 are planted cib
    assert r.cib.planted == 3 and r.cib.flagged == 3
    assert r.cib.precision == pytest.approx(3 / 8) and r.cib.recall == 1.0
    assert (r.spam_as_cib, r.spam_total, r.spam_as_cib_share) == (1, 2, 0.5)
    assert (r.authentic_as_cib, r.authentic_total) == (0, 2)
    assert r.listed_networks == 4 and r.listed_accounts == 9
    assert r.listed_ordinary == 4 and r.listed_ordinary_share == pytest.approx(4 / 9)
    assert r.listed_without_planted == 1 and r.listed_without_planted_share == 0.25
    assert (r.operators_exported, r.operators_true, r.operators_correct) == (2, 1, 1)
    assert r.operator_precision == 0.5 and r.operator_recall == 1.0
    d = r.to_dict()
    assert d["cib"]["precision"] == pytest.approx(3 / 8) and d["operator_precision"] == 0.5
    json.dumps(d)


def test_evaluate_export_listed_networks_and_edge_cases():
    from lockstep.evaluate import all_networks, evaluate_export

    acc, truth = _export_fixture()
    assert all_networks(acc) == {"N1", "N2", "N3", "N4"}

    class Run:  # an assessed run: all_networks reads its assessment's account table
        class assessment:  # noqa: N801
            accounts = acc

    assert all_networks(Run()) == all_networks(acc)
    r = evaluate_export(acc, truth, listed={"N1", "N2"})
    assert r.listed_networks == 2 and r.listed_accounts == 5 and r.listed_ordinary == 1
    assert r.listed_without_planted == 0
    # the listed cut does not change verdict or operator metrics
    assert r.cib == evaluate_export(acc, truth).cib and r.operators_exported == 2
    empty = evaluate_export(acc.slice(0, 0), truth, listed=set())
    assert empty.cib.precision is None and empty.listed_ordinary_share is None
    assert empty.operator_precision is None and empty.operator_recall == 0.0
