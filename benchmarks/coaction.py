"""Co-repost pairs: Lockstep against coordination-network-toolkit 1.5.2, same input file.

Issue 3: "benchmarks/coaction.py runs coordination-network-toolkit and Lockstep on the same 1M
and 10M-row data with viral objects in it (co-repost, 60 s window, minimum weight 1, pairs
written to a file): identical pair sets, and Lockstep end to end (read the file, compute,
write the pairs) at least 10x faster at 1M rows and 20x at 10M rows, with no more peak
memory. Print the ratios."

Data (:func:`make_data`): blocks of one million rows, one simulated week each (so 10M rows
are ten weeks of the same activity, not ten times denser weeks): Zipf-popular posts re-shared
by random accounts (the most popular post of a week has ~120k re-shares), five viral posts
with 2,000 re-shares each within about an hour, and 20 planted groups of 50 accounts that
re-share 100 posts each within 30 s (three of them also boost viral posts). Accounts
(``rows / 5``) are drawn from one pool across weeks. The 1M set is the one measured before
(30,168,409 pairs).

Each side runs in its own child process, end to end from one CSV of the same rows:

- the toolkit reads its positional CSV into SQLite (``preprocess_csv_files``), computes
  co-retweet on 2 processes (``compute_co_retweet_parallel``) and writes its edges through
  its Python API (``get_edge_rows``, self-loops dropped; its CSV export is broken in 1.5.2):
  ``user_1, user_2, weight, co_retweet``, one row per direction;
- Lockstep reads the generic events CSV directly, without a workspace (DuckDB streams it
  through the ingest's typing SQL; see :mod:`lockstep.detectors._filerows`), and streams the
  pairs to a file (:func:`lockstep.detectors.coaction_io.write_pairs`), CSV and/or Parquet:
  ``platform_a, account_a, platform_b, account_b, signal, weight, support, first_seen,
  last_seen, median_delta_s``, one row per pair.

Peak memory: the largest sum over the child's process tree (the toolkit runs four
processes) of the proportional set size (PSS: a page shared by k processes counts 1/k),
sampled at 10 Hz from ``/proc/<pid>/smaps_rollup``; also shown: the anonymous part of it
(data, without library code), the peak RSS sum, and the largest single-process RSS (exact,
from ``wait4``). The toolkit's weights are directed and it pairs accounts with itself, so
pair sets are compared as unordered account pairs without self-pairs: count, XOR and sum of
DuckDB hashes of each file's pairs (one streaming pass, no sort), and the toolkit's two
directions are checked to match each other.

If the toolkit runs past ``--toolkit-timeout`` it is stopped: its compute time is then
extrapolated from its own progress lines (it reports every few of its ~20 user batches) and
its write time from the 1M run's seconds per row written; such figures are marked
EXTRAPOLATED and no pair-set comparison is made.

Timings come from a shared machine (2 cores, other work running; the load is printed):
compare the ratios, not the seconds, with figures from elsewhere.

Usage: ``python benchmarks/coaction.py --rows 1000000 [--rows 10000000]``. At 10M rows the
toolkit takes about 50 minutes here (session 5: 2,987 s) and writes 18.6 GB of edges; keep
about 60 GB of disk free (its SQLite database reaches 31 GB while it writes).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

BLOCK = 1_000_000


def make_data(n: int, out: Path, seed: int = 7) -> Path:
    """Write ``n`` rows of co-reposts (generic ``events.csv`` and the toolkit's CSV)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out.mkdir(parents=True, exist_ok=True)
    ev_schema = pa.schema([(c, pa.string()) for c in _EV_COLS])
    tk_schema = pa.schema([(c, pa.string()) for c in _TK_COLS])
    n_acc = n // 5
    ev_opts = pacsv.WriteOptions(include_header=True)
    tk_opts = pacsv.WriteOptions(include_header=False)
    done = 0
    with pacsv.CSVWriter(out / "events.csv.tmp", ev_schema, write_options=ev_opts) as ev, \
            pacsv.CSVWriter(out / "toolkit.csv.tmp", tk_schema, write_options=tk_opts) as tk:
        for b in range(-(-n // BLOCK)):
            rows = min(BLOCK, n - b * BLOCK)
            o, t, a = _block(rows, n_acc, np.random.default_rng(seed + b))
            o += b * (BLOCK // 10 + 5)
            t += b * _SPAN
            ids = pa.array(np.char.add("e", np.arange(done, done + len(o)).astype(str)))
            accs = pa.array(np.char.add("u", a.astype(str)))
            posts = pa.array(np.char.add("p", o.astype(str)))
            ts = pa.array(t.astype(str))
            m = len(o)
            ev.write_table(pa.table([pa.array(np.full(m, "x")), ids, accs, ts,
                                     pa.array(np.full(m, "repost")), posts], schema=ev_schema))
            empty = pa.array(np.full(m, ""))
            tk.write_table(pa.table([ids, accs, accs, posts, empty, empty, ts, empty],
                                    schema=tk_schema))
            done += m
    (out / "events.csv.tmp").replace(out / "events.csv")
    (out / "toolkit.csv.tmp").replace(out / "toolkit.csv")
    return out


_SPAN = 86400 * 7
_EV_COLS = ("platform", "event_id", "account_id", "timestamp", "action", "reposted_id")
_TK_COLS = ("message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp",
            "urls")


def _block(n: int, n_acc: int, rng):  # type: ignore[no-untyped-def]
    """One simulated week: (post, UNIX second, account) per re-share, shuffled."""
    import numpy as np

    n_obj, span = n // 10, _SPAN
    n_viral, viral_size = 5, n // 500
    n_groups, gsize, gobj = 20, 50, 100
    organic = n - n_viral * viral_size - n_groups * gsize * gobj
    w = 1.0 / np.arange(1, n_obj + 1) ** 1.1
    pop = rng.choice(n_obj, organic, p=w / w.sum())
    burst = rng.integers(0, span, n_obj)
    parts_o = [pop, np.repeat(np.arange(n_obj, n_obj + n_viral), viral_size)]
    parts_t = [burst[pop] + rng.exponential(6 * 3600, organic).astype(np.int64),
               np.repeat(rng.integers(0, span, n_viral), viral_size)
               + rng.exponential(3600, n_viral * viral_size).astype(np.int64)]
    parts_a = [rng.integers(0, n_acc, organic), rng.integers(0, n_acc, n_viral * viral_size)]
    for g in range(n_groups):
        members = rng.choice(n_acc, gsize, replace=False)
        objs = rng.integers(0, n_obj, gobj)
        if g < 3:
            objs[:5] = n_obj + rng.integers(0, n_viral, 5)
        for o in objs:
            parts_o.append(np.full(gsize, o))
            parts_t.append(rng.integers(0, span) + rng.integers(0, 30, gsize))
            parts_a.append(members)
    o, t, a = (np.concatenate(x) for x in (parts_o, parts_t, parts_a))
    perm = rng.permutation(len(o))
    return o[perm], t[perm] + 1_600_000_000, a[perm]


TOOLKIT = textwrap.dedent("""
    import contextlib, csv, json, os, sys, time
    from coordination_network_toolkit.compute_networks import compute_co_retweet_parallel
    from coordination_network_toolkit.graph import get_edge_rows
    from coordination_network_toolkit.preprocess import preprocess_csv_files
    d, window, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    db = os.path.join(d, "toolkit.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    t0 = time.perf_counter()

    class Progress:  # its progress lines, each with the seconds since the start
        def __init__(self):
            self.fh = open(log, "w", buffering=1)
        def write(self, s):
            for line in s.splitlines():
                if line.strip():
                    self.fh.write(f"{time.perf_counter() - t0:.2f} {line}\\n")
        def flush(self):
            self.fh.flush()

    with contextlib.redirect_stdout(Progress()):
        preprocess_csv_files(db, [os.path.join(d, "toolkit.csv")])
        t1 = time.perf_counter()
        print("read done")
        compute_co_retweet_parallel(db, window, n_threads=2, min_edge_weight=1)
        t2 = time.perf_counter()
        print("compute done")
        n = 0
        with open(os.path.join(d, "toolkit_edges.csv"), "w", newline="") as f:
            w = csv.writer(f)
            for row in get_edge_rows(db, "co_retweet"):
                w.writerow(row)
                n += 1
    t3 = time.perf_counter()
    print(json.dumps({"read": t1 - t0, "compute": t2 - t1, "write": t3 - t2, "total": t3 - t0,
                      "rows_written": n}))
""")

LOCKSTEP = textwrap.dedent("""
    import json, os, sys, time
    t0 = time.perf_counter()
    from lockstep.detectors.coaction_io import write_pairs
    d, window, fmt, mem = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    out = os.path.join(d, "lockstep_pairs." + fmt)
    st = write_pairs(os.path.join(d, "events.csv"), out, signal="co-repost", window=window,
                     min_weight=1, fmt=fmt, memory_mb=mem)
    t1 = time.perf_counter()
    sec = st["seconds"]
    print(json.dumps({"read": sec["stage"], "compute": sec["count"] + sec["emit"],
                      "write": sec["reduce_write"], "total": t1 - t0, "edges": st["edges"],
                      "seconds": sec}))
""")


def _rollup(pid: int) -> tuple[int, int, int]:
    """(Pss, Rss, Pss_Anon) of one process in KiB, from /proc/<pid>/smaps_rollup."""
    got = {"Pss": 0, "Rss": 0, "Pss_Anon": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name in got:
                    got[name] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return got["Pss"], got["Rss"], got["Pss_Anon"]


def _run(argv: list[str], timeout: float | None = None) -> dict:
    """Run ``argv``; sample the memory of its process tree at 10 Hz until it ends."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = [0, 0, 0]
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        sums = [sum(x) for x in zip(*(_rollup(p.pid) for p in tree))] if tree else [0, 0, 0]
        peak = [max(a, b) for a, b in zip(peak, sums)]
        if timeout and not killed and time.perf_counter() - start > timeout:
            for p in tree[::-1]:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            killed = True
        time.sleep(0.1)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0 and not killed:
        raise SystemExit(f"{argv[:3]} failed ({rc}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1]) if not killed else {}
    res.update(peak_pss_mb=peak[0] / 1024, peak_rss_sum_mb=peak[1] / 1024,
               peak_anon_mb=peak[2] / 1024, max_rss_mb=usage.ru_maxrss / 1024,
               wall=time.perf_counter() - start, killed=killed)
    return res


def _extrapolate(res: dict, log: Path, ref: dict | None, pairs: int) -> dict:
    """Toolkit figures from its progress log when it was stopped (marked as such): compute
    time from its batches done, write time from the 1M run's seconds per row written times
    the rows it would write here (two per pair: it writes both directions)."""
    lines = [ln.split(" ", 1) for ln in log.read_text().splitlines()]
    read = next((float(t) for t, m in lines if m == "read done"), None)
    done = [(float(t), m) for t, m in lines if m.startswith("Completed ")]
    if read is None or not done:
        raise SystemExit(f"toolkit stopped before any progress; see {log}")
    t_last, msg = done[-1]
    k, total = (int(x) for x in msg.split()[1::2])
    finished = next((float(t) for t, m in lines if m == "compute done"), None)
    compute = finished - read if finished is not None else (t_last - read) * total / k
    per_row = ref["write"] / ref["rows_written"] if ref and ref.get("rows_written") else None
    write = per_row * 2 * pairs if per_row and pairs else float("nan")
    how_write = f"write of {2 * pairs:,} rows at the 1M rate"
    edges = log.parent / "toolkit_edges.csv"
    ref_edges = log.parent.parent / f"rows-{BLOCK}" / "toolkit_edges.csv"
    if (finished is not None and edges.exists() and ref_edges.exists() and ref
            and ref.get("rows_written") and pairs and (res.get("wall") or 0) > finished + 60):
        # it was writing when stopped: its own write rate here, in bytes per second
        rate = edges.stat().st_size / (res["wall"] - finished)
        row_bytes = ref_edges.stat().st_size / ref["rows_written"]
        write = 2 * pairs * row_bytes / rate
        how_write = (f"write of {2 * pairs:,} rows at its measured rate here "
                     f"({rate / 2**20:.1f} MiB/s over {res['wall'] - finished:.0f} s)")
    res = dict(res)
    how = ("compute measured (it finished), " if finished is not None else
           f"stopped at {k}/{total} batches after {t_last:.0f} s: compute x{total}/{k}, ")
    res.update(read=read, compute=compute, write=write, total=read + compute + write,
               extrapolated=how + how_write)
    return res


COMPARE = textwrap.dedent("""
    import duckdb, json, sys
    tk, ls = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'; SET threads = 2; SET enable_progress_bar = false")
    agg = "count(*), bit_xor(h), sum(h % 1000000007)"
    t = con.execute(f"SELECT {agg}, count(*) FILTER (x) FROM (SELECT hash(least(column0, column1), "
                    f"greatest(column0, column1)) AS h, column0 < column1 AS x FROM read_csv('{tk}', "
                    "header=false, all_varchar=true) WHERE column0 <> column1) WHERE x").fetchall()[0]
    back = con.execute(f"SELECT {agg} FROM (SELECT hash(column1, column0) AS h FROM "
                       f"read_csv('{tk}', header=false, all_varchar=true) "
                       "WHERE column0 > column1)").fetchall()[0]
    src = (f"read_parquet('{ls}')" if ls.endswith(".parquet")
           else f"read_csv('{ls}', header=true, all_varchar=true)")
    l = con.execute(f"SELECT {agg} FROM (SELECT hash(least(account_a, account_b), "
                    f"greatest(account_a, account_b)) AS h FROM {src})").fetchall()[0]
    print(json.dumps({"toolkit": [str(x) for x in t[:3]], "toolkit_back": [str(x) for x in back],
                      "lockstep": [str(x) for x in l], "pairs": int(l[0])}))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, action="append", help="rows of data (repeatable); default 1M")
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--dir", type=Path, default=Path("bench-data/coaction"))
    ap.add_argument("--format", default="csv,parquet",
                    help="Lockstep's pair file(s): csv, parquet or both (comma-separated)")
    ap.add_argument("--memory-mb", type=int, default=64, help="Lockstep's working memory")
    ap.add_argument("--toolkit-timeout", type=float, default=5400,
                    help="seconds before the toolkit is stopped and extrapolated")
    ap.add_argument("--reuse-toolkit", action="store_true",
                    help="reuse toolkit.json (and its edges) from an earlier run in the folder")
    ap.add_argument("--reuse-lockstep", action="store_true",
                    help="reuse lockstep-<format>.json (and its pairs) from an earlier run")
    ap.add_argument("--only", choices=("toolkit", "lockstep"), help="run one side only")
    ap.add_argument("--make-data", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_data:
        make_data(args.make_data, args.dir)
        return
    py = sys.executable
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    for n in args.rows or [1_000_000]:
        d = args.dir / f"rows-{n}"
        if not (d / "events.csv").exists():
            subprocess.run([py, __file__, "--make-data", str(n), "--dir", str(d)], check=True)
        theirs: dict | None = None
        if args.reuse_toolkit and (d / "toolkit.json").exists():
            theirs = json.loads((d / "toolkit.json").read_text())
        elif args.only != "lockstep":
            theirs = _run([py, "-c", TOOLKIT, str(d), str(args.window),
                           str(d / "toolkit_progress.log")], args.toolkit_timeout)
            (d / "toolkit.json").write_text(json.dumps(theirs, indent=1))
            for p in (d / "toolkit.db", d / "toolkit.db-wal", d / "toolkit.db-shm"):
                p.unlink(missing_ok=True)  # several GB at 10M rows
        ours: dict[str, dict] = {}
        if args.only != "toolkit":
            for fmt in formats:
                if args.reuse_lockstep and (d / f"lockstep-{fmt}.json").exists():
                    ours[fmt] = json.loads((d / f"lockstep-{fmt}.json").read_text())
                    continue
                ours[fmt] = _run([py, "-c", LOCKSTEP, str(d), str(args.window), fmt,
                                  str(args.memory_mb)])
                (d / f"lockstep-{fmt}.json").write_text(json.dumps(ours[fmt], indent=1))
        if theirs and theirs.get("killed"):
            ref_path = args.dir / f"rows-{BLOCK}" / "toolkit.json"
            ref = json.loads(ref_path.read_text()) if ref_path.exists() else None
            pairs = next((int(r["edges"]) for r in ours.values()), 0)
            theirs = _extrapolate(theirs, d / "toolkit_progress.log", ref, pairs)
        _report(n, args, d, theirs, ours)


def _report(n: int, args: argparse.Namespace, d: Path, theirs: dict | None,
            ours: dict[str, dict]) -> None:
    load = os.getloadavg()
    print(f"\n{n:,} rows, co-repost, window {args.window:g} s, min weight 1; shared 2-core "
          f"machine (load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}); Lockstep memory_mb "
          f"{args.memory_mb}, input read directly from events.csv")
    print(f"{'':32}{'read':>8}{'compute':>9}{'write':>8}{'total s':>9}{'peak PSS':>10}"
          f"{'anon':>7}{'RSS sum':>9}{'max RSS':>9}  MiB")
    rows = ([("coordination-network-toolkit", theirs)] if theirs else []) + [
        (f"lockstep ({fmt})", r) for fmt, r in ours.items()]
    for name, r in rows:
        print(f"{name:32}{r['read']:>8.1f}{r['compute']:>9.1f}{r['write']:>8.1f}"
              f"{r['total']:>9.1f}{r['peak_pss_mb']:>10,.0f}{r.get('peak_anon_mb', 0):>7,.0f}"
              f"{r['peak_rss_sum_mb']:>9,.0f}{r['max_rss_mb']:>9,.0f}")
    if theirs and theirs.get("extrapolated"):
        print(f"  toolkit EXTRAPOLATED: {theirs['extrapolated']}; its peak memory is that of "
              "the part it ran")
    if theirs and theirs.get("note"):
        print(f"  toolkit note: {theirs['note']}")
    if not (theirs and ours):
        return
    target = 10 if n < 5_000_000 else 20
    for fmt, r in ours.items():
        if not theirs.get("extrapolated") and (d / "toolkit_edges.csv").exists():
            cmp = json.loads(subprocess.run(
                [sys.executable, "-c", COMPARE, str(d / "toolkit_edges.csv"),
                 str(d / f"lockstep_pairs.{fmt}")], check=True, capture_output=True,
                text=True).stdout.strip().splitlines()[-1])
            same = cmp["toolkit"] == cmp["lockstep"]
            sym = cmp["toolkit"] == cmp["toolkit_back"]
            print(f"[{fmt}] pair sets: {'identical' if same else 'DIFFERENT'} "
                  f"({cmp['pairs']:,} Lockstep pairs, {int(cmp['toolkit'][0]):,} toolkit "
                  f"unordered pairs; count, XOR and sum of pair hashes"
                  f"{'' if sym else '; the toolkit directions DIFFER'})")
        else:
            print(f"[{fmt}] pair sets: not compared (the toolkit did not finish)")
        speed = theirs["total"] / r["total"]
        mem = r["peak_pss_mb"] / theirs["peak_pss_mb"]
        print(f"[{fmt}] speed-up {speed:.1f}x (target >= {target}x: "
              f"{'met' if speed >= target else 'NOT met'}); peak PSS lockstep/toolkit "
              f"{mem:.2f} (target <= 1: {'met' if mem <= 1 else 'NOT met'})"
              + (" [toolkit time extrapolated]" if theirs.get("extrapolated") else ""))


if __name__ == "__main__":
    main()
