"""Saving and loading detection runs under <workspace>/runs/."""
from __future__ import annotations

import json

import pytest
from synthetic_edges import planted as make_planted

from lockstep.exceptions import WorkspaceError
from lockstep.graph import detect_networks, latest_run_id, list_runs, load_run, save_run
from lockstep.graph.store import runs_dir


@pytest.fixture
def run():
    tables, _ = make_planted(0, n_noise=80, noise_edges=100)
    return detect_networks(tables, seed=3, params={"detectors": [{"signal": "co-repost",
                                                                  "window": 60}]})


def test_round_trip(ws, run):
    manifest = (ws.path / "lockstep.json").read_bytes()
    rid = save_run(ws, run)
    assert run.run_id == rid and run.created
    back = load_run(ws)
    for name in ("networks", "members", "edges"):
        assert getattr(back, name).equals(getattr(run, name)), name
    assert back.params == json.loads(json.dumps(run.params))
    assert back.params["detectors"][0]["window"] == 60
    assert back.params["communities"]["seed"] == 3
    assert back.run_id == rid and back.created == run.created
    d = runs_dir(ws) / rid
    assert sorted(p.name for p in d.iterdir()) == ["edges.parquet", "members.parquet",
                                                   "networks.parquet", "run.json"]
    meta = json.loads((d / "run.json").read_text())
    assert meta["counts"]["networks"] == run.n_networks
    # the workspace manifest is untouched and no temporary files remain
    assert (ws.path / "lockstep.json").read_bytes() == manifest
    assert not [p for p in runs_dir(ws).iterdir() if p.name.startswith(".")]


def test_latest_and_list(tmp_path, run):
    assert list_runs(tmp_path) == [] and latest_run_id(tmp_path) is None
    first = save_run(tmp_path, run, run_id="r1")
    second = save_run(tmp_path, run, run_id="r2")
    assert (runs_dir(tmp_path) / "latest").read_text().strip() == second
    assert load_run(tmp_path).run_id == "r2"
    assert load_run(tmp_path, first).run_id == "r1"
    runs = list_runs(tmp_path)
    assert [r["run_id"] for r in runs] == ["r1", "r2"]
    assert [r["latest"] for r in runs] == [False, True]
    assert runs[0]["counts"]["members"] == run.members.num_rows


def test_errors(tmp_path, run):
    with pytest.raises(WorkspaceError, match="no detection run"):
        load_run(tmp_path)
    save_run(tmp_path, run, run_id="r1")
    with pytest.raises(WorkspaceError, match="recent runs: r1"):
        load_run(tmp_path, "nope")
    with pytest.raises(WorkspaceError, match="already exists"):
        save_run(tmp_path, run, run_id="r1")
    for bad in ("../x", ".hidden", "latest", "a/b"):
        with pytest.raises(WorkspaceError, match="not a valid run id"):
            load_run(tmp_path, bad)


def test_generated_ids_sort_by_time(tmp_path, run):
    a = save_run(tmp_path, run)
    b = save_run(tmp_path, run)
    assert a != b and len(a) == len("20250101T120000Z-1a2b3c")
    assert {r["run_id"] for r in list_runs(tmp_path)} == {a, b}
    assert load_run(tmp_path).run_id == b


def test_failed_save_leaves_nothing(tmp_path, run):
    run.params["bad"] = object()
    with pytest.raises(TypeError):
        save_run(tmp_path, run, run_id="r1")
    assert list(runs_dir(tmp_path).iterdir()) == []
