"""Every command with paths that hold quotes, ``;``, ``$``, a newline and non-ASCII letters.

A path is data: it must reach the file system as it is, never be read as SQL (DuckDB
``COPY ... TO '<path>'``, ``read_parquet([...])``) or by a shell, and be shown plainly.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lockstep.cli import app
from lockstep.terminal import visible
from lockstep.testing import make_campaign

HOSTILE = "o'brien \"ws\"; $HOME\nü"


def cli(ws: Path, *args: str) -> str:
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args], env={"COLUMNS": "3000"})
    text = r.output_bytes.decode("utf-8")
    assert r.exit_code == 0, (args, text, r.exception)
    return text


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(a directory named :data:`HOSTILE`, the workspace in it, the campaign data in it),
    the data ingested through ``main()`` as a user runs it, and detected."""
    base = tmp_path_factory.mktemp("paths") / HOSTILE
    base.mkdir()
    data = make_campaign(base / HOSTILE, seed=0)
    ws = base / f"ws {HOSTILE}"
    env = {**os.environ, "COLUMNS": "3000"}
    env.pop("LOCKSTEP_WORKSPACE", None)
    r = subprocess.run([sys.executable, "-m", "lockstep", "--workspace", str(ws), "ingest",
                        str(data)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "events.csv" in r.stdout
    cli(ws, "detect")
    assert "N0001" in cli(ws, "networks", "--all")
    return base, ws, data


def test_views(place: tuple[Path, Path, Path]) -> None:
    base, ws, data = place
    for args in (["stats"], ["stats", "--json"], ["networks", "--all"], ["network", "N0001"],
                 ["signals"], ["assess"], ["evaluate"], ["evaluate", "--truth",
                                                         str(data / "truth.csv")],
                 ["upgrade"]):
        out = cli(ws, *args)
        assert "\x1b" not in out and "\r" not in out
    assert visible(ws) in cli(ws, "upgrade")  # the path, its newline shown as \n


def test_a_second_ingest_of_a_hostile_file(place: tuple[Path, Path, Path]) -> None:
    base, ws, data = place
    one = base / f"{HOSTILE}.csv"
    one.write_text("platform,event_id,account_id,timestamp\nx,h1,h,1623881091\n",
                   encoding="utf-8")
    cli(ws, "ingest", "--format", "generic", str(one))
    assert json.loads(cli(ws, "stats", "--json"))["tables"]["events"]["x"] > 1


@pytest.mark.parametrize("args, suffix", [
    (["export", "networks", "--all", "--format", "csv"], "csv"),
    (["export", "networks", "--all", "--format", "json"], "json"),
    (["export", "networks", "--all", "--format", "gexf"], "gexf"),
    (["export", "networks", "--all", "--format", "graphml"], "graphml"),
    (["export", "summary", "--all", "--format", "csv"], "csv"),
    (["export", "summary", "--all", "--format", "json"], "json"),
    (["pairs", "--signal", "co-repost", "--evidence"], "csv"),
    (["pairs", "--signal", "co-repost"], "parquet"),
    (["pairs", "--signal", "co-repost", "--raw"], "csv"),
    (["pairs", "--signal", "shared-device"], "csv"),
    (["pairs", "--signal", "co-creation", "--evidence"], "csv"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v[:3]))
def test_outputs_land_where_asked(place: tuple[Path, Path, Path], args: list[str],
                                  suffix: str) -> None:
    base, ws, _ = place
    out = base / f"{'-'.join(args[:2])} {HOSTILE}.{suffix}"
    text = cli(ws, *args, "--out", str(out))
    assert out.is_file() and visible(out) in text
    assert [p for p in base.iterdir() if p.suffix == f".{suffix}"]  # nowhere else
    if suffix == "csv":
        with open(out, newline="", encoding="utf-8") as fh:
            assert next(csv.reader(fh))
    elif suffix == "json":
        json.loads(out.read_text(encoding="utf-8"))
    elif suffix == "parquet":
        pq.read_table(out)
    else:
        ET.parse(out)


def test_simulate_writes_into_a_hostile_directory(tmp_path: Path) -> None:
    out = tmp_path / HOSTILE
    r = CliRunner().invoke(app, ["simulate", "--out", str(out), "--scale", "tiny"],
                           env={"COLUMNS": "3000"})
    assert r.exit_code == 0, (r.output, r.exception)
    assert (out / "events.parquet").is_file() or any(out.glob("events*"))
    assert visible(out) in r.output_bytes.decode("utf-8")


def test_demo_in_a_hostile_directory_suggests_quoted_commands(tmp_path: Path) -> None:
    import shlex

    where = tmp_path / HOSTILE
    r = CliRunner().invoke(app, ["demo", "--dir", str(where)], env={"COLUMNS": "3000"})
    text = r.output_bytes.decode("utf-8")
    assert r.exit_code == 0, (text, r.exception)
    assert "\x1b" not in text and "\r" not in text
    ws = shlex.quote(str(where / "workspace"))
    assert re.search(f"full evidence: lockstep --workspace {re.escape(visible(ws))} "
                     r"network N\d{4}", text), text
    assert (where / "workspace").is_dir()
