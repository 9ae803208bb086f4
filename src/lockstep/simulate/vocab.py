"""Vocabularies of the synthetic world: words, hashtags, web domains, articles and images.

Items are integers while the world is built; :mod:`lockstep.simulate.render` turns them into
strings when tables are written. The word, hashtag and domain lists are fixed (the same for
every seed); popularity orders, articles and images depend on the seed.
"""

from __future__ import annotations

import numpy as np

from .sampling import ZipfSampler, hash_uniform, mix64

__all__ = [
    "COMMON_WORDS",
    "SECTIONS",
    "Vocabulary",
    "camel",
    "pseudo_words",
]

COMMON_WORDS: tuple[str, ...] = tuple(
    """the a to and of in is it for you this that on with my we all our so just be are was
    not have new today now what more they your out day up about can when time will one like
    good people see how great love here best news get look come make back think know go year
    life never why big right going must real first last every world need free help stop read
    share watch truth city home game team family friends work week night morning happy proud
    amazing sad again still local vote change power money school food music photo video update
    live breaking story future thanks please wow omg finally""".split()
)
SECTIONS: tuple[str, ...] = tuple(
    "news politics world local sport business opinion culture tech health video blog".split()
)
_ONSETS = ("b c d f g h j k l m n p r s t v w z br ch dr gr kr pl sh st tr th").split()
_VOWELS = ("a e i o u ai ea io ou").split()
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "t", "nd", "rk")
_TLDS = ("com", "com", "com", "net", "org", "info", "news", "co.uk", "de", "in", "pk",
         "com.br", "us", "online")


def pseudo_words(n: int, seed: int, min_syl: int = 2, max_syl: int = 3) -> list[str]:
    """Generate ``n`` distinct pronounceable lower-case pseudo-words.

    Parameters
    ----------
    n : int
        Number of words.
    seed : int
        Seed of the fixed generator (not the world seed).
    min_syl, max_syl : int, optional
        Syllable count range.

    Returns
    -------
    list[str]
        The words.
    """
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set(COMMON_WORDS)
    while len(out) < n:
        k = int(rng.integers(min_syl, max_syl + 1))
        w = "".join(
            _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
            for _ in range(k)
        ) + _CODAS[rng.integers(len(_CODAS))]
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def camel(*parts: str) -> str:
    """Join words in CamelCase, as hashtags are often written.

    Parameters
    ----------
    *parts : str
        Words.

    Returns
    -------
    str
        ``"WordWord"``.
    """
    return "".join(p[:1].upper() + p[1:] for p in parts)


class Vocabulary:
    """All token vocabularies of one world.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the popularity orders, article domains and image hashes.
    n_articles : int
        Organic web articles (grows with the scale).
    n_images : int
        Popular (meme) images that are re-posted by many accounts.

    Attributes
    ----------
    words : list[str]
        Common words then pseudo-words; topic blocks are at the end.
    hashtags : list[str]
        General hashtags, then campaign hashtags added by :meth:`add_hashtags`.
    domains : list[str]
        Canonical host names.
    domain_www : list[bool]
        Whether the canonical host starts with ``www.``.
    domain_style : list[int]
        Path style of each domain (see :mod:`lockstep.simulate.render`).
    article_domain : numpy.ndarray
        Domain of each article (organic ones first, then those added by :meth:`add_articles`).
    """

    N_GENERAL_WORDS = 3000
    TOPIC_SIZE = 40
    N_TOPICS = 40
    N_HASHTAGS = 4000
    N_DOMAINS = 1500

    def __init__(self, rng: np.random.Generator, n_articles: int, n_images: int) -> None:
        pw = pseudo_words(self.N_GENERAL_WORDS + self.TOPIC_SIZE * self.N_TOPICS, seed=7)
        self.words: list[str] = list(COMMON_WORDS) + pw
        self.topic_base = len(self.words) - self.TOPIC_SIZE * self.N_TOPICS
        self.word_zipf = ZipfSampler(len(COMMON_WORDS) + self.N_GENERAL_WORDS, 0.9, rng)
        # Common words take the most popular ranks, so sentences look like sentences.
        n_common = len(COMMON_WORDS)
        self.word_zipf.order = np.concatenate(
            [rng.permutation(n_common), n_common + rng.permutation(self.N_GENERAL_WORDS)]
        ).astype(np.int64)
        self._used_topics = 0

        hw = pseudo_words(self.N_HASHTAGS * 2, seed=11, min_syl=1, max_syl=2)
        self.hashtags: list[str] = [
            camel(hw[2 * i], hw[2 * i + 1]) if i % 3 else camel(hw[2 * i]) for i in range(self.N_HASHTAGS)
        ]
        self.hashtag_zipf = ZipfSampler(self.N_HASHTAGS, 1.1, rng)

        dw = pseudo_words(self.N_DOMAINS * 2, seed=13, min_syl=1, max_syl=2)
        self.domains: list[str] = []
        for i in range(self.N_DOMAINS):
            tld = _TLDS[int(mix64(i, 3)[0] % np.uint64(len(_TLDS)))]
            sep = "-" if i % 5 == 0 else ""
            self.domains.append(f"{dw[2 * i]}{sep}{dw[2 * i + 1]}.{tld}")
        self.domain_www: list[bool] = [bool(hash_uniform(i, 5)[0] < 0.4) for i in range(self.N_DOMAINS)]
        self.domain_style: list[int] = [int(mix64(i, 6)[0] % np.uint64(2)) for i in range(self.N_DOMAINS)]
        self.domain_zipf = ZipfSampler(self.N_DOMAINS, 1.0, rng)

        self.n_organic_articles = n_articles
        self.article_domain = self.domain_zipf.draw(rng, n_articles).astype(np.int32)
        self.article_zipf = ZipfSampler(n_articles, 1.05, rng)
        order = np.argsort(self.article_domain, kind="stable")
        self._articles_by_domain = order.astype(np.int64)
        self._domain_bounds = np.searchsorted(
            self.article_domain[order], np.arange(self.N_DOMAINS + 1)
        ).astype(np.int64)

        self.popular_images = mix64(rng.integers(0, 2**62, n_images))
        self.image_zipf = ZipfSampler(n_images, 1.0, rng)

    # -- words and topics ---------------------------------------------------------------
    def new_topic(self) -> int:
        """Reserve a topic (a block of words used by one campaign or community).

        Returns
        -------
        int
            Topic number, starting at 1 (0 means "no topic").
        """
        self._used_topics = self._used_topics % self.N_TOPICS + 1
        return self._used_topics

    # -- hashtags -------------------------------------------------------------------------
    def add_hashtags(self, tags: list[str]) -> np.ndarray:
        """Append campaign hashtags.

        Parameters
        ----------
        tags : list[str]
            Hashtags without ``#``.

        Returns
        -------
        numpy.ndarray
            Their indices.
        """
        start = len(self.hashtags)
        self.hashtags.extend(tags)
        return np.arange(start, start + len(tags), dtype=np.int64)

    # -- domains and articles ---------------------------------------------------------------
    def add_domain(self, host: str, www: bool = False, style: int = 0) -> int:
        """Append a web domain (a campaign site, a newsroom, a spam shop).

        Parameters
        ----------
        host : str
            Canonical host without ``www.``.
        www : bool, optional
            Whether links are usually written with ``www.``.
        style : int, optional
            Path style (0 section/slug, 1 dated slug, 2 spam ``/p/...html``).

        Returns
        -------
        int
            Domain index.
        """
        self.domains.append(host)
        self.domain_www.append(www)
        self.domain_style.append(style)
        return len(self.domains) - 1

    def add_articles(self, domain: int, n: int) -> np.ndarray:
        """Create ``n`` new articles on one domain.

        Parameters
        ----------
        domain : int
            Domain index.
        n : int
            Number of articles.

        Returns
        -------
        numpy.ndarray
            Article indices.
        """
        start = len(self.article_domain)
        self.article_domain = np.concatenate(
            [self.article_domain, np.full(n, domain, dtype=np.int32)]
        )
        return np.arange(start, start + n, dtype=np.int64)

    def organic_articles(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw organic articles by popularity.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        n : int
            Number of draws.

        Returns
        -------
        numpy.ndarray
            Article indices.
        """
        return self.article_zipf.draw(rng, n)

    def articles_of(self, rng: np.random.Generator, domains: np.ndarray) -> np.ndarray:
        """Draw one organic article from each given domain (its own most-read ones first).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        domains : numpy.ndarray
            Organic domain indices.

        Returns
        -------
        numpy.ndarray
            Article indices; a popular article where a domain has none.
        """
        lo = self._domain_bounds[domains]
        size = self._domain_bounds[domains + 1] - lo
        pos = lo + np.floor(rng.random(len(domains)) ** 2 * size).astype(np.int64)
        fallback = self.organic_articles(rng, len(domains))
        picked = self._articles_by_domain[np.minimum(pos, len(self._articles_by_domain) - 1)]
        return np.where(size > 0, picked, fallback)

    # -- images ---------------------------------------------------------------------------
    def popular_image(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw popular (meme) image hashes.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        n : int
            Number of draws.

        Returns
        -------
        numpy.ndarray
            64-bit perceptual hashes as ``uint64``.
        """
        return self.popular_images[self.image_zipf.draw(rng, n)]
