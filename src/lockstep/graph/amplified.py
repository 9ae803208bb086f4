"""Pages a network amplifies: assets whose audience is the network.

An operation's pages publish and its fakes amplify. The pages never co-act with anyone (they
post first; the others react), so no pair signal ties them to the network, yet they are
what a takedown removes ("pages posing as independent or local"). A page joins a detected
network when the network's members make most of the re-shares and replies its posts
receive, far more than their share of all such activity gives by chance:

* ``n`` = re-shares and replies to the page's posts by the network's members, ``k`` the
  distinct members among them, ``t`` all re-shares and replies its posts receive (from
  anyone but itself);
* under the null each such event comes from the network with probability ``p0`` = the
  network's share of all re-shares and replies to pages in the data:
  ``p = P[Binomial(t, p0) >= n]``; Benjamini-Hochberg at ``alpha`` over every
  (network, page) pair with ``n >= 1``;
* and the network makes the majority (``n / t >= min_share``, default 0.5) through at
  least ``min_amplifiers`` (default 2) members: a popular page that a large community of
  ordinary users follows is theirs no more than anyone else's.

Only pages and channels count as authors (the ``author`` objects of the workspace), and a
page already in some network stays where detection put it. Attached accounts are members
with degree 0 (no pair edge); their evidence is in ``run.params["amplified"]``. Behaviour
only: who re-shares whom, never what is said.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from lockstep.graph.networks import Run
    from lockstep.workspace import Workspace

__all__ = ["amplified_pages", "attach_amplified", "MIN_SHARE", "MIN_AMPLIFIERS"]

#: Share of a page's re-shares and replies that must come from the network.
MIN_SHARE = 0.5
#: Distinct members among them.
MIN_AMPLIFIERS = 2

_SQL = """
WITH a AS MATERIALIZED (SELECT platform, account_id, object_id AS author FROM objects
                        WHERE object_type = 'author'),
tot AS (SELECT platform, author, count(*) AS t FROM a GROUP BY ALL),
byn AS (SELECT m.network_id, a.platform, a.author, count(*) AS n,
               count(DISTINCT a.account_id) AS k
        FROM a JOIN _members m ON m.platform = a.platform AND m.account_id = a.account_id
        GROUP BY ALL),
per AS (SELECT *, sum(n) OVER (PARTITION BY network_id)::BIGINT AS n_net FROM byn)
SELECT per.network_id, per.platform, per.author AS account_id, per.n, per.k, tot.t,
       per.n_net, (SELECT sum(t) FROM tot)::BIGINT AS total
FROM per JOIN tot ON tot.platform = per.platform AND tot.author = per.author
WHERE NOT EXISTS (SELECT 1 FROM _members x WHERE x.platform = per.platform
                  AND x.account_id = per.author)
ORDER BY per.network_id, per.platform, per.author
"""

_EMPTY = pa.schema([("network_id", pa.string()), ("platform", pa.string()),
                    ("account_id", pa.string()), ("n", pa.int64()), ("amplifiers", pa.int64()),
                    ("received", pa.int64()), ("share", pa.float64()),
                    ("p_value", pa.float64()), ("q_value", pa.float64())])


def amplified_pages(ws: Workspace, members: pa.Table, *, alpha: float = 0.01,
                    min_share: float = MIN_SHARE,
                    min_amplifiers: int = MIN_AMPLIFIERS) -> pa.Table:
    """The pages each network amplifies (module docstring), one row per (network, page).

    Parameters
    ----------
    ws : Workspace
    members : pyarrow.Table
        ``network_id, platform, account_id`` of the detected networks.
    alpha : float
        False discovery rate over the (network, page) pairs tested.
    min_share, min_amplifiers
        The majority rule.

    Returns
    -------
    pyarrow.Table
        ``network_id, platform, account_id, n, amplifiers, received, share, p_value,
        q_value``, by network then page.
    """
    from scipy.stats import binom

    from lockstep.significance import benjamini_hochberg

    if members.num_rows == 0:
        return _EMPTY.empty_table()
    con = ws.connect()
    try:
        con.register("_members", members.select(["network_id", "platform", "account_id"]))
        t = con.sql(_SQL).to_arrow_table()
    finally:
        con.close()
    if t.num_rows == 0:
        return _EMPTY.empty_table()
    n, k, tot = (t[c].to_numpy().astype(np.float64) for c in ("n", "k", "t"))
    p0 = t["n_net"].to_numpy() / t["total"].to_numpy()
    p = binom.sf(n - 1, tot, p0)
    qv = benjamini_hochberg(p)
    share = n / tot
    keep = (qv <= alpha) & (share >= min_share) & (k >= min_amplifiers)
    return pa.table({
        "network_id": t["network_id"], "platform": t["platform"],
        "account_id": t["account_id"], "n": t["n"], "amplifiers": t["k"],
        "received": t["t"], "share": pa.array(np.round(share, 4)),
        "p_value": pa.array(p), "q_value": pa.array(qv),
    }).filter(pa.array(keep))


def attach_amplified(ws: Workspace, run: Run, *, alpha: float = 0.01,
                     accounts: pa.Table | None = None) -> Run:
    """``run`` with the pages its networks amplify added to their members (in place).

    Each attached page is a member row with degree 0 and strength 0; network sizes are
    updated and the evidence of each is in ``run.params["amplified"]``.
    """
    found = amplified_pages(ws, run.members, alpha=alpha)
    info: dict[str, Any] = {"alpha": alpha, "min_share": MIN_SHARE,
                            "min_amplifiers": MIN_AMPLIFIERS, "attached": found.num_rows,
                            "pages": found.to_pylist()}
    for r in info["pages"]:
        r["p_value"], r["q_value"] = float(r["p_value"]), float(r["q_value"])
    run.params["amplified"] = info
    if found.num_rows == 0:
        return run
    extra = found.select(["network_id", "platform", "account_id"])
    if accounts is not None and accounts.num_rows:
        cols = [c for c in ("kind", "handle", "created_at") if c in accounts.column_names]
        extra = extra.join(accounts.select(["platform", "account_id", *cols]),
                           keys=["platform", "account_id"], join_type="left outer")
    mem = run.members
    n = extra.num_rows
    zero = {"degree": pa.array(np.zeros(n, dtype=np.int64)),
            "strength": pa.array(np.zeros(n, dtype=np.float64))}
    extra = pa.table({f.name: (extra[f.name] if f.name in extra.column_names
                               else zero.get(f.name, pa.nulls(n))).cast(f.type)
                      for f in mem.schema}, schema=mem.schema)
    both = pa.concat_tables([mem, extra])
    # members stay ordered by network rank (networks are listed best first), then account
    keyed = both.append_column("_rank", pc.index_in(both["network_id"],
                                                    value_set=run.networks["network_id"]))
    order = pc.sort_indices(keyed, sort_keys=[("_rank", "ascending"), ("platform", "ascending"),
                                              ("account_id", "ascending")])
    run.members = both.take(order)
    run.refresh_sizes()
    return run
