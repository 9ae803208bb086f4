"""Synchrony detector (SynchroTrap-style): contract, hand-checked Jaccard and windows, a
planted lockstep group among noise (with and without camouflage), the null, edge cases."""
from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

import lockstep
from lockstep.detectors.base import EDGE_SCHEMA
from lockstep.detectors.synchrony import SIGNALS, SynchronyDetector
from lockstep.exceptions import UsageError
from lockstep.testing import check_detector, events_workspace
from lockstep.workspace import Workspace

COLUMNS = ("platform", "event_id", "account_id", "timestamp", "urls", "hashtags",
           "reposted_id", "replied_id", "image_hashes")
H = 3600
T0 = 1_600_000_000 - 1_600_000_000 % (24 * H)  # a UTC midnight


def make_ws(tmp_path: Path, events: list[dict[str, Any]], name: str = "ws") -> Workspace:
    """A workspace holding ``events`` (generic format; missing fields empty)."""
    return events_workspace(tmp_path, events, name=name, columns=COLUMNS)


def ev(acc: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"account_id": acc, "timestamp": T0 + t, **fields}


def by_pair(det: SynchronyDetector) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["account_a"], r["account_b"]): r for r in det.edges_.to_pylist()}


def planted_world(seed: int, *, camouflage: bool, n_planted: int = 8, n_noise: int = 150,
                  days: int = 10) -> list[dict[str, Any]]:
    """Noise accounts re-post, link and tag at random; planted accounts re-post the same posts
    within two minutes, 15 times; with ``camouflage`` they also act on the popular objects
    the noise crowds around, three times as often as they coordinate."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    popular = [f"viral{k}" for k in range(6)]
    for k in range(n_noise):
        for _ in range(rng.randrange(8, 30)):
            t = rng.uniform(0, days * 24 * H)
            kind = rng.random()
            if kind < 0.4:
                rows.append(ev(f"user{k}", t, reposted_id=f"p{rng.randrange(400)}"))
            elif kind < 0.6:
                rows.append(ev(f"user{k}", t, urls=f"https://n.example/{rng.randrange(300)}"))
            elif kind < 0.8:
                rows.append(ev(f"user{k}", t, hashtags=f"tag{rng.randrange(40)}"))
            else:  # the crowd: popular posts, each in its busy day
                v = rng.randrange(len(popular))
                rows.append(ev(f"user{k}", v * 24 * H + rng.uniform(0, 6 * H),
                               reposted_id=popular[v]))
    for b in range(15):
        start = rng.uniform(0, days * 24 * H)
        for j in range(n_planted):
            rows.append(ev(f"cib{j}", start + rng.uniform(0, 120), reposted_id=f"op{b}"))
    if camouflage:
        for j in range(n_planted):
            for _ in range(45):
                v = rng.randrange(len(popular))
                rows.append(ev(f"cib{j}", v * 24 * H + rng.uniform(0, 6 * H),
                               reposted_id=popular[v]))
    return rows


def test_contract(campaign: Workspace) -> None:
    got = check_detector(SynchronyDetector(), campaign, min_recall=0.8)
    assert got["recall"] == 1.0
    assert SIGNALS == {"synchrony": {}}
    assert SynchronyDetector.name == "synchrony"


def test_campaign_pairs_are_the_planted_group(campaign: Workspace) -> None:
    det = SynchronyDetector().fit(campaign)
    strong = {k: r for k, r in by_pair(det).items() if r["p_value"] < 1e-6}
    assert set(strong) == {(f"cib_{i}", f"cib_{j}") for i, j in itertools.combinations(range(6), 2)}
    for r in strong.values():
        # 12 bursts x 5 objects (the re-posted and the replied post, URL, hashtag, image)
        assert 50 <= r["weight"] <= 60 and r["support"] == r["weight"]
        assert r["median_delta_s"] <= 20 and r["expected"] > 0


def test_hand_checked_jaccard(tmp_path: Path) -> None:
    # a: 5 posts; b: 3 of them 60 s later, and 2 others. Every event sits 15 min into its hour,
    # so each shared action is shared on both grids: s_0 = s_1 = 3, |A| = |B| = 10 tokens,
    # J = 6 / (10 + 10 - 6) = 3 / 7.
    rows = [ev("a", d * 86400 + 900, reposted_id=f"P{d}") for d in range(5)]
    rows += [ev("b", d * 86400 + 960, reposted_id=f"P{d}") for d in range(3)]
    rows += [ev("b", d * 86400 + 900, reposted_id=f"Q{d}") for d in (3, 4)]
    ws = make_ws(tmp_path, rows)
    got = by_pair(SynchronyDetector(min_jaccard=0.428).fit(ws))
    r = got[("a", "b")]
    assert (r["weight"], r["support"], r["median_delta_s"]) == (3, 3, 60.0)
    assert r["evidence"] == ["e0|e5", "e1|e6", "e2|e7"]
    assert r["first_seen"].timestamp() == T0 + 900 and r["last_seen"].timestamp() == (
        T0 + 2 * 86400 + 960)
    assert not SynchronyDetector(min_jaccard=0.429).fit(ws).edges_.num_rows
    det = SynchronyDetector(min_jaccard=0.428).fit(ws)
    assert det.evidence("a", "b") == r["evidence"]
    assert det.stats_["accounts_eligible"] == 2
    # min_actions: b has 5 distinct (object, window) tokens
    assert not SynchronyDetector(min_actions=6).fit(ws).edges_.num_rows


def test_windows_overlap_and_tokens_are_sets(tmp_path: Path) -> None:
    base = [ev(acc, d * 86400 + 5 * H, reposted_id=f"F{acc}{d}") for acc in "ab"
            for d in range(5)]  # filler: 5 unshared actions each
    rows = base + [
        # 60 s apart across a grid-0 boundary: shared on grid 1 only
        ev("a", 10 * H - 30, reposted_id="X"), ev("b", 10 * H + 30, reposted_id="X"),
        # 50 min apart inside one grid-0 window: shared on grid 0 only
        ev("a", 20 * H + 300, reposted_id="Y"), ev("b", 20 * H + 3300, reposted_id="Y"),
        # one hour apart: never shared
        ev("a", 30 * H + 900, reposted_id="Z"), ev("b", 31 * H + 900, reposted_id="Z"),
        # a re-post and a reply of the same post in one window are one action (on the post);
        # a second post with the same two objects adds no matched event
        ev("a", 40 * H + 600, reposted_id="W", hashtags="t1 t2"),
        ev("b", 40 * H + 700, replied_id="W", hashtags="t1 t2"),
    ]
    ws = make_ws(tmp_path, rows)
    det = SynchronyDetector(min_weight=1).fit(ws)
    r = by_pair(det)[("a", "b")]
    # grid 0 shares Y, W, t1, t2 (4); grid 1 shares X, W, t1, t2 (4): tie -> grid 0
    assert r["weight"] == 4 and r["support"] == 4
    evid = det.evidence("a", "b")
    assert evid == r["evidence"]
    # 4 shared tokens but 2 distinct event pairs (the W, t1, t2 tokens come from one pair)
    assert len(evid) == 2


@pytest.mark.parametrize("camouflage", [False, True])
def test_planted_group_among_noise(tmp_path: Path, camouflage: bool) -> None:
    ws = make_ws(tmp_path, planted_world(3, camouflage=camouflage))
    det = SynchronyDetector().fit(ws)
    check_detector(SynchronyDetector(), ws)
    pairs = by_pair(det)
    planted = {(f"cib{i}", f"cib{j}") for i, j in itertools.combinations(range(8), 2)}
    assert planted <= set(pairs)
    assert max(pairs[p]["p_value"] for p in planted) < 1e-8
    assert min(pairs[p]["weight"] for p in planted) >= 14
    noise_sig = [p for p, r in pairs.items() if p not in planted and r["p_value"] < 1e-3]
    assert len(noise_sig) <= 2, noise_sig


def test_noise_only_is_calibrated(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [r for r in planted_world(5, camouflage=False)
                            if not r["account_id"].startswith("cib")])
    det = SynchronyDetector(min_weight=1).fit(ws)
    p = [r["p_value"] for r in det.edges_.to_pylist()]
    assert len(p) > 100
    # conservative: no more small p-values than chance allows
    assert sum(x < 0.01 for x in p) <= 0.01 * len(p) + 3
    assert all(0 < x <= 1 for x in p)


def test_popular_tokens_are_capped(tmp_path: Path) -> None:
    rows = [ev(f"u{k}", 100 + k, reposted_id="VIRAL") for k in range(12)]
    rows += [ev(f"u{k}", 86400 * (1 + d) + k, reposted_id=f"R{d}") for k in (0, 1)
             for d in range(4)]
    rows += [ev(f"u{k}", 86400 * (1 + d) + 7 * H, reposted_id=f"S{k}{d}") for k in range(2, 12)
             for d in range(4)]
    ws = make_ws(tmp_path, rows)
    det = SynchronyDetector(max_key_accounts=10, min_weight=1).fit(ws)
    assert det.stats_["grid0"]["capped_tokens"] == 1
    assert det.stats_["grid0"]["capped_incidences"] == 12
    assert det.stats_["capped_examples"][0]["object_id"] == "VIRAL"
    got = by_pair(det)
    assert set(got) == {("u0", "u1")} and got[("u0", "u1")]["weight"] == 4
    assert det.evidence("u0", "u1") == got[("u0", "u1")]["evidence"]
    # uncapped, the viral post ties everyone
    assert len(SynchronyDetector(min_weight=1).fit(ws).edges_) == 66


def test_chunks_give_the_same_edges(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, planted_world(7, camouflage=True, n_noise=60))
    whole = SynchronyDetector(min_weight=1).fit(ws)
    parts = SynchronyDetector(min_weight=1, pair_budget=50).fit(ws)
    assert parts.stats_["chunks"] > 3
    assert parts.edges_.equals(whole.edges_)


def test_empty_workspace(tmp_path: Path) -> None:
    ws = lockstep.open_workspace(tmp_path / "empty")
    det = SynchronyDetector().fit(ws)
    assert det.edges_.num_rows == 0 and det.edges_.schema == EDGE_SCHEMA
    assert det.stats_["rows"] == 0
    assert det.evidence("a", "b") == []


@pytest.mark.parametrize("params", [
    {"bucket_s": 0}, {"bucket_s": True}, {"min_actions": 0}, {"max_key_accounts": 1},
    {"min_jaccard": 1.5}, {"object_types": ("post", "nope")}, {"object_types": ["post"]},
    {"object_types": ()}, {"pair_budget": 0},
])
def test_bad_parameters(campaign: Workspace, params: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        SynchronyDetector(**params).fit(campaign)
