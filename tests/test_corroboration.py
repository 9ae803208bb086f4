"""Group-level corroboration: weak infrastructure groups confirmed by independent activity."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from lockstep.corroboration import corroborate


def _edges(pairs: list[tuple[str, str]], signal: str, p: float) -> pa.Table:
    n = len(pairs)
    return pa.table({
        "platform_a": ["x"] * n, "account_a": [a for a, _ in pairs],
        "platform_b": ["x"] * n, "account_b": [b for _, b in pairs],
        "signal": [signal] * n, "weight": [1] * n, "support": [1] * n,
        "p_value": pa.array([p] * n, pa.float64()),
    })


def _world(planted_activity: bool, seed: int = 3):
    """399 ordinary accounts in households of three (weak shared-ip edges) with random
    weak activity edges, and 20 planted accounts tied by weak shared-ip edges (a proxy pool):
    their activity edges are among themselves (``planted_activity``) or random like anyone's."""
    rng = np.random.default_rng(seed)
    ordinary = [f"o{i}" for i in range(399)]
    planted = [f"c{i}" for i in range(20)]
    infra = [(ordinary[i + a], ordinary[i + b]) for i in range(0, 399, 3)
             for a, b in ((0, 1), (1, 2), (0, 2))]
    infra += [(planted[i], planted[j]) for i in range(20) for j in range(i + 1, 20)
              if rng.random() < 0.3]
    everyone = ordinary + planted
    act = set()
    while len(act) < 600:
        a, b = rng.choice(len(everyone), 2, replace=False)
        act.add((everyone[min(a, b)], everyone[max(a, b)]))
    act = sorted(act)
    inside = []
    if planted_activity:
        inside = sorted({(planted[i], planted[j]) for i, j in rng.integers(0, 20, (120, 2))
                         if i < j})
    return (_edges(infra, "shared-ip", 1e-5), _edges(act, "co-repost", 1e-3),
            _edges(inside, "co-amplify", 1e-3), set(planted))


def test_a_group_with_activity_inside_is_kept_and_only_its_core():
    infra, act, inside, planted = _world(True)
    kept, info = corroborate([infra], [act, inside], alpha=0.01)
    assert info["kept"] >= 1 and info["tested"] > 1
    got = kept[1]
    # the activity edges among the members that are tied inside far beyond chance (the core;
    # a member with one or two ties is not)
    pairs = set(zip(got["account_a"].to_pylist(), got["account_b"].to_pylist()))
    assert pairs <= set(zip(inside["account_a"].to_pylist(), inside["account_b"].to_pylist()))
    assert len(pairs) >= inside.num_rows // 2
    ends = set(got["account_a"].to_pylist()) | set(got["account_b"].to_pylist())
    assert ends <= planted
    # random activity edges are kept only where both ends are planted members of the group
    for t in kept:
        for a, b in zip(t["account_a"].to_pylist(), t["account_b"].to_pylist()):
            assert a in planted and b in planted
    g = info["groups"][0]
    assert g["size"] == 20 and g["observed"] > 5 * g["expected"] and g["q_value"] <= 0.01


def test_a_group_whose_activity_is_chance_is_not_kept():
    infra, act, _, _ = _world(False)
    kept, info = corroborate([infra], [act], alpha=0.01)
    assert info["tested"] > 1 and info["kept"] == 0
    assert sum(t.num_rows for t in kept) == 0


def test_weak_p_bounds_the_edges_used():
    infra, act, inside, _ = _world(True)
    kept, info = corroborate([infra], [act, inside], alpha=0.01, weak_p=1e-6)
    assert info["kept"] == 0 and info["tested"] == 0  # no infrastructure edge that weak


def test_no_infrastructure_means_nothing_to_test():
    _, act, inside, _ = _world(True)
    kept, info = corroborate([], [act, inside])
    assert [t.num_rows for t in kept] == [0, 0] and info["tested"] == 0


def test_a_household_behind_the_proxy_with_one_tie_stays_out():
    """Two ordinary accounts share addresses with the planted group (a residential proxy is
    their home) and each co-acts once with one of its members: they are in the group but not
    in its core, so none of their edges is kept."""
    infra, act, inside, planted = _world(True)
    home = _edges([("h0", "c0"), ("h1", "c0"), ("h0", "h1"), ("h0", "c1")], "shared-ip", 1e-5)
    once = _edges([("c2", "h0"), ("c3", "h1")], "co-reply", 1e-3)
    kept, info = corroborate([infra, home], [act, inside, once], alpha=0.01)
    assert info["kept"] >= 1
    assert max(g["size"] for g in info["groups"]) >= 22  # the household is in the group
    for t in kept:
        ends = set(t["account_a"].to_pylist()) | set(t["account_b"].to_pylist())
        assert not ends & {"h0", "h1"}
    assert kept[2].num_rows == 0
