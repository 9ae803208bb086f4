"""``lockstep detect``: run the signals, fuse them into networks and store the run.

This is the whole coordination pipeline as one call for the CLI, the web app and notebooks:
co-action detectors over the object types chosen (:mod:`lockstep.detectors`), fusion into one
account graph, Leiden communities, ranked networks (:mod:`lockstep.graph`), saved under
``<workspace>/runs/`` with every parameter so the result can be reproduced.

Edges are kept by significance, not by fixed counts: every detector gives each pair a
p-value under its null model, and Benjamini-Hochberg keeps those within the false discovery
rate ``alpha`` (:mod:`lockstep.significance`), over all pairs of each family of signals that
share a null model (the co-action signals together, the infrastructure signals together).
Two group-level steps follow: weak edges inside shared-infrastructure groups that independent
activity confirms are kept too (:mod:`lockstep.corroboration`: careful operations, whose pairs
are each too weak), and each network takes in the pages it amplifies
(:mod:`lockstep.graph.amplified`).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow.compute as pc

from lockstep._memory import release_memory
from lockstep.detectors import REGISTRY, CoActionDetector, get_detector
from lockstep.corroboration import DEFAULT_WEAK_P
from lockstep.corroboration import corroborate as corroborate_groups
from lockstep.exceptions import UsageError
from lockstep.graph import Run, account_metadata, detect_networks, save_run
from lockstep.graph.amplified import attach_amplified
from lockstep.graph.distinct import distinct_event_pairs
from lockstep.persons import MIN_AGE_DAYS, Persons, resolve_persons
from lockstep.significance import DEFAULT_ALPHA, fdr_filter
from lockstep.workspace import Workspace

__all__ = ["detect", "default_signals", "why_empty", "DEFAULT_SIGNALS", "DEFAULT_WINDOW", "DEFAULT_MIN_WEIGHT", "DEFAULT_ALPHA"]

#: Signals run when none are named (mentions, venues and opaque objects are opt-in). Signals
#: whose input is absent (no sessions in public data) give no edges and cost nothing.
DEFAULT_SIGNALS = ("co-repost", "co-link", "co-reply", "co-image", "co-hashtag", "co-domain",
                   "co-amplify", "shared-device", "shared-ip", "co-creation")
#: ``co-amplify`` (re-sharing or replying to the same page) is what finds sophisticated
#: operations, whose fakes amplify the operation's pages hours apart: on the medium world of
#: seed 12 it raised tier-3 recall from 0.22 to 0.50 and the cib verdict's recall from 0.77 to
#: 0.84 with precision 0.98 -> 0.99 and fewer ordinary users flagged (2.8% -> 2.2%). On tiny
#: worlds (seed 5), where everyone follows the same few pages, it cost precision (0.99 ->
#: 0.89).
#:
#: Built but not run by default (``--signals`` adds them):
#:
#: - ``persona-reuse``: with its null fitted to the workspace (a bio held by thousands says
#:   nothing) it changed no figure on the randomised tuning worlds (seeds 1-5: cib precision
#:   0.973 and recall 0.879 with it, 0.973 and 0.878 without), while pairs sharing generic
#:   bios cost 22 s and a 3.5 GB peak on a medium world. Reused bios still count as deception
#:   in verdicts, where the network must hold most of a bio's holders.
#: - ``synchrony`` and ``dense-block`` found almost nothing the defaults miss on seed 11, and
#:   dense-block costs a minute on a medium world.
#: - ``co-text`` picks its MinHash candidates by hash values of the words, so rewriting what
#:   posts say can move a borderline pair (the content-neutrality test saw a network's score
#:   move by 0.004); decisions must not depend on content.
#: Co-action window: 30 minutes, chosen on one small simulated world (seed 11); the null model
#: discounts whatever a wide window lets chance add. The data-driven window (``window=None``)
#: gives days for hashtags and domains.
DEFAULT_WINDOW = 1800.0
#: Event pairs kept as evidence on each co-action edge (the full list of a pair is one
#: ``evidence()`` call away): tens of millions of candidate edges wait for the false-discovery
#: cut with their evidence, and ten ids each would cost gigabytes on 10M events.
EVIDENCE_PER_PAIR = 3
#: Objects with more candidate pairs than this are thinned (each event kept with probability
#: sqrt(threshold / candidates), by a hash) before the null is fitted, so the p-values describe
#: the thinned data and stay valid; on the medium world one page re-shared by everyone held 97M
#: of co-amplify's 101M candidate pairs, and three objects most of co-hashtag's and co-domain's.
#: Chance co-actions on such an object say almost nothing, and an operation still shows on its
#: own pages, links and tags; every thinned object is listed in the detector's stats.
POPULAR_THRESHOLD = 1_000_000
#: No count threshold: significance decides (kept as an option for comparison with peers).
DEFAULT_MIN_WEIGHT = 1


def detect(ws: Workspace, *, signals: Sequence[str] | None = None,
           window: float | None = DEFAULT_WINDOW, min_weight: int = DEFAULT_MIN_WEIGHT,
           alpha: float = DEFAULT_ALPHA, seed: int = 0, min_size: int = 3,
           resolution: float = 1.0, split_modularity: float = 0.4, corroborate: bool = True,
           amplified: bool = True, resolve: bool = True,
           save: bool = True, assess: bool = True,
           progress: Callable[[str, int, int], None] | None = None) -> Run:
    """Find coordinated networks in ``ws``.

    Parameters
    ----------
    ws : Workspace
    signals : sequence of str, optional
        Signals to run, by name (:data:`lockstep.detectors.REGISTRY`; ``lockstep signals``
        lists them with what each measures). Default: :func:`default_signals`
        (:data:`DEFAULT_SIGNALS`, and ``co-object`` when the only objects are opaque ones).
    window : float or None, default :data:`DEFAULT_WINDOW`
        Co-action window in seconds; ``None`` lets each co-action detector choose it from the
        data (its rule is recorded). Other signals keep their own windows.
    min_weight : int, default :data:`DEFAULT_MIN_WEIGHT`
        Minimum event pairs for a co-action pair to be tested at all (1: every pair).
    alpha : float, default :data:`DEFAULT_ALPHA`
        False discovery rate over all (pair, signal) edges (Benjamini-Hochberg).
    seed, min_size, resolution
        Community detection: seed, smallest network, Leiden resolution.
    split_modularity : float, default 0.4
        Communities of 50 accounts or more that fall into parts of at least this modularity
        are split (:func:`lockstep.graph.clustering.split_communities`); 1 turns it off.
    corroborate : bool, default True
        Also keep the weak edges of infrastructure groups that independent activity evidence
        confirms (:mod:`lockstep.corroboration`); what was tested is in
        ``params["corroboration"]``.
    amplified : bool, default True
        Add to each network the pages it amplifies: those whose re-shares and replies come
        mostly from its members, far beyond chance (:mod:`lockstep.graph.amplified`).
    resolve : bool, default True
        Resolve persons first (:func:`lockstep.persons.resolve_persons`): a person's own
        accounts on several platforms count as one node, their ties to each other are not
        evidence, and every member row carries its ``person_id``.
    save : bool
        Store the run in the workspace (``runs/``) and make it the latest.
    assess : bool
        Also assess the networks (operators, location, verdicts, inventory:
        :func:`lockstep.attribution.assess`), stored with the run and set on
        ``run.assessment``.
    progress : callable, optional
        ``progress(message, done, total)`` per stage.

    Returns
    -------
    Run
        Networks best first, members, internal edges with evidence, parameters and
        ``params["timings"]`` (seconds per stage).
    """
    if signals is None:
        signals = default_signals(ws)
    if not signals:
        raise UsageError("no signals chosen; pass --signals co-repost,co-link,...")
    # one state throughout: an ingest that commits meanwhile must not give the detectors
    # different rows (handles otherwise follow other processes' commits)
    ws = ws.snapshot()
    total = len(signals) + 2
    timings: dict[str, float] = {}
    if progress:
        progress("persons", 0, total)
    t = time.perf_counter()
    # persons before coordination: a person's own accounts on several platforms are one node
    persons = resolve_persons(ws) if resolve else Persons()
    timings["persons"] = round(time.perf_counter() - t, 3)
    edges = []
    family: list[str] = []  # the detector class of each edge table: its own null model
    untested: dict[str, int] = {}  # pairs at risk tested but not output, per family
    detectors: dict[str, Any] = {}
    keep_p = max(alpha, DEFAULT_WEAK_P) if corroborate else alpha
    for i, name in enumerate(signals):
        if progress:
            progress(f"signal {name}", i, total)
        t = time.perf_counter()
        det = get_detector(name)
        if isinstance(det, CoActionDetector):
            # edges above alpha can never pass; the detector drops them before building their
            # evidence and counts them (pairs_tested), so m stays right
            det.set_params(min_weight=min_weight, max_p=alpha, max_evidence=EVIDENCE_PER_PAIR,
                           popular_threshold=POPULAR_THRESHOLD,
                           **({} if "window" in REGISTRY[name][1] else {"window": window}))
        elif "max_p" in det.get_params():
            # pairs above alpha can never pass either (persona-reuse: millions of pairs
            # sharing a generic bio); pairs_tested keeps counting them
            det.set_params(max_p=alpha)
        det.fit(ws)
        fam = type(det).__name__
        family.append(fam)
        tested = det.stats_.get("pairs_tested")
        if "pairs_at_risk" in det.stats_ and not det.get_params().get("conditional", True):
            tested = det.stats_["pairs_at_risk"]
        found = det.edges_
        if tested is not None and "p_value" in found.column_names:
            # an edge above both alpha and corroboration's weak level can never be used
            # (Benjamini-Hochberg passes nothing above alpha; it still counts in m below):
            # on the large randomised world shared-ip gave 3.3M such pairs of busy addresses
            found = found.filter(pc.less_equal(pc.fill_null(found["p_value"], 1.0), keep_p))
        if tested is not None:
            untested[fam] = untested.get(fam, 0) + max(0, int(tested) - found.num_rows)
        timings[name] = round(time.perf_counter() - t, 3)
        edges.append(persons.collapse_edges(found))
        detectors[name] = {"params": det.get_params(),
                           "stats": {k: v for k, v in det.stats_.items() if k != "popular"},
                           "pairs": det.edges_.num_rows, "kept": found.num_rows}
        del found, det
        # freed arenas would otherwise hold every detector's peak at once
        release_memory(collect=True)
    if progress:
        progress("networks", len(signals), total)
    t = time.perf_counter()
    # Benjamini-Hochberg within each family of signals that share a null model (and so a
    # definition of what was tested): co-action p-values are conditional on a pair appearing,
    # infrastructure ones are over every pair at risk.
    significant: list[Any] = [None] * len(edges)
    fdr: dict[str, Any] = {}
    for fam in dict.fromkeys(family):
        idx = [i for i, f in enumerate(family) if f == fam]
        kept, info = fdr_filter([edges[i] for i in idx], alpha, untested=untested.get(fam, 0))
        for i, k in zip(idx, kept, strict=True):
            significant[i] = k
        for name, got in info.pop("signals").items():
            if name in detectors:
                detectors[name]["significant_pairs"] = got["kept"]
        fdr[fam] = info
    timings["significance"] = round(time.perf_counter() - t, 3)
    corroboration: dict[str, Any] = {}
    if corroborate:
        # weak infrastructure groups that independent activity evidence confirms (per-pair
        # tests cannot see a careful operation: lockstep.corroboration)
        t = time.perf_counter()
        infra = [i for i, f in enumerate(family) if f == "InfrastructureDetector"]
        other = [i for i in range(len(edges)) if i not in infra]
        extra, corroboration = corroborate_groups(
            [edges[i] for i in infra], [edges[i] for i in other], alpha=alpha, seed=seed)
        significant += [x for x in extra if x.num_rows]
        for i, x in zip(other, extra, strict=True):
            detectors[signals[i]]["corroborated_pairs"] = x.num_rows
        timings["corroboration"] = round(time.perf_counter() - t, 3)
        release_memory(collect=True)
    t = time.perf_counter()
    # one observed action is one piece of evidence: a post pair seen by several co-action
    # signals (a link and its domain, a post's hashtag and its image) counts once
    distinct = distinct_event_pairs(
        ws, significant, persons=persons.mapping(),
        window={n: d["stats"]["window_s"] for n, d in detectors.items()
                if "window_s" in d["stats"]})
    timings["distinct"] = round(time.perf_counter() - t, 3)
    release_memory(collect=True)
    t = time.perf_counter()
    accounts = account_metadata(ws)
    run = detect_networks(significant, accounts=accounts, seed=seed, distinct=distinct,
                          min_size=min_size, resolution=resolution,
                          split_modularity=split_modularity,
                          params={"signals": list(signals), "window": window,
                                  "min_weight": min_weight, "alpha": alpha,
                                  "fdr": fdr, "corroboration": corroboration,
                                  "detectors": detectors})
    timings["networks"] = round(time.perf_counter() - t, 3)
    if amplified:
        t = time.perf_counter()
        attach_amplified(ws, run, alpha=alpha, accounts=accounts)
        timings["amplified"] = round(time.perf_counter() - t, 3)
    run.members = persons.expand(run.members, accounts)
    run.refresh_sizes()
    joined = set(persons.mapping()) & _member_keys(run)
    run.params["persons"] = {
        "rule": "different platforms; a device used by them alone; names alike; both at "
                f"least {MIN_AGE_DAYS} days old (lockstep.persons)",
        "persons": len(persons), "accounts": persons.table.num_rows,
        "rejected_groups": persons.rejected,
        "reasons": {f"{p}:{a}": r for (p, a), r in persons.reasons().items()
                    if (p, a) in joined}}
    run.params["timings"] = timings
    # Saved whole, published last: the run is written with its assessment and renamed into
    # place, and only then does runs/latest name it, so a process killed or interrupted at
    # any point leaves the previous complete run as the latest.
    from lockstep.graph.store import discard_run, latest_run_id, new_run_id, publish_run
    from lockstep.workspace import write_guard

    with write_guard(ws.path, "assessing and saving the detection run",
                     "the latest run is still the previous one"):
        try:
            rid = new_run_id()
            if save:
                run.run_id = rid  # the assessment records it
            if assess:
                from lockstep.attribution.assess import assess as run_assess
                from lockstep.attribution.assess import save_assessment

                if progress:
                    progress("verdicts", len(signals) + 1, total)
                t = time.perf_counter()
                run.assessment = run_assess(ws, run)
                timings["assess"] = round(time.perf_counter() - t, 3)
            if save:
                if progress:
                    progress("saving", len(signals) + 1, total)
                a = run.assessment if assess else None
                save_run(ws, run, run_id=rid, latest=False,
                         extra=None if a is None else
                         (lambda d: save_assessment(ws, run, a, into=d)))
                publish_run(ws, rid)
        except BaseException:
            if save and run.run_id is not None and latest_run_id(ws) != run.run_id:
                with contextlib.suppress(Exception):
                    discard_run(ws, run.run_id)
                run.run_id = None
            raise
    if progress:
        progress("done", total, total)
    return run


def default_signals(ws: Workspace) -> tuple[str, ...]:
    """:data:`DEFAULT_SIGNALS`, plus ``co-object`` when opaque objects are the only objects
    the events act on (a CooRTweet table: ``object_id`` and nothing else), so that the
    default run reads them instead of finding nothing."""
    con = ws.connect()
    try:
        kinds = {k for (k,) in con.execute(
            "SELECT DISTINCT object_type FROM objects WHERE object_type <> 'author'").fetchall()}
    finally:
        con.close()
    return DEFAULT_SIGNALS + ("co-object",) if kinds == {"object"} else DEFAULT_SIGNALS


def why_empty(run: Run) -> str | None:
    """One line on why ``run`` found no network (None when it found some): no pair to test
    at all, or pairs tested and none significant."""
    if run.n_networks:
        return None
    dets = run.params.get("detectors", {})
    names = ", ".join(dets) or "none"
    found = sum(int(d.get("pairs", 0)) for d in dets.values())
    if not found:
        return (f"no two accounts acted on the same object within the window, or shared "
                f"infrastructure, in any signal run ({names}); there was nothing to test. "
                "Other data may need other signals (`lockstep signals`)")
    kept = sum(int(d.get("significant_pairs", 0)) for d in dets.values())
    alpha = run.params.get("alpha")
    if not kept:
        return (f"{found:,} account pairs acted together, but none more often than chance "
                f"explains at the false discovery rate {alpha} (signals: {names})")
    return (f"{kept:,} pairs were significant, but they form no group of "
            f"{run.params.get('min_size', 3)} or more accounts")


def _member_keys(run: Run) -> set[tuple[str, str]]:
    return set(zip(run.members["platform"].to_pylist(), run.members["account_id"].to_pylist()))
