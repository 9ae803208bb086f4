"""The raw account-pair edges of one signal, for inspection and for comparison with other tools.

What ``lockstep pairs --signal co-repost --window 10 --min-weight 1 --out pairs.csv`` runs::

    table = pairs(ws, signal="co-repost", window=10, min_weight=1)
    write_pairs(table, "pairs.csv")

Design choices, one line each:

- Text cells (platforms, account ids, signal, evidence) that a spreadsheet would run as a
  formula get a ``'`` in front (:func:`lockstep.spreadsheet.neutralise_formula`; numbers
  never), inside the ``COPY`` itself so the file is written once; ``raw=True`` skips it.
- Every string put into SQL (the path, the pattern, column names) goes through
  :mod:`lockstep.sql`, never by hand: a path is data, not SQL.
- :data:`TEXT_COLUMNS` names the text columns once. The streamed co-action writer
  (:mod:`lockstep.detectors.coaction_io`) neutralises its ids itself, once per distinct id.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from lockstep.detectors import get_detector

if TYPE_CHECKING:
    from lockstep.workspace import Workspace

__all__ = ["pairs", "write_pairs", "PAIR_COLUMNS", "TEXT_COLUMNS", "pairs_stats"]

#: Columns of the CSV that :func:`write_pairs` writes, in order.
PAIR_COLUMNS = ("platform_a", "account_a", "platform_b", "account_b", "signal", "weight",
                "support", "first_seen", "last_seen", "median_delta_s")
#: Columns of a pairs CSV that hold text from the data (neutralised against formulas).
TEXT_COLUMNS = ("platform_a", "account_a", "platform_b", "account_b", "signal", "evidence")

_STATS_KEY = b"lockstep.stats"
_PARAMS_KEY = b"lockstep.params"


def pairs(workspace: Workspace | str | Path, signal: str = "co-repost",
          window: float | None = 10, min_weight: int = 1, **params: Any) -> pa.Table:
    """Account pairs tied by one signal, with weights and evidence.

    Parameters
    ----------
    workspace : Workspace or path
    signal : str, default "co-repost"
        ``co-repost``, ``co-link``, ``co-reply``, ``co-hashtag``, ``co-image``,
        ``co-domain``, ``co-mention``, ``co-venue`` or ``co-object``.
    window : float or None, default 10
        Seconds, inclusive; ``None`` chooses it from the data (CooRnet's rule).
    min_weight : int, default 1
        Keep pairs with at least this many event pairs.
    **params
        Other parameters of the detector (``max_evidence``, ``pair_budget``,
        ``popular_threshold``, ``random_state``).

    Returns
    -------
    pyarrow.Table
        The detector's ``edges_`` (columns of :data:`lockstep.detectors.EDGE_SCHEMA`). The
        schema metadata holds the parameters and the run's statistics as JSON (window used,
        candidate pairs, seconds per stage); read them with :func:`pairs_stats`.

    Raises
    ------
    UsageError
        Unknown signal or bad parameter.
    """
    det = get_detector(signal, window=window, min_weight=min_weight, **params).fit(workspace)
    meta = {_STATS_KEY: json.dumps(det.stats_, default=str).encode(),
            _PARAMS_KEY: json.dumps(det.get_params(), default=str).encode()}
    return det.edges_.replace_schema_metadata(meta)


def pairs_stats(table: pa.Table) -> dict[str, Any]:
    """The statistics and parameters a :func:`pairs` table carries (``{}`` if none)."""
    meta = table.schema.metadata or {}
    out: dict[str, Any] = {}
    if _STATS_KEY in meta:
        out["stats"] = json.loads(meta[_STATS_KEY])
    if _PARAMS_KEY in meta:
        out["params"] = json.loads(meta[_PARAMS_KEY])
    return out


def write_pairs(table: pa.Table, path: str | Path | IO[bytes], *,
                evidence: bool = False, raw: bool = False) -> int:
    """Write pair edges as CSV (UTF-8, header row, fields quoted only when needed).

    Columns: ``platform_a, account_a, platform_b, account_b, signal, weight, support,
    first_seen, last_seen, median_delta_s`` (and ``evidence``, space-separated
    ``event_a|event_b`` ids, when ``evidence`` is True). Times are ISO 8601 UTC with ``Z``,
    with microseconds only when some time in the table has a fraction of a second. Rows keep
    the table's order. Text cells that a spreadsheet would run as a formula (starting with
    ``=``, ``+``, ``-``, ``@``, tab or CR) are written with a ``'`` in front
    (:func:`lockstep.spreadsheet.neutralise_formula`; undo with
    :func:`~lockstep.spreadsheet.restore_formula`) unless ``raw``.

    Parameters
    ----------
    table : pyarrow.Table
        Edges from :func:`pairs` or a detector's ``edges_``.
    path : path or binary file object
    evidence : bool, default False
    raw : bool, default False
        Write text cells exactly as stored (for tools that need the bytes).

    Returns
    -------
    int
        Rows written.
    """
    import duckdb

    from lockstep.spreadsheet import FORMULA_START
    from lockstep.sql import ident, literal

    cols = list(PAIR_COLUMNS) + (["evidence"] if evidence else [])
    edges = table.select(cols)  # noqa: F841 (scanned by DuckDB below)
    fraction = any(table.num_rows and pc.any(pc.not_equal(pc.subsecond(table[c]), 0)).as_py()
                   for c in ("first_seen", "last_seen"))
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ"

    prefix = literal("'")

    def column(c: str) -> str:
        if c in ("first_seen", "last_seen"):
            return f"strftime({ident(c)}, {literal(fmt)}) AS {ident(c)}"
        value = f"array_to_string({ident(c)}, ' ')" if c == "evidence" else ident(c)
        if raw or c not in TEXT_COLUMNS:
            return f"{value} AS {ident(c)}"
        return (f"CASE WHEN regexp_matches({value}, {literal(FORMULA_START)}) "
                f"THEN {prefix} || {value} ELSE {value} END AS {ident(c)}")

    select = ", ".join(column(c) for c in cols)
    if isinstance(path, (str, Path)):
        target, tmp = Path(path), None
    else:
        tmp = tempfile.TemporaryDirectory()
        target = Path(tmp.name) / "pairs.csv"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"COPY (SELECT {select} FROM edges) TO {literal(target)} "
                    "(HEADER, DELIMITER ',')")
    finally:
        con.close()
    if tmp is not None:
        with tmp, open(target, "rb") as fh:
            shutil.copyfileobj(fh, path)  # type: ignore[arg-type]
    return int(table.num_rows)
