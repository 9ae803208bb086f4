"""Exports that hold hostile data as data: CSV formulas neutralised, XML encoded reversibly."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pyarrow as pa
import pytest
from synthetic_edges import planted as make_planted

from lockstep.exceptions import UsageError
from lockstep.graph import detect_networks, export_networks
from lockstep.graph.export import xml_decode, xml_encode
from lockstep.graph.fusion import INPUT_SCHEMA
from lockstep.spreadsheet import csv_row, neutralise_csv_file, neutralise_formula, restore_formula
from lockstep.testing import HOSTILE_STRINGS

TRICKY = ("'=1", "''", "'", "''=1", "'tis", "=", "", "-", "a=1", " =1", "\r\n=1",
          "_x0041_", "_x005F_", "__x0041_", "_x00e9_", "_x12_", "_x0041", "x0041_", "\uffff",
          "\ufffe", "\x00", "\udfff\ud800", "\x7f\x85", "a\nb", "\u2028")
CASES = (*HOSTILE_STRINGS, *TRICKY)
# what XML 1.0 allows (production [2] Char)
XML_CHAR = set(range(0x20, 0xD800)) | set(range(0xE000, 0xFFFE)) | {0x9, 0xA, 0xD}


@pytest.mark.parametrize("value", CASES, ids=lambda v: repr(v[:12]))
def test_formula_rule_is_owasp_and_reversible(value: str) -> None:
    cell = neutralise_formula(value)
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert restore_formula(cell) == value
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert cell == "'" + value


def test_numbers_are_never_formulas() -> None:
    assert csv_row([-1.5, -2, 0, None, "-2", "ok", "@x"]) == [-1.5, -2, 0, "", "'-2", "ok", "'@x"]
    assert csv_row(["=1", -1.5], raw=True) == ["=1", -1.5]


@pytest.mark.parametrize("value", CASES, ids=lambda v: repr(v[:12]))
def test_xml_encoding_is_legal_and_exact(value: str) -> None:
    enc = xml_encode(value)
    assert all(ord(c) in XML_CHAR and c != "\r" for c in enc)
    assert xml_decode(enc) == value
    # it survives an XML parser, in an attribute and in text
    el = ET.Element("n", {"v": enc})
    el.text = enc
    back = ET.fromstring(ET.tostring(el, encoding="unicode"))
    assert xml_decode(back.get("v")) == value and xml_decode(back.text or "") == value


def test_xml_encoding_leaves_ordinary_text_alone() -> None:
    for v in ("user_123", "x:@handle", "Ünïcødé 日本 🙂", "a\tb\nc", "snake_case_x"):
        assert xml_encode(v) == v


@pytest.fixture
def hostile_run():  # type: ignore[no-untyped-def]
    """A detected run whose densest network's accounts and handles are hostile strings."""
    tables, members = make_planted(0, n_noise=60, noise_edges=60)
    names = [h for h in HOSTILE_STRINGS if h != "\ud800" and len(h) < 1000]
    rename = {m.split(":", 1)[1]: names[i] for i, m in enumerate(members["dense"])}
    fixed = []
    for t in tables:
        rows = t.to_pylist()
        for r in rows:
            a = (r["platform_a"], rename.get(r["account_a"], r["account_a"]))
            b = (r["platform_b"], rename.get(r["account_b"], r["account_b"]))
            (r["platform_a"], r["account_a"]), (r["platform_b"], r["account_b"]) = sorted([a, b])
        fixed.append(pa.Table.from_pylist(rows, schema=INPUT_SCHEMA))
    hostile = list(rename.values())
    accounts = pa.table({"platform": ["x"] * len(hostile), "account_id": hostile,
                         "kind": ["user"] * len(hostile),
                         "handle": hostile[1:] + hostile[:1]})
    run = detect_networks(fixed, accounts=accounts, seed=1)
    handle = dict(zip(hostile, hostile[1:] + hostile[:1]))
    return run, handle


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_xml_exports_of_hostile_ids_round_trip(tmp_path: Path, hostile_run, fmt: str
                                                ) -> None:  # type: ignore[no-untyped-def]
    run, handle = hostile_run
    out = export_networks(run, fmt, tmp_path / f"n.{fmt}")
    ET.parse(out)
    g = (nx.read_gexf if fmt == "gexf" else nx.read_graphml)(out)
    nodes = {xml_decode(n): d for n, d in g.nodes(data=True)}
    for acc, h in handle.items():
        d = nodes[f"x:{acc}"]
        assert xml_decode(d["account_id"]) == acc and xml_decode(d["handle"]) == h
        assert fmt == "graphml" or xml_decode(d["label"]) == h
    for a, b, d in g.edges(data=True):
        json.loads(xml_decode(d["signals_json"]))
    with pytest.raises(UsageError, match="cannot be raw"):
        export_networks(run, fmt, tmp_path / "raw", raw=True)


def test_csv_export_neutralises_text_cells_only(tmp_path: Path, hostile_run
                                               ) -> None:  # type: ignore[no-untyped-def]
    run, handle = hostile_run
    with open(export_networks(run, "csv", tmp_path / "n.csv"), newline="",
              encoding="utf-8") as fh:
        safe = list(csv.DictReader(fh))
    with open(export_networks(run, "csv", tmp_path / "r.csv", raw=True), newline="",
              encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    assert {r["account_id"] for r in raw} >= set(handle)
    for s, r in zip(safe, raw):
        assert s["score"] == r["score"] and float(s["score"]) == float(r["score"])
        for k in ("network_id", "platform", "account_id", "kind"):
            assert s[k][:1] not in ("=", "+", "-", "@", "\t", "\r")
            assert restore_formula(s[k]) == r[k]
    assert any(s["account_id"] != r["account_id"] for s, r in zip(safe, raw))


def test_json_export_round_trips(tmp_path: Path, hostile_run
                                 ) -> None:  # type: ignore[no-untyped-def]
    run, handle = hostile_run
    text = export_networks(run, "json", tmp_path / "n.json").read_text(encoding="utf-8")
    assert text.isascii()
    d = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    got = {m["account_id"]: m["handle"] for n in d["networks"] for m in n["members"]}
    assert all(got[a] == h for a, h in handle.items())


def test_neutralise_csv_file(tmp_path: Path) -> None:
    clean = tmp_path / "clean.csv"
    clean.write_bytes(b'a,n,t\n"x,y",-1.5,ok\nb,2,"q""q"\n')
    before = clean.read_bytes()
    assert neutralise_csv_file(clean, ["a", "t"]) is False
    assert clean.read_bytes() == before  # untouched, byte for byte
    rows = [["a", "n", "t"]] + [[h, "-1.5", h] for h in CASES if "\x00" not in h and len(h) < 1000
                                and not any(0xD800 <= ord(c) <= 0xDFFF for c in h)]
    hostile = tmp_path / "hostile.csv"
    with open(hostile, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)  # CRLF: a lone CR in a cell is quoted
    assert neutralise_csv_file(hostile, ["a", "t"]) is True
    with open(hostile, newline="", encoding="utf-8") as fh:
        back = list(csv.reader(fh))
    assert back[0] == rows[0] and len(back) == len(rows)
    for got, want in zip(back[1:], rows[1:]):
        assert got[1] == "-1.5"  # not a text column: as it was
        assert all(c[:1] not in ("=", "+", "-", "@", "\t", "\r") for c in (got[0], got[2]))
        assert [restore_formula(got[0]), got[1], restore_formula(got[2])] == want


def test_write_pairs_neutralises_and_quotes_paths(tmp_path: Path) -> None:
    from lockstep.pairs import pairs, write_pairs
    from lockstep.testing import events_workspace

    ws = events_workspace(tmp_path, [
        {"account_id": "=HYPERLINK(\"http://evil.example\")", "timestamp": 0,
         "reposted_id": "P", "event_id": "@e0"},
        {"account_id": "-2", "timestamp": 2, "reposted_id": "P", "event_id": "+e1"}],
        columns=("platform", "event_id", "account_id", "timestamp", "reposted_id"))
    table = pairs(ws, signal="co-repost", window=10)
    out = tmp_path / "o'brien \"pairs\"; $HOME\nü.csv"
    assert write_pairs(table, out, evidence=True) == 1
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["account_a"] == "'-2"
    assert rows[0]["account_b"] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[0]["evidence"] == "'+e1|@e0" and rows[0]["weight"] == "1"
    buf = io.BytesIO()
    write_pairs(table, buf, evidence=True, raw=True)
    raw = list(csv.DictReader(io.StringIO(buf.getvalue().decode("utf-8"))))
    assert (raw[0]["account_a"], raw[0]["account_b"], raw[0]["evidence"]) == (
        "-2", "=HYPERLINK(\"http://evil.example\")", "+e1|@e0")
