"""Pages a network amplifies join it; pages with an audience of their own do not."""
from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

import lockstep
from lockstep.graph import detect_networks, edge_table
from lockstep.graph.amplified import amplified_pages, attach_amplified
from lockstep.ingestion import ingest

T0 = 1_700_000_000


def _workspace(tmp: Path):
    """Page P posts 10 times and only the network (m0-m3) re-shares it; page Q posts 10 times
    and 40 ordinary accounts re-share it (the network too, once each); page R gets one
    re-share from m0 and five from ordinary accounts."""
    src = tmp / "src"
    src.mkdir()
    ev = []

    def add(acc, action="post", reposted="", t=0):
        ev.append({"platform": "x", "event_id": f"e{len(ev)}", "account_id": acc,
                   "timestamp": T0 + t, "action": action, "reposted_id": reposted})
        return f"e{len(ev) - 1}"

    for k in range(10):
        p = add("P", t=k * 3600)
        for m in range(4):
            add(f"m{m}", "share", p, k * 3600 + 60 * (m + 1))
        q = add("Q", t=k * 3600 + 10)
        for o in range(40):
            add(f"o{o}", "share", q, k * 3600 + 100 + o)
    for m in range(4):
        add(f"m{m}", "share", "e11", 99_000 + m)  # e11: Q's first post
    r = add("R", t=50_000)
    add("m0", "share", r, 50_100)
    for o in range(5):
        add(f"o{o}", "share", r, 50_200 + o)
    with open(src / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ev[0]))
        w.writeheader()
        w.writerows(ev)
    with open(src / "accounts.csv", "w", newline="") as fh:
        fh.write("platform,account_id,kind\nx,P,page\nx,Q,page\nx,R,page\n")
    ws = lockstep.open_workspace(tmp / "ws")
    ingest(ws, [src])
    return ws


def test_the_page_a_network_amplifies_joins_it(tmp_path: Path):
    ws = _workspace(tmp_path)
    members = pa.table({"network_id": ["N1"] * 4, "platform": ["x"] * 4,
                        "account_id": [f"m{i}" for i in range(4)]})
    got = amplified_pages(ws, members)
    assert got["account_id"].to_pylist() == ["P"]
    row = got.to_pylist()[0]
    assert (row["n"], row["amplifiers"], row["received"], row["share"]) == (40, 4, 40, 1.0)
    assert row["q_value"] <= 0.01
    # a network that does not amplify P gets nothing
    others = pa.table({"network_id": ["N2"] * 3, "platform": ["x"] * 3,
                       "account_id": ["o1", "o2", "o3"]})
    assert amplified_pages(ws, others).num_rows == 0


def test_attach_adds_the_page_as_a_member(tmp_path: Path):
    ws = _workspace(tmp_path)
    run = detect_networks([edge_table([("m0", "m1"), ("m1", "m2"), ("m0", "m2"),
                                       ("m2", "m3"), ("m1", "m3")])])
    assert run.networks["size"].to_pylist() == [4]
    attach_amplified(ws, run)
    mem = run.members.to_pylist()
    assert [m["account_id"] for m in mem] == ["P", "m0", "m1", "m2", "m3"]
    page = mem[0]
    assert (page["degree"], page["strength"], page["network_id"]) == (0, 0.0, "N0001")
    assert run.networks["size"].to_pylist() == [5]
    assert [p["account_id"] for p in run.params["amplified"]["pages"]] == ["P"]
