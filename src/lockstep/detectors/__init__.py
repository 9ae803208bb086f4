"""Coordination detectors: each turns a workspace's events into account-pair edges.

>>> from lockstep.detectors import get_detector
>>> get_detector("co-link")
CoActionDetector(object_type='url')

Every detector follows :class:`BaseDetector` (scikit-learn style: ``get_params``, ``fit``
returning ``self``, learned attributes ending in ``_``) and is checked by
:func:`lockstep.testing.check_detector`.
"""
from __future__ import annotations

from typing import Any

from lockstep.detectors.base import (
    EDGE_COLUMNS,
    EDGE_SCHEMA,
    BaseDetector,
    NotFittedError,
    check_is_fitted,
    empty_edges,
)
from lockstep.detectors.coaction import PLATFORM_SCOPED, SIGNALS, CoActionDetector, estimate_window
from lockstep.exceptions import UsageError

__all__ = ["BaseDetector", "CoActionDetector", "NotFittedError", "check_is_fitted",
           "EDGE_SCHEMA", "EDGE_COLUMNS", "empty_edges", "SIGNALS", "PLATFORM_SCOPED",
           "estimate_window", "all_detectors", "get_detector", "signal_names"]


def all_detectors() -> list[BaseDetector]:
    """One detector per registered signal, with default parameters, in a stable order."""
    return [CoActionDetector(object_type=otype) for otype in SIGNALS]


def signal_names() -> list[str]:
    """The names :func:`get_detector` accepts (signal names such as ``co-repost``)."""
    return list(SIGNALS.values())


def get_detector(name: str, **params: Any) -> BaseDetector:
    """The detector of a signal (``co-repost``, ``co-link``, ...) with ``params`` set.

    ``"coaction"`` (the class's registry name) is accepted too, with ``object_type`` in
    ``params``.

    Raises
    ------
    UsageError
        ``name`` is not a known signal.
    """
    by_signal = {sig: otype for otype, sig in SIGNALS.items()}
    if name in by_signal:
        if "object_type" in params and params["object_type"] != by_signal[name]:
            raise UsageError(f"signal {name} is object_type={by_signal[name]!r}, not "
                             f"{params['object_type']!r}")
        params = {**params, "object_type": by_signal[name]}
        return CoActionDetector(**params)
    if name == CoActionDetector.name:
        return CoActionDetector(**params)
    raise UsageError(f"unknown signal {name!r}; choose one of: {', '.join(signal_names())}")
