"""Dense-block detector (Fraudar): contract, the peeling against brute force and a naive
greedy, a planted block among noise (with and without camouflage), the null, edge cases."""
from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lockstep
from lockstep.detectors.base import EDGE_SCHEMA
from lockstep.detectors.dense import (
    SIGNALS,
    DenseBlockDetector,
    _core,
    _greedy_peel,
    fraudar_block,
)
from lockstep.exceptions import UsageError
from lockstep.testing import check_detector, events_workspace
from lockstep.workspace import Workspace

COLUMNS = ("platform", "event_id", "account_id", "timestamp", "urls", "hashtags",
           "reposted_id", "replied_id", "image_hashes")
H = 3600
DAY = 24 * H
T0 = 1_600_000_000 - 1_600_000_000 % DAY  # a UTC midnight


def make_ws(tmp_path: Path, events: list[dict[str, Any]], name: str = "ws") -> Workspace:
    """A workspace holding ``events`` (generic format; missing fields empty)."""
    return events_workspace(tmp_path, events, name=name, columns=COLUMNS)


def ev(acc: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"account_id": acc, "timestamp": T0 + t, **fields}


def planted_world(seed: int, *, camouflage: bool, n_planted: int = 10, n_noise: int = 200,
                  days: int = 14) -> list[dict[str, Any]]:
    """Noise accounts re-post, link and tag at random (a few heavy users among them); the
    planted accounts each re-post most of 20 operation posts on the post's day; with
    ``camouflage`` they also re-post the day's viral posts, four times as often."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for k in range(n_noise):
        heavy = k < 10
        for _ in range(rng.randrange(60, 120) if heavy else rng.randrange(5, 25)):
            t = rng.uniform(0, days * DAY)
            kind = rng.random()
            if kind < 0.5:
                rows.append(ev(f"user{k}", t, reposted_id=f"p{rng.randrange(600)}"))
            elif kind < 0.7:
                rows.append(ev(f"user{k}", t, urls=f"https://n.example/{rng.randrange(400)}"))
            elif kind < 0.85:
                rows.append(ev(f"user{k}", t, hashtags=f"tag{rng.randrange(30)}"))
            else:
                d = rng.randrange(days)
                rows.append(ev(f"user{k}", d * DAY + rng.uniform(0, DAY),
                               reposted_id=f"viral{d}"))
    for b in range(20):
        d = rng.randrange(days)
        for j in range(n_planted):
            if rng.random() < 0.8:
                rows.append(ev(f"cib{j}", d * DAY + rng.uniform(0, DAY), reposted_id=f"op{b}"))
    if camouflage:
        for j in range(n_planted):
            for _ in range(64):
                d = rng.randrange(days)
                rows.append(ev(f"cib{j}", d * DAY + rng.uniform(0, DAY),
                               reposted_id=f"viral{d}"))
    return rows


# -- the peeling ------------------------------------------------------------------------------
def _density(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray, accs: Any, objs: Any) -> float:
    a, o = set(int(x) for x in accs), set(int(x) for x in objs)
    if not a and not o:
        return 0.0
    f = sum(w for x, y, w in zip(ea, eo, ew, strict=True) if x in a and y in o)
    return f / (len(a) + len(o))


def _naive_greedy(ea: np.ndarray, eo: np.ndarray, ew: np.ndarray) -> float:
    """Fraudar's peeling, one node at a time, recomputing every degree (quadratic)."""
    nodes = {("a", int(x)) for x in ea} | {("o", int(y)) for y in eo}
    best = 0.0
    while nodes:
        accs = {n for k, n in nodes if k == "a"}
        objs = {n for k, n in nodes if k == "o"}
        best = max(best, _density(ea, eo, ew, accs, objs))
        deg = {n: 0.0 for n in nodes}
        for x, y, w in zip(ea, eo, ew, strict=True):
            if ("a", int(x)) in nodes and ("o", int(y)) in nodes:
                deg[("a", int(x))] += w
                deg[("o", int(y))] += w
        nodes.remove(min(nodes, key=lambda n: (deg[n], n)))
    return best


def _random_graph(rng: random.Random, n_a: int, n_o: int, p: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = [(a, o) for a in range(n_a) for o in range(n_o) if rng.random() < p]
    ea = np.array([a for a, _ in edges], dtype=np.int64)
    eo = np.array([o for _, o in edges], dtype=np.int64)
    ew = np.array([rng.uniform(0.2, 1.0) for _ in edges])  # no ties in the peeling order
    return ea, eo, ew


@pytest.mark.parametrize("seed", range(6))
def test_greedy_matches_naive_peeling(seed: int) -> None:
    rng = random.Random(seed)
    ea, eo, ew = _random_graph(rng, 9, 11, 0.35)
    g, accs, objs, curve = _greedy_peel(ea, eo, ew, max_accounts=100)
    assert g == pytest.approx(_naive_greedy(ea, eo, ew))
    assert _density(ea, eo, ew, accs, objs) == pytest.approx(g)
    assert curve[0, 0] == len(set(ea.tolist())) + len(set(eo.tolist()))
    # the account cap: the best prefix with at most 3 accounts
    g3, a3, o3, _ = _greedy_peel(ea, eo, ew, max_accounts=3)
    assert len(a3) <= 3 and g3 <= g + 1e-12
    assert _density(ea, eo, ew, a3, o3) == pytest.approx(g3)


@pytest.mark.parametrize("seed", range(4))
def test_core_keeps_the_densest_block(seed: int) -> None:
    rng = random.Random(100 + seed)
    n_a, n_o = 5, 5
    ea, eo, ew = _random_graph(rng, n_a, n_o, 0.5)
    best, best_set = -1.0, None
    for ra in range(1, n_a + 1):
        for accs in itertools.combinations(range(n_a), ra):
            for ro in range(1, n_o + 1):
                for objs in itertools.combinations(range(n_o), ro):
                    d = _density(ea, eo, ew, accs, objs)
                    if d > best + 1e-12:
                        best, best_set = d, (set(accs), set(objs))
    assert best_set is not None
    g, accs, objs, info = fraudar_block(ea, eo, ew, n_a, n_o)
    assert best / 2 - 1e-12 <= g <= best + 1e-12  # Fraudar's factor-2 guarantee
    core = _core(ea, eo, ew, n_a, n_o, g)
    kept_a, kept_o = set(ea[core].tolist()), set(eo[core].tolist())
    assert best_set[0] <= kept_a and best_set[1] <= kept_o
    sizes, env = info["envelope"]
    assert np.all(np.diff(sizes) >= 0) and np.all(np.diff(env) >= 0)
    assert env[-1] == pytest.approx(g)


def test_fraudar_finds_a_camouflaged_biclique() -> None:
    rng = random.Random(0)
    n_a, n_o = 300, 400
    edges: set[tuple[int, int]] = set()
    for a in range(n_a):  # background
        for _ in range(rng.randrange(2, 8)):
            edges.add((a, rng.randrange(n_o)))
    popular = list(range(380, 400))
    for a in range(n_a):  # everyone touches a few popular objects
        for o in rng.sample(popular, 3):
            edges.add((a, o))
    fraud, targets = range(20), range(200, 230)
    for a in fraud:
        for o in targets:
            if rng.random() < 0.9:
                edges.add((a, o))
        for o in popular:  # camouflage: every popular object
            edges.add((a, o))
    ea = np.array([a for a, _ in sorted(edges)], dtype=np.int64)
    eo = np.array([o for _, o in sorted(edges)], dtype=np.int64)
    k = np.bincount(eo, minlength=n_o)
    g, accs, objs, _ = fraudar_block(ea, eo, 1 / np.log(k[eo] + 5.0), n_a, n_o)
    assert set(accs.tolist()) == set(fraud)
    assert set(targets) <= set(objs.tolist())


# -- the detector ------------------------------------------------------------------------------
def test_contract(campaign: Workspace) -> None:
    got = check_detector(DenseBlockDetector(), campaign, min_recall=0.8)
    assert got["recall"] == 1.0
    check_detector(DenseBlockDetector(bucket_s=None, n_null=2), campaign, min_recall=0.8)
    assert SIGNALS == {"dense-block": {}}
    assert DenseBlockDetector.name == "dense-block"


def test_campaign_block(campaign: Workspace) -> None:
    det = DenseBlockDetector().fit(campaign)
    first = det.stats_["blocks"][0]
    assert first["accounts"] == 6 and first["reported"] and first["p_value"] < 1e-3
    rows = [r for r in det.edges_.to_pylist() if r["p_value"] < 1e-3]
    assert {(r["account_a"], r["account_b"]) for r in rows} == {
        (f"cib_{i}", f"cib_{j}") for i, j in itertools.combinations(range(6), 2)}
    for r in rows:
        # 12 bursts x (2 posts, a URL, a hashtag, an image), each on its day
        assert r["weight"] == 60 and r["support"] == 60
        assert r["median_delta_s"] <= 20 and 0 <= r["expected"] < r["weight"]
        assert det.evidence(r["account_a"], r["account_b"])[:10] == r["evidence"]


@pytest.mark.parametrize("camouflage", [False, True])
def test_planted_block_among_noise(tmp_path: Path, camouflage: bool) -> None:
    ws = make_ws(tmp_path, planted_world(1, camouflage=camouflage))
    det = DenseBlockDetector(n_blocks=5).fit(ws)
    planted = {f"cib{j}" for j in range(10)}
    first = det.stats_["blocks"][0]
    assert first["p_value"] < 1e-3
    sig = [r for r in det.edges_.to_pylist() if r["p_value"] < 1e-3]
    got = {(r["account_a"], r["account_b"]) for r in sig}
    inside = {(a, b) for a, b in itertools.combinations(sorted(planted), 2)}
    assert inside <= got
    if camouflage:
        # the popular columns the planted accounts pile onto join the block, and with them a
        # few of the heavy users that touch the same popular columns (user0..user9)
        assert first["accounts"] <= 14
        extra = {x for pair in got for x in pair} - planted
        assert extra <= {f"user{k}" for k in range(10)}
    else:
        assert first["accounts"] == 10 and got == inside
    assert all(r["support"] >= 8 for r in sig if r["account_b"] in planted)
    for r in sig[:5]:
        full = det.evidence(r["account_a"], r["account_b"])
        assert full[:len(r["evidence"])] == r["evidence"]
        assert len(full) == r["weight"]  # one event pair per shared column here


def test_noise_only_has_no_significant_block(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [r for r in planted_world(2, camouflage=False)
                            if not r["account_id"].startswith("cib")])
    det = DenseBlockDetector(n_blocks=5).fit(ws)
    assert all(b["p_value"] > 1e-3 for b in det.stats_["blocks"])
    assert all(r["p_value"] > 1e-3 for r in det.edges_.to_pylist())


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, planted_world(4, camouflage=True, n_noise=80))
    a = DenseBlockDetector(n_blocks=3).fit(ws)
    b = DenseBlockDetector(n_blocks=3).fit(ws)
    assert a.edges_.equals(b.edges_) and a.stats_["null_densest"] == b.stats_["null_densest"]
    c = DenseBlockDetector(n_blocks=3, random_state=9).fit(ws)
    assert c.stats_["null_densest"] != a.stats_["null_densest"]


def test_empty_workspace(tmp_path: Path) -> None:
    ws = lockstep.open_workspace(tmp_path / "empty")
    det = DenseBlockDetector().fit(ws)
    assert det.edges_.num_rows == 0 and det.edges_.schema == EDGE_SCHEMA
    assert det.stats_["rows"] == 0 and det.stats_["blocks"] == []
    assert det.evidence("a", "b") == []


@pytest.mark.parametrize("params", [
    {"bucket_s": 0}, {"bucket_s": "day"}, {"n_blocks": 0}, {"log_c": -1}, {"log_c": True},
    {"max_block_accounts": 1}, {"n_null": 0}, {"random_state": -1},
    {"object_types": ("url", "url")},
])
def test_bad_parameters(campaign: Workspace, params: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        DenseBlockDetector(**params).fit(campaign)
