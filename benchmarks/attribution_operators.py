"""Operator attribution precision and recall of :func:`lockstep.attribution.link_operators`.

Usage::

    python benchmarks/attribution_operators.py WORLD_DIR_OR_WORKSPACE [--workspace WS]
        [--drop 0.25] [--seed 0]

``WORLD_DIR`` is the output of ``lockstep simulate``; it is ingested into a fresh workspace
(``--workspace``, default ``<world>-ws``) unless that already exists. A path that is already a
workspace is used as is.

Members come from the truth table: every member of every planted network (CIB, spam,
authentic) except its ``operator`` accounts. A predicted operator of a CIB network is right
when truth lists it as an ``operator`` of that network. Printed: precision and recall per tier
and overall, for every confidence and for ``medium`` and up; false positives of authentic and
spam networks (they have no true operators: an admin of an authentic page who is one of its
members is reported ``in_network``); and the run time.

``--drop F`` repeats the run with a random share ``F`` of each CIB network's fakes (or of the
truth roles named by ``--drop-roles``, e.g. ``fake,page,group``) left out of the members
(imperfect detection: undetected fakes must not be taken for operators).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep.attribution import link_operators
from lockstep.workspace import Workspace

from _worlds import world_workspace  # benchmarks/ is sys.path[0] when run as a script


def truth_tables(ws: Workspace) -> tuple[pa.Table, pa.Table, dict[str, str], dict[str, int]]:
    """(members, true operators, network kind by id, tier by CIB network id)."""
    con = ws.connect()
    t = con.sql("""SELECT network_id, network_kind, platform, account_id,
          json_extract_string(extra, '$.role') AS role, json_extract_string(extra, '$.tier') AS tier
        FROM truth WHERE network_id IS NOT NULL""").to_arrow_table()
    con.close()
    is_op = pc.equal(pc.fill_null(t["role"], ""), "operator")
    members = t.filter(pc.invert(is_op)).select(["network_id", "platform", "account_id", "role"])
    ops = t.filter(is_op).select(["network_id", "platform", "account_id"])
    kind = dict(zip(t["network_id"].to_pylist(), t["network_kind"].to_pylist()))
    tier = {n: int(x) for n, x, k in zip(t["network_id"].to_pylist(), t["tier"].to_pylist(),
                                         t["network_kind"].to_pylist()) if k == "cib" and x}
    return members, ops, kind, tier


def score(pred: pa.Table, ops: pa.Table, kind: dict[str, str], tier: dict[str, int],
          min_conf: str | None = None) -> dict[str, tuple[int, int, int]]:
    """Per tier ('1', '2', '3', 'all') and for non-CIB networks: (true positives,
    predicted, true operators)."""
    keep = {"high": {"high"}, "medium": {"high", "medium"},
            None: {"high", "medium", "low"}}[min_conf]
    cols = [pred[c].to_pylist() for c in ("network_id", "platform", "account_id", "confidence")]
    p = {(n, pl, a) for n, pl, a, c in zip(*cols) if c in keep}
    truth = set(zip(ops["network_id"].to_pylist(), ops["platform"].to_pylist(),
                    ops["account_id"].to_pylist()))
    out: dict[str, list[int]] = {}
    for key in ("1", "2", "3", "all", "non-cib"):
        out[key] = [0, 0, 0]
    for x in p:
        k = str(tier[x[0]]) if x[0] in tier else "non-cib"
        hit = int(x in truth)
        out[k][0] += hit
        out[k][1] += 1
        if k != "non-cib":
            out["all"][0] += hit
            out["all"][1] += 1
    for x in truth:
        if x[0] in tier:
            out[str(tier[x[0]])][2] += 1
            out["all"][2] += 1
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


def _fmt(v: tuple[int, int, int]) -> str:
    tp, n_pred, n_true = v
    prec = f"{tp / n_pred:.3f}" if n_pred else "  -  "
    rec = f"{tp / n_true:.3f}" if n_true else "  -  "
    return f"P {prec} ({tp}/{n_pred})  R {rec} ({tp}/{n_true})"


def report(ws: Workspace, members: pa.Table, ops: pa.Table, kind: dict[str, str],
           tier: dict[str, int], label: str) -> None:
    t = time.perf_counter()
    res = link_operators(ws, members.select(["network_id", "platform", "account_id"]))
    secs = time.perf_counter() - t
    print(f"== {label}: {members.num_rows} members, {res.operators.num_rows} operators, "
          f"{res.links.num_rows} links, {res.suspected_assets.num_rows} suspected assets, "
          f"{secs:.2f} s")
    for conf in (None, "medium", "high"):
        s = score(res.operators, ops, kind, tier, conf)
        print(f"  confidence >= {conf or 'low'}:")
        for k in ("1", "2", "3", "all"):
            print(f"    tier {k:>3}: {_fmt(s[k])}")
        print(f"    non-CIB networks: {s['non-cib'][1]} operator(s) reported "
              f"({sum(res.operators['in_network'].to_pylist())} in_network overall)")
    conf = (pc.value_counts(res.operators["confidence"]).to_pylist()
            if res.operators.num_rows else [])
    print("  confidence counts:", {d["values"]: d["counts"] for d in conf})
    if res.limitations:
        print("  limitations:", res.limitations)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("world", type=Path)
    ap.add_argument("--workspace", type=Path)
    ap.add_argument("--drop", type=float, default=0.0,
                    help="also run with this share of each CIB network's fakes left out")
    ap.add_argument("--drop-roles", default="fake",
                    help="truth roles --drop applies to (comma-separated, default: fake)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --drop sample")
    a = ap.parse_args(argv)
    ws = world_workspace(a.world, a.workspace)
    members, ops, kind, tier = truth_tables(ws)
    report(ws, members, ops, kind, tier, "members from truth")
    if a.drop > 0:
        rng = np.random.default_rng(a.seed)
        role = members["role"].to_pylist()
        which = set(a.drop_roles.split(","))
        drop = np.array([r in which for r in role]) & (rng.random(members.num_rows) < a.drop)
        report(ws, members.filter(pa.array(~drop)), ops, kind, tier,
               f"{a.drop:.0%} of CIB {'/'.join(sorted(which))} undetected "
               f"({int(drop.sum())} left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
