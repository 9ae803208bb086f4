"""Tests of the synthetic world generator (small scale only; about 20 s in all)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lockstep.simulate import SimulationSummary, simulate

TABLES = ("events", "accounts", "sessions", "roles", "truth")
# Columns of Lockstep generic format v1 (written out here on purpose, not imported).
REQUIRED = {
    "events": ["platform", "event_id", "account_id", "timestamp", "action", "text", "urls",
               "hashtags", "mentions", "reposted_id", "replied_id", "image_hashes", "venue_id"],
    "accounts": ["platform", "account_id", "kind", "handle", "display_name", "bio", "created_at",
                 "claimed_country", "followers", "verified"],
    "sessions": ["platform", "account_id", "timestamp", "ip", "device_id", "user_agent", "country"],
    "roles": ["platform", "account_id", "asset_id", "role", "since"],
    "truth": ["platform", "account_id", "network_id", "network_kind", "operator_id"],
}
ID_COLUMNS = {
    "events": ["event_id", "account_id", "reposted_id", "replied_id", "venue_id"],
    "accounts": ["account_id"],
    "sessions": ["account_id"],
    "roles": ["account_id", "asset_id"],
    "truth": ["account_id", "operator_id"],
}
MULTI = ("urls", "hashtags", "mentions", "image_hashes")
SEED = 7


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, SimulationSummary]]:
    base = tmp_path_factory.mktemp("worlds")
    out: dict[str, tuple[Path, SimulationSummary]] = {}
    calls: list[tuple[str, float]] = []
    for name, seed, fmt in (("pq", SEED, "parquet"), ("pq_again", SEED, "parquet"),
                            ("pq_other", SEED + 1, "parquet"), ("csv", SEED, "csv")):
        d = base / name
        s = simulate(d, scale="small", seed=seed, fmt=fmt,
                     progress=(lambda st, f: calls.append((st, f))) if name == "pq" else None)
        out[name] = (d, s)
    out["progress"] = calls  # type: ignore[assignment]
    return out


@pytest.fixture(scope="module")
def tables(runs: dict) -> dict[str, pa.Table]:
    d = runs["pq"][0]
    return {t: pq.read_table(d / f"{t}.parquet") for t in (*TABLES, "networks")}


def _keys(table: pa.Table, col: str = "account_id") -> set[tuple[str, str]]:
    return set(zip(table["platform"].to_pylist(), table[col].to_pylist()))


def test_same_seed_gives_identical_files(runs: dict) -> None:
    a, b = runs["pq"][0], runs["pq_again"][0]
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {f"{t}.parquet" for t in TABLES} <= set(names)
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


def test_different_seeds_give_different_worlds(runs: dict) -> None:
    a, c = runs["pq"][0], runs["pq_other"][0]
    for t in ("events", "accounts", "sessions", "truth"):
        assert (a / f"{t}.parquet").read_bytes() != (c / f"{t}.parquet").read_bytes(), t
    ea = pq.read_table(a / "events.parquet", columns=["text"])["text"].to_pylist()[:200]
    ec = pq.read_table(c / "events.parquet", columns=["text"])["text"].to_pylist()[:200]
    assert ea != ec


def test_required_columns_present(runs: dict) -> None:
    for run in ("pq", "csv"):
        d = runs[run][0]
        for t, cols in REQUIRED.items():
            path = d / f"{t}.{'parquet' if run == 'pq' else 'csv'}"
            names = pq.read_schema(path).names if run == "pq" else pacsv.read_csv(path).column_names
            missing = [c for c in cols if c not in names]
            assert not missing, (t, missing)


def test_ids_are_strings(runs: dict, tables: dict) -> None:
    for t, cols in ID_COLUMNS.items():
        for c in cols:
            assert pa.types.is_string(tables[t].schema.field(c).type), (t, c)
    # Event ids exceed 2**53: a reader that parses them as floats would corrupt them.
    big = [int(x) for x in tables["events"]["event_id"].to_pylist()[:1000]]
    assert max(big) > 2**53
    # In CSV, ids read back as text must equal the Parquet ids exactly.
    csv_ids = pacsv.read_csv(runs["csv"][0] / "events.csv",
                             convert_options=pacsv.ConvertOptions(column_types={"event_id": pa.string()}))
    assert csv_ids["event_id"].to_pylist() == tables["events"]["event_id"].to_pylist()


def test_event_id_unique_per_platform(tables: dict) -> None:
    ev = tables["events"]
    keys = list(zip(ev["platform"].to_pylist(), ev["event_id"].to_pylist()))
    assert len(keys) == len(set(keys))
    assert set(ev["platform"].to_pylist()) >= {"facebook", "instagram"}


def test_every_referenced_account_exists(tables: dict) -> None:
    acc = _keys(tables["accounts"])
    ev = tables["events"]
    assert _keys(ev) <= acc
    venues = {(p, v) for p, v in zip(ev["platform"].to_pylist(), ev["venue_id"].to_pylist()) if v}
    assert venues and venues <= acc
    mentions = {(p, m) for p, ms in zip(ev["platform"].to_pylist(), ev["mentions"].to_pylist()) for m in ms}
    assert mentions and mentions <= acc
    assert _keys(tables["truth"]) <= acc
    ops = {(p, o) for p, o in zip(tables["truth"]["platform"].to_pylist(),
                                   tables["truth"]["operator_id"].to_pylist()) if o}
    assert ops and ops <= acc
    assert _keys(tables["sessions"]) <= acc
    assert _keys(tables["roles"]) <= acc and _keys(tables["roles"], "asset_id") <= acc
    acc_t = tables["accounts"]
    kinds = dict(zip(zip(acc_t["platform"].to_pylist(), acc_t["account_id"].to_pylist()),
                     acc_t["kind"].to_pylist()))
    assert {kinds[k] for k in _keys(tables["roles"], "asset_id")} <= {"page", "group"}


def test_reposts_and_replies_point_to_earlier_events(tables: dict) -> None:
    ev = tables["events"]
    when = dict(zip(zip(ev["platform"].to_pylist(), ev["event_id"].to_pylist()),
                    ev["timestamp"].cast(pa.int64()).to_pylist()))
    n = 0
    for col in ("reposted_id", "replied_id"):
        for p, ref, t in zip(ev["platform"].to_pylist(), ev[col].to_pylist(),
                             ev["timestamp"].cast(pa.int64()).to_pylist()):
            if ref:
                assert when[(p, ref)] < t
                n += 1
    assert n > 10_000


def test_all_network_kinds_and_tiers_present(tables: dict) -> None:
    tr = tables["truth"]
    kinds = Counter(tr["network_kind"].to_pylist())
    assert set(kinds) == {"cib", "spam", "authentic"}
    cib = pc.equal(tr["network_kind"], "cib")
    assert set(tr.filter(cib)["tier"].to_pylist()) == {1, 2, 3}
    assert set(tr["role"].to_pylist()) == {"operator", "fake", "page", "group", "member", "spam_bot"}
    assert tr.filter(pc.invert(cib))["tier"].null_count == tr.filter(pc.invert(cib)).num_rows
    nets = tables["networks"]
    assert Counter(nets["network_kind"].to_pylist()) == {"cib": 12, "spam": 4, "authentic": 8}


def test_operator_ids_name_operators_of_the_same_network(tables: dict) -> None:
    tr = tables["truth"].to_pylist()
    operators = {(r["platform"], r["account_id"]): r["network_id"] for r in tr if r["role"] == "operator"}
    fakes = [r for r in tr if r["role"] in ("fake", "page") and r["network_kind"] == "cib"]
    assert fakes
    for r in fakes:
        assert operators[(r["platform"], r["operator_id"])] == r["network_id"]
    for p, a in operators:
        assert next(r for r in tr if r["account_id"] == a and r["platform"] == p)["operator_id"] == a


def test_viral_post_with_thousand_reshares(tables: dict) -> None:
    ev = tables["events"]
    shares = Counter(x for x in ev["reposted_id"].to_pylist() if x)
    assert shares.most_common(1)[0][1] >= 1000


def test_carrier_nat_address_shared_by_many(tables: dict) -> None:
    s = tables["sessions"]
    per_ip: dict[str, set[str]] = defaultdict(set)
    for ip, a in zip(s["ip"].to_pylist(), s["account_id"].to_pylist()):
        per_ip[ip].add(a)
    assert max(len(v) for v in per_ip.values()) >= 500
    # Households: a device used by 2-4 ordinary accounts.
    per_dev: dict[str, set[str]] = defaultdict(set)
    for d, a in zip(s["device_id"].to_pylist(), s["account_id"].to_pylist()):
        per_dev[d].add(a)
    assert any(2 <= len(v) <= 4 for v in per_dev.values())


def test_operator_slip_in_a_tier1_network(tables: dict) -> None:
    tr = tables["truth"].to_pylist()
    s = tables["sessions"]
    sessions: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p, a, ip, d in zip(s["platform"].to_pylist(), s["account_id"].to_pylist(),
                           s["ip"].to_pylist(), s["device_id"].to_pylist()):
        sessions[(p, a)].append((ip, d))
    slipped = set()
    for net in {r["network_id"] for r in tr if r["tier"] == 1}:
        members = [r for r in tr if r["network_id"] == net]
        fake_ips, fake_devs = set(), set()
        for r in members:
            if r["role"] == "fake":
                for ip, d in sessions[(r["platform"], r["account_id"])]:
                    fake_ips.add(ip)
                    fake_devs.add(d)
        for r in members:
            if r["role"] == "operator":
                if any(ip in fake_ips or d in fake_devs for ip, d in sessions[(r["platform"], r["account_id"])]):
                    slipped.add(net)
    assert slipped


def test_csv_multivalued_fields_are_whitespace_separated(runs: dict, tables: dict) -> None:
    strings = {c: pa.string() for c in REQUIRED["events"]}
    csv = pacsv.read_csv(runs["csv"][0] / "events.csv",
                         convert_options=pacsv.ConvertOptions(column_types=strings, strings_can_be_null=True))
    assert csv.num_rows == tables["events"].num_rows
    for col in MULTI:
        text = csv[col].to_pylist()
        lists = tables["events"][col].to_pylist()
        assert any(len(x) >= 2 for x in lists), col
        for t, lst in zip(text, lists):
            assert (t.split() if t else []) == lst
    assert csv["text"].to_pylist()[:5000] == tables["events"]["text"].to_pylist()[:5000]


def test_timestamps(runs: dict, tables: dict) -> None:
    ts_type = tables["events"].schema.field("timestamp").type
    assert pa.types.is_timestamp(ts_type) and ts_type.tz == "UTC"
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    for t, col in (("events", "timestamp"), ("sessions", "timestamp"), ("accounts", "created_at")):
        vals = pacsv.read_csv(runs["csv"][0] / f"{t}.csv",
                              convert_options=pacsv.ConvertOptions(column_types={col: pa.string()}))[col]
        assert all(iso.match(v) for v in vals.to_pylist()[:20_000]), t
    ev = tables["events"]["timestamp"].cast(pa.timestamp("s", tz="UTC")).cast(pa.int64())
    assert pc.min(ev).as_py() >= 1_772_323_200 and pc.max(ev).as_py() < 1_772_323_200 + 30 * 86_400


def test_urls_are_written_in_many_spellings(tables: dict) -> None:
    urls = [u for lst in tables["events"]["urls"].to_pylist() for u in lst]
    assert any("utm_" in u for u in urls) and any("fbclid=" in u for u in urls)
    assert any(u.startswith("http://") for u in urls) and any("://www." in u for u in urls)
    assert any(re.match(r"https?://[^/]*[A-Z]", u) for u in urls)


def test_cib_assets_pose_as_target_country(tables: dict) -> None:
    tr = {(r["platform"], r["account_id"]): r for r in tables["truth"].to_pylist()}
    for r in tables["accounts"].to_pylist():
        t = tr.get((r["platform"], r["account_id"]))
        if t and t["network_kind"] == "cib" and t["role"] == "page":
            assert r["claimed_country"] == t["target_country"]


def test_summary_and_progress(runs: dict) -> None:
    s = runs["pq"][1]
    assert 150_000 < s.events < 300_000
    assert s.networks_by_kind == {"cib": 12, "spam": 4, "authentic": 8}
    assert s.cib_by_tier == {1: 4, 2: 4, 3: 4}
    assert set(s.paths) >= set(TABLES)
    fractions = [f for _, f in runs["progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len({st for st, _ in runs["progress"]}) >= 8


def test_refuses_non_empty_output_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(ValueError):
        simulate(tmp_path, scale="small")
    with pytest.raises(ValueError):
        simulate(tmp_path / "a", scale="huge")
    with pytest.raises(ValueError):
        simulate(tmp_path / "b", fmt="xlsx")
    assert (tmp_path / "x.txt").read_text() == "keep me"
