"""Missing data is never evidence (issue 12, item 7): unknown stays unknown in the traits of
:func:`lockstep.attribution.behaviour.network_behaviour` and in the verdicts built on them."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from lockstep.attribution import decide
from lockstep.attribution.behaviour import MIN_KNOWN, MIN_KNOWN_SHARE, network_behaviour
from lockstep.ingestion import ingest
from lockstep.workspace import Workspace

T0 = datetime(2021, 8, 2, 8, tzinfo=timezone.utc)
ACCS = [f"a{i}" for i in range(8)]


def _write(path: Path, name: str, header: list[str], rows: list[list[object]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with open(path / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _events(path: Path) -> None:
    rows = []
    for i, a in enumerate(ACCS):
        for k in range(20):
            t = T0 + timedelta(hours=3 * k, seconds=7 * i)
            rows.append(["facebook", f"e{i}-{k}", a, t.strftime("%Y-%m-%dT%H:%M:%SZ"), "post"])
    _write(path, "events", ["platform", "event_id", "account_id", "timestamp", "action"], rows)


def _members() -> pa.Table:
    return pa.table({"network_id": ["N1"] * len(ACCS), "platform": ["facebook"] * len(ACCS),
                     "account_id": ACCS})


def test_events_only_traits_are_unknown_not_zero(ws: Workspace, tmp_path: Path) -> None:
    _events(tmp_path / "data")
    ingest(ws, [tmp_path / "data"])
    (b,) = network_behaviour(ws, _members()).to_pylist()
    for key in ("bio_reuse_share", "empty_bio_share", "young_share", "burst_share",
                "age_median_days", "verified_share", "followers_total", "followers_median",
                "device_share_share", "devices_per_account", "agents_per_account"):
        assert b[key] is None, key
    assert (b["bio_known"], b["followers_known"], b["created_known"]) == (0, 0, 0)
    assert b["events"] == 160
    (v,) = decide(network_behaviour(ws, _members()), telemetry=False).to_pylist()
    assert v["against"] == [] and v["deception"] == []
    text = " ".join(v["reasons"]).lower()
    for word in ("persona", "bio", "follower", "established", "own device"):
        assert word not in text, word
    assert v["verdict"] == "undetermined"


def test_shares_are_computed_over_known_members_only(ws: Workspace, tmp_path: Path) -> None:
    """Profiles for 5 of 8 members: shares over those 5; a source without bios gives none."""
    _events(tmp_path / "data")
    known = ACCS[:5]
    _write(tmp_path / "data", "accounts",
           ["platform", "account_id", "kind", "bio", "followers", "created_at"],
           [["facebook", a, "user", "same bio" if i < 2 else f"bio {i}", 100 * (i + 1),
             "2015-01-01T00:00:00Z"] for i, a in enumerate(known)])
    ingest(ws, [tmp_path / "data"])
    (b,) = network_behaviour(ws, _members()).to_pylist()
    assert len(known) >= MIN_KNOWN and len(known) >= MIN_KNOWN_SHARE * len(ACCS)
    assert b["bio_known"] == 5 and b["bio_reuse_share"] == 2 / 5 and b["empty_bio_share"] == 0.0
    assert b["followers_known"] == 5 and b["followers_total"] == 1500
    assert b["young_share"] == 0.0  # the 5 known creation dates, all old
    # two members known of eight is too few: unknown, not a share of two
    few = network_behaviour(ws, pa.table({
        "network_id": ["N2"] * 6, "platform": ["facebook"] * 6,
        "account_id": [ACCS[0], ACCS[1], *ACCS[5:], "nobody"]})).to_pylist()[0]
    assert few["bio_reuse_share"] is None and few["young_share"] is None
    assert few["followers_total"] is None


def test_accounts_without_bios_at_all_leave_bios_unknown(ws: Workspace, tmp_path: Path) -> None:
    """A source that carries no bios (no account of the platform has one): an absent bio is
    unknown, so it cannot make personas look distinct (or empty)."""
    _events(tmp_path / "data")
    _write(tmp_path / "data", "accounts", ["platform", "account_id", "kind", "followers"],
           [["facebook", a, "user", 10] for a in ACCS])
    ingest(ws, [tmp_path / "data"])
    (b,) = network_behaviour(ws, _members()).to_pylist()
    assert b["bio_known"] == 0 and b["bio_reuse_share"] is None and b["empty_bio_share"] is None
    assert b["followers_total"] == 80
    (v,) = decide(network_behaviour(ws, _members()), telemetry=False).to_pylist()
    assert "distinct_personas" not in v["against"]
