"""What CIB operations do: page posts, amplification by fakes, templated posts, camouflage.

Pages publish the operation's content (links to its own sites, campaign hashtags, images).
Fakes amplify it within a tier-dependent window: they re-share the page posts, re-post the same
link with copied or lightly edited text, comment from a small set of templates, and drop posts
into local groups. They also post templated content of their own, and, for camouflage, engage
with popular organic content, which in tier 3 is most of what they do.
"""

from __future__ import annotations

import numpy as np

from .cib import Operation
from .config import COMMENT, FB, IG, POST, REACT, SHARE
from .content import (
    hashtags_multi,
    image_multi,
    near_duplicate_images,
    text_columns,
    url_codes,
)
from .events import EventBatch, Multi
from .rhythm import delays, local_times, office_times
from .world import World

__all__ = ["operation_events", "schedule"]


def schedule(rng: np.random.Generator, op: Operation, n: int) -> np.ndarray:
    """Times at which an operation's staff act (office hours, or the target's rhythm in tier 3).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    op : Operation
        The operation.
    n : int
        Number of times.

    Returns
    -------
    numpy.ndarray
        UNIX seconds.
    """
    tp = op.params
    if tp.local_schedule:
        return local_times(rng, np.full(n, op.target_offset), rng.normal(0.0, 1.5, n))
    return office_times(rng, np.full(n, op.origin_offset), op.origin, spill=tp.spill, jitter_h=0.3)


def _venues(rng: np.random.Generator, w: World, op: Operation, n: int, p: float) -> np.ndarray:
    local = w.pop.groups[w.pop.group_country == op.target]
    pool = np.concatenate([op.groups, op.groups, local[:200]]) if len(op.groups) else local[:200]
    if len(pool) == 0:
        return np.full(n, -1, dtype=np.int64)
    v = pool[rng.integers(0, len(pool), n)]
    return np.where(rng.random(n) < p, v, -1)


def _templated(rng: np.random.Generator, templates: tuple[np.ndarray, np.ndarray], n: int,
               p: float, edit_p: float, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tn, tk = text_columns(rng, n, lo, hi)
    use = rng.random(n) < p
    j = rng.integers(0, len(templates[0]), n)
    tn = np.where(use, templates[0][j], tn).astype(np.uint8)
    tk = np.where(use, templates[1][j], tk)
    edit = np.where(use & (rng.random(n) < edit_p), rng.integers(1, 2**62, n), 0)
    return tn, tk, edit


def operation_events(rng: np.random.Generator, w: World, op: Operation) -> np.ndarray:
    """Generate one operation's events.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world (receives the events).
    op : Operation
        The operation.

    Returns
    -------
    numpy.ndarray
        Events per fake (aligned with ``op.fakes``), used to size their sessions.
    """
    tp = op.params
    log = w.log
    n_f = len(op.fakes)
    per_fake = np.zeros(n_f, dtype=np.int64)
    edit_p = {1: 0.3, 2: 0.6, 3: 0.9}[op.tier]
    posts_t = (rng.integers(8, 16, 12).astype(np.uint8), rng.integers(1, 2**62, 12))
    comments_t = (rng.integers(2, 7, 6).astype(np.uint8), rng.integers(1, 2**62, 6))
    n_events = 0

    # 1. Page posts.
    n_pp = rng.poisson(tp.page_rate * 30, len(op.pages))
    pi = np.repeat(np.arange(len(op.pages)), n_pp)
    m = len(pi)
    p_plat = op.page_platform[pi]
    p_ts = schedule(rng, op, m)
    tn, tk = text_columns(rng, m, 8, 18)
    art = np.where(rng.random(m) < 0.6, op.articles[rng.integers(0, len(op.articles), m)], -1)
    imgs = image_multi(rng, w.vocab, m, 1.0, popular_p=0.1)
    img_of = np.zeros(m, dtype=np.int64)
    img_of[imgs.counts > 0] = imgs.values
    tags = hashtags_multi(rng, w.vocab, m, 0.2, 2, op.tags, tp.tag_p)
    batch = EventBatch.make(p_plat, op.pages[pi], p_ts, POST, text_n=tn, text_key=tk, topic=op.topic,
                            urls=Multi.single(art >= 0, url_codes(rng, np.maximum(art, 0), p_plat, 0.5)),
                            hashtags=tags, images=imgs)
    p_gid = log.add(batch, "cib")
    n_events += m

    # 2. Amplification of page posts by fakes on the same platform.
    for p in (FB, IG):
        posts = np.flatnonzero(p_plat == p)
        fk = np.flatnonzero(op.fake_platform == p)
        if len(posts) == 0 or len(fk) == 0:
            continue
        prop = rng.lognormal(0.0, 0.7, len(fk))
        k = rng.integers(tp.amplifiers[0], tp.amplifiers[1] + 1, len(posts)) / len(fk)
        chance = np.clip(k[:, None] * (prop / prop.mean())[None, :], 0.0, 1.0)
        a_i, f_i = np.nonzero(rng.random(chance.shape) < chance)
        src = posts[a_i]
        n = len(src)
        acc = op.fakes[fk[f_i]]
        ts = p_ts[src] + delays(rng, n, tp.delay_s, tp.delay_sigma, min_s=5)
        if p == FB:
            act = rng.choice(np.array([SHARE, COMMENT, REACT], np.int8), size=n, p=[0.55, 0.25, 0.2])
            copy = (act == SHARE) & (rng.random(n) < tp.copy_p)
        else:
            act = rng.choice(np.array([COMMENT, REACT, POST], np.int8), size=n, p=[0.45, 0.4, 0.15])
            copy = act == POST
        act[copy] = POST
        ctn, ctk, cedit = _templated(rng, comments_t, n, 1.0 if op.tier < 3 else 0.0, edit_p, 2, 10)
        tn = np.where(copy, batch.text_n[src], ctn)
        tk = np.where(copy, batch.text_key[src], ctk)
        edit = np.where(copy, np.where(rng.random(n) < edit_p, rng.integers(1, 2**62, n), 0), cedit)
        tn[act == REACT] = 0
        tn[(act == SHARE) & (rng.random(n) < 0.6)] = 0
        urls = Multi.single(copy & (art[src] >= 0), url_codes(rng, np.maximum(art[src], 0), p))
        img = Multi.single(copy & (img_of[src] != 0), near_duplicate_images(rng, img_of[src]))
        tags = Multi.where(copy, hashtags_multi(rng, w.vocab, n, 0.1, 2, op.tags, 0.9), Multi.empty(n))
        venue = np.where((act == SHARE) | copy, _venues(rng, w, op, n, tp.venue_p), -1) if p == FB else -1
        log.add(EventBatch.make(
            p, acc, ts, act, text_n=tn, text_key=tk, text_edit=edit, topic=np.where(copy, op.topic, 0),
            reposted=np.where(act == SHARE, p_gid[src], -1),
            replied=np.where((act == COMMENT) | (act == REACT), p_gid[src], -1),
            urls=urls, images=img, hashtags=tags, venue=venue,
        ), "cib")
        np.add.at(per_fake, fk[f_i], 1)
        n_events += n

    # 3. Fakes' own posts, often from the operation's templates.
    own = rng.integers(tp.own_posts[0], tp.own_posts[1] + 1, n_f)
    f = np.repeat(np.arange(n_f), own)
    n = len(f)
    plat = op.fake_platform[f]
    ts = schedule(rng, op, n)
    tn, tk, edit = _templated(rng, posts_t, n, tp.template_p, edit_p, 5, 20)
    art = op.articles[rng.integers(0, len(op.articles), n)]
    has_url = (rng.random(n) < {1: 0.3, 2: 0.2, 3: 0.1}[op.tier]) & (plat == FB)
    base_img = np.zeros(n, dtype=np.int64)
    if len(img_of):
        base_img = np.where(rng.random(n) < 0.5, img_of[rng.integers(0, len(img_of), n)], 0)
    fresh = image_multi(rng, w.vocab, n, 0.4, popular_p=0.6)
    has_copy_img = (base_img != 0) & ((plat == IG) | (rng.random(n) < 0.3))
    imgs = Multi.where(has_copy_img, Multi.single(has_copy_img, near_duplicate_images(rng, base_img)),
                       Multi.where(plat == IG, image_multi(rng, w.vocab, n, 1.0, 0.6), fresh))
    log.add(EventBatch.make(
        plat, op.fakes[f], ts, POST, text_n=tn, text_key=tk, text_edit=edit, topic=op.topic,
        urls=Multi.single(has_url, url_codes(rng, art, plat)),
        hashtags=hashtags_multi(rng, w.vocab, n, 0.3, 3, op.tags, tp.tag_p), images=imgs,
        venue=np.where(plat == FB, _venues(rng, w, op, n, tp.venue_p), -1),
    ), "cib")
    np.add.at(per_fake, f, 1)
    n_events += n

    # 4. Camouflage: engaging with popular organic content like anyone else.
    n_camo = rng.poisson(per_fake * tp.camo / (1.0 - tp.camo))
    f = np.repeat(np.arange(n_f), n_camo)
    plat = op.fake_platform[f]
    ts = schedule(rng, op, len(f))
    for p in (FB, IG):
        sel = plat == p
        pool = w.organic.posts[p]
        tgt = pool.pick(rng, ts[sel])
        ok = tgt >= 0
        ff = f[sel][ok]
        n = len(ff)
        act = (rng.choice(np.array([SHARE, REACT, COMMENT], np.int8), size=n, p=[0.3, 0.5, 0.2]) if p == FB
               else rng.choice(np.array([REACT, COMMENT], np.int8), size=n, p=[0.6, 0.4]))
        tn, tk = text_columns(rng, n, 2, 12)
        tn[act != COMMENT] = 0
        g = pool.gid[tgt[ok]]
        log.add(EventBatch.make(p, op.fakes[ff], ts[sel][ok], act, text_n=tn, text_key=tk,
                                reposted=np.where(act == SHARE, g, -1), replied=np.where(act == SHARE, -1, g)), "cib")
        np.add.at(per_fake, ff, 1)
        n_events += n

    # 5. Crude operators re-share their own pages' posts from their personal accounts.
    fb_posts = np.flatnonzero(p_plat == FB)
    for acc in op.operators:
        c = int(rng.integers(tp.operator_shares[0], tp.operator_shares[1] + 1))
        if c == 0 or len(fb_posts) == 0:
            continue
        src = fb_posts[rng.integers(0, len(fb_posts), c)]
        log.add(EventBatch.make(FB, np.full(c, acc), p_ts[src] + delays(rng, c, 1800.0, 1.0, 30),
                                SHARE, reposted=p_gid[src]), "cib")
        n_events += c
    w.nets.nets[op.net].n_events = int(n_events)
    return per_fake
