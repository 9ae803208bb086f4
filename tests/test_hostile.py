"""Hostile data through every view and export: shown and stored exactly, never run.

The world (:func:`lockstep.testing.make_hostile_world`) names the accounts of three detected
networks by :data:`lockstep.testing.HOSTILE_STRINGS`; its handles, texts, URLs, post ids,
devices and user agents hold them too. Every view must show each value exactly (controls
as visible escapes) and send nothing a terminal acts on; every export must hold the exact
values (after the documented decoding: ``restore_formula`` for CSV, ``xml_decode`` for GEXF
and GraphML) and run none of them.
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

import networkx as nx
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lockstep.cli import app
from lockstep.terminal import visible
from lockstep.graph.export import xml_decode
from lockstep.spreadsheet import restore_formula
from lockstep.testing import (
    HOSTILE_BIG,
    HOSTILE_STRINGS,
    HOSTILE_UNWRITABLE,
    make_hostile_world,
)

IDS = [h for h in HOSTILE_STRINGS if h not in HOSTILE_UNWRITABLE and h != HOSTILE_BIG]
#: What must never reach a terminal from data (LF ends our own lines).
ACTS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                  "\u2066-\u2069\ud800-\udfff]")


def cli(ws: Path, *args: str) -> str:
    """Run one command in this process; its stdout and stderr, exactly as written."""
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args], env={"COLUMNS": "3000"})
    text = r.output_bytes.decode("utf-8")
    assert r.exit_code == 0, (args, text, r.exception)
    return text


def run(*args: str | bytes, ws: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``lockstep`` as a user does (``main()``: error lines, exit codes)."""
    e = {**os.environ, "COLUMNS": "3000", "LOCKSTEP_WORKSPACE": str(ws), **env}
    return subprocess.run([sys.executable, "-m", "lockstep", *args], capture_output=True,
                          env=e, timeout=600)


def runs_nothing(text: str) -> None:
    """No character a terminal acts on, hence no ESC: no colour, no OSC 8 link, no RTL."""
    bad = ACTS.findall(text)
    assert not bad, sorted(set(bad))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hostile")
    data = make_hostile_world(base)
    ws = base / "ws"
    runs_nothing(cli(ws, "ingest", str(data)))
    runs_nothing(cli(ws, "detect"))
    return ws, data


def handles(data: Path) -> dict[str, str]:
    limit = csv.field_size_limit(1 << 24)  # a display name is the 1 MB value
    try:
        with open(data / "accounts.csv", newline="", encoding="utf-8") as fh:
            return {r["account_id"]: r["handle"] for r in csv.DictReader(fh)}
    finally:
        csv.field_size_limit(limit)


def test_the_world_is_hostile_and_detected(world: tuple[Path, Path]) -> None:
    import lockstep
    from lockstep.graph import load_run

    ws, data = world
    members = load_run(lockstep.open_workspace(ws)).members["account_id"].to_pylist()
    assert sorted(members) == sorted(IDS)  # every hostile id is in a detected network
    assert len(HOSTILE_BIG) >= 1 << 20 and HOSTILE_UNWRITABLE == ("\ud800",)


def test_views_show_every_value_and_run_none(world: tuple[Path, Path]) -> None:
    ws, data = world
    shown = ""
    for args in (["stats"], ["networks"], ["networks", "--all"], ["network", "N0001"],
                 ["network", "N0002"], ["network", "N0003"], ["signals"], ["assess"],
                 ["evaluate"], ["evaluate", "--truth", str(data / "truth.csv")]):
        text = cli(ws, *args)
        runs_nothing(text)
        assert "MarkupError" not in text
        shown += text
    for h in IDS:  # each id, exactly, controls as escapes
        assert visible(h) in shown, h
    for h in handles(data).values():
        assert visible(h) in shown, h
    assert "[link=http://evil.example]click[/link]" in shown  # shown, not a hidden link
    assert "\\x1b]8;;http://evil.example\\x1b\\" in shown  # OSC 8 shown as text
    assert r"\u202e" in shown and r"\r" in shown and r"\x01" in shown


def test_stats_json_is_exact(world: tuple[Path, Path]) -> None:
    import lockstep
    from lockstep.stats import workspace_stats

    ws, _ = world
    text = cli(ws, "stats", "--json")
    runs_nothing(text)
    assert text.isascii()
    expected = json.loads(json.dumps(workspace_stats(lockstep.open_workspace(ws)).to_dict(),
                                     default=str))
    assert json.loads(text) == expected
    objects = [o for items in expected["top_objects"].values() for o, _ in items]
    assert any(any(h in o for h in IDS) for o in objects)


def test_terminal_gets_colour_but_no_data_sequences(world: tuple[Path, Path]) -> None:
    ws, _ = world
    r = run("network", "N0001", ws=ws, FORCE_COLOR="1", TERM="xterm-256color")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")
    assert "\x1b[" in text  # Rich's own colours are on ...
    rest = re.sub(r"\x1b\[[0-9;]*m", "", text)  # ... and they are the only sequences
    runs_nothing(rest)
    assert "\x1b]8;" not in text and "\u202e" not in text


def test_error_lines_show_data_plainly(world: tuple[Path, Path]) -> None:
    ws, _ = world
    for arg, seen in (("[/nope]", "no network [/nope] "),
                      ("\x1b]8;;http://evil.example\x1b\\x", r"\x1b]8;;http://evil.example"),
                      ("[link=http://evil.example]click[/link]",
                       "[link=http://evil.example]click[/link]"),
                      (b"N\xff\xfe", r"N\udcff\udcfe")):
        r = run("network", arg, ws=ws)
        err = r.stderr.decode("utf-8")
        assert r.returncode == 1, err
        assert "Traceback" not in err and seen in err, err
        runs_nothing(err.replace("\n", ""))
        assert len(err.strip().splitlines()) == 1


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def neutral_and_exact(safe: Path, raw: Path, text_columns: set[str]) -> list[dict[str, str]]:
    """``safe`` runs no formula; decoded, it is ``raw`` cell for cell. The raw rows."""
    s, r = csv_rows(safe), csv_rows(raw)
    assert s[0] == r[0] and len(s) == len(r) > 1
    for srow, rrow in zip(s[1:], r[1:]):
        for name, cell, exact in zip(s[0], srow, rrow):
            if name in text_columns:
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (name, cell)
                assert restore_formula(cell) == exact, (name, cell, exact)
            else:
                assert cell == exact, (name, cell, exact)
    return [dict(zip(r[0], row)) for row in r[1:]]


def test_csv_exports_neutralise_formulas_and_keep_the_data(world: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    ws, _ = world
    ids = set(IDS)

    def both(name: str, *args: str) -> tuple[Path, Path]:
        safe, raw = tmp_path / f"{name}.csv", tmp_path / f"{name}-raw.csv"
        runs_nothing(cli(ws, *args, "--out", str(safe)))
        runs_nothing(cli(ws, *args, "--out", str(raw), "--raw"))
        return safe, raw

    rows = neutral_and_exact(*both("networks", "export", "networks", "--all"),
                             {"network_id", "platform", "account_id", "kind", "verdict",
                              "role", "confidence"})
    assert {r["account_id"] for r in rows} == ids
    assert all(float(r["score"]) > 0 for r in rows)
    neutral_and_exact(*both("summary", "export", "summary", "--all"),
                      {"network_id", "verdict", "confidence", "origin_countries",
                       "target_countries", "operators", "counts"})
    text = {"platform_a", "account_a", "platform_b", "account_b", "signal", "evidence"}
    # co-repost is streamed by the detector's writer, shared-device written by lockstep.pairs
    for signal in ("co-repost", "shared-device"):
        rows = neutral_and_exact(*both(signal, "pairs", "--signal", signal, "--evidence"), text)
        assert {r["account_a"] for r in rows} | {r["account_b"] for r in rows} == ids, signal
        if signal == "co-repost":
            evidence = " ".join(r["evidence"] for r in rows)
            assert any(h in evidence for h in IDS)  # some event ids are hostile


def test_pairs_parquet_is_exact(world: tuple[Path, Path], tmp_path: Path) -> None:
    ws, _ = world
    cli(ws, "pairs", "--signal", "co-repost", "--out", str(tmp_path / "p.parquet"))
    t = pq.read_table(tmp_path / "p.parquet")
    assert set(t["account_a"].to_pylist()) | set(t["account_b"].to_pylist()) == set(IDS)


def test_json_export_is_exact(world: tuple[Path, Path], tmp_path: Path) -> None:
    ws, data = world

    def strict(path: Path) -> dict:
        def refuse(name: str) -> None:
            raise AssertionError(f"{name} is not JSON")
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)

    cli(ws, "export", "networks", "--all", "--format", "json", "--out", str(tmp_path / "n.json"))
    d = strict(tmp_path / "n.json")
    members = [m for n in d["networks"] for m in n["members"]]
    assert sorted(m["account_id"] for m in members) == sorted(IDS)
    known = handles(data)
    assert all(m["handle"] == known[m["account_id"]] for m in members)
    cli(ws, "export", "summary", "--all", "--format", "json", "--out", str(tmp_path / "s.json"))
    assert len(strict(tmp_path / "s.json")["networks"]) == 3


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_xml_exports_parse_and_decode_exactly(world: tuple[Path, Path], tmp_path: Path,
                                              fmt: str) -> None:
    ws, data = world
    out = tmp_path / f"n.{fmt}"
    runs_nothing(cli(ws, "export", "networks", "--all", "--format", fmt, "--out", str(out)))
    ET.parse(out)  # well-formed XML 1.0
    g = (nx.read_gexf if fmt == "gexf" else nx.read_graphml)(out)
    nodes = {xml_decode(n): d for n, d in g.nodes(data=True)}
    assert set(nodes) == {f"x:{h}" for h in IDS}
    known = handles(data)
    for h in IDS:
        d = nodes[f"x:{h}"]
        assert xml_decode(d["account_id"]) == h
        assert xml_decode(d["handle"]) == known[h]
        if fmt == "gexf":
            assert xml_decode(d["label"]) == known[h]
    assert "\r" in {xml_decode(d["handle"]) for d in nodes.values()}  # CR stays CR
    r = CliRunner().invoke(app, ["--workspace", str(ws), "export", "networks", "--format", fmt,
                                 "--raw", "--out", str(tmp_path / "raw")])
    assert r.exit_code != 0 and "cannot be raw" in str(r.exception)


def test_a_lone_surrogate_cannot_be_ingested(tmp_path: Path) -> None:
    """No UTF-8 file holds one: ingest refuses the file in one line, naming it."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "events.csv").write_bytes(
        b"platform,event_id,account_id,timestamp\nx,1,a\xed\xa0\x80b,1623881091\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "events.jsonl").write_text(
        '{"platform":"x","event_id":"1","account_id":"a\\ud800b","timestamp":1623881091}\n')
    for src in (tmp_path / "a" / "events.csv", tmp_path / "b" / "events.jsonl"):
        r = run("ingest", str(src), ws=tmp_path / "ws")
        err = r.stderr.decode("utf-8")
        assert r.returncode == 1 and "Traceback" not in err and str(src) in err, err


def test_rejects_file_neutralises_formulas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """The --skip-bad-rows rejects CSV quotes data (file names, reasons): a spreadsheet
    opening it must run none of it."""
    import csv as _csv

    import lockstep
    monkeypatch.chdir(tmp_path)
    name = "=HYPERLINK(1).csv"
    Path(name).write_text("platform,event_id,account_id,timestamp,action\n"
                          "x,e1,a1,2024-01-01T00:00:00Z,post\n"
                          "x,e2,a2,not a time,post\n", encoding="utf-8")
    ws = lockstep.open_workspace(tmp_path / "ws")
    rep = lockstep.ingest(ws, [name], skip_bad_rows=True)
    rows = list(_csv.reader(open(rep.files[0].rejects_file, encoding="utf-8")))
    assert rows[1][0] == "'" + name and restore_formula(rows[1][0]) == name
    assert rows[1][1] == "3"
