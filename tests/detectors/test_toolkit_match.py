"""Co-link against coordination-network-toolkit 1.5.2 (QUT) on the German election data.

What the toolkit computes (read from its ``compute_networks.compute_co_link_network``): a
self-join of ``message_url`` on the URL with ``e_2.timestamp BETWEEN e_1.timestamp - w AND
e_1.timestamp + w`` (inclusive, like Lockstep), grouped by the *ordered* user pair, with
``weight = count(DISTINCT e_1.message_id)``: the number of ``user_1``'s messages that have at
least one partner message by ``user_2``. So it is directed (``u->v`` and ``v->u`` can differ),
pairs every user with itself (its export drops those loops), and counts messages, where
Lockstep counts event pairs once per unordered account pair. The common definition compared
here: the set of account pairs, and both directed toolkit weights, which Lockstep's full
evidence gives exactly (distinct events of each side). Known faults of 1.5.2 worked around: an
empty ``urls`` field becomes the URL ``''`` (only rows with a URL are given to it), and its CSV
export fails (its Python API is used: ``graph.get_edge_rows``).
"""
from __future__ import annotations

import csv
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import lockstep
from lockstep.detectors import CoActionDetector
from lockstep.exceptions import UsageError
from lockstep.ingestion import ingest
from lockstep.workspace import Workspace

tk_pre = pytest.importorskip(
    "coordination_network_toolkit.preprocess",
    reason="coordination-network-toolkit is not installed (pip install "
           "coordination-network-toolkit==1.5.2, or the project's 'bench' extra)")
from coordination_network_toolkit.compute_networks import compute_co_link_network  # noqa: E402
from coordination_network_toolkit.graph import get_edge_rows  # noqa: E402

GERMAN = Path(__file__).resolve().parents[3] / "shared" / "data" / "german-elections-2021" / \
    "german_elections.csv"
pytestmark = pytest.mark.skipif(
    metadata.version("coordination-network-toolkit") != "1.5.2",
    reason="this check is written against coordination-network-toolkit 1.5.2 exactly")


def toolkit_co_link(db: Path, messages: list[tuple[Any, ...]] | None,
                    window: float) -> dict[tuple[str, str], int]:
    """Directed co-link weights of the toolkit, self-loops excluded (its export's default)."""
    if messages is not None:
        tk_pre.preprocess_data(str(db), messages)
    compute_co_link_network(str(db), window, n_threads=2, min_edge_weight=1)
    return {(u1, u2): w for u1, u2, w, _ in get_edge_rows(str(db), "co_link")}


def lockstep_directed(det: CoActionDetector) -> dict[tuple[str, str], int]:
    """The toolkit's directed weights from Lockstep's full evidence (max_evidence >= weight)."""
    out: dict[tuple[str, str], int] = {}
    for r in det.edges_.select(["account_a", "account_b", "weight", "evidence"]).to_pylist():
        assert len(r["evidence"]) == r["weight"]  # the full list
        pairs = [e.split("|") for e in r["evidence"]]
        out[(r["account_a"], r["account_b"])] = len({ea for ea, _ in pairs})
        out[(r["account_b"], r["account_a"])] = len({eb for _, eb in pairs})
    return out


def test_semantics_on_a_hand_made_case(tmp_path: Path) -> None:
    # a links X at 0 s; b at 10 s and 20 s; c at 80 s: 60 s after b's second link, so paired
    # (the window is inclusive in both), 70 s after b's first, so not
    msgs = [("m1", "a", "a", "", "", "", 1000, ["X"]), ("m2", "b", "b", "", "", "", 1010, ["X"]),
            ("m3", "b", "b", "", "", "", 1020, ["X"]), ("m4", "c", "c", "", "", "", 1080, ["X"])]
    tk = toolkit_co_link(tmp_path / "tk.db", msgs, 60)
    assert tk == {("a", "b"): 1, ("b", "a"): 2, ("b", "c"): 1, ("c", "b"): 1}
    src = tmp_path / "events.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["platform", "event_id", "account_id", "timestamp", "urls"])
        for m in msgs:
            w.writerow(["x", m[0], m[1], m[6], " ".join(m[7])])
    ws = lockstep.open_workspace(tmp_path / "ws")
    ingest(ws, [src])
    det = CoActionDetector(object_type="url", window=60, max_evidence=100).fit(ws)
    assert lockstep_directed(det) == tk
    # Lockstep's weight counts event pairs: a-b has two (m1-m2, m1-m3), the toolkit 1 and 2
    assert {(r["account_a"], r["account_b"]): r["weight"] for r in det.edges_.to_pylist()} == {
        ("a", "b"): 2, ("b", "c"): 1}


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    if not GERMAN.exists():
        pytest.skip(f"the German election data set is not present at {GERMAN}")
    tmp = tmp_path_factory.mktemp("german-toolkit")
    ws = lockstep.open_workspace(tmp / "ws")
    try:
        ingest(ws, [GERMAN], fmt="coortweet", skip_bad_rows=True)
    except (UsageError, ImportError, AttributeError):
        from test_coaction import german_as_generic  # no CooRTweet reader in this tree
        ingest(ws, [german_as_generic(tmp)])
    # the toolkit gets only rows with a URL (an empty field would become the URL '') and a
    # post id (Lockstep's ingest sets the 3 rows without one aside)
    with open(GERMAN, newline="", encoding="utf-8") as fh:
        msgs = [(r["post_id"], r["account_id"], r["account_id"], "", "", "",
                 float(r["timestamp"]), [r["url_id"]])
                for r in csv.DictReader(fh) if r["url_id"] and r["post_id"]]
    db = tmp / "toolkit.db"
    tk_pre.preprocess_data(str(db), msgs)
    return ws, db


@pytest.mark.parametrize("window", [10, 60])
def test_german_co_link_matches_toolkit(german: tuple[Workspace, Path], window: int) -> None:
    ws, db = german
    tk = toolkit_co_link(db, None, window)
    det = CoActionDetector(object_type="url", window=window, max_evidence=10**9).fit(ws)
    ours = lockstep_directed(det)
    # the toolkit's relation is symmetric in its pairs
    assert {(b, a) for a, b in tk} == set(tk)
    # identical account pairs (ids carry their platform prefix, fb_ / tw_)
    assert {frozenset(k) for k in ours} == {frozenset(k) for k in tk}
    assert len(tk) == 2 * det.edges_.num_rows
    # identical weights on the common definition (both directions)
    assert ours == tk
    # and Lockstep's event-pair weight is bounded by them as it must be
    for r in det.edges_.select(["account_a", "account_b", "weight"]).to_pylist():
        ab, ba = tk[(r["account_a"], r["account_b"])], tk[(r["account_b"], r["account_a"])]
        assert max(ab, ba) <= r["weight"] <= ab * ba
    assert det.edges_.num_rows > 1000
