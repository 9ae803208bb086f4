"""Content neutrality: what a network says does not change its verdict, score or members.

A CIB network's posts are rewritten into the words, hashtags and link domains of another
camp (an authentic community of the simulated world), and that camp's into the network's:
a swap applied to every post, so that who acts on what, when and from where is exactly as
before. (Rewriting only the network's posts into tokens that the other camp's real members
use would make the network share objects with them: a change of behaviour, not of opinion.)
Then the whole pipeline runs again from ingest, and the network must come out the same.
"""
from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import lockstep
from lockstep.detect import detect
from lockstep.ingestion import ingest
from lockstep.simulate import simulate

_WORD = re.compile(r"[#@]?\w+")


def _host(u: str) -> str:
    """The host as Lockstep compares it (lower case, without ``www.``)."""
    h = urlsplit(u).hostname or ""
    return h[4:] if h.startswith("www.") else h


def _vocab(rows: list[dict]) -> tuple[Counter, Counter, Counter]:
    # tokens as Lockstep compares them: hashtags and words without case, hosts without www.
    tags, hosts, words = Counter(), Counter(), Counter()
    for r in rows:
        tags.update(t.lower() for t in r["hashtags"] or [])
        hosts.update(_host(u) for u in r["urls"] or [])
        words.update(w.lower() for w in _WORD.findall(r["text"] or "") if w[0] not in "#@")
    hosts.pop("", None)
    return tags, hosts, words


def _pairing(mine: Counter, theirs: Counter) -> dict[str, str]:
    """A swap (a bijection that is its own inverse) of the network's tokens with the
    other camp's, most used first."""
    a = [t for t, _ in sorted(mine.items(), key=lambda kv: (-kv[1], kv[0])) if t not in theirs]
    b = [t for t, _ in sorted(theirs.items(), key=lambda kv: (-kv[1], kv[0])) if t not in mine]
    swap = {}
    for x, y in zip(a, b):
        swap[x], swap[y] = y, x
    return swap


def _rewrite(events: pa.Table, tags: dict, hosts: dict, words: dict) -> pa.Table:
    def text(s: str | None) -> str | None:
        if s is None:
            return None

        def one(m: re.Match) -> str:
            w = m.group(0)
            if w[0] == "#":
                return "#" + tags.get(w[1:].lower(), w[1:])
            if w[0] == "@":
                return w
            low = w.lower()
            return words.get(low, w) if low in words else w
        return _WORD.sub(one, s)

    def url(u: str) -> str:
        h = _host(u)
        if h not in hosts:
            return u
        parts = urlsplit(u)
        netloc = parts.netloc.lower()
        return parts._replace(netloc=netloc.replace(h, hosts[h], 1)).geturl()

    cols = {n: events[n] for n in events.column_names}
    rows = events.select(["text", "hashtags", "urls"]).to_pylist()
    cols["text"] = pa.array([text(r["text"]) for r in rows], pa.string())
    cols["hashtags"] = pa.array([[tags.get(t.lower(), t) for t in r["hashtags"] or []]
                                 for r in rows],
                                events.schema.field("hashtags").type)
    cols["urls"] = pa.array([[url(u) for u in r["urls"] or []] for r in rows],
                            events.schema.field("urls").type)
    return pa.table(cols, schema=events.schema)


def _pipeline(world: Path, ws_dir: Path):  # type: ignore[no-untyped-def]
    ws = lockstep.open_workspace(ws_dir)
    ingest(ws, [world])
    return ws, detect(ws)


def _network(run, members: set) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    got: dict[str, set] = {}
    for m in run.members.to_pylist():
        got.setdefault(m["network_id"], set()).add((m["platform"], m["account_id"]))
    best = max(got, key=lambda n: len(got[n] & members) / len(got[n] | members))
    net = run.networks.filter(pc.equal(run.networks["network_id"], best)).to_pylist()[0]
    inv = run.assessment.network(best)
    return {"members": got[best], **net}, inv


@pytest.mark.slow
def test_rewriting_a_networks_content_into_another_camps_changes_nothing(tmp_path: Path) -> None:
    world = tmp_path / "world"
    simulate(world, scale="tiny", seed=23)
    ws, run = _pipeline(world, tmp_path / "ws")
    inv = run.assessment.inventory.to_pylist()
    cib = [r["network_id"] for r in inv if r["verdict"] == "cib"]
    assert cib, "the tiny world should give at least one cib network"
    target = cib[0]
    members = {(m["platform"], m["account_id"]) for m in run.members.to_pylist()
               if m["network_id"] == target}
    events = pq.read_table(world / "events.parquet")
    rows = events.select(["platform", "account_id", "text", "hashtags", "urls"]).to_pylist()
    mine = _vocab([r for r in rows if (r["platform"], r["account_id"]) in members])
    # the other camp: the authentic community of the truth table whose words, tags and sites
    # differ most from the network's
    truth = pq.read_table(world / "truth.parquet").to_pylist()
    camps: dict[str, set] = {}
    for r in truth:
        if r["network_kind"] == "authentic":
            camps.setdefault(r["network_id"], set()).add((r["platform"], r["account_id"]))
    best = None
    for camp in camps.values():
        theirs = _vocab([r for r in rows if (r["platform"], r["account_id"]) in camp])
        swaps = [_pairing(a, b) for a, b in zip(mine, theirs, strict=True)]
        size = sum(len(x) for x in swaps)
        if best is None or size > best[0]:
            best = (size, swaps)
    swaps = best[1]
    assert all(len(s) >= 2 for s in swaps[:2]), "the network and the camp share all their tags"

    rewritten = tmp_path / "rewritten"
    shutil.copytree(world, rewritten)
    new = _rewrite(events, *swaps)
    pq.write_table(new, rewritten / "events.parquet")
    # the rewrite really changed the network's posts
    before = [r for r in rows if (r["platform"], r["account_id"]) in members]
    after = [r for r in new.select(["platform", "account_id", "text", "hashtags", "urls"])
             .to_pylist() if (r["platform"], r["account_id"]) in members]
    with_content = [(a, b) for a, b in zip(before, after, strict=True)
                    if a["text"] or a["hashtags"] or a["urls"]]
    changed = sum(a != b for a, b in with_content)
    # the rest use only words and tags both camps use (those stay, as they say nothing of
    # either camp)
    assert changed >= 0.5 * len(with_content)

    _, run2 = _pipeline(rewritten, tmp_path / "ws2")
    net1, inv1 = _network(run, members)
    net2, inv2 = _network(run2, members)
    assert net2["members"] == net1["members"]
    assert net2["score"] == pytest.approx(net1["score"], abs=1e-9)
    for key in ("verdict", "confidence", "counts_text", "origin_countries",
                "location_mismatch", "operators", "attribution", "reasons"):
        assert inv2[key] == inv1[key], key
