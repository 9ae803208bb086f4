"""One write path (issue 13): writers queue on the lock, re-read the manifest under it, and
commit one ingest call whole; stale handles, refused files, Ctrl-C and a full disk never cost
or half-load rows; a read-only workspace can be read."""
from __future__ import annotations

import csv
import errno
import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

import lockstep
from conftest import snapshot, write
from lockstep.exceptions import (BadInputError, DiskFullError, Interrupted, LockstepError,
                                 WorkspaceError)
from lockstep.ingestion import ingest
from lockstep.workspace import Workspace

HEADER = "platform,event_id,account_id,timestamp,urls\n"
FIXTURES = Path(__file__).parent / "fixtures"


def events_csv(path: Path, ids: list[str], url: str = "") -> Path:
    return write(path, HEADER + "".join(f"x,{i},a{n % 3},{1623881091 + n},{url}\n"
                                        for n, i in enumerate(ids)))


def count(ws: Workspace, table: str = "events") -> int:
    con = ws.connect()
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def cli(*args: str, ws: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "LOCKSTEP_LOCK_TIMEOUT": "120"}
    env.pop("LOCKSTEP_WORKSPACE", None)
    return subprocess.Popen([sys.executable, "-m", "lockstep", "-w", str(ws), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def assert_consistent(path: Path) -> None:
    """Every listed file exists and every Parquet file present is listed."""
    ws = Workspace.open(path)
    listed = {f for fs in ws.manifest["files"].values() for f in fs}
    present = {p.relative_to(path).as_posix() for p in path.rglob("*.parquet")
               if not p.relative_to(path).parts[0] in ("runs", ".staging")}
    assert listed == present


# -- item 1: two writers, stale handles ---------------------------------------------------
def test_a_stale_handle_keeps_what_another_process_committed(tmp_path: Path) -> None:
    """The audit's repro: API ingest, CLI ingest from a subprocess, API ingest again."""
    w = tmp_path / "w"
    one = events_csv(tmp_path / "1" / "one.csv", ["1a", "1b"])
    two = events_csv(tmp_path / "2" / "two.csv", ["2a"])
    three = events_csv(tmp_path / "3" / "three.csv", ["3a"])
    ws = lockstep.open_workspace(w)
    lockstep.ingest(ws, [one])
    proc = cli("ingest", str(two), ws=w)
    assert proc.wait(120) == 0, proc.stderr.read()  # type: ignore[union-attr]
    lockstep.ingest(ws, [three])
    assert lockstep.workspace_stats(ws).tables["events"] == {"x": 4}
    assert count(Workspace.open(w)) == 4  # and the next open deletes nothing
    assert_consistent(w)


def test_a_stale_handle_reads_new_commits_and_recovers_nothing_live(tmp_path: Path) -> None:
    w = tmp_path / "w"
    stale = Workspace.open(w)
    other = Workspace.open(w)
    ingest(other, [events_csv(tmp_path / "a.csv", ["1", "2"])])
    assert count(stale) == 2  # it re-reads the manifest that changed
    stale2 = Workspace(w, dict(stale.manifest))
    stale2.manifest = {**stale2.manifest, "files": {t: [] for t in stale2.manifest["files"]}}
    stale2._recover()  # a handle that still believes the workspace empty
    assert count(Workspace.open(w)) == 2
    assert_consistent(w)


def test_a_snapshot_handle_stays_on_its_manifest(tmp_path: Path) -> None:
    w = tmp_path / "w"
    ws = Workspace.open(w)
    ingest(ws, [events_csv(tmp_path / "a.csv", ["1"])])
    pinned = ws.snapshot()
    ingest(Workspace.open(w), [events_csv(tmp_path / "b.csv", ["2"])])
    assert (count(pinned), count(ws)) == (1, 2)


def _round_files(tmp_path: Path, r: int) -> list[Path]:
    # each writer brings its own rows and one row every writer shares (stored once)
    return [events_csv(tmp_path / f"r{r}" / f"w{i}.csv",
                       [f"r{r}w{i}-{k}" for k in range(3 + i)] + ["shared"],
                       url=f"https://example.com/{i}")
            for i in range(4)]


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """Four writers at once (two CLI processes, two API threads, one of them on a handle
    opened before everything), a few rounds, starting on a workspace not yet created."""
    w = tmp_path / "ws"
    shared: list[Workspace] = []
    expected = 1  # "shared"
    for r in range(3):
        files = _round_files(tmp_path, r)
        expected += sum(3 + i for i in range(4))
        procs = [cli("ingest", str(f), ws=w) for f in files[:2]]
        errors: list[BaseException] = []

        def api(f: Path, use_shared: bool) -> None:
            try:
                if use_shared:
                    if not shared:
                        shared.append(lockstep.open_workspace(w))
                    handle = shared[0]
                else:
                    handle = lockstep.open_workspace(w)
                lockstep.ingest(handle, [f])
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=api, args=(f, i == 0)) for i, f in enumerate(files[2:])]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for p in procs:
            assert p.wait(120) == 0, p.stderr.read()  # type: ignore[union-attr]
        assert not errors, errors
    assert count(Workspace.open(w)) == expected
    assert count(shared[0]) == expected
    con = Workspace.open(w).connect()
    assert con.execute("SELECT count(*), count(DISTINCT url) FROM url_map").fetchone() == (4, 4)
    assert con.execute("SELECT count(*) FROM events WHERE event_id = 'shared'").fetchone() == (1,)
    con.close()
    assert_consistent(w)


# -- items 2 and 5: one call is one unit ----------------------------------------------------
def _crowdtangle_with_bad_followers(path: Path) -> Path:
    with open(FIXTURES / "crowdtangle" / "facebook_pages.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = rows[:3]  # two good posts of one page
    col = rows[0].index("Followers at Posting")
    rows[2][col] = "many"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_a_refused_multi_table_file_loads_no_table(ws: Workspace, tmp_path: Path) -> None:
    """CrowdTangle gives events and accounts; a bad account refuses the events too."""
    ingest(ws, [events_csv(tmp_path / "a.csv", ["1"])])
    before = snapshot(ws.path)
    f = _crowdtangle_with_bad_followers(tmp_path / "ct" / "posts.csv")
    with pytest.raises(BadInputError, match="followers many is not a whole number; nothing "
                       "from this file was loaded"):
        ingest(ws, [f], fmt="crowdtangle")
    assert snapshot(ws.path) == before
    assert (count(ws), count(ws, "accounts")) == (1, 0)


def test_a_refused_table_of_a_dataset_directory_loads_nothing(ws: Workspace,
                                                               tmp_path: Path) -> None:
    d = tmp_path / "world"
    events_csv(d / "events.csv", ["1", "2"])
    write(d / "accounts.csv", "platform,account_id,followers\nx,a0,many\n")
    before = snapshot(ws.path)
    with pytest.raises(BadInputError, match="nothing from this file or the 1 other file"):
        ingest(ws, [d])
    assert snapshot(ws.path) == before
    assert not (ws.path / ".staging").exists() or not any((ws.path / ".staging").iterdir())
    # the same for separate paths of one call: the good file before the bad one stays out
    with pytest.raises(BadInputError, match="of this ingest was loaded"):
        ingest(ws, [d / "events.csv", d / "accounts.csv"])
    assert snapshot(ws.path) == before


def test_later_files_of_a_call_are_deduplicated_against_earlier_ones(ws: Workspace,
                                                                    tmp_path: Path) -> None:
    a = events_csv(tmp_path / "a" / "events.csv", ["1", "2"], url="https://x.com/a")
    # 2 again, with other values: the first file's row wins; 3 is new; 1 again, same values
    b = write(tmp_path / "b" / "events.csv", HEADER + "x,2,zz,1623881099,https://x.com/no\n"
              "x,3,a,1623881092,https://x.com/b\n")
    c = write(tmp_path / "c" / "events.jsonl",
              '{"platform":"x","event_id":"1","account_id":"a0","timestamp":1623881091,'
              '"urls":["https://x.com/a"]}\n')
    rep = ingest(ws, [a, b, c])
    assert [(f.rows_added, f.duplicates) for f in rep.files] == [(2, 0), (1, 1), (0, 1)]
    assert count(ws) == 3
    con = ws.connect()
    assert con.execute("SELECT account_id FROM events WHERE event_id = '2'").fetchall() == [("a1",)]
    assert sorted(con.execute("SELECT url FROM url_map").fetchall()) == [
        ("https://x.com/a",), ("https://x.com/b",)]
    con.close()
    # one commit: one log record per file, one manifest write, one part per table
    assert [r["source"] for r in ws.ingests] == [str(a), str(b), str(c)]
    assert len(ws.files("events")) == 1 and len(ws.files("url_map")) == 1


def test_rejects_of_a_call_land_with_it(ws: Workspace, tmp_path: Path) -> None:
    good = write(tmp_path / "a" / "events.csv", HEADER + "x,1,a,1623881091,\nx,2,a,notatime,\n")
    bad = write(tmp_path / "b" / "events.csv", HEADER + "x,3,a,1623881091,\nx,4,a,notatime,\n")
    rep = ingest(ws, [good, bad], skip_bad_rows=True)
    assert [Path(f.rejects_file).exists() for f in rep.files] == [True, True]  # type: ignore[arg-type]
    assert len({f.rejects_file for f in rep.files}) == 2  # two files of one name
    assert count(ws) == 2


# -- item 10: many small files --------------------------------------------------------------
def test_a_directory_of_many_small_files_is_one_compact_ingest(ws: Workspace,
                                                               tmp_path: Path) -> None:
    d = tmp_path / "many"
    n_files, per_file = 200, 5
    for i in range(n_files):
        # every tenth file repeats the first id of the next one: dropped, first file wins
        ids = [str(i * per_file + k) for k in range(per_file + (i % 10 == 0))]
        events_csv(d / f"events.{i:04d}.csv", ids, url=f"https://example.com/{i % 7}")
    rep = ingest(ws, [d])
    assert len(rep.files) == n_files
    assert rep.rows_added == n_files * per_file
    assert sum(f.duplicates for f in rep.files) == n_files // 10
    assert count(ws) == n_files * per_file and count(ws, "url_map") == 7
    assert len(ws.files("events")) == 1 and len(ws.files("url_map")) == 1
    assert len(ws.ingests) == n_files and len({r["ingest_id"] for r in ws.ingests}) == 1
    assert_consistent(ws.path)
    # some again: nothing new, nothing written
    again = ingest(ws, sorted(d.iterdir())[:10])
    assert again.rows_added == 0 and len(ws.files("events")) == 1


# -- item 13: read-only workspaces ----------------------------------------------------------
def _ingested(tmp_path: Path) -> Path:
    w = tmp_path / "ro"
    ingest(Workspace.open(w), [events_csv(tmp_path / "a.csv", ["1", "2"])])
    (w / ".lock").unlink()
    return w


def test_opening_a_workspace_it_cannot_write_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = _ingested(tmp_path)
    (w / ".staging" / "left").mkdir(parents=True)  # a leftover recovery would remove
    before = snapshot(w)
    monkeypatch.setattr(Workspace, "writable", property(lambda self: False))
    ws = Workspace.open(w)
    assert count(ws) == 2
    assert snapshot(w) == before and not (w / ".lock").exists()
    assert (w / ".staging" / "left").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write a read-only directory, so chmod proves nothing")
def test_a_read_only_workspace_can_be_read(tmp_path: Path) -> None:
    w = _ingested(tmp_path)
    before = snapshot(w)
    modes = {p: p.stat().st_mode for p in [w, *w.rglob("*")]}
    try:
        for p in modes:
            p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
        assert lockstep.workspace_stats(Workspace.open(w)).tables["events"] == {"x": 2}
        r = subprocess.run([sys.executable, "-m", "lockstep", "-w", str(w), "stats", "--json"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        with pytest.raises(WorkspaceError, match="cannot write the workspace"):
            ingest(Workspace.open(w), [events_csv(tmp_path / "b.csv", ["3"])])
    finally:
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))
    assert snapshot(w) == before and not (w / ".lock").exists()


def test_a_workspace_on_a_read_only_mount_can_be_read(tmp_path: Path) -> None:
    """The same for root, whom chmod does not stop: a read-only bind mount does."""
    if not shutil.which("unshare") or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount a read-only bind mount")
    w = _ingested(tmp_path)
    before = snapshot(w)
    ro = tmp_path / "mounted"
    ro.mkdir()
    lockstep_cmd = f"{shlex.quote(sys.executable)} -m lockstep -w {shlex.quote(str(ro))}"
    script = (f"mount --bind -o ro {shlex.quote(str(w))} {shlex.quote(str(ro))} || exit 77; "
              f"{lockstep_cmd} stats --json || exit 1; "
              f"{lockstep_cmd} ingest {shlex.quote(str(events_csv(tmp_path / 'b.csv', ['3'])))}"
              "; echo ingest-rc=$?")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=120)
    if r.returncode == 77 or "unshare failed" in r.stderr:
        pytest.skip(f"cannot mount here: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    assert '"x": 2' in r.stdout and "ingest-rc=1" in r.stdout
    assert "cannot write the workspace" in r.stderr
    assert snapshot(w) == before and not (w / ".lock").exists()


# -- item 12: Ctrl-C and a full disk --------------------------------------------------------
@pytest.mark.parametrize("failure, expected, message", [
    (KeyboardInterrupt(), Interrupted,
     "interrupted while ingesting; nothing from this call was loaded; the workspace is unchanged"),
    (duckdb.InterruptException("INTERRUPT Error: Interrupted!"), Interrupted,
     "interrupted while ingesting; nothing from this call"),
    (RuntimeError("Query interrupted"), Interrupted,  # what DuckDB raised on a real Ctrl-C
     "interrupted while ingesting; nothing from this call"),
    (OSError(errno.ENOSPC, "No space left on device"), DiskFullError,
     "no space left on device while ingesting; nothing from this call was loaded"),
    (duckdb.IOException("IO Error: Could not write file \"x\": No space left on device"),
     DiskFullError, "no space left on device while ingesting"),
])
@pytest.mark.parametrize("where", ["write", "urls", "commit"])
def test_interrupted_or_full_ingest_leaves_the_workspace_unchanged(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException,
        expected: type, message: str, where: str) -> None:
    import lockstep.ingestion as ingestion

    ingest(ws, [events_csv(tmp_path / "a.csv", ["1"])])
    before = snapshot(ws.path)
    files = [events_csv(tmp_path / f"b{i}" / "events.csv", [f"b{i}"], url="https://x.com")
             for i in range(2)]
    calls = {"n": 0}

    def fail(*args: object, **kwargs: object) -> None:
        raise failure

    if where == "write":  # the second file's write: the first is staged by then
        real = ingestion._write_parquet

        def second(*args: object, **kwargs: object) -> int:
            calls["n"] += 1
            if calls["n"] == 2:
                raise failure
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ingestion, "_write_parquet", second)
    elif where == "urls":
        monkeypatch.setattr(ingestion, "_new_urls", fail)
    else:  # the manifest write, after the files moved in
        monkeypatch.setattr(Workspace, "_write_manifest", fail)
    with pytest.raises(expected, match=message) as exc:
        ingest(ws, files)
    assert isinstance(exc.value, LockstepError)
    assert isinstance(exc.value, KeyboardInterrupt) == (expected is Interrupted)
    monkeypatch.undo()
    assert snapshot(ws.path) == before  # no staging left, no part moved in
    assert count(Workspace.open(ws.path)) == 1
