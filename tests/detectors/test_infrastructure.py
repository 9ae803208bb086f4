"""Shared-infrastructure detector: the contract, hand-computed values, rarity (a phone of six
against a carrier NAT of 2,000), windows, caps, and a brute-force cross-check of every column."""
from __future__ import annotations

import csv
import itertools
import math
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median
from typing import Any

import pytest

import lockstep
from lockstep.detectors.infrastructure import SIGNALS, InfrastructureDetector
from lockstep.exceptions import UsageError
from lockstep.ingestion import ingest
from lockstep.testing import check_detector, make_campaign
from lockstep.workspace import Workspace

T0 = 1_700_000_000
SESSION_COLUMNS = ("platform", "account_id", "timestamp", "ip", "device_id", "user_agent",
                   "country")
PI2_6 = math.pi ** 2 / 6


def s(acc: str, t: float, *, ip: str = "", device: str = "", platform: str = "x"
      ) -> dict[str, Any]:
    """One session row (``t`` seconds after T0)."""
    return {"platform": platform, "account_id": acc, "timestamp": T0 + t, "ip": ip,
            "device_id": device}


def make_ws(tmp_path: Path, sessions: list[dict[str, Any]], *, truth: dict[str, str] | None = None,
            name: str = "ws") -> Workspace:
    """A workspace with ``sessions`` (generic format), one event per account and, optionally,
    a truth table (account -> network id)."""
    src = tmp_path / f"{name}-src"
    src.mkdir()
    accounts = sorted({(r["platform"], r["account_id"]) for r in sessions})
    with open(src / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "event_id", "account_id", "timestamp"])
        for k, (plat, acc) in enumerate(accounts):
            w.writerow([plat, f"e{k}", acc, T0])
    with open(src / "sessions.csv", "w", newline="", encoding="utf-8") as fh:
        dw = csv.DictWriter(fh, fieldnames=list(SESSION_COLUMNS))
        dw.writeheader()
        for r in sessions:
            dw.writerow({**{c: r.get(c, "") for c in SESSION_COLUMNS},
                         "timestamp": _iso(r["timestamp"])})
    if truth is not None:
        with open(src / "truth.csv", "w", newline="", encoding="utf-8") as fh:
            tw = csv.writer(fh)
            tw.writerow(["platform", "account_id", "network_id", "network_kind"])
            for plat, acc in accounts:
                net = truth.get(acc, "")
                tw.writerow([plat, acc, net, "cib" if net else ""])
    ws = lockstep.open_workspace(tmp_path / name)
    ingest(ws, [src])
    return ws


def _iso(ts: float) -> str:
    """Exact ISO 8601 text of UNIX seconds (microseconds kept without float rounding)."""
    us = round(ts * 1_000_000)
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)).isoformat()


def by_pair(det: InfrastructureDetector) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["account_a"], r["account_b"]): r for r in det.edges_.to_pylist()}


def epoch(ts: Any) -> float:
    return ts.timestamp()


# -- the contract ----------------------------------------------------------------------------
def _contract_sessions() -> list[dict[str, Any]]:
    """A planted group of 5 on two phones and an office address, ordinary people with their
    own phones, households sharing a tablet, and everyone on two carrier NAT addresses."""
    rng = random.Random(3)
    rows = []
    cib = [f"cib_{i}" for i in range(5)]
    for i, acc in enumerate(cib):
        for j in range(6):
            t = rng.randrange(0, 5 * 86400)
            rows.append(s(acc, t, device=f"phone-{j % 2}", ip="203.0.113.7"))
    for i in range(40):
        acc = f"user_{i}"
        plat = "facebook" if i % 3 else "x"
        for j in range(4):
            t = rng.randrange(0, 5 * 86400)
            dev = f"tablet-{i // 3}" if i < 12 and j == 0 else f"own-{i}"
            ip = f"100.64.0.{1 + (j % 2)}" if j < 2 else f"198.51.100.{i}"
            rows.append(s(acc, t, device=dev, ip=ip, platform=plat))
    return rows


@pytest.mark.parametrize("resource", ["device", "ip"])
def test_check_detector_passes(tmp_path: Path, resource: str) -> None:
    truth = {f"cib_{i}": "op-1" for i in range(5)}
    ws = make_ws(tmp_path, _contract_sessions(), truth=truth)
    got = check_detector(InfrastructureDetector(resource=resource, max_evidence=2), ws,
                         min_recall=1.0)
    assert got["edges"] > 0 and got["recall"] == 1.0
    check_detector(InfrastructureDetector(resource=resource, min_weight=2, window=3600,
                                          max_accounts=10), ws)


def test_signals_and_params() -> None:
    assert SIGNALS == {"shared-device": {"resource": "device"}, "shared-ip": {"resource": "ip"}}
    for sig, params in SIGNALS.items():
        assert InfrastructureDetector(**params)._signal_name() == sig
    assert InfrastructureDetector.name == "infrastructure"


@pytest.mark.parametrize("bad", [
    {"resource": "phone"}, {"window": -1}, {"window": float("nan")}, {"window": True},
    {"window": "1d"}, {"max_accounts": 1}, {"max_accounts": 2.5}, {"conditional": 1},
    {"min_weight": 0}, {"max_evidence": -1},
])
def test_bad_params_raise(tmp_path: Path, bad: dict[str, Any]) -> None:
    ws = make_ws(tmp_path, [s("a", 0, device="d"), s("b", 1, device="d")])
    with pytest.raises(UsageError):
        InfrastructureDetector(**bad).fit(ws)


def test_no_sessions_gives_empty_edges(tmp_path: Path) -> None:
    ws = lockstep.open_workspace(tmp_path / "ws")
    ingest(ws, [make_campaign(tmp_path, seed=0)])  # events and truth only
    for resource in ("device", "ip"):
        det = InfrastructureDetector(resource=resource).fit(ws)
        assert det.edges_.num_rows == 0
        assert det.stats_["rows"] == 0
        # the planted group cannot be found without telemetry: recall is not asked for
        check_detector(InfrastructureDetector(resource=resource), ws, min_recall=1.0)


# -- exact values, computed by hand ------------------------------------------------------------
def test_tiny_device_case_by_hand(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [
        s("A", 0, device="dev1"), s("A", 100, device="dev1"), s("A", 50, device="dev2"),
        s("B", 30, device="dev1"),
        s("C", 0, device="dev3"),
        s("D", 1000, device="dev3"), s("D", 4000, device="dev3"),
    ])
    det = InfrastructureDetector(resource="device").fit(ws)
    got = by_pair(det)
    assert set(got) == {("A", "B"), ("C", "D")}
    # d: A=2, B=C=D=1; M = 5; k: dev1=2, dev2=1, dev3=2; C(2) = 2*1 + 2*1 = 4 (no window: q=1)
    ab, cd = got[("A", "B")], got[("C", "D")]
    # A-B: lambda = 2*1/25 * 4 = 0.32, p = pi^2/6 * (1 - e^-0.32)
    assert ab["expected"] == pytest.approx(0.32, rel=1e-12)
    assert ab["p_value"] == pytest.approx(PI2_6 * (1 - math.exp(-0.32)), rel=1e-12)
    # co-uses: A used dev1 twice, B once -> min = 1; gaps A0->B30 30, A100->B30 70, B30->A0 30
    assert (ab["weight"], ab["support"], ab["median_delta_s"]) == (1, 1, 30.0)
    assert (epoch(ab["first_seen"]), epoch(ab["last_seen"])) == (T0, T0 + 100)
    assert ab["evidence"] == ["device:dev1"]
    # C-D: lambda = 1/25 * 4 = 0.16; gaps C0->D1000 1000, D1000->C0 1000, D4000->C0 4000
    assert cd["expected"] == pytest.approx(0.16, rel=1e-12)
    assert cd["p_value"] == pytest.approx(PI2_6 * (1 - math.exp(-0.16)), rel=1e-12)
    assert (cd["weight"], cd["support"], cd["median_delta_s"]) == (1, 1, 1000.0)
    assert (epoch(cd["first_seen"]), epoch(cd["last_seen"])) == (T0, T0 + 4000)
    assert det.stats_["incidences"] == 5 and det.stats_["pairs_at_risk"] == 6
    assert det.evidence("A", "B") == ["device:dev1"]
    assert det.evidence(("x", "D"), ("x", "C")) == ["device:dev3"]


def test_tiny_ip_window_case_by_hand(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [
        s("A", 0, ip="192.0.2.1"), s("A", 100, ip="192.0.2.1"), s("B", 30, ip="192.0.2.1"),
        s("C", 5000, ip="192.0.2.1"),
    ])
    det = InfrastructureDetector(resource="ip", window=600).fit(ws)
    got = by_pair(det)
    # C is on the address 5000 s later: outside the window of everyone
    assert set(got) == {("A", "B")}
    # q: cross-account session pairs 6 - 1 (A0, A100) = 5, of which (A0,B30), (A100,B30) are
    # within 600 s: q = 0.4; C(3) = 3*2*0.4 = 2.4; d = 1 each, M = 3: lambda = 2.4 / 9
    lam = 2.4 / 9
    r = got[("A", "B")]
    assert r["expected"] == pytest.approx(lam, rel=1e-12)
    assert r["p_value"] == pytest.approx(PI2_6 * (1 - math.exp(-lam)), rel=1e-12)
    assert (r["weight"], r["support"], r["median_delta_s"]) == (1, 1, 30.0)
    assert r["evidence"] == ["ip:192.0.2.1"]
    # the window is inclusive: C at 700 s is exactly 600 s after A's session at 100 s
    ws2 = make_ws(tmp_path, [s("A", 0, ip="192.0.2.1"), s("A", 100, ip="192.0.2.1"),
                             s("C", 700, ip="192.0.2.1"), s("D", 700.000001 + 100 + 600,
                                                            ip="192.0.2.1")], name="ws2")
    pairs = set(by_pair(InfrastructureDetector(resource="ip", window=600).fit(ws2)))
    assert pairs == {("A", "C")}  # C and D are 700.000001 s apart


def test_multiple_shared_resources_scan(tmp_path: Path) -> None:
    # A and B share two phones (k=2 and k=3); C is on the second phone too
    ws = make_ws(tmp_path, [
        s("A", 0, device="p1"), s("B", 10, device="p1"),
        s("A", 20, device="p2"), s("B", 25, device="p2"), s("B", 26, device="p2"),
        s("C", 40, device="p2"), s("D", 0, device="own-d"),
    ])
    det = InfrastructureDetector(resource="device").fit(ws)
    ab = by_pair(det)[("A", "B")]
    # d: A=2, B=2, C=1, D=1; M = 6; C(2) = 2, C(3) = 2 + 6 = 8
    s_ab = 2 * 2 / 36
    t1 = 1 - math.exp(-s_ab * 2)  # at least 1 shared resource with k <= 2
    lam2 = s_ab * 8
    t2 = 1 - math.exp(-lam2) * (1 + lam2)  # at least 2 with k <= 3
    assert ab["p_value"] == pytest.approx(min(1.0, PI2_6 * t1, PI2_6 * 4 * t2), rel=1e-12)
    assert ab["support"] == 2 and ab["weight"] == 2  # min(1,1) + min(1,2)
    assert ab["evidence"] == ["device:p1", "device:p2"]  # rarest first
    assert det.evidence("B", "A") == ["device:p1", "device:p2"]
    assert InfrastructureDetector(resource="device", max_evidence=1).fit(ws).edges_.to_pylist(
        )[0]["evidence"] == ["device:p1"]


# -- rarity: a phone of six against a carrier NAT of 2,000 ----------------------------------
@pytest.fixture(scope="module")
def phone_and_nat(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    tmp = tmp_path_factory.mktemp("nat")
    rows = []
    for i in range(6):  # six accounts on one phone, each from its own home address
        rows.append(s(f"fake_{i}", 60 * i, device="phone-1", ip=f"198.51.100.{i}"))
        rows.append(s(f"fake_{i}", 86400 * 3 + 60 * i, device="phone-1", ip=f"198.51.100.{i}"))
    for i in range(2000):  # 2000 people behind one carrier NAT address, own phones
        rows.append(s(f"user_{i:04d}", i, device=f"own-{i}", ip="100.64.0.1"))
    return make_ws(tmp, rows)


def test_phone_of_six_is_significant(phone_and_nat: Workspace) -> None:
    det = InfrastructureDetector(resource="device").fit(phone_and_nat)
    edges = det.edges_.to_pylist()
    assert len(edges) == 15
    assert {r["account_a"][:5] for r in edges} == {"fake_"}
    # M = 2006 incidences, d = 1: lambda = 6*5 / 2006^2
    lam = 30 / 2006 ** 2
    for r in edges:
        assert r["expected"] == pytest.approx(lam, rel=1e-9)
        assert r["p_value"] == pytest.approx(PI2_6 * -math.expm1(-lam), rel=1e-9)
        assert r["p_value"] < 2e-5
        assert (r["weight"], r["support"]) == (2, 1)


def test_carrier_nat_is_capped_or_insignificant(phone_and_nat: Workspace) -> None:
    det = InfrastructureDetector(resource="ip").fit(phone_and_nat)
    assert det.edges_.num_rows == 0
    capped = det.stats_["capped_resources"]
    assert capped["count"] == 1 and capped["accounts"] == 2000
    assert capped["largest"][0] == {"resource": "ip:100.64.0.1", "accounts": 2000,
                                    "sessions": 2000}
    # without the cap every NAT pair is emitted, and chance explains it (p = 1)
    big = InfrastructureDetector(resource="ip", max_accounts=5000).fit(phone_and_nat)
    assert big.edges_.num_rows == 2000 * 1999 // 2
    p = big.edges_["p_value"].to_numpy()
    assert p.min() > 0.99


def test_conditional_p_values(phone_and_nat: Workspace, tmp_path: Path) -> None:
    # conditioning on the pair appearing: the phone is the only way to appear, so p = 1
    det = InfrastructureDetector(resource="device", conditional=True).fit(phone_and_nat)
    assert det.edges_["p_value"].to_numpy().min() == 1.0
    ws = make_ws(tmp_path, _contract_sessions())
    plain = InfrastructureDetector(resource="ip").fit(ws).edges_
    cond = InfrastructureDetector(resource="ip", conditional=True).fit(ws).edges_
    assert (cond["p_value"].to_numpy() >= plain["p_value"].to_numpy()).all()


# -- windows, platforms, caps ------------------------------------------------------------------
def test_ip_default_window_is_a_day_and_device_has_none(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [
        s("a", 0, ip="192.0.2.9", device="d1"), s("b", 86400, ip="192.0.2.9", device="d1"),
        s("c", 86400 * 5, ip="192.0.2.9", device="d1"),
    ])
    ip_pairs = set(by_pair(InfrastructureDetector(resource="ip").fit(ws)))
    assert ip_pairs == {("a", "b")}  # exactly a day apart: inclusive
    assert set(by_pair(InfrastructureDetector(resource="ip", window=math.inf).fit(ws))) == {
        ("a", "b"), ("a", "c"), ("b", "c")}
    assert set(by_pair(InfrastructureDetector(resource="device").fit(ws))) == {
        ("a", "b"), ("a", "c"), ("b", "c")}
    assert InfrastructureDetector(resource="ip").fit(ws).stats_["window_s"] == 86400.0
    assert InfrastructureDetector(resource="device").fit(ws).stats_["window_s"] is None


def test_cross_platform_and_normalisation(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [
        s("op", 0, device="PH-1", ip="2001:DB8::1", platform="facebook"),
        s("op", 10, device="PH-1", ip=" 2001:db8::1 ", platform="instagram"),
        s("x1", 20, device="", ip=""),  # no resource: ignored
    ])
    dev = by_pair(InfrastructureDetector(resource="device").fit(ws))
    assert list(dev) == [("op", "op")]  # the same id on two platforms: two accounts
    row = InfrastructureDetector(resource="ip").fit(ws).edges_.to_pylist()[0]
    assert (row["platform_a"], row["platform_b"]) == ("facebook", "instagram")
    assert row["evidence"] == ["ip:2001:db8::1"]


def test_cap_reports_and_skips_popular_resources(tmp_path: Path) -> None:
    rows = [s(f"u{i}", i, device="shared") for i in range(5)]
    rows += [s("u0", 1000, device="pair"), s("u1", 1001, device="pair")]
    det = InfrastructureDetector(resource="device", max_accounts=4).fit(make_ws(tmp_path, rows))
    assert list(by_pair(det)) == [("u0", "u1")]
    assert by_pair(det)[("u0", "u1")]["evidence"] == ["device:pair"]
    assert det.evidence("u0", "u1") == ["device:pair"]
    assert det.stats_["capped_resources"]["count"] == 1
    assert det.stats_["capped_resources"]["accounts"] == 5


@pytest.mark.parametrize("resource", ["device", "ip"])
def test_small_pieces_give_the_same_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          resource: str) -> None:
    from lockstep.detectors import infrastructure

    ws = make_ws(tmp_path, _contract_sessions())
    whole = InfrastructureDetector(resource=resource).fit(ws)
    monkeypatch.setattr(infrastructure, "_PIECE_SESSIONS", 5)
    monkeypatch.setattr(infrastructure, "_EMIT_STEP", 7)
    pieces = InfrastructureDetector(resource=resource).fit(ws)
    assert whole.edges_.num_rows > 20
    assert pieces.edges_.equals(whole.edges_)


# -- brute force ------------------------------------------------------------------------------
def _poisson_sf(m: int, lam: float) -> float:
    """P(Poisson(lam) >= m)."""
    return -math.expm1(-lam) if m == 1 else 1.0 - sum(
        math.exp(-lam) * lam ** i / math.factorial(i) for i in range(m))


def brute(rows: list[tuple[str, str, str, int]], window_us: float, cap: int, prefix: str
          ) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """Every column of every edge, straight from the definitions (rows: platform, account,
    resource, time in microseconds)."""
    rows = sorted(set(rows))
    by_res: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(lambda: defaultdict(list))
    for plat, acc, res, t in rows:
        by_res[res][(plat, acc)].append(t)
    deg: dict[tuple[str, str], int] = defaultdict(int)
    for users in by_res.values():
        for acc in users:
            deg[acc] += 1
    M = sum(deg.values())
    k = {res: len(users) for res, users in by_res.items()}
    q = {}
    for res, users in by_res.items():
        cross = within = 0
        for (a1, ts1), (a2, ts2) in itertools.combinations(sorted(users.items()), 2):
            for x in ts1:
                for y in ts2:
                    cross += 1
                    within += abs(x - y) <= window_us
        q[res] = within / cross if cross else 1.0

    def C(K: int) -> float:
        return sum(k[r] * (k[r] - 1) * q[r] for r in by_res if 2 <= k[r] <= min(K, cap))

    out = {}
    for a, b in itertools.combinations(sorted(deg), 2):
        shared = []
        for res, users in by_res.items():
            if a not in users or b not in users or k[res] > cap:
                continue
            ta, tb = users[a], users[b]
            ga = [min(abs(x - y) for y in tb) for x in ta]
            gb = [min(abs(x - y) for x in ta) for y in tb]
            qa = [(x, g) for x, g in zip(ta, ga) if g <= window_us]
            qb = [(y, g) for y, g in zip(tb, gb) if g <= window_us]
            if qa:
                shared.append((k[res], f"{prefix}:{res}", qa, qb))
        if not shared:
            continue
        shared.sort(key=lambda z: (z[0], z[1]))
        scale = deg[a] * deg[b] / M ** 2
        best = (math.inf, 0.0)
        for m, (kr, *_rest) in enumerate(shared, start=1):
            lam = scale * C(kr)
            val = PI2_6 * m * m * _poisson_sf(m, lam)
            if val < best[0]:
                best = (val, lam)
        times = [x for z in shared for x, _ in z[2] + z[3]]
        gaps = [g for z in shared for _, g in z[2] + z[3]]
        out[(*a, *b)] = {
            "weight": sum(min(len(z[2]), len(z[3])) for z in shared), "support": len(shared),
            "first": min(times), "last": max(times), "median": median(gaps) / 1e6,
            "evidence": [z[1] for z in shared], "p": min(1.0, best[0]), "expected": best[1]}
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("resource,window,cap", [
    ("device", None, 300), ("ip", 3600, 300), ("ip", 0, 300), ("device", 7200, 6),
])
def test_matches_brute_force(tmp_path: Path, seed: int, resource: str, window: float | None,
                             cap: int) -> None:
    rng = random.Random(seed)
    accounts = [(rng.choice(["x", "facebook"]), f"acc{i}") for i in range(30)]
    pool = [f"r{j}" for j in range(14)]
    rows, sessions = [], []
    for plat, acc in accounts:
        mine = rng.sample(pool, rng.randint(1, 3))
        for _ in range(rng.randint(1, 5)):
            res = rng.choice(mine)
            t = rng.randrange(0, 6 * 3600)
            if rng.random() < 0.5:  # ties and near-ties
                t = t // 600 * 600
            rows.append((plat, acc, res, (T0 + t) * 1_000_000))
            key = "device" if resource == "device" else "ip"
            sessions.append(s(acc, t, platform=plat, **{key: res}))
    ws = make_ws(tmp_path, sessions)
    det = InfrastructureDetector(resource=resource, window=window, max_accounts=cap,
                                 max_evidence=3).fit(ws)
    wus = math.inf if window is None else window * 1e6
    want = brute(rows, wus, cap, resource)
    got = {(r["platform_a"], r["account_a"], r["platform_b"], r["account_b"]): r
           for r in det.edges_.to_pylist()}
    assert set(got) == set(want)
    assert want or window == 0, "the random world should have some sharing"
    for key, w in want.items():
        g = got[key]
        assert (g["weight"], g["support"]) == (w["weight"], w["support"]), key
        assert round(epoch(g["first_seen"]) * 1e6) == w["first"]
        assert round(epoch(g["last_seen"]) * 1e6) == w["last"]
        assert g["median_delta_s"] == pytest.approx(w["median"], abs=1e-9)
        assert g["evidence"] == w["evidence"][:3]
        assert g["p_value"] == pytest.approx(w["p"], rel=1e-9)
        assert g["expected"] == pytest.approx(w["expected"], rel=1e-9)
    for key in list(want)[:5]:
        assert det.evidence(key[:2], key[2:]) == want[key]["evidence"]
