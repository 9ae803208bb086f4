"""Significance: p-values against the null models and false-discovery control."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from lockstep.exceptions import UsageError
from lockstep.graph.fusion import edge_table
from lockstep.significance import (
    P_FLOOR,
    CoActionNull,
    benjamini_hochberg,
    fdr_filter,
    poisson_pvalue,
)


def _poisson_sf(k: int, lam: float) -> float:
    """P(X >= k), summed term by term (independent of scipy)."""
    return 1.0 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize("k,lam", [(2, 0.3), (3, 1.0), (5, 2.5), (10, 4.0)])
def test_poisson_pvalue_is_the_conditional_tail(k: int, lam: float) -> None:
    want = _poisson_sf(k, lam) / _poisson_sf(1, lam)
    got = poisson_pvalue(np.array([k]), np.array([lam]))[0]
    assert got == pytest.approx(want, rel=1e-9)


def test_poisson_pvalue_edges() -> None:
    p = poisson_pvalue(np.array([1, 400, 3]), np.array([5.0, 1e-6, 0.0]))
    assert p[0] == 1.0  # one co-action is never evidence by itself
    assert p[1] == P_FLOOR  # underflow is floored, never 0
    assert 0 < p[2] < 1e-20  # a zero mean is a tiny mean, not a division by zero


def test_benjamini_hochberg_matches_hand_computation() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205])
    m = len(p)
    # q_(i) = min_{j >= i} p_(j) m / j
    want = [min(p[j] * m / (j + 1) for j in range(i, m)) for i in range(m)]
    assert benjamini_hochberg(p) == pytest.approx(want)
    shuffled = np.array([3, 0, 7, 5, 1, 6, 2, 4])
    assert benjamini_hochberg(p[shuffled]) == pytest.approx(np.array(want)[shuffled])


def _null(objects: list[list[tuple[int, float]]], n_acc: int, window: float) -> CoActionNull:
    """A null from per-object lists of (account, time) with the within-window counts."""
    o, a, t = [], [], []
    for code, evs in enumerate(objects):
        for acc, ts in sorted(evs, key=lambda x: x[1]):
            o.append(code)
            a.append(acc)
            t.append(ts)
    o_arr, a_arr, t_arr = np.array(o), np.array(a), np.array(t)
    starts = np.flatnonzero(np.r_[True, o_arr[1:] != o_arr[:-1]])
    cand = []
    for s, e in zip(starts, np.r_[starts[1:], len(o_arr)], strict=True):
        ts = t_arr[s:e]
        cand.append(sum(1 for i in range(len(ts)) for j in range(i + 1, len(ts))
                        if ts[j] - ts[i] <= window))
    return CoActionNull.from_rows(o_arr, a_arr, np.array(cand), starts, n_acc)


def test_coaction_null_viral_object_is_unremarkable_niche_repeats_are_not() -> None:
    rng = np.random.default_rng(0)
    n = 400
    objects: list[list[tuple[int, float]]] = []
    # one viral object: every account, all within minutes
    objects.append([(acc, float(rng.uniform(0, 600))) for acc in range(n)])
    # background: each account acts on 5 niche objects alone
    for acc in range(n):
        for _ in range(5):
            objects.append([(acc, float(rng.uniform(0, 1e6)))])
    # accounts 0 and 1 co-act on 6 niche objects within seconds
    for i in range(6):
        objects.append([(0, 1e5 * i), (1, 1e5 * i + 5)])
    null = _null(objects, n, window=60)
    k = null.g > 0
    viral = int(np.argmax(null.g))
    assert viral == 0 and k.sum() == 7
    lo, hi = np.array([0, 2]), np.array([1, 3])
    # pair (2, 3) shares only the viral object; pair (0, 1) six niche ones and the viral one
    exp, p = null.pvalues(lo, hi, np.array([7, 1]), np.array([null.g[0], null.g[0]]))
    exp_niche, p_niche = null.pvalues(lo[:1], hi[:1], np.array([6]),
                                      np.array([null.g[k][1:].max()]))
    assert p[1] == 1.0
    assert p_niche[0] < 1e-6 and p_niche[0] < p[0]
    assert exp_niche[0] < exp[0]
    # the expected support of any pair under the null is at most what it could share
    lam = null.expected(np.arange(0, n, 2), np.arange(1, n, 2))
    assert np.all(lam >= 0) and np.all(lam <= 7.0 + 1e-9)


def test_coaction_null_expected_matches_direct_sum() -> None:
    rng = np.random.default_rng(3)
    objects = [[(int(a), float(rng.uniform(0, 3600))) for a in rng.choice(30, size=int(s),
                                                                         replace=False)]
               for s in rng.integers(1, 25, size=60)]
    null = _null(objects, 30, window=300)
    M, d = null.M, null.degree
    k = np.array([len({a for a, _ in evs}) for evs in objects], dtype=float)
    q = np.zeros(len(objects))
    for i, evs in enumerate(objects):
        ts = sorted(t for _, t in evs)
        n = len(ts)
        if len({a for a, _ in evs}) >= 2:
            within = sum(1 for x in range(n) for y in range(x + 1, n) if ts[y] - ts[x] <= 300)
            q[i] = within / (n * (n - 1) / 2)
    for a, b in [(0, 1), (4, 17), (29, 3)]:
        want = sum(min(1, d[a] * k[o] / M) * min(1, d[b] * k[o] / M) * q[o]
                   for o in range(len(objects)))
        assert null.expected(np.array([a]), np.array([b]))[0] == pytest.approx(want)


def test_fdr_filter_pools_signals_and_reports() -> None:
    a = edge_table([("x:a", "x:b", 3), ("x:a", "x:c", 1)], signal="co-link")
    a = a.set_column(a.schema.get_field_index("p_value"), "p_value",
                     pa.array([1e-9, 0.5], pa.float64()))
    b = edge_table([("x:b", "x:c", 2)], signal="co-repost")
    b = b.set_column(b.schema.get_field_index("p_value"), "p_value", pa.array([0.004]))
    kept, info = fdr_filter([a, b], alpha=0.01)
    assert [t.num_rows for t in kept] == [1, 1]
    assert info["tested"] == 3 and info["kept"] == 2
    assert info["signals"] == {"co-link": {"tested": 2, "kept": 1},
                               "co-repost": {"tested": 1, "kept": 1}}
    assert kept[1]["q_value"][0].as_py() == pytest.approx(0.006)
    with pytest.raises(UsageError):
        fdr_filter([a], alpha=0)
