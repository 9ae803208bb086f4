"""A schema-1 workspace (platform partitions, url_keys per event, a hosts table) is upgraded in
place to schema 2 and then reads exactly as if its files had been ingested by this Lockstep."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import write
from lockstep.exceptions import SchemaVersionError
from lockstep.ingestion import ingest
from lockstep.upgrade import upgrade_workspace
from lockstep.urls import normalize_url
from lockstep.workspace import MANIFEST, Workspace

_V1_EVENTS = ("event_id", "account_id", "ts", "ts_precision", "action", "text", "urls",
              "url_keys", "domains", "hashtags", "mentions", "reposted_id", "replied_id",
              "image_hashes", "venue_id", "object_ids", "client_ts", "extra", "ingest_id")


def _v2_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.open(tmp_path / "v2")
    a = write(tmp_path / "a" / "events.csv", "platform,event_id,account_id,timestamp,urls,hashtags\n"
              "facebook,1,u1,1623881091,https://www.ex.com/a/?utm_source=x https://b.org,Tag\n"
              "instagram,2,u2,1623881092,https://ex.com/a,\n"
              "facebook,3,u1,1623881093,,x\n")
    write(tmp_path / "b" / "events.csv", "platform,event_id,account_id,timestamp,urls\n"
              "facebook,4,u3,1623881094,https://ex.com/a https://new.net/p\n")
    write(tmp_path / "b" / "accounts.csv", "platform,account_id,kind\nfacebook,u3,page\n")
    ingest(ws, [a])
    ingest(ws, [tmp_path / "b"])
    return Workspace.open(ws.path)


def _write_v1(v2: Workspace, dest: Path) -> None:
    """What the schema-1 writer left: <table>/platform=<p>/<ingest>-<n>.parquet with an
    ingest_id column, url_keys on events, a hosts table, a version-1 manifest."""
    con = v2.connect()
    files: dict[str, list[str]] = {}
    by_record: dict[tuple[str, str], list[str]] = {}
    for ingest_id in sorted({r["ingest_id"] for r in v2.ingests}):
        for table in ("events", "accounts"):
            t = con.sql(f"SELECT * FROM {table} WHERE ingest_id = '{ingest_id}'").to_arrow_table()
            if table == "events":
                keys = [None if u is None else [normalize_url(x) for x in u]
                        for u in t.column("urls").to_pylist()]
                t = t.append_column("url_keys", pa.array(keys, pa.list_(pa.string())))
                cols = list(_V1_EVENTS)
            else:
                cols = [c for c in t.column_names if c != "platform"]
            for p in sorted(set(t.column("platform").to_pylist())):
                part = t.filter(pc.equal(t.column("platform"), p)).select(cols)
                rel = f"{table}/platform={p}/{ingest_id}-0.parquet"
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(part, dest / rel)
                files.setdefault(table, []).append(rel)
                by_record.setdefault((ingest_id, table), []).append(rel)
        hosts = con.sql("SELECT DISTINCT host, domain, ingest_id FROM url_map WHERE "
                        f"ingest_id = '{ingest_id}' AND host IS NOT NULL").to_arrow_table()
        if hosts.num_rows:
            rel = f"hosts/{ingest_id}-0.parquet"
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(hosts, dest / rel)
            files.setdefault("hosts", []).append(rel)
            by_record[(ingest_id, "hosts")] = [rel]
    con.close()
    records = []
    for rec in v2.ingests:
        rec_files = {rec["table"]: by_record.get((rec["ingest_id"], rec["table"]), [])}
        if rec["table"] == "events" and (rec["ingest_id"], "hosts") in by_record:
            rec_files["hosts"] = by_record[(rec["ingest_id"], "hosts")]
        records.append({**rec, "files": rec_files})
    manifest = {"format": "lockstep-workspace", "schema_version": 1, "created": "2026-11-01",
                "files": {t: files.get(t, []) for t in ("events", "accounts", "sessions",
                                                        "roles", "truth", "hosts")},
                "ingests": records}
    (dest / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def _dump(ws: Workspace) -> dict[str, list[tuple[object, ...]]]:
    con = ws.connect()
    got = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
           for t in ("events", "accounts", "objects", "url_map")}
    con.close()
    return got


def test_schema_1_upgrades_to_what_ingest_writes(tmp_path: Path) -> None:
    v2 = _v2_workspace(tmp_path)
    old = tmp_path / "v1"
    _write_v1(v2, old)
    with pytest.raises(SchemaVersionError, match="upgrade"):
        Workspace.open(old)
    rep = upgrade_workspace(old)
    assert (rep.from_version, rep.to_version) == (1, 2)
    assert rep.rows["events"] == 4 and rep.rows["accounts"] == 1 and rep.rows["url_map"] == 4
    ws = Workspace.open(old)
    assert _dump(ws) == _dump(v2)  # rows, ingest ids, objects, and each URL in its first ingest
    assert not (old / "hosts").exists()
    assert not list(old.rglob("platform=*"))
    assert sorted(p.name for p in (old / "events").iterdir()) == sorted(
        f"ingest_id={r['ingest_id']}" for r in v2.ingests if r["table"] == "events")
    logged = [f for r in ws.ingests for fs in r["files"].values() for f in fs]
    assert sorted(logged) == sorted(f for fs in ws.manifest["files"].values() for f in fs)
    assert ws.manifest["upgraded"][0]["from"] == 1
    again = upgrade_workspace(old)  # already current: nothing to do
    assert (again.from_version, again.to_version) == (2, 2)


def test_a_killed_upgrade_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v2 = _v2_workspace(tmp_path)
    old = tmp_path / "v1"
    _write_v1(v2, old)

    def die(self: Workspace) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Workspace, "_write_manifest", die)
    with pytest.raises(KeyboardInterrupt):
        upgrade_workspace(old)
    monkeypatch.undo()
    assert json.loads((old / MANIFEST).read_text())["schema_version"] == 1
    upgrade_workspace(old)  # the half-written files of the first attempt are removed first
    assert _dump(Workspace.open(old)) == _dump(v2)


def test_upgrade_command(tmp_path: Path) -> None:
    old = tmp_path / "v1"
    _write_v1(_v2_workspace(tmp_path), old)
    env = {**{k: v for k, v in os.environ.items() if k != "LOCKSTEP_WORKSPACE"}, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "lockstep", "--workspace", str(old), "stats"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode != 0 and "upgrade" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lockstep", "--workspace", str(old), "upgrade"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "from schema version 1 to 2" in r.stdout and "events 4" in r.stdout
