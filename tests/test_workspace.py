"""Workspace: schema version, layout readable without Lockstep, crash safety."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pytest

from conftest import snapshot, write
from lockstep.exceptions import SchemaVersionError, WorkspaceError
from lockstep.ingestion import ingest
from lockstep.workspace import MANIFEST, Workspace

HEADER = "platform,event_id,account_id,timestamp,urls\n"


def test_new_workspace_records_schema_version(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "w")
    m = json.loads((tmp_path / "w" / MANIFEST).read_text())
    assert m["schema_version"] == 2 and m["format"] == "lockstep-workspace"
    assert ws.files("events") == []


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    Workspace.open(tmp_path / "w")
    p = tmp_path / "w" / MANIFEST
    m = json.loads(p.read_text())
    m["schema_version"] = 99
    p.write_text(json.dumps(m))
    with pytest.raises(SchemaVersionError, match="schema version 99 is not supported"):
        Workspace.open(tmp_path / "w")


def test_not_a_workspace(tmp_path: Path) -> None:
    write(tmp_path / "d" / "something.txt", "x")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.open(tmp_path / "d")
    with pytest.raises(WorkspaceError, match="not a Lockstep workspace"):
        Workspace.open(tmp_path / "nothing", create=False)


def test_layout_is_plain_hive_parquet(ws: Workspace, tmp_path: Path) -> None:
    """What Spark does with spark.read.parquet(dir): discover ingest_id= partitions."""
    f = write(tmp_path / "events.csv", HEADER + "facebook,9007199254740993,a,1623881091,\n"
              "instagram,2,b,1623881092,https://x.com\n")
    first = ingest(ws, [f]).ingest_id
    second = ingest(ws, [write(tmp_path / "b" / "events.csv", HEADER + "x,3,c,1623881093,\n")]).ingest_id
    assert sorted(p.name for p in (ws.path / "events").iterdir()) == sorted([
        f"ingest_id={first}", f"ingest_id={second}"])
    table = ds.dataset(ws.path / "events", format="parquet", partitioning="hive").to_table()
    assert table.schema.field("event_id").type == pa.string()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    got = sorted(zip(table["platform"].to_pylist(), table["event_id"].to_pylist(),
                     table["ingest_id"].to_pylist()))
    assert got == [("facebook", "9007199254740993", first), ("instagram", "2", first),
                   ("x", "3", second)]
    urls = ds.dataset(ws.path / "url_map", format="parquet", partitioning="hive").to_table()
    assert urls.select(["url", "url_key", "domain", "ingest_id"]).to_pylist() == [
        {"url": "https://x.com", "url_key": "https://x.com", "domain": "x.com", "ingest_id": first}]


def test_crash_between_move_and_manifest_is_rolled_back(ws: Workspace, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "a" / "events.csv", HEADER + "x,1,a,1623881091,\n")
    ingest(ws, [f])
    before = snapshot(ws.path)
    g = write(tmp_path / "b" / "events.csv", HEADER + "x,2,a,1623881091,\n")

    def die(self: Workspace, manifest: object = None) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Workspace, "_write_manifest", die)
    with pytest.raises(KeyboardInterrupt, match="interrupted while ingesting; nothing from "
                       "this file was loaded; the workspace is unchanged"):
        ingest(ws, [g])
    monkeypatch.undo()
    # the files moved in before the manifest failed are taken out again at once
    assert snapshot(ws.path) == before
    con = Workspace.open(ws.path).connect()
    assert con.execute("SELECT event_id FROM events").fetchall() == [("1",)]


def test_files_a_killed_writer_left_are_removed_on_open(ws: Workspace, tmp_path: Path) -> None:
    """What kill -9 between moving files and replacing the manifest leaves behind."""
    ingest(ws, [write(tmp_path / "a" / "events.csv", HEADER + "x,1,a,1623881091,\n")])
    before = snapshot(ws.path)
    orphan = ws.path / "events" / "ingest_id=killed" / "part-0.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"PAR1")
    (ws.path / ".staging" / "x").mkdir(parents=True)
    (ws.path / f".{MANIFEST}.abc.tmp").write_text("{")
    Workspace.open(ws.path)
    assert snapshot(ws.path) == before and not (ws.path / ".staging").exists()


def _big_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    ids = np.arange(n).astype(str)
    t = pa.table({"platform": pa.array(np.full(n, "facebook")), "event_id": pa.array(ids),
                  "account_id": pa.array(np.char.add("u", rng.integers(0, 50_000, n).astype(str))),
                  "timestamp": pa.array((1_600_000_000 + np.arange(n)).astype(str)),
                  "urls": pa.array(np.char.add("https://www.example.com/a/?utm_source=1&p=",
                                               rng.integers(0, 100_000, n).astype(str)))})
    pacsv.write_csv(t, path)
    return path


@pytest.mark.slow
def test_killed_ingest_leaves_workspace_exactly_as_before(ws: Workspace, tmp_path: Path) -> None:
    small = write(tmp_path / "a" / "events.csv", HEADER + "facebook,x1,a,1623881091,\n")
    ingest(ws, [small])
    before = snapshot(ws.path)
    big = _big_csv(tmp_path / "events.csv", 1_500_000)
    env = {**os.environ, "LOCKSTEP_WORKSPACE": str(ws.path)}
    killed_at = []
    finished = False
    for delay in (0.5, 1.0, 2.0):
        proc = subprocess.Popen([sys.executable, "-m", "lockstep", "ingest", str(big)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is not None:  # done before the kill (a fast machine): so are later ones
            finished = proc.wait() == 0
            break
        proc.send_signal(signal.SIGKILL)
        killed_at.append(delay)
        proc.wait()
        reopened = Workspace.open(ws.path)
        assert snapshot(ws.path) == before, f"workspace changed by an ingest killed after {delay}s"
        con = reopened.connect()
        assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)
        con.close()
    assert killed_at, "the ingest finished before any kill: make the file bigger"
    # and an ingest that is allowed to finish still works afterwards
    if not finished:
        assert ingest(Workspace.open(ws.path), [big]).files[0].rows_added == 1_500_000
    con = Workspace.open(ws.path).connect()
    assert con.execute("SELECT count(*) FROM events").fetchone() == (1_500_001,)
    # every URL mapped once, tracking parameter and www. gone
    n_urls = con.execute("SELECT count(DISTINCT u) FROM (SELECT unnest(urls) u FROM events)").fetchone()
    assert con.execute("SELECT count(*) FROM url_map WHERE url_key LIKE 'https://example.com/a?p=%'"
                       ).fetchone() == n_urls
    con.close()


def test_one_writer_at_a_time(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKSTEP_LOCK_TIMEOUT", "0.3")
    with ws.lock():
        started = time.monotonic()
        with pytest.raises(WorkspaceError, match="another Lockstep process; gave up after "
                           "waiting 0.3 s .set LOCKSTEP_LOCK_TIMEOUT"):
            with Workspace(ws.path, ws.manifest).lock():
                pass
        assert time.monotonic() - started >= 0.3  # it waited before giving up
        with ws.lock():  # re-entrant in the thread that holds it
            pass


def test_a_writer_waits_for_the_lock(ws: Workspace, tmp_path: Path) -> None:
    """A second writer queues behind the first instead of failing."""
    import threading

    f = write(tmp_path / "a" / "events.csv", HEADER + "x,1,a,1623881091,\n")
    other = Workspace.open(ws.path)
    done: list[int] = []
    with ws.lock():
        t = threading.Thread(target=lambda: done.append(ingest(other, [f]).rows_added))
        t.start()
        time.sleep(0.3)
        assert not done  # still waiting
    t.join(30)
    assert done == [1]


def test_opening_while_another_process_writes_leaves_its_staging(ws: Workspace) -> None:
    live = ws.staging_dir()
    (live / "part.parquet").write_bytes(b"in progress")
    with ws.lock():  # stands for an ingest running in another process
        Workspace.open(ws.path)
    assert (live / "part.parquet").exists()
    Workspace.open(ws.path)  # no writer any more: leftovers are cleaned
    assert not live.exists()
