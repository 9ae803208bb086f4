"""Write a finished world as the generic-v1 tables: events, accounts, sessions, roles, truth,
plus the extra ``networks`` table describing each planted network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from .config import ACTIONS, KINDS, PLATFORMS
from .events import EventBatch, Multi
from .geo import COUNTRY_CODES
from .infra import user_agent_pool
from .networks import MEMBER_ROLES, PAGE_ROLES
from .render import (
    AccountRenderer,
    device_strings,
    id_strings,
    ip_strings,
    user_agent_strings,
)
from .render_content import ContentRenderer, hex16
from .world import World
from .writer import TableWriter

__all__ = ["write_world"]

Tick = Callable[[str, float], None]
_PLATFORMS = pa.array(list(PLATFORMS), pa.string())
_COUNTRIES = pa.array(list(COUNTRY_CODES), pa.string())


def _codes(names: pa.Array, codes: np.ndarray) -> pa.Array:
    """Strings for integer codes; null for negative codes."""
    codes = np.asarray(codes, dtype=np.int64)
    return names.take(pa.array(codes, mask=codes < 0))


def _list(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _write_events(w: World, ev: EventBatch, num: np.ndarray, acc_num: np.ndarray, fmt: str,
                  out: Path, tick: Tick) -> Path:
    content = ContentRenderer(w.vocab)
    actions = pa.array(list(ACTIONS), pa.string())
    writer = TableWriter(out, "events", fmt)
    offs = {m: getattr(ev, m).offsets() for m in EventBatch.MULTI}
    n = len(ev)
    step = w.cfg.chunk_rows
    for s in range(0, n, step):
        e = min(n, s + step)
        chunk: dict[str, Multi] = {}
        loc: dict[str, np.ndarray] = {}
        for m in EventBatch.MULTI:
            o = offs[m]
            chunk[m] = Multi(getattr(ev, m).counts[s:e], getattr(ev, m).values[o[s]:o[e]])
            loc[m] = o[s:e + 1] - o[s]
        venue = ev.venue[s:e]
        writer.write({
            "platform": _codes(_PLATFORMS, ev.platform[s:e]),
            "event_id": id_strings(num[s:e]),
            "account_id": id_strings(acc_num[ev.account[s:e]]),
            "timestamp": ev.ts[s:e],
            "action": _codes(actions, ev.action[s:e]),
            "text": content.texts(ev.text_n[s:e], ev.text_key[s:e], ev.text_edit[s:e], ev.topic[s:e],
                                  chunk["hashtags"]),
            "urls": _list(loc["urls"], content.url_values(chunk["urls"].values)),
            "hashtags": _list(loc["hashtags"], content.hashtag_values(chunk["hashtags"].values)),
            "mentions": _list(loc["mentions"], id_strings(acc_num[chunk["mentions"].values])),
            "reposted_id": id_strings(ev.reposted[s:e]),
            "replied_id": id_strings(ev.replied[s:e]),
            "image_hashes": _list(loc["images"], hex16(chunk["images"].values)),
            "venue_id": id_strings(np.where(venue >= 0, acc_num[np.maximum(venue, 0)], -1)),
        })
        tick("write events", e / n)
    return writer.close()


def _write_accounts(w: World, acc_num: np.ndarray, fmt: str, out: Path) -> Path:
    reg = w.reg
    r = AccountRenderer(reg.strings)
    cols = reg.handle_parts()
    writer = TableWriter(out, "accounts", fmt)
    writer.write({
        "platform": _codes(_PLATFORMS, reg.col("platform")),
        "account_id": id_strings(acc_num),
        "kind": _codes(pa.array(list(KINDS)), reg.col("kind")),
        "handle": r.handles(cols),
        "display_name": r.display_names(cols),
        "bio": r.bios(cols),
        "created_at": reg.col("created"),
        "claimed_country": _codes(_COUNTRIES, reg.col("claimed")),
        "followers": reg.col("followers"),
        "verified": reg.col("verified"),
    })
    return writer.close()


def _write_sessions(w: World, acc_num: np.ndarray, fmt: str, out: Path, tick: Tick) -> tuple[Path, int]:
    cols = w.sessions.columns()
    pool, start, size = user_agent_pool()
    pool_arr = pa.array(pool, pa.string())
    dev_cls = w.devices.classes()
    platform = w.reg.col("platform")
    writer = TableWriter(out, "sessions", fmt)
    n = len(cols["ts"])
    step = w.cfg.chunk_rows
    for s in range(0, n, step):
        e = min(n, s + step)
        acc = cols["account"][s:e]
        dev = cols["device"][s:e]
        plat = platform[acc]
        writer.write({
            "platform": _codes(_PLATFORMS, plat),
            "account_id": id_strings(acc_num[acc]),
            "timestamp": cols["ts"][s:e],
            "ip": ip_strings(cols["ip"][s:e]),
            "device_id": device_strings(dev),
            "user_agent": user_agent_strings(dev, plat, dev_cls, pool_arr, start, size),
            "country": _codes(_COUNTRIES, cols["country"][s:e]),
        })
        tick("write sessions", e / n)
    return writer.close(), n


def _write_roles(w: World, acc_num: np.ndarray, fmt: str, out: Path) -> tuple[Path, int]:
    c = w.roles.columns()
    writer = TableWriter(out, "roles", fmt)
    writer.write({
        "platform": _codes(_PLATFORMS, w.reg.col("platform")[c["asset"]]),
        "account_id": id_strings(acc_num[c["account"]]),
        "asset_id": id_strings(acc_num[c["asset"]]),
        "role": _codes(pa.array(list(PAGE_ROLES)), c["role"]),
        "since": c["since"],
    })
    return writer.close(), len(c["account"])


def _write_truth(w: World, acc_num: np.ndarray, fmt: str, out: Path) -> tuple[Path, Path, int]:
    c = w.nets.columns()
    nets = w.nets.nets
    net_ids = pa.array([x.network_id for x in nets], pa.string())
    kinds = pa.array([x.kind for x in nets], pa.string())
    tiers = np.array([x.tier if x.tier is not None else -1 for x in nets], dtype=np.int64)
    origin = pa.array([x.origin or None for x in nets], pa.string())
    target = pa.array([x.target or None for x in nets], pa.string())
    net = pa.array(c["net"].astype(np.int64))
    op = c["operator"]
    writer = TableWriter(out, "truth", fmt)
    writer.write({
        "platform": _codes(_PLATFORMS, w.reg.col("platform")[c["account"]]),
        "account_id": id_strings(acc_num[c["account"]]),
        "network_id": net_ids.take(net),
        "network_kind": kinds.take(net),
        "operator_id": id_strings(np.where(op >= 0, acc_num[np.maximum(op, 0)], -1)),
        "role": _codes(pa.array(list(MEMBER_ROLES)), c["role"]),
        "tier": pa.array(tiers[c["net"]], mask=tiers[c["net"]] < 0),
        "origin_country": origin.take(net),
        "target_country": target.take(net),
    })
    truth_path = writer.close()

    platform = w.reg.col("platform")
    rows: dict[str, list[object]] = {k: [] for k in (
        "network_id", "network_kind", "tier", "name", "theme", "origin_country", "target_country",
        "platforms", "hashtags", "domains", "n_accounts", "n_operators", "n_fakes", "n_pages",
        "n_groups", "n_members", "n_spam_bots", "n_events", "n_operator_slips")}
    for i, x in enumerate(nets):
        m = c["net"] == i
        roles = np.bincount(c["role"][m], minlength=len(MEMBER_ROLES))
        plats = sorted({PLATFORMS[int(p)] for p in np.unique(platform[c["account"][m]])})
        vals = [x.network_id, x.kind, x.tier, x.name, x.theme, x.origin or None, x.target or None,
                plats, list(x.hashtags), list(x.domains), int(m.sum()), *map(int, roles[[0, 1, 2, 3, 4, 5]]),
                x.n_events, x.n_slips if x.kind == "cib" else None]
        for k, v in zip(rows, vals):
            rows[k].append(v)
    nw = TableWriter(out, "networks", fmt)
    nw.write({k: (pa.array(v, pa.list_(pa.string())) if k in ("platforms", "hashtags", "domains")
                  else pa.array(v)) for k, v in rows.items()})
    return truth_path, nw.close(), len(c["account"])


def write_world(w: World, ev: EventBatch, num: np.ndarray, fmt: str, out: Path,
                tick: Tick) -> dict[str, object]:
    """Write every table of a finished world.

    Parameters
    ----------
    w : World
        The world.
    ev : EventBatch
        Finalised events (time order, public ids in ``reposted``/``replied``).
    num : numpy.ndarray
        Public event id numbers.
    fmt : str
        ``"parquet"`` or ``"csv"``.
    out : pathlib.Path
        Existing, empty output directory.
    tick : callable
        ``tick(stage, fraction_of_stage)``.

    Returns
    -------
    dict[str, object]
        ``paths`` (table name to path), ``sessions``, ``roles`` and ``truth`` row counts.
    """
    acc_num = w.reg.numbers()
    paths: dict[str, Path] = {}
    paths["events"] = _write_events(w, ev, num, acc_num, fmt, out, tick)
    paths["accounts"] = _write_accounts(w, acc_num, fmt, out)
    tick("write accounts", 1.0)
    paths["sessions"], n_sessions = _write_sessions(w, acc_num, fmt, out, tick)
    paths["roles"], n_roles = _write_roles(w, acc_num, fmt, out)
    paths["truth"], paths["networks"], n_truth = _write_truth(w, acc_num, fmt, out)
    tick("write truth", 1.0)
    return {"paths": paths, "sessions": n_sessions, "roles": n_roles, "truth": n_truth}
