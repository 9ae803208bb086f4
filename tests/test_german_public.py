"""Honest on public data (issue 12, item 7): the German federal election 2021 sample has no
telemetry and no accounts table, so no network may get a country of origin without supporting
evidence, and no missing value may count as evidence for or against deception."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import GERMAN
from lockstep.attribution.location import MIN_ZONE_ACCOUNTS, MIN_ZONE_EVENTS
from lockstep.ingestion import ingest
from lockstep.workspace import Workspace

pytestmark = pytest.mark.skipif(not GERMAN.exists(), reason=f"shared data set not present at {GERMAN}")


@pytest.fixture(scope="module")
def german_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from lockstep.detect import detect

    ws = Workspace.open(Path(tmp_path_factory.mktemp("german")) / "ws")
    ingest(ws, [GERMAN])
    return detect(ws, save=False)


def test_no_country_origin_without_supporting_evidence(german_run) -> None:  # type: ignore[no-untyped-def]
    a = german_run.assessment
    loc = a.location.to_pylist()
    assert len(loc) == german_run.n_networks >= 1
    zoned = 0
    for r in loc:
        assert r["telemetry"] is False and r["presented_countries"] == []
        # nothing presented and no sessions: no country, whatever the rhythm
        assert r["origin_countries"] == [] and r["origin_country"] is None, r["network_id"]
        assert r["origin_confidence"] == "none"
        assert r["location_mismatch"] is False
        if r["time_zone"] is None:
            assert r["rhythm_offset_h"] is None and r["rhythm_countries"] == []
            continue
        zoned += 1
        # a zone rests on the stated minimum of evidence, and is said to be only a zone
        assert r["rhythm_events"] >= MIN_ZONE_EVENTS and r["rhythm_accounts"] >= MIN_ZONE_ACCOUNTS
        assert r["time_zone_evidence"].startswith(r["time_zone_offset"] + ", consistent with")
        assert "origin country not established (activity gives a time zone only" in r["limitations"]
    assert zoned >= 1
    # Germany in August-September 2021 is UTC+2 (summer time), not a fixed standard offset
    berlin = [r for r in loc if r["time_zone"] == "Europe/Berlin"]
    assert berlin and all(r["time_zone_offset"] == "UTC+2" for r in berlin)
    assert any("Central European summer time" in r["time_zone_evidence"] for r in berlin)
    for row in a.inventory.to_pylist():
        assert row["origin_countries"] == []


def test_missing_values_are_never_evidence(german_run) -> None:  # type: ignore[no-untyped-def]
    a = german_run.assessment
    for b in a.behaviour.to_pylist():
        for key in ("bio_reuse_share", "empty_bio_share", "young_share", "burst_share",
                    "verified_share", "followers_total", "followers_median", "device_share_share"):
            assert b[key] is None, (b["network_id"], key)
    for v in a.verdicts.to_pylist():
        assert v["against"] == [], v["network_id"]
        assert not {"new_accounts", "persona_reuse", "shared_devices"} & set(v["deception"])
        text = " ".join(v["reasons"]).lower()
        assert "persona" not in text and "bio" not in text and "follower" not in text
    for row in a.inventory.to_pylist():
        assert row["followers_total"] is None  # unknown, never 0
