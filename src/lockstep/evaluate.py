"""Account-level evaluation of detected networks against a truth table.

This evaluates *coordination*, not intent: an account counts as a true positive when it is
in any planted network, whatever its kind (``cib``, ``spam`` or ``authentic``: real people who
coordinate openly are coordinated too). Whether a network is inauthentic is the attribution
step's question, reported here as the per-kind breakdown. An *ordinary* account is one in no
planted network (absent from the truth table, or present with an empty ``network_id``).

Definitions (``F`` flagged accounts, ``P`` planted accounts, ``P_g`` those of group ``g``,
``O = F - P`` flagged ordinary accounts; an account is ``(platform, account_id)``)::

    precision   = |F & P| / |F|            recall   = |F & P| / |P|
    recall_g    = |F & P_g| / |P_g|        precision_g = |F & P_g| / (|F & P_g| + |O|)
    F1          = 2 precision recall / (precision + recall)

``precision_g`` is precision against ordinary users only (accounts of other groups are left
out), so each kind and tier has its own precision, recall and F1. A group is a network kind
(``kind=cib`` ...) or a CIB tier (``tier=2``, from the truth column ``tier`` when present).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lockstep.exceptions import UsageError

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["evaluate", "read_truth", "EvaluationReport", "GroupScore", "NetworkMatch",
           "TRUTH_COLUMNS"]

#: Columns of the truth table :func:`read_truth` returns.
TRUTH_COLUMNS = ("platform", "account_id", "network_id", "network_kind", "operator_id",
                 "tier", "role")

Key = tuple[str, str]


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass(frozen=True)
class GroupScore:
    """Precision, recall and F1 of one group (``overall``, ``kind=...`` or ``tier=...``)."""

    group: str
    planted: int
    flagged: int  # flagged accounts of the group (true positives)
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class NetworkMatch:
    """A planted network and the detected network that best matches it (by Jaccard)."""

    network_id: str
    network_kind: str | None
    tier: int | None
    size: int
    flagged: int  # members in any detected network
    recall: float
    best_match: str | None
    jaccard: float
    overlap: int
    n_detected: int  # detected networks holding at least one member


@dataclass
class EvaluationReport:
    """The result of :func:`evaluate`; see the module docstring for the definitions.

    Attributes
    ----------
    overall : GroupScore
    by_kind, by_tier : list of GroupScore
    matches : list of NetworkMatch
        One per planted network, in ``network_id`` order.
    n_flagged : int
        Distinct flagged accounts.
    authentic_flagged : int
        Flagged members of ``authentic`` networks.
    ordinary_flagged : int
        Flagged accounts in no planted network.
    ordinary_share : float or None
        ``ordinary_flagged`` over all ordinary accounts (``all_accounts - |P|``), when
        ``all_accounts`` was given.
    """

    overall: GroupScore
    by_kind: list[GroupScore] = field(default_factory=list)
    by_tier: list[GroupScore] = field(default_factory=list)
    matches: list[NetworkMatch] = field(default_factory=list)
    n_flagged: int = 0
    authentic_flagged: int = 0
    ordinary_flagged: int = 0
    ordinary_share: float | None = None

    def table(self) -> list[dict[str, Any]]:
        """Rows ``group, planted, flagged, precision, recall, f1``: overall, kinds, tiers."""
        return [vars(g).copy() for g in (self.overall, *self.by_kind, *self.by_tier)]

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready values."""
        return {"overall": vars(self.overall).copy(),
                "by_kind": [vars(g).copy() for g in self.by_kind],
                "by_tier": [vars(g).copy() for g in self.by_tier],
                "matches": [vars(m).copy() for m in self.matches],
                "n_flagged": self.n_flagged, "authentic_flagged": self.authentic_flagged,
                "ordinary_flagged": self.ordinary_flagged,
                "ordinary_share": self.ordinary_share}


def _col(t: pa.Table, name: str) -> list[Any]:
    return t[name].to_pylist() if name in t.column_names else [None] * t.num_rows


def _keys(t: pa.Table) -> list[Key]:
    return [(str(p), str(a)) for p, a in zip(_col(t, "platform"), _col(t, "account_id"))]


def _score(group: str, planted: set[Key], flagged: set[Key], n_ordinary: int) -> GroupScore:
    tp = len(planted & flagged)
    p, r = _ratio(tp, tp + n_ordinary), _ratio(tp, len(planted))
    return GroupScore(group, len(planted), tp, p, r, _f1(p, r))


def evaluate(flagged: pa.Table, truth: pa.Table, *, all_accounts: int | None = None
             ) -> EvaluationReport:
    """Score flagged accounts against planted networks, at account level.

    Parameters
    ----------
    flagged : pyarrow.Table
        ``network_id, platform, account_id`` of every flagged account (a run's ``members``
        table will do); an account in several rows counts once.
    truth : pyarrow.Table
        ``platform, account_id, network_id, network_kind`` (``operator_id``, ``tier``,
        ``role`` optional). Rows with an empty ``network_id`` are ordinary accounts.
    all_accounts : int, optional
        Number of accounts in the data, to give the share of ordinary accounts flagged.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> truth = pa.table({"platform": ["x"] * 4, "account_id": ["a", "b", "c", "d"],
    ...                   "network_id": ["n1", "n1", "n1", None],
    ...                   "network_kind": ["cib", "cib", "cib", None]})
    >>> flagged = pa.table({"network_id": ["N1"] * 3, "platform": ["x"] * 3,
    ...                     "account_id": ["a", "b", "z"]})
    >>> r = evaluate(flagged, truth, all_accounts=10)
    >>> round(r.overall.precision, 3), round(r.overall.recall, 3), r.ordinary_flagged
    (0.667, 0.667, 1)
    """
    fkeys = _keys(flagged)
    fnet = _col(flagged, "network_id")
    detected: dict[str, set[Key]] = defaultdict(set)
    for k, n in zip(fkeys, fnet):
        if n is not None:
            detected[str(n)].add(k)
    F = set(fkeys)
    planted: dict[str, set[Key]] = defaultdict(set)
    kind_of: dict[str, str | None] = {}
    tier_of: dict[str, int | None] = {}
    by_kind: dict[str, set[Key]] = defaultdict(set)
    by_tier: dict[int, set[Key]] = defaultdict(set)
    for k, net, kind, tier in zip(_keys(truth), _col(truth, "network_id"),
                                  _col(truth, "network_kind"), _col(truth, "tier")):
        if net is None or net == "":
            continue
        net = str(net)
        planted[net].add(k)
        kind_of.setdefault(net, kind)
        by_kind[str(kind) if kind else "unknown"].add(k)
        if tier is not None and tier == tier:  # not null, not NaN
            by_tier[int(tier)].add(k)
            tier_of.setdefault(net, int(tier))
    P = set().union(*planted.values()) if planted else set()
    ordinary = F - P
    report = EvaluationReport(overall=_score("overall", P, F, len(ordinary)), n_flagged=len(F))
    kinds = [k for k in ("cib", "spam", "authentic") if k in by_kind] + sorted(
        k for k in by_kind if k not in ("cib", "spam", "authentic"))
    report.by_kind = [_score(f"kind={k}", by_kind[k], F, len(ordinary)) for k in kinds]
    report.by_tier = [_score(f"tier={t}", by_tier[t], F, len(ordinary)) for t in sorted(by_tier)]
    for net in sorted(planted):
        members = planted[net]
        best, best_j, best_o, touched = None, 0.0, 0, 0
        for did in sorted(detected):
            o = len(members & detected[did])
            if not o:
                continue
            touched += 1
            j = o / len(members | detected[did])
            if j > best_j:
                best, best_j, best_o = did, j, o
        hit = len(members & F)
        report.matches.append(NetworkMatch(net, kind_of.get(net), tier_of.get(net),
                                           len(members), hit, hit / len(members), best, best_j,
                                           best_o, touched))
    report.authentic_flagged = len(by_kind.get("authentic", set()) & F)
    report.ordinary_flagged = len(ordinary)
    if all_accounts is not None:
        report.ordinary_share = _ratio(len(ordinary), all_accounts - len(P))
    return report


def read_truth(source: Workspace | str | Path) -> pa.Table:
    """Read a truth table (:data:`TRUTH_COLUMNS`) from a workspace or a file.

    Parameters
    ----------
    source : Workspace or path
        A workspace (its ``truth`` table; ``tier`` and ``role`` come from ``extra``) or a
        generic-format truth file (``.csv``, ``.parquet``, ``.jsonl``/``.json``) with a
        ``platform`` column.

    Raises
    ------
    UsageError
        The file is missing, of an unknown type, or lacks ``platform``/``account_id``.
    """
    import duckdb

    if hasattr(source, "connect"):
        con = source.connect()
        sql = ("SELECT platform, account_id, network_id, network_kind, operator_id, "
               "TRY_CAST(json_extract_string(extra, '$.tier') AS BIGINT) AS tier, "
               "json_extract_string(extra, '$.role') AS role FROM truth")
    else:
        path = Path(source)
        readers = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json",
                   ".json": "read_json", ".ndjson": "read_json"}
        if not path.is_file() or path.suffix.lower() not in readers:
            raise UsageError(f"{path}: not a truth file (.csv, .parquet or .jsonl expected)")
        con = duckdb.connect()
        quoted = "'" + str(path).replace("'", "''") + "'"
        sql = f"SELECT * FROM {readers[path.suffix.lower()]}({quoted})"
    try:
        t = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    if not {"platform", "account_id"} <= set(t.column_names):
        raise UsageError(f"{source}: a truth table needs platform and account_id columns")
    types = {"tier": pa.int64()}
    cols = [t[c].cast(types.get(c, pa.string())) if c in t.column_names
            else pa.nulls(t.num_rows, types.get(c, pa.string())) for c in TRUTH_COLUMNS]
    return pa.table(dict(zip(TRUTH_COLUMNS, cols)))
