"""From signal edges to ranked networks: fusion, communities, scoring, storage and export.

The pipeline, also run by ``lockstep detect``::

    from lockstep.graph import detect_networks, save_run, export_networks
    run = detect_networks([det.edges_ for det in detectors], accounts=account_metadata(ws),
                          seed=0)
    save_run(ws, run)
    export_networks(run, "gexf", "networks.gexf")

Step by step: :func:`fuse` (one weighted account graph keeping per-signal evidence),
:func:`find_communities` (Leiden, seeded), :func:`build_networks` (communities of at least
``min_size`` accounts, scored and ranked), :func:`save_run` / :func:`load_run` (Parquet under
``<workspace>/runs/``), :func:`export_networks` (CSV, JSON, GEXF, GraphML).
"""
from __future__ import annotations

from lockstep.graph.clustering import METHODS, Communities, find_communities, leiden_available
from lockstep.graph.export import (
    CSV_COLUMNS,
    FORMATS,
    export_networks,
    export_summary,
    network_color,
    networks_to_dict,
    to_networkx,
)
from lockstep.graph.fusion import DEFAULT_SIGNAL_WEIGHTS, FusedGraph, edge_table, fuse
from lockstep.graph.networks import (
    COMPONENTS,
    INFRASTRUCTURE_SIGNALS,
    SCORE_WEIGHTS,
    Run,
    account_metadata,
    build_networks,
    detect_networks,
)
from lockstep.graph.store import latest_run_id, list_runs, load_run, save_run

__all__ = [
    "export_summary",
    "fuse", "FusedGraph", "edge_table", "DEFAULT_SIGNAL_WEIGHTS",
    "find_communities", "Communities", "leiden_available", "METHODS",
    "build_networks", "detect_networks", "account_metadata", "Run", "SCORE_WEIGHTS",
    "COMPONENTS", "INFRASTRUCTURE_SIGNALS",
    "save_run", "load_run", "list_runs", "latest_run_id",
    "export_networks", "to_networkx", "networks_to_dict", "network_color", "FORMATS",
    "CSV_COLUMNS",
]
