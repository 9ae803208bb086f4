"""Co-action pairs streamed to a file, bucket by bucket, in bounded memory.

:func:`write_pairs` (and :meth:`CoActionDetector.write_pairs
<lockstep.detectors.CoActionDetector.write_pairs>`) computes exactly the edges of
``CoActionDetector(...).fit(ws).edges_`` (same pairs, weights, supports, first/last seen and
median deltas, same order) but writes each key-range bucket to the file as soon as it is
reduced, so the edge table never exists in memory. Memory is the staged rows (12 to 16 bytes
per row of an object acted on at least twice) and the accounts' ids, plus ``memory_mb``:
DuckDB's limit while staging, the candidate pairs held before they wait on disk (8 bytes a
pair, one file per key range, in the temporary directory) and the buckets in flight.

Files:

- ``csv``: the columns of :data:`lockstep.pairs.PAIR_COLUMNS` (``platform_a, account_a,
  platform_b, account_b, signal, weight, support, first_seen, last_seen, median_delta_s``),
  plus ``evidence`` (space-separated ``event_a|event_b`` ids, at most ``max_evidence`` per
  pair) when asked; a header row; times ISO 8601 UTC with ``Z``, with microseconds only when
  some staged time has a fraction of a second; fields quoted only when an id needs it. This is
  the format of :func:`lockstep.pairs.write_pairs` (which prints ``7.0`` where this prints
  ``7``: the same number).
- ``parquet``: the same columns, typed as in :data:`~lockstep.detectors.base.EDGE_SCHEMA`
  (``evidence`` a list of strings), snappy, row groups of ~128k pairs.

``expected`` and ``p_value`` are not written (the null model needs every row's account
degree; use :meth:`~lockstep.detectors.CoActionDetector.fit` for them).

Input: a workspace, or one events file in the generic format (CSV or Parquet) read directly,
without ingest: nothing is stored, the ingest's typing SQL checks every row (a bad row stops
the run), and rows are used as they are (ingest would also drop repeated event ids and
compute URL domains: ``co-domain`` needs a workspace).

Fast path (post, reply and venue objects: one object per event, so no event pair repeats
through two objects; without evidence or sampling): only integer codes are staged
(:func:`~lockstep.detectors.sweep.stage_lean` from a workspace,
:func:`~lockstep.detectors._filerows._stage_file` from a file, in one or two streaming
passes), per-row candidate counts are recounted a window at a time instead of kept, and
buckets are reduced without evidence (:func:`~lockstep.detectors.sweep.reduce_bucket_lean`).
Otherwise the rows are staged as for ``fit`` (from a file through :func:`_file_connection`).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lockstep import spill
from lockstep._memory import libc, release_memory
from lockstep.detectors._filerows import HashCollision, _stage_file
from lockstep.detectors.base import EDGE_SCHEMA, Laps, as_workspace, check_int
from lockstep.detectors.sweep import (
    EMIT_STEP,
    SCALAR_TYPES,
    SIGNALS,
    THREADS,
    Buckets,
    Rows,
    bounded_map,
    check_disk,
    count_candidates,
    count_candidates_range,
    describe_largest,
    drop_unshared,
    emit_pairs,
    estimate_window,
    load_buckets,
    reduce_bucket,
    reduce_bucket_lean,
    report_split,
    stage_lean,
    stage_rows,
    thin_popular,
)
from lockstep.exceptions import UsageError
from lockstep.pairs import PAIR_COLUMNS
from lockstep.spreadsheet import FORMULA_START
from lockstep.sql import literal

if TYPE_CHECKING:
    import duckdb

    from lockstep.detectors.coaction import CoActionDetector
    from lockstep.workspace import Workspace

__all__ = ["write_pairs", "stream_pairs", "FILE_COLUMNS", "FORMATS"]

#: Columns of a pairs file (``evidence`` is added when asked for).
FILE_COLUMNS = PAIR_COLUMNS
#: File formats :func:`write_pairs` writes.
FORMATS = ("csv", "parquet")

_US = 1_000_000
_TS = pa.timestamp("us", tz="UTC")
_NEEDS_QUOTES = r'[",\r\n]'
# working bytes per pair of a bucket being reduced and written (measured at 1M rows: a
# CSV bucket peaks at about 800 bytes a pair with its text; 200 let the buckets in flight
# take twice the memory asked for)
_PAIR_BYTES_REDUCE = 800
_MMAP_WRITE = 4 << 20  # malloc's mmap threshold while buckets are reduced and written
_GROUP_MAX = 8  # buckets loaded at once (the output of a group waits whole to be written)
_ROW_GROUP = 1 << 17  # Parquet rows per row group (about)


def write_pairs(workspace: Workspace | str | Path, path: str | Path, *,
                signal: str = "co-repost", window: float | None = 60, min_weight: int = 1,
                fmt: str | None = None, evidence: bool = False, memory_mb: int = 256,
                raw: bool = False, **params: Any) -> dict[str, Any]:
    """Stream the pair edges of one co-action signal to a CSV or Parquet file.

    Parameters
    ----------
    workspace : Workspace or path
    path : path
        The file to write (replaced atomically when complete).
    signal : str, default "co-repost"
        ``co-repost``, ``co-link``, ``co-reply``, ... (see :data:`~lockstep.detectors.SIGNALS`).
    window : float or None, default 60
        Seconds, inclusive; ``None`` chooses it from the data (CooRnet's rule).
    min_weight : int, default 1
    fmt : {"csv", "parquet"} or None
        ``None``: Parquet when ``path`` ends in ``.parquet`` or ``.pq``, CSV otherwise.
    evidence : bool, default False
        Add the first ``max_evidence`` event pairs of each edge.
    memory_mb : int, default 256
        Working memory beyond the staged rows: DuckDB's limit while staging, the candidate
        pairs held before spilling to disk, and the buckets being reduced and written.
    **params
        Other :class:`~lockstep.detectors.CoActionDetector` parameters (``max_evidence``,
        ``pair_budget``, ``popular_threshold``, ``random_state``).
    raw : bool, default False
        Write a CSV's ids exactly; by default an id a spreadsheet would run as a formula gets
        a ``'`` in front (:mod:`lockstep.spreadsheet`, reversible).

    Returns
    -------
    dict
        What was done: ``edges`` (rows written), ``path``, ``format``, the detector's counts
        (``rows``, ``accounts``, ``candidate_pairs``, ``event_pairs``, ...), ``buckets``,
        ``spilled_pairs`` and ``seconds`` per stage.

    Examples
    --------
    >>> import tempfile
    >>> import lockstep
    >>> from lockstep.detectors.coaction_io import write_pairs
    >>> from lockstep.ingestion import ingest
    >>> from lockstep.testing import make_campaign
    >>> tmp = tempfile.mkdtemp()
    >>> ws = lockstep.open_workspace(tmp + "/ws")
    >>> _ = ingest(ws, [make_campaign(tmp, seed=1)])
    >>> write_pairs(ws, tmp + "/pairs.csv", window=30, min_weight=3)["edges"] > 0
    True
    """
    from lockstep.detectors import get_detector

    det = get_detector(signal, window=window, min_weight=min_weight, **params)
    return stream_pairs(det, workspace, path, fmt=fmt, evidence=evidence,  # type: ignore[arg-type]
                        memory_mb=memory_mb, raw=raw)


def stream_pairs(det: CoActionDetector, workspace: Workspace | str | Path, path: str | Path,
                 *, fmt: str | None = None, evidence: bool = False,
                 memory_mb: int = 256, raw: bool = False) -> dict[str, Any]:
    """:func:`write_pairs` with the parameters of ``det`` (what
    :meth:`CoActionDetector.write_pairs` runs).

    While it runs, Arrow allocates from the system allocator (restored after), and glibc's
    malloc is set to map blocks over 256 KiB separately (4 MiB while the small buckets are
    reduced and written, so their blocks are reused instead of faulted in afresh: that was
    half the system time) and to trim its heap above 1 MiB (``mallopt``; this stays for the
    process): the default allocators keep freed memory for reuse, which on this workload is
    most of the peak.
    """
    _tune_malloc()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return _stream_pairs(det, workspace, path, fmt=fmt, evidence=evidence,
                             memory_mb=memory_mb, raw=raw)
    finally:
        pa.set_memory_pool(previous)


def _stream_pairs(det: CoActionDetector, workspace: Workspace | str | Path, path: str | Path,
                  *, fmt: str | None, evidence: bool, memory_mb: int,
                  raw: bool = False) -> dict[str, Any]:
    det._validate_params()
    check_int("memory_mb", memory_mb, 16)
    path = Path(path)
    if fmt is None:
        fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    if fmt not in FORMATS:
        raise UsageError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    budget = memory_mb << 20
    start = time.perf_counter()
    lap = Laps()

    otype = det.object_type
    lean = otype in SCALAR_TYPES and not evidence and det.popular_threshold is None
    limit = f"{max(64, memory_mb)}MB"  # staging and the sweep do not overlap
    source = str(workspace)
    rows: Rows | None = None
    con = None
    if isinstance(workspace, (str, Path)) and Path(workspace).is_file():
        if otype == "domain":
            raise UsageError("co-domain needs the registered domains that ingest computes: "
                             "ingest the file into a workspace first")
        if lean:
            try:
                rows, counts = _stage_file(Path(workspace), otype, threads=THREADS,
                                           keep_bytes=budget // 4)
            except HashCollision:
                pass
        if rows is None:
            con = _file_connection(Path(workspace), limit, THREADS)
    else:
        ws = as_workspace(workspace)
        con = ws.connect(memory_limit=limit, threads=THREADS)
        source = str(ws.path)
    tmp_root = tempfile.gettempdir()
    if con is not None:
        try:
            tmp_root = (con.execute("SELECT current_setting('temp_directory')").fetchone()
                        or [None])[0] or tmp_root
            if lean:
                rows, counts = stage_lean(con, otype)
            else:
                rows = stage_rows(con, otype)
                counts = {"rows": int(len(rows.o)), "accounts": len(rows.acc_id),
                          "objects": len(rows.obj_id)}
        finally:
            con.close()
    assert rows is not None
    release_memory()
    lap("stage")
    stats: dict[str, Any] = {
        "signal": SIGNALS[otype], "object_type": otype, **counts, "source": source,
        "path": str(path),
        "format": fmt, "evidence": evidence, "memory_mb": memory_mb, "lean": lean,
        "pair_budget": det.pair_budget, "popular_threshold": det.popular_threshold}
    if det.window is None:
        window_s, rule = estimate_window(rows.o, rows.t.astype(np.int64) * rows.t_scale)
    else:
        window_s, rule = float(det.window), "given"
    wus = int(round(window_s * _US))
    stats.update(window_s=wus / _US, window_us=wus, window_rule=rule)
    if not lean:
        rows = drop_unshared(rows)
    small = np.int32 if len(rows.o) < (1 << 31) else np.int64
    cand, obj_starts, obj_cand = count_candidates(rows.o, rows.t, wus // rows.t_scale,
                                                  dtype=small)
    stats.update(objects_shared=int(len(obj_starts)), candidate_pairs=int(cand.sum()),
                 largest_objects=describe_largest(rows, obj_starts, obj_cand))
    if not lean:
        rows, (cand, obj_starts, obj_cand) = thin_popular(
            rows, (cand, obj_starts, obj_cand), wus // rows.t_scale, stats,
            threshold=det.popular_threshold, seed=det.random_state, dtype=small)
        report_split(rows, obj_starts, obj_cand, stats, det.pair_budget)
    else:
        stats.update(popular_objects=[], popular_objects_count=0, exact=True)
        del cand  # recounted while emitting
        cand = None
    lap("count")

    # pairs held before spilling, per emission step and per bucket: from memory_mb, and never
    # more than pair_budget (which therefore also forces small steps and many buckets)
    mem_pairs = max(1 << 10, min(det.pair_budget, budget // 4 // 8))
    step = max(1 << 10, min(EMIT_STEP, mem_pairs, budget // 8 // 64))
    bucket_pairs = max(1 << 10, min(det.pair_budget,
                                    budget // (THREADS + 2) // _PAIR_BYTES_REDUCE))
    spill_dir = spill.spill_dir("coaction", tmp_root)
    total = int(stats["candidate_pairs"]) if cand is None else int(cand.sum())
    # refused before anything is written: the candidates are counted exactly
    check_disk(rows, obj_starts, obj_cand, total, mem_pairs, Path(tmp_root),
               disk_mb=det.disk_mb, signal=SIGNALS[otype], window=det.window)
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sets: list[Buckets] = []
    try:
        sets = [Buckets(rows.a, len(rows.acc_id), total, len(rows.o), mem_pairs // THREADS,
                        spill_dir / str(i), bucket_pairs) for i in range(THREADS)]
        if lean:  # the per-row counts are recounted a window at a time, not kept
            emit_pairs(rows, partial(count_candidates_range, rows.o, rows.t,
                                     wus // rows.t_scale, obj_starts, dtype=small),
                       sets, step, stats, obj_starts=obj_starts, obj_cand=obj_cand)
        else:
            emit_pairs(rows, cand, sets, step, stats, obj_starts=obj_starts, obj_cand=obj_cand)
        del cand, obj_starts, obj_cand
        for bs in sets:
            if bs.held and any(x.spills for x in sets):
                bs.spill()  # the reduce phase then holds only the buckets in flight
        release_memory()
        lap("emit")
        stats["spilled_pairs"] = sum(bs.spilled_pairs for bs in sets)
        stats["spills"] = sum(bs.spills for bs in sets)
        # while buckets are reduced and written, blocks up to _MMAP_WRITE come from the heap
        # and are reused bucket after bucket: mapping and faulting in fresh pages for each
        # one cost as much system time as the work itself (buckets are small, so the heap
        # stays small)
        _tune_malloc(_MMAP_WRITE)
        try:
            n_edges, n_pairs = _write(det, rows, sets, tmp_path, fmt, evidence, stats, raw)
        finally:
            _tune_malloc()
        tmp_path.replace(path)
    finally:
        for bs in sets:
            bs.close()
        shutil.rmtree(spill_dir, ignore_errors=True)
        tmp_path.unlink(missing_ok=True)
    lap("reduce_write")
    secs = dict(lap.seconds, total=round(time.perf_counter() - start, 4))
    stats.update(event_pairs=n_pairs, edges=n_edges, seconds=secs)
    return stats


def _file_connection(path: Path, memory_limit: str, threads: int
                     ) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose ``events`` and ``objects`` views read one generic events
    file directly (typed and checked as ingest does; a bad row raises when scanned)."""
    import duckdb

    from lockstep.readers.generic import GenericReader
    from lockstep.readers.transform import install_transform_functions, typed_select
    from lockstep.schema import OBJECTS_VIEW_SQL, TABLE_COLUMNS, empty_select
    from lockstep.urls import install_url_functions, url_map_select

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {literal(memory_limit)}; "
                    f"SET threads = {int(threads)}; SET TimeZone = 'UTC'")
        spill.configure_duckdb(con)
        install_url_functions(con)
        install_transform_functions(con)
        GenericReader().load(con, "raw_events", path, "events", streaming=True)
        types = {n: t for n, t, *_ in con.execute("DESCRIBE raw_events").fetchall()}
        typed = typed_select("events", "raw_events", types, None, ord_expr="NULL::BIGINT")
        cols = ", ".join(c for c, _ in TABLE_COLUMNS["events"] if c != "ingest_id")
        bad = literal(f"lockstep: bad row in {path}: ")
        con.execute(f"CREATE TEMP VIEW events AS SELECT {cols}, NULL::VARCHAR AS ingest_id, "
                    f"platform FROM ({typed}) WHERE CASE WHEN _err IS NULL THEN true "
                    f"ELSE error({bad} || _err) END")
        for table in TABLE_COLUMNS:  # the other tables, empty (the objects view reads some)
            if table not in ("events", "url_map"):
                con.execute(f"CREATE TEMP VIEW {table} AS {empty_select(table)}")
        # URL keys computed here (a second scan of the file for co-link); no domains
        urls = url_map_select("SELECT DISTINCT unnest(urls) AS url FROM events "
                              "WHERE urls IS NOT NULL")
        con.execute(f"CREATE TEMP VIEW url_map AS SELECT url, url_key, host, "
                    f"NULL::VARCHAR AS domain, NULL::VARCHAR AS ingest_id FROM ({urls})")
        con.execute(f"CREATE TEMP VIEW objects AS {OBJECTS_VIEW_SQL}")
    except BaseException:
        con.close()
        raise
    return con


def _write(det: CoActionDetector, rows: Rows, sets: list[Buckets], path: Path, fmt: str,
           evidence: bool, stats: dict[str, Any], raw: bool = False) -> tuple[int, int]:
    """Load and reduce the buckets on worker threads, each into a file part (CSV text or an
    Arrow table), written in key order by this thread. A CSV's ids that a spreadsheet would
    run as formulas are neutralised once per distinct id (:mod:`lockstep.spreadsheet`)
    unless ``raw``."""
    n_acc = len(rows.acc_id)
    signal = SIGNALS[det.object_type]
    lean = rows.lean
    fraction = (rows.t_scale % _US != 0 and bool(len(rows.t))
                and bool(np.any((rows.t * rows.t_scale + rows.t_base) % _US)))
    csv_opts = None
    neutral = fmt == "csv" and not raw
    if neutral:  # each cell holds one id: neutralising the distinct ids neutralises the cells
        rows = replace(rows, acc_id=_neutral(rows.acc_id),
                       acc_platform=_neutral(rows.acc_platform))
    if fmt == "csv":
        ids = [rows.acc_id, rows.acc_platform] + ([rows.ev_id] if evidence else [])
        plain = not any(pc.any(pc.match_substring_regex(x, _NEEDS_QUOTES)).as_py()
                        for x in ids if len(x))
        csv_opts = pacsv.WriteOptions(include_header=False,
                                      quoting_style="none" if plain else "needed")
    max_ev = det.max_evidence if evidence else 0
    # buckets loaded together, one read per spill file for the group: with many spill files
    # (hundreds at 10M rows) one read per bucket and file cost more than the reduce
    n_files = sum(len(bs.files) for bs in sets)
    group = max(1, min(_GROUP_MAX, n_files // 16))
    stats["load_group"] = group

    def results() -> Iterator[tuple[int, int, pa.Table | pa.Buffer | None]]:
        for res in bounded_map(finish_group, range(0, sets[0].k, group), THREADS):
            yield from res

    def finish_group(b0: int) -> list[tuple[int, int, pa.Table | pa.Buffer | None]]:
        loaded = load_buckets(sets, b0, min(sets[0].k, b0 + group))
        out = []
        for i in range(len(loaded)):
            out.append(finish(loaded[i]))
            loaded[i] = None  # type: ignore[call-overload]
        return out

    def finish(bucket: Any) -> tuple[int, int, pa.Table | pa.Buffer | None]:
        if bucket is None:
            return 0, 0, None
        if lean:
            part = reduce_bucket_lean(*bucket, rows, det.min_weight)
        else:
            part = reduce_bucket(*bucket, rows, max_ev, det.min_weight)
        n = len(part["key"])
        if not n:
            return 0, int(part["event_pairs"]), None
        table = _file_table(part, rows, n_acc, signal, fmt, evidence, fraction, neutral)
        if csv_opts is None:
            return n, int(part["event_pairs"]), table
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, csv_opts)
        return n, int(part["event_pairs"]), sink.getvalue()

    n_edges = n_pairs = 0
    if fmt == "csv":
        with open(path, "wb") as fh:
            fh.write((",".join(FILE_COLUMNS + (("evidence",) if evidence else ())) + "\n")
                     .encode())
            for i, (n, m, buf) in enumerate(results()):
                n_edges += n
                n_pairs += m
                if buf is not None:
                    fh.write(buf)  # type: ignore[arg-type]
                if i % 16 == 15:
                    release_memory()
        return n_edges, n_pairs
    import pyarrow.parquet as pq

    schema = _file_schema(evidence)
    # dictionaries only where values repeat (account ids rarely do: building one is wasted);
    # buckets are gathered into row groups of ~128k rows (each row group keeps metadata in
    # the writer until it closes: one per small bucket adds up)
    held: list[pa.Table] = []
    n_held = 0
    # statistics where they help a reader skip row groups (account_a is sorted); string
    # statistics cost ~15% of the encoding
    with pq.ParquetWriter(path, schema, compression="snappy",
                          use_dictionary=["platform_a", "platform_b", "signal"],
                          write_statistics=["account_a", "weight", "support", "first_seen",
                                            "last_seen"]) as writer:
        for i, (n, m, table) in enumerate(results()):
            n_edges += n
            n_pairs += m
            if table is not None:
                held.append(table)  # type: ignore[arg-type]
                n_held += n
            if n_held >= _ROW_GROUP:
                writer.write_table(pa.concat_tables(held), row_group_size=n_held)
                held, n_held = [], 0
            if i % 16 == 15:
                release_memory()
        if held or n_edges == 0:
            writer.write_table(pa.concat_tables(held) if held else schema.empty_table())
    return n_edges, n_pairs


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _tune_malloc(mmap_threshold: int = 256 << 10) -> None:
    lib = libc()
    if lib is not None:
        lib.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        lib.mallopt(_M_TRIM_THRESHOLD, 1 << 20)


def _file_schema(evidence: bool) -> pa.Schema:
    names = FILE_COLUMNS + (("evidence",) if evidence else ())
    return pa.schema([EDGE_SCHEMA.field(c) for c in names])


def _neutral(values: pa.Array) -> pa.Array:
    """``values`` with a ``'`` before each that a spreadsheet would run as a formula."""
    if not len(values):
        return values
    hit = pc.match_substring_regex(values, FORMULA_START)
    if not pc.any(hit).as_py():
        return values
    return pc.if_else(hit, pc.binary_join_element_wise("'", values, ""), values)


def _file_table(p: dict[str, Any], rows: Rows, n_acc: int, signal: str, fmt: str,
                evidence: bool, fraction: bool, neutral: bool = False) -> pa.Table:
    """One bucket's edges with the file's columns (times as ISO text for CSV)."""
    n = len(p["key"])
    lo, hi = p["key"] // n_acc, p["key"] % n_acc
    plats = rows.acc_platform
    if len(plats) and plats[0] == plats[-1]:  # sorted: one platform only
        plat_a = plat_b = pa.repeat(plats[0], n)
    else:
        plat_a, plat_b = plats.take(lo), plats.take(hi)
    if fmt == "csv":
        first, last = _iso_utc(p["first"], fraction), _iso_utc(p["last"], fraction)
    else:
        first = pa.array(p["first"], type=pa.int64()).cast(_TS)
        last = pa.array(p["last"], type=pa.int64()).cast(_TS)
    cols = [plat_a, rows.acc_id.take(lo), plat_b, rows.acc_id.take(hi),
            pa.repeat(pa.scalar(signal), n), pa.array(p["weight"], type=pa.int64()),
            pa.array(p["support"], type=pa.int64()), first, last,
            pa.array(p["median_us"] / _US, type=pa.float64())]
    names = list(FILE_COLUMNS)
    if evidence:
        offsets = np.r_[0, np.cumsum(p["n_ev"])].astype(np.int32)
        ids = pc.binary_join_element_wise(rows.ev_id.take(p["ev_lo"]),
                                          rows.ev_id.take(p["ev_hi"]), "|")
        lists = pa.ListArray.from_arrays(pa.array(offsets), ids)
        cell = pc.binary_join(lists, " ") if fmt == "csv" else lists
        cols.append(_neutral(cell) if neutral else cell)
        names.append("evidence")
    return pa.table(cols, names=names)


_TOD: list[np.ndarray] = []


def _tod_table() -> np.ndarray:
    """``HH:MM:SS`` of each second of a day (86400 x 8 bytes), built once."""
    if not _TOD:
        sod = np.arange(86400)
        digits = np.empty((86400, 8), dtype=np.uint8)
        for col, val in ((0, sod // 36000), (1, sod // 3600 % 10), (3, sod // 600 % 6),
                         (4, sod // 60 % 10), (6, sod % 60 // 10), (7, sod % 10)):
            digits[:, col] = val + 48
        digits[:, 2] = digits[:, 5] = ord(":")
        _TOD.append(digits.view("S8").ravel())
    return _TOD[0]


def _iso_utc(us: np.ndarray, fraction: bool) -> pa.Array:
    """ISO 8601 UTC text of UNIX microseconds, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, built as
    fixed-width bytes (a day table and digit arithmetic: ~20x faster than strftime)."""
    n = len(us)
    sec = us // _US
    day = sec // 86400
    d0, d1 = int(day.min()), int(day.max())
    if d0 < -719162 or d1 > 2932896:  # outside years 0001-9999: let Arrow format them
        if fraction:  # %S of a microsecond timestamp has the fraction
            return pc.strftime(pa.array(us, type=pa.int64()).cast(_TS), "%Y-%m-%dT%H:%M:%SZ")
        return pc.strftime(pa.array(sec, type=pa.int64()).cast(pa.timestamp("s", tz="UTC")),
                           "%Y-%m-%dT%H:%M:%SZ")
    width = 27 if fraction else 20
    days = np.arange(d0, d1 + 1).astype("datetime64[D]").astype("S10")
    dtab = np.char.add(days, b"T")  # S11
    out = np.empty(n, dtype=np.dtype([("d", "S11"), ("t", "S8"), ("f", f"S{width - 19}")]))
    out["d"] = dtab[day - d0]
    out["t"] = _tod_table()[sec - day * 86400]
    if fraction:
        digits = np.empty((n, 8), dtype=np.uint8)
        digits[:, 0] = ord(".")
        digits[:, 7] = ord("Z")
        frac = us - sec * _US
        for k in range(6):
            digits[:, 6 - k] = frac % 10 + 48
            frac //= 10
        out["f"] = digits.view("S8").ravel()
    else:
        out["f"] = b"Z"
    buf = out.view(np.uint8)
    if n * width < (1 << 31):
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    offsets64 = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets64), pa.py_buffer(buf))
