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
from lockstep.sql import literal

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["evaluate", "evaluate_assessment", "listed_networks", "evaluate_export",
           "all_networks", "read_truth", "EvaluationReport", "AssessmentReport", "ExportReport", "GroupScore", "NetworkMatch",
           "TRUTH_COLUMNS"]

#: Columns of the truth table :func:`read_truth` returns.
TRUTH_COLUMNS = ("platform", "account_id", "network_id", "network_kind", "operator_id",
                 "tier", "role", "origin_country")

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


def _best_match(members: set[Key], detected: dict[str, set[Key]]
                ) -> tuple[str | None, float, int, int]:
    """The detected network with the highest Jaccard with ``members`` (ties: the smallest
    network id), that Jaccard, its overlap, and how many detected networks overlap at all."""
    best, best_j, best_o, touched = None, 0.0, 0, 0
    for did in sorted(detected):
        o = len(members & detected[did])
        if not o:
            continue
        touched += 1
        j = o / len(members | detected[did])
        if j > best_j:
            best, best_j, best_o = did, j, o
    return best, best_j, best_o, touched


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
        best, best_j, best_o, touched = _best_match(members, detected)
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
               "json_extract_string(extra, '$.role') AS role, "
               "json_extract_string(extra, '$.origin_country') AS origin_country FROM truth")
    else:
        path = Path(source)
        readers = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json",
                   ".json": "read_json", ".ndjson": "read_json"}
        if not path.is_file() or path.suffix.lower() not in readers:
            raise UsageError(f"{path}: not a truth file (.csv, .parquet or .jsonl expected)")
        con = duckdb.connect()
        sql = f"SELECT * FROM {readers[path.suffix.lower()]}({literal(str(path))})"
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


@dataclass
class AssessmentReport:
    """The result of :func:`evaluate_assessment`.

    Attributes
    ----------
    verdicts : list of dict
        Per planted network kind: ``kind, networks, correct, accuracy`` (the verdict of the
        best-matching detected network equals the planted kind; a planted network with no
        match counts as wrong).
    cib : GroupScore
        Account-level precision and recall of the ``cib`` verdict against all accounts of
        planted CIB networks (operators included); precision counts every account labelled
        ``cib``, whatever it is.
    cib_by_tier : list of GroupScore
        Recall of the ``cib`` verdict per tier (precision as in ``cib``).
    authentic_as_cib, authentic_total : int
        Members of authentic communities labelled ``cib``, and all of them.
    spam_as_cib : int
        Spam accounts labelled ``cib``.
    operators : dict
        ``found, true, correct, precision, recall`` of the operators linked to networks
        labelled ``cib`` against the planted operators of CIB networks, and ``by_tier``
        recall.
    origin : dict
        ``networks, correct, accuracy`` of the top origin country of each planted CIB
        network's best-matching detected network; ``by_tier`` too.
    networks : list of dict
        Per planted network: the match and what the assessment said of it.
    """

    verdicts: list[dict[str, Any]]
    cib: GroupScore
    cib_by_tier: list[GroupScore]
    authentic_as_cib: int
    authentic_total: int
    spam_as_cib: int
    operators: dict[str, Any]
    origin: dict[str, Any]
    networks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def authentic_as_cib_share(self) -> float | None:
        """``authentic_as_cib`` over all members of authentic communities."""
        return _ratio(self.authentic_as_cib, self.authentic_total)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready values."""
        return {"verdicts": self.verdicts, "cib": vars(self.cib).copy(),
                "cib_by_tier": [vars(g).copy() for g in self.cib_by_tier],
                "authentic_as_cib": self.authentic_as_cib,
                "authentic_total": self.authentic_total,
                "authentic_as_cib_share": self.authentic_as_cib_share,
                "spam_as_cib": self.spam_as_cib, "operators": self.operators,
                "origin": self.origin, "networks": self.networks}


def evaluate_assessment(members: pa.Table, accounts: pa.Table, inventory: pa.Table,
                        operators: pa.Table, truth: pa.Table) -> AssessmentReport:
    """Score verdicts, operator attribution and origin against the truth table.

    Parameters
    ----------
    members : pyarrow.Table
        The run's ``members`` (``network_id, platform, account_id``), to match networks.
    accounts : pyarrow.Table
        ``Assessment.accounts``: ``network_id, platform, account_id, role, verdict``.
    inventory : pyarrow.Table
        ``Assessment.inventory``: ``network_id, verdict, origin_countries``.
    operators : pyarrow.Table
        ``Assessment.operators``: ``network_id, platform, account_id`` of linked operators
        (members that were also linked as operators included).
    truth : pyarrow.Table
        :func:`read_truth`.

    Returns
    -------
    AssessmentReport
    """
    inv = {r["network_id"]: r for r in inventory.to_pylist()}
    verdict_of = {n: r["verdict"] for n, r in inv.items()}
    detected: dict[str, set[Key]] = defaultdict(set)
    for k, n in zip(_keys(members), _col(members, "network_id")):
        detected[str(n)].add(k)
    planted: dict[str, set[Key]] = defaultdict(set)
    kind_of: dict[str, str] = {}
    tier_of: dict[str, int | None] = {}
    origin_of: dict[str, str | None] = {}
    true_ops: dict[str, set[Key]] = defaultdict(set)
    for k, net, kind, tier, role, origin in zip(
            _keys(truth), _col(truth, "network_id"), _col(truth, "network_kind"),
            _col(truth, "tier"), _col(truth, "role"), _col(truth, "origin_country")):
        if not net:
            continue
        planted[net].add(k)
        kind_of.setdefault(net, str(kind))
        if tier is not None and tier == tier:
            tier_of[net] = int(tier)
        if origin:
            origin_of.setdefault(net, origin)
        if role == "operator":
            true_ops[net].add(k)
    labelled: dict[str, set[Key]] = defaultdict(set)
    for k, v in zip(_keys(accounts), _col(accounts, "verdict")):
        labelled[str(v)].add(k)
    cib_flag = labelled.get("cib", set())
    P_cib: set[Key] = set()
    by_tier: dict[int, set[Key]] = defaultdict(set)
    for net, mem in planted.items():
        if kind_of[net] == "cib":
            P_cib |= mem
            if tier_of.get(net) is not None:
                by_tier[int(tier_of[net])] |= mem  # type: ignore[arg-type]
    wrong = len(cib_flag - P_cib)
    cib = _score("verdict=cib", P_cib, cib_flag, wrong)
    cib_by_tier = [_score(f"verdict=cib tier={t}", by_tier[t], cib_flag, wrong)
                   for t in sorted(by_tier)]
    auth = set().union(*(m for n, m in planted.items() if kind_of[n] == "authentic"))
    spam = set().union(*(m for n, m in planted.items() if kind_of[n] == "spam"))
    # per planted network: best match by Jaccard
    nets, per_kind = [], defaultdict(lambda: [0, 0])
    origin_ok: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for net in sorted(planted):
        best, best_j, _, _ = _best_match(planted[net], detected)
        verdict = verdict_of.get(best) if best else None
        kind = kind_of[net]
        per_kind[kind][1] += 1
        per_kind[kind][0] += int(verdict == kind)
        got_origin = None
        if best and inv.get(best, {}).get("origin_countries"):
            got_origin = inv[best]["origin_countries"][0]["country"]
        if kind == "cib":
            tier = tier_of.get(net)
            for key in (None, tier) if tier is not None else (None,):
                origin_ok[key][1] += 1
                origin_ok[key][0] += int(got_origin is not None and got_origin == origin_of.get(net))
        nets.append({"network_id": net, "kind": kind, "tier": tier_of.get(net),
                     "best_match": best, "jaccard": round(best_j, 3), "verdict": verdict,
                     "origin": origin_of.get(net), "found_origin": got_origin})
    verdicts = [{"kind": k, "networks": v[1], "correct": v[0], "accuracy": _ratio(v[0], v[1])}
                for k, v in sorted(per_kind.items())]
    cib_nets = {n for n, v in verdict_of.items() if v == "cib"}
    found = {k for k, n in zip(_keys(operators), _col(operators, "network_id")) if n in cib_nets}
    all_true = set().union(*(o for n, o in true_ops.items() if kind_of.get(n) == "cib")) \
        if true_ops else set()
    correct = found & all_true
    op_tier: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for n, o in true_ops.items():
        t = tier_of.get(n)
        if kind_of.get(n) == "cib" and t is not None:
            op_tier[t][1] += len(o)
            op_tier[t][0] += len(o & found)
    ops = {"found": len(found), "true": len(all_true), "correct": len(correct),
           "precision": _ratio(len(correct), len(found)),
           "recall": _ratio(len(correct), len(all_true)),
           "by_tier": {t: {"true": v[1], "found": v[0], "recall": _ratio(v[0], v[1])}
                       for t, v in sorted(op_tier.items())}}
    allo = origin_ok.get(None, [0, 0])
    origin = {"networks": allo[1], "correct": allo[0], "accuracy": _ratio(allo[0], allo[1]),
              "by_tier": {t: {"networks": v[1], "correct": v[0], "accuracy": _ratio(v[0], v[1])}
                          for t, v in sorted((k, v) for k, v in origin_ok.items()
                                             if k is not None)}}
    return AssessmentReport(verdicts=verdicts, cib=cib, cib_by_tier=cib_by_tier,
                            authentic_as_cib=len(auth & cib_flag), authentic_total=len(auth),
                            spam_as_cib=len(spam & cib_flag), operators=ops, origin=origin,
                            networks=nets)


def all_networks(source: Any) -> set[str]:
    """Every network of an exported account table: the default "listed" networks.

    Point a benchmark at another function of the same shape to count a triage cut instead.

    Parameters
    ----------
    source : pyarrow.Table or run
        ``Assessment.accounts`` (the rows of ``lockstep export networks --format csv``), or an
        assessed run (its ``assessment.accounts``).

    Returns
    -------
    set of str
        Network ids.
    """
    accounts = source.assessment.accounts if hasattr(source, "assessment") else source
    return {str(n) for n in _col(accounts, "network_id") if n is not None}


def listed_networks(run: Any) -> set[str]:
    """The networks an assessed run lists by default (its triage cut:
    ``inventory.listed``, see :mod:`lockstep.attribution.assess`); every network when the
    assessment predates triage."""
    inv = run.assessment.inventory
    if "listed" not in inv.column_names:
        return all_networks(run)
    return {str(n) for n, ok in zip(_col(inv, "network_id"), _col(inv, "listed")) if ok}


@dataclass
class ExportReport:
    """What a user exporting the networks would get wrong or right; see :func:`evaluate_export`.

    Attributes
    ----------
    cib : GroupScore
        Account-level precision and recall of the ``cib`` verdict (as in
        :class:`AssessmentReport`).
    spam_as_cib, spam_total : int
        Spam accounts labelled ``cib``, and all planted spam accounts.
    authentic_as_cib, authentic_total : int
        Members of authentic networks labelled ``cib``, and all of them.
    listed_networks : int
        Networks counted as listed.
    listed_accounts, listed_ordinary : int
        Distinct accounts exported in listed networks (assets and operators), and those of
        them in no planted network.
    listed_without_planted : int
        Listed networks none of whose exported accounts is planted.
    operators_exported, operators_true, operators_correct : int
        Accounts exported with ``role`` ``operator`` (any network, any verdict), accounts with
        truth role ``operator``, and both.
    """

    cib: GroupScore
    spam_as_cib: int
    spam_total: int
    authentic_as_cib: int
    authentic_total: int
    listed_networks: int
    listed_accounts: int
    listed_ordinary: int
    listed_without_planted: int
    operators_exported: int
    operators_true: int
    operators_correct: int

    @property
    def spam_as_cib_share(self) -> float | None:
        """``spam_as_cib / spam_total``."""
        return _ratio(self.spam_as_cib, self.spam_total)

    @property
    def authentic_as_cib_share(self) -> float | None:
        """``authentic_as_cib / authentic_total``."""
        return _ratio(self.authentic_as_cib, self.authentic_total)

    @property
    def listed_ordinary_share(self) -> float | None:
        """Share of accounts in listed networks that are ordinary."""
        return _ratio(self.listed_ordinary, self.listed_accounts)

    @property
    def listed_without_planted_share(self) -> float | None:
        """Share of listed networks holding no planted account."""
        return _ratio(self.listed_without_planted, self.listed_networks)

    @property
    def operator_precision(self) -> float | None:
        """Exported operators that are true operators."""
        return _ratio(self.operators_correct, self.operators_exported)

    @property
    def operator_recall(self) -> float | None:
        """True operators exported as operators."""
        return _ratio(self.operators_correct, self.operators_true)

    def to_dict(self) -> dict[str, Any]:
        """Counts and ratios as plain JSON-ready values."""
        d: dict[str, Any] = {k: v for k, v in vars(self).items() if k != "cib"}
        d["cib"] = vars(self.cib).copy()
        for k in ("spam_as_cib_share", "authentic_as_cib_share", "listed_ordinary_share",
                  "listed_without_planted_share", "operator_precision", "operator_recall"):
            d[k] = getattr(self, k)
        return d


def evaluate_export(accounts: pa.Table, truth: pa.Table, *,
                    listed: set[str] | None = None) -> ExportReport:
    """Score the exported account table (``verdict`` and ``role`` per account) against truth.

    This is what ``lockstep export networks --format csv`` writes: one row per account of a
    network, ``role`` ``asset`` or ``operator``, and the network's ``verdict``.

    Parameters
    ----------
    accounts : pyarrow.Table
        ``Assessment.accounts``: ``network_id, platform, account_id, role, verdict``.
    truth : pyarrow.Table
        :func:`read_truth`.
    listed : set of str, optional
        Ids of the networks a user is shown (a triage cut); all networks of ``accounts``
        when omitted (see :func:`all_networks`).

    Returns
    -------
    ExportReport

    Examples
    --------
    >>> truth = pa.table({"platform": ["x"] * 3, "account_id": ["a", "b", "s"],
    ...                   "network_id": ["c1", "c1", "s1"], "network_kind": ["cib", "cib", "spam"],
    ...                   "role": ["operator", "fake", "spam_bot"]})
    >>> acc = pa.table({"network_id": ["N1", "N1", "N2", "N2"], "platform": ["x"] * 4,
    ...                 "account_id": ["b", "a", "s", "o"],
    ...                 "role": ["asset", "operator", "asset", "asset"],
    ...                 "verdict": ["cib", "cib", "cib", "cib"]})
    >>> r = evaluate_export(acc, truth)
    >>> r.spam_as_cib, r.listed_ordinary, r.operator_precision
    (1, 1, 1.0)
    """
    listed = all_networks(accounts) if listed is None else {str(n) for n in listed}
    planted: set[Key] = set()
    by_kind: dict[str, set[Key]] = defaultdict(set)
    true_ops: set[Key] = set()
    for k, net, kind, role in zip(_keys(truth), _col(truth, "network_id"),
                                  _col(truth, "network_kind"), _col(truth, "role")):
        if not net:
            continue
        planted.add(k)
        by_kind[str(kind)].add(k)
        if role == "operator":
            true_ops.add(k)
    cib_flag: set[Key] = set()
    ops: set[Key] = set()
    in_listed: dict[str, set[Key]] = defaultdict(set)
    for k, net, role, verdict in zip(_keys(accounts), _col(accounts, "network_id"),
                                     _col(accounts, "role"), _col(accounts, "verdict")):
        if verdict == "cib":
            cib_flag.add(k)
        if role == "operator":
            ops.add(k)
        if net is not None and str(net) in listed:
            in_listed[str(net)].add(k)
    P_cib = by_kind.get("cib", set())
    cib = _score("verdict=cib", P_cib, cib_flag, len(cib_flag - P_cib))
    listed_acc = set().union(*in_listed.values()) if in_listed else set()
    empty = sum(1 for n in listed if not (in_listed.get(n, set()) & planted))
    return ExportReport(
        cib=cib, spam_as_cib=len(by_kind.get("spam", set()) & cib_flag),
        spam_total=len(by_kind.get("spam", set())),
        authentic_as_cib=len(by_kind.get("authentic", set()) & cib_flag),
        authentic_total=len(by_kind.get("authentic", set())),
        listed_networks=len(listed), listed_accounts=len(listed_acc),
        listed_ordinary=len(listed_acc - planted), listed_without_planted=empty,
        operators_exported=len(ops), operators_true=len(true_ops),
        operators_correct=len(ops & true_ops))
