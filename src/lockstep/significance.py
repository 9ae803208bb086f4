"""Significance: what chance gives each account pair, p-values, and false-discovery control.

Every detector states a null model and writes, per edge, ``expected`` (the test statistic
chance gives the pair) and ``p_value`` (see :data:`lockstep.detectors.base.EDGE_SCHEMA`).
This module holds the pieces they share and the false-discovery-rate control that
``lockstep detect`` applies over all pairs of all signals at once, instead of fixed counts.

Co-action null model (:class:`CoActionNull`)
--------------------------------------------
The statistic of a pair is its ``support``: the number of distinct objects on which the two
accounts acted within the window. Under the null, accounts choose objects independently
(a bipartite Chung-Lu configuration model that keeps every account's number of objects
``d_a`` and every object's number of accounts ``k_o`` in expectation), and the times of an
object's events are exchangeable (shuffling times within an object). So account ``a`` acts on
object ``o`` with probability ``min(1, d_a k_o / M)`` (``M`` = all account-object incidences),
and two accounts that both acted on ``o`` do so within the window with probability ``q_o``,
the share of ``o``'s event pairs that lie within the window. The expected support of a pair is

    lambda_ab = sum_o min(1, d_a k_o / M) * min(1, d_b k_o / M) * q_o

computed for every pair in ``O(log objects)`` from prefix sums over objects sorted by
``k_o``, never by enumerating objects per pair. This is what makes viral cascades and
hyperactive accounts unremarkable: a viral post has a large ``k_o`` and a large ``q_o``, and a
hyperactive account a large ``d_a``, so chance explains their co-actions.

Not every shared object says as much: co-acting on a niche page's post is rare by chance,
on a viral post common. Objects are ordered by their commonness ``g_o = k_o^2 q_o`` (how many
chance pairs co-act on them), and the test asks how likely chance is to give the pair at least
``support`` co-actions on objects none more common than the most common one it actually
co-acted on (``g_max``)::

    lambda_rare = d_a d_b / M^2 * sum_{o : g_o <= g_max} g_o
    p = P(Poisson(lambda_rare) >= support) / P(Poisson(lambda_ab) >= 1)

The support is a sum of independent Bernoulli trials (Poisson-binomial), whose upper tail is
bounded by the Poisson tail of the same mean, and the uncapped ``lambda_rare`` over-states
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

from lockstep._arrays import unique
from lockstep._lazy import special
from lockstep.exceptions import UsageError

__all__ = ["CoActionNull", "poisson_pvalue", "benjamini_hochberg", "fdr_filter",
           "DEFAULT_ALPHA", "P_FLOOR"]

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


@dataclass
class CoActionNull:
    """The co-action null model of one object type (see the module docstring).

    Attributes
    ----------
    degree : numpy.ndarray
        Distinct objects per account code (``d_a``).
    M : float
        Account-object incidences (``sum d_a``).
    g : numpy.ndarray
        Per object code, ``k_o^2 q_o``: how often chance pairs co-act on it (its
        commonness; the rarity order of objects).
    k_sorted : numpy.ndarray
        Accounts per object (``k_o``), ascending.
    prefix : tuple of numpy.ndarray
        Prefix sums of ``k^2 q``, ``k q`` and ``q`` over objects in ``k_sorted`` order.
    g_sorted, g_prefix : numpy.ndarray
        ``g`` ascending and its prefix sums (with a leading 0).
    """

    degree: np.ndarray
    M: float
    g: np.ndarray
    k_sorted: np.ndarray
    prefix: tuple[np.ndarray, np.ndarray, np.ndarray]
    g_sorted: np.ndarray
    g_prefix: np.ndarray

    @classmethod
    def from_rows(cls, o: np.ndarray, a: np.ndarray, obj_cand: np.ndarray,
                  obj_starts: np.ndarray, n_accounts: int) -> CoActionNull:
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
        """
        n = len(o)
        if n == 0:
            z = np.zeros(1)
            return cls(np.zeros(n_accounts), 1.0, np.zeros(0), np.zeros(0), (z, z, z),
                       np.zeros(0), z)
        n_obj = int(o.max()) + 1
        inc = unique(o.astype(np.int64) * n_accounts + a)
        degree = np.bincount(inc % n_accounts, minlength=n_accounts).astype(np.float64)
        k = np.bincount(inc // n_accounts, minlength=n_obj).astype(np.float64)
        size = np.diff(np.r_[obj_starts, n]).astype(np.float64)
        q = np.zeros(n_obj)
        pairs = size * (size - 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            q[o[obj_starts]] = np.where(pairs > 0, obj_cand / pairs, 0.0)
        q[k < 2] = 0.0
        return cls.from_counts(degree, k, float(len(inc)), q)

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
                g_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(expected, p_value)`` of each pair: co-acting on ``support`` objects none more
        common than ``g_max``, given that the pair co-acted at all.

        ``expected`` is the support chance gives the pair on objects that rare;
        ``p = P(Poisson(expected) >= support) / P(Poisson(lambda_ab) >= 1)``, at most 1.
        Sharing a niche page's post is thus far stronger evidence than sharing a viral
        one, and repeated co-action stronger than a single one.
        """
        lam_rare = self.expected_rare(a, b, g_max)
        lam_all = np.maximum(self.expected(a, b), lam_rare)
        k = np.maximum(np.asarray(support, dtype=np.float64), 1.0)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            lr = np.maximum(lam_rare, 1e-300)
            tail = special.gammainc(k, lr)
            log_den = np.log(-np.expm1(-np.maximum(lam_all, 1e-300)))
            lead = k * np.log(lr) - lr - special.gammaln(k + 1.0)
            log_tail = np.where(tail > 0, np.log(np.where(tail > 0, tail, 1.0)), lead)
            p = np.exp(np.minimum(log_tail - log_den, 0.0))
        return lam_rare, np.clip(np.nan_to_num(p, nan=1.0), P_FLOOR, 1.0)


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
