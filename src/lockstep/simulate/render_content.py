"""Turn content codes into strings: sentences, hashtags and URLs, vectorised with Arrow.

Texts are rebuilt from their seeds (see :class:`lockstep.simulate.events.EventBatch`): word
``j`` of a text is drawn by hashing ``(text_key, j)``; a non-zero ``text_edit`` replaces about
one word in six, so two events with one key and different edits are near-duplicates. URLs are
assembled from the article's domain and path and the occurrence's spelling bits
(:data:`lockstep.simulate.content.URL_BITS`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import DAY, START
from .events import Multi
from .sampling import hash_uniform, mix64
from .vocab import SECTIONS, Vocabulary

__all__ = ["ContentRenderer", "hex16", "join_nonempty"]

_MASK32 = np.int64(0xFFFFFFFF)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offs = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    j = np.arange(int(offs[-1]), dtype=np.int64) - offs[rows]
    return offs, rows, j


def join_nonempty(parts: list[pa.Array], sep: str) -> pa.Array:
    """Join string arrays element-wise with ``sep``, skipping null or empty parts.

    Parameters
    ----------
    parts : list[pyarrow.Array]
        String arrays of equal length.
    sep : str
        Separator.

    Returns
    -------
    pyarrow.Array
        Joined strings; null where every part is empty.
    """
    filled = [pc.fill_null(p, "") for p in parts]
    acc = filled[0]
    for p in filled[1:]:
        both = pc.and_(pc.not_equal(acc, ""), pc.not_equal(p, ""))
        glue = pc.if_else(both, sep, "")
        acc = pc.binary_join_element_wise(acc, glue, p, "")
    return pc.if_else(pc.equal(acc, ""), pa.scalar(None, pa.string()), acc)


class ContentRenderer:
    """Renders words, hashtags and URLs of one world.

    Parameters
    ----------
    vocab : Vocabulary
        The world's vocabularies (after all generators have added to them).
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.words = pa.array(vocab.words, pa.string())
        self.tags = pa.array(vocab.hashtags, pa.string())
        self.tags_lower = pc.utf8_lower(self.tags)
        hosts = []
        for i, d in enumerate(vocab.domains):
            canon_www = vocab.domain_www[i]
            for www in (canon_www, not canon_www):
                h = ("www." if www else "") + d
                hosts.append(h)
                hosts.append(h.upper() if i % 2 else h.title())
        # index: domain * 4 + www_toggle * 2 + case
        self.hosts = pa.array(hosts, pa.string())
        self.domain_style = np.array(vocab.domain_style, dtype=np.int8)
        self.sections = pa.array(list(SECTIONS), pa.string())
        self.utm = pa.array([f"utm_source={s}&utm_medium={m}&utm_campaign={c}"
                             for s in ("facebook", "fb", "ig", "twitter", "newsletter")
                             for m in ("social", "referral") for c in ("share", "daily", "promo")],
                            pa.string())

    # -- words ----------------------------------------------------------------------------
    def _words(self, counts: np.ndarray, key: np.ndarray, edit: np.ndarray | None,
               topic: np.ndarray | None, salt: int) -> tuple[np.ndarray, pa.Array]:
        offs, rows, j = _expand(counts)
        h = mix64(key[rows] + j * 7919, salt)
        if edit is not None:
            e = mix64(edit[rows] + j * 104729, salt + 1)
            swap = (edit[rows] != 0) & (e % np.uint64(6) == np.uint64(0))
            h = np.where(swap, mix64(e, salt + 2), h)
        u = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        idx = self.vocab.word_zipf.from_uniform(u)
        if topic is not None:
            t = topic[rows].astype(np.int64)
            use = (t > 0) & ((h & np.uint64(0xFF)) < np.uint64(90))
            tw = self.vocab.topic_base + (t - 1) * self.vocab.TOPIC_SIZE + (
                (h >> np.uint64(8)) % np.uint64(self.vocab.TOPIC_SIZE)).astype(np.int64)
            idx = np.where(use, tw, idx)
        return offs, self.words.take(pa.array(idx))

    def texts(self, text_n: np.ndarray, key: np.ndarray, edit: np.ndarray, topic: np.ndarray,
              hashtags: Multi) -> pa.Array:
        """Event texts: a sentence, then the event's hashtags written as ``#Tag``.

        Parameters
        ----------
        text_n, key, edit, topic : numpy.ndarray
            Text columns of the events.
        hashtags : Multi
            The events' hashtag codes.

        Returns
        -------
        pyarrow.Array
            Strings; null for events without text or hashtags.
        """
        counts = text_n.astype(np.int64)
        offs, words = self._words(counts, key, edit, topic, salt=101)
        lists = pa.ListArray.from_arrays(pa.array(offs.astype(np.int32)), words)
        sentence = pc.utf8_capitalize(pc.binary_join(lists, " "))
        punct = pa.array(np.array(["", ".", ".", "!", "?", "!!", " :)"], dtype=object)[
            (mix64(key, 103) % np.uint64(7)).astype(np.int64)], pa.string())
        sentence = pc.binary_join_element_wise(sentence, punct, "")
        sentence = pc.if_else(pa.array(counts > 0), sentence, "")
        tag_strings = pc.binary_join_element_wise("#", self.hashtag_values(hashtags.values), "")
        tags = pc.binary_join(pa.ListArray.from_arrays(
            pa.array(hashtags.offsets().astype(np.int32)), tag_strings), " ")
        return join_nonempty([sentence, tags], " ")

    # -- hashtags -------------------------------------------------------------------------
    def hashtag_values(self, codes: np.ndarray) -> pa.Array:
        """Hashtag strings (without ``#``) for hashtag codes."""
        tag = codes & _MASK32
        lower = ((codes >> 32) & 1).astype(bool)
        return pc.if_else(pa.array(lower), self.tags_lower.take(pa.array(tag)), self.tags.take(pa.array(tag)))

    # -- URLs -----------------------------------------------------------------------------
    def url_values(self, codes: np.ndarray) -> pa.Array:
        """URL strings for link codes (see :func:`lockstep.simulate.content.url_codes`)."""
        n = len(codes)
        if n == 0:
            return pa.array([], pa.string())
        art = codes & _MASK32
        bits = (codes >> 32) & 0xFF
        token = (codes >> 40) & 0xFFFF
        bit = [((bits >> k) & 1).astype(bool) for k in range(7)]
        domain = self.vocab.article_domain[art].astype(np.int64)
        style = self.domain_style[domain]
        scheme = pc.if_else(pa.array(bit[0]), "http://", "https://")
        host = self.hosts.take(pa.array(domain * 4 + bit[1] * 2 + bit[2]))

        ha = mix64(art, 201)
        offs, words = self._words(3 + (ha % np.uint64(4)).astype(np.int64), art, None, None, salt=211)
        slug = pc.binary_join(pa.ListArray.from_arrays(pa.array(offs.astype(np.int32)), words), "-")
        num = pc.cast(pa.array(1_000_000 + (ha >> np.uint64(8)) % np.uint64(9_000_000)), pa.string())
        section = self.sections.take(pa.array((ha % np.uint64(len(SECTIONS))).astype(np.int64)))
        days = (hash_uniform(art, 205) * 500).astype(np.int64)
        date = pc.strftime(pa.array(START - days * DAY, pa.timestamp("s", tz="UTC")), format="%Y/%m/%d")
        p0 = pc.binary_join_element_wise("/", section, "/", slug, "-", num, "")
        p1 = pc.binary_join_element_wise("/", date, "/", slug, "/", "")
        p2 = pc.binary_join_element_wise("/p/", slug, "-", num, ".html", "")
        path = pc.case_when(pc.make_struct(pa.array(style == 0), pa.array(style == 1)), p0, p1, p2)
        toggle = pa.array(bit[6] & (style != 2))
        ends_slash = pc.ends_with(path, "/")
        path = pc.if_else(pc.and_(toggle, ends_slash), pc.utf8_slice_codeunits(path, 0, -1),
                          pc.if_else(toggle, pc.binary_join_element_wise(path, "/", ""), path))

        utm = pc.if_else(pa.array(bit[3]), self.utm.take(pa.array(token % len(self.utm))), "")
        fbclid = pc.if_else(pa.array(bit[4]), pc.binary_join_element_wise(
            "fbclid=IwAR", hex16(mix64(token + art * 65536, 207)), hex16(mix64(art, 209)), ""), "")
        query = join_nonempty([utm, fbclid], "&")
        query = pc.if_else(pc.is_null(query), "", pc.binary_join_element_wise("?", query, ""))
        frag = pc.if_else(pa.array(bit[5]), pc.binary_join_element_wise("#", section, ""), "")
        return pc.binary_join_element_wise(scheme, host, path, query, frag, "")


_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)


def hex16(values: np.ndarray) -> pa.Array:
    """Sixteen lower-case hex digits per 64-bit value.

    Parameters
    ----------
    values : numpy.ndarray
        ``int64`` or ``uint64`` values.

    Returns
    -------
    pyarrow.Array
        Strings of length 16.
    """
    b = np.ascontiguousarray(np.asarray(values).astype(np.int64).view(np.uint64).astype(">u8")).view(np.uint8)
    chars = _HEX[b].reshape(-1, 16)
    return pa.array(np.ascontiguousarray(chars).view("S16").ravel()).cast(pa.string())
