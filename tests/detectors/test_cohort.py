"""Creation cohorts and persona reuse: the contract, a planted burst among spread-out accounts,
boilerplate bios, the null model computed by hand, caps and empty input."""
from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from scipy import stats

import lockstep
from lockstep.detectors.base import EDGE_SCHEMA, NotFittedError
from lockstep.detectors.cohort import KINDS, SIGNALS, CohortDetector, handle_shape
from lockstep.exceptions import UsageError
from lockstep.ingestion import ingest
from lockstep.testing import check_detector
from lockstep.workspace import Workspace

ACCOUNT_COLUMNS = ("platform", "account_id", "kind", "handle", "display_name", "bio",
                   "created_at")
T0 = datetime(2020, 1, 1, tzinfo=UTC)
DAY = 86_400
FIRST = ("anna", "ben", "carla", "dev", "eva", "femi", "gita", "hugo", "ines", "jon", "kemal",
         "lena", "mo", "nadia", "omar", "pia", "raj", "sara", "tom", "uma")
LAST = ("smith", "garcia", "khan", "muller", "rossi", "silva", "tanaka", "okafor", "nowak",
        "dubois", "jensen", "costa", "ali", "kim", "singh", "lopez", "meyer", "ivanova",
        "haddad", "park")
COMMON_BIO = "Mother. Wife. Proud citizen."
PLANTED_BIO = "Independent voice for the people of Riverton and beyond"


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def write_dataset(root: Path, accounts: list[dict[str, Any]], *, planted: set[str] = frozenset(),
                  with_accounts: bool = True) -> Path:
    """A generic dataset: ``accounts.csv`` (unless not wanted), a few events, a truth table."""
    root.mkdir(parents=True, exist_ok=True)
    if with_accounts:
        with open(root / "accounts.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(ACCOUNT_COLUMNS))
            w.writeheader()
            for acc in accounts:
                w.writerow({c: acc.get(c, "") for c in ACCOUNT_COLUMNS})
    with open(root / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "event_id", "account_id", "timestamp", "text"])
        for k, acc in enumerate(accounts[:50] + accounts[50:][-10:]):
            w.writerow([acc["platform"], f"ev{k}", acc["account_id"], _iso(900 * DAY + k * 60),
                        "hello"])
    with open(root / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "account_id", "network_id", "network_kind"])
        for acc in accounts:
            net = "op-1" if acc["account_id"] in planted else ""
            w.writerow([acc["platform"], acc["account_id"], net, "cib" if net else ""])
    return root


def make_accounts(seed: int = 0, *, n_background: int = 2000, n_planted: int = 20,
                  n_common_bio: int = 300, n_rare_bio: int = 0) -> list[dict[str, Any]]:
    """``n_background`` ordinary accounts created at random over 1,000 days with name-derived
    handles and mostly unique bios (``n_common_bio`` of them with one boilerplate bio); plus
    ``n_planted`` accounts (``bot_*``) created within one hour on day 500, with handles from
    one template (``patriot_voice<digits>``) unrelated to their display names."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n_background):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        style = rng.randrange(3)
        handle = (f"{first}.{last}" if style == 0 else f"{first}{last}{rng.randrange(10, 9999)}"
                  if style == 1 else f"{first[0]}_{last}{rng.randrange(10, 99)}")
        if k < n_common_bio:
            bio = COMMON_BIO
        elif k < n_common_bio + n_rare_bio:
            bio = PLANTED_BIO
        else:
            bio = f"I like {rng.choice(LAST)} and {rng.randrange(10**6)} things"
        out.append({"platform": "x", "account_id": f"u{k:05d}", "kind": "user",
                    "handle": handle, "display_name": f"{first.title()} {last.title()}",
                    "bio": bio, "created_at": _iso(rng.uniform(0, 1000 * DAY))})
    for k in range(n_planted):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append({"platform": "x", "account_id": f"bot_{k:02d}", "kind": "user",
                    "handle": f"patriot_voice{rng.randrange(100, 99999)}",
                    "display_name": f"{first.title()} {last.title()}",
                    "bio": f"Love my country {k}",
                    "created_at": _iso(500 * DAY + 3600 * 10 + rng.uniform(0, 3600))})
    return out


def open_ws(tmp_path: Path, accounts: list[dict[str, Any]], name: str = "ws",
            **kw: Any) -> Workspace:
    planted = {a["account_id"] for a in accounts if a["account_id"].startswith("bot_")}
    src = write_dataset(tmp_path / f"{name}-src", accounts, planted=planted, **kw)
    ws = lockstep.open_workspace(tmp_path / name)
    ingest(ws, [src])
    return ws


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return open_ws(tmp_path_factory.mktemp("cohort"), make_accounts(0))


def _accounts(edges: Any) -> set[str]:
    return set(edges["account_a"].to_pylist()) | set(edges["account_b"].to_pylist())


def _planted_pair(edges: Any) -> Any:
    a, b = edges["account_a"], edges["account_b"]
    return pc.and_(pc.starts_with(a, "bot_"), pc.starts_with(b, "bot_"))


# -- contract ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["creation", "persona"])
def test_contract(world: Workspace, kind: str) -> None:
    got = check_detector(CohortDetector(kind=kind), world, min_recall=1.0)
    assert got["edges"] > 0 and got["recall"] == 1.0


@pytest.mark.parametrize("params", [
    {"kind": "creation", "match": "kind", "max_clique": 6},
    {"kind": "persona", "cross_platform": False, "max_evidence": 1},
    {"kind": "creation", "min_weight": 3}])
def test_contract_variants(world: Workspace, params: dict[str, Any]) -> None:
    check_detector(CohortDetector(**params), world)


def test_signals_and_params() -> None:
    assert SIGNALS == {"co-creation": {"kind": "creation"}, "persona-reuse": {"kind": "persona"}}
    for sig, params in SIGNALS.items():
        assert CohortDetector(**params)._signal_name() == sig
    assert KINDS["creation"] == "co-creation"
    with pytest.raises(UsageError, match="kind"):
        CohortDetector(kind="bogus").fit("/nonexistent")
    with pytest.raises(UsageError, match="match"):
        CohortDetector(match="x")._validate_params()
    with pytest.raises(UsageError, match="alpha"):
        CohortDetector(alpha=0)._validate_params()
    with pytest.raises(NotFittedError):
        CohortDetector().evidence("a", "b")


def test_handle_shape() -> None:
    assert handle_shape("name.surname1234") == "a.a9"
    assert handle_shape("@Deals_4821") == "a_9"
    assert handle_shape("") == "none" and handle_shape(None) == "none"
    assert handle_shape("élan99x") == "a9a"


# -- the planted burst --------------------------------------------------------------------------
def test_burst_found_background_not(world: Workspace) -> None:
    det = CohortDetector(kind="creation").fit(world)
    e = det.edges_
    planted = e.filter(_planted_pair(e))
    assert planted.num_rows == 20 * 19 // 2
    # the null conditions on the platform's own sign-ups that day (about 22): 20 of one
    # shape held by a third of the accounts is the evidence, not the busy day itself
    assert pc.max(planted["p_value"]).as_py() < 1e-6
    assert set(planted["support"].to_pylist()) == {2}
    ev = planted["evidence"][0].as_py()
    assert ev[0].startswith("created:") and ev[-1] == "shape:a_a9"
    # delta within the hour, first/last are the creation times
    assert pc.max(planted["median_delta_s"]).as_py() <= 3600
    assert pc.min(planted["first_seen"]).as_py() >= T0 + timedelta(days=500, hours=10)
    # the spread-out background forms no significant cohort
    bg = e.filter(pc.invert(_planted_pair(e)))
    assert bg.num_rows == 0 or pc.min(bg["p_value"]).as_py() > 1e-3
    assert det.stats_["groups"] >= 1 and det.stats_["rows"] == 2020


def test_persona_template_found(world: Workspace) -> None:
    """The 20 share a handle template and were created within one hour: far stronger than
    any chance pair of the background (names shared by chance, name-derived handles), though
    on 2,020 accounts, with three independent components in Fisher's combination, not below
    the pairwise false-discovery cut on their own (co-creation finds them)."""
    det = CohortDetector(kind="persona").fit(world)
    e = det.edges_
    planted = e.filter(_planted_pair(e))
    assert planted.num_rows == 190
    assert pc.max(planted["p_value"]).as_py() < 2e-3
    assert set(planted["evidence"][0].as_py()) == {"handle:patriot_voice#"}
    # name-derived handles (anna.smith12) and ordinary bios are not evidence
    bg = e.filter(pc.invert(_planted_pair(e)))
    assert bg.num_rows == 0 or pc.min(bg["p_value"]).as_py() > 10 * pc.max(
        planted["p_value"]).as_py()
    assert not any(x.startswith("handle:") for r in bg["evidence"].to_pylist() for x in r)
    assert det.stats_["pairs_tested"] == e.num_rows
    assert det.stats_["pairs_at_risk"] == 2020 * 2019 // 2


def test_common_bio_is_not_evidence(world: Workspace) -> None:
    det = CohortDetector(kind="persona").fit(world)
    import hashlib

    norm = "mother wife proud citizen"
    bio_id = "bio:" + hashlib.md5(norm.encode()).hexdigest()[:8]
    assert all(bio_id not in r for r in det.edges_["evidence"].to_pylist())
    common = det.stats_["common"]
    assert common["values"] >= 1 and common["accounts"] >= 300
    assert common["largest"][0] == {"evidence": bio_id, "size": 300}


def test_rare_bio_alone_is_weak(tmp_path: Path) -> None:
    """A specific bio on 12 accounts spread over three years, among unique bios, is listed
    (its pairs get the bio as evidence) but is not significant alone: a random pair shares
    some bio as rare with probability 132 / (N (N - 1)), and nothing else ties them. The same
    bio on 300 of them is boilerplate (above the common cap) and not listed."""
    rare = open_ws(tmp_path, make_accounts(1, n_planted=0, n_common_bio=0, n_rare_bio=12), "r")
    det = CohortDetector(kind="persona").fit(rare)
    e = det.edges_
    import hashlib

    bio_id = "bio:" + hashlib.md5(b"independent voice for the people of riverton and beyond"
                                  ).hexdigest()[:8]
    assert sum(bio_id in r for r in e["evidence"].to_pylist()) == 12 * 11 // 2
    from lockstep.significance import fdr_filter

    (kept,), _ = fdr_filter([e], 0.01)
    assert kept.num_rows == 0
    common = open_ws(tmp_path, make_accounts(1, n_planted=0, n_common_bio=0, n_rare_bio=300),
                     "c")
    e2 = CohortDetector(kind="persona").fit(common).edges_
    assert not any(bio_id in r for r in e2["evidence"].to_pylist())


# -- the null model, by hand ----------------------------------------------------------------------
def test_persona_expected_by_hand(tmp_path: Path) -> None:
    """Twelve accounts: five share template ``zz_bot#``, three ``qq_x#``, three ``ww_y#``,
    one ``ee_z#``; the k-th group was created on day k, its members one second apart. A
    random pair shares a template held by at most 5 accounts with probability
    S(5) / (N (N - 1)) = (2 * 3 * 2 + 5 * 4) / 132; the creation component is the share of
    ordered pairs as close in time (read at the first grid gap at or above theirs); Fisher
    over the two components; conditional on the 16 pairs that share a template."""
    accs = []
    for k, (tmpl, n) in enumerate((("zz_bot", 5), ("qq_x", 3), ("ww_y", 3), ("ee_z", 1))):
        for j in range(n):
            accs.append({"platform": "x", "account_id": f"a{k}{j}", "handle": f"{tmpl}{j + 10}",
                         "display_name": f"Person {k}{j}", "created_at": _iso(k * DAY + j)})
    ws = open_ws(tmp_path, accs)
    det = CohortDetector(kind="persona").fit(ws)
    assert det.stats_["components"] == 2 and det.stats_["pairs_tested"] == 16
    times = [k * DAY + j for k, n in enumerate((5, 3, 3, 1)) for j in range(n)]
    span = max(times) - min(times)
    grid = [0.0] + [10 ** (i * math.log10(span + 1) / 47) for i in range(48)]
    p_h = (2 * 3 * 2 + 5 * 4) / (12 * 11)
    rows = {(r["account_a"], r["account_b"]): r for r in det.edges_.to_pylist()}
    for a, b in (("a00", "a01"), ("a00", "a04")):
        gap = abs(int(a[2]) - int(b[2]))
        d = next(g for g in grid if g >= gap)
        # ordered pairs of distinct accounts as close in time
        close = sum(1 for i, x in enumerate(times) for j, y in enumerate(times)
                    if i != j and abs(x - y) <= d)
        x = p_h * close / (12 * 11)
        p_u = x * (1 - math.log(x))
        r = rows[(a, b)]
        assert r["p_value"] == pytest.approx(min(1.0, p_u * 66 / 16), rel=1e-6)
        assert r["expected"] == pytest.approx(x * 66, rel=1e-6)
        assert r["weight"] == 1
    groups = det.groups_.to_pylist()
    g0 = next(g for g in groups if g["evidence"] == "handle:zz_bot#")
    assert g0["size"] == 5 and g0["p_value"] == pytest.approx(p_h)


def test_creation_expected_by_hand(tmp_path: Path) -> None:
    """One account a day at noon for 201 days (no handle), and 6 more with handles of shape
    ``a9`` between 10:00 and 11:00 on day 100. The day-100 bucket holds 7 sign-ups of the
    platform's users; the ``a9`` stratum's share of them in the background (the 61 days
    around it less the bucket and its two neighbours: 0 of 58), shrunk with one
    pseudo-account at its overall share 6 / 207, is (0 + 6/207) / (58 + 1); the 6 are
    ``Binomial(7, share)``, conditional on reaching the reporting count."""
    accs = [{"platform": "x", "account_id": f"d{k:03d}", "handle": "",
             "created_at": _iso(k * DAY + 12 * 3600)} for k in range(201)]
    accs += [{"platform": "x", "account_id": f"b{k}", "handle": f"bot{k}{k}",
              "created_at": _iso(100 * DAY + 10 * 3600 + k * 600)} for k in range(6)]
    ws = open_ws(tmp_path, accs)
    det = CohortDetector(kind="creation", background_days=30).fit(ws)
    share = (6 / 207) / 59
    g = {r["evidence"]: r for r in det.groups_.to_pylist()}
    day = g["created:2020-04-10T00:00Z"]  # day 100
    assert day["size"] == 6 and day["shape"] == "a9"
    assert day["mu"] == pytest.approx(7 * share, rel=1e-6)
    c = next(c for c in range(2, 100) if stats.binom.sf(c - 1, 7, share) <= 1e-3)
    assert day["p_value"] == pytest.approx(stats.binom.sf(5, 7, share)
                                           / stats.binom.sf(c - 1, 7, share), rel=1e-6)
    e = det.edges_
    pair = e.filter(pc.and_(pc.equal(e["account_a"], "b0"), pc.equal(e["account_b"], "b1")))
    row = pair.to_pylist()[0]
    assert row["expected"] == pytest.approx(sum(g[x]["mu"] for x in row["evidence"]
                                                if x.startswith("created:")))
    assert row["p_value"] == pytest.approx(min(1.0, 2 * min(g[x]["p_value"] for x in
                                                            row["evidence"]
                                                            if x.startswith("created:"))))
    assert row["evidence"][-1] == "shape:a9"
    assert row["median_delta_s"] == 600.0
    # the daily accounts are their platform's own rate: never a burst of their stratum
    assert not any(r["shape"] == "none" for r in g.values())


# -- caps, placeholders, evidence, empty input -----------------------------------------------------
def test_band_cap_and_evidence(world: Workspace) -> None:
    det = CohortDetector(kind="creation", max_clique=6).fit(world)
    e = det.edges_.filter(_planted_pair(det.edges_))
    # 20 members, each paired with the next 3 in creation order: 17*3 + 2 + 1 pairs
    assert e.num_rows == 17 * 3 + 3
    assert det.stats_["n_capped"] >= 1
    assert det.stats_["capped"][0]["band"] == 3
    row = e.to_pylist()[0]
    assert det.evidence(row["account_a"], row["account_b"]) == row["evidence"]
    assert det.evidence(("x", row["account_b"]), ("x", row["account_a"])) == row["evidence"]
    one = CohortDetector(kind="creation", max_evidence=1).fit(world)
    r1 = one.edges_.filter(_planted_pair(one.edges_)).to_pylist()[0]
    assert len(r1["evidence"]) == 1
    assert one.evidence(r1["account_a"], r1["account_b"])[:1] == r1["evidence"]


def test_placeholder_times_ignored(tmp_path: Path) -> None:
    accs = make_accounts(2, n_planted=0, n_common_bio=0)[:500]
    for a in accs[:40]:
        a["created_at"] = _iso(0)  # a default creation time, not a sign-up burst
    ws = open_ws(tmp_path, accs)
    det = CohortDetector(kind="creation").fit(ws)
    assert det.stats_["placeholder_times"] == 40
    assert not (_accounts(det.edges_) & {a["account_id"] for a in accs[:40]})


def test_missing_creation_times(tmp_path: Path) -> None:
    """Persona edges of accounts without created_at fall back to their event times."""
    accs = make_accounts(3, n_background=100, n_planted=6, n_common_bio=0)
    for a in accs:
        a["created_at"] = ""
    ws = open_ws(tmp_path, accs)
    assert CohortDetector(kind="creation").fit(ws).edges_.num_rows == 0
    det = CohortDetector(kind="persona").fit(ws)
    e = det.edges_.filter(_planted_pair(det.edges_))
    assert e.num_rows == 15
    assert set(e["median_delta_s"].to_pylist()) == {0.0}
    assert pc.min(e["first_seen"]).as_py() >= T0 + timedelta(days=900)


@pytest.mark.parametrize("kind", ["creation", "persona"])
def test_no_accounts(tmp_path: Path, kind: str) -> None:
    ws = open_ws(tmp_path, make_accounts(4, n_background=30, n_planted=0), with_accounts=False)
    det = CohortDetector(kind=kind).fit(ws)
    assert det.edges_.num_rows == 0 and det.edges_.schema == EDGE_SCHEMA
    assert det.stats_["rows"] == 0 and "seconds" in det.stats_
    assert det.evidence("u00001", "u00002") == []
    check_detector(CohortDetector(kind=kind), ws)


def test_p_values_in_range(world: Workspace) -> None:
    for kind in KINDS:
        e = CohortDetector(kind=kind, alpha=0.3).fit(world).edges_
        p = e["p_value"]
        assert pc.min(p).as_py() > 0 and pc.max(p).as_py() <= 1
        assert not math.isnan(pc.sum(e["expected"]).as_py())


def test_max_p_leaves_out_hopeless_pairs_only(world: Workspace) -> None:
    """``max_p`` (set by ``lockstep detect`` to its alpha) drops pairs that cannot pass a cut
    at that level; the pairs kept and their p-values are unchanged, and ``pairs_tested``
    still counts every pair, so the false-discovery count is unchanged."""
    import pyarrow.compute as pc

    full = CohortDetector(kind="persona").fit(world)
    cut = CohortDetector(kind="persona", max_p=0.01).fit(world)
    want = full.edges_.filter(pc.less_equal(full.edges_["p_value"], 0.01))
    assert 0 < cut.edges_.num_rows == want.num_rows < full.edges_.num_rows
    key = lambda t: sorted(zip(t["account_a"].to_pylist(), t["account_b"].to_pylist(),  # noqa: E731
                               t["p_value"].to_pylist()))
    assert key(cut.edges_) == key(want)
    assert cut.stats_["pairs_tested"] == full.stats_["pairs_tested"]
