"""Modules imported on first use: ``from lockstep._lazy import special``.

Why: ``scipy.special`` costs about 17 MB and 0.2 s in every process that imports
:mod:`lockstep.detectors`, the co-action pairs stream included (issue 3 compares its peak
memory with coordination-network-toolkit's), while only the p-value code uses it.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["lazy", "special"]


class _Lazy(ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_target"] = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__dict__["_target"]), attr)
        self.__dict__[attr] = value  # later reads are plain attribute lookups
        return value


def lazy(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _Lazy(name)


#: ``scipy.special``, for the p-value code of the detectors and :mod:`lockstep.significance`.
special = lazy("scipy.special")
