"""Persons before coordination (:mod:`lockstep.persons`): twins joined, households not."""
from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import pyarrow as pa

from lockstep.detect import detect
from lockstep.ingestion import ingest
from lockstep.persons import Persons, names_alike, resolve_persons
from lockstep.workspace import Workspace

T0 = 1_772_323_200  # 2026-03-01
OLD, NEW = "2015-05-01T00:00:00Z", "2026-02-20T00:00:00Z"


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _world(tmp_path: Path, accounts: list[tuple[str, str, str, str, str]],
           sessions: list[tuple[str, str, str]],
           events: list[dict[str, Any]] | None = None) -> Workspace:
    """accounts: (platform, id, display name, handle, created); sessions: (platform, id,
    device)."""
    d = tmp_path / "in"
    d.mkdir()
    _write(d / "accounts.csv", [{"platform": p, "account_id": a, "kind": "user",
                                 "display_name": n, "handle": h, "created_at": c}
                                for p, a, n, h, c in accounts])
    _write(d / "sessions.csv", [{"platform": p, "account_id": a, "timestamp": T0 + 60 * i,
                                 "ip": "203.0.113.7", "device_id": dev}
                                for i, (p, a, dev) in enumerate(sessions)])
    _write(d / "events.csv", events or [{"platform": "facebook", "event_id": "e0",
                                         "account_id": accounts[0][1], "timestamp": T0,
                                         "action": "post"}])
    ws = Workspace.open(tmp_path / "ws")
    ingest(ws, [d], fmt="generic")
    return ws


def test_names_alike_rule() -> None:
    assert names_alike("Jane Doe", "jane.doe", "Jane  DOE", None) == "same display name"
    assert names_alike("J", "jane_doe84", "Other", "janedoe") == "same handle"
    assert names_alike("Jane Doe", None, None, "janedoe1990") == "display name spelled as handle"
    # family members share a surname, not a name
    assert names_alike("Jane Doe", "janed", "John Doe", "johnd") is None
    # missing names are never evidence
    assert names_alike(None, None, None, None) is None
    # too short to tell apart
    assert names_alike("Al", "al", "Al", "al") is None


def test_twins_joined_household_not(tmp_path: Path) -> None:
    ws = _world(tmp_path, [
        # a person on Facebook and Instagram, own phone and laptop
        ("facebook", "f1", "Jane Doe", "jane.doe", OLD),
        ("instagram", "i1", "Jane Doe", "janedoe", OLD),
        # a family tablet: mother and son on Facebook, daughter on Instagram
        ("facebook", "f2", "Maria Rossi", "maria.rossi", OLD),
        ("facebook", "f3", "Luca Rossi", "luca.rossi", OLD),
        ("instagram", "i3", "Giulia Rossi", "giulia_r", OLD),
        # mother (FB) and daughter (IG) alone on a laptop: names differ
        # two fresh accounts of one persona on one phone: too young to be a person's own
        ("facebook", "f4", "Ahmed Khan", "ahmed.khan", NEW),
        ("instagram", "i4", "Ahmed Khan", "ahmedkhan", NEW),
    ], [
        ("facebook", "f1", "phone-1"), ("instagram", "i1", "phone-1"),
        ("facebook", "f1", "laptop-1"), ("instagram", "i1", "laptop-1"),
        ("facebook", "f2", "tablet"), ("facebook", "f3", "tablet"), ("instagram", "i3", "tablet"),
        ("facebook", "f2", "laptop-2"), ("instagram", "i3", "laptop-2"),
        ("facebook", "f4", "phone-4"), ("instagram", "i4", "phone-4"),
    ])
    persons = resolve_persons(ws)
    assert persons.mapping() == {("facebook", "f1"): ("facebook", "f1"),
                                 ("instagram", "i1"): ("facebook", "f1")}
    reason = persons.reasons()[("instagram", "i1")]
    assert "that no other account uses" in reason and "same display name" in reason


def test_two_accounts_on_one_platform_are_not_one_person(tmp_path: Path) -> None:
    # f1-i1 and i1-f5 are each alike pairs, but together they would give a person two
    # Facebook accounts: the rule trusts one account per platform, so neither is joined
    ws = _world(tmp_path, [
        ("facebook", "f1", "Jane Doe", "janedoe", OLD),
        ("instagram", "i1", "Jane Doe", "janedoe", OLD),
        ("facebook", "f5", "Jane Doe", "janedoe", OLD),
    ], [
        ("facebook", "f1", "d1"), ("instagram", "i1", "d1"),
        ("instagram", "i1", "d2"), ("facebook", "f5", "d2"),
    ])
    persons = resolve_persons(ws)
    assert persons.table.num_rows == 0 and persons.rejected == 1


def test_no_telemetry_no_persons(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    _write(d / "events.csv", [{"platform": "facebook", "event_id": "e0", "account_id": "a",
                               "timestamp": T0, "action": "post"}])
    ws = Workspace.open(tmp_path / "ws")
    ingest(ws, [d], fmt="generic")
    assert resolve_persons(ws).table.num_rows == 0


def _edges(rows: list[tuple[str, str, str, str]]) -> pa.Table:
    return pa.table({"platform_a": [r[0] for r in rows], "account_a": [r[1] for r in rows],
                     "platform_b": [r[2] for r in rows], "account_b": [r[3] for r in rows],
                     "signal": ["shared-device"] * len(rows), "support": [1] * len(rows)})


def test_collapse_and_expand() -> None:
    persons = Persons(table=pa.table({
        "platform": ["facebook", "instagram"], "account_id": ["f1", "i1"],
        "person_id": ["facebook:f1", "facebook:f1"], "reason": ["r", "r"]}))
    out = persons.collapse_edges(_edges([("facebook", "f1", "instagram", "i1"),
                                         ("instagram", "i1", "facebook", "x"),
                                         ("facebook", "y", "facebook", "x")]))
    assert list(zip(out["account_a"].to_pylist(), out["account_b"].to_pylist())) == [
        ("f1", "x"), ("y", "x")]
    members = pa.table({"network_id": ["N1", "N1"], "platform": ["facebook", "facebook"],
                        "account_id": ["f1", "x"], "degree": [1, 1]})
    got = persons.expand(members).to_pylist()
    assert [(r["platform"], r["account_id"], r["person_id"], r["degree"]) for r in got] == [
        ("facebook", "f1", "facebook:f1", 1), ("instagram", "i1", "facebook:f1", 0),
        ("facebook", "x", "facebook:x", 1)]


def test_detect_counts_twins_once(tmp_path: Path) -> None:
    """A person's two accounts share a device and cross-post what a third account posts:
    without persons the three make a network; with persons it is two persons, too few."""
    accounts = [("facebook", "f1", "Jane Doe", "janedoe", OLD),
                ("instagram", "i1", "Jane Doe", "janedoe", OLD),
                ("facebook", "x", "Carla Wu", "carlawu", OLD)]
    sessions = [("facebook", "f1", "phone"), ("instagram", "i1", "phone"),
                ("facebook", "x", "other")] * 3
    events = [{"platform": p, "event_id": f"{p}-{a}-{k}", "account_id": a,
               "timestamp": T0 + 900 * k + j, "action": "post",
               "urls": f"https://example.org/story-{k}"}
              for k in range(30)
              for j, (p, a) in enumerate((("facebook", "f1"), ("instagram", "i1"),
                                           ("facebook", "x")))]
    rng = random.Random(7)  # ordinary people posting links of their own, for the null
    events += [{"platform": "facebook", "event_id": f"bg-{u}-{k}", "account_id": f"bg{u}",
                "timestamp": T0 + rng.randrange(30 * 86400), "action": "post",
                "urls": f"https://example.net/{rng.randrange(3000)}"}
               for u in range(60) for k in range(30)]
    ws = _world(tmp_path, accounts, sessions, events)
    plain = detect(ws, save=False, assess=False, resolve=False)
    assert plain.n_networks == 1 and plain.networks["size"].to_pylist() == [3]
    run = detect(ws, save=False, assess=False)
    assert run.params["persons"]["persons"] == 1
    assert run.n_networks == 0


def test_network_view_shows_hostile_names_as_text(tmp_path: Path) -> None:
    """A device id written as console markup is printed as written in `lockstep network`."""
    from typer.testing import CliRunner

    from lockstep.cli import app

    hostile = "[red]boom[/red]"
    accounts = [("facebook", "f1", "Jane Doe", "janedoe", OLD),
                ("instagram", "i1", "Jane Doe", "janedoe", OLD),
                ("facebook", "x", "Carla Wu", "carlawu", OLD),
                ("facebook", "y", "Omar Ali", "omarali", OLD)]
    sessions = [("facebook", "f1", hostile), ("instagram", "i1", hostile),
                ("facebook", "x", "other"), ("facebook", "y", "third")] * 3
    events = [{"platform": p, "event_id": f"{p}-{a}-{k}", "account_id": a,
               "timestamp": T0 + 900 * k + j, "action": "post",
               "urls": f"https://example.org/story-{k}"}
              for k in range(30)
              for j, (p, a) in enumerate((("facebook", "f1"), ("facebook", "x"),
                                           ("facebook", "y")))]
    rng = random.Random(3)
    events += [{"platform": "facebook", "event_id": f"bg-{u}-{k}", "account_id": f"bg{u}",
                "timestamp": T0 + rng.randrange(30 * 86400), "action": "post",
                "urls": f"https://example.net/{rng.randrange(3000)}"}
               for u in range(60) for k in range(30)]
    ws = _world(tmp_path, accounts, sessions, events)
    run = detect(ws)
    assert run.n_networks == 1 and run.params["persons"]["persons"] == 1
    r = CliRunner().invoke(app, ["--workspace", str(ws.path), "network", "N0001"],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert hostile in r.output and "one person" in r.output
