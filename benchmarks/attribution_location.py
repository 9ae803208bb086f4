"""Origin, rhythm and mismatch accuracy of :func:`lockstep.attribution.location.locate_networks`.

Usage::

    python benchmarks/attribution_location.py WORLD_DIR_OR_WORKSPACE [--workspace WS]

``WORLD_DIR`` is the output of ``lockstep simulate``; it is ingested into a fresh workspace
(``--workspace``, default ``<world>-ws``) unless that already exists. A path that is already a
workspace is used as is. Members come from the truth table (every member of a planted network
except its ``operator`` accounts); the networks are located twice, with the true operators as
``operators`` and with none. Printed per variant: origin country accuracy over CIB networks
(top origin == truth ``origin_country``), by tier; how often the rhythm alone hits the origin's
UTC offset (exact half hour, and within 1 h) and gives the origin among ``rhythm_countries``;
mismatch precision (authentic networks must not get one) and recall (CIB with origin != target);
and the run time. The same without sessions (public-data mode) is shown for the rhythm.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pyarrow as pa

from lockstep.attribution.location import COUNTRY_TIME_ZONES, locate_networks

from _worlds import world_workspace  # benchmarks/ is sys.path[0] when run as a script


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world", type=Path)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--verbose", "-v", action="store_true", help="print every CIB network")
    args = ap.parse_args(argv)
    ws = world_workspace(args.world, args.workspace)
    con = ws.connect()
    truth = con.sql("""
        SELECT platform, account_id, network_id, network_kind,
               json_extract_string(extra, '$.role') AS role,
               json_extract_string(extra, '$.tier') AS tier,
               json_extract_string(extra, '$.origin_country') AS origin,
               json_extract_string(extra, '$.target_country') AS target
        FROM truth WHERE network_id IS NOT NULL AND network_id <> ''""").to_arrow_table()
    rows = truth.to_pylist()
    nets: dict[str, dict] = {}
    for r in rows:
        nets.setdefault(r["network_id"], {"kind": r["network_kind"], "tier": r["tier"],
                                          "origin": r["origin"], "target": r["target"]})
    mem = [r for r in rows if r["role"] != "operator"]
    ops = [r for r in rows if r["role"] == "operator"]

    def tbl(rs: list[dict]) -> pa.Table:
        return pa.table({k: [r[k] for r in rs] for k in ("network_id", "platform", "account_id")})

    n_ev = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    n_s = con.execute("SELECT count(*) FROM sessions").fetchall()[0][0]
    print(f"world {args.world}: {len(nets)} networks, {n_ev:,} events, {n_s:,} sessions")
    for label, operators in (("with operators", tbl(ops)), ("without operators", None)):
        t = time.perf_counter()
        res = locate_networks(ws, tbl(mem), operators=operators, con=con)
        dt = time.perf_counter() - t
        _report(label, res, nets, dt, args.verbose)
    # public-data mode: the same world without sessions and roles
    from lockstep.schema import empty_select
    pub = ws.connect()
    for table in ("sessions", "roles"):
        pub.execute(f"CREATE OR REPLACE VIEW {table} AS {empty_select(table)}")
    t = time.perf_counter()
    res = locate_networks(ws, tbl(mem), con=pub)
    _report("public data: no sessions, no roles", res, nets, time.perf_counter() - t, args.verbose)
    pub.close()
    con.close()
    return 0


def _report(label: str, res: pa.Table, nets: dict[str, dict], dt: float, verbose: bool) -> None:
    out = {r["network_id"]: r for r in res.to_pylist()}
    by_tier: dict[str, list[bool]] = {}
    rhythm_exact: dict[str, list[bool]] = {}
    rhythm_1h: dict[str, list[bool]] = {}
    rhythm_cty: dict[str, list[bool]] = {}
    mm_tp = mm_fp = mm_fn = 0
    auth_flagged: list[str] = []
    for net, info in sorted(nets.items()):
        r = out.get(net)
        if r is None:
            continue
        if info["kind"] == "cib":
            tier = info["tier"] or "?"
            ok = r["origin_country"] == info["origin"]
            by_tier.setdefault(tier, []).append(ok)
            o_offs = COUNTRY_TIME_ZONES[info["origin"]][0]
            off = r["rhythm_offset_h"]
            rhythm_exact.setdefault(tier, []).append(off is not None and off in o_offs)
            rhythm_1h.setdefault(tier, []).append(off is not None and min(abs(off - o) for o in o_offs) <= 1.0)
            rhythm_cty.setdefault(tier, []).append(info["origin"] in (r["rhythm_countries"] or []))
            should = info["origin"] != info["target"]
            if r["location_mismatch"] and should:
                mm_tp += 1
            elif r["location_mismatch"]:
                mm_fp += 1
            elif should:
                mm_fn += 1
            if verbose:
                print(f"  {net} t{tier} {info['origin']}->{info['target']}: origin "
                      f"{r['origin_country']} ({r['origin_confidence']}) "
                      f"{[(x['country'], x['share']) for x in r['origin_countries'][:3]]} presented "
                      f"{r['presented_country']} rhythm {r['rhythm_offset_h']} office "
                      f"{r['rhythm_office_hours']} ({r['rhythm_office_score']}) mismatch "
                      f"{r['location_mismatch']}{' OK' if ok else ' WRONG'}")
                if verbose and r["mismatch_reason"]:
                    print(f"      {r['mismatch_reason']}")
        elif info["kind"] == "authentic":
            if r["location_mismatch"]:
                mm_fp += 1
                auth_flagged.append(net)
    allv = [x for v in by_tier.values() for x in v]
    print(f"\n[{label}] {len(out)} networks located in {dt:.2f} s")
    print(f"  origin accuracy (CIB): {sum(allv)}/{len(allv)} = {sum(allv) / max(1, len(allv)):.0%}"
          + "".join(f"; tier {k}: {sum(v)}/{len(v)}" for k, v in sorted(by_tier.items())))
    for name, d in (("rhythm offset = origin zone", rhythm_exact),
                    ("rhythm offset within 1 h of origin", rhythm_1h),
                    ("origin among rhythm countries", rhythm_cty)):
        a = [x for v in d.values() for x in v]
        print(f"  {name}: {sum(a)}/{len(a)}" + "".join(f"; tier {k}: {sum(v)}/{len(v)}" for k, v in sorted(d.items())))
    prec = mm_tp / max(1, mm_tp + mm_fp)
    print(f"  mismatch: precision {prec:.2f} ({mm_tp} right, {mm_fp} wrong, authentic flagged: "
          f"{auth_flagged or 'none'}), recall {mm_tp}/{mm_tp + mm_fn} of CIB with origin != target")


if __name__ == "__main__":
    sys.exit(main())
