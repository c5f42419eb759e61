"""Batched clique updates and read-outs equal the one-clique-at-a-time versions."""

import numpy as np

from dpquilt.graphical.clique_groups import CliqueGroups


def test_groups_add_and_read_like_single_cliques(rng):
    domain = {"a": 4, "b": 1, "c": 3, "d": 5, "e": 2, "f": 6}
    nodes = [("a", "b", "c", "d", "e", "f"), ("d", "e")]
    cliques = [("a", "c"), ("c", "a", "e"), ("b", "d"), ("f", "e"), ("d", "e"), ("a", "f", "b")]
    homes = [0, 0, 0, 0, 1, 0]
    groups = CliqueGroups(nodes, homes, cliques, domain)
    assert len(groups.plan) < len(cliques)  # some cliques were batched
    tables = [rng.normal(size=[domain[x] for x in c]) for c in cliques]
    nodes_tables = [rng.normal(size=[domain[x] for x in n]) for n in nodes]
    expected = [t.copy() for t in nodes_tables]
    for c, home, t in zip(cliques, homes, tables):
        node = nodes[home]
        ordered = [x for x in node if x in c]
        placed = np.transpose(t, [c.index(x) for x in ordered]).reshape([domain[x] if x in c else 1 for x in node])
        expected[home] = expected[home] + 0.5 * placed
    groups.add_to_nodes(nodes_tables, tables, 0.5)
    for got, want in zip(nodes_tables, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    marginals = groups.clique_marginals(nodes_tables)
    for c, home, got in zip(cliques, homes, marginals):
        node = nodes[home]
        want = nodes_tables[home].sum(axis=tuple(j for j, x in enumerate(node) if x not in c))
        want = np.transpose(want, [[x for x in node if x in c].index(x) for x in c])
        np.testing.assert_allclose(got, want, rtol=1e-12)
