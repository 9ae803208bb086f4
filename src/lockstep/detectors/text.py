"""Near-duplicate text: accounts that post the same or nearly the same text (signal ``co-text``).

Copy-paste and templated messaging is a classic trace of coordination: operators hand the
same script to many accounts, lightly edited so that exact matching misses it. This detector
groups texts into *near-duplicate clusters* and then treats a cluster like an object that
accounts act on (as :mod:`lockstep.detectors.coaction` does for URLs or posts).

Semantics (exactly):

* **Normalised text.** Lower-cased; URLs, ``@mentions`` and (unless ``keep_hashtags``)
  ``#hashtags`` removed; digits, punctuation, symbols and emoji split words (numbers are
  dropped: "vote on 12 May" and "vote on 3 May" are one text); whitespace collapsed.
  Identical normalised texts are one *document* (exact duplicates are grouped first, so
  they cost nothing more).
* **Tokens.** A document's distinct words, minus *stopwords*: words found in more than
  ``stopword_df`` of all documents (and more than 100) *and* used by more than
  ``stopword_df`` of the accounts (and more than 1000). Words like "the" say nothing about
  copying, and on large corpora they make unrelated texts look alike; counting accounts
  keeps a campaign's template words (used by its few hundred fakes, however many edited
  variants they post), and small datasets keep every word. A document with fewer than
  ``min_tokens`` tokens is too short to tell copying from chance and is ignored (as are its
  events).
* **Similarity.** Jaccard similarity of two documents' token sets. Candidate pairs come
  from MinHash signatures (``num_perm`` hash functions) and LSH banding (``bands`` bands of
  ``num_perm / bands`` rows); those whose MinHash estimate is within three standard errors
  of ``threshold`` or above are checked exactly, and kept when the exact Jaccard is
  ``>= threshold``.
* **Clusters.** The connected components of the graph of similar documents: a template and
  its edited copies form one cluster even where two edits differ more than ``threshold``
  from each other, since both are close to the original.
* **Event pairs.** Two events by two *different* accounts whose texts are in the same
  cluster (and, with ``window``, at most ``window`` seconds apart, inclusive). An edge's
  ``weight`` is its number of event pairs, its ``support`` the number of distinct clusters
  behind them, ``median_delta_s`` the median time between the paired events, ``evidence``
  the tightest event pairs ``"event_a|event_b"`` (``event_a`` by the lower account).

Why ``threshold = 0.6``: changing one word of an ``n``-token text leaves a Jaccard of
``(n - 1) / (n + 1)``: 0.6 at four tokens, 0.82 at ten; replacing one word in six, a light
edit, leaves about 0.71 against the original. Two unrelated texts rarely share more than a
fifth of their non-stopword vocabulary. With 64 permutations in 16 bands of 4, a pair at
Jaccard 0.6 becomes a candidate with probability ``1 - (1 - 0.6^4)^16 = 0.89`` (0.99 at 0.8,
0.12 at 0.3), and near-duplicate families are found through many pairs, so clusters are
robust to the misses; no pair is accepted on an estimate alone.

Null model and p-value (:class:`lockstep.significance.CoActionNull`, clusters as objects).
Each account ``a`` uses ``d_a`` distinct clusters (texts nobody else wrote included) and each
cluster ``c`` is used by ``k_c`` accounts. Under the null, accounts pick clusters
independently, keeping those counts in expectation (a bipartite Chung-Lu configuration
model): ``a`` uses ``c`` with probability ``min(1, d_a k_c / M)``, ``M = sum_a d_a``, and, with
a window, two uses of ``c`` fall within it with probability ``q_c`` (the share of ``c``'s event
pairs that do; 1 without a window), times the pair's overlap in time (two accounts active
in the same hours of the same days share a window more often than two others:
:class:`lockstep.significance.ActivityOverlap`). So chance pairs share a text in proportion
to its popularity: a much-quoted line is expected to be shared by many pairs, a 30-account
template is not. ``expected`` is the support chance gives the pair on clusters no more
common (``k_c^2 q_c``) than the most common one it shares, and ``p_value`` is
``P(Poisson(expected) >= support) / P(Poisson(lambda_ab) >= 1)``, ``lambda_ab`` being the
pair's expected support over all clusters: the chance of sharing that much that rare text,
given that the pair shares some text (it is in the output at all); see
:mod:`lockstep.significance`. The Poisson tail bounds the Poisson-binomial one.

Popular clusters. A cluster used by more than ``max_accounts`` accounts (a viral quote,
"happy new year") is set aside before the null model and the join: its
``k_c (k_c - 1) / 2`` account pairs would cost the most and say the least. It leaves the null
too (``d_a``, ``M`` and ``lambda_ab`` are over the other clusters), since "the pair shares
some text" must mean a text whose pairs are output; otherwise the many pairs that share
only a viral text, absent from the output, would make rare sharing look rarer than it is.
Every such cluster is counted in ``stats_["popular_clusters_count"]`` (with its events and
the event pairs not built) and the largest are listed, with a sample text, in
``stats_["popular_clusters"]``. Nothing is dropped silently.

Algorithm: normalisation, exact grouping, tokens and stopwords in DuckDB (both cores);
MinHash in numpy (a multiply-add-shift hash per permutation, a ``minimum.reduceat`` per
document, permutations split over threads); LSH by sorting each band's keys (a bucket larger
than 100 documents pairs each with its 10 successors instead of all, so a huge bucket is
never a Cartesian product, and is counted in ``stats_``); a pre-filter on the signatures and
an exact Jaccard check (one sort of the candidate pairs' tokens); components with SciPy; then
the co-action sort-and-sweep over clusters (candidate pairs counted exactly before any is
built, bounded memory, see :mod:`lockstep.detectors.sweep`). About 20 s for the medium
simulated world (2M events, 1.1M texts) on two cores.

Limitations: scripts written without spaces (Chinese, Japanese, Thai) are compared only as
whole-text exact duplicates; the similarity is a bag of words, blind to word order.
"""
from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep import spill
from lockstep._arrays import unique
from lockstep.detectors.base import BaseDetector, Laps, check_int, check_real, empty_edges
from lockstep.detectors.sweep import (
    EMIT_STEP,
    THREADS,
    Buckets,
    Rows,
    bounded_map,
    count_candidates,
    emit,
    emit_pairs,
    packed_argsort,
    part_table,
    reduce_bucket,
)
from lockstep.exceptions import UsageError
from lockstep.significance import CoActionNull

if TYPE_CHECKING:
    import duckdb

__all__ = ["TextDetector", "SIGNALS", "normalise_sql"]

#: The signal of this detector (no per-signal parameters).
SIGNALS: dict[str, dict[str, Any]] = {"co-text": {}}

_US = 1_000_000
_MAX_WINDOW_S = 1e9
_STOP_MIN_DOCS = 100  # a stopword is in more than this many documents, whatever the share
_STOP_MIN_ACCOUNTS = 1000  # ... and used by more than this many accounts (a campaign's
# template words stay words, however many edited variants it posts)
_LSH_BUCKET = 100  # LSH buckets larger than this pair each document with its successors only
_LSH_NEIGHBOURS = 10
_VERIFY_STEP = 1 << 18
_MAX_REPORTED = 20

# URLs, mentions and hashtags; hashtags are matched only when they are removed
_STRIP = r"(?:https?://|www\.)\S+|@[\pL\pN_]+"
_HASHTAG = r"|#[\pL\pN_]+"


def normalise_sql(column: str = "text", *, keep_hashtags: bool = False) -> str:
    """The DuckDB expression that normalises ``column`` (see the module docstring).

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> con.execute("SELECT " + normalise_sql("'RT @bob: Vote NOW!! 2024 #Vote https://x.co/a'")
    ...             ).fetchall()
    [('rt vote now',)]
    """
    strip = _STRIP if keep_hashtags else _STRIP + _HASHTAG
    return (f"trim(regexp_replace(regexp_replace(lower({column}), '{strip}', ' ', 'g'), "
            f"'[^\\pL]+', ' ', 'g'))")


class TextDetector(BaseDetector):
    """Accounts posting the same or nearly the same text (copy-paste, templates).

    Texts are normalised, grouped exactly, and joined into near-duplicate clusters by MinHash
    and LSH on their word sets (Jaccard ``>= threshold``); two events by different accounts
    whose texts are in one cluster are an event pair. See the module docstring for the exact
    semantics, the null model behind ``expected`` and ``p_value``, and the handling of
    popular texts.

    Parameters
    ----------
    threshold : float, default 0.6
        Jaccard similarity (of non-stopword word sets) at which two texts are near-duplicates.
    window : float or None, default None
        Seconds. ``None``: event pairs at any distance in time count; a number: only event
        pairs at most this far apart (inclusive).
    min_tokens : int, default 3
        Texts with fewer distinct non-stopword words are ignored.
    stopword_df : float or None, default 0.01
        Words in more than this share of the distinct texts (and more than 100) and used by
        more than this share of the accounts (and more than 1000) are stopwords, left out of
        the comparison; ``None`` keeps every word.
    keep_hashtags : bool, default False
        Compare ``#hashtags`` as words. By default they are removed, as URLs and mentions
        are: co-hashtag and co-link compare them, and appended hashtags would otherwise
        hide a copied text.
    include_reposts : bool, default False
        Also compare the text of ``repost`` and ``forward`` events, which is the re-shared
        post's (co-repost already compares those).
    num_perm : int, default 64
        MinHash permutations.
    bands : int, default 16
        LSH bands; must divide ``num_perm``.
    max_accounts : int or None, default 1000
        Clusters used by more accounts are popular: set aside (neither paired nor in the
        null model) and reported in ``stats_``. ``None`` pairs every cluster.
    min_weight : int, default 1
        Keep edges with at least this many event pairs.
    max_evidence : int, default 10
        Event pairs listed per edge, tightest first (smallest time apart, then earliest).
    pair_budget : int, default 20_000_000
        Most event pairs held in memory at once; the rest wait on disk (exact either way).
    random_state : int, default 0
        Seed of the MinHash permutations.
    disk_mb : int or None, default None
        Most MiB of event pairs that may wait on disk (:mod:`lockstep.spill`); a run that
        would need more is refused before it writes anything.

    Attributes
    ----------
    edges_ : pyarrow.Table
        One row per account pair (columns of :data:`~lockstep.detectors.base.EDGE_SCHEMA`).
    signal_ : str
        ``"co-text"``.
    stats_ : dict
        ``rows`` (text events compared), ``events_with_text``, ``documents`` (distinct
        normalised texts), ``documents_short``, ``stopwords`` (count and the most common),
        ``tokens``, ``lsh_candidates``, ``lsh_large_buckets``, ``similar_pairs``,
        ``clusters``, ``clusters_shared`` (used by two accounts or more),
        ``popular_clusters_count``, ``popular_clusters``, ``popular_events``,
        ``candidate_pairs``, ``same_account_pairs``, ``event_pairs`` and ``seconds`` per stage.
    workspace_ : Workspace

    References
    ----------
    .. [1] Broder, A. Z. (1997). On the resemblance and containment of documents.
       Compression and Complexity of Sequences, 21-29. (MinHash)
    .. [2] Leskovec, J., Rajaraman, A., & Ullman, J. D. (2014). Mining of Massive Datasets,
       ch. 3 (LSH banding). Cambridge University Press.
    .. [3] Pacheco, D., Hui, P.-M., Torres-Lugo, C., Truong, B. T., Flammini, A., & Menczer,
       F. (2021). Uncovering coordinated networks on social media: methods and case studies.
       ICWSM 2021 (near-duplicate text as a coordination trace).

    Examples
    --------
    >>> import tempfile
    >>> import lockstep
    >>> from lockstep.detectors.text import TextDetector
    >>> from lockstep.ingestion import ingest
    >>> from lockstep.testing import make_campaign
    >>> tmp = tempfile.mkdtemp()
    >>> ws = lockstep.open_workspace(tmp + "/ws")
    >>> _ = ingest(ws, [make_campaign(tmp, seed=1)])
    >>> det = TextDetector(min_tokens=1).fit(ws)
    >>> det.signal_
    'co-text'
    """

    name = "text"

    def __init__(self, *, threshold: float = 0.6, window: float | None = None,
                 min_tokens: int = 3, stopword_df: float | None = 0.01,
                 keep_hashtags: bool = False, include_reposts: bool = False,
                 num_perm: int = 64, bands: int = 16, max_accounts: int | None = 1000,
                 min_weight: int = 1, max_evidence: int = 10, pair_budget: int = 20_000_000,
                 random_state: int = 0, disk_mb: int | None = None) -> None:
        super().__init__(min_weight=min_weight, max_evidence=max_evidence)
        self.disk_mb = disk_mb
        self.threshold = threshold
        self.window = window
        self.min_tokens = min_tokens
        self.stopword_df = stopword_df
        self.keep_hashtags = keep_hashtags
        self.include_reposts = include_reposts
        self.num_perm = num_perm
        self.bands = bands
        self.max_accounts = max_accounts
        self.pair_budget = pair_budget
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_real("threshold", self.threshold, 0, 1, open_low=True)
        check_real("window", self.window, 0, _MAX_WINDOW_S, optional=True)
        check_int("min_tokens", self.min_tokens, 1)
        check_real("stopword_df", self.stopword_df, 0, 1, open_low=True, optional=True)
        for name in ("keep_hashtags", "include_reposts"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name} must be True or False, not {getattr(self, name)!r}")
        check_int("num_perm", self.num_perm, 1)
        check_int("bands", self.bands, 1)
        if self.num_perm % self.bands or self.num_perm > 1024:
            raise UsageError(f"bands ({self.bands}) must divide num_perm ({self.num_perm}), "
                             "and num_perm be at most 1024")
        if self.max_accounts is not None:
            check_int("max_accounts", self.max_accounts, 2)
        check_int("pair_budget", self.pair_budget, 1)
        if self.disk_mb is not None:
            check_int("disk_mb", self.disk_mb, 0)
        check_int("random_state", self.random_state, 0)

    def _signal_name(self) -> str:
        return "co-text"

    # -- the pipeline ------------------------------------------------------------------------
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        lap = Laps()
        secs = lap.seconds

        stats: dict[str, Any] = {"signal": "co-text", "threshold": float(self.threshold),
                                 "window_s": None if self.window is None else float(self.window)}
        try:
            staged = self._stage(con, stats)
            lap("stage")
            if staged is None:
                self._state = _empty_rows()
                self._w_us = 0
                stats.update(rows=0, seconds=secs)
                return empty_edges(), stats
            doc_h, doc_starts, ev, accs = staged
            sig = _minhash(doc_h, doc_starts, self.num_perm, self.random_state)
            lap("minhash")
            cand, n_large = _lsh_candidates(sig, self.bands)
            stats.update(lsh_candidates=int(len(cand)), lsh_large_buckets=n_large)
            lap("lsh")
            similar, n_checked = _verify(sig, doc_h, doc_starts, cand, self.threshold)
            stats["exact_checks"] = n_checked
            del sig, cand, doc_h
            label = _components(len(doc_starts), similar)
            stats["similar_pairs"] = int(len(similar))
            stats["clusters_near_duplicate"] = int(np.count_nonzero(np.bincount(label) >= 2))
            lap("cluster")
            rows, cand, null, w_us, popular_docs = self._rows(ev, accs, label, stats)
            self._state, self._w_us = rows, w_us
            if popular_docs:
                texts = dict(con.execute(
                    "SELECT d, norm FROM _tx_d WHERE d IN (SELECT unnest($ds))",
                    {"ds": [int(x) for x in popular_docs.values()]}).fetchall())
                for item in stats["popular_clusters"]:
                    doc = popular_docs.get(item.pop("_doc"))
                    item["text"] = str(texts.get(doc, ""))[:120]
        finally:
            for name in ("_tx_e", "_tx_ed", "_tx_d", "_tx_w", "_tx_s", "_tx_k"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            try:
                con.unregister("_tx_keep")
            except Exception:  # noqa: BLE001 - not registered
                pass
        lap("rows")
        got = con.execute("SELECT current_setting('temp_directory')").fetchall()
        got = got[0] if got else None
        spill_dir = spill.spill_dir("text", (got[0] if got else None) or None)
        try:
            table = self._sweep(rows, cand, null, spill_dir, stats, lap)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        stats["seconds"] = secs
        return table, stats

    def _stage(self, con: duckdb.DuckDBPyConnection, stats: dict[str, Any]
               ) -> tuple[np.ndarray, np.ndarray, pa.Table, pa.Table] | None:
        """Normalise, group exact duplicates, drop stopwords and short texts; return the
        token hashes of the kept documents (by document), their starts, and the events."""
        reposts = "" if self.include_reposts else \
            "AND (action IS NULL OR action NOT IN ('repost', 'forward'))"
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tx_e AS
        SELECT platform, event_id, account_id, epoch_us(ts) AS t,
            {normalise_sql('text', keep_hashtags=self.keep_hashtags)} AS norm
        FROM events
        WHERE text IS NOT NULL AND trim(text) <> '' AND account_id IS NOT NULL
          AND trim(account_id) <> '' AND ts IS NOT NULL AND event_id IS NOT NULL {reposts}""")
        con.execute("""
        CREATE OR REPLACE TEMP TABLE _tx_d AS
        SELECT norm, (row_number() OVER (ORDER BY norm) - 1)::BIGINT AS d
        FROM (SELECT DISTINCT norm FROM _tx_e WHERE norm <> '')""")
        n_ev, n_docs = con.execute(
            "SELECT (SELECT count(*) FROM _tx_e), (SELECT count(*) FROM _tx_d)").fetchall()[0]
        stats.update(events_with_text=int(n_ev), documents=int(n_docs))
        if n_docs == 0:
            return None
        con.execute("""
        CREATE OR REPLACE TEMP TABLE _tx_ed AS
        SELECT e.platform, e.event_id, e.account_id, e.t, d.d
        FROM _tx_e e JOIN _tx_d d USING (norm)""")
        con.execute("DROP TABLE _tx_e")
        # words as 64-bit hashes (a word list per text, list_distinct, is many times slower);
        # repeated words of a text are removed after the stopwords
        con.execute("""
        CREATE OR REPLACE TEMP TABLE _tx_w AS
        SELECT d, hash(w) AS h FROM (SELECT d, unnest(string_split(norm, ' ')) AS w FROM _tx_d)""")
        if self.stopword_df is None:
            con.execute("CREATE OR REPLACE TEMP TABLE _tx_s AS SELECT 0::UBIGINT AS h WHERE false")
            stats["stopwords"] = {"count": 0, "most_common": [], "min_documents": None,
                                  "min_accounts": None}
        else:
            share = float(self.stopword_df)
            n_acc = con.execute("SELECT count(DISTINCT (platform, account_id)) FROM _tx_ed"
                                ).fetchall()[0][0]
            cut_d = max(_STOP_MIN_DOCS, share * n_docs)
            cut_a = max(_STOP_MIN_ACCOUNTS, share * n_acc)
            # frequent words (few: occurrences bound documents from above), then the
            # documents and accounts using each (HyperLogLog counts, within about 2%)
            con.execute("""
            CREATE OR REPLACE TEMP TABLE _tx_s AS
            WITH f AS (SELECT h FROM _tx_w GROUP BY h HAVING count(*) > $cut_d),
            da AS (SELECT DISTINCT d, hash(platform, account_id) AS ak FROM _tx_ed)
            SELECT h, approx_count_distinct(ak) AS accounts
            FROM _tx_w SEMI JOIN f USING (h) JOIN da USING (d)
            GROUP BY h
            HAVING approx_count_distinct(d) > $cut_d AND approx_count_distinct(ak) > $cut_a""",
                        {"cut_d": cut_d, "cut_a": cut_a})
            n_stop = int(con.execute("SELECT count(*) FROM _tx_s").fetchall()[0][0])
            # the most common stopwords, spelt out from the first texts
            top = con.execute("""
            SELECT w FROM (SELECT DISTINCT unnest(string_split(norm, ' ')) AS w
                           FROM (SELECT norm FROM _tx_d WHERE d < 20000))
            JOIN (SELECT h, accounts FROM _tx_s ORDER BY accounts DESC, h LIMIT 10) s
              ON hash(w) = s.h
            ORDER BY s.accounts DESC, w""").fetchall() if n_stop else []
            stats["stopwords"] = {"count": n_stop, "most_common": [w for (w,) in top],
                                  "min_documents": cut_d, "min_accounts": cut_a}
        tok = con.sql("SELECT DISTINCT d, h FROM _tx_w ANTI JOIN _tx_s USING (h)"
                      ).to_arrow_table()
        d = tok.column("d").to_numpy()
        h = tok.column("h").to_numpy().astype(np.uint64, copy=False)
        del tok
        order = packed_argsort(d, int(d.max())) if len(d) else np.zeros(0, dtype=np.int64)
        d, h = d[order], h[order]
        n_tok = np.bincount(d, minlength=n_docs)
        kept = np.flatnonzero(n_tok >= self.min_tokens)
        stats["documents_short"] = int(n_docs - len(kept))
        if len(kept) == 0:
            return None
        keep_tok = np.repeat(n_tok >= self.min_tokens, n_tok)
        h = h[keep_tok]
        sizes = n_tok[kept]
        starts = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
        stats["tokens"] = int(len(h))
        # the events of kept documents, in (time, platform, event_id) order; kidx = kept index
        con.register("_tx_keep", pa.table({"d": pa.array(kept, pa.int64()),
                                           "k": pa.array(np.arange(len(kept)), pa.int64())}))
        con.execute("""
        CREATE OR REPLACE TEMP TABLE _tx_k AS
        SELECT e.platform, e.event_id, e.account_id, e.t, k.k, k.d
        FROM _tx_ed e JOIN _tx_keep k USING (d)""")
        ev = con.sql("""
        SELECT platform, event_id, t, k, d,
            (dense_rank() OVER (ORDER BY platform, account_id) - 1)::BIGINT AS a
        FROM _tx_k ORDER BY t, platform, event_id""").to_arrow_table()
        accs = con.sql("""
        SELECT DISTINCT platform, account_id FROM _tx_k ORDER BY platform, account_id
        """).to_arrow_table()
        return h, starts, ev, accs

    def _rows(self, ev: pa.Table, accs: pa.Table, label: np.ndarray, stats: dict[str, Any]
              ) -> tuple[Rows, np.ndarray, CoActionNull, int, dict[int, int]]:
        """Events with their cluster, sorted by (cluster, time, event). Popular clusters are
        set aside (reported); the null is fitted on all the other rows (clusters used once
        included), and the clusters of two accounts or more are kept for pairing. Returns
        the rows kept, their candidate pairs, the null, the window (us) and a sample document
        of each reported popular cluster."""
        n = ev.num_rows
        t = ev.column("t").to_numpy()
        a = ev.column("a").to_numpy()
        k = ev.column("k").to_numpy()
        d = ev.column("d").to_numpy()
        o = label[k]
        e = np.arange(n, dtype=np.int64)
        order = packed_argsort(o, int(o.max()))
        o, t, a, e, d = o[order], t[order], a[order], e[order], d[order]
        n_acc = accs.num_rows
        w_us = int(round(float(self.window) * _US)) if self.window is not None else max(
            0, int(t.max() - t.min()))
        cand, starts, obj_cand = count_candidates(o, t, w_us)
        size = np.diff(np.r_[starts, n])
        inc = unique(o * n_acc + a)
        k_acc = np.bincount(inc // n_acc, minlength=int(o.max()) + 1)[o[starts]]
        stats.update(rows=int(n), accounts=int(n_acc), clusters=int(len(starts)),
                     clusters_shared=int(np.count_nonzero(k_acc >= 2)))
        popular = (np.flatnonzero(k_acc > self.max_accounts) if self.max_accounts is not None
                   else np.zeros(0, dtype=np.int64))
        top = popular[np.lexsort((o[starts[popular]], -k_acc[popular]))][:_MAX_REPORTED]
        stats["popular_clusters_count"] = int(len(popular))
        stats["popular_events"] = int(size[popular].sum())
        stats["popular_candidate_pairs"] = int(obj_cand[popular].sum())
        stats["popular_clusters"] = [
            {"cluster": int(o[starts[c]]), "accounts": int(k_acc[c]), "events": int(size[c]),
             "candidate_pairs": int(obj_cand[c]), "_doc": int(c)} for c in top]
        docs = {int(c): int(d[starts[c]]) for c in top}
        # the null lives on the clusters that are not popular: their pairs are the output, so
        # "given the pair shares a cluster" means one of these (a popular cluster left in
        # the null would make rare sharing look rarer than it is among the pairs output)
        unpop = np.ones(len(starts), dtype=bool)
        unpop[popular] = False
        in_null = np.repeat(unpop, size)
        if in_null.all():
            null = CoActionNull.from_rows(o, a, obj_cand, starts, n_acc, t=t, window=w_us)
        else:  # popular clusters go whole: the others' counts and starts are unchanged
            s2 = np.cumsum(size[unpop]) - size[unpop]
            null = CoActionNull.from_rows(o[in_null], a[in_null], obj_cand[unpop], s2, n_acc,
                                          t=t[in_null], window=w_us)
        pair_ok = (k_acc >= 2) & unpop
        keep = np.repeat(pair_ok, size)
        largest = np.argsort(-obj_cand * pair_ok, kind="stable")[:5]
        stats["largest_clusters"] = [
            {"cluster": int(o[starts[c]]), "accounts": int(k_acc[c]), "events": int(size[c]),
             "candidate_pairs": int(obj_cand[c])} for c in largest if pair_ok[c]]
        rows = Rows(o=o[keep], t=t[keep], a=a[keep], e=e[keep], multi=False,
                    acc_platform=accs.column("platform").combine_chunks(),
                    acc_id=accs.column("account_id").combine_chunks(),
                    ev_id=ev.column("event_id").combine_chunks(),
                    obj_id=pa.array([], pa.string()), n_events=n)
        return rows, cand[keep], null, w_us, docs

    def _sweep(self, rows: Rows, cand: np.ndarray, null: CoActionNull, spill_dir: Path,
               stats: dict[str, Any], lap: Callable[[str], None]) -> pa.Table:
        """Emit the candidate event pairs per cluster in bounded steps; reduce by pair."""
        n_acc = len(rows.acc_id)
        stats["candidate_pairs"] = total = int(cand.sum())
        if total > self.pair_budget:  # refused before a pair is written (lockstep.spill)
            per_pair = 8 if len(rows.o) < (1 << 31) else 16
            spill.check_spill(
                total * per_pair, spill.disk_budget_bytes(self.disk_mb, spill_dir.parent),
                what=f"co-text: {total:,} candidate pairs of similar posts",
                advice="lower max_accounts, narrow the window, or raise the disk budget")
        buckets = Buckets(rows.a, n_acc, int(cand.sum()), len(rows.o), self.pair_budget,
                          spill_dir)
        emit_pairs(rows, cand, buckets, min(self.pair_budget, EMIT_STEP), stats)
        lap("emit")

        def finish(bucket: tuple[np.ndarray, np.ndarray, np.ndarray, int]
                   ) -> tuple[int, pa.Table | None]:
            part = reduce_bucket(*bucket, rows, self.max_evidence, self.min_weight, null.g)
            return (int(part["event_pairs"]),
                    part_table(part, rows, n_acc, "co-text", null) if len(part["key"])
                    else None)

        # buckets are independent: reduce them on both cores (numpy and Arrow release the GIL)
        done = list(bounded_map(finish, buckets.drain(), THREADS))
        stats["spilled_pairs"] = buckets.spilled_pairs
        stats["event_pairs"] = sum(n for n, _ in done)
        tables = [t for _, t in done if t is not None]
        lap("aggregate")
        return pa.concat_tables(tables) if tables else empty_edges()

    # -- evidence ------------------------------------------------------------------------------
    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        # Recomputed from the fitted clusters (the clustering is the expensive part and is
        # what the edges mean): every cross pair of the two accounts' events in one cluster.
        rows: Rows = self._state
        out: list[str] = []
        for x in _codes(rows, a):
            for y in _codes(rows, b):
                if x != y:
                    out.extend(_pair_list(rows, min(x, y), max(x, y), self._w_us))
        return out


# -- stages ------------------------------------------------------------------------------------
def _empty_rows() -> Rows:
    z = np.zeros(0, dtype=np.int64)
    s = pa.array([], pa.string())
    return Rows(o=z, t=z, a=z, e=z, multi=False, acc_platform=s, acc_id=s, ev_id=s,
                obj_id=s, n_events=0)


def _minhash(h: np.ndarray, starts: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (``uint32``, documents x ``num_perm``) of the token hashes ``h``,
    grouped by document from ``starts``: permutation ``k`` is ``(A_k h + B_k) >> 32`` (mod
    ``2^64``, odd ``A_k``), a multiply-add-shift hash of the already mixed token hash."""
    rng = np.random.default_rng(seed)
    A = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
    B = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    sig = np.empty((len(starts), num_perm), dtype=np.uint32)
    shift = np.uint64(32)

    def run(ks: range) -> None:
        buf = np.empty(len(h), dtype=np.uint64)
        low = np.empty(len(h), dtype=np.uint32)
        for k in ks:
            np.multiply(h, A[k], out=buf)
            buf += B[k]
            buf >>= shift
            low[:] = buf
            sig[:, k] = np.minimum.reduceat(low, starts)

    workers = max(1, min(THREADS, num_perm))
    step = -(-num_perm // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, [range(s, min(num_perm, s + step)) for s in range(0, num_perm, step)]))
    return sig


def _lsh_candidates(sig: np.ndarray, bands: int) -> tuple[np.ndarray, int]:
    """Distinct candidate document pairs ``i * m + j`` (``i < j``) sharing an LSH bucket.

    Each band's ``r`` values are mixed into one 64-bit key whose low bits are replaced by the
    document number, so one sort gives the buckets (the high bits; ``2^-(64 - log2 m)`` chance
    of two bands colliding, which only adds a candidate) with their documents in order. A
    bucket of at most ``_LSH_BUCKET`` documents gives all its pairs, a larger one pairs each
    document with its ``_LSH_NEIGHBOURS`` successors (near-duplicate families are found
    through many bands; a huge bucket is never a Cartesian product)."""
    m, K = sig.shape
    r = K // bands
    parts: list[np.ndarray] = []
    n_large = 0
    if m < 2:
        return np.zeros(0, dtype=np.int64), 0
    idx = np.arange(m, dtype=np.int64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    bits = max(1, (m - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    uidx = idx.astype(np.uint64)
    for j in range(bands):
        key = np.zeros(m, dtype=np.uint64)
        for c in range(j * r, (j + 1) * r):
            key ^= sig[:, c]
            key *= mult
            key ^= key >> np.uint64(29)
        # the document number in the low bits: one plain sort gives buckets in document order
        key &= ~low
        key |= uidx
        key.sort()
        order = (key & low).astype(np.int64)
        key >>= bits
        new = np.empty(m, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        del key
        starts = np.flatnonzero(new)
        size = np.diff(np.append(starts, m))
        if size.max() < 2:
            continue
        big = size > _LSH_BUCKET
        n_large += int(np.count_nonzero(big))
        rem = np.repeat(starts + size, size) - idx - 1
        if big.any():
            rem = np.where(np.repeat(big, size), np.minimum(rem, _LSH_NEIGHBOURS), rem)
        if not rem.any():
            continue
        left, right = emit(rem, 0, m, None)
        i, k = order[left], order[right]
        parts.append(unique(np.minimum(i, k) * m + np.maximum(i, k)))
    if not parts:
        return np.zeros(0, dtype=np.int64), n_large
    return unique(np.concatenate(parts)), n_large


def _verify(sig: np.ndarray, h: np.ndarray, starts: np.ndarray, cand: np.ndarray,
            threshold: float) -> tuple[np.ndarray, int]:
    """The candidate pairs whose exact Jaccard is ``>= threshold``, and how many passed the
    MinHash pre-filter.

    The signatures first drop the pairs whose estimate is more than three standard errors
    below ``threshold`` (a pair at the threshold survives with probability 0.999); the rest
    are checked exactly on their token sets, so no pair is accepted by estimation noise.
    """
    m, K = sig.shape
    se = math.sqrt(threshold * (1.0 - threshold) / K)
    need = math.ceil((threshold - 3.0 * se) * K - 1e-9)
    ok = np.zeros(len(cand), dtype=bool)
    for s in range(0, len(cand), _VERIFY_STEP):
        c = cand[s:s + _VERIFY_STEP]
        agree = np.count_nonzero(sig[c // m] == sig[c % m], axis=1)
        ok[s:s + _VERIFY_STEP] = agree >= need
    cand = cand[ok]
    sizes = np.diff(np.r_[starts, len(h)])
    exact = np.zeros(len(cand), dtype=bool)
    step = max(1, (1 << 23) // max(1, 2 * int(sizes.mean())))
    for s in range(0, len(cand), step):
        c = cand[s:s + step]
        exact[s:s + step] = _jaccard(h, starts, sizes, c // m, c % m) >= threshold - 1e-12
    return cand[exact], len(cand)


def _jaccard(h: np.ndarray, starts: np.ndarray, sizes: np.ndarray, i: np.ndarray,
             j: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the token sets of documents ``i`` and ``j`` (pairwise): each pair's
    tokens (32 bits of their hash) are tagged with the pair's number and sorted in one
    ``int64`` sort; a token of both documents appears twice in a row."""
    li, lj = sizes[i], sizes[j]
    tot = li + lj
    n = int(tot.sum())
    if n == 0:
        return np.zeros(len(i))
    first = np.cumsum(tot) - tot
    pid = np.repeat(np.arange(len(i), dtype=np.int64), tot)
    off = np.arange(n, dtype=np.int64) - first[pid]
    from_i = off < li[pid]
    src = np.where(from_i, starts[i][pid] + off, starts[j][pid] + off - li[pid])
    key = (pid << 32) | (h[src] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    del pid, off, from_i, src
    key.sort()
    dup = key[1:] == key[:-1]
    inter = np.bincount(key[1:][dup] >> 32, minlength=len(i))
    return inter / (li + lj - inter)


def _components(m: int, similar: np.ndarray) -> np.ndarray:
    """Cluster label of each document: connected components of the similar pairs."""
    if len(similar) == 0:
        return np.arange(m, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = similar // m, similar % m
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(m, m)).tocsr()
    _, label = connected_components(graph, directed=False)
    return label.astype(np.int64)


def _codes(rows: Rows, ref: tuple[str | None, str]) -> list[int]:
    """Account codes matching ``(platform or None, account_id)``."""
    if len(rows.acc_id) == 0:
        return []
    hit = pc.equal(rows.acc_id, ref[1])
    if ref[0] is not None:
        hit = pc.and_(hit, pc.equal(rows.acc_platform, ref[0]))
    return np.flatnonzero(hit.to_numpy(zero_copy_only=False)).tolist()


def _pair_list(rows: Rows, lo: int, hi: int, w_us: int) -> list[str]:
    """Every event pair of accounts ``lo < hi`` in one cluster within the window, ordered as
    in the edges (time apart, then the events' order)."""
    il, ih = np.flatnonzero(rows.a == lo), np.flatnonzero(rows.a == hi)
    if not len(il) or not len(ih):
        return []
    ih = ih[np.argsort(rows.o[ih], kind="stable")]
    oh = rows.o[ih]
    s = np.searchsorted(oh, rows.o[il], side="left")
    cnt = np.searchsorted(oh, rows.o[il], side="right") - s
    total = int(cnt.sum())
    if total == 0:
        return []
    L = np.repeat(il, cnt)
    R = ih[np.repeat(s - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)]
    dt = np.abs(rows.t[R] - rows.t[L])
    ok = dt <= w_us
    L, R, dt = L[ok], R[ok], dt[ok]
    e_lo, e_hi = rows.e[L], rows.e[R]
    srt = np.lexsort((e_hi, e_lo, dt))
    ids = pc.binary_join_element_wise(rows.ev_id.take(e_lo[srt]), rows.ev_id.take(e_hi[srt]),
                                      "|")
    return ids.to_pylist()
