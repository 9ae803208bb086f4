"""Community detection: Leiden (seeded, deterministic), Louvain fallback, components."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic_edges import planted as make_planted

import lockstep.graph.clustering as clustering
from lockstep.graph.clustering import find_communities, leiden_available
from lockstep.graph.fusion import edge_table, fuse

needs_leiden = pytest.mark.skipif(not leiden_available(), reason="graspologic-native missing")


def clique_labels(graph, communities, members):
    """Labels of each planted clique's members."""
    index = {f"{p}:{a}": i for i, (p, a) in enumerate(zip(
        graph.nodes["platform"].to_pylist(), graph.nodes["account_id"].to_pylist()))}
    return {name: {int(communities.labels[index[m]]) for m in ms} for name, ms in members.items()}


@pytest.mark.parametrize("method", [pytest.param("leiden", marks=needs_leiden), "louvain"])
def test_planted_cliques_recovered(method):
    tables, members = make_planted(0)
    g = fuse(tables)
    c = find_communities(g, method=method, seed=7)
    assert c.method == method
    labels = clique_labels(g, c, members)
    # each clique is whole in one community, and no two cliques share one
    assert all(len(v) == 1 for v in labels.values())
    assert len({next(iter(v)) for v in labels.values()}) == len(members)
    assert c.quality is not None and 0 < c.quality < 1


@pytest.mark.parametrize("method", [pytest.param("leiden", marks=needs_leiden), "louvain"])
def test_same_seed_same_result(method):
    tables, _ = make_planted(2)
    g = fuse(tables)
    a = find_communities(g, method=method, seed=11)
    b = find_communities(fuse(tables), method=method, seed=11)
    assert np.array_equal(a.labels, b.labels)
    assert a.params == b.params


def test_labels_are_canonical():
    g = fuse([edge_table([("a", "b"), ("d", "e"), ("e", "f"), ("d", "f"), ("g", "h"),
                          ("h", "i"), ("g", "i"), ("f", "g")])])
    c = find_communities(g, method="components")
    assert c.labels.tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # largest first
    assert c.sizes().tolist() == [6, 2]
    assert c.members(1).tolist() == [0, 1]
    assert c.quality is None and c.n_communities == 2


@needs_leiden
def test_leiden_without_csr_entry_point(monkeypatch):
    import graspologic_native

    tables, members = make_planted(0)
    g = fuse(tables)
    monkeypatch.delattr(graspologic_native, "leiden_csr")
    c = find_communities(g, method="leiden", seed=7)
    assert all(len(v) == 1 for v in clique_labels(g, c, members).values())


def test_auto_falls_back_to_louvain(monkeypatch):
    monkeypatch.setattr(clustering, "leiden_available", lambda: False)
    tables, members = make_planted(0)
    g = fuse(tables)
    c = find_communities(g, seed=3)
    assert c.method == "louvain"
    assert all(len(v) == 1 for v in clique_labels(g, c, members).values())
    with pytest.raises(ValueError, match="graspologic-native"):
        find_communities(g, method="leiden")


@needs_leiden
def test_auto_uses_leiden_and_resolution_splits():
    g = fuse([edge_table([("a", "b"), ("b", "c"), ("a", "c"), ("c", "d", 1), ("d", "e"),
                          ("e", "f"), ("d", "f")])])
    assert find_communities(g).method == "leiden"
    assert find_communities(g, resolution=0.01).n_communities == 1
    assert find_communities(g, resolution=1.0).n_communities == 2


def test_bad_arguments_and_empty_graph():
    g = fuse([edge_table([("a", "b")])])
    with pytest.raises(ValueError):
        find_communities(g, method="kmeans")
    with pytest.raises(ValueError):
        find_communities(g, resolution=0)
    empty = find_communities(fuse([]))
    assert empty.n_communities == 0 and len(empty.labels) == 0


def _cliques(sizes, loose=0):
    """Cliques of the given sizes, consecutive ones joined by one edge; the last ``loose``
    cliques joined to nothing."""
    pairs, start, heads = [], 0, []
    for n in sizes:
        ids = [f"a{start + i}" for i in range(n)]
        pairs += [(x, y) for i, x in enumerate(ids) for y in ids[i + 1:]]
        heads.append(ids[0])
        start += n
    joined = heads[:len(heads) - loose]
    pairs += list(zip(joined, joined[1:]))
    return fuse([edge_table(pairs)])


@pytest.mark.parametrize("method", [pytest.param("leiden", marks=needs_leiden), "louvain"])
def test_split_communities_separates_groups_lumped_together(method, monkeypatch):
    from lockstep.graph.clustering import Communities, split_communities

    if method == "louvain":
        monkeypatch.setattr(clustering, "leiden_available", lambda: False)
    g = _cliques([25, 20, 15, 2], loose=1)
    lumped = Communities(np.zeros(g.n_nodes, dtype=np.int64), method)
    got = split_communities(g, lumped, modularity=0.4, min_community=50, seed=3)
    # the three cliques apart; the pair (below min_part) stays with the largest part
    assert sorted(np.bincount(got.labels).tolist()) == [15, 20, 27]
    assert got.params["split"][0][0] == 62 and got.params["split"][0][1] > 0.6
    again = split_communities(g, lumped, modularity=0.4, min_community=50, seed=3)
    assert np.array_equal(got.labels, again.labels)
    # off, or a community too small to look at: unchanged
    assert not split_communities(g, lumped, modularity=1.0).labels.any()
    assert not split_communities(g, lumped, min_community=100).labels.any()


@pytest.mark.parametrize("method", [pytest.param("leiden", marks=needs_leiden), "louvain"])
def test_split_communities_keeps_one_group_whole(method, monkeypatch):
    from lockstep.graph.clustering import Communities, split_communities

    if method == "louvain":
        monkeypatch.setattr(clustering, "leiden_available", lambda: False)
    g = _cliques([60])
    one = Communities(np.zeros(g.n_nodes, dtype=np.int64), method)
    got = split_communities(g, one, modularity=0.4, min_community=50)
    assert not got.labels.any() and got.params["split"] == []
