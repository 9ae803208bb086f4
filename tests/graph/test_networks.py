"""Networks: communities above a size, pruned, scored and ranked."""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import timedelta

import pyarrow as pa
import pytest
from synthetic_edges import T0
from synthetic_edges import edges as make_edges
from synthetic_edges import planted as make_planted

from lockstep.graph import SCORE_WEIGHTS, build_networks, detect_networks, find_communities, fuse


def clique(names, signal="co-repost", support=20, **kw):
    return [{"a": a, "b": b, "signal": signal, "support": support, **kw}
            for a, b in itertools.combinations(names, 2)]


def member_sets(run):
    out = defaultdict(set)
    for r in run.members.to_pylist():
        out[r["network_id"]].add(f"{r['platform']}:{r['account_id']}")
    return out


def test_planted_cliques_are_the_top_networks():
    tables, planted = make_planted(0)
    run = detect_networks(tables, seed=5)
    nets = member_sets(run)
    ids = run.networks["network_id"].to_pylist()
    # dense multi-signal clique first, then the two-signal one, then the one-signal one
    for rank, name in enumerate(["dense", "mid", "thin"]):
        assert nets[ids[rank]] == set(planted[name])
    assert ids[:3] == ["N0001", "N0002", "N0003"]
    assert run.networks["rank"].to_pylist() == list(range(1, run.n_networks + 1))
    scores = run.networks["score"].to_pylist()
    assert scores == sorted(scores, reverse=True)


def test_same_seed_same_run():
    tables, _ = make_planted(4)
    a, b = detect_networks(tables, seed=9), detect_networks(tables, seed=9)
    for name in ("networks", "members", "edges"):
        assert getattr(a, name).equals(getattr(b, name))
    assert a.params == b.params


def test_dense_multi_signal_ranks_above_sparse_single_signal():
    dense = [f"x:d{i}" for i in range(6)]
    rows = (clique(dense) + clique(dense, "co-link", 10) + clique(dense, "shared-device", 2)
            + [{"a": f"x:s{i}", "b": f"x:s{i + 1}", "signal": "co-hashtag", "support": 40}
               for i in range(8)])
    run = detect_networks([make_edges(rows)], seed=0, min_size=3)
    first = run.networks.to_pylist()[0]
    assert member_sets(run)[first["network_id"]] == set(dense)
    # co-repost and co-link are one class of evidence (activity), the device another: the
    # diversity of two classes in shares 1.39 : 0.42, not of three signals
    act = (math.log(21) + math.log(11)) / math.log(51)
    dev = 1.5 * math.log(3) / math.log(51)
    q = act / (act + dev)
    two = 1 - 1 / math.exp(-(q * math.log(q) + (1 - q) * math.log(1 - q)))
    assert first["density"] == 1.0 and first["diversity"] == pytest.approx(two, abs=1e-6)
    assert first["infrastructure"] == 1.0
    sparse = [r for r in run.networks.to_pylist() if r["network_id"] != first["network_id"]]
    assert sparse and all(r["score"] < first["score"] for r in sparse)
    assert all(r["diversity"] == 0 and r["signals"] == ["co-hashtag"] for r in sparse)


def test_components_by_hand():
    rows = clique(["x:a", "x:b", "x:c", "x:d"], support=50)
    rows += [{"a": "x:a", "b": "x:b", "signal": "shared-device", "support": 50},
             {"a": "x:c", "b": "x:d", "signal": "shared-device", "support": 50}]
    run = detect_networks([make_edges(rows)], method="components")
    n = run.networks.to_pylist()[0]
    # four pairs with one saturated signal (1.0), two with co-repost + device (1.0 + 1.5)
    mean_w = (4 * 1.0 + 2 * 2.5) / 6
    assert n["mean_weight"] == pytest.approx(mean_w)
    assert n["strength"] == pytest.approx(1 - math.exp(-mean_w), abs=1e-6)
    pair_div = 1 - 1 / math.exp(-(0.4 * math.log(0.4) + 0.6 * math.log(0.6)))
    assert n["diversity"] == pytest.approx(2 * pair_div / 6, abs=1e-6)
    assert n["density"] == 1.0 and n["n_edges"] == 6 and n["size"] == 4
    assert n["scale"] == pytest.approx(math.log(4) / math.log(100), abs=1e-6)
    assert n["infrastructure"] == pytest.approx(2 / 6, abs=1e-6)
    assert n["youth"] is None
    expected = 100 * sum(SCORE_WEIGHTS[c] * (n[c] or 0.0) for c in SCORE_WEIGHTS)
    assert n["score"] == pytest.approx(expected, abs=1e-4)
    assert n["signals"] == ["co-repost", "shared-device"]
    assert sum(n["signal_share"]) == pytest.approx(1.0, abs=1e-5)
    assert n["first_seen"] == T0 and n["last_seen"] == T0 + timedelta(days=1)


def test_youth_kind_and_handle_from_accounts():
    young, old = ["x:y0", "x:y1", "x:y2"], ["x:o0", "x:o1", "x:o2"]
    tables = [make_edges(clique(young) + clique(old))]
    accounts = pa.table({
        "platform": ["x"] * 6, "account_id": ["y0", "y1", "y2", "o0", "o1", "o2"],
        "kind": ["user"] * 5 + ["page"], "handle": ["Y0", None, None, None, None, None],
        "created_at": pa.array([T0 - timedelta(days=10)] * 3 + [T0 - timedelta(days=1825)] * 2
                               + [None], pa.timestamp("us", tz="UTC"))})
    run = detect_networks(tables, accounts=accounts)
    by_first = {member_sets(run)[r["network_id"]].pop()[:3]: r for r in run.networks.to_pylist()}
    assert by_first["x:y"]["youth"] == pytest.approx(math.exp(-10 / 365), abs=1e-6)
    assert by_first["x:o"]["youth"] == pytest.approx(math.exp(-1825 / 365), abs=1e-6)
    assert run.networks["network_id"][0].as_py() == by_first["x:y"]["network_id"]
    m = {r["account_id"]: r for r in run.members.to_pylist()}
    assert m["y0"]["handle"] == "Y0" and m["o2"]["kind"] == "page"
    assert m["o2"]["created_at"] is None and m["y1"]["created_at"] == T0 - timedelta(days=10)


def test_weak_periphery_pruned_and_min_size():
    core = [f"x:c{i}" for i in range(5)]
    rows = clique(core, support=30) + [{"a": "x:c0", "b": "x:leaf", "signal": "co-hashtag"}]
    rows += [{"a": "x:p", "b": "x:q", "support": 30}]
    g = fuse([make_edges(rows)])
    comms = find_communities(g, seed=0)
    pruned = build_networks(g, comms)
    kept = build_networks(g, comms, prune=0)
    assert member_sets(pruned)["N0001"] == set(core)
    assert "x:leaf" in member_sets(kept)["N0001"]
    assert pruned.n_networks == 1  # the pair is below min_size
    assert build_networks(g, comms, min_size=2).n_networks == 2
    assert pruned.params["prune"] == 0.1 and kept.params["prune"] == 0


def test_members_and_internal_edges():
    rows = clique(["x:a", "x:b", "x:c"], support=50, evidence=["e1|e2"])
    rows += [{"a": "x:a", "b": "x:b", "signal": "co-link", "support": 50}]
    rows += clique(["x:d", "x:e", "x:f"], support=3) + [{"a": "x:c", "b": "x:d"}]
    run = detect_networks([make_edges(rows)])
    assert run.members.column_names[:4] == ["network_id", "platform", "account_id", "kind"]
    m = {r["account_id"]: r for r in run.members.to_pylist()}
    assert m["a"]["degree"] == 2 and m["a"]["strength"] == pytest.approx(3.0)
    assert m["c"]["strength"] == pytest.approx(2.0)  # the c-d tie is not internal
    e = run.edges.to_pylist()
    assert all(r["network_id"] == m[r["account_a"]]["network_id"] ==
               m[r["account_b"]]["network_id"] for r in e)
    assert not any({r["account_a"], r["account_b"]} == {"c", "d"} for r in e)
    ab = [r for r in e if (r["account_a"], r["account_b"]) == ("a", "b")]
    assert sorted(r["signal"] for r in ab) == ["co-link", "co-repost"]
    assert [r["evidence"] for r in ab if r["signal"] == "co-repost"] == [["e1|e2"]]


def test_empty_input_gives_empty_tables():
    run = detect_networks([])
    assert run.n_networks == 0 and run.members.num_rows == 0 and run.edges.num_rows == 0
    assert "score" in run.networks.column_names and "evidence" in run.edges.column_names


def test_account_metadata_from_workspace(ws, tmp_path):
    from lockstep.graph import account_metadata
    from lockstep.ingestion import ingest

    d = tmp_path / "world"
    d.mkdir()
    (d / "events.csv").write_text("platform,event_id,account_id,timestamp\nx,1,a,1623881091\n")
    (d / "accounts.csv").write_text("platform,account_id,kind,handle,created_at\n"
                                    "x,a,user,alpha,2024-02-20\nx,b,page,,\n")
    ingest(ws, [d])
    meta = account_metadata(ws)
    assert set(meta.column_names) == {"platform", "account_id", "kind", "handle", "created_at"}
    run = detect_networks([make_edges(clique(["x:a", "x:b", "x:c"]))], accounts=meta)
    m = {r["account_id"]: r for r in run.members.to_pylist()}
    assert (m["a"]["handle"], m["b"]["kind"], m["c"]["kind"]) == ("alpha", "page", None)
    assert run.networks["youth"][0].as_py() == pytest.approx(math.exp(-10 / 365), abs=1e-6)


def test_bad_arguments():
    g = fuse([make_edges(clique(["x:a", "x:b", "x:c"]))])
    other = find_communities(fuse([make_edges(clique(["x:a", "x:b"]))]))
    with pytest.raises(ValueError, match="partition"):
        build_networks(g, other)
    with pytest.raises(ValueError, match="min_size"):
        build_networks(g, find_communities(g), min_size=0)
