"""Calibrating a junction tree: every node's marginal, and the conditionals projections read.

The model ``p(x) ∝ exp(sum_C theta_C(x_C))`` is calibrated on a junction tree of its
cliques by two-pass sum-product message passing (Koller and Friedman 2009, Algorithm 10.2,
"Shafer-Shenoy"; see :mod:`dpquilt.graphical.propagation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..marginals.tables import sum_onto
from .junction import JunctionTree
from .propagation import Propagation

__all__ = ["calibrate", "conditional_given", "conditionals", "decomposable_marginals", "node_factors"]

Clique = tuple[str, ...]


def calibrate(
    tree: JunctionTree,
    domain: Mapping[str, int],
    log_potentials: Mapping[Clique, np.ndarray],
    total: float,
) -> dict[Clique, np.ndarray]:
    """Marginals (counts summing to ``total``) of every tree node.

    ``log_potentials`` maps cliques (each inside some node) to log-potential tables
    whose axes follow the clique's column order. One-off use of
    :class:`~dpquilt.graphical.propagation.Propagation`; loops that calibrate the
    same tree again and again should keep the plan.

    Examples
    --------
    >>> d = {"a": 2, "b": 3}
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree(d, [("a", "b")])
    >>> calibrate(tree, d, {("a",): np.log(np.array([1.0, 3.0]))}, total=12.0)[("a", "b")].tolist()
    [[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]
    """
    plan = Propagation(tree.nodes, tree.edges, domain, list(log_potentials))
    return dict(zip(tree.nodes, plan.marginals(list(log_potentials.values()), total)))


def conditionals(tree: JunctionTree, marginals: Mapping[Clique, np.ndarray]) -> dict[int, np.ndarray]:
    """``mu_K / mu_{S_K}`` for every node ``K`` with a parent when the tree is rooted at
    node 0 (``S_K`` the separator with the parent; 0 where the separator has no mass).
    Computed once per model, these serve every :func:`project`.

    Examples
    --------
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> marginals = calibrate(tree, d, {("b", "c"): np.log(np.array([[1.0, 3.0], [1.0, 1.0]]))}, total=6.0)
    >>> conditionals(tree, marginals)[1].round(6).tolist()  # P(c | b)
    [[0.25, 0.75], [0.5, 0.5]]
    """
    _, parent = tree.rooted(0)
    out = {}
    for i, p in enumerate(parent):
        if p < 0:
            continue
        node = tree.nodes[i]
        out[i] = conditional_given(marginals[node], node, tuple(a for a in node if a in tree.nodes[p]))
    return out


def node_factors(tree: JunctionTree, node_marginals: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The factors (float64) of the decomposable model ``prod_K mu_K / prod_S mu_S`` over the
    tree's nodes, from consistent ``node_marginals`` in ``tree.nodes`` order, one per node:
    each non-root node's :func:`conditionals` given its parent's separator, each root's
    marginal as it is. Their logs are the model's log-potentials;
    :func:`decomposable_marginals` calibrates them in one pass.

    Examples
    --------
    >>> d = {"a": 2, "b": 2}
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree(d, [("a",), ("a", "b")])
    >>> [f.tolist() for f in node_factors(tree, [np.array([[1.0, 3.0], [2.0, 2.0]])])]
    [[[1.0, 3.0], [2.0, 2.0]]]
    """
    marginals = {node: np.asarray(m, dtype=np.float64) for node, m in zip(tree.nodes, node_marginals)}
    given = conditionals(tree, marginals)
    return [given[i] if i in given else marginals[node] for i, node in enumerate(tree.nodes)]


def decomposable_marginals(tree: JunctionTree, factors: Sequence[np.ndarray], total: float) -> list[np.ndarray]:
    """The calibrated node marginals (counts, each component summing to ``total``) of the
    model whose node factors are :func:`node_factors`' (or their exponentials): one pass
    down the tree, each root scaled to ``total`` and each child's conditional multiplied
    by its parent's marginal on their separator (Koller and Friedman 2009, Section
    10.3.2: a calibrated clique tree's measure is ``prod_K mu_K / prod_S mu_S``).

    This is :func:`calibrate` of those log-potentials without its exponentials and its
    upward pass: a fit hands its model the marginals it ended on, consistent in float64.

    Examples
    --------
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> from dpquilt.graphical.junction import build_junction_tree
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> given = {("a", "b"): np.array([[1.0, 3.0], [2.0, 2.0]]), ("b", "c"): np.array([[2.0, 1.0], [1.0, 4.0]])}
    >>> [m.round(6).tolist() for m in decomposable_marginals(tree, node_factors(tree, [given[n] for n in tree.nodes]), 8.0)]
    [[[1.0, 3.0], [2.0, 2.0]], [[2.0, 1.0], [1.0, 4.0]]]
    """
    order, parent = tree.rooted(0)
    out: list[np.ndarray] = [np.empty(0)] * len(tree.nodes)
    for i in order:
        node, factor = tree.nodes[i], np.asarray(factors[i], dtype=np.float64)
        if parent[i] < 0:
            mass = float(factor.sum())
            out[i] = factor * (total / mass) if mass > 0 else np.zeros_like(factor)
            continue
        above = tree.nodes[parent[i]]
        summed, kept = sum_onto(out[parent[i]], above, node)
        separator = tuple(a for a in node if a in kept)
        summed = np.transpose(summed, [kept.index(a) for a in separator])
        out[i] = factor * summed.reshape([factor.shape[k] if a in kept else 1 for k, a in enumerate(node)])
    return out


def conditional_given(table: np.ndarray, attrs: Clique, given: Clique) -> np.ndarray:
    """``table / (table summed onto given)``, broadcast back: the conditional of a node's
    columns given some of them (0 where those have no mass).

    Examples
    --------
    >>> conditional_given(np.array([[1.0, 3.0], [0.0, 0.0]]), ("a", "b"), ("a",)).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
    """
    shape = [table.shape[k] if a in given else 1 for k, a in enumerate(attrs)]
    summed = sum_onto(table, attrs, given)[0].reshape(shape)
    return np.divide(table, summed, out=np.zeros_like(table), where=summed > 0)
