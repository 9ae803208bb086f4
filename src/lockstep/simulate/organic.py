"""Ordinary activity: posts, re-shares, comments, replies and reactions of ordinary people.

Each person acts a heavy-tailed number of times at times drawn from their own daily rhythm.
Posts carry text, hashtags, links, images, mentions and sometimes a group; engagements pick an
earlier post of the same platform with probability proportional to its appeal (author audience
times a lognormal quality) inside a recency window. :class:`PostPool` makes those picks fast
and is reused by the planted networks for their camouflage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounts import AccountRegistry
from .config import COMMENT, DAY, FB, IG, POST, QUOTE, REACT, REPLY, REPOST, SHARE, X
from .content import hashtags_multi, image_multi, text_columns, url_codes
from .events import EventBatch, EventLog, Multi
from .population import Population
from .rhythm import local_times
from .sampling import pick_in_segments, segment_bounds
from .vocab import Vocabulary

__all__ = ["ACTION_MIX", "OrganicResult", "PostPool", "generate_organic", "mentions_multi"]

#: Action shares of ordinary people per platform.
ACTION_MIX: dict[int, tuple[tuple[int, ...], tuple[float, ...]]] = {
    FB: ((POST, SHARE, COMMENT, REPLY, REACT), (0.14, 0.12, 0.26, 0.08, 0.40)),
    IG: ((POST, COMMENT, REPLY, REACT), (0.15, 0.35, 0.08, 0.42)),
    X: ((POST, REPOST, QUOTE, REPLY, REACT), (0.30, 0.28, 0.05, 0.25, 0.12)),
}
_WINDOWS = np.array([6 * 3600, 2 * DAY, 7 * DAY])
_WINDOW_P = np.array([0.55, 0.32, 0.13])


class PostPool:
    """Earlier events of one platform that others can engage with, sorted by time.

    Parameters
    ----------
    gid, ts, author : numpy.ndarray
        Global event numbers, times and authors.
    weight : numpy.ndarray
        Appeal of each event.
    """

    def __init__(self, gid: np.ndarray, ts: np.ndarray, author: np.ndarray, weight: np.ndarray) -> None:
        order = np.argsort(ts, kind="stable")
        self.gid = gid[order]
        self.ts = ts[order]
        self.author = author[order]
        self.weight = weight[order]
        self.cumw = np.zeros(len(order) + 1)
        np.cumsum(self.weight, out=self.cumw[1:])

    def __len__(self) -> int:
        return len(self.gid)

    def pick(self, rng: np.random.Generator, t: np.ndarray, min_age: int = 1) -> np.ndarray:
        """Pick, for each time, an earlier event weighted by appeal within a recency window.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        t : numpy.ndarray
            Times of the engaging events.
        min_age : int, optional
            The target must be at least this many seconds older.

        Returns
        -------
        numpy.ndarray
            Positions in the pool, ``-1`` where nothing is available.
        """
        w = _WINDOWS[rng.choice(len(_WINDOWS), size=len(t), p=_WINDOW_P)]
        lo = np.searchsorted(self.ts, t - w, side="left")
        hi = np.searchsorted(self.ts, t - min_age, side="right")
        ok = hi > lo
        r = self.cumw[lo] + rng.random(len(t)) * (self.cumw[hi] - self.cumw[lo])
        pos = np.searchsorted(self.cumw, r, side="right") - 1
        pos = np.clip(pos, lo, np.maximum(hi - 1, lo))
        return np.where(ok, pos, -1)


@dataclass
class OrganicResult:
    """What later generators need from the ordinary activity.

    Attributes
    ----------
    posts : dict[int, PostPool]
        Original posts per platform.
    events_per_user : numpy.ndarray
        Events of each ordinary person (aligned with ``Population.users``).
    """

    posts: dict[int, PostPool]
    events_per_user: np.ndarray


def mentions_multi(rng: np.random.Generator, n: int, p: float, candidates: np.ndarray) -> Multi:
    """Mention 1–2 random accounts in a share ``p`` of ``n`` events."""
    k = np.where(rng.random(n) < p, rng.integers(1, 3, n), 0).astype(np.int32)
    vals = candidates[rng.integers(0, len(candidates), int(k.sum()))] if len(candidates) else np.zeros(0, np.int64)
    return Multi(k, vals.astype(np.int64))


def _engagement_weight(rng: np.random.Generator, followers: np.ndarray) -> np.ndarray:
    return (np.maximum(followers, 1).astype(np.float64) ** 0.6) * rng.lognormal(0.0, 1.1, len(followers))


def _platform(
    rng: np.random.Generator, p: int, pop: Population, reg: AccountRegistry, vocab: Vocabulary,
    log: EventLog, user_events: int, counts_out: np.ndarray,
) -> PostPool:
    sel = pop.candidates(p)
    act = pop.activity[sel]
    counts = rng.poisson(act / act.mean() * user_events / max(len(sel), 1))
    counts_out[sel] = counts
    pos = np.repeat(sel, counts)
    acc = pop.users[pos]
    ts = local_times(rng, pop.offset[pos], pop.shift[pos])
    codes, probs = ACTION_MIX[p]
    action = np.array(codes, dtype=np.int8)[rng.choice(len(codes), size=len(acc), p=probs)]
    followers = reg.col("followers")
    platform_users = pop.users[sel]

    # Original posts by people and by pages.
    is_post = action == POST
    pg = np.flatnonzero(pop.page_platform == p)
    rate = rng.lognormal(np.log(1.2 if p == FB else 0.6), 0.8, len(pg))
    pg_counts = rng.poisson(rate * 30)
    pg_pos = np.repeat(pg, pg_counts)
    pg_acc = pop.pages[pg_pos]
    pg_ts = local_times(rng, reg.col("offset")[pg_acc].astype(np.float64), rng.normal(0, 1.0, len(pg_acc)))
    p_acc = np.concatenate([acc[is_post], pg_acc])
    p_ts = np.concatenate([ts[is_post], pg_ts])
    n_user_posts = int(is_post.sum())
    n_posts = len(p_acc)
    is_page = np.arange(n_posts) >= n_user_posts

    text_n, text_key = text_columns(rng, n_posts, 4, 25, p=0.85 if p == IG else 0.92)
    text_n[is_page] = rng.integers(6, 16, int(is_page.sum()))
    url_p = {FB: 0.22, IG: 0.01, X: 0.25}[p]
    has_url = np.where(is_page, rng.random(n_posts) < 0.75, rng.random(n_posts) < url_p)
    art = vocab.organic_articles(rng, n_posts)
    own = is_page & (rng.random(n_posts) < 0.7)
    if own.any():
        art[own] = vocab.articles_of(rng, pop.page_domain[pg_pos[own[n_user_posts:]]])
    second = has_url & (rng.random(n_posts) < 0.06)
    urls = Multi.from_slots([has_url, second], [url_codes(rng, art, p),
                                                url_codes(rng, vocab.organic_articles(rng, n_posts), p)])
    tags = hashtags_multi(rng, vocab, n_posts, {FB: 0.15, IG: 0.55, X: 0.3}[p], 6 if p == IG else 3)
    imgs = image_multi(rng, vocab, n_posts, {FB: 0.35, IG: 1.0, X: 0.2}[p], album_p=0.08)
    ments = mentions_multi(rng, n_posts, 0.07, platform_users)
    venue = np.full(n_posts, -1, dtype=np.int64)
    if p == FB and len(pop.groups):
        g_order = np.argsort(pop.group_country, kind="stable")
        bounds = segment_bounds(pop.group_country[g_order], int(pop.group_country.max()) + 1)
        in_group = (rng.random(n_posts) < 0.15) & ~is_page
        cty = reg.col("country")[p_acc[in_group]].astype(np.int64)
        cty = np.minimum(cty, len(bounds) - 2)
        gp = pick_in_segments(rng, bounds, cty, skew=2.0)
        venue[in_group] = np.where(gp >= 0, pop.groups[g_order[np.maximum(gp, 0)]], -1)
    batch = EventBatch.make(p, p_acc, p_ts, POST, text_n=text_n, text_key=text_key, urls=urls,
                            hashtags=tags, images=imgs, mentions=ments, venue=venue)
    gids = log.add(batch, "ordinary")
    pool = PostPool(gids, p_ts, p_acc, _engagement_weight(rng, followers[p_acc]))

    # Engagements with earlier posts.
    eng = action != POST
    if p != X:  # Facebook and Instagram replies answer comments (below); X replies answer posts.
        eng &= action != REPLY
    e_acc, e_ts, e_act = acc[eng], ts[eng], action[eng]
    tgt = pool.pick(rng, e_ts)
    ok = tgt >= 0
    e_acc, e_ts, e_act, tgt = e_acc[ok], e_ts[ok], e_act[ok], tgt[ok]
    n_e = len(e_acc)
    kw: dict[str, object] = {}
    shares = np.isin(e_act, (SHARE, REPOST, QUOTE))
    reposted = np.where(shares, pool.gid[tgt], -1)
    replied = np.where(shares, -1, pool.gid[tgt])
    text_n, text_key = text_columns(rng, n_e, 2, 15)
    text_n[e_act == REACT] = 0
    text_n[(e_act == REPOST)] = 0
    text_n[(e_act == SHARE) & (rng.random(n_e) < 0.7)] = 0
    mention_author = (e_act == REPLY) & (rng.random(n_e) < 0.6)
    ment = Multi.single(mention_author, pool.author[tgt])
    kw.update(text_n=text_n, text_key=text_key, reposted=reposted, replied=replied, mentions=ment)
    batch = EventBatch.make(p, e_acc, e_ts, e_act, **kw)
    e_gids = log.add(batch, "ordinary")

    # Replies to comments (Facebook and Instagram threads).
    if p != X:
        is_c = e_act == COMMENT
        cpool = PostPool(e_gids[is_c], e_ts[is_c], e_acc[is_c], rng.lognormal(0, 1.0, int(is_c.sum())))
        rep = action == REPLY
        r_acc, r_ts = acc[rep], ts[rep]
        tgt = cpool.pick(rng, r_ts)
        ok = tgt >= 0
        r_acc, r_ts, tgt = r_acc[ok], r_ts[ok], tgt[ok]
        n_r = len(r_acc)
        text_n, text_key = text_columns(rng, n_r, 2, 12)
        ment = Multi.single(rng.random(n_r) < 0.3, cpool.author[tgt])
        log.add(EventBatch.make(p, r_acc, r_ts, REPLY, text_n=text_n, text_key=text_key,
                                replied=cpool.gid[tgt], mentions=ment), "ordinary")
    return pool


def generate_organic(
    rng: np.random.Generator, pop: Population, reg: AccountRegistry, vocab: Vocabulary,
    log: EventLog, user_events: int,
) -> OrganicResult:
    """Generate the ordinary activity on every platform.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    pop : Population
        The ordinary population.
    reg : AccountRegistry
        Account attributes.
    vocab : Vocabulary
        Content vocabularies.
    log : EventLog
        Receives the events.
    user_events : int
        Target number of events by ordinary people (pages add their own posts).

    Returns
    -------
    OrganicResult
        Post pools and per-person event counts.
    """
    share = np.array([np.sum(pop.platform == p) * f for p, f in ((FB, 1.0), (IG, 0.9), (X, 1.3))])
    share = share / share.sum()
    counts = np.zeros(len(pop.users), dtype=np.int64)
    pools = {}
    for p in (FB, IG, X):
        pools[p] = _platform(rng, p, pop, reg, vocab, log, int(user_events * share[p]), counts)
    return OrganicResult(posts=pools, events_per_user=counts)
