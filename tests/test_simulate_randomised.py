"""Tests of the randomised worlds (``simulate(population="randomised")``): every seed draws its
own population, with the ordinary confounders of ``shared/reference/confounders.md``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from lockstep.simulate import draw_style, simulate
from lockstep.simulate.config import get_scale

SEED, OTHER = 101, 102
TABLES = ("events", "accounts", "sessions", "roles", "truth", "networks")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("randomised")
    out = {}
    for name, seed in (("a", SEED), ("again", SEED), ("b", OTHER)):
        simulate(base / name, scale="small", seed=seed, population="randomised")
        out[name] = base / name
    return out


@pytest.fixture(scope="module")
def con(worlds: dict[str, Path]) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for t in TABLES:
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{worlds['a'] / t}.parquet')")
    # accounts that are in no planted network
    c.execute("CREATE VIEW ordinary AS SELECT platform, account_id FROM accounts "
              "WHERE (platform, account_id) NOT IN (SELECT platform, account_id FROM truth)")
    return c


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_different_seeds_draw_different_styles(worlds: dict[str, Path]) -> None:
    a = json.loads((worlds["a"] / "population.json").read_text())
    b = json.loads((worlds["b"] / "population.json").read_text())
    assert a["population"] == "randomised" and a["style"]["seed"] == SEED
    assert a["style"] != b["style"]
    differing = [k for k in a["style"] if a["style"][k] != b["style"][k]]
    assert len(differing) > 20
    assert a["counts"]["twin_accounts"] > 0 and "fan_events" in a["counts"]
    cfg = get_scale("small")
    assert draw_style(SEED, cfg) == draw_style(SEED, cfg) != draw_style(OTHER, cfg)


def test_same_seed_is_deterministic(worlds: dict[str, Path]) -> None:
    assert _digest(worlds["a"]) == _digest(worlds["again"])
    assert _digest(worlds["a"]) != _digest(worlds["b"])


def test_standard_population_unchanged(tmp_path: Path) -> None:
    simulate(tmp_path / "default", scale="tiny", seed=5)
    simulate(tmp_path / "standard", scale="tiny", seed=5, population="standard")
    assert _digest(tmp_path / "default") == _digest(tmp_path / "standard")
    assert not (tmp_path / "standard" / "population.json").exists()
    with pytest.raises(ValueError, match="population"):
        simulate(tmp_path / "bad", scale="tiny", seed=5, population="weird")


def test_size_is_near_target(con: duckdb.DuckDBPyConnection) -> None:
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    assert 150_000 < n < 300_000


def test_twins_share_devices_used_by_them_alone(con: duckdb.DuckDBPyConnection) -> None:
    # a device used by exactly two accounts, one on Facebook and one on Instagram, with the
    # same display name, and nobody else: one person's own phone or laptop
    n = con.execute("""
        WITH d AS (SELECT device_id, list(DISTINCT platform) AS plats,
                          count(DISTINCT (platform, account_id)) AS n_acc,
                          list(DISTINCT a.display_name) AS names
                   FROM sessions s JOIN accounts a USING (platform, account_id)
                   GROUP BY device_id)
        SELECT count(*) FROM d WHERE n_acc = 2 AND len(names) = 1
          AND list_sort(plats) = ['facebook', 'instagram']""").fetchone()[0]
    assert n >= 200
    # and those twins are ordinary: almost none of them is in truth
    in_truth = con.execute("""
        WITH d AS (SELECT device_id FROM sessions GROUP BY device_id
                   HAVING count(DISTINCT (platform, account_id)) = 2
                      AND count(DISTINCT platform) = 2)
        SELECT avg(CASE WHEN (platform, account_id) IN (SELECT platform, account_id FROM truth)
                        THEN 1 ELSE 0 END)
        FROM (SELECT DISTINCT platform, account_id FROM sessions WHERE device_id IN (SELECT * FROM d))
        """).fetchone()[0]
    assert in_truth < 0.05


def test_generic_bios_held_by_thousands(con: duckdb.DuckDBPyConnection) -> None:
    top = con.execute("SELECT count(*) AS n FROM accounts WHERE bio IS NOT NULL GROUP BY bio "
                  "ORDER BY n DESC LIMIT 1").fetchone()[0]
    assert top >= 1_000


def test_household_tablets_and_evening_signups(con: duckdb.DuckDBPyConnection) -> None:
    # a device shared by 3 to 5 accounts with different names (a family tablet)
    n = con.execute("""SELECT count(*) FROM (
        SELECT device_id FROM sessions s JOIN accounts a USING (platform, account_id)
        GROUP BY device_id HAVING count(DISTINCT a.display_name) BETWEEN 3 AND 5
           AND count(DISTINCT (platform, account_id)) <= 8)""").fetchone()[0]
    assert n >= 20
    # ordinary accounts created within an hour of each other sharing a home address
    n = con.execute("""
        WITH o AS (SELECT a.platform, a.account_id, a.created_at FROM accounts a
                   JOIN ordinary USING (platform, account_id)),
        ip AS (SELECT DISTINCT platform, account_id, ip FROM sessions)
        SELECT count(*) FROM o x JOIN ip i1 ON (x.platform, x.account_id) = (i1.platform, i1.account_id)
        JOIN ip i2 ON i1.ip = i2.ip AND (i2.platform, i2.account_id) > (i1.platform, i1.account_id)
        JOIN o y ON (y.platform, y.account_id) = (i2.platform, i2.account_id)
        WHERE abs(epoch(x.created_at) - epoch(y.created_at)) < 3600""").fetchone()[0]
    assert n >= 50


def test_vpn_exits_shared_by_many_ordinary_people(con: duckdb.DuckDBPyConnection) -> None:
    n = con.execute("""SELECT max(k) FROM (
        SELECT ip, count(DISTINCT (s.platform, s.account_id)) AS k FROM sessions s
        JOIN ordinary USING (platform, account_id) WHERE s.country IN ('NL', 'SG')
        GROUP BY ip)""").fetchone()[0]
    assert n >= 50


def test_crowds_fans_memes_live_events(con: duckdb.DuckDBPyConnection) -> None:
    # fans: ordinary people answering >= 5 posts of one page
    fans = con.execute("""
        WITH p AS (SELECT e.platform, e.event_id, e.account_id AS page FROM events e
                   JOIN accounts a USING (platform, account_id) WHERE a.kind = 'page'),
        ans AS (SELECT e.platform, e.account_id, p.page FROM events e
                JOIN p ON e.platform = p.platform AND coalesce(e.reposted_id, e.replied_id) = p.event_id)
        SELECT count(*) FROM (SELECT platform, account_id, page FROM ans
                              JOIN ordinary USING (platform, account_id)
                              GROUP BY ALL HAVING count(*) >= 5)""").fetchone()[0]
    assert fans >= 200
    meme = con.execute("""SELECT max(k) FROM (SELECT h, count(DISTINCT account_id) AS k
                      FROM (SELECT account_id, unnest(image_hashes) AS h FROM events) GROUP BY h)""").fetchone()[0]
    assert meme >= 50
    live = con.execute("""SELECT max(k) FROM (
        SELECT h, date_trunc('hour', timestamp) AS t, count(DISTINCT account_id) AS k
        FROM (SELECT account_id, timestamp, unnest(hashtags) AS h FROM events) GROUP BY ALL)""").fetchone()[0]
    assert live >= 100


def test_desks_agencies_and_truth(con: duckdb.DuckDBPyConnection) -> None:
    kinds = {r[0] for r in con.execute("SELECT DISTINCT network_kind FROM truth").fetchall()}
    assert kinds == {"cib", "spam", "authentic"}
    desks = con.execute("SELECT count(*) FROM networks WHERE theme = 'social desk'").fetchone()[0]
    assert desks >= 1
    # an agency: an ordinary person holding roles on >= 4 pages none of which is planted
    n = con.execute("""SELECT count(*) FROM (
        SELECT r.platform, r.account_id FROM roles r JOIN ordinary o USING (platform, account_id)
        WHERE (r.platform, r.asset_id) NOT IN (SELECT platform, account_id FROM truth)
        GROUP BY ALL HAVING count(DISTINCT asset_id) >= 4)""").fetchone()[0]
    assert n >= 1


def test_cli_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lockstep.cli import app

    r = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "w"), "--scale", "tiny",
                                 "--seed", "3", "--population", "randomised"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "w" / "population.json").read_text())["style"]["seed"] == 3
