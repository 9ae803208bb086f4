"""Content columns of events: text seeds, hashtags, links (with their many spellings), images.

Links are stored as integer codes: the article in the low 32 bits, then 8 bits choosing how
this occurrence is spelled (``http``, ``www.``, host case, ``utm_*``, ``fbclid``, fragment,
trailing slash) and 16 bits of a token for the tracking parameters. One article therefore
appears under many different URL strings, which is what makes URL normalisation matter.
"""

from __future__ import annotations

import numpy as np

from .config import FB
from .events import Multi
from .vocab import Vocabulary

__all__ = [
    "URL_BITS",
    "hashtag_codes",
    "hashtags_multi",
    "image_multi",
    "near_duplicate_images",
    "text_columns",
    "url_codes",
]

#: Spelling bits of a link code, in order.
URL_BITS = ("http", "www_toggle", "host_case", "utm", "fbclid", "fragment", "slash")
_URL_P = np.array([0.08, 0.20, 0.04, 0.15, 0.22, 0.04, 0.06])


def text_columns(
    rng: np.random.Generator, n: int, lo: int, hi: int, p: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Word counts and seeds for ``n`` fresh texts.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of events.
    lo, hi : int
        Word count range (inclusive).
    p : float, optional
        Share of events that have text at all.

    Returns
    -------
    text_n : numpy.ndarray
        ``uint8`` word counts (0 = no text).
    text_key : numpy.ndarray
        ``int64`` seeds.
    """
    k = rng.integers(lo, hi + 1, n).astype(np.uint8)
    if p < 1.0:
        k[rng.random(n) >= p] = 0
    return k, rng.integers(1, 2**62, n, dtype=np.int64)


def url_codes(
    rng: np.random.Generator, articles: np.ndarray, platform: np.ndarray | int,
    messy: float = 1.0,
) -> np.ndarray:
    """Encode article occurrences with a random spelling each.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    articles : numpy.ndarray
        Article indices.
    platform : numpy.ndarray or int
        Platform of each occurrence (``fbclid`` only appears on Facebook).
    messy : float, optional
        Multiplier on the probability of each spelling variant (0 gives canonical links).

    Returns
    -------
    numpy.ndarray
        ``int64`` link codes.
    """
    n = len(articles)
    bits = rng.random((n, len(_URL_P))) < _URL_P * messy
    bits[:, 4] &= np.asarray(platform) == FB
    variant = (bits * (1 << np.arange(len(_URL_P)))).sum(axis=1).astype(np.int64)
    token = rng.integers(0, 1 << 16, n, dtype=np.int64)
    return articles.astype(np.int64) | (variant << 32) | (token << 40)


def hashtag_codes(rng: np.random.Generator, tags: np.ndarray, lower_p: float = 0.15) -> np.ndarray:
    """Encode hashtags, writing some of them in lower case.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    tags : numpy.ndarray
        Hashtag indices.
    lower_p : float, optional
        Share written all lower case.

    Returns
    -------
    numpy.ndarray
        ``int64`` codes (index plus a case bit at bit 32).
    """
    lower = (rng.random(len(tags)) < lower_p).astype(np.int64)
    return tags.astype(np.int64) | (lower << 32)


def hashtags_multi(
    rng: np.random.Generator, vocab: Vocabulary, n: int, p: float, max_k: int = 4,
    extra: np.ndarray | None = None, extra_p: float = 0.0,
) -> Multi:
    """Hashtags for ``n`` events: popular ones, plus optional campaign tags.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    vocab : Vocabulary
        Hashtag vocabulary.
    n : int
        Number of events.
    p : float
        Share of events with general hashtags.
    max_k : int, optional
        Most general hashtags in one event.
    extra : numpy.ndarray, optional
        Campaign hashtag indices; each event gets one of them with probability ``extra_p``,
        placed first.
    extra_p : float, optional
        Share of events with a campaign tag.

    Returns
    -------
    Multi
        The column.
    """
    k = np.where(rng.random(n) < p, rng.integers(1, max_k + 1, n), 0).astype(np.int32)
    gen = vocab.hashtag_zipf.draw(rng, int(k.sum()))
    if extra is None or extra_p <= 0 or len(extra) == 0:
        return Multi(k, hashtag_codes(rng, gen))
    has = rng.random(n) < extra_p
    camp = extra[rng.integers(0, len(extra), n)]
    # The campaign tag comes first, then the row's general tags.
    counts = has.astype(np.int32) + k
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    vals = np.empty(int(offs[-1]), dtype=np.int64)
    vals[offs[:-1][has]] = camp[has]
    rest = np.ones(len(vals), dtype=bool)
    rest[offs[:-1][has]] = False
    vals[rest] = gen
    return Multi(counts, hashtag_codes(rng, vals))


def image_multi(
    rng: np.random.Generator, vocab: Vocabulary, n: int, p: float, popular_p: float = 0.3,
    album_p: float = 0.0,
) -> Multi:
    """Images for a share ``p`` of ``n`` events: a popular meme or a unique photo, sometimes
    followed by more unique photos (an album or carousel).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    vocab : Vocabulary
        Source of popular images.
    n : int
        Number of events.
    p : float
        Share of events with an image.
    popular_p : float, optional
        Share of first images that are popular ones.
    album_p : float, optional
        Share of events with images that carry 2 to 4 of them.

    Returns
    -------
    Multi
        64-bit hashes stored as ``int64``.
    """
    has = rng.random(n) < p
    extra = np.where(has & (rng.random(n) < album_p), rng.integers(1, 4, n), 0).astype(np.int32)
    counts = has.astype(np.int32) + extra
    total = int(counts.sum())
    vals = rng.integers(0, 2**63 - 1, total, dtype=np.int64)
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    first = offs[:-1][has]
    pop = vocab.popular_image(rng, len(first)).view(np.int64)
    vals[first] = np.where(rng.random(len(first)) < popular_p, pop, vals[first])
    return Multi(counts, vals)


def near_duplicate_images(
    rng: np.random.Generator, base: np.ndarray, max_bits: int = 3
) -> np.ndarray:
    """Perceptual hashes a few bits away from ``base`` (re-encoded or cropped copies).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    base : numpy.ndarray
        ``int64`` hashes.
    max_bits : int, optional
        Most bits flipped (0 to ``max_bits``).

    Returns
    -------
    numpy.ndarray
        ``int64`` hashes.
    """
    out = base.astype(np.int64).copy()
    for _ in range(max_bits):
        flip = rng.random(len(out)) < 0.5
        bit = rng.integers(0, 63, len(out)).astype(np.int64)
        out = np.where(flip, out ^ (np.int64(1) << bit), out)
    return out
