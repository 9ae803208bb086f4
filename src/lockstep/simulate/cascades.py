"""Viral cascades: the first trap for co-action detectors.

Three kinds of organic bursts in which thousands of unrelated ordinary people act on the same
object within minutes to hours:

* ``reshare``: a popular post re-shared (and commented on, reacted to) by thousands;
* ``link``: a news article posted by thousands, a third of them with the default headline text;
* ``hashtag``: a trending hashtag (a match, a TV show) used by thousands in a few hours.

None of these people appear in ``truth``: cascades are ordinary behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounts import AccountRegistry
from .config import (
    COMMENT,
    DAY,
    FB,
    IG,
    POST,
    QUOTE,
    REACT,
    REPOST,
    SHARE,
    START,
    ScaleConfig,
    X,
)
from .content import hashtag_codes, hashtags_multi, image_multi, text_columns, url_codes
from .events import EventBatch, EventLog, Multi
from .population import Population
from .rhythm import delays
from .sampling import weighted_sample
from .vocab import Vocabulary, camel

__all__ = ["CASCADE_PLAN", "Cascade", "generate_cascades"]

#: Kind and platform of successive cascades (cycled).
CASCADE_PLAN: tuple[tuple[str, int], ...] = (
    ("reshare", FB), ("link", FB), ("hashtag", IG), ("reshare", X), ("reshare", FB), ("link", X),
)


@dataclass
class Cascade:
    """Summary of one cascade.

    Attributes
    ----------
    kind : str
        ``reshare``, ``link`` or ``hashtag``.
    platform : int
        Platform code.
    start : int
        Time of the seed.
    size : int
        Participants (re-sharers, link posters or hashtag users).
    """

    kind: str
    platform: int
    start: int
    size: int


def _participants(rng: np.random.Generator, pop: Population, p: int, size: int) -> np.ndarray:
    cand = pop.candidates(p)
    k = min(size, int(len(cand) * 0.4))
    pos = cand[weighted_sample(rng, pop.activity[cand] ** 0.5, k)]
    return pos


def _burst(rng: np.random.Generator, t0: int, n: int) -> np.ndarray:
    # Most within the first hours, a long tail over the next day or two.
    return t0 + delays(rng, n, median_s=2400.0, sigma=1.25, min_s=5.0)


def generate_cascades(
    rng: np.random.Generator, cfg: ScaleConfig, pop: Population, reg: AccountRegistry,
    vocab: Vocabulary, log: EventLog,
) -> list[Cascade]:
    """Plant the viral cascades.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    cfg : ScaleConfig
        Number and size of cascades.
    pop : Population
        Participants are ordinary people.
    reg : AccountRegistry
        Account attributes.
    vocab : Vocabulary
        Content vocabularies.
    log : EventLog
        Receives the events.

    Returns
    -------
    list[Cascade]
        One entry per cascade.
    """
    out: list[Cascade] = []
    followers = reg.col("followers")
    for i in range(cfg.n_cascades):
        kind, p = CASCADE_PLAN[i % len(CASCADE_PLAN)]
        size = int(rng.integers(cfg.cascade_size[0], cfg.cascade_size[1] + 1))
        t0 = int(START + rng.integers(1 * DAY, 27 * DAY))
        pos = _participants(rng, pop, p, size)
        acc = pop.users[pos]
        n = len(acc)
        ts = _burst(rng, t0, n)
        if kind == "reshare":
            pages = pop.pages[pop.page_platform == p] if p != X else np.zeros(0, np.int64)
            cand = pages if len(pages) else pop.users[pop.candidates(p)]
            seed_acc = cand[np.argmax(followers[cand] * rng.random(len(cand)))]
            tn, tk = text_columns(rng, 1, 8, 20)
            seed = EventBatch.make(p, np.array([seed_acc]), np.array([t0]), POST, text_n=tn, text_key=tk,
                                   images=image_multi(rng, vocab, 1, 1.0, popular_p=0.0))
            gid = log.add(seed, "cascade")[0]
            action = np.full(n, SHARE if p == FB else REPOST, dtype=np.int8)
            if p == X:
                action[rng.random(n) < 0.1] = QUOTE
            tn, tk = text_columns(rng, n, 2, 10, p=0.2)
            tn[action == REPOST] = 0
            log.add(EventBatch.make(p, acc, ts, action, text_n=tn, text_key=tk, reposted=gid), "cascade")
            # Comments and reactions from others (and some of the same people).
            others = pop.users[_participants(rng, pop, p, int(n * 0.7))]
            m = len(others)
            o_ts = _burst(rng, t0, m)
            o_act = np.where(rng.random(m) < 0.3, COMMENT, REACT).astype(np.int8)
            tn, tk = text_columns(rng, m, 2, 12)
            tn[o_act == REACT] = 0
            log.add(EventBatch.make(p, others, o_ts, o_act, text_n=tn, text_key=tk, replied=gid), "cascade")
        elif kind == "link":
            domain = int(vocab.domain_zipf.draw(rng, 3)[0])
            art = vocab.add_articles(domain, 1)
            urls = Multi(np.ones(n, dtype=np.int32), url_codes(rng, np.repeat(art, n), p))
            tn, tk = text_columns(rng, n, 3, 18)
            headline = rng.random(n) < 0.35
            tn[headline] = 11
            tk[headline] = int(rng.integers(1, 2**62))
            log.add(EventBatch.make(p, acc, ts, POST, text_n=tn, text_key=tk, urls=urls), "cascade")
        else:
            tag = vocab.add_hashtags([camel(vocab.words[int(rng.integers(300, 2000))], "Final",
                                            str(int(rng.integers(2, 30))))])
            ts = t0 + rng.gamma(2.0, 1800.0, n).astype(np.int64)
            general = hashtags_multi(rng, vocab, n, 0.4, 3)
            counts = general.counts + 1
            offs = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=offs[1:])
            vals = np.empty(int(offs[-1]), dtype=np.int64)
            first = np.zeros(len(vals), dtype=bool)
            first[offs[:-1]] = True
            vals[first] = hashtag_codes(rng, np.repeat(tag, n), lower_p=0.3)
            vals[~first] = general.values
            tn, tk = text_columns(rng, n, 2, 14)
            imgs = image_multi(rng, vocab, n, 0.9 if p == IG else 0.3, popular_p=0.5)
            log.add(EventBatch.make(p, acc, ts, POST, text_n=tn, text_key=tk,
                                    hashtags=Multi(counts, vals), images=imgs), "cascade")
        out.append(Cascade(kind, p, t0, n))
    return out
