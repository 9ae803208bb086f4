"""The command line as a user meets it: real processes, exit codes, no tracebacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write


def run(*args: str, ws: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("LOCKSTEP_WORKSPACE", None)
    if ws is not None:
        env["LOCKSTEP_WORKSPACE"] = str(ws)
    return subprocess.run([sys.executable, "-m", "lockstep", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


@pytest.mark.parametrize("cmd", [[], ["ingest"], ["stats"], ["simulate"], ["demo"]])
def test_help_everywhere(cmd: list[str]) -> None:
    r = run(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout and len(r.stdout) > 200


def test_ingest_then_stats(tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp,hashtags\n"
              "facebook,1,a,1623881091,Wahl\ninstagram,2,b,1623881092,wahl\n")
    ws = tmp_path / "ws"
    r = run("ingest", str(f), ws=ws)
    assert r.returncode == 0, r.stderr
    assert "events" in r.stdout and "loaded" in r.stdout
    r = run("--workspace", str(ws), "stats", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["tables"]["events"] == {"facebook": 1, "instagram": 1}
    assert st["top_objects"]["hashtag"] == [["wahl", 2]]
    r = run("stats", ws=ws)
    assert "facebook" in r.stdout and "instagram" in r.stdout and "wahl" in r.stdout


def test_bad_file_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp\nx,1,a,yesterday\n")
    r = run("ingest", str(f), ws=tmp_path / "ws")
    assert r.returncode == 1
    assert f"{f}:2: unparseable timestamp yesterday" in r.stderr.replace("\n", "")
    assert "Traceback" not in r.stderr + r.stdout


def test_user_errors_without_traceback(tmp_path: Path) -> None:
    for args in (["ingest", str(tmp_path / "missing.csv")],
                 ["ingest", "--format", "nope", str(tmp_path)],
                 ["stats"]):
        r = run(*args, ws=tmp_path / "nows")
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr, args
        assert r.stderr.strip(), args


def test_debug_shows_traceback(tmp_path: Path) -> None:
    r = run("--debug", "stats", ws=tmp_path / "nows")
    assert r.returncode != 0 and "Traceback" in r.stderr
