"""Many small files against one file with the same lines (issue 13, item 10).

The audit measured ingest time growing with the square of the number of files (250 files
41 s, 1,000 files 341 s, against 0.7 s for the same lines in one file) and a workspace that
stayed slow afterwards. This prints, for N generic events CSVs in one directory and for one
CSV holding the same lines: the ingest time of each, their ratio, the Parquet parts each
workspace ends with and the time of a scan over its events (what every later query pays).

Both sides run in fresh child processes, one after the other, on the same machine.

Usage::

    python benchmarks/many_files.py                      # 250 files of 40 lines
    python benchmarks/many_files.py --files 1000 --lines 10
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, sys, time
    import lockstep
    src, ws_dir = sys.argv[1], sys.argv[2]
    ws = lockstep.open_workspace(ws_dir)
    t = time.perf_counter()
    rep = lockstep.ingest(ws, [src], fmt="generic")
    took = time.perf_counter() - t
    con = ws.connect()
    t = time.perf_counter()
    con.execute("SELECT count(*), count(DISTINCT account_id), min(ts) FROM events").fetchall()
    scan = time.perf_counter() - t
    print(json.dumps({"rows": rep.rows_added, "seconds": took, "scan_s": scan,
                      "parts": len(ws.files("events")), "stages": rep.stages}))
""")

HEADER = "platform,event_id,account_id,timestamp,urls,hashtags\n"


def _line(n: int) -> str:
    return (f"x,{n},u{n % 997},{1_600_000_000 + n * 7},https://example.com/a/{n % 311}?utm_source=1,"
            f"tag{n % 53}\n")


def write_inputs(root: Path, files: int, lines: int) -> tuple[Path, Path]:
    """``root/many/events.<i>.csv`` (``files`` of ``lines`` lines) and ``root/one/events.csv``."""
    many, one = root / "many", root / "one"
    many.mkdir(parents=True)
    one.mkdir(parents=True)
    with open(one / "events.csv", "w", encoding="utf-8") as whole:
        whole.write(HEADER)
        for i in range(files):
            chunk = "".join(_line(i * lines + k) for k in range(lines))
            (many / f"events.{i:05d}.csv").write_text(HEADER + chunk, encoding="utf-8")
            whole.write(chunk)
    return many, one


def _child(src: Path, ws: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(ws)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=250, help="number of small files (250)")
    ap.add_argument("--lines", type=int, default=40, help="lines per small file (40)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lockstep-many-") as tmp:
        root = Path(tmp)
        many, one = write_inputs(root, args.files, args.lines)
        n = _child(many, root / "ws-many")
        o = _child(one, root / "ws-one")
    assert n["rows"] == o["rows"] == args.files * args.lines, (n, o)
    print(f"{args.files} files of {args.lines} lines: {n['seconds']:.2f} s, "
          f"{n['parts']} part(s), scan {n['scan_s'] * 1000:.0f} ms")
    print(f"one file of {args.files * args.lines} lines: {o['seconds']:.2f} s, "
          f"{o['parts']} part(s), scan {o['scan_s'] * 1000:.0f} ms")
    print(f"ratio many/one: ingest {n['seconds'] / o['seconds']:.1f}x, "
          f"scan {n['scan_s'] / max(o['scan_s'], 1e-9):.1f}x "
          f"({n['seconds'] / args.files * 1000:.0f} ms per file)")


if __name__ == "__main__":
    main()
