"""Export of networks: CSV, JSON, GEXF (Gephi) and GraphML."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import networkx as nx
import pyarrow as pa
import pytest
from synthetic_edges import T0
from synthetic_edges import planted as make_planted

from lockstep.exceptions import UsageError
from lockstep.graph import CSV_COLUMNS, detect_networks, export_networks, network_color

GEXF_NS = {"g": "http://www.gexf.net/1.2draft", "viz": "http://www.gexf.net/1.2draft/viz"}


@pytest.fixture
def run():
    tables, _ = make_planted(0, n_noise=60, noise_edges=60)
    accounts = pa.table({"platform": ["x", "x"], "account_id": ["dense0", "dense1"],
                         "kind": ["user", "page"], "handle": ["@dense_zero", None],
                         "created_at": pa.array([T0 - timedelta(days=3), None],
                                                pa.timestamp("us", tz="UTC"))})
    return detect_networks(tables, accounts=accounts, seed=1)


def test_csv_columns_exact(tmp_path, run):
    out = export_networks(run, "csv", tmp_path / "sub" / "n.csv")
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS == ("network_id", "platform", "account_id", "kind",
                                             "score", "verdict", "role", "confidence")
    assert len(rows) - 1 == run.members.num_rows
    first = {r[2]: r for r in rows[1:]}
    assert first["dense0"][:4] == ["N0001", "x", "dense0", "user"]
    assert first["dense1"][3] == "page"
    assert float(first["dense0"][4]) == run.networks["score"][0].as_py()
    assert all(r[5:] == ["", "", ""] for r in rows[1:])


def test_json(tmp_path, run):
    d = json.loads(export_networks(run, "json", tmp_path / "n.json").read_text())
    assert d["format"] == "lockstep-networks" and d["params"]["communities"]["seed"] == 1
    assert len(d["networks"]) == run.n_networks
    n1 = d["networks"][0]
    assert n1["network_id"] == "N0001" and len(n1["members"]) == n1["size"]
    assert set(n1["components"]) == {"strength", "diversity", "density", "scale", "youth",
                                     "infrastructure"}
    sigs = {s["signal"]: s for s in n1["signal_summary"]}
    assert set(sigs) == {"co-repost", "co-link", "shared-device"}
    assert sigs["co-link"]["edges"] == n1["n_edges"] == 28
    assert sigs["co-link"]["evidence_sample"] and sigs["co-link"]["median_delta_s"] > 4


def test_gexf_parses_and_round_trips(tmp_path, run):
    out = export_networks(run, "gexf", tmp_path / "n.gexf")
    root = ET.parse(out).getroot()
    nodes = root.findall(".//g:node", GEXF_NS)
    assert len(nodes) == run.members.num_rows
    colors = root.findall(".//viz:color", GEXF_NS)
    assert len(colors) == len(nodes)
    g = nx.read_gexf(out)
    assert g.number_of_nodes() == run.members.num_rows
    pairs = {(r["account_a"], r["account_b"]) for r in run.edges.to_pylist()}
    assert g.number_of_edges() == len(pairs)
    n = g.nodes["x:dense0"]
    assert n["platform"] == "x" and n["network_id"] == "N0001" and n["handle"] == "@dense_zero"
    assert n["label"] == "@dense_zero" and g.nodes["x:dense1"]["label"] == "dense1"
    assert "handle" not in g.nodes["x:dense1"]
    r, gg, b = network_color(1)
    assert n["viz"]["color"]["r"] == r and n["viz"]["color"]["b"] == b
    other = g.nodes[next(v for v, d in g.nodes(data=True) if d["network_id"] == "N0002")]
    assert other["viz"]["color"]["r"] != r or other["viz"]["color"]["g"] != gg
    e = g.edges["x:dense0", "x:dense1"]
    assert e["signal"] == "co-link,co-repost,shared-device"
    assert e["weight"] > 2.5 and e["median_delta_s"] > 4
    assert e["first_seen"] == T0.isoformat()
    assert set(json.loads(e["signals_json"])) == {"co-link", "co-repost", "shared-device"}


def test_graphml_parses(tmp_path, run):
    out = export_networks(run, "graphml", tmp_path / "n.graphml")
    ET.parse(out)
    g = nx.read_graphml(out)
    assert g.number_of_nodes() == run.members.num_rows
    assert all("viz" not in d for _, d in g.nodes(data=True))
    e = g.edges["x:dense0", "x:dense1"]
    assert isinstance(e["weight"], float) and isinstance(e["signals_json"], str)
    assert e["signal"] == "co-link,co-repost,shared-device"


def test_unknown_format(tmp_path, run):
    with pytest.raises(UsageError, match="unknown export format"):
        export_networks(run, "xlsx", tmp_path / "n.xlsx")


def test_many_networks_get_distinct_colours():
    colours = [network_color(i) for i in range(1, 60)]
    assert len(set(colours)) == len(colours)
    assert all(0 <= c <= 255 for rgb in colours for c in rgb)
