"""The real German federal election 2021 sample, end to end (Righetti et al. 2022; CooRTweet)."""
from __future__ import annotations

import duckdb
import pytest

from conftest import GERMAN
from lockstep.ingestion import ingest
from lockstep.stats import workspace_stats
from lockstep.workspace import Workspace

pytestmark = pytest.mark.skipif(not GERMAN.exists(), reason=f"shared data set not present at {GERMAN}")


def test_german_file_ingests_whole(ws: Workspace) -> None:
    rep = ingest(ws, [GERMAN])  # format detected from the header
    (fr,) = rep.files
    assert (fr.format, fr.status, fr.rejected) == ("coortweet", "loaded", 0)
    src = duckdb.connect()
    src.execute(f"CREATE VIEW src AS SELECT * FROM read_csv('{GERMAN}', all_varchar=true)")
    n_rows, n_accounts = src.execute("SELECT count(*), count(DISTINCT account_id) FROM src").fetchone()
    assert (n_rows, n_accounts) == (218_971, 58_317)  # the README's figures
    posts = src.execute("SELECT count(DISTINCT (substr(account_id, 1, 3), post_id)) FILTER "
                        "(post_id IS NOT NULL) + count(*) FILTER (post_id IS NULL) FROM src").fetchone()[0]
    assert fr.rows_added == posts == 194_326
    con = ws.connect()
    assert con.execute("SELECT count(DISTINCT account_id) FROM events").fetchone()[0] == 58_317
    # every (post, object) pair of the file is an object of its event
    for column, otype in (("url_id", "url"), ("hashtag_id", "hashtag"), ("domain_id", "domain"),
                          ("phash_id", "image")):
        want = src.execute(f"SELECT count(DISTINCT (substr(account_id, 1, 3), post_id, {column})) "
                           f"FROM src WHERE {column} IS NOT NULL").fetchone()[0]
        got = con.execute(f"SELECT count(*) FROM objects WHERE object_type = '{otype}'").fetchone()[0]
        assert got == want, otype
    st = workspace_stats(ws)
    assert st.tables["events"] == {"facebook": 81_569, "x": 112_757}
    assert set(st.accounts_acting) == {"facebook", "x"}
    # ingesting it again adds nothing
    assert ingest(ws, [GERMAN]).files[0].rows_added == 0


@pytest.mark.slow
def test_german_data_detect_and_assess_state_their_limits(ws: Workspace) -> None:
    """Public data, no sessions or roles (issue 4): the whole pipeline runs, finds networks,
    gives every one a verdict with reasons, and says what it cannot establish instead of
    naming operators."""
    from lockstep.detect import detect

    ingest(ws, [GERMAN])
    run = detect(ws)
    assert run.n_networks >= 1
    a = run.assessment
    assert not a.telemetry and a.operators.num_rows == 0
    assert "no telemetry: operator attribution not possible" in a.limitations
    inv = a.inventory.to_pylist()
    assert [r["network_id"] for r in inv] == run.networks["network_id"].to_pylist()
    for r in inv:
        assert r["verdict"] in {"cib", "spam", "authentic", "undetermined"} and r["reasons"]
        assert "no telemetry: operator attribution not possible" in r["limitations"]
    # no infrastructure here, so nothing was corroborated; the run says so
    assert run.params["corroboration"]["tested"] == 0
