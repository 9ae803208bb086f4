"""Test kit for detector authors: the detector contract check and a tiny planted campaign.

:func:`check_detector` plays the part of scikit-learn's ``check_estimator``; use it on every
detector, built-in or plugin::

    from lockstep.ingestion import ingest
    ws = lockstep.open_workspace(tmp / "ws")
    ingest(ws, [make_campaign(tmp, seed=0)])
    check_detector(MyDetector(), ws, min_recall=0.8)

:data:`HOSTILE_STRINGS` and :func:`make_hostile_world` are here, not in ``tests/``, so that
every view, export and plugin is tested against the same hostile data; the world is a
generic-format dataset (not a workspace) so that ingest is part of every such test.
"""
from __future__ import annotations

import csv
import inspect
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors.base import EDGE_SCHEMA, BaseDetector, NotFittedError, check_is_fitted

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["check_detector", "make_campaign", "events_workspace", "CAMPAIGN_NETWORK",
           "HOSTILE_STRINGS", "HOSTILE_BIG", "HOSTILE_UNWRITABLE", "make_hostile_world"]

#: ``network_id`` of the planted group in :func:`make_campaign`'s truth table.
CAMPAIGN_NETWORK = "campaign-1"

_EVENT_COLUMNS = ("platform", "event_id", "account_id", "timestamp", "action", "text", "urls",
                  "hashtags", "mentions", "reposted_id", "replied_id", "image_hashes", "venue_id")


def events_workspace(tmp_dir: str | Path, events: list[dict[str, Any]], *, name: str = "ws",
                     columns: tuple[str, ...] = _EVENT_COLUMNS,
                     defaults: dict[str, Any] | None = None) -> Workspace:
    """A workspace ``tmp_dir/name`` holding ``events``, ingested from a generic-format CSV.

    Each event is a dict of generic fields; ``timestamp`` is UNIX seconds (written as exact
    ISO 8601, microseconds kept without float rounding); ``platform`` defaults to ``x`` and
    event ids are ``e0``, ``e1``, ... unless given; ``defaults`` fill other missing fields and
    ``columns`` are the CSV's columns (missing fields empty).
    """
    import lockstep
    from lockstep.ingestion import ingest

    src = Path(tmp_dir) / f"{name}-src"
    src.mkdir(parents=True)
    with open(src / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for k, e in enumerate(events):
            row = {"platform": "x", "event_id": f"e{k}", **(defaults or {}), **e}
            row["timestamp"] = _iso(row["timestamp"])
            w.writerow({c: row.get(c, "") for c in columns})
    ws = lockstep.open_workspace(Path(tmp_dir) / name)
    ingest(ws, [src / "events.csv"])
    return ws


def _iso(ts: float) -> str:
    """Exact ISO 8601 text of UNIX seconds."""
    us = round(ts * 1_000_000)
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)).isoformat()


def make_campaign(tmp_dir: str | Path, seed: int = 0, *, n_planted: int = 6,
                  n_noise: int = 40, bursts: int = 12, noise_events: int = 300) -> Path:
    """Write a tiny generic-format dataset with one planted group acting together.

    The group (``n_planted`` accounts on platform ``x``, ids ``cib_0``, ...) acts in
    ``bursts`` bursts: in each, every member re-posts the same post, links the same URL, uses
    the same hashtag and image, mentions the same account, replies to the same post and posts
    in the same venue, all within 20 seconds. ``n_noise`` ordinary accounts on ``x`` and
    ``facebook`` post ``noise_events`` events drawn from larger pools at random times over
    three days (some URLs and hashtags are shared across the two platforms).

    Parameters
    ----------
    tmp_dir : path
        Where to write; the dataset goes in ``<tmp_dir>/campaign-<seed>/``.
    seed : int
        Everything is a function of the seed.

    Returns
    -------
    Path
        The dataset directory (``events.csv`` and ``truth.csv``), ready for
        :func:`lockstep.ingest`.
    """
    rng = random.Random(seed)
    out = Path(tmp_dir) / f"campaign-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = 1_630_000_000
    rows: list[dict[str, Any]] = []
    planted = [f"cib_{k}" for k in range(n_planted)]
    for b in range(bursts):
        start = t0 + rng.randrange(0, 3 * 86400)
        for acc in planted:
            rows.append({
                "platform": "x", "account_id": acc, "timestamp": start + rng.randrange(0, 21),
                "action": "post", "text": f"look at this {b}",
                "urls": f"https://news.example.com/story/{seed}-{b}",
                "hashtags": f"Campaign{b}", "mentions": f"target_{b}",
                "reposted_id": f"src_{b}", "replied_id": f"thread_{b}",
                "image_hashes": f"c1b{seed % 4096:03x}{b:010x}",
                "venue_id": f"page_{b}"})
    noise = [("x" if k % 3 else "facebook", f"user_{k}") for k in range(n_noise)]
    for _ in range(noise_events):
        plat, acc = rng.choice(noise)
        rows.append({
            "platform": plat, "account_id": acc,
            "timestamp": t0 + rng.randrange(0, 3 * 86400), "action": "post",
            "text": "hello",
            "urls": " ".join(f"https://blog.example.org/p/{rng.randrange(80)}"
                             for _ in range(rng.randrange(0, 3))),
            "hashtags": " ".join(f"tag{rng.randrange(60)}" for _ in range(rng.randrange(0, 3))),
            "mentions": f"user_{rng.randrange(n_noise)}" if rng.random() < 0.3 else "",
            "reposted_id": f"post_{rng.randrange(120)}" if rng.random() < 0.5 else "",
            "replied_id": f"post_{rng.randrange(120)}" if rng.random() < 0.2 else "",
            "image_hashes": f"00{rng.randrange(50):014x}" if rng.random() < 0.3 else "",
            "venue_id": f"group_{rng.randrange(30)}" if rng.random() < 0.3 else ""})
    rows.sort(key=lambda r: (r["timestamp"], r["account_id"]))
    for k, r in enumerate(rows):
        r["event_id"] = f"ev{k:05d}"
    with open(out / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(_EVENT_COLUMNS))
        w.writeheader()
        w.writerows(rows)
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        tw = csv.writer(fh)
        tw.writerow(["platform", "account_id", "network_id", "network_kind"])
        for acc in planted:
            tw.writerow(["x", acc, CAMPAIGN_NETWORK, "cib"])
        for plat, acc in noise:
            tw.writerow([plat, acc, "", ""])
    return out


#: Strings that data may hold and that must be shown, exported and stored as data, never
#: run: Rich markup (a stray closing tag crashed a view, a ``link`` tag hid a URL), ANSI and
#: OSC 8 terminal sequences, control characters, the right-to-left override, spreadsheet
#: formulas (OWASP's leading ``=``, ``+``, ``-``, ``@``, tab), quotes and ``;`` (SQL and shell),
#: HTML, characters XML 1.0 cannot carry, a lone surrogate and a 1 MB value. Every
#: view and export must hold them exactly (decoded where an encoding is documented).
HOSTILE_STRINGS: tuple[str, ...] = (
    "[/nope]",
    "[link=http://evil.example]click[/link]",
    "\x1b[31m",
    "\x1b]8;;http://evil.example\x1b\\",
    "\x01",
    "\x07",
    "\x08",
    "\r",
    "\u202e",
    '=HYPERLINK("http://evil.example")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\t=1",
    "'",
    '"',
    ";",
    "<script>alert(1)</script>",
    "\x0b",
    "\ud800",
    "A" * (1 << 20),
)
#: The 1 MB member of :data:`HOSTILE_STRINGS` (a value, not an id, in
#: :func:`make_hostile_world`).
HOSTILE_BIG = HOSTILE_STRINGS[-1]
#: Members of :data:`HOSTILE_STRINGS` that no UTF-8 file can hold (a lone surrogate): ingest
#: must refuse a file that tries (invalid UTF-8, or ``\ud800`` in JSON), naming file and line.
HOSTILE_UNWRITABLE: tuple[str, ...] = tuple(
    h for h in HOSTILE_STRINGS if any(0xD800 <= ord(c) <= 0xDFFF for c in h))


def make_hostile_world(tmp_dir: str | Path, seed: int = 0) -> Path:
    """A generic-format dataset whose coordinated accounts are named by hostile strings.

    Every member of :data:`HOSTILE_STRINGS` that a file can hold, but the 1 MB one, is the
    ``account_id`` of an account on ``x`` in one of three groups (networks ``hostile-1`` to
    ``hostile-3`` in ``truth.csv``). Each group acts 12 times within 20 seconds: re-posting a
    post whose id holds a hostile string, linking the same URL (one that holds a hostile
    string without whitespace), using the same hashtag, posting texts that are hostile
    strings; members also share a device and an address in ``sessions.csv``. Their handles,
    display names and bios are hostile strings too, one display name and one bio
    :data:`HOSTILE_BIG`, which is also the text of one event; a few event ids are hostile.
    60 ordinary accounts post 600 events at random over three days. The three groups are
    found by ``lockstep detect``.

    Parameters
    ----------
    tmp_dir : path
        The dataset goes in ``<tmp_dir>/hostile-<seed>/``.
    seed : int

    Returns
    -------
    Path
        The dataset directory (``events``, ``accounts``, ``sessions`` and ``truth`` CSVs).
    """
    rng = random.Random(seed)
    out = Path(tmp_dir) / f"hostile-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    ids = [h for h in HOSTILE_STRINGS if h not in HOSTILE_UNWRITABLE and h != HOSTILE_BIG]
    words = [h for h in ids if not any(c.isspace() for c in h)]
    groups = [ids[k::3] for k in range(3)]
    t0 = 1_630_000_000
    rows: list[dict[str, Any]] = []
    for g, members in enumerate(groups):
        for b in range(12):
            start = t0 + rng.randrange(0, 3 * 86400)
            for i, acc in enumerate(members):
                rows.append({
                    "platform": "x", "account_id": acc, "timestamp": start + rng.randrange(0, 21),
                    "action": "post", "text": ids[(i + b) % len(ids)],
                    "urls": f"https://evil.example/{g}/{b}?q={words[b % len(words)]}",
                    "hashtags": f"Hostile{g}x{b}",
                    "reposted_id": f"{ids[(g + b) % len(ids)]}{g}-{b}"})
    rows[0]["text"] = HOSTILE_BIG
    noise = [f"user_{k}" for k in range(60)]
    for _ in range(600):
        rows.append({
            "platform": "x", "account_id": rng.choice(noise),
            "timestamp": t0 + rng.randrange(0, 3 * 86400), "action": "post", "text": "hello",
            "urls": (f"https://blog.example.org/p/{rng.randrange(80)}"
                     if rng.random() < 0.5 else ""),
            "hashtags": f"tag{rng.randrange(60)}",
            "reposted_id": f"post_{rng.randrange(120)}" if rng.random() < 0.5 else ""})
    rows.sort(key=lambda r: (r["timestamp"], r["account_id"]))
    for k, r in enumerate(rows):
        r["event_id"] = f"{ids[k // 7 % len(ids)]}{k}" if k % 7 == 0 else f"ev{k:05d}"
    with open(out / "events.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(_EVENT_COLUMNS))
        w.writeheader()
        w.writerows({c: r.get(c, "") for c in _EVENT_COLUMNS} for r in rows)
    with open(out / "accounts.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "account_id", "kind", "handle", "display_name", "bio",
                    "created_at"])
        for i, acc in enumerate(ids):
            w.writerow(["x", acc, "user", ids[(i + 1) % len(ids)],
                        HOSTILE_BIG if i == 0 else ids[(i + 2) % len(ids)],
                        HOSTILE_BIG if i == 1 else ids[(i + 3) % len(ids)],
                        _iso(t0 - 86400 * (10 + i % 3))])
    with open(out / "sessions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "account_id", "timestamp", "ip", "device_id", "user_agent"])
        for g, members in enumerate(groups):
            for b in range(4):
                for acc in members:
                    w.writerow(["x", acc, _iso(t0 + 3600 * (g * 4 + b) + rng.randrange(60)),
                                f"203.0.113.{10 + g}", f"{ids[g]}device{g}", ids[-1 - g]])
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        tw = csv.writer(fh)
        tw.writerow(["platform", "account_id", "network_id", "network_kind"])
        for g, members in enumerate(groups):
            for acc in members:
                tw.writerow(["x", acc, f"hostile-{g + 1}", "cib"])
        for acc in noise:
            tw.writerow(["x", acc, "", ""])
    return out


def _fail(detector: BaseDetector, what: str) -> None:
    raise AssertionError(f"{type(detector).__name__}: {what}")


def check_detector(detector: BaseDetector, workspace: Workspace, *,
                   min_recall: float | None = None) -> dict[str, Any]:
    """Check that ``detector`` keeps the detector contract on ``workspace``.

    Checks: parameters are keyword-only and stored verbatim by ``__init__``; nothing ending in
    ``_`` exists before ``fit`` and fitted-only methods raise :class:`NotFittedError`;
    ``fit`` returns ``self`` and leaves the parameters unchanged; ``edges_`` has exactly the
    columns and types of :data:`~lockstep.detectors.base.EDGE_SCHEMA`, no nulls, each row with
    ``(platform_a, account_a) < (platform_b, account_b)`` (so no self-loops), rows unique and
    ordered, ``weight >= max(1, min_weight)``, ``1 <= support <= weight``,
    ``first_seen <= last_seen``, ``median_delta_s >= 0``, ``0 < p_value <= 1``,
    ``expected >= 0``, between 1 and ``max_evidence``
    evidence ids, and the signal named in ``signal_``; ``stats_`` is a JSON-serialisable dict
    with ``seconds``; the full :meth:`~BaseDetector.evidence` of an edge starts with its capped
    evidence; a second fit of a clone gives the same edges. With ``min_recall``, the planted
    accounts of the workspace's truth table must be among the edges' accounts (paired with
    each other) at least that often, unless the detector had no input (``stats_["rows"] == 0``).

    Returns
    -------
    dict
        ``edges`` (number of edges) and ``recall`` (or None).

    Raises
    ------
    AssertionError
        The first broken rule, named.
    """
    cls = type(detector)
    # parameters stored verbatim, keyword-only
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name != "self" and p.kind != p.KEYWORD_ONLY:
            _fail(detector, f"__init__ parameter {p.name!r} must be keyword-only")
    sig = inspect.signature(cls.__init__)
    defaults = {p.name: p.default for p in sig.parameters.values()
                if p.name != "self" and p.default is not p.empty}
    if len(defaults) == len(sig.parameters) - 1:
        plain = cls()
        for k, v in defaults.items():
            if getattr(plain, k, None) is not v:
                _fail(detector, f"__init__ does not store {k!r} verbatim (default {v!r} became "
                                f"{getattr(plain, k, None)!r})")
    params = detector.get_params()
    clone = cls(**params)
    for k, v in params.items():
        if getattr(clone, k) is not v:
            _fail(detector, f"__init__ does not store {k!r} verbatim")
    if clone.get_params() != params:
        _fail(detector, "get_params() of a clone differs")
    # nothing fitted before fit
    fitted = [k for k in vars(clone) if k.endswith("_") and not k.startswith("_")]
    if fitted:
        _fail(detector, f"attributes {fitted} exist before fit")
    try:
        check_is_fitted(clone)
    except NotFittedError:
        pass
    else:
        _fail(detector, "check_is_fitted passes before fit")
    try:
        clone.evidence("a", "b")
    except NotFittedError:
        pass
    else:
        _fail(detector, "evidence() works before fit")
    # fit returns self, params unchanged
    got = clone.fit(workspace)
    if got is not clone:
        _fail(detector, "fit() does not return self")
    for k, v in params.items():
        if getattr(clone, k) is not v:
            _fail(detector, f"fit() changed parameter {k!r}")
    check_is_fitted(clone, ["edges_", "stats_", "signal_"])
    edges = clone.edges_
    _check_edges(clone, edges)
    stats = clone.stats_
    if not isinstance(stats, dict) or "seconds" not in stats:
        _fail(detector, "stats_ must be a dict with 'seconds'")
    try:
        json.dumps(stats)
    except (TypeError, ValueError) as exc:
        _fail(detector, f"stats_ is not JSON-serialisable ({exc})")
    # full evidence starts with the capped one
    if edges.num_rows:
        row = edges.slice(0, 1).to_pylist()[0]
        full = clone.evidence((row["platform_a"], row["account_a"]),
                              (row["platform_b"], row["account_b"]))
        if full[:len(row["evidence"])] != row["evidence"]:
            _fail(detector, "evidence() does not start with the edge's evidence")
    # deterministic
    again = cls(**params).fit(workspace).edges_
    if not again.equals(edges):
        _fail(detector, "two fits of the same detector give different edges")
    recall = None
    if min_recall is not None and stats.get("rows", 1) != 0:
        recall = _recall(workspace, edges)
        if recall is None:
            _fail(detector, "min_recall given but the workspace has no planted network")
        elif recall < min_recall:
            _fail(detector, f"recall of the planted accounts {recall:.2f} < {min_recall}")
    return {"edges": edges.num_rows, "recall": recall}


def _check_edges(det: BaseDetector, edges: pa.Table) -> None:
    if edges.schema != EDGE_SCHEMA:
        _fail(det, f"edges_ schema is\n{edges.schema}\nnot\n{EDGE_SCHEMA}")
    if edges.num_rows == 0:
        return
    for name in edges.column_names:
        if edges[name].null_count:
            _fail(det, f"edges_ column {name!r} has nulls")
    pa_, aa, pb, ab = (edges[c] for c in ("platform_a", "account_a", "platform_b", "account_b"))
    less = pc.or_(pc.less(pa_, pb), pc.and_(pc.equal(pa_, pb), pc.less(aa, ab)))
    if not pc.all(less).as_py():
        _fail(det, "an edge has (platform_a, account_a) >= (platform_b, account_b)")
    order = pc.sort_indices(edges, sort_keys=[(c, "ascending") for c in (
        "platform_a", "account_a", "platform_b", "account_b")])
    if not pc.all(pc.equal(order, pa.array(range(edges.num_rows), pa.uint64()))).as_py():
        _fail(det, "edges_ is not ordered by (platform_a, account_a, platform_b, account_b)")
    keys = pc.binary_join_element_wise(pa_, aa, pb, ab, "\x00")
    if pc.count_distinct(keys).as_py() != edges.num_rows:
        _fail(det, "an account pair appears twice in edges_")
    if not pc.all(pc.equal(edges["signal"], det.signal_)).as_py():
        _fail(det, f"signal column is not {det.signal_!r}")
    w, s = edges["weight"], edges["support"]
    floor = max(1, int(getattr(det, "min_weight", 1)))
    if pc.min(w).as_py() < floor:
        _fail(det, f"an edge has weight < {floor}")
    if pc.min(s).as_py() < 1 or not pc.all(pc.less_equal(s, w)).as_py():
        _fail(det, "support must be between 1 and weight")
    if not pc.all(pc.less_equal(edges["first_seen"], edges["last_seen"])).as_py():
        _fail(det, "first_seen > last_seen")
    if pc.min(edges["median_delta_s"]).as_py() < 0:
        _fail(det, "median_delta_s < 0")
    p = edges["p_value"]
    if pc.min(p).as_py() <= 0 or pc.max(p).as_py() > 1 or pc.min(edges["expected"]).as_py() < 0:
        _fail(det, "p_value must be in (0, 1] and expected >= 0")
    n_ev = pc.list_value_length(edges["evidence"])
    cap = int(getattr(det, "max_evidence", 10))
    if pc.max(n_ev).as_py() > cap or (cap > 0 and pc.min(n_ev).as_py() < 1):
        _fail(det, f"each edge needs 1..{cap} evidence ids")


def _recall(workspace: Workspace, edges: pa.Table) -> float | None:
    con = workspace.connect()
    try:
        planted = {(p, a) for p, a in con.execute(
            "SELECT platform, account_id FROM truth WHERE coalesce(network_id, '') <> ''"
        ).fetchall()}
    finally:
        con.close()
    if not planted:
        return None
    found: set[tuple[str, str]] = set()
    for r in edges.select(["platform_a", "account_a", "platform_b", "account_b"]).to_pylist():
        x, y = (r["platform_a"], r["account_a"]), (r["platform_b"], r["account_b"])
        if x in planted and y in planted:
            found.update((x, y))
    return len(found) / len(planted)
