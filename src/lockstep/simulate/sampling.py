"""Vectorised sampling helpers shared by all generators.

Hashing (:func:`mix64`) turns integer keys into reproducible pseudo-random numbers, so that
content such as a post's words can be rebuilt at write time from a key instead of being stored.
The samplers draw from Zipf popularity laws, draw weighted samples without replacement, and pick
items inside per-group segments, all without per-item Python loops.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ZipfSampler",
    "hash_uniform",
    "mix64",
    "pick_in_segments",
    "segment_bounds",
    "weighted_sample",
]

_MASK = (1 << 64) - 1
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray | int, salt: int = 0) -> np.ndarray:
    """Hash integers with the splitmix64 finaliser.

    Parameters
    ----------
    x : numpy.ndarray or int
        Keys (any integer dtype; reinterpreted as ``uint64``).
    salt : int, optional
        Mixed into the key so different uses of one key give independent values.

    Returns
    -------
    numpy.ndarray
        ``uint64`` hashes, same shape as ``x``.
    """
    z = np.atleast_1d(np.asarray(x))
    if z.dtype != np.uint64:
        z = z.astype(np.int64, copy=False).view(np.uint64)
    z = z + np.uint64((0x9E3779B97F4A7C15 * (salt * 2 + 1)) & _MASK)
    z = (z ^ (z >> np.uint64(30))) * _C2
    z = (z ^ (z >> np.uint64(27))) * _C3
    return z ^ (z >> np.uint64(31))


def hash_uniform(x: np.ndarray | int, salt: int = 0) -> np.ndarray:
    """Map integer keys to reproducible uniforms in ``[0, 1)``.

    Parameters
    ----------
    x : numpy.ndarray or int
        Keys.
    salt : int, optional
        Stream selector.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    return (mix64(x, salt) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class ZipfSampler:
    """Draw item indices with Zipf popularity over a finite vocabulary.

    The popularity rank of each item is a fixed permutation, so that popular items are spread
    over the vocabulary rather than being its first entries.

    Parameters
    ----------
    n : int
        Vocabulary size.
    a : float
        Zipf exponent (probability of rank ``r`` proportional to ``r ** -a``).
    rng : numpy.random.Generator
        Used once, to draw the rank permutation.
    """

    def __init__(self, n: int, a: float, rng: np.random.Generator) -> None:
        ranks = np.arange(1, n + 1, dtype=np.float64)
        w = ranks**-a
        self.cdf = np.cumsum(w / w.sum())
        self.cdf[-1] = 1.0
        self.order = rng.permutation(n).astype(np.int64)
        self.n = n

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms to items.

        Parameters
        ----------
        u : numpy.ndarray
            Values in ``[0, 1)``.

        Returns
        -------
        numpy.ndarray
            ``int64`` item indices.
        """
        return self.order[np.searchsorted(self.cdf, u, side="right").clip(0, self.n - 1)]

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` items.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        size : int
            Number of draws.

        Returns
        -------
        numpy.ndarray
            ``int64`` item indices.
        """
        return self.from_uniform(rng.random(size))


def weighted_sample(
    rng: np.random.Generator, weights: np.ndarray, k: int
) -> np.ndarray:
    """Sample ``k`` distinct positions with probability increasing in ``weights``.

    Uses the Efraimidis–Spirakis keys ``u ** (1 / w)``, which is linear in ``len(weights)``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    weights : numpy.ndarray
        Positive weights.
    k : int
        Sample size (clipped to ``len(weights)``).

    Returns
    -------
    numpy.ndarray
        ``int64`` positions, in random order.
    """
    n = len(weights)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(rng.random(n) + 1e-300) / np.maximum(weights, 1e-12)
    top = np.argpartition(-keys, k - 1)[:k]
    return rng.permutation(top).astype(np.int64)


def segment_bounds(sorted_keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Start offsets of each key's segment in a sorted key array.

    Parameters
    ----------
    sorted_keys : numpy.ndarray
        Non-negative integer keys, sorted.
    n_keys : int
        Number of possible keys.

    Returns
    -------
    numpy.ndarray
        ``n_keys + 1`` offsets; key ``k`` occupies ``[out[k], out[k + 1])``.
    """
    return np.searchsorted(sorted_keys, np.arange(n_keys + 1), side="left").astype(np.int64)


def pick_in_segments(
    rng: np.random.Generator, bounds: np.ndarray, keys: np.ndarray, skew: float = 1.0
) -> np.ndarray:
    """Pick one position inside the segment of each query key.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    bounds : numpy.ndarray
        Output of :func:`segment_bounds`.
    keys : numpy.ndarray
        Query keys.
    skew : float, optional
        ``1`` picks uniformly; larger values favour the start of each segment.

    Returns
    -------
    numpy.ndarray
        Positions into the sorted array, or ``-1`` where the segment is empty.
    """
    lo = bounds[keys]
    size = bounds[keys + 1] - lo
    u = rng.random(len(keys)) ** skew
    pos = lo + np.floor(u * size).astype(np.int64)
    return np.where(size > 0, pos, -1)
