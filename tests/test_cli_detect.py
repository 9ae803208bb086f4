"""detect, networks, network, pairs, export and evaluate from the command line."""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_cli import run


@pytest.fixture(scope="module")
def world_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("detect")
    r = run("simulate", "--out", str(base / "world"), "--scale", "tiny", "--seed", "5")
    assert r.returncode == 0, r.stderr
    r = run("ingest", str(base / "world"), ws=base / "ws")
    assert r.returncode == 0, r.stderr
    r = run("detect", ws=base / "ws")
    assert r.returncode == 0, r.stderr
    assert "N0001" in r.stdout
    return base / "ws"


def test_networks_and_one_network(world_ws: Path) -> None:
    import lockstep
    from lockstep.attribution.assess import load_assessment
    from lockstep.graph import load_run

    run_ = load_run(lockstep.open_workspace(world_ws))
    inv = sorted(load_assessment(world_ws, run_.run_id).inventory.to_pylist(),
                 key=lambda r: r["triage_rank"])
    listed = [r["network_id"] for r in inv if r["listed"]]
    held = [r["network_id"] for r in inv if not r["listed"]]
    assert listed and held
    r = run("networks", "--top", "3", ws=world_ws)
    # the triage list: the first three listed networks, then how many were held back
    assert r.returncode == 0 and all(n in r.stdout for n in listed[:3])
    assert not any(n in r.stdout for n in listed[3:] + held)
    assert f"{len(held)} network(s) held back" in r.stdout and "--all" in r.stdout
    r = run("networks", "--all", "--top", "1000", ws=world_ws)
    assert r.returncode == 0 and all(n in r.stdout for n in listed + held)
    assert "held back" not in r.stdout
    r = run("network", "N0001", ws=world_ws)
    assert r.returncode == 0, r.stderr
    for part in ("members", "evidence by signal", "top shared objects", "timeline", "|"):
        assert part in r.stdout, part
    r = run("network", "N9999", ws=world_ws)
    assert r.returncode == 1 and "no network N9999" in r.stderr


def test_export_csv_and_gexf(world_ws: Path, tmp_path: Path) -> None:
    r = run("export", "networks", "--format", "csv", "--out", str(tmp_path / "n.csv"), ws=world_ws)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "n.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["network_id", "platform", "account_id", "kind", "score", "verdict", "role",
                       "confidence"]
    assert len(rows) > 10 and rows[1][0] == "N0001"
    r = run("export", "networks", "--format", "gexf", "--out", str(tmp_path / "n.gexf"), ws=world_ws)
    assert r.returncode == 0, r.stderr
    assert ET.parse(tmp_path / "n.gexf").getroot().tag.endswith("gexf")


def test_evaluate_prints_the_table(world_ws: Path) -> None:
    r = run("evaluate", ws=world_ws)
    assert r.returncode == 0, r.stderr
    for part in ("overall", "kind=cib", "kind=spam", "kind=authentic", "tier=1", "ordinary users flagged"):
        assert part in r.stdout, part


def test_pairs_csv(world_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    r = run("pairs", "--signal", "co-repost", "--window", "10", "--out", str(out), ws=world_ws)
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:6] == ["platform_a", "account_a", "platform_b", "account_b", "signal", "weight"]
    r = run("pairs", "--signal", "co-nothing", "--out", str(out), ws=world_ws)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_detect_needs_a_workspace(tmp_path: Path) -> None:
    r = run("detect", ws=tmp_path / "none")
    assert r.returncode == 1 and "not a Lockstep workspace" in r.stderr
