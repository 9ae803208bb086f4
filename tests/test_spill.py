"""A bounded disk for spilling work (issue 13, item 11): refused before spilling, with the
pairs the offending object implies; no spill files left, not even by a dead process."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lockstep import spill
from lockstep.detectors import CoActionDetector
from lockstep.testing import events_workspace


@pytest.fixture(scope="module")
def viral(tmp_path_factory: pytest.TempPathFactory):
    """2,000 accounts re-share one post within one second (2.0M candidate pairs), and a few
    ordinary re-shares of another post."""
    tmp = tmp_path_factory.mktemp("viral")
    events = [{"account_id": f"a{i}", "timestamp": 1_700_000_000 + i / 2000,
               "action": "repost", "reposted_id": "viral-post"} for i in range(2000)]
    events += [{"account_id": f"b{i}", "timestamp": 1_700_000_100 + i,
                "action": "repost", "reposted_id": "quiet-post"} for i in range(3)]
    return events_workspace(tmp, events)


def _spill_dirs() -> set[str]:
    root = Path(tempfile.gettempdir())
    return {p.name for p in root.iterdir() if p.name.startswith("lockstep-coaction-")}


def test_refused_before_spilling_names_the_object(viral) -> None:
    before = _spill_dirs()
    det = CoActionDetector(object_type="post", window=1, pair_budget=1000, disk_mb=1)
    with pytest.raises(spill.DiskBudgetError) as got:
        det.fit(viral)
    msg = str(got.value)
    assert "'viral-post' alone implies 1,999,000 of them (2,000 actions)" in msg
    assert "over the budget of 1.0 MB" in msg and "nothing was written" in msg
    assert _spill_dirs() == before


def test_streamed_pairs_refused_too_and_no_file_written(viral, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    det = CoActionDetector(object_type="post", window=1, disk_mb=1)
    with pytest.raises(spill.DiskBudgetError, match="viral-post"):
        det.write_pairs(viral, out, memory_mb=16)
    assert not out.exists()
    assert not list(tmp_path.glob(".pairs.csv.*"))


def test_within_budget_it_runs_and_spills_and_cleans(viral) -> None:
    before = _spill_dirs()
    det = CoActionDetector(object_type="post", window=1, pair_budget=100_000,
                           disk_mb=64).fit(viral)
    assert det.stats_["spilled_pairs"] > 0  # it did spill, within the budget
    assert det.edges_.num_rows == 2000 * 1999 // 2 + 2  # b0-b1, b1-b2 within 1 s
    assert _spill_dirs() == before


def test_budget_from_environment_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(spill.ENV_VAR, "3")
    assert spill.disk_budget_bytes() == 3 << 20
    monkeypatch.setenv(spill.ENV_VAR, "lots")
    with pytest.raises(spill.UsageError, match="LOCKSTEP_DISK_MB"):
        spill.disk_budget_bytes()
    monkeypatch.delenv(spill.ENV_VAR)
    default = spill.disk_budget_bytes()
    assert 0 < default <= spill.DEFAULT_DISK_MB << 20
    assert spill.disk_budget_bytes(5) == 5 << 20


def test_stale_spill_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f"lockstep-coaction-{pid}-123"
    (stale / "0").mkdir(parents=True)
    (stale / "0" / "0.pairs").write_bytes(b"x" * 100)
    old_duck = tmp_path / f"lockstep-duckdb-{pid}"
    old_duck.mkdir()
    live = tmp_path / f"lockstep-coaction-{os.getpid()}-456"
    live.mkdir()
    other = tmp_path / "lockstep-workspace"
    other.mkdir()
    removed = spill.clean_stale(tmp_path)
    assert set(removed) == {stale, old_duck}
    assert not stale.exists() and not old_duck.exists()
    assert live.exists() and other.exists()


def test_disk_mb_is_a_checked_parameter() -> None:
    with pytest.raises(spill.UsageError, match="disk_mb"):
        CoActionDetector(disk_mb=-1).fit("nowhere")


def test_budget_of_a_directory_not_yet_created(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spill.ENV_VAR, raising=False)
    # spill directories are created on the first spill: their file system's space counts
    assert spill.disk_budget_bytes(None, tmp_path / "not" / "yet") > 0


def test_cli_disk_budget_is_one_line_and_refuses_before_writing(viral, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    got = subprocess.run([sys.executable, "-m", "lockstep", "-w", str(viral.path),
                          "--disk-mb", "1", "pairs", "--signal", "co-repost", "--window", "1",
                          "--memory-mb", "16", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 1, got.stderr
    assert "Traceback" not in got.stderr and len(got.stderr.strip().splitlines()) == 1
    assert "'viral-post' alone implies 1,999,000" in got.stderr
    assert not out.exists()


def test_duckdb_spill_is_bounded_by_the_budget_and_explained() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '40MB'; SET threads = 1")
    tmp = spill.configure_duckdb(con, disk_mb=2)
    assert con.execute("SELECT current_setting('max_temp_directory_size')").fetchone()[0] \
        .replace(" ", "") in ("2.0MiB", "2MiB", "2.0MB", "2MB")
    try:
        with pytest.raises(duckdb.OutOfMemoryException) as got:
            con.execute("CREATE TABLE t AS SELECT range AS i, random() AS r FROM range(20000000)")
            con.execute("SELECT * FROM t ORDER BY r LIMIT 1").fetchall()
    finally:
        con.close()
    assert "disk" in spill.explain(got.value) and "--disk-mb" in spill.explain(got.value)
    assert spill.explain(ValueError("x")) is None
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)  # left by DuckDB after the error (clean_stale's)


def test_sigterm_unwinds_like_ctrl_c(tmp_path: Path) -> None:
    """A killed (SIGTERM) command runs its cleanups: one line, exit 130, the workspace as it
    was and no staging left."""
    import signal
    import time

    src = tmp_path / "events.csv"
    with open(src, "w", encoding="utf-8") as fh:
        fh.write("platform,event_id,account_id,timestamp,action,text\n")
        for i in range(600_000):
            fh.write(f"x,e{i},a{i % 5000},2024-01-01T00:{i // 60000 % 60:02d}:{i % 60:02d}Z,"
                     f"post,text number {i} with some words to read\n")
    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-m", "lockstep", "-w", str(ws), "ingest",
                             str(src)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (ws / ".staging").exists() and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # into the work
    if proc.poll() is not None:
        pytest.fail(f"ingest ended before it could be stopped: {proc.stderr.read()}")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert not list((ws / ".staging").glob("*")), list((ws / ".staging").rglob("*"))
    import lockstep

    assert lockstep.open_workspace(ws, create=False).files("events") == []
