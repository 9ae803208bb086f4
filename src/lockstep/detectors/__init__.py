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
from lockstep.detectors.cohort import SIGNALS as _COHORT_SIGNALS
from lockstep.detectors.cohort import CohortDetector
from lockstep.detectors.dense import SIGNALS as _DENSE_SIGNALS
from lockstep.detectors.dense import DenseBlockDetector
from lockstep.detectors.infrastructure import SIGNALS as _INFRA_SIGNALS
from lockstep.detectors.infrastructure import InfrastructureDetector
from lockstep.detectors.synchrony import SIGNALS as _SYNC_SIGNALS
from lockstep.detectors.synchrony import SynchronyDetector
from lockstep.detectors.text import SIGNALS as _TEXT_SIGNALS
from lockstep.detectors.text import TextDetector
from lockstep.exceptions import UsageError

__all__ = ["BaseDetector", "CoActionDetector", "InfrastructureDetector", "CohortDetector",
           "TextDetector", "SynchronyDetector", "DenseBlockDetector", "NotFittedError",
           "check_is_fitted", "EDGE_SCHEMA", "EDGE_COLUMNS", "empty_edges", "SIGNALS",
           "PLATFORM_SCOPED", "estimate_window", "all_detectors", "get_detector", "signal_names",
           "REGISTRY", "DESCRIPTIONS"]

#: Every built-in signal: its detector class and the parameters that make it that signal.
#: Co-action signals come first, in :data:`SIGNALS` order.
REGISTRY: dict[str, tuple[type[BaseDetector], dict[str, Any]]] = {
    **{sig: (CoActionDetector, {"object_type": otype}) for otype, sig in SIGNALS.items()},
    **{sig: (InfrastructureDetector, dict(p)) for sig, p in _INFRA_SIGNALS.items()},
    **{sig: (CohortDetector, dict(p)) for sig, p in _COHORT_SIGNALS.items()},
    **{sig: (TextDetector, dict(p)) for sig, p in _TEXT_SIGNALS.items()},
    **{sig: (SynchronyDetector, dict(p)) for sig, p in _SYNC_SIGNALS.items()},
    **{sig: (DenseBlockDetector, dict(p)) for sig, p in _DENSE_SIGNALS.items()},
}


#: What ties two accounts in each signal, in one line (``lockstep signals``).
DESCRIPTIONS: dict[str, str] = {
    "co-repost": "re-shared the same post within the window",
    "co-link": "posted the same normalised URL within the window",
    "co-reply": "replied to the same post within the window",
    "co-hashtag": "used the same hashtag within the window",
    "co-image": "posted the same image (hash) within the window",
    "co-domain": "linked the same registered domain within the window",
    "co-mention": "mentioned the same account within the window",
    "co-venue": "posted into the same group or venue within the window",
    "co-object": "acted on the same opaque object (e.g. CooRTweet's object_id) within the window",
    "co-amplify": "re-shared or replied to the same page's posts within the window",
    "shared-device": "logged in from the same device (rare devices count most)",
    "shared-ip": "logged in from the same address within a day (carrier NAT counts for little)",
    "co-creation": "created in the same burst, with the same handle shape",
    "persona-reuse": "share a bio, display name or handle template that few others have",
    "co-text": "posted near-duplicate text (MinHash/LSH, Jaccard >= 0.6)",
    "synchrony": "act on the same objects in the same hours (SynchroTrap Jaccard)",
    "dense-block": "in one camouflage-resistant dense block of accounts x objects (Fraudar)",
}


def all_detectors() -> list[BaseDetector]:
    """One detector per registered signal, with default parameters, in a stable order."""
    return [cls(**params) for cls, params in REGISTRY.values()]


def signal_names() -> list[str]:
    """The names :func:`get_detector` accepts (signal names such as ``co-repost``)."""
    return list(REGISTRY)


def get_detector(name: str, **params: Any) -> BaseDetector:
    """The detector of a signal (``co-repost``, ``shared-device``, ...) with ``params`` set.

    A class's registry name (``"coaction"``, ``"infrastructure"``, ...) is accepted too, with
    its defining parameter (``object_type``, ``resource``, ...) in ``params``.

    Raises
    ------
    UsageError
        ``name`` is not a known signal, or ``params`` contradict it.
    """
    if name in REGISTRY:
        cls, fixed = REGISTRY[name]
        for k, v in fixed.items():
            if k in params and params[k] != v:
                raise UsageError(f"signal {name} is {k}={v!r}, not {params[k]!r}")
        return cls(**{**params, **fixed})
    for cls, _ in REGISTRY.values():
        if name == cls.name:
            return cls(**params)
    raise UsageError(f"unknown signal {name!r}; choose one of: {', '.join(signal_names())}")
