"""Export a detection run's networks as CSV, JSON, GEXF (Gephi) or GraphML.

``csv``
    One row per account, columns exactly :data:`CSV_COLUMNS`: the members (``role`` ``asset``
    for the core, ``periphery`` for members tied by one link, which never take the network's
    verdict) and, once the run is assessed (:mod:`lockstep.attribution`), the operators
    linked to them at high confidence (``role`` ``operator``), with the network's ``verdict``
    and the ``confidence`` of the verdict (assets) or of the operator link (operators).
    Unassessed runs leave the three columns empty.
``json``
    The run's id and parameters, then each network with its score components, members and a
    summary per signal (edges, event pairs, objects, time span, a few evidence ids).
``gexf``
    Gephi's format (written by :func:`networkx.write_gexf`): nodes are
    ``"platform:account_id"`` with ``label`` (handle, else id), ``platform``, ``account_id``,
    ``handle`` and ``kind`` where known, ``network_id``, ``score``, ``degree``, ``strength``
    and a ``viz:color`` per network; edges carry the fused ``weight`` and ``signal`` (the
    signals, comma-joined), ``first_seen``, ``last_seen`` (ISO 8601), ``median_delta_s``,
    ``event_pairs``, ``support`` and ``signals_json`` (per-signal numbers).
``graphml``
    The same attributes without ``viz``; GraphML has no list type, so lists are JSON strings.

Hostile data (``docs/exports.md``):

- CSV cells that a spreadsheet would run as a formula (a string starting with ``=``, ``+``,
  ``-``, ``@``, tab or CR) get a ``'`` in front (OWASP's rule), and so does a string that
  already starts with ``'`` followed by one of those or another ``'``, so that
  :func:`lockstep.spreadsheet.restore_formula` gives back the exact value; numbers (a score
  of ``-1.5``) are never touched, and ``raw=True`` writes the values as stored.
- GEXF and GraphML strings carry what XML 1.0 cannot as ``_xHHHH_`` (:func:`xml_encode`,
  reversed exactly by :func:`xml_decode`).

Design choices, one line each:

- The CSV prefix is on by default because the people opening these files use spreadsheets;
  a ``raw`` switch serves scripts that need the bytes.
- Only string cells are neutralised: a negative number is a number, not a formula.
- The prefix rule is made reversible (a leading ``'`` is doubled when it could be read as
  one) so that a neutralised file still holds the exact data.
- Quoting stays RFC 4180 minimal (Python's ``csv``): the check is on the cell's value, so a
  quoted cell (``"=1,2"``) is neutralised inside its quotes like any other.
- XML uses Office Open XML's ``_xHHHH_`` escape, not a private one: known to Excel and
  openpyxl users, ASCII only, and invisible for ordinary ids (only forbidden characters, CR
  and text that looks like an escape itself are touched).
- ``CR`` is encoded too: XML parsers turn a raw CR in text into LF, so it would not survive.
- Encoding happens at write time on a copy of the graph; :func:`to_networkx` keeps the
  exact strings for notebooks.
- JSON is written with ``allow_nan=False`` and non-finite numbers as ``null``: ``NaN`` is not
  JSON and breaks strict parsers.
- :func:`lockstep.spreadsheet.neutralise_csv_file` serves CSVs written elsewhere (the streamed pair writer): one
  read when nothing needs the prefix, a rewrite only when something does.
"""
from __future__ import annotations

import colorsys
import csv
import json
import math
import re
import statistics
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockstep.exceptions import UsageError
from lockstep.graph.networks import COMPONENTS, Run

from lockstep.spreadsheet import csv_row

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["export_networks", "export_summary", "to_networkx", "networks_to_dict",
           "network_color", "FORMATS", "CSV_COLUMNS", "SUMMARY_COLUMNS", "xml_encode",
           "xml_decode"]

FORMATS = ("csv", "json", "gexf", "graphml")
CSV_COLUMNS = ("network_id", "platform", "account_id", "kind", "score", "verdict", "role",
               "confidence")
#: Columns of the per-network summary (:func:`export_summary`).
SUMMARY_COLUMNS = ("network_id", "verdict", "confidence", "origin_countries", "target_countries",
                   "operators", "counts")
#: Kelly-style distinct colours for the first networks; later ones step the hue by the
#: golden ratio.
_PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
            (220, 190, 255), (170, 110, 40), (128, 0, 0), (170, 255, 195), (128, 128, 0),
            (255, 215, 180), (0, 0, 128), (255, 225, 25))
_EVIDENCE_SAMPLE = 5

#: What XML 1.0 cannot carry (C0 controls but tab and LF, lone surrogates, U+FFFE, U+FFFF),
#: CR (parsers turn it into LF), and text already shaped like an escape (its ``_``).
_XML_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_XML_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def _xml_char(m: re.Match[str]) -> str:
    return f"_x{ord(m.group()):04X}_"


def xml_encode(text: str) -> str:
    r"""``text`` as XML 1.0 can carry it: each character it cannot (C0 controls except tab and
    LF, lone surrogates, U+FFFE, U+FFFF) and CR as ``_xHHHH_`` (Office Open XML's escape);
    an ``_`` that starts text of that shape becomes ``_x005F_``. :func:`xml_decode` undoes it.

    >>> xml_encode("a\x01b\rc"), xml_encode("_x0041_")
    ('a_x0001_b_x000D_c', '_x005F_x0041_')
    """
    return _XML_UNSAFE.sub(_xml_char, text)


def xml_decode(text: str) -> str:
    r"""The string :func:`xml_encode` was given.

    >>> xml_decode("a_x0001_b_x000D_c"), xml_decode("_x005F_x0041_")
    ('a\x01b\rc', '_x0041_')
    """
    return _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _xml_value(v: Any) -> Any:
    if isinstance(v, str):
        return xml_encode(v)
    if isinstance(v, dict):
        return {k: _xml_value(x) for k, x in v.items()}
    return v


def _xml_graph(g: nx.Graph) -> nx.Graph:
    """A copy of ``g`` with every string (node ids, attribute values) :func:`xml_encode` d."""
    import networkx as nx

    h = nx.Graph()
    for n, d in g.nodes(data=True):
        h.add_node(xml_encode(n), **{k: _xml_value(v) for k, v in d.items()})
    for a, b, d in g.edges(data=True):
        h.add_edge(xml_encode(a), xml_encode(b), **{k: _xml_value(v) for k, v in d.items()})
    return h


def network_color(rank: int) -> tuple[int, int, int]:
    """RGB colour of the network ranked ``rank`` (1 = first)."""
    if 1 <= rank <= len(_PALETTE):
        return _PALETTE[rank - 1]
    h = (rank * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def _iso(x: datetime | None) -> str | None:
    return x.isoformat() if x is not None else None


def _pairs(run: Run) -> list[dict[str, Any]]:
    """Internal edges aggregated per pair (the long table has one row per signal)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in run.edges.select(["network_id", "platform_a", "account_a", "platform_b",
                               "account_b", "signal", "weight", "support", "first_seen",
                               "last_seen", "median_delta_s", "strength"]).to_pylist():
        a, b = f"{r['platform_a']}:{r['account_a']}", f"{r['platform_b']}:{r['account_b']}"
        p = out.setdefault((r["network_id"], a, b), {
            "network_id": r["network_id"], "a": a, "b": b, "weight": 0.0, "event_pairs": 0,
            "support": 0, "first_seen": None, "last_seen": None, "median_delta_s": None,
            "signals": {}})
        p["weight"] += r["strength"] or 0.0
        p["event_pairs"] += r["weight"] or 0
        p["support"] += r["support"] or 0
        if r["first_seen"] is not None:
            p["first_seen"] = min(filter(None, (p["first_seen"], r["first_seen"])))
        if r["last_seen"] is not None:
            p["last_seen"] = max(filter(None, (p["last_seen"], r["last_seen"])))
        med = r["median_delta_s"]
        if med is not None and not math.isnan(med):
            p["median_delta_s"] = med if p["median_delta_s"] is None else min(
                p["median_delta_s"], med)
        p["signals"][r["signal"]] = {"weight": r["weight"], "support": r["support"],
                                     "median_delta_s": med, "strength": r["strength"]}
    return list(out.values())


def to_networkx(run: Run, *, viz: bool = True) -> nx.Graph:
    """The run's networks as one :class:`networkx.Graph` (attributes as in GEXF export).

    Parameters
    ----------
    run : Run
    viz : bool, default True
        Add GEXF ``viz`` (colour by network, size by degree) to nodes.
    """
    import networkx as nx

    nets = {r["network_id"]: r for r in run.networks.select(
        ["network_id", "rank", "score"]).to_pylist()}
    g = nx.Graph()
    for m in run.members.to_pylist():
        net = nets[m["network_id"]]
        attrs: dict[str, Any] = {
            "label": m.get("handle") or m["account_id"], "platform": m["platform"],
            "account_id": m["account_id"], "network_id": m["network_id"],
            "network_rank": int(net["rank"]), "score": float(net["score"]),
            "degree": int(m["degree"]), "strength": float(m["strength"])}
        for opt in ("handle", "kind"):
            if m.get(opt):
                attrs[opt] = m[opt]
        if m.get("created_at") is not None:
            attrs["created_at"] = m["created_at"].isoformat()
        if viz:
            r, gg, b = network_color(int(net["rank"]))
            attrs["viz"] = {"color": {"r": r, "g": gg, "b": b, "a": 1.0},
                            "size": round(4.0 + 2.0 * math.sqrt(m["degree"]), 3)}
        g.add_node(f"{m['platform']}:{m['account_id']}", **attrs)
    for p in _pairs(run):
        attrs = {"weight": float(p["weight"]), "signal": ",".join(sorted(p["signals"])),
                 "network_id": p["network_id"], "event_pairs": int(p["event_pairs"]),
                 "support": int(p["support"]),
                 "signals_json": json.dumps(p["signals"], sort_keys=True)}
        for k in ("first_seen", "last_seen"):
            if p[k] is not None:
                attrs[k] = p[k].isoformat()
        if p["median_delta_s"] is not None:
            attrs["median_delta_s"] = float(p["median_delta_s"])
        g.add_edge(p["a"], p["b"], **attrs)
    return g


def _signal_summary(edges: list[dict[str, Any]], shares: dict[str, float]
                    ) -> list[dict[str, Any]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for e in edges:
        by.setdefault(e["signal"], []).append(e)
    out = []
    for sig in sorted(by, key=lambda s: (-shares.get(s, 0.0), s)):
        rows = by[sig]
        meds = [r["median_delta_s"] for r in rows if r["median_delta_s"] is not None
                and not math.isnan(r["median_delta_s"])]
        firsts = [r["first_seen"] for r in rows if r["first_seen"] is not None]
        lasts = [r["last_seen"] for r in rows if r["last_seen"] is not None]
        evidence = [x for r in rows for x in (r["evidence"] or [])][:_EVIDENCE_SAMPLE]
        out.append({"signal": sig, "share": shares.get(sig, 0.0), "edges": len(rows),
                    "event_pairs": sum(r["weight"] or 0 for r in rows),
                    "objects": sum(r["support"] or 0 for r in rows),
                    "first_seen": _iso(min(firsts)) if firsts else None,
                    "last_seen": _iso(max(lasts)) if lasts else None,
                    "median_delta_s": statistics.median(meds) if meds else None,
                    "evidence_sample": evidence})
    return out


def networks_to_dict(run: Run) -> dict[str, Any]:
    """The run as a JSON-ready dict: id, parameters, and networks with members and signals."""
    members: dict[str, list[dict[str, Any]]] = {}
    for m in run.members.to_pylist():
        nid = m.pop("network_id")
        m["created_at"] = _iso(m["created_at"])
        members.setdefault(nid, []).append(m)
    edges: dict[str, list[dict[str, Any]]] = {}
    for e in run.edges.to_pylist():
        edges.setdefault(e["network_id"], []).append(e)
    nets = []
    for n in run.networks.to_pylist():
        nid = n["network_id"]
        shares = dict(zip(n["signals"], n["signal_share"]))
        nets.append({
            "network_id": nid, "rank": n["rank"], "score": n["score"], "size": n["size"],
            "components": {c: n[c] for c in COMPONENTS}, "density": n["density"],
            "n_edges": n["n_edges"], "signals": n["signals"], "platforms": n["platforms"],
            "first_seen": _iso(n["first_seen"]), "last_seen": _iso(n["last_seen"]),
            "members": members.get(nid, []),
            "signal_summary": _signal_summary(edges.get(nid, []), shares)})
    return {"format": "lockstep-networks", "version": 1, "run_id": run.run_id,
            "created": run.created, "params": run.params, "networks": nets}


def export_networks(run: Run, fmt: str, path: str | Path, *, raw: bool = False) -> Path:
    """Write ``run``'s networks to ``path`` as ``csv``, ``json``, ``gexf`` or ``graphml``.

    Parameters
    ----------
    run : Run
        A run from :func:`~lockstep.graph.networks.detect_networks` or
        :func:`~lockstep.graph.store.load_run`.
    fmt : {"csv", "json", "gexf", "graphml"}
    path : str or Path
        Output file (parent directories are created).
    raw : bool, default False
        CSV only: write string cells exactly as stored, without the ``'`` that keeps a
        spreadsheet from running them as formulas (:func:`lockstep.spreadsheet.neutralise_formula`). JSON is always
        exact; GEXF and GraphML always encode what XML cannot carry (:func:`xml_encode`).

    Returns
    -------
    Path

    Raises
    ------
    UsageError
        Unknown ``fmt``, or ``raw`` with GEXF or GraphML.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if raw and fmt in ("gexf", "graphml"):
        raise UsageError(f"{fmt} cannot be raw: XML 1.0 cannot carry some characters, which "
                         "are always written as _xHHHH_ (see docs/exports.md)")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        score = dict(zip(run.networks["network_id"].to_pylist(),
                         run.networks["score"].to_pylist()))
        with open(out, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            assessment = getattr(run, "assessment", None)
            if assessment is None:
                for m in run.members.select(["network_id", "platform", "account_id",
                                             "kind"]).to_pylist():
                    w.writerow(csv_row([m["network_id"], m["platform"], m["account_id"],
                                        m["kind"], score[m["network_id"]], None, None, None],
                                       raw=raw))
            else:
                for m in assessment.accounts.to_pylist():
                    w.writerow(csv_row([m["network_id"], m["platform"], m["account_id"],
                                        m["kind"], score[m["network_id"]], m["verdict"],
                                        m["role"], m["confidence"]], raw=raw))
    elif fmt == "json":
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(_finite(networks_to_dict(run)), fh, indent=1, default=str,
                      allow_nan=False)
    else:
        import networkx as nx

        if fmt == "gexf":
            nx.write_gexf(_xml_graph(to_networkx(run, viz=True)), out)
        else:
            nx.write_graphml(_xml_graph(to_networkx(run, viz=False)), out)
    return out


def _finite(x: Any) -> Any:
    """``x`` with NaN and infinities as ``None``: JSON has no such numbers (``NaN`` in a file
    breaks strict parsers)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _shares(xs: list[dict[str, Any]] | None) -> str:
    return ";".join(f"{x['country']}:{x['share']:.2f}" for x in (xs or []))


def export_summary(run: Run, fmt: str, path: str | Path, *, raw: bool = False) -> Path:
    """Write one row per assessed network: :data:`SUMMARY_COLUMNS` (CSV or JSON).

    In CSV, countries are ``CC:share`` joined by ``;``, operators
    ``platform:account_id (confidence)`` joined by ``;``, and ``counts`` the takedown-report
    wording (``Facebook: 12 accounts, 3 Pages; Instagram: 4 accounts``). String cells are
    neutralised as in :func:`export_networks` unless ``raw``.

    Raises
    ------
    UsageError
        The run has no assessment, or ``fmt`` is not ``csv`` or ``json``.
    """
    assessment = getattr(run, "assessment", None)
    if assessment is None:
        raise UsageError("this run has no assessment; run `lockstep assess` first")
    fmt = fmt.lower()
    if fmt not in ("csv", "json"):
        raise UsageError(f"the summary is csv or json, not {fmt!r}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = assessment.inventory.to_pylist()
    if fmt == "json":
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(_finite({"run_id": run.run_id, "networks": rows}), fh, indent=1,
                      default=str, allow_nan=False)
        return out
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SUMMARY_COLUMNS)
        for r in rows:
            w.writerow(csv_row([r["network_id"], r["verdict"], r["confidence"],
                                _shares(r["origin_countries"]), _shares(r["target_countries"]),
                                ";".join(r["operators"]), r["counts_text"]], raw=raw))
    return out
