"""``lockstep detect``: run the signals, fuse them into networks and store the run.

This is the whole coordination pipeline as one call for the CLI, the web app and notebooks:
co-action detectors over the object types chosen (:mod:`lockstep.detectors`), fusion into one
account graph, Leiden communities, ranked networks (:mod:`lockstep.graph`), saved under
``<workspace>/runs/`` with every parameter so the result can be reproduced.

Not yet done (see the issue): significance against a null model (edges are kept by a minimum
co-action count, ``min_weight``, for now), and the text, synchrony, infrastructure, cohort and
dense-block signals.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from lockstep.detectors import get_detector
from lockstep.exceptions import UsageError
from lockstep.graph import Run, account_metadata, detect_networks, save_run
from lockstep.workspace import Workspace

__all__ = ["detect", "DEFAULT_SIGNALS", "DEFAULT_WINDOW", "DEFAULT_MIN_WEIGHT"]

#: Signals run when none are named (mentions, venues and opaque objects are opt-in).
DEFAULT_SIGNALS = ("co-repost", "co-link", "co-reply", "co-image", "co-hashtag", "co-domain")
#: Provisional defaults, chosen on one small simulated world (seed 11): a 30-minute window
#: and at least 3 co-actions per pair. The data-driven window (``window=None``) gives days for
#: hashtags and domains and floods the graph; significance testing is meant to replace both.
DEFAULT_WINDOW = 1800.0
DEFAULT_MIN_WEIGHT = 3


def detect(ws: Workspace, *, signals: Sequence[str] = DEFAULT_SIGNALS,
           window: float | None = DEFAULT_WINDOW, min_weight: int = DEFAULT_MIN_WEIGHT,
           seed: int = 0, min_size: int = 3,
           resolution: float = 1.0, save: bool = True,
           progress: Callable[[str, int, int], None] | None = None) -> Run:
    """Find coordinated networks in ``ws``.

    Parameters
    ----------
    ws : Workspace
    signals : sequence of str
        Co-action signals to run (``co-repost``, ``co-link``, ``co-reply``, ``co-hashtag``,
        ``co-image``, ``co-domain``, ``co-mention``, ``co-venue``, ``co-object``).
    window : float or None, default :data:`DEFAULT_WINDOW`
        Seconds; ``None`` lets each detector choose it from the data (its rule is recorded).
    min_weight : int, default :data:`DEFAULT_MIN_WEIGHT`
        Minimum co-actions for a pair to count (a stop-gap until significance testing).
    seed, min_size, resolution
        Community detection: seed, smallest network, Leiden resolution.
    save : bool
        Store the run in the workspace (``runs/``) and make it the latest.
    progress : callable, optional
        ``progress(message, done, total)`` per stage.

    Returns
    -------
    Run
        Networks best first, members, internal edges with evidence, parameters and
        ``params["timings"]`` (seconds per stage).
    """
    if not signals:
        raise UsageError("no signals chosen; pass --signals co-repost,co-link,...")
    total = len(signals) + 2
    timings: dict[str, float] = {}
    edges = []
    detectors: dict[str, Any] = {}
    for i, name in enumerate(signals):
        if progress:
            progress(f"signal {name}", i, total)
        t = time.perf_counter()
        det = get_detector(name, window=window, min_weight=min_weight).fit(ws)
        timings[name] = round(time.perf_counter() - t, 3)
        edges.append(det.edges_)
        detectors[name] = {"params": det.get_params(),
                           "stats": {k: v for k, v in det.stats_.items() if k != "popular"},
                           "pairs": det.edges_.num_rows}
    if progress:
        progress("networks", len(signals), total)
    t = time.perf_counter()
    run = detect_networks(edges, accounts=account_metadata(ws), seed=seed, min_size=min_size,
                          resolution=resolution,
                          params={"signals": list(signals), "window": window,
                                  "min_weight": min_weight, "detectors": detectors})
    timings["networks"] = round(time.perf_counter() - t, 3)
    run.params["timings"] = timings
    if save:
        if progress:
            progress("saving", len(signals) + 1, total)
        save_run(ws, run)
    if progress:
        progress("done", total, total)
    return run
