"""Calibrating a junction tree: every node's marginal, and the conditionals projections read.

The model ``p(x) ∝ exp(sum_C theta_C(x_C))`` is calibrated on a junction tree of its
cliques by two-pass sum-product message passing (Koller and Friedman 2009, Algorithm 10.2,
"Shafer-Shenoy"; see :mod:`dpquilt.graphical.propagation`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..marginals.tables import sum_onto
from .junction import JunctionTree
from .propagation import Propagation

__all__ = ["calibrate", "conditional_given", "conditionals"]

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
