"""Crowds of ordinary people acting alike for innocent reasons.

* fan bases: people who follow popular pages and re-share, comment on and react to their posts
  within minutes, over the whole month, across many pages;
* live events (a match, a debate): everyone posts the event's hashtag within minutes of the
  moments that matter, often with the same few words;
* memes: popular images reposted (re-encoded, so a few bits differ) by many people over days;
* influencer pods: real people with large audiences who answer each other's posts at once.

All of them are ordinary: nobody here is in ``truth``.
"""

from __future__ import annotations

import numpy as np

from .config import COMMENT, DAY, FB, IG, POST, REACT, REPLY, REPOST, SHARE, SPAN, START, X
from .content import hashtag_codes, hashtags_multi, image_multi, near_duplicate_images, text_columns
from .events import EventBatch, Multi
from .rhythm import delays, local_times
from .sampling import weighted_sample
from .style import PopulationStyle
from .vocab import camel
from .world import World

__all__ = ["fan_bases", "influencer_pods", "live_events", "memes"]


def _answers(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    if p == FB:
        codes, probs = (SHARE, COMMENT, REACT), (0.3, 0.3, 0.4)
    elif p == IG:
        codes, probs = (COMMENT, REACT), (0.45, 0.55)
    else:
        codes, probs = (REPOST, COMMENT, REACT), (0.45, 0.25, 0.3)
    return np.array(codes, np.int8)[rng.choice(len(codes), size=n, p=probs)]


def _engage(rng: np.random.Generator, w: World, p: int, acc: np.ndarray, ts: np.ndarray,
            target: np.ndarray) -> int:
    """Answer target events (global numbers): share/repost or comment/react; returns the count."""
    act = _answers(rng, p, len(acc))
    share = (act == SHARE) | (act == REPOST)
    tn, tk = text_columns(rng, len(acc), 2, 14)
    tn[act == REACT] = 0
    tn[share & (rng.random(len(acc)) < 0.7)] = 0
    if p == X:
        act = np.where(act == COMMENT, REPLY, act).astype(np.int8)  # replies on X
    w.log.add(EventBatch.make(p, acc, ts, act, text_n=tn, text_key=tk,
                              reposted=np.where(share, target, -1),
                              replied=np.where(share, -1, target)), "ordinary")
    return len(acc)


def fan_bases(rng: np.random.Generator, w: World, style: PopulationStyle, budget: int) -> dict[str, int]:
    """Fans of popular pages answering the pages' posts quickly, all month.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world (pages and their posts come from the ordinary activity).
    style : PopulationStyle
        ``fan_page_share``, ``fan_p``, ``fan_answer_p``, ``fan_delay_s``.
    budget : int
        Rough number of events to spend.

    Returns
    -------
    dict[str, int]
        ``fan_pages``, ``fans`` (distinct) and ``fan_events``.
    """
    pop = w.pop
    followers = w.reg.col("followers")
    k = max(3, int(round(style.fan_page_share * len(pop.pages))))
    chosen = weighted_sample(rng, followers[pop.pages].astype(np.float64) ** 0.5, k)
    fans_all: list[np.ndarray] = []
    n_events = 0
    per_page = budget / max(k, 1)
    for j in chosen:
        page, p = int(pop.pages[j]), int(pop.page_platform[j])
        pool = w.organic.posts[p]
        posts = np.flatnonzero(pool.author == page)
        cand = pop.candidates(p)
        if not len(posts) or not len(cand):
            continue
        mean = style.fan_answer_p
        size = style.fan_p * len(cand) * 2.0 / k * rng.lognormal(0, 0.7)
        size = int(max(20, min(size, len(cand) * 0.5, per_page / (len(posts) * mean))))
        fans = cand[weighted_sample(rng, pop.activity[cand] ** 0.3, size)]
        prop = np.clip(rng.beta(2.0, 2.0 / mean - 2.0, len(fans)), 0.0, 0.95)
        pi, fi = np.nonzero(rng.random((len(posts), len(fans))) < prop[None, :])
        ts = pool.ts[posts[pi]] + delays(rng, len(pi), style.fan_delay_s, 1.2, min_s=10)
        n_events += _engage(rng, w, p, pop.users[fans[fi]], ts, pool.gid[posts[pi]])
        fans_all.append(fans)
    n_fans = len(np.unique(np.concatenate(fans_all))) if fans_all else 0
    return {"fan_pages": len(fans_all), "fans": n_fans, "fan_events": n_events}


def live_events(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """Matches, debates, breaking news: one hashtag posted by many within minutes.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``live_events`` and ``live_share``.

    Returns
    -------
    dict[str, int]
        ``live_events`` and ``live_posts``.
    """
    pop = w.pop
    total = 0
    for _ in range(style.live_events):
        p = int(rng.choice(3, p=[0.4, 0.25, 0.35]))
        cand = pop.candidates(p)
        country = int(pop.country[cand[int(rng.integers(len(cand)))]]) if len(cand) else 0
        local = cand[pop.country[cand] == country] if rng.random() < 0.6 else cand
        if len(local) < 20:
            continue
        k = max(50, int(len(cand) * style.live_share * rng.uniform(0.5, 2.0)))
        who = local[weighted_sample(rng, pop.activity[local] ** 0.5, min(k, int(len(local) * 0.6)))]
        word = w.vocab.words[int(rng.integers(300, 2500))]
        tag = w.vocab.add_hashtags([camel(word, ("Live", "Debate", "Final", "Derby")[int(rng.integers(4))])])
        t0 = int(START + rng.integers(1, 28) * DAY + rng.integers(17, 22) * 3600
                 - int(pop.offset[who[0]] * 3600))
        moments = t0 + np.sort(rng.integers(0, 2 * 3600, int(rng.integers(3, 12))))
        per = 1 + rng.poisson(0.8, len(who))
        acc = np.repeat(who, per)
        n = len(acc)
        ts = moments[rng.integers(0, len(moments), n)] + rng.exponential(120.0, n).astype(np.int64)
        tn, tk = text_columns(rng, n, 1, 12)
        same = rng.random(n) < 0.3  # "GOAL!!!", "What a save" ...
        keys = rng.integers(1, 2**62, 4)
        tn[same] = rng.integers(1, 4, int(same.sum()))
        tk[same] = keys[rng.integers(0, 4, int(same.sum()))]
        general = hashtags_multi(rng, w.vocab, n, 0.3, 2)
        counts = 1 + general.counts
        offs = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offs[1:])
        vals = np.empty(int(offs[-1]), np.int64)
        head = np.zeros(len(vals), bool)
        head[offs[:-1]] = True
        vals[head] = hashtag_codes(rng, np.repeat(tag, n), 0.3)
        vals[~head] = general.values
        imgs = image_multi(rng, w.vocab, n, 0.9 if p == IG else 0.2, popular_p=0.2)
        w.log.add(EventBatch.make(p, pop.users[acc], ts, POST, text_n=tn, text_key=tk,
                                  hashtags=Multi(counts.astype(np.int32), vals), images=imgs), "ordinary")
        total += n
    return {"live_events": style.live_events, "live_posts": total}


def memes(rng: np.random.Generator, w: World, style: PopulationStyle) -> dict[str, int]:
    """Popular images reposted by many, re-encoded so their hashes differ by a few bits.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``meme_count`` and ``meme_share``.

    Returns
    -------
    dict[str, int]
        ``memes`` and ``meme_posts``.
    """
    pop = w.pop
    n_people = len(pop.users)
    base = w.vocab.popular_images[: style.meme_count].view(np.int64)
    total = 0
    for m in range(style.meme_count):
        k = max(10, int(n_people * style.meme_share * rng.lognormal(0, 0.8)))
        who = weighted_sample(rng, pop.activity ** 0.5, min(k, n_people))
        t0 = START + int(rng.integers(0, SPAN - 2 * DAY))
        ts = t0 + delays(rng, len(who), 8 * 3600.0, 1.3, min_s=60)
        p = pop.platform[who]
        img = near_duplicate_images(rng, np.full(len(who), base[m]), max_bits=2)
        tn, tk = text_columns(rng, len(who), 1, 8, p=0.6)
        for q in (FB, IG, X):
            s = p == q
            if s.any():
                w.log.add(EventBatch.make(q, pop.users[who[s]], ts[s], POST, text_n=tn[s], text_key=tk[s],
                                          images=Multi(np.ones(int(s.sum()), np.int32), img[s])), "ordinary")
        total += len(who)
    return {"memes": style.meme_count, "meme_posts": total}


def influencer_pods(rng: np.random.Generator, w: World, style: PopulationStyle,
                    budget: int) -> dict[str, int]:
    """Engagement pods: people with large audiences answering each other's posts at once.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world.
    style : PopulationStyle
        ``pods_per_100k``, ``pod_size`` and ``pod_answer_p``.
    budget : int
        Most events to spend (no new pod starts once it is spent).

    Returns
    -------
    dict[str, int]
        ``pods``, ``pod_members`` and ``pod_events``.
    """
    pop = w.pop
    followers = w.reg.col("followers")[pop.users]
    n_pods = max(1, int(round(style.pods_per_100k * len(pop.users) / 100_000)))
    members_total = events = 0
    used = np.zeros(len(pop.users), bool)
    made = 0
    for _ in range(n_pods):
        if events >= budget:
            break
        p = IG if rng.random() < 0.7 else FB
        cand = np.flatnonzero((pop.platform == p) & ~used & (followers > np.quantile(followers, 0.8)))
        size = int(rng.integers(style.pod_size[0], style.pod_size[1] + 1))
        if len(cand) < size:
            continue
        mem = cand[weighted_sample(rng, followers[cand].astype(np.float64) ** 0.5, size)]
        used[mem] = True
        per = rng.integers(4, 16, size)
        author = np.repeat(mem, per)
        ts = local_times(rng, pop.offset[author], pop.shift[author])
        tn, tk = text_columns(rng, len(author), 4, 20)
        imgs = image_multi(rng, w.vocab, len(author), 1.0 if p == IG else 0.6, popular_p=0.05)
        tags = hashtags_multi(rng, w.vocab, len(author), 0.7, 5)
        gid = w.log.add(EventBatch.make(p, pop.users[author], ts, POST, text_n=tn, text_key=tk,
                                        images=imgs, hashtags=tags), "ordinary")
        pi, mi = np.nonzero(rng.random((len(author), size)) < style.pod_answer_p)
        ok = mem[mi] != author[pi]
        pi, mi = pi[ok], mi[ok]
        a_ts = ts[pi] + delays(rng, len(pi), 600.0, 1.0, min_s=30)
        act = np.where(rng.random(len(pi)) < 0.5, COMMENT, REACT).astype(np.int8)
        tn, tk = text_columns(rng, len(pi), 1, 8)
        tn[act == REACT] = 0
        w.log.add(EventBatch.make(p, pop.users[mem[mi]], a_ts, act, text_n=tn, text_key=tk,
                                  replied=gid[pi]), "ordinary")
        members_total += size
        events += len(author) + len(pi)
        made += 1
    return {"pods": made, "pod_members": members_total, "pod_events": events}
