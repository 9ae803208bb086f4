"""Array helpers that numpy does slowly.

``np.unique`` in numpy 2.4 hashes its input first, which is about 100 times slower than a sort
on millions of integers (3.3 s against 0.02 s for 3M int64 here); :func:`unique` sorts.
"""
from __future__ import annotations

import numpy as np

__all__ = ["unique", "budget_slices"]


def unique(x: np.ndarray, return_inverse: bool = False):  # type: ignore[no-untyped-def]
    """Sorted distinct values of a 1-d array (and, optionally, each element's index in them).

    Examples
    --------
    >>> u, inv = unique(np.array([3, 1, 3, 2]), return_inverse=True)
    >>> u.tolist(), inv.tolist()
    ([1, 2, 3], [2, 0, 2, 1])
    """
    x = np.asarray(x).ravel()
    if not return_inverse:
        s = np.sort(x)
        return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
    inv = np.empty(len(x), dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def budget_slices(counts: np.ndarray, step: int):  # type: ignore[no-untyped-def]
    """Consecutive slices ``(i0, i1)`` of ``counts`` whose sum stays within about ``step``
    (each slice holds at least one item, so one item larger than ``step`` is its own slice):
    bounded pieces of work over items of uneven size.

    >>> list(budget_slices(np.array([3, 3, 3, 10, 1]), 6))
    [(0, 2), (2, 3), (3, 4), (4, 5)]
    """
    cum = np.cumsum(counts)
    i0 = 0
    while i0 < len(counts):
        base = int(cum[i0 - 1]) if i0 else 0
        i1 = max(i0 + 1, int(np.searchsorted(cum, base + step, side="right")))
        yield i0, i1
        i0 = i1
