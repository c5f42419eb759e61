"""Numpy junction-tree inference agrees with brute force on small models."""

import itertools

import numpy as np
import pytest

from dpquilt.graphical.junction import build_junction_tree, calibrate, project


def brute_force(domain, log_potentials, total):
    names = list(domain)
    joint = np.zeros([domain[a] for a in names])
    for clique, table in log_potentials.items():
        t = np.transpose(table, [clique.index(a) for a in names if a in clique])
        shape = [domain[a] if a in clique else 1 for a in names]
        joint = joint + t.reshape(shape)
    p = np.exp(joint - joint.max())
    return p / p.sum() * total, names


CASES = [
    # a chain, a cycle (needs fill-in), and two components
    [("a", "b"), ("b", "c"), ("c", "d")],
    [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")],
    [("a", "b"), ("c", "d")],
    [("a", "b", "c"), ("c", "d"), ("b", "e")],
]


@pytest.mark.parametrize("cliques", CASES)
def test_marginals_match_brute_force(cliques, rng):
    names = sorted({a for c in cliques for a in c})
    domain = {a: int(k) for a, k in zip(names, rng.integers(2, 4, len(names)))}
    pots = {c: rng.normal(size=[domain[a] for a in c]) for c in cliques}
    tree = build_junction_tree(domain, cliques)
    marg = calibrate(tree, domain, pots, total=500.0)
    joint, order = brute_force(domain, pots, 500.0)
    for r in (1, 2, 3):
        for cols in itertools.combinations(names, r):
            for perm in (cols, cols[::-1]):
                expected = joint.sum(axis=tuple(i for i, a in enumerate(order) if a not in perm))
                expected = np.transpose(expected, [[a for a in order if a in perm].index(a) for a in perm])
                np.testing.assert_allclose(project(tree, marg, perm, 500.0), expected, rtol=1e-8, atol=1e-8)
