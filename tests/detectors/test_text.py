"""Near-duplicate text detector (co-text): the contract, every semantic rule on hand-made
data, the null model on a popular text, and the exact Jaccard check against Python sets."""
from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lockstep
from lockstep.detectors import text as text_mod
from lockstep.detectors.base import NotFittedError
from lockstep.detectors.text import SIGNALS, TextDetector
from lockstep.exceptions import UsageError
from lockstep.ingestion import ingest
from lockstep.testing import check_detector, events_workspace, make_campaign
from lockstep.workspace import Workspace

COLUMNS = ("platform", "event_id", "account_id", "timestamp", "action", "text",
           "reposted_id")
T0 = 1_600_000_000


def make_ws(tmp_path: Path, events: list[dict[str, Any]], name: str = "ws") -> Workspace:
    """A workspace holding ``events`` (generic format; event ids ``e0``, ``e1``, ...)."""
    return events_workspace(tmp_path, events, name=name, columns=COLUMNS,
                            defaults={"action": "post"})


def ev(acc: str, t: float, text: str, **fields: Any) -> dict[str, Any]:
    return {"account_id": acc, "timestamp": T0 + t, "text": text, **fields}


def words(rng: random.Random, n: int) -> list[str]:
    """``n`` made-up words (letters only: digits would be normalised to ``0``)."""
    return ["".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou")
                    for _ in range(3)) for _ in range(n)]


def edit(text: str, rng: random.Random, n_words: int = 1) -> str:
    """``text`` with ``n_words`` words replaced by fresh ones."""
    toks = text.split()
    for pos in rng.sample(range(len(toks)), n_words):
        toks[pos] = words(rng, 1)[0] + "q"
    return " ".join(toks)


def pairs_of(det: TextDetector) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["account_a"], r["account_b"]): r for r in det.edges_.to_pylist()}


def background(rng: random.Random, n_acc: int = 20, per: int = 5) -> list[dict[str, Any]]:
    """Ordinary accounts, each posting unrelated texts."""
    return [ev(f"user_{k}", rng.randrange(0, 86400), " ".join(words(rng, 10)))
            for k in range(n_acc) for _ in range(per)]


# -- the contract -------------------------------------------------------------------------------
def test_signals_and_registry_name() -> None:
    assert SIGNALS == {"co-text": {}}
    assert TextDetector.name == "text"


def test_contract_on_the_planted_campaign(tmp_path: Path) -> None:
    ws = lockstep.open_workspace(tmp_path / "ws")
    ingest(ws, [make_campaign(tmp_path, seed=3)])
    # the campaign's texts are "look at this <n>" (4 words once digits are normalised)
    got = check_detector(TextDetector(), ws, min_recall=0.8)
    assert got["edges"] >= 15  # the 6 planted accounts, all pairs


def test_contract_on_hand_made_near_duplicates(tmp_path: Path) -> None:
    rng = random.Random(1)
    scripts = [" ".join(words(rng, 12)) for _ in range(4)]
    events = background(rng)
    for k in range(5):
        for s, script in enumerate(scripts):
            events.append(ev(f"op_{k}", 1000 * s + k * 7, edit(script, rng) if k else script))
    ws = make_ws(tmp_path, events)
    check_detector(TextDetector(max_evidence=3), ws)
    check_detector(TextDetector(window=60, min_weight=2), ws)


# -- semantics ------------------------------------------------------------------------------------
def test_near_duplicates_found_unrelated_not(tmp_path: Path) -> None:
    rng = random.Random(2)
    base = " ".join(words(rng, 10))
    events = background(rng) + [
        ev("a", 0, base), ev("b", 50, edit(base, rng)),  # one word changed: J = 9/11
        ev("c", 90, base.upper() + "!!"),  # same text, other case and punctuation
        ev("d", 120, " ".join(words(rng, 10))),  # unrelated
    ]
    det = TextDetector().fit(make_ws(tmp_path, events))
    got = pairs_of(det)
    assert set(got) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert got[("a", "b")]["weight"] == 1 and got[("a", "b")]["support"] == 1
    assert got[("a", "b")]["evidence"] == [f"e{len(events) - 4}|e{len(events) - 3}"]
    assert got[("a", "b")]["median_delta_s"] == 50.0
    assert det.stats_["clusters_near_duplicate"] == 1


def test_heavier_edits_and_threshold(tmp_path: Path) -> None:
    rng = random.Random(3)
    base = " ".join(words(rng, 10))
    far = edit(base, rng, 4)  # 6 of 14 distinct words shared: J = 6/14 < 0.6
    ws = make_ws(tmp_path, background(rng) + [ev("a", 0, base), ev("b", 5, far)])
    assert pairs_of(TextDetector().fit(ws)) == {}
    assert set(pairs_of(TextDetector(threshold=0.4).fit(ws))) == {("a", "b")}


def test_normalisation(tmp_path: Path) -> None:
    events = [
        ev("a", 0, "Vote for Maria Lopez on 12 May, https://t.co/abc @news #VoteMaria"),
        ev("b", 1, "vote FOR maria   lopez on 3 may!!! #Other"),
        ev("c", 2, "Vote for Maria Lopez on 12 May www.example.org/x @someone"),
    ]
    ws = make_ws(tmp_path, events)
    assert set(pairs_of(TextDetector().fit(ws))) == {("a", "b"), ("a", "c"), ("b", "c")}
    # keeping hashtags, a and b share 6 of 8 words: J = 0.75 (still similar) ...
    ws2 = make_ws(tmp_path, events[:2], name="ws2")
    assert len(pairs_of(TextDetector(keep_hashtags=True).fit(ws2))) == 1
    assert len(pairs_of(TextDetector(threshold=0.8).fit(ws2))) == 1
    # ... but not at a threshold above it
    assert len(pairs_of(TextDetector(keep_hashtags=True, threshold=0.8).fit(ws2))) == 0
    # with c (6/7 from both), a and b are in one cluster again: clusters are connected
    # components, so a template's edits meet through the original
    assert len(pairs_of(TextDetector(keep_hashtags=True, threshold=0.8).fit(ws))) == 3


def test_short_texts_are_ignored(tmp_path: Path) -> None:
    events = [ev("a", 0, "so true"), ev("b", 1, "so true"), ev("c", 2, "So true!")]
    ws = make_ws(tmp_path, events)
    det = TextDetector().fit(ws)
    assert det.edges_.num_rows == 0
    assert det.stats_["documents_short"] == 1 and det.stats_["rows"] == 0
    assert len(pairs_of(TextDetector(min_tokens=2).fit(ws))) == 3


def test_an_account_never_pairs_with_itself(tmp_path: Path) -> None:
    text = "the very same words posted again and again today"
    ws = make_ws(tmp_path, [ev("a", 0, text), ev("a", 5, text), ev("a", 9, text + " ok")])
    det = TextDetector().fit(ws)
    assert det.edges_.num_rows == 0
    assert det.stats_["clusters_shared"] == 0  # one account: never paired
    ws2 = make_ws(tmp_path, [ev("a", 0, text), ev("a", 5, text), ev("b", 10, text)],
                  name="ws2")
    det = TextDetector().fit(ws2)
    got = det.edges_.to_pylist()
    assert [(r["account_a"], r["account_b"], r["weight"], r["support"]) for r in got] == [
        ("a", "b", 2, 1)]
    assert got[0]["evidence"] == ["e1|e2", "e0|e2"]  # tightest first
    assert det.stats_["same_account_pairs"] == 1
    assert det.evidence("a", "a") == []


def test_same_account_id_on_two_platforms_is_two_accounts(tmp_path: Path) -> None:
    text = "copy this message to every group you know please"
    ws = make_ws(tmp_path, [ev("alice", 0, text), ev("alice", 3, text, platform="bluesky")])
    got = TextDetector().fit(ws).edges_.to_pylist()
    assert [(r["platform_a"], r["account_a"], r["platform_b"], r["account_b"]) for r in got] == [
        ("bluesky", "alice", "x", "alice")]
    assert got[0]["evidence"] == ["e1|e0"]  # the event of the lower account first


def test_window(tmp_path: Path) -> None:
    text = "copy this message to every group you know please"
    ws = make_ws(tmp_path, [ev("a", 0, text), ev("b", 100, text), ev("c", 100.5, text)])
    assert set(pairs_of(TextDetector().fit(ws))) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert set(pairs_of(TextDetector(window=100).fit(ws))) == {("a", "b"), ("b", "c")}
    assert set(pairs_of(TextDetector(window=99.999).fit(ws))) == {("b", "c")}
    assert set(pairs_of(TextDetector(window=0).fit(ws))) == set()
    det = TextDetector(window=100).fit(ws)
    assert det.evidence("a", "c") == []
    assert det.evidence("a", "b") == ["e0|e1"]


def test_reposts_are_left_to_co_repost(tmp_path: Path) -> None:
    text = "RT @origin: the original post that everyone shares today"
    ws = make_ws(tmp_path, [ev("a", 0, text, action="repost", reposted_id="p1"),
                            ev("b", 1, text, action="repost", reposted_id="p1")])
    assert TextDetector().fit(ws).edges_.num_rows == 0
    assert set(pairs_of(TextDetector(include_reposts=True).fit(ws))) == {("a", "b")}


def test_weight_support_times_and_evidence(tmp_path: Path) -> None:
    rng = random.Random(4)
    s1, s2 = (" ".join(words(rng, 9)) for _ in range(2))
    events = [ev("a", 0, s1), ev("b", 30, s1), ev("a", 1000, s2), ev("b", 1010, edit(s2, rng)),
              ev("b", 1100, s2)]
    det = TextDetector(max_evidence=2).fit(make_ws(tmp_path, events))
    (row,) = det.edges_.to_pylist()
    assert (row["weight"], row["support"]) == (3, 2)
    assert row["median_delta_s"] == 30.0  # deltas 10, 30, 100
    assert row["first_seen"].timestamp() == T0 and row["last_seen"].timestamp() == T0 + 1100
    assert row["evidence"] == ["e2|e3", "e0|e1"]
    assert det.evidence(("x", "b"), ("x", "a")) == ["e2|e3", "e0|e1", "e2|e4"]
    assert 0 < row["p_value"] <= 1 and row["expected"] >= 0


# -- popular texts and the null model -------------------------------------------------------------
def popular_world(rng: random.Random) -> list[dict[str, Any]]:
    """30 accounts that all post the same two viral texts, each with 5 texts of their own, and
    a planted pair sharing three rare scripts."""
    viral = [" ".join(words(rng, 8)) for _ in range(2)]
    events = []
    for k in range(30):
        events += [ev(f"fan_{k:02d}", 10 * k + 3600 * v, viral[v]) for v in range(2)]
        events += [ev(f"fan_{k:02d}", rng.randrange(86400), " ".join(words(rng, 8)))
                   for _ in range(5)]
    for s in range(3):
        script = " ".join(words(rng, 10))
        events += [ev("op_a", 7200 * s, script), ev("op_b", 7200 * s + 40, edit(script, rng))]
    events += [ev(acc, rng.randrange(86400), " ".join(words(rng, 8)))
               for acc in ("op_a", "op_b") for _ in range(5)]
    return events


def test_a_popular_text_is_not_significant(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, popular_world(random.Random(5)))
    det = TextDetector().fit(ws)
    got = pairs_of(det)
    fans = {k: r for k, r in got.items() if k[0].startswith("fan")}
    assert len(fans) == 30 * 29 // 2
    assert all(r["support"] == 2 for r in fans.values())
    assert min(r["p_value"] for r in fans.values()) > 0.1
    planted = got[("op_a", "op_b")]
    assert planted["support"] == 3 and planted["p_value"] < 1e-3
    assert planted["expected"] < 0.1


def test_popular_clusters_are_capped_and_reported(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, popular_world(random.Random(5)))
    det = TextDetector(max_accounts=10).fit(ws)
    assert set(pairs_of(det)) == {("op_a", "op_b")}
    assert pairs_of(det)[("op_a", "op_b")]["p_value"] < 1e-3
    st = det.stats_
    assert st["popular_clusters_count"] == 2 and st["popular_events"] == 60
    assert [c["accounts"] for c in st["popular_clusters"]] == [30, 30]
    assert all(len(c["text"].split()) == 8 for c in st["popular_clusters"])
    assert st["popular_candidate_pairs"] == 2 * 30 * 29 // 2


def test_large_lsh_buckets_are_not_a_cartesian_product(tmp_path: Path) -> None:
    rng = random.Random(6)
    base = " ".join(words(rng, 14))
    events = [ev(f"bot_{k:03d}", k, edit(base, rng)) for k in range(150)]
    det = TextDetector().fit(make_ws(tmp_path, events))
    # the template's words are in every text, but used by 150 accounts only: not stopwords
    assert det.stats_["stopwords"]["count"] == 0
    st = det.stats_
    assert st["lsh_large_buckets"] > 0
    assert st["lsh_candidates"] < 150 * 149 // 2
    assert st["clusters_near_duplicate"] == 1  # one family, found through its neighbours
    assert det.edges_.num_rows == 150 * 149 // 2


# -- empty input, errors ------------------------------------------------------------------------
def test_no_text_gives_empty_edges(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, [{"account_id": "a", "timestamp": T0, "reposted_id": "p"},
                            {"account_id": "b", "timestamp": T0 + 1, "reposted_id": "p"}])
    det = TextDetector().fit(ws)
    assert det.edges_.num_rows == 0 and det.stats_["rows"] == 0
    assert det.evidence("a", "b") == []
    check_detector(TextDetector(), ws, min_recall=0.5)


@pytest.mark.parametrize("params", [
    {"threshold": 0}, {"threshold": 1.5}, {"threshold": True}, {"window": -1},
    {"min_tokens": 0}, {"stopword_df": 0}, {"keep_hashtags": 1}, {"num_perm": 64, "bands": 5},
    {"max_accounts": 1}, {"pair_budget": 0}, {"random_state": -1}])
def test_bad_parameters_fail_at_fit(tmp_path: Path, params: dict[str, Any]) -> None:
    ws = make_ws(tmp_path, [ev("a", 0, "one two three four")])
    det = TextDetector(**params)
    with pytest.raises(UsageError):
        det.fit(ws)


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        TextDetector().evidence("a", "b")


# -- internals ------------------------------------------------------------------------------------
def test_exact_jaccard_matches_sets() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, 50)
    docs = [rng.choice(30, size=s, replace=False).astype(np.uint64) * np.uint64(0x9E3779B9)
            for s in sizes]
    h = np.concatenate(docs)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    i, j = np.array(list(itertools.combinations(range(50), 2))).T
    got = text_mod._jaccard(h, starts, sizes, i, j)
    want = [len(set(docs[a].tolist()) & set(docs[b].tolist()))
            / len(set(docs[a].tolist()) | set(docs[b].tolist())) for a, b in zip(i, j)]
    assert np.allclose(got, want)


def test_stopwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_mod, "_STOP_MIN_DOCS", 2)
    monkeypatch.setattr(text_mod, "_STOP_MIN_ACCOUNTS", 2)
    rng = random.Random(7)
    # every text has "the" and "and": with them, a and b share 3 of 7 words, without 1 of 5
    events = [ev(f"u{k}", k, "the and " + " ".join(words(rng, 3))) for k in range(6)]
    a, b = words(rng, 3), words(rng, 2)
    events += [ev("a", 100, "the and " + " ".join(a)), ev("b", 101, f"the and {a[0]} " +
                                                           " ".join(b))]
    ws = make_ws(tmp_path, events)
    det = TextDetector(stopword_df=0.5, min_tokens=2).fit(ws)
    assert det.stats_["stopwords"]["count"] == 2
    assert det.stats_["stopwords"]["most_common"] == ["and", "the"]
    assert det.edges_.num_rows == 0
    everything = TextDetector(stopword_df=None, min_tokens=2, threshold=0.4, bands=64)
    assert len(pairs_of(everything.fit(ws))) == 1
