"""kill -9 at random points of ingest, detect and assess (issue 13): after each kill the
workspace, reopened, holds what it held before the command or what it holds after it, never
a state between (rows per table, the latest run and its assessment)."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lockstep.attribution.assess import load_assessment
from lockstep.detect import detect
from lockstep.exceptions import Interrupted
from lockstep.graph.store import latest_run_id, list_runs, load_run
from lockstep.ingestion import ingest
from lockstep.schema import TABLE_COLUMNS
from lockstep.workspace import Workspace

SEED = 13
#: Kill points, as shares of the time the whole command took: one random point in each
#: stratum, the last ones near the end, where the commit or the run's publication happens.
STRATA = ((0.3, 0.7), (0.7, 0.9), (0.9, 1.0))
SIGNALS = "co-link,co-repost,shared-device"  # quick, and enough to find networks


def state(path: Path) -> dict[str, Any]:
    """What a user sees after reopening: rows per table, the latest run (which must load,
    with its assessment), and that the manifest lists exactly the files present."""
    ws = Workspace.open(path)  # recovers what a killed writer left
    con = ws.connect()
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLE_COLUMNS}
    con.close()
    listed = {f for fs in ws.manifest["files"].values() for f in fs}
    present = {p.relative_to(path).as_posix() for p in path.rglob("*.parquet")
               if p.relative_to(path).parts[0] not in ("runs", ".staging")}
    assert listed == present
    rid = latest_run_id(path)
    if rid is not None:
        assert load_run(path).run_id == rid
        assert load_assessment(path, rid) is not None, f"latest run {rid} has no assessment"
    return {"rows": rows, "latest": rid}


def lockstep_cmd(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lockstep", "-w", str(ws), *args]


def timed(cmd: list[str]) -> float:
    started = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - started


def delays(seed: int, took: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(lo, hi) * took for lo, hi in STRATA]


def kill_after(cmd: list[str], delay: float) -> bool:
    """Run ``cmd``, SIGKILL it after ``delay`` s; False if it finished first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lockstep.simulate import simulate

    base = tmp_path_factory.mktemp("kill")
    simulate(base / "world", scale="tiny", seed=5)
    return base / "world"


@pytest.fixture(scope="module")
def detected(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the world and one complete detection run."""
    path = tmp_path_factory.mktemp("detected") / "ws"
    ws = Workspace.open(path)
    ingest(ws, [world])
    detect(ws, signals=SIGNALS.split(","))
    return path


def copy_of(src: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    return dest


def test_killed_ingest(world: Path, tmp_path: Path) -> None:
    start = tmp_path / "start"
    ws = Workspace.open(start)
    ingest(ws, [world / "accounts.parquet"])  # something before, so "before" is not empty
    before = state(start)
    done = copy_of(start, tmp_path / "done")
    took = timed(lockstep_cmd(done, "ingest", str(world)))
    after = state(done)
    assert after != before
    killed = 0
    for delay in delays(SEED, took):
        work = copy_of(start, tmp_path / "work")
        killed += kill_after(lockstep_cmd(work, "ingest", str(world)), delay)
        assert state(work) in (before, after)
    assert killed, "every ingest finished before its kill"


def test_killed_detect(detected: Path, tmp_path: Path) -> None:
    before = state(detected)
    assert before["latest"] is not None
    done = copy_of(detected, tmp_path / "done")
    took = timed(lockstep_cmd(done, "detect", "--signals", SIGNALS))
    assert state(done)["latest"] != before["latest"]
    killed = 0
    for delay in delays(SEED + 1, took):
        work = copy_of(detected, tmp_path / "work")
        killed += kill_after(lockstep_cmd(work, "detect", "--signals", SIGNALS), delay)
        got = state(work)
        assert got["rows"] == before["rows"]  # detection never touches the tables
        # the previous run, or a new one that loads with its assessment (checked in state)
        assert got["latest"] is not None
    assert killed, "every detect finished before its kill"


def test_killed_assess(detected: Path, tmp_path: Path) -> None:
    before = state(detected)
    done = copy_of(detected, tmp_path / "done")
    took = timed(lockstep_cmd(done, "assess"))
    assert state(done) == before  # same run, a fresh assessment of it
    killed = 0
    for delay in delays(SEED + 2, took):
        work = copy_of(detected, tmp_path / "work")
        killed += kill_after(lockstep_cmd(work, "assess"), delay)
        assert state(work) == before  # and its assessment still loads (checked in state)
    assert killed, "every assess finished before its kill"


@pytest.mark.parametrize("failure", [RuntimeError("killed"), KeyboardInterrupt()])
def test_detect_that_dies_before_its_verdicts_are_saved_keeps_the_latest(
        detected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        failure: BaseException) -> None:
    """The audit's case: killed after the run is saved but before its verdicts."""
    assess_mod = sys.modules["lockstep.attribution.assess"]  # the package shadows its name

    work = copy_of(detected, tmp_path / "work")
    before = state(work)
    runs_before = [r["run_id"] for r in list_runs(work)]

    def die(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(assess_mod, "save_assessment", die)
    expected = Interrupted if isinstance(failure, KeyboardInterrupt) else RuntimeError
    with pytest.raises(expected):
        detect(Workspace.open(work), signals=["co-repost"])
    monkeypatch.undo()
    assert state(work) == before  # latest still the previous, complete run
    assert [r["run_id"] for r in list_runs(work)] == runs_before  # no half-saved run left
