"""Co-repost pairs: Lockstep against coordination-network-toolkit 1.5.2, same data, one run.

Issue: "benchmarks/coaction.py runs coordination-network-toolkit and Lockstep on the same 1M
and 10M-row data with viral objects in it (co-repost, 60 s window, minimum weight 1, pairs
written to a file): identical pair sets, and Lockstep end to end (read the file, compute,
write the pairs) at least 10x faster at 1M rows and 20x at 10M rows, with no more peak
memory. Print the ratios."

The data: Zipf-popular posts re-shared by random accounts, five viral posts with
``rows/500`` re-shares each within about an hour, and 20 planted groups of 50 accounts that
re-share 100 posts each within 30 s (three of them also boost viral posts). With ``rows/50``
viral re-shares the pair set itself grows to ~57M pairs at 1M rows (a 3 GB CSV on each side),
which measures writing more than detecting; ``rows/500`` keeps ~8M pairs. Each side runs in
its own child process, end to end from the same CSV: the toolkit preprocesses its positional
CSV into SQLite, computes co-retweet in parallel and writes its edges through its Python API
(its CSV export is broken in 1.5.2); Lockstep ingests the generic CSV, computes co-repost and
writes pairs.csv. The toolkit's weights are directed and it pairs accounts with themselves, so
the pair sets are compared as sets of unordered account pairs without self-pairs.

Usage: ``python benchmarks/coaction.py --rows 1000000 [--rows 10000000]``
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


def make_data(n: int, out: Path, seed: int = 7) -> Path:
    """Write the synthetic co-repost set (generic events.csv) and the toolkit's CSV."""
    rng = np.random.default_rng(seed)
    n_acc, n_obj, span = n // 5, n // 10, 86400 * 7
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
    o, t, a = o[perm], t[perm] + 1_600_000_000, a[perm]
    out.mkdir(parents=True, exist_ok=True)
    ids = np.char.add("e", np.arange(len(o)).astype(str))
    accs = np.char.add("u", a.astype(str))
    posts = np.char.add("p", o.astype(str))
    pacsv.write_csv(pa.table({"platform": pa.array(np.full(len(o), "x")), "event_id": pa.array(ids),
                              "account_id": pa.array(accs), "timestamp": pa.array(t.astype(str)),
                              "action": pa.array(np.full(len(o), "repost")),
                              "reposted_id": pa.array(posts)}), out / "events.csv")
    empty = pa.array(np.full(len(o), ""))
    tk = pa.table({"message_id": ids, "user_id": accs, "username": accs, "repost_id": posts,
                   "reply_id": empty, "message": empty, "timestamp": t.astype(str), "urls": empty})
    pacsv.write_csv(tk, out / "toolkit.csv", pacsv.WriteOptions(include_header=False))
    return out


TOOLKIT = textwrap.dedent("""
    import contextlib, csv, io, json, os, resource, sys, time
    from coordination_network_toolkit.compute_networks import compute_co_retweet_parallel
    from coordination_network_toolkit.graph import get_edge_rows
    from coordination_network_toolkit.preprocess import preprocess_csv_files
    d, window = sys.argv[1], float(sys.argv[2])
    db = os.path.join(d, "toolkit.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        preprocess_csv_files(db, [os.path.join(d, "toolkit.csv")])
        t1 = time.perf_counter()
        compute_co_retweet_parallel(db, window, n_threads=2, min_edge_weight=1)
        t2 = time.perf_counter()
        with open(os.path.join(d, "toolkit_edges.csv"), "w", newline="") as f:
            csv.writer(f).writerows(get_edge_rows(db, "co_retweet"))
    t3 = time.perf_counter()
    print(json.dumps({"read": t1 - t0, "compute": t2 - t1, "write": t3 - t2, "total": t3 - t0,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

LOCKSTEP = textwrap.dedent("""
    import json, os, resource, shutil, sys, time
    import lockstep
    from lockstep.pairs import pairs, write_pairs
    d, window = sys.argv[1], float(sys.argv[2])
    shutil.rmtree(os.path.join(d, "ws"), ignore_errors=True)
    t0 = time.perf_counter()
    ws = lockstep.open_workspace(os.path.join(d, "ws"))
    lockstep.ingest(ws, [os.path.join(d, "events.csv")])
    t1 = time.perf_counter()
    table = pairs(ws, "co-repost", window=window, min_weight=1)
    t2 = time.perf_counter()
    write_pairs(table, os.path.join(d, "lockstep_pairs.csv"))
    t3 = time.perf_counter()
    print(json.dumps({"read": t1 - t0, "compute": t2 - t1, "write": t3 - t2, "total": t3 - t0,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def _child(code: str, *args: str) -> dict[str, float]:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def _compare(d: Path) -> tuple[int, int, int]:
    """(pairs, only in toolkit, only in lockstep), as unordered pairs without self-pairs."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"CREATE TABLE tk AS SELECT DISTINCT least(column0, column1) a, greatest(column0, column1) b "
                f"FROM read_csv('{d / 'toolkit_edges.csv'}', header=false, all_varchar=true) "
                "WHERE column0 <> column1")
    con.execute(f"CREATE TABLE ls AS SELECT DISTINCT least(account_a, account_b) a, greatest(account_a, account_b) b "
                f"FROM read_csv('{d / 'lockstep_pairs.csv'}', all_varchar=true)")
    n = con.execute("SELECT count(*) FROM ls").fetchone()[0]
    only_tk = con.execute("SELECT count(*) FROM (SELECT * FROM tk EXCEPT SELECT * FROM ls)").fetchone()[0]
    only_ls = con.execute("SELECT count(*) FROM (SELECT * FROM ls EXCEPT SELECT * FROM tk)").fetchone()[0]
    return n, only_tk, only_ls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, action="append", help="rows of data (repeatable); default 1M")
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--dir", type=Path, default=Path("bench-data/coaction"))
    args = ap.parse_args()
    for n in args.rows or [1_000_000]:
        d = args.dir / f"rows-{n}"
        if not (d / "events.csv").exists():
            make_data(n, d)
        ours = _child(LOCKSTEP, str(d), str(args.window))
        theirs = _child(TOOLKIT, str(d), str(args.window))
        n_pairs, only_tk, only_ls = _compare(d)
        print(f"\n{n:,} rows, co-repost, window {args.window:g} s, min weight 1")
        print(f"{'':28}{'read':>8}{'compute':>9}{'write':>8}{'total s':>9}{'peak MiB':>10}")
        for name, r in (("coordination-network-toolkit", theirs), ("lockstep", ours)):
            print(f"{name:28}{r['read']:>8.1f}{r['compute']:>9.1f}{r['write']:>8.1f}"
                  f"{r['total']:>9.1f}{r['peak_mb']:>10,.0f}")
        same = ("identical" if not only_tk and not only_ls
                else f"DIFFERENT ({only_tk} only toolkit, {only_ls} only lockstep)")
        target = 10 if n < 5_000_000 else 20
        print(f"pair sets: {same} ({n_pairs:,} pairs)")
        print(f"speed-up: {theirs['total'] / ours['total']:.1f}x (target >= {target}x); "
              f"peak memory ratio lockstep/toolkit: {ours['peak_mb'] / theirs['peak_mb']:.1f}x (target <= 1x)")


if __name__ == "__main__":
    main()
