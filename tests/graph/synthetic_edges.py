"""Synthetic edge tables in the detector contract: planted cliques among random noise.

A plain helper module (not a conftest: ``tests/conftest.py`` is imported as ``conftest`` by
other tests, and a second one would shadow it).
"""
from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from lockstep.graph.fusion import INPUT_SCHEMA

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def edges(rows: list[dict[str, Any]]) -> pa.Table:
    """A contract edge table from dicts (missing fields get defaults)."""
    cols: dict[str, list[Any]] = {n: [] for n in INPUT_SCHEMA.names}
    for r in rows:
        a, b = sorted([tuple(r["a"].split(":")), tuple(r["b"].split(":"))])
        support = r.get("support", 1)
        row = {"platform_a": a[0], "account_a": a[1], "platform_b": b[0], "account_b": b[1],
               "signal": r.get("signal", "co-repost"), "weight": r.get("weight", support),
               "support": support, "first_seen": r.get("first_seen", T0),
               "last_seen": r.get("last_seen", T0 + timedelta(days=1)),
               "median_delta_s": r.get("median_delta_s", 5.0),
               "evidence": r.get("evidence", [f"e{len(cols['signal'])}|f"]),
               "p_value": r.get("p_value"), "z": r.get("z")}
        for k, v in row.items():
            cols[k].append(v)
    return pa.table(cols, schema=INPUT_SCHEMA)


def planted(seed: int = 0, *, n_noise: int = 300, noise_edges: int = 450,
            cliques: tuple[tuple[str, int, tuple[str, ...], int], ...] = (
                ("dense", 8, ("co-repost", "co-link", "shared-device"), 25),
                ("mid", 6, ("co-repost", "co-hashtag"), 12),
                ("thin", 5, ("co-link",), 6)),
            camouflage: int = 2) -> tuple[list[pa.Table], dict[str, list[str]]]:
    """Edge tables (one per signal) with planted cliques among sparse noise.

    Each clique ``(name, size, signals, support)`` ties all its pairs in every signal with
    about ``support`` objects; each clique member also has ``camouflage`` weak edges to
    noise accounts. Noise is ``noise_edges`` random pairs of ``n_noise`` accounts on two
    platforms, support 1-2, one random signal each. Returns the tables and the planted
    members by clique name (``"x:<name><i>"``).
    """
    rng = random.Random(seed)
    noise = [f"{'x' if i % 3 else 'fb'}:u{i:04d}" for i in range(n_noise)]
    rows: list[dict[str, Any]] = []
    members: dict[str, list[str]] = {}
    for name, size, signals, support in cliques:
        ms = [f"x:{name}{i}" for i in range(size)]
        members[name] = ms
        for a, b in itertools.combinations(ms, 2):
            for s in signals:
                sup = max(1, support + rng.randint(-2, 2))
                rows.append({"a": a, "b": b, "signal": s, "support": sup, "weight": sup * 3,
                             "median_delta_s": 4.0 + rng.random()})
        for m in ms:
            for n in rng.sample(noise, camouflage):
                rows.append({"a": m, "b": n, "signal": "co-hashtag", "support": 1})
    seen: set[tuple[str, str]] = set()
    while len(seen) < noise_edges:
        a, b = rng.sample(noise, 2)
        if (a, b) in seen or (b, a) in seen:
            continue
        seen.add((a, b))
        rows.append({"a": a, "b": b, "signal": rng.choice(["co-hashtag", "co-link", "co-repost"]),
                     "support": rng.randint(1, 2), "median_delta_s": 30.0 + 30 * rng.random()})
    by_signal: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_signal.setdefault(r["signal"], []).append(r)
    return [edges(v) for _, v in sorted(by_signal.items())], members

