"""Verdicts, inventory, storage, exports and evaluation of an assessed run."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import lockstep
from lockstep.attribution import assess, decide, load_assessment, save_assessment
from lockstep.attribution.behaviour import BEHAVIOUR_COLUMNS
from lockstep.cli import app
from lockstep.detect import detect
from lockstep.evaluate import evaluate_assessment, read_truth
from lockstep.graph import CSV_COLUMNS, export_networks, export_summary
from lockstep.ingestion import ingest
from lockstep.simulate import simulate


# -- the rules, on hand-made traits ------------------------------------------------------------
def _traits(**over: object) -> dict:
    base = {c: None for c in BEHAVIOUR_COLUMNS}
    base.update(network_id="N1", n_members=20, n_users=20, n_pages=0, n_groups=0, n_channels=0,
                followers_total=1000, created_known=20, age_median_days=2000.0,
                young_share=0.0, burst_share=0.05, bio_reuse_share=0.0, empty_bio_share=0.5,
                verified_share=0.0, followers_median=100.0, events=500,
                events_per_account_day=1.0, link_share=0.1, top_domains_share=0.5,
                venues_per_poster=0.5, with_sessions=20, device_share_share=0.0,
                devices_per_account=1.2, agents_per_account=0.8)
    base.update(over)
    return base


def _decide(traits: dict, **kw: object) -> dict:
    return decide(pa.Table.from_pylist([traits]), **kw).to_pylist()[0]


def test_old_independent_accounts_are_authentic() -> None:
    v = _decide(_traits())
    assert v["verdict"] == "authentic" and v["deception"] == []
    assert {"established_accounts", "own_devices", "distinct_personas"} <= set(v["against"])


def test_two_kinds_of_deception_make_cib_one_does_not() -> None:
    one = _decide(_traits(device_share_share=0.8))
    assert one["verdict"] == "undetermined" and one["deception"] == ["shared_devices"]
    assert any("needs two" in r for r in one["reasons"])
    two = _decide(_traits(device_share_share=0.8, young_share=0.9, burst_share=0.6,
                          age_median_days=40.0))
    assert two["verdict"] == "cib" and two["confidence"] == "medium"
    assert set(two["deception"]) == {"shared_devices", "new_accounts"}
    assert any("72 hours" in r for r in two["reasons"])
    three = _decide(_traits(device_share_share=0.8, young_share=0.9, burst_share=0.6,
                            age_median_days=40.0, bio_reuse_share=0.5))
    assert three["verdict"] == "cib" and three["confidence"] == "high"


def test_operators_and_location_count_as_deception() -> None:
    ops = pa.table({"network_id": ["N1"], "platform": ["facebook"], "account_id": ["op"],
                    "confidence": ["high"], "evidence_kinds": [["device", "role"]],
                    "n_assets": [7], "employer": ["Acme PR"], "in_network": [False]})
    links = pa.table({"network_id": ["N1"] * 2, "platform": ["facebook"] * 2,
                      "account_id": ["op"] * 2, "asset_platform": ["facebook"] * 2,
                      "asset_id": ["p1", "p2"], "kind": ["role"] * 2})
    loc = pa.table({"network_id": ["N1"], "location_mismatch": [True],
                    "mismatch_reason": ["presents as PK but runs from IN"],
                    "telemetry": [True], "origin_country": ["IN"],
                    "presented_country": ["PK"], "limitations": [None]})
    v = _decide(_traits(), operators=ops, links=links, location=loc)
    # three kinds of deception against two kinds of evidence against (old accounts, own
    # devices): cib, but the margin is one, so medium
    assert v["verdict"] == "cib" and v["confidence"] == "medium"
    assert "not cib if 1 of its kinds of deception" in v["would_change"]
    assert set(v["deception"]) == {"hidden_operators", "common_admins", "location_mismatch"}
    assert any("Acme PR" in r for r in v["reasons"])
    assert any("runs from IN" in r for r in v["reasons"])


def test_evidence_against_can_win() -> None:
    # shared devices and reused bios, as twins and generic bios give ordinary people, in a
    # network of old accounts run from where they say: not cib
    v = _decide(_traits(device_share_share=0.6, bio_reuse_share=0.4),
                location=pa.table({"network_id": ["N1"], "location_mismatch": [False],
                                   "mismatch_reason": [None], "telemetry": [True],
                                   "origin_country": ["DE"], "presented_country": ["DE"],
                                   "limitations": [None]}))
    assert set(v["deception"]) == {"shared_devices", "persona_reuse"}
    assert set(v["against"]) == {"established_accounts", "consistent_location"}
    assert v["verdict"] == "undetermined" and "cib with 1 more" in v["would_change"]


def test_no_activity_no_cib() -> None:
    # a household: young accounts made one evening on the family tablet, tied by nothing
    # they did together
    kw = dict(young_share=1.0, burst_share=1.0, age_median_days=20.0, device_share_share=1.0)
    assert _decide(_traits(**kw))["verdict"] == "cib"
    v = decide(pa.Table.from_pylist([_traits(**kw)]), activity={"N1": False}).to_pylist()[0]
    assert v["verdict"] == "undetermined"
    assert any("no coordinated activity" in r for r in v["reasons"])


def test_declared_roles_are_not_hidden_operators() -> None:
    # an agency administers its clients' pages under declared roles: common admins, but no
    # hidden operator; a device shared with the assets reveals one
    links = pa.table({"network_id": ["N1"] * 2, "platform": ["facebook"] * 2,
                      "account_id": ["op"] * 2, "asset_platform": ["facebook"] * 2,
                      "asset_id": ["p1", "p2"], "kind": ["role"] * 2})

    def ops(kinds: list[str]) -> pa.Table:
        return pa.table({"network_id": ["N1"], "platform": ["facebook"], "account_id": ["op"],
                         "confidence": ["high"], "evidence_kinds": [kinds], "n_assets": [2],
                         "employer": [None], "in_network": [False]})

    v = _decide(_traits(), operators=ops(["role"]), links=links)
    assert v["deception"] == ["common_admins"] and v["verdict"] == "undetermined"
    v = _decide(_traits(), operators=ops(["role", "device"]), links=links)
    assert set(v["deception"]) == {"common_admins", "hidden_operators"}


def test_spam_with_bios_is_spam() -> None:
    # link pushing bots with bios and no shared user agent: still spam by behaviour
    v = _decide(_traits(link_share=0.9, empty_bio_share=0.1, young_share=1.0, burst_share=0.9,
                        age_median_days=10.0, venues_per_poster=12.0, bio_reuse_share=0.5))
    assert v["verdict"] == "spam" and set(v["spam_signs"]) == {"bulk_creation", "many_groups"}
    # the same behaviour from a network that runs pages posing as outlets is not a link farm
    w = _decide(_traits(link_share=0.9, empty_bio_share=0.1, young_share=1.0, burst_share=0.9,
                        age_median_days=10.0, venues_per_poster=12.0, bio_reuse_share=0.5,
                        n_pages=3))
    assert w["verdict"] == "cib"


def test_link_pushing_bulk_bots_are_spam_not_cib() -> None:
    v = _decide(_traits(link_share=0.97, empty_bio_share=1.0, young_share=1.0, burst_share=1.0,
                        age_median_days=20.0, venues_per_poster=25.0, device_share_share=1.0,
                        agents_per_account=0.01, with_sessions=100))
    assert v["verdict"] == "spam" and v["confidence"] == "high"
    assert set(v["spam_signs"]) == {"bulk_creation", "many_groups", "one_user_agent",
                                    "no_persona"}


def test_public_data_says_what_it_cannot_establish() -> None:
    v = _decide(_traits(with_sessions=0, device_share_share=None, created_known=0,
                        young_share=None, burst_share=None, age_median_days=None),
                telemetry=False)
    assert "no telemetry: operator attribution not possible" in v["limitations"]
    assert any("creation dates" in x for x in v["limitations"])
    assert v["verdict"] == "undetermined"


# -- a simulated world, end to end ---------------------------------------------------------------
@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("assess")
    simulate(tmp / "world", scale="tiny", seed=5)
    ws = lockstep.open_workspace(tmp / "ws")
    ingest(ws, [tmp / "world"])
    run = detect(ws)
    return tmp, ws, run


@pytest.mark.slow
def test_every_network_has_a_verdict_with_reasons(assessed) -> None:  # type: ignore[no-untyped-def]
    _, _, run = assessed
    inv = run.assessment.inventory.to_pylist()
    assert [r["network_id"] for r in inv] == run.networks["network_id"].to_pylist()
    verdicts = {r["verdict"] for r in inv}
    assert {"cib", "spam"} <= verdicts <= {"cib", "spam", "authentic", "undetermined"}
    for r in inv:
        assert r["reasons"] and r["counts_text"] and r["n_assets"] >= 3
    cib = [r for r in inv if r["verdict"] == "cib"]
    assert any(r["operators"] and r["attribution"] for r in cib)
    assert any(r["origin_countries"] for r in cib)


@pytest.mark.slow
def test_assessment_is_stored_with_the_run(assessed) -> None:  # type: ignore[no-untyped-def]
    _, ws, run = assessed
    again = load_assessment(ws, run.run_id)
    assert again is not None
    assert again.inventory.equals(run.assessment.inventory)
    assert again.accounts.equals(run.assessment.accounts)
    # reassessing replaces it whole
    fresh = assess(ws, run)
    save_assessment(ws, run, fresh)
    assert load_assessment(ws, run.run_id).verdicts.equals(fresh.verdicts)


@pytest.mark.slow
def test_exports_fill_verdict_role_confidence(assessed) -> None:  # type: ignore[no-untyped-def]
    tmp, _, run = assessed
    path = export_networks(run, "csv", tmp / "out.csv")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["role"] for r in rows} == {"asset", "operator", "periphery"}
    assert all(r["verdict"] and r["confidence"] for r in rows)
    # a member tied by one link never takes its network's verdict
    assert all(r["verdict"] == "undetermined" for r in rows if r["role"] == "periphery")
    ops = [r for r in rows if r["role"] == "operator"]
    assert all(r["verdict"] in ("cib", "spam", "authentic", "undetermined") for r in ops)
    summary = export_summary(run, "csv", tmp / "summary.csv")
    srows = list(csv.DictReader(open(summary, encoding="utf-8")))
    assert tuple(srows[0]) == ("network_id", "verdict", "confidence", "origin_countries",
                               "target_countries", "operators", "counts")
    assert len(srows) == run.n_networks
    assert any(":" in r["origin_countries"] and r["operators"] for r in srows
               if r["verdict"] == "cib")
    js = json.loads(export_summary(run, "json", tmp / "summary.json").read_text())
    assert len(js["networks"]) == run.n_networks


@pytest.mark.slow
def test_evaluation_of_verdicts_operators_origin(assessed) -> None:  # type: ignore[no-untyped-def]
    _, ws, run = assessed
    a = run.assessment
    rep = evaluate_assessment(run.members, a.accounts, a.inventory, a.operators, read_truth(ws))
    kinds = {r["kind"]: r for r in rep.verdicts}
    assert kinds["spam"]["accuracy"] == 1.0
    # floors this tiny, dense world reaches (the targets are for a medium world and
    # measured by benchmarks/detect.py). Measured in session 4 (duckdb 2.0.1, pyarrow 26,
    # numpy 2.4.6, graspologic-native 1.3.1): cib precision 0.80, recall 0.96, 13.2% of
    # authentic members labelled cib, because Leiden merges one authentic community with two
    # tier-3 operations through a dozen co-amplify and co-reply edges (everyone here follows
    # the same few pages) and the merged network is cib; the same code on session 3's
    # environment measured 0.89 / 0.92 / 5.9%, and --resolution 2 gives 0.93 precision here.
    # Session 7 (persons, core and periphery, calibrated cohort nulls, one count per event
    # pair, verdicts where evidence against can win): precision 0.995, recall 0.787 here;
    # the recall lost is tier 3, whose pairs had been held together by double-counted
    # co-action terms.
    assert rep.cib.precision >= 0.9 and rep.cib.recall >= 0.75
    assert rep.authentic_as_cib_share <= 0.15 and rep.spam_as_cib == 0
    assert rep.operators["precision"] >= 0.7 and rep.operators["recall"] >= 0.6
    assert rep.origin["accuracy"] >= 0.6


@pytest.mark.slow
def test_cli_shows_the_assessment(assessed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tmp, ws, run = assessed
    monkeypatch.setenv("LOCKSTEP_WORKSPACE", str(ws.path))
    monkeypatch.setenv("COLUMNS", "120")
    cib = next(r["network_id"] for r in run.assessment.inventory.to_pylist()
               if r["verdict"] == "cib")
    got = CliRunner().invoke(app, ["network", cib])
    assert got.exit_code == 0, got.output
    assert "verdict: cib" in got.output and "assets" in got.output and "origin" in got.output
    got = CliRunner().invoke(app, ["networks"])
    assert got.exit_code == 0 and "cib (" in got.output
    got = CliRunner().invoke(app, ["export", "summary", "--out", str(tmp / "s.csv")])
    assert got.exit_code == 0 and (tmp / "s.csv").exists()
    got = CliRunner().invoke(app, ["evaluate"])
    assert got.exit_code == 0 and "operators:" in got.output and "origin country" in got.output


def test_public_workspace_runs_and_states_limits(tmp_path: Path) -> None:
    """Events only (as researchers have them): the pipeline runs and says what it cannot do."""
    from lockstep.testing import make_campaign

    ws = lockstep.open_workspace(tmp_path / "ws")
    ingest(ws, [make_campaign(tmp_path, seed=2)])
    run = detect(ws)
    assert run.n_networks >= 1
    a = run.assessment
    assert not a.telemetry
    assert "no telemetry: operator attribution not possible" in a.limitations
    assert a.operators.num_rows == 0
    for r in a.inventory.to_pylist():
        assert "no telemetry: operator attribution not possible" in r["limitations"]


def test_members_named_operators_only_with_high_confidence() -> None:
    """A member of the network linked as its operator by one kind of evidence (a page role,
    a device shared with other assets) is a fake fronting for it; a member linked at high
    confidence (a tier-1 operator re-sharing the pages from their own account) stays, and so
    does any non-member. An account that is an asset of another network is never an operator."""
    from lockstep.attribution.assess import _not_assets_elsewhere

    ops = pa.table({"network_id": ["N1", "N1", "N1", "N1"], "platform": ["x"] * 4,
                    "account_id": ["fake", "boss", "outsider", "other_asset"],
                    "confidence": ["medium", "high", "medium", "high"]})
    members = pa.table({"network_id": ["N1", "N1", "N2"], "platform": ["x"] * 3,
                        "account_id": ["fake", "boss", "other_asset"]})
    kept = _not_assets_elsewhere(ops, members)
    assert kept["account_id"].to_pylist() == ["boss", "outsider"]


def test_ages_without_any_creation_time() -> None:
    """Networks none of whose members has a known creation time (public data without
    profiles) have no age traits, and no crash."""
    from lockstep.attribution.behaviour import _ages

    empty = pa.table({"network_id": pa.array([], pa.string()), "platform": pa.array([], pa.string()),
                      "account_id": pa.array([], pa.string()),
                      "created_us": pa.array([], pa.float64())})
    assert _ages(empty, {}) == {}


def test_a_run_without_networks_is_assessed_and_exported(tmp_path) -> None:
    """Regression: empty member lists lost their type and the assessment crashed."""
    from lockstep.detect import detect
    from lockstep.graph.export import export_summary
    from lockstep.testing import events_workspace

    events = [{"account_id": f"a{i}", "timestamp": 1_700_000_000 + 5000 * i,
               "action": "post", "text": f"ordinary post number {i}"} for i in range(6)]
    ws = events_workspace(tmp_path, events)
    run = detect(ws)
    assert run.n_networks == 0
    assert run.assessment is not None and run.assessment.verdicts.num_rows == 0
    export_summary(run, "csv", tmp_path / "summary.csv")
    assert (tmp_path / "summary.csv").read_text(encoding="utf-8").count("\n") == 1  # header
