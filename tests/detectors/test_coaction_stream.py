"""The streaming pair writer: the file holds exactly ``fit().edges_`` (pairs, weights,
supports, times, medians, evidence), from a workspace or straight from the events file, also
when a viral object and a tiny pair budget force many buckets and spills; ``lockstep pairs
--out`` streams."""
from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import lockstep
from lockstep.detectors import CoActionDetector
from lockstep.detectors._filerows import _HashCodes, HashCollision
from lockstep.detectors.coaction_io import FILE_COLUMNS, _iso_utc, write_pairs
from lockstep.exceptions import BadInputError, UsageError
from lockstep.ingestion import ingest
from lockstep.testing import make_campaign
from lockstep.workspace import Workspace

COMPARED = list(FILE_COLUMNS)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    base = tmp_path_factory.mktemp("stream")
    src = make_campaign(base, seed=3)
    ws = lockstep.open_workspace(base / "ws")
    ingest(ws, [src])
    return ws, src / "events.csv"


@pytest.fixture(scope="module")
def viral(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """One viral post (1,500 re-shares in ten minutes by 400 accounts), a planted group, and
    background re-shares, with fractional-second times."""
    base = tmp_path_factory.mktemp("viral")
    rng = random.Random(7)
    t0 = 1_650_000_000
    rows = []
    for k in range(1500):
        rows.append((f"a{rng.randrange(400)}", t0 + rng.uniform(0, 600), "VIRAL"))
    for b in range(30):
        for m in range(8):
            rows.append((f"g{m}", t0 + 5000 + b * 900 + rng.uniform(0, 20), f"G{b}"))
    for k in range(3000):
        rows.append((f"a{rng.randrange(600)}", t0 + rng.uniform(0, 86400),
                     f"P{rng.randrange(400)}"))
    rng.shuffle(rows)
    path = base / "events.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "event_id", "account_id", "timestamp", "reposted_id"])
        for i, (acc, ts, post) in enumerate(rows):
            w.writerow(["x", f"e{i}", acc, f"{ts:.6f}", post])
    ws = lockstep.open_workspace(base / "ws")
    ingest(ws, [path])
    return ws, path


def _read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    cols = {c: pa.string() for c in FILE_COLUMNS}
    cols.update(weight=pa.int64(), support=pa.int64(), median_delta_s=pa.float64(),
                evidence=pa.string())
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=cols,
                                                                      strings_can_be_null=False))


def _expected(det: CoActionDetector, evidence: bool, fmt: str) -> pa.Table:
    e = det.edges_
    cols = COMPARED + (["evidence"] if evidence else [])
    t = e.select(cols)
    if fmt == "csv":  # what the CSV holds: ISO times, evidence joined by spaces
        fraction = any(pc.any(pc.not_equal(pc.subsecond(e[c]), 0)).as_py() for c in
                       ("first_seen", "last_seen")) if e.num_rows else False
        for c in ("first_seen", "last_seen"):
            us = e[c].cast(pa.int64()).to_numpy()
            t = t.set_column(t.schema.get_field_index(c), c, _iso_utc(us, fraction)
                             if len(us) else pa.array([], pa.string()))
        if evidence:
            t = t.set_column(len(cols) - 1, "evidence", pc.binary_join(e["evidence"], " "))
    return t


def _same(got: pa.Table, want: pa.Table) -> None:
    assert got.num_rows == want.num_rows
    for c in want.column_names:
        g, w = got[c].combine_chunks(), want[c].combine_chunks()
        if pa.types.is_floating(w.type):
            assert np.allclose(g.to_numpy(), w.to_numpy(), rtol=0, atol=5e-7), c
        else:
            assert g.cast(w.type).equals(w), c


@pytest.mark.parametrize("otype", ["post", "url", "hashtag", "reply", "mention"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_file_is_fit_edges(campaign: tuple[Workspace, Path], tmp_path: Path, otype: str,
                           fmt: str) -> None:
    ws, events = campaign
    det = CoActionDetector(object_type=otype, window=30).fit(ws)
    assert det.edges_.num_rows > 0
    for evidence in (False, True):
        for source in (ws, events):  # the events file is read directly
            out = tmp_path / f"p-{evidence}.{fmt}"
            st = det.write_pairs(source, out, evidence=evidence, memory_mb=16)
            assert st["edges"] == det.edges_.num_rows
            assert st["candidate_pairs"] == det.stats_["candidate_pairs"]
            _same(_read(out), _expected(det, evidence, fmt))


def test_csv_header_and_text(campaign: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, _ = campaign
    out = tmp_path / "p.csv"
    write_pairs(ws, out, signal="co-repost", window=30, min_weight=3)
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(FILE_COLUMNS)
    first = next(csv.reader(lines[1:2]))
    assert first[4] == "co-repost" and first[7].endswith("Z") and "T" in first[7]


@pytest.mark.parametrize("budget", [1500, 20_000_000])
def test_viral_object_many_buckets_and_spills(viral: tuple[Workspace, Path], tmp_path: Path,
                                              budget: int) -> None:
    ws, path = viral
    det = CoActionDetector(window=60, pair_budget=budget).fit(ws)
    assert det.stats_["candidate_pairs"] > 100_000  # the viral post: ~10x the budget
    want = _expected(det, False, "parquet")
    for source in (ws, path):  # the workspace, and the events file read directly
        out = tmp_path / "p.parquet"
        st = det.write_pairs(source, out, memory_mb=16)
        if budget < 10_000:
            assert st["spills"] > 10 and st["buckets"] > 50
            assert st["load_group"] > 1  # buckets read together, one read per spill file
        assert st["lean"] and st["event_pairs"] == det.stats_["event_pairs"]
        _same(_read(out), want)
    # the same through CSV, with microsecond times
    out = tmp_path / "p.csv"
    det.write_pairs(path, out, memory_mb=16)
    _same(_read(out), _expected(det, False, "csv"))
    assert "." in out.read_text().splitlines()[1].split(",")[7]


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])
def test_file_staging_one_or_two_passes(viral: tuple[Workspace, Path], campaign: tuple[
        Workspace, Path], keep_bytes: int) -> None:
    from lockstep.detectors._filerows import _stage_file
    from lockstep.detectors.sweep import stage_lean

    for ws, path in (viral, campaign):
        rows, counts = _stage_file(path, "post", keep_bytes=keep_bytes)
        con = ws.connect()
        ref, ref_counts = stage_lean(con, "post")
        con.close()
        assert counts == ref_counts
        assert rows.acc_id.equals(ref.acc_id) and rows.acc_platform.equals(ref.acc_platform)

        def content(r: Any) -> list[tuple[str, int, int]]:
            us = r.t.astype(np.int64) * r.t_scale + r.t_base
            assert np.all(np.diff(r.o) >= 0) and np.all((np.diff(us) >= 0) | (np.diff(r.o) > 0))
            return sorted(zip(r.obj_id.take(pa.array(r.o)).to_pylist(), us.tolist(),
                              r.a.tolist(), strict=True))

        assert content(rows) == content(ref)
    assert rows.t_scale == 1_000_000 and rows.t.dtype == np.int32  # whole seconds


def test_min_weight_and_window_from_data(viral: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, path = viral
    det = CoActionDetector(window=None, min_weight=3, pair_budget=5000).fit(ws)
    st = det.write_pairs(path, tmp_path / "p.parquet")
    assert st["window_s"] == det.stats_["window_s"]
    _same(_read(tmp_path / "p.parquet"), _expected(det, False, "parquet"))


def test_quoting_when_an_id_needs_it(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text('platform,event_id,account_id,timestamp,reposted_id\n'
                    'x,e1,"a,1",1650000000,P\nx,e2,"b ""q""",1650000010,P\n'
                    'x,e3,c,1650000020,P\n')
    write_pairs(path, tmp_path / "p.csv", window=60)
    rows = list(csv.DictReader(open(tmp_path / "p.csv", newline="")))
    assert {(r["account_a"], r["account_b"]) for r in rows} == {
        ("a,1", 'b "q"'), ("a,1", "c"), ('b "q"', "c")}


def test_bad_input(tmp_path: Path, campaign: tuple[Workspace, Path]) -> None:
    path = tmp_path / "events.csv"
    path.write_text("platform,event_id,account_id,timestamp,reposted_id\n"
                    "x,e1,a,not-a-time,P\nx,e2,b,1650000010,P\n")
    with pytest.raises(BadInputError, match="not-a-time"):
        write_pairs(path, tmp_path / "p.csv")
    with pytest.raises(UsageError, match="fmt"):
        write_pairs(campaign[0], tmp_path / "p.csv", fmt="xlsx")
    with pytest.raises(UsageError, match="co-domain"):
        write_pairs(campaign[1], tmp_path / "p.csv", signal="co-domain")
    assert not (tmp_path / "p.csv").exists()


def test_hash_collisions_are_caught() -> None:
    codes = _HashCodes(("k",), counted=True, pending_max=2)
    codes.add(np.array([5, 7, 5], dtype=np.uint64), [pa.array(["x", "y", "x"])])
    codes.add(np.array([9, 11, 13], dtype=np.uint64), [pa.array(["p", "q", "r"])])
    codes.add(np.array([7, 9], dtype=np.uint64), [pa.array(["y", "p"])])
    h, (k,), n = codes.result()  # run after run: sort to compare
    assert n is not None
    got = sorted(zip(h.tolist(), k.to_pylist(), n.tolist(), strict=True))
    assert got == [(5, "x", 2), (7, "y", 2), (9, "p", 2), (11, "q", 1), (13, "r", 1)]
    with pytest.raises(HashCollision):  # within a batch
        _HashCodes(("k",), counted=False).add(np.array([1, 1], dtype=np.uint64),
                                              [pa.array(["x", "z"])])
    codes = _HashCodes(("k",), counted=False, pending_max=1)
    codes.add(np.array([5, 7], dtype=np.uint64), [pa.array(["x", "y"])])
    with pytest.raises(HashCollision):  # against a run
        codes.add(np.array([7], dtype=np.uint64), [pa.array(["not y"])])


def test_cli_pairs_out_streams(campaign: tuple[Workspace, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lockstep.cli import app

    ws, _ = campaign
    out = tmp_path / "cli.parquet"
    r = CliRunner().invoke(app, ["--workspace", str(ws.path), "pairs", "--signal", "co-link",
                                 "--window", "30", "--out", str(out)])
    assert r.exit_code == 0, r.output
    det = CoActionDetector(object_type="url", window=30).fit(ws)
    assert f"{det.edges_.num_rows:,} pairs written" in r.output
    _same(_read(out), _expected(det, False, "parquet"))


def test_count_rows_equals_the_full_count_on_any_ranges() -> None:
    # the lean stream recounts candidates a range of rows at a time, over only the rows the
    # range can pair with; that must give exactly what one count over everything gives
    from lockstep.detectors.sweep import count_candidates, count_candidates_range

    rng = np.random.default_rng(0)
    for _ in range(200):
        n_obj = int(rng.integers(1, 30))
        sizes = rng.integers(1, 60, n_obj)
        sizes[rng.integers(n_obj)] = rng.integers(1, 400)  # one large object across ranges
        o = np.repeat(np.arange(n_obj), sizes)
        t = np.concatenate([np.sort(rng.integers(0, int(rng.integers(1, 500)), s))
                            for s in sizes]).astype(np.int64)
        w = int(rng.integers(0, 50))
        full, starts, _ = count_candidates(o, t, w, dtype=np.int32)
        cuts = np.unique(np.r_[0, rng.integers(0, len(o), 5), len(o)])
        got = np.concatenate([count_candidates_range(o, t, w, starts, int(a), int(b))
                              for a, b in zip(cuts[:-1], cuts[1:])])
        assert np.array_equal(got, full)


def test_a_file_read_directly_keeps_long_rows_and_refuses_broken_ones(tmp_path: Path) -> None:
    """Issue 13: DuckDB drops a CSV line longer than its buffer without a word; a row of
    3 MB must count, one over the record limit or a parser stop must be one clear error."""
    from lockstep.readers.base import MAX_RECORD_BYTES

    path = tmp_path / "events.csv"
    long_text = "w" * 3_000_000
    path.write_text("platform,event_id,account_id,timestamp,reposted_id,text\n"
                    f"x,e1,a,1650000000,P,{long_text}\nx,e2,b,1650000010,P,short\n",
                    encoding="utf-8")
    assert write_pairs(path, tmp_path / "p.csv", window=60)["edges"] == 1
    huge = tmp_path / "huge.csv"
    huge.write_text("platform,event_id,account_id,timestamp,reposted_id,text\n"
                    f"x,e1,a,1650000000,P,{'w' * (MAX_RECORD_BYTES + 10)}\n"
                    "x,e2,b,1650000010,P,short\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"huge\.csv:2"):
        write_pairs(huge, tmp_path / "q.csv", window=60)
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"platform,event_id,account_id,timestamp,reposted_id\r\n"
                      b"x,e1,a,1650000000,P\nx,e2,b,1650000010,P\r\nx,e3,c,1650000020,P\n")
    with pytest.raises(BadInputError, match="mixed.csv"):
        write_pairs(mixed, tmp_path / "r.csv", window=60)
    assert not (tmp_path / "q.csv").exists() and not (tmp_path / "r.csv").exists()
