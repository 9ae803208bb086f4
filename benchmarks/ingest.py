"""Ingest throughput against the machine's bare limit.

Issue: "benchmarks/ingest.py prints rows/s and peak memory for the large world's events as
CSV, and the ratio to the bare limit of the same machine (DuckDB reading that CSV and writing
Parquet with no logic). Target: within 2x of that limit, under 2 GB peak."

Both sides run in fresh child processes, one after the other, on the same file, so the
figures come from one run on one machine. The bare limit is DuckDB's own CSV -> Parquet copy
with type sniffing and nothing else; Lockstep's side is the full ``lockstep.ingest`` (parse,
validate, type timestamps, normalise URLs, registered domains, dedup, partitioned Parquet,
atomic commit) into an empty workspace.

Usage::

    python benchmarks/ingest.py                 # simulates the large world as CSV first (cached)
    python benchmarks/ingest.py --csv events.csv
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BARE = textwrap.dedent("""
    import duckdb, json, resource, sys, time
    src, dst = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    t = time.perf_counter()
    n = con.execute(f"COPY (SELECT * FROM read_csv('{src}', header=true)) TO '{dst}' (FORMAT parquet)").fetchone()[0]
    print(json.dumps({"rows": n, "seconds": time.perf_counter() - t,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

LOCKSTEP = textwrap.dedent("""
    import json, resource, sys, time
    import lockstep
    src, ws_dir = sys.argv[1], sys.argv[2]
    ws = lockstep.open_workspace(ws_dir)
    t = time.perf_counter()
    rep = lockstep.ingest(ws, [src], fmt="generic")
    print(json.dumps({"rows": rep.rows_added, "seconds": time.perf_counter() - t,
                      "stages": rep.files[0].stages,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def _child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, help="events CSV to ingest (default: the simulated large world)")
    ap.add_argument("--scale", default="large", help="world to simulate when --csv is not given")
    ap.add_argument("--cache", type=Path, default=Path("bench-data"), help="where simulated worlds are kept")
    args = ap.parse_args()
    src = args.csv
    if src is None:
        world = args.cache / f"world-{args.scale}-csv"
        src = world / "events.csv"
        if not src.exists():
            shutil.rmtree(world, ignore_errors=True)
            print(f"simulating the {args.scale} world as CSV into {world} ...", flush=True)
            # in a child too: Linux carries a parent's peak RSS into the children it forks
            # (ru_maxrss survives fork and exec), so a 3 GB simulation here would be reported
            # as both sides' peak
            subprocess.run([sys.executable, "-c", "import sys; from lockstep.simulate import "
                            "simulate; simulate(sys.argv[1], scale=sys.argv[2], seed=1, fmt='csv')",
                            str(world), args.scale], check=True)
    size_mb = src.stat().st_size / 2**20
    with tempfile.TemporaryDirectory(dir=args.cache if args.cache.exists() else None) as tmp:
        bare = _child(BARE, str(src), str(Path(tmp) / "bare.parquet"))
        ours = _child(LOCKSTEP, str(src), str(Path(tmp) / "ws"))
    print(f"input: {src} ({size_mb:,.0f} MiB, {ours['rows']:,} events)")
    print(f"{'':24}{'seconds':>10}{'rows/s':>14}{'peak MiB':>10}")
    for name, r in (("bare DuckDB CSV->Parquet", bare), ("lockstep ingest", ours)):
        print(f"{name:24}{r['seconds']:>10.1f}{r['rows'] / r['seconds']:>14,.0f}{r['peak_mb']:>10,.0f}")
    print("lockstep stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in ours["stages"].items()))
    ratio = ours["seconds"] / bare["seconds"]
    print(f"ratio lockstep/bare time: {ratio:.2f}x (target <= 2x)  "
          f"peak memory: {ours['peak_mb']:,.0f} MiB (target < 2048)")


if __name__ == "__main__":
    main()
