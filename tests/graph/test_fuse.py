"""Fusion of per-signal edge tables into one account graph."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from synthetic_edges import edges as make_edges
from synthetic_edges import planted as make_planted

from lockstep.graph.fusion import DEFAULT_SIGNAL_WEIGHTS, edge_table, fuse

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def pair_rows(g):
    """Edges as {(acct_u, acct_v): row} with accounts as "platform:id"."""
    name = [f"{p}:{a}" for p, a in zip(g.nodes["platform"].to_pylist(),
                                       g.nodes["account_id"].to_pylist())]
    return {(name[r["u"]], name[r["v"]]): r for r in g.edges.to_pylist()}


def test_nodes_sorted_and_independent_of_input_order():
    rows = [{"a": "x:b", "b": "x:a"}, {"a": "fb:z", "b": "x:c"}, {"a": "x:c", "b": "x:a"}]
    g1 = fuse([make_edges(rows)])
    g2 = fuse([make_edges(rows[::-1])])
    assert g1.nodes.to_pylist() == g2.nodes.to_pylist()
    assert g1.nodes["platform"].to_pylist() == ["fb", "x", "x", "x"]
    assert g1.nodes["account_id"].to_pylist() == ["z", "a", "b", "c"]
    assert g1.edges.equals(g2.edges)
    assert g1.account(1) == ("x", "a")


def test_orientation_is_canonical_and_self_pairs_dropped():
    t = edge_table([("x:b", "x:a", 2), ("x:c", "x:c", 5)])
    # edge_table orders the pair; flip it back by hand to test fuse's own orientation
    t = t.set_column(1, "account_a", pa.array(["b", "c"])).set_column(
        3, "account_b", pa.array(["a", "c"]))
    g = fuse([t])
    assert g.n_nodes == 2 and g.n_edges == 1
    r = g.edges.to_pylist()[0]
    assert (r["u"], r["v"]) == (0, 1)
    assert g.signal_edges["support"].to_pylist() == [2]


def test_fused_weight_formula():
    sat = 50
    g = fuse([edge_table([("a", "b", 50), ("b", "c", 200)]),
              edge_table([("a", "b", 1)], signal="co-hashtag"),
              edge_table([("a", "b", 3)], signal="new-signal")], saturation=sat)
    rows = pair_rows(g)
    expected_ab = (1.0 * 1.0 + 0.5 * math.log(2) / math.log(51)
                   + 1.0 * math.log(4) / math.log(51))
    assert rows[("x:a", "x:b")]["weight"] == pytest.approx(expected_ab)
    assert rows[("x:b", "x:c")]["weight"] == pytest.approx(1.0)  # saturated: capped at w_s
    assert rows[("x:a", "x:b")]["signals"] == ["co-hashtag", "co-repost", "new-signal"]
    assert rows[("x:a", "x:b")]["n_signals"] == 3
    assert rows[("x:b", "x:c")]["n_eff"] == pytest.approx(1.0)
    assert 1.0 < rows[("x:a", "x:b")]["n_eff"] < 3.0
    assert g.signal_weights["co-hashtag"] == DEFAULT_SIGNAL_WEIGHTS["co-hashtag"]


def test_weights_override_and_saturation_checked():
    t = [edge_table([("a", "b", 50)], signal="co-link")]
    assert fuse(t, weights={"co-link": 3.0}).edges["weight"][0].as_py() == pytest.approx(3.0)
    with pytest.raises(ValueError):
        fuse(t, saturation=1)


def test_duplicate_pair_signal_not_counted_twice():
    g = fuse([edge_table([("a", "b", 4)]), edge_table([("b", "a", 9), ("a", "b", 2)])])
    assert g.signal_edges.num_rows == 1
    assert g.signal_edges["support"].to_pylist() == [9]
    assert g.edges["support"].to_pylist() == [9]


def test_per_signal_evidence_times_and_significance_kept():
    t1 = make_edges([{"a": "x:a", "b": "x:b", "signal": "co-repost", "support": 3, "weight": 7,
                      "evidence": ["1|2", "3|4"], "first_seen": T0,
                      "last_seen": T0 + timedelta(hours=1), "median_delta_s": 8.0,
                      "p_value": 0.001, "z": 4.2}])
    t2 = make_edges([{"a": "x:a", "b": "x:b", "signal": "co-link", "support": 2,
                      "evidence": ["5|6"], "first_seen": T0 - timedelta(days=1),
                      "last_seen": T0, "median_delta_s": 3.0}])
    g = fuse([t1, t2])
    long = {r["signal"]: r for r in g.signal_edges.to_pylist()}
    assert long["co-repost"]["evidence"] == ["1|2", "3|4"]
    assert long["co-link"]["evidence"] == ["5|6"]
    assert long["co-repost"]["p_value"] == 0.001 and long["co-repost"]["z"] == 4.2
    assert long["co-link"]["p_value"] is None
    e = g.edges.to_pylist()[0]
    assert e["event_pairs"] == 9 and e["support"] == 5
    assert e["first_seen"] == T0 - timedelta(days=1)
    assert e["last_seen"] == T0 + timedelta(hours=1)
    assert e["median_delta_s"] == 3.0


def test_optional_columns_may_be_missing():
    t = pa.table({"platform_a": ["x"], "account_a": ["a"], "platform_b": ["x"],
                  "account_b": ["b"], "signal": ["co-link"], "support": [2]})
    g = fuse([t])
    r = g.signal_edges.to_pylist()[0]
    assert r["weight"] == 2 and r["evidence"] == [] and r["p_value"] is None
    assert g.edges["first_seen"].to_pylist() == [None]


def test_empty_input():
    for g in (fuse([]), fuse([edge_table([])])):
        assert g.n_nodes == 0 and g.n_edges == 0 and g.signals == []
        indptr, indices, data = g.csr()
        assert indptr.tolist() == [0] and len(indices) == 0


def test_csr_matches_networkx():
    import networkx as nx

    tables, _ = make_planted(3, n_noise=60, noise_edges=80)
    g = fuse(tables)
    indptr, indices, data = g.csr()
    assert indptr[-1] == 2 * g.n_edges
    a = np.zeros((g.n_nodes, g.n_nodes))
    for i in range(g.n_nodes):
        a[i, indices[indptr[i]:indptr[i + 1]]] = data[indptr[i]:indptr[i + 1]]
    assert np.allclose(a, a.T)
    assert np.allclose(a, nx.to_numpy_array(g.to_networkx(), nodelist=range(g.n_nodes)))


def test_shuffled_tables_fuse_identically():
    tables, _ = make_planted(1, n_noise=80, noise_edges=120)
    rng = random.Random(0)
    shuffled = []
    for t in reversed(tables):
        idx = list(range(t.num_rows))
        rng.shuffle(idx)
        shuffled.append(t.take(pa.array(idx)))
    a, b = fuse(tables), fuse(shuffled)
    assert a.nodes.equals(b.nodes)
    assert a.edges.equals(b.edges)
    assert a.signal_edges.equals(b.signal_edges)
