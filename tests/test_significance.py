"""Significance: p-values against the null models and false-discovery control."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest

from lockstep.exceptions import UsageError
from lockstep.graph.fusion import edge_table
from lockstep.significance import (
    P_FLOOR,
    ActivityOverlap,
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


@pytest.mark.parametrize("seed", range(6))
def test_activity_overlap_matches_direct_sum(seed: int) -> None:
    """W_ab and the share of within-window pairs against a sum over every pair of rows (rows
    in one bin of the window's width count 1, in adjacent bins 1/2), with sparse and dense
    bins alike."""
    rng = np.random.default_rng(seed)
    n_acc, n = int(rng.integers(2, 15)), int(rng.integers(1, 250))
    window = int(rng.integers(1, 40)) * (10**5 if seed % 3 == 1 else 1)
    a = rng.integers(0, n_acc, n)
    t = rng.integers(0, 2000, n) * (10**6 if seed % 2 else 1)
    ov = ActivityOverlap.from_times(a, t, window, n_acc)
    x = (t - t.min()) // (window + 1)
    gap = np.abs(x[:, None] - x[None, :])
    kernel = np.where(gap == 0, 1.0, np.where(gap == 1, 0.5, 0.0))
    member = np.zeros((n_acc, n))
    member[a, np.arange(n)] = 1
    w = member @ kernel @ member.T
    lo, hi = np.triu_indices(n_acc, 1)
    assert ov.within(lo, hi) == pytest.approx(w[lo, hi])
    assert ov.within(hi, lo) == pytest.approx(w[lo, hi])
    d = member.sum(axis=1)
    total = n * n - d @ d
    assert ov.share == pytest.approx((w.sum() - np.trace(w)) / total if total else 0.0)
    # the overlap ratio averages 1 over all pairs, weighted by d_a d_b
    if ov.share > 0:
        rho = ov.ratio(lo, hi, d)
        assert float((rho * d[lo] * d[hi]).sum()) == pytest.approx(float((d[lo] * d[hi]).sum()))


def _timed_rows(n_acc: int, together: list[int], rare: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(object, time, account)`` rows sorted by object and time: 40 uses per account of 20
    popular hashtags chosen at random, at random times over 30 days, except the accounts in
    ``together``, which act only in the same 20 minutes of each of five days; accounts 0 and 1
    also co-act on ``rare`` niche objects within seconds."""
    rows = []
    for acc in range(n_acc):
        for _ in range(40):
            if acc in together:
                ts = int(rng.integers(0, 5)) * 86_400 + 20 * 3600 + int(rng.integers(0, 1200))
            else:
                ts = int(rng.integers(0, 30 * 86_400))
            rows.append((int(rng.integers(0, 20)), ts, acc))
    for i in range(rare):
        rows += [(20 + i, 10 * 86_400 + 7_000 * i, 0), (20 + i, 10 * 86_400 + 7_000 * i + 5, 1)]
    rows.sort()
    return tuple(np.array([r[k] for r in rows]) for k in range(3))  # type: ignore[return-value]


def test_coaction_null_explains_accounts_active_together_not_rare_co_action() -> None:
    """Accounts active in the same minutes of the same days co-act on popular hashtags by
    chance; the null without their times calls that significant, the null with them does
    not. Two accounts that co-act on rare objects stay significant."""
    window = 60
    together = list(range(2, 12))
    o, t, a = _timed_rows(200, together, 4, np.random.default_rng(5))
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    ends = np.r_[starts[1:], len(o)]
    cand = np.array([sum(int(np.searchsorted(t[s:e], t[i] + window, side="right")) - (i - s)
                         - 1 for i in range(s, e)) for s, e in zip(starts, ends, strict=True)])
    timed = CoActionNull.from_rows(o, a, cand, starts, 200, t=t, window=window)
    plain = CoActionNull.from_rows(o, a, cand, starts, 200)
    lo, hi, support, weight, g_max = [], [], [], [], []
    for x, y in [*itertools.combinations(together, 2), (0, 1)]:
        ix, iy = np.flatnonzero(a == x), np.flatnonzero(a == y)
        near = (o[ix][:, None] == o[iy][None, :]) & (np.abs(t[ix][:, None] - t[iy][None, :])
                                                     <= window)
        shared = set(o[ix][near.any(axis=1)].tolist())
        if shared:
            lo.append(x)
            hi.append(y)
            support.append(len(shared))
            weight.append(int(near.sum()))
            g_max.append(max(timed.g[list(shared)]))
    lo_a, hi_a, sup = np.array(lo), np.array(hi), np.array(support)
    _, p_plain = plain.pvalues(lo_a, hi_a, sup, np.array(g_max))
    _, p_timed = timed.pvalues(lo_a, hi_a, sup, np.array(g_max), np.array(weight))
    chance = (hi_a != 1) & (sup >= 2)
    assert chance.sum() >= 10
    assert chance.sum() >= 10
    assert np.all(p_plain[chance] < 0.01)  # the shared timing alone looks like coordination
    assert np.all(p_timed[chance] > 0.05)  # explained by the accounts' own timing
    assert p_timed[hi_a == 1][0] < 1e-6  # co-action on rare objects is still found
    # max_p: pairs above it stay above it; the others are exact
    _, p_cut = timed.pvalues(lo_a, hi_a, sup, np.array(g_max), np.array(weight), max_p=0.01)
    kept = p_timed <= 0.01
    assert np.array_equal(p_cut <= 0.01, kept)
    assert p_cut[kept] == pytest.approx(p_timed[kept])


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
