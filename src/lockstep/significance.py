"""Significance: what chance gives each account pair, p-values, and false-discovery control.

Every detector states a null model and writes, per edge, ``expected`` (the test statistic
chance gives the pair) and ``p_value`` (see :data:`lockstep.detectors.base.EDGE_SCHEMA`).
This module holds the pieces they share and the false-discovery-rate control that
``lockstep detect`` applies over all pairs of all signals at once, instead of fixed counts.

Co-action null model (:class:`CoActionNull`)
--------------------------------------------
The statistic of a pair is its ``support``: the number of distinct objects on which the two
accounts acted within the window. Under the null, accounts choose objects independently
(a bipartite Chung-Lu configuration model over *events* that keeps every account's number
of events ``d_a`` and every object's number of uses ``k_o`` in expectation: each use is a
chance to co-act, so an account that uses an object five times counts five times), and the
times of an object's events are exchangeable (shuffling times within an object). So account
``a`` acts on object ``o`` with probability ``min(1, d_a k_o / M)`` (``M`` = all uses), and
two accounts that both acted on ``o`` do so within the window with probability ``q_o``,
the share of ``o``'s event pairs that lie within the window. The expected support of a pair is

    lambda_ab = sum_o min(1, d_a k_o / M) * min(1, d_b k_o / M) * q_o

computed for every pair in ``O(log objects)`` from prefix sums over objects sorted by
``k_o``, never by enumerating objects per pair. This is what makes viral cascades and
hyperactive accounts unremarkable: a viral post has a large ``k_o`` and a large ``q_o``, and a
hyperactive account a large ``d_a``, so chance explains their co-actions.

The accounts' own timing. ``q_o`` is the same for every pair, but two accounts active in the
same hours of the same days (people online at the same times, everyone posting during one
live event) have far more event pairs within the window than two others, and so co-act by
chance far more often. The null therefore keeps each account's times as they are and lets
only the objects be chosen independently: the expected co-actions of ``a`` and ``b`` on
``o`` are ``W_ab (k_o / M)^2``, ``W_ab`` being the pair's event pairs within the window. The
model above gives ``d_a d_b (k_o / M)^2 q_o``, where ``q_o`` of an object used at random times
is ``share``, the share of all event pairs of two different accounts that lie within the
window; so both means of a pair are multiplied by its *overlap ratio*::

    rho_ab = W_ab / (d_a d_b share)

(1 for a pair whose timing is everyone's; the average over pairs weighted by ``d_a d_b`` is
1, so the null expects as many chance co-actions in all as before, spread according to who
is active together). ``W_ab`` is estimated from per-account histograms over bins as wide as
the window (:class:`ActivityOverlap`: rows in one bin are within the window, rows in adjacent
bins half the time), only for the pairs the sweep produced, at the cost of one binary search
per bin of the less active account, and is at least the pair's observed event pairs within
the window. An object's own burst (a trending hashtag) stays in ``q_o``; the product assumes
that the pair's timing and the object's are independent, which over-states the chance of
a pair that is active exactly when a burst happens (conservative). Conditioning on the
overlap takes the pair's timing out of the evidence: coordinated accounts that act only
together have a large ``W_ab``, and what is left to test is whether their moments together
fall on the same objects, which is rare by chance when the objects are rare.

Not every shared object says as much: co-acting on a niche page's post is rare by chance,
on a viral post common. Objects are ordered by their commonness ``g_o = k_o^2 q_o`` (how many
chance pairs co-act on them), and the test asks how likely chance is to give the pair at least
``support`` co-actions on objects none more common than the most common one it actually
co-acted on (``g_max``)::

    lambda_rare = d_a d_b / M^2 * sum_{o : g_o <= g_max} g_o
    p = P(Poisson(lambda_rare) >= support) / P(Poisson(lambda_ab) >= 1)

(with the overlap, both means times ``rho_ab``). The support is a sum of independent
Bernoulli trials (Poisson-binomial), whose upper tail is bounded by the Poisson tail of the
same mean, and the uncapped ``lambda_rare`` over-states
the capped probabilities, so the numerator is conservative. Detectors only output pairs with
at least one co-action, so the p-value is conditional on that (the denominator), which makes
it comparable across the output pairs that Benjamini-Hochberg ranks. Choosing ``g_max`` from
the pair's own objects makes this a scan statistic, slightly anti-conservative; the network
step, not a single edge, decides what an investigator sees.

False discovery rate (:func:`benjamini_hochberg`, :func:`fdr_filter`)
--------------------------------------------------------------------
The hypotheses are all (pair, signal) edges the detectors output; under each detector's null
their conditional p-values are (super-)uniform, so Benjamini-Hochberg over the pooled
p-values keeps the expected share of chance pairs among those kept at or below ``alpha``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep._arrays import budget_slices, unique
from lockstep._lazy import special
from lockstep.exceptions import UsageError

__all__ = ["CoActionNull", "ActivityOverlap", "poisson_pvalue", "benjamini_hochberg",
           "fdr_filter", "DEFAULT_ALPHA", "P_FLOOR"]

#: Default false discovery rate of ``lockstep detect``.
DEFAULT_ALPHA = 0.01
#: Smallest p-value written (the contract wants ``p > 0``; doubles underflow below ~1e-308).
P_FLOOR = 1e-300


def poisson_pvalue(observed: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """``P(X >= observed | X >= 1)`` for ``X ~ Poisson(lam)``, vectorised and underflow-safe.

    Parameters
    ----------
    observed : array of int
        Observed counts (at least 1).
    lam : array of float
        Expected counts under the null (``> 0``; zeros are treated as a tiny mean).

    Returns
    -------
    numpy.ndarray
        p-values in ``[P_FLOOR, 1]``; exactly 1 where ``observed <= 1``.

    Examples
    --------
    >>> poisson_pvalue(np.array([1, 3]), np.array([0.5, 0.5])).round(4).tolist()
    [1.0, 0.0366]
    """
    k = np.maximum(np.asarray(observed, dtype=np.float64), 1.0)
    lam = np.maximum(np.asarray(lam, dtype=np.float64), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        tail = special.gammainc(k, lam)  # P(X >= k) for integer k
        log_den = np.log(-np.expm1(-lam))
        p = np.exp(np.log(tail) - log_den)
        # where the tail underflows, use its leading term: log(lam^k e^-lam / k!) (a lower
        # bound within a factor 1 / (1 - lam / (k + 1)) of the tail, since lam << k there)
        lead = k * np.log(lam) - lam - special.gammaln(k + 1.0) - log_den
        p = np.where(tail > 0, p, np.exp(lead))
    p = np.where(k <= 1, 1.0, p)
    return np.clip(np.nan_to_num(p, nan=1.0), P_FLOOR, 1.0)


#: Most (account, bin) cells looked up at once when the overlap of pairs is computed (bounds
#: the temporaries: about 60 bytes a cell).
_OVERLAP_STEP = 1 << 18


@dataclass
class ActivityOverlap:
    """How often two accounts are active within the window of each other, against chance.

    Time is cut into bins as wide as the window (one unit more: the window is inclusive), and
    each account's rows (uses of an object of one type) are counted per bin: a sparse
    account x bin histogram ``h``, with at most one cell per row. Two rows in the same bin are
    within the window of each other, two in adjacent bins half the time (for times spread
    evenly within bins), two further apart never, so the number of the pair's row pairs
    within the window is estimated as::

        W_ab = sum_x h_a(x) * (h_b(x) + (h_b(x - 1) + h_b(x + 1)) / 2)

    and the same sum over all rows, less each account with itself, gives ``share``: the
    share of all row pairs of two different accounts that lie within the window. A pair's
    *overlap ratio* ``rho_ab = W_ab / (d_a d_b share)`` is 1 for two accounts whose timing is
    that of everyone, more for two accounts active in the same hours of the same days, less for
    accounts active at different times; over all pairs its average weighted by ``d_a d_b``
    is 1. Memory: about 12 bytes a cell; a pair costs one binary search per cell of whichever
    of its accounts has fewer.

    Attributes
    ----------
    keys : numpy.ndarray
        ``account * n_bins + bin`` of every non-empty cell, ascending. Bins that hold a row
        are numbered in time order, with one number skipped wherever empty bins lie between
        two of them: ``bin + 1`` is the next bin in time or no bin at all.
    counts : numpy.ndarray
        Rows per cell (float32).
    ptr : numpy.ndarray
        Cells of account ``a`` are ``ptr[a]:ptr[a + 1]``.
    n_bins : int
        Bin numbers in use (with the skipped ones).
    share : float
        Share of the row pairs of different accounts within the window (0 when none).

    Examples
    --------
    >>> ov = ActivityOverlap.from_times(np.array([0, 1, 0, 2]), np.array([0, 5, 100, 100]),
    ...                                 10, 3)
    >>> ov.within(np.array([0, 0, 1]), np.array([1, 2, 2])).tolist()
    [1.0, 1.0, 0.0]
    """

    keys: np.ndarray
    counts: np.ndarray
    ptr: np.ndarray
    n_bins: int
    share: float

    @classmethod
    def from_times(cls, a: np.ndarray, t: np.ndarray, window: float,
                   n_accounts: int) -> ActivityOverlap:
        """Bin the rows of every account.

        Parameters
        ----------
        a : numpy.ndarray
            Account code of every row.
        t : numpy.ndarray
            Time of every row (any integer unit; ``window`` in the same unit).
        window : float
            The co-action window, inclusive (bins are ``window + 1`` units wide: any two
            times in one bin are within it).
        n_accounts : int
            Number of account codes.
        """
        n = len(a)
        if n == 0:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32),
                       np.zeros(n_accounts + 1, dtype=np.int64), 0, 0.0)
        t = np.asarray(t, dtype=np.int64)
        x = t - int(t.min())
        x //= max(0, int(window)) + 1  # any two times in one bin are within the window
        span = int(x.max()) + 1
        dense = span <= n + (1 << 16)  # no more bins than rows: a lookup table, no sort
        if dense:
            present = np.zeros(span, dtype=bool)
            present[x] = True
            ub = np.flatnonzero(present)
            del present
        else:
            ub = unique(x)
        # number the bins in time order, skipping one number at each run of empty bins
        num = np.arange(len(ub), dtype=np.int64)
        num[1:] += np.cumsum(ub[1:] > ub[:-1] + 1)
        nb = int(num[-1]) + 1
        if dense:
            table = np.zeros(span, dtype=np.int64)
            table[ub] = num
            cell = table[x]
            del table
        else:
            cell = num[np.searchsorted(ub, x)]
        del x, ub, num
        cell += np.asarray(a, dtype=np.int64) * nb
        cell.sort()
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(cell[1:], cell[:-1], out=new[1:])
        keys = cell[new]
        counts = np.diff(np.r_[np.flatnonzero(new), n]).astype(np.float32)
        del cell, new
        ptr = np.searchsorted(keys, np.arange(n_accounts + 1, dtype=np.int64) * nb)
        ov = cls(keys, counts, ptr, nb, 0.0)
        # row pairs within the window: all rows together, less each account with itself
        per_bin = np.bincount(keys % nb, weights=counts, minlength=nb)
        all_pairs = float(per_bin @ per_bin) + float(per_bin[1:] @ per_bin[:-1])
        self_pairs = 0.0
        for c0 in range(0, len(keys), _OVERLAP_STEP):
            c1 = min(len(keys), c0 + _OVERLAP_STEP)
            self_pairs += float(counts[c0:c1].astype(np.float64) @ ov._near(keys[c0:c1]))
        d = np.bincount(np.asarray(a, dtype=np.int64), minlength=n_accounts).astype(np.float64)
        total = float(n) * float(n) - float(d @ d)
        if total > 0:
            ov.share = max(0.0, (all_pairs - self_pairs) / total)
        return ov

    def _near(self, q: np.ndarray) -> np.ndarray:
        """Rows in cell ``q`` (``account * n_bins + bin``) plus half of those in the cells of
        the same account just before and after it in time."""
        keys, counts = self.keys, self.counts
        last = len(keys) - 1
        # keys are distinct and ascending: q - 1, q and q + 1 can only be at i, i+1, i+2
        # (q - 1 of bin 0 and q + 1 of the last bin are another account's: not counted)
        i = np.searchsorted(keys, q - 1)
        weight = np.array([0.5, 1.0, 0.5, 0.0], dtype=np.float32)
        out = np.zeros(len(q), dtype=np.float32)
        bin_q = q % self.n_bins
        first, final = bin_q == 0, bin_q == self.n_bins - 1
        for j in range(3):
            k = np.minimum(i + j, last)
            off = (keys[k] - q + 1).astype(np.uint64)  # -1, 0, 1 -> 0, 1, 2; others > 2
            off[(off == 0) & first] = 3
            off[(off == 2) & final] = 3
            if j:
                off[i + j > last] = 3  # past the end: k is the last cell again
            np.minimum(off, 3, out=off)
            out += weight[off] * counts[k]
        return out.astype(np.float64)

    def within(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``W_ab``: the estimated row pairs of accounts ``a`` and ``b`` within the window.

        Each pair walks the cells of whichever account has fewer and looks up the other's
        rows in the same and adjacent bins (one binary search per cell).
        """
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        out = np.zeros(len(a))
        if len(a) == 0 or self.n_bins == 0:
            return out
        na = self.ptr[a + 1] - self.ptr[a]
        nb_ = self.ptr[b + 1] - self.ptr[b]
        swap = na > nb_
        s = np.where(swap, b, a)
        other = np.where(swap, a, b)
        ns = np.minimum(na, nb_)
        for p0, p1 in budget_slices(ns, _OVERLAP_STEP):
            k = ns[p0:p1]
            tot = int(k.sum())
            if tot:
                pair = np.repeat(np.arange(p1 - p0), k)
                cell = np.arange(tot, dtype=np.int64)
                cell += np.repeat(self.ptr[s[p0:p1]] - (np.cumsum(k) - k), k)
                # the same bin of the other account: shift the key by the accounts' difference
                q = self.keys[cell]
                q += np.repeat((other[p0:p1] - s[p0:p1]) * self.n_bins, k)
                contrib = self._near(q)
                contrib *= self.counts[cell]
                out[p0:p1] = np.bincount(pair, weights=contrib, minlength=p1 - p0)
        return out

    def ratio(self, a: np.ndarray, b: np.ndarray, degree: np.ndarray,
              floor: np.ndarray | None = None) -> np.ndarray:
        """``rho_ab = W_ab / (d_a d_b share)``, the pair's overlap against chance.

        Parameters
        ----------
        a, b : numpy.ndarray
            Account codes of the pairs.
        degree : numpy.ndarray
            Rows per account code (``d_a``).
        floor : numpy.ndarray, optional
            A lower bound of each pair's row pairs within the window (the event pairs it was
            seen to co-act in): the binned estimate is raised to it.
        """
        w = self.within(a, b)
        if floor is not None:
            w = np.maximum(w, np.asarray(floor, dtype=np.float64))
        dd = degree[a] * degree[b]
        if self.share <= 0:
            return np.ones(len(w))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = w / (dd * self.share)
        return np.where(dd > 0, r, 1.0)


@dataclass
class CoActionNull:
    """The co-action null model of one object type (see the module docstring).

    Attributes
    ----------
    degree : numpy.ndarray
        Events (uses of an object of this type) per account code (``d_a``).
    M : float
        All uses (``sum d_a``).
    g : numpy.ndarray
        Per object code, ``k_o^2 q_o``: how often chance pairs co-act on it (its
        commonness; the rarity order of objects).
    k_sorted : numpy.ndarray
        Accounts per object (``k_o``), ascending.
    prefix : tuple of numpy.ndarray
        Prefix sums of ``k^2 q``, ``k q`` and ``q`` over objects in ``k_sorted`` order.
    g_sorted, g_prefix : numpy.ndarray
        ``g`` ascending and its prefix sums (with a leading 0).
    overlap : ActivityOverlap or None
        The accounts' activity over time, when the null was given the rows' times: each
        pair's expectation is then multiplied by its overlap ratio ``rho_ab``.
    """

    degree: np.ndarray
    M: float
    g: np.ndarray
    k_sorted: np.ndarray
    prefix: tuple[np.ndarray, np.ndarray, np.ndarray]
    g_sorted: np.ndarray
    g_prefix: np.ndarray
    overlap: ActivityOverlap | None = None

    @classmethod
    def from_rows(cls, o: np.ndarray, a: np.ndarray, obj_cand: np.ndarray,
                  obj_starts: np.ndarray, n_accounts: int, *, t: np.ndarray | None = None,
                  window: float | None = None) -> CoActionNull:
        """Fit the null from all staged rows of one object type.

        Parameters
        ----------
        o, a : numpy.ndarray
            Object and account code of every row, rows sorted by object (all rows, objects
            acted on once included: they count in ``d_a`` and ``M``).
        obj_cand, obj_starts : numpy.ndarray
            Candidate event pairs within the window per object and each object's first row
            (as counted by the co-action sweep over the same rows).
        n_accounts : int
            Number of account codes.
        t, window : numpy.ndarray and float, optional
            Time of every row and the window, in the same unit. Given, the null conditions
            on each pair's overlap in time (:class:`ActivityOverlap`); not given, on the
            objects' timing alone.
        """
        n = len(o)
        if n == 0:
            z = np.zeros(1)
            return cls(np.zeros(n_accounts), 1.0, np.zeros(0), np.zeros(0), (z, z, z),
                       np.zeros(0), z)
        n_obj = int(o.max()) + 1
        inc = unique(o.astype(np.int64) * n_accounts + a)
        distinct = np.bincount(inc // n_accounts, minlength=n_obj)
        # events, not distinct incidences: an account that uses an object five times has five
        # chances to co-act on it (counting it once under-stated heavy repeat users' chance
        # co-actions: on the shuffled small world of seed 11, co-domain's share of p <= 0.01
        # fell from 20x to 6x the nominal level)
        degree = np.bincount(a, minlength=n_accounts).astype(np.float64)
        k = np.bincount(o, minlength=n_obj).astype(np.float64)
        size = np.diff(np.r_[obj_starts, n]).astype(np.float64)
        q = np.zeros(n_obj)
        pairs = size * (size - 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            q[o[obj_starts]] = np.where(pairs > 0, obj_cand / pairs, 0.0)
        q[distinct < 2] = 0.0
        null = cls.from_counts(degree, k, float(n), q)
        if t is not None and window is not None:
            null.overlap = ActivityOverlap.from_times(a, t, window, n_accounts)
        return null

    @classmethod
    def from_counts(cls, degree: np.ndarray, k: np.ndarray, M: float,
                    q: np.ndarray | None = None) -> CoActionNull:
        """The null from account degrees ``d_a``, object sizes ``k_o``, incidences ``M`` and
        each object's within-window probability ``q_o`` (1 when not given: no timing)."""
        k = np.asarray(k, dtype=np.float64)
        q = np.ones(len(k)) if q is None else np.clip(np.asarray(q, dtype=np.float64), 0, 1)
        order = np.argsort(k, kind="stable")
        ks, qs = k[order], q[order]
        prefix = tuple(np.r_[0.0, np.cumsum(x)] for x in (ks * ks * qs, ks * qs, qs))
        g = k * k * q
        g_sorted = np.sort(g)
        return cls(np.asarray(degree, dtype=np.float64), max(1.0, float(M)), g, ks,
                   prefix,  # type: ignore[arg-type]
                   g_sorted, np.r_[0.0, np.cumsum(g_sorted)])

    def expected(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``lambda_ab``, the expected support of each pair of account codes (any object)."""
        da, db = self.degree[a], self.degree[b]
        lo, hi = np.minimum(da, db), np.maximum(da, db)
        M = self.M
        with np.errstate(divide="ignore"):
            i1 = np.searchsorted(self.k_sorted, M / hi, side="right")
            i2 = np.searchsorted(self.k_sorted, M / lo, side="right")
        A, B, C = self.prefix
        return (da * db / (M * M) * A[i1] + lo / M * (B[i2] - B[i1]) + (C[-1] - C[i2]))

    def expected_rare(self, a: np.ndarray, b: np.ndarray, g_max: np.ndarray) -> np.ndarray:
        """Expected support of each pair on objects at most as common as ``g_max``
        (uncapped Chung-Lu, an over-estimate, hence conservative)."""
        da, db = self.degree[a], self.degree[b]
        i = np.searchsorted(self.g_sorted, g_max, side="right")
        return da * db / (self.M * self.M) * self.g_prefix[i]

    def pvalues(self, a: np.ndarray, b: np.ndarray, support: np.ndarray,
                g_max: np.ndarray, weight: np.ndarray | None = None,
                max_p: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(expected, p_value)`` of each pair: co-acting on ``support`` objects none more
        common than ``g_max``, given that the pair co-acted at all.

        ``expected`` is the support chance gives the pair on objects that rare;
        ``p = P(Poisson(expected) >= support) / P(Poisson(lambda_ab) >= 1)``, at most 1.
        Sharing a niche page's post is thus far stronger evidence than sharing a viral
        one, and repeated co-action stronger than a single one.

        With :attr:`overlap`, both means are multiplied by the pair's overlap ratio
        ``rho_ab`` (:class:`ActivityOverlap`). ``weight``, the pair's event pairs within the
        window, is a lower bound of its row pairs within the window, hence of ``rho_ab``; the
        p-value only grows with ``rho_ab``, so a pair whose p-value at that bound already
        exceeds ``max_p`` keeps that bound (it is above ``max_p`` either way, and the caller
        drops it) and its overlap is not looked up.
        """
        lam_rare = self.expected_rare(a, b, g_max)
        lam_all = np.maximum(self.expected(a, b), lam_rare)
        k = np.maximum(np.asarray(support, dtype=np.float64), 1.0)
        ov = self.overlap
        if ov is None or ov.share <= 0:
            return lam_rare, _conditional_tail(k, lam_rare, lam_all)
        if weight is None or max_p is None:
            rho = ov.ratio(a, b, self.degree, weight)
            return lam_rare * rho, _conditional_tail(k, lam_rare * rho, lam_all * rho)
        weight = np.asarray(weight, dtype=np.float64)
        dd = self.degree[a] * self.degree[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(dd > 0, weight / (dd * ov.share), 1.0)
        p = _conditional_tail(k, lam_rare * rho, lam_all * rho)
        need = np.flatnonzero(p <= max_p)
        if len(need):
            rho[need] = ov.ratio(a[need], b[need], self.degree, weight[need])
            p[need] = _conditional_tail(k[need], lam_rare[need] * rho[need],
                                        lam_all[need] * rho[need])
        return lam_rare * rho, p


def _conditional_tail(k: np.ndarray, lam_rare: np.ndarray, lam_all: np.ndarray
                      ) -> np.ndarray:
    """``P(Poisson(lam_rare) >= k) / P(Poisson(lam_all) >= 1)``, at most 1 and at least
    :data:`P_FLOOR` (the leading term of the tail where it underflows)."""
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        lr = np.maximum(lam_rare, 1e-300)
        tail = special.gammainc(k, lr)
        log_den = np.log(-np.expm1(-np.maximum(lam_all, 1e-300)))
        lead = k * np.log(lr) - lr - special.gammaln(k + 1.0)
        log_tail = np.where(tail > 0, np.log(np.where(tail > 0, tail, 1.0)), lead)
        p = np.exp(np.minimum(log_tail - log_den, 0.0))
    return np.clip(np.nan_to_num(p, nan=1.0), P_FLOOR, 1.0)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of ``p``.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    return _bh_with_ones(np.asarray(p, dtype=np.float64), 0)


def _bh_with_ones(p: np.ndarray, ones: int) -> np.ndarray:
    """q-values of ``p`` when ``ones`` more hypotheses with ``p = 1`` were tested (they rank
    last, so only ``m`` changes)."""
    m = len(p) + ones
    if len(p) == 0:
        return np.zeros(0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(len(p))
    out[order] = np.minimum(q, 1.0)
    return out


def fdr_filter(tables: Sequence[pa.Table], alpha: float = DEFAULT_ALPHA, *, untested: int = 0
               ) -> tuple[list[pa.Table], dict[str, Any]]:
    """Keep the edges whose Benjamini-Hochberg q-value, over all tables pooled, is <= alpha.

    Parameters
    ----------
    tables : sequence of pyarrow.Table
        Detector edges with a ``p_value`` column (one table per signal).
    alpha : float
        The false discovery rate.
    untested : int
        Hypotheses tested but not in ``tables``, each with ``p = 1``: a detector whose
        p-values are unconditional (``stats_["pairs_at_risk"]``) tested every pair at risk,
        not only the pairs it output, and those count in Benjamini-Hochberg's ``m``.

    Returns
    -------
    (list of pyarrow.Table, dict)
        The tables filtered, each with a ``q_value`` column added, and what was tested and
        kept per signal (``tested``, ``kept``, ``alpha``, ``p_threshold``: the largest
        p-value kept).
    """
    if not 0 < alpha <= 1:
        raise UsageError(f"alpha (the false discovery rate) must be in (0, 1], not {alpha!r}")
    ps = [t["p_value"].to_numpy(zero_copy_only=False) if t.num_rows else np.zeros(0)
          for t in tables]
    allp = np.concatenate(ps) if ps else np.zeros(0)
    if untested < 0:
        raise UsageError(f"untested must be >= 0, not {untested}")
    q = _bh_with_ones(allp, untested)
    keep_all = q <= alpha
    out, per_signal = [], {}
    pos = 0
    for t, p in zip(tables, ps, strict=True):
        n = len(p)
        qi, keep = q[pos:pos + n], keep_all[pos:pos + n]
        pos += n
        kept = t.append_column("q_value", pa.array(qi, pa.float64())).filter(pa.array(keep))
        out.append(kept)
        if t.num_rows:
            sig = pc.unique(t["signal"]).to_pylist()[0]
            per_signal[sig] = {"tested": n, "kept": int(keep.sum())}
    thr = float(allp[keep_all].max()) if keep_all.any() else 0.0
    return out, {"alpha": alpha, "tested": int(len(allp)) + untested, "kept": int(keep_all.sum()),
                 "p_threshold": thr, "signals": per_signal}
