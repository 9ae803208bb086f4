"""Core and periphery, operators between persons, and the triage list
(:mod:`lockstep.attribution.assess`)."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from lockstep.attribution.assess import (
    Assessment,
    _between_persons,
    _triage,
    core_membership,
    listed_run,
)
from lockstep.graph.networks import Run


def _run(members: list[tuple[str, str, int, str | None]], params: dict[str, Any] | None = None,
         networks: list[tuple[str, float]] | None = None) -> Run:
    """members: (network, account, degree, person_id)."""
    nets = networks or sorted({(m[0], 50.0) for m in members})
    return Run(
        networks=pa.table({"network_id": [n for n, _ in nets], "score": [s for _, s in nets],
                           "size": [0] * len(nets)}),
        members=pa.table({"network_id": [m[0] for m in members],
                          "platform": ["facebook" if not m[1].startswith("i") else "instagram"
                                       for m in members],
                          "account_id": [m[1] for m in members],
                          "kind": ["user"] * len(members),
                          "degree": [m[2] for m in members],
                          "person_id": [m[3] for m in members]}),
        edges=pa.table({"network_id": pa.array([], pa.string())}), params=params or {})


def test_one_tie_is_periphery_persons_count_once() -> None:
    run = _run([("N1", "a", 3, None), ("N1", "b", 2, None), ("N1", "c", 2, None),
                ("N1", "fan", 1, None),
                # a person's Instagram account has no ties of its own: it is core with its
                # Facebook account
                ("N1", "f9", 2, "facebook:f9"), ("N1", "i9", 0, "facebook:f9"),
                ("N1", "page", 0, None)],
               params={"amplified": {"pages": [{"network_id": "N1", "platform": "facebook",
                                                "account_id": "page"}]}})
    core = {a: c for a, c in zip(core_membership(run)["account_id"].to_pylist(),
                                 core_membership(run)["core"].to_pylist())}
    assert core == {"a": True, "b": True, "c": True, "fan": False, "f9": True, "i9": True,
                    "page": True}


def test_a_network_with_no_core_is_assessed_whole() -> None:
    run = _run([("N1", "a", 1, None), ("N1", "b", 1, None), ("N1", "c", 0, None)])
    assert all(core_membership(run)["core"].to_pylist())


def _links(rows: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"network_id": ["N1"] * len(rows), "platform": ["facebook"] * len(rows),
                     "account_id": [r[0] for r in rows],
                     "asset_platform": ["instagram" if r[1].startswith("i") else "facebook"
                                        for r in rows],
                     "asset_id": [r[1] for r in rows], "kind": ["device"] * len(rows)})


def test_own_account_is_not_an_asset_of_its_operator() -> None:
    ops = pa.table({"network_id": ["N1", "N1"], "platform": ["facebook", "facebook"],
                    "account_id": ["twin", "op"], "confidence": ["medium", "high"],
                    "n_assets": [1, 3]})
    person_of = {("facebook", "twin"): "facebook:twin", ("instagram", "itwin"): "facebook:twin",
                 ("instagram", "i1"): "instagram:i1"}
    links, got = _between_persons(
        _links([("twin", "itwin"), ("op", "f1"), ("op", "f2"), ("op", "itwin")]), ops,
        person_of)
    # the twin's only link was to its own Instagram account: it is no operator at all
    assert got.to_pylist()[0]["account_id"] == "op"
    # op runs three persons' accounts
    assert got["n_assets"].to_pylist() == [3] and links.num_rows == 3


def _verdict(nid: str, verdict: str, dec: int, against: int) -> dict[str, Any]:
    return {"network_id": nid, "verdict": verdict, "deception": ["x"] * dec,
            "against": ["y"] * against}


def test_triage_lists_decisions_and_holds_back_the_rest() -> None:
    run = _run([], networks=[("N1", 90.0), ("N2", 80.0), ("N3", 70.0), ("N4", 60.0),
                             ("N5", 50.0), ("N6", 40.0)])
    got = _triage(run, {v["network_id"]: v for v in [
        _verdict("N1", "authentic", 0, 3), _verdict("N2", "undetermined", 1, 1),
        _verdict("N3", "spam", 0, 0), _verdict("N4", "cib", 2, 1),
        _verdict("N5", "cib", 4, 0), _verdict("N6", "undetermined", 2, 2)]})
    assert {n for n, (listed, _) in got.items() if listed} == {"N3", "N4", "N5", "N6"}
    order = sorted(got, key=lambda n: got[n][1])
    # cib first by margin (N5: 4 - 0, N4: 2 - 1), then spam, then close calls; then the
    # held back, in the same verdict order
    assert order == ["N5", "N4", "N3", "N6", "N2", "N1"]


def test_listed_run_keeps_listed_networks_only() -> None:
    run = _run([("N1", "a", 2, None), ("N2", "b", 2, None)])
    empty = pa.table({"network_id": pa.array([], pa.string())})
    run.assessment = Assessment(
        inventory=pa.table({"network_id": ["N1", "N2"], "listed": [True, False]}),
        accounts=pa.table({"network_id": ["N1", "N2"], "account_id": ["a", "b"]}),
        verdicts=empty, behaviour=empty, operators=empty, links=empty, location=empty,
        telemetry=True)
    got = listed_run(run)
    assert got.networks["network_id"].to_pylist() == ["N1"]
    assert got.assessment.accounts["account_id"].to_pylist() == ["a"]
    assert run.n_networks == 2  # the original is untouched
