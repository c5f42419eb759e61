"""Batching the cliques that share a junction-tree node.

Every iteration of the estimators adds each clique's gradient into its node's
table and reads each clique's marginal out of its node's belief. On AIM's large
models a node holds several small cliques (3-way marginals of at most 10,000
cells) in a table of up to millions of cells, and each broadcast add or reduction
over the whole node costs a full pass. :class:`CliqueGroups` merges the cliques of
a node into groups whose union of columns is still small (at most
``1 / GROUP_SHRINK`` of the node), so that a group costs one pass over the node:
its members are first combined on the small union table, then the union is added
into (or summed out of) the node once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..marginals.tables import sum_out, widen

__all__ = ["CliqueGroups"]

Clique = tuple[str, ...]
GROUP_SHRINK = 8  # a group's union has at most this fraction (1/8) of its node's cells


class CliqueGroups:
    """Groups of cliques per node, planned once for a junction tree.

    Parameters
    ----------
    nodes : sequence of cliques
        Junction-tree nodes.
    homes : sequence of int
        The node holding each clique.
    cliques : sequence of cliques
    domain : mapping of str to int

    Examples
    --------
    >>> import numpy as np
    >>> domain = {"a": 2, "b": 3, "c": 4, "d": 5}
    >>> groups = CliqueGroups([("a", "b", "c", "d")], [0, 0], [("a", "b"), ("c", "b")], domain)
    >>> node = [np.zeros((2, 3, 4, 5))]
    >>> groups.add_to_nodes(node, [np.ones((2, 3)), np.ones((4, 3))], 2.0)
    >>> float(node[0][0, 0, 0, 0])
    4.0
    >>> [m.shape for m in groups.clique_marginals(node)]
    [(2, 3), (4, 3)]
    """

    def __init__(
        self, nodes: Sequence[Clique], homes: Sequence[int], cliques: Sequence[Clique], domain: Mapping[str, int]
    ) -> None:
        self.domain = {a: int(k) for a, k in domain.items()}
        self.plan = []  # per group: node, union (node order), union's shape in the node, axes summed, members
        for k, node in enumerate(nodes):
            members = [i for i, home in enumerate(homes) if home == k]
            for group in self._merge(node, [set(cliques[i]) for i in members], members):
                union = tuple(a for a in node if any(a in cliques[i] for i in group))
                in_node = tuple(self.domain[a] if a in union else 1 for a in node)
                summed = tuple(j for j, a in enumerate(node) if a not in union)
                placed = [
                    (i, *_placement(cliques[i], union, self.domain), tuple(j for j, a in enumerate(union) if a not in cliques[i]))
                    for i in group
                ]
                self.plan.append((k, union, in_node, summed, placed))

    def _merge(self, node: Clique, sets: list[set], members: list[int]) -> list[list[int]]:
        """Greedy: merge the pair of groups with the smallest union while it stays under the limit."""
        limit = _cells(node, self.domain) / GROUP_SHRINK
        groups = [(s, [i]) for s, i in zip(sets, members)]
        while len(groups) > 1:
            best = None
            for x in range(len(groups)):
                for y in range(x + 1, len(groups)):
                    size = _cells(groups[x][0] | groups[y][0], self.domain)
                    if size <= limit and (best is None or size < best[0]):
                        best = (size, x, y)
            if best is None:
                break
            _, x, y = best
            merged = (groups[x][0] | groups[y][0], groups[x][1] + groups[y][1])
            groups = [g for j, g in enumerate(groups) if j not in (x, y)] + [merged]
        return [sorted(g[1]) for g in groups]

    def add_to_nodes(self, node_tables: Sequence[np.ndarray], tables: Sequence[np.ndarray], scale: float) -> None:
        """Add ``scale`` times each clique table (axes in the clique's order) into its node's table, in place."""
        for k, union, in_node, _, placed in self.plan:
            combined = self._combine(tables, union, placed) * scale
            node_tables[k] += widen(combined.reshape(in_node), node_tables[k].shape)

    def times_exp(
        self, node_tables: Sequence[np.ndarray], tables: Sequence[np.ndarray], scale: float
    ) -> tuple[list[np.ndarray], float]:
        """Each node's table times ``exp(scale * t)`` of its cliques' tables, each group's
        factor divided by its maximum, and the log of what was divided out (the factors'
        product is ``exp(returned) *`` the applied one).

        ``node_tables`` are not modified: a node's first factor makes its new table, the
        others multiply into that in place, and a node without cliques keeps its table
        (shared, not copied: a descent step over a model with million-cell nodes then
        reads and writes each table once less).

        Examples
        --------
        >>> groups = CliqueGroups([("a", "b")], [0, 0], [("a",), ("b",)], {"a": 2, "b": 2})
        >>> ones = [np.ones((2, 2))]
        >>> new, taken = groups.times_exp(ones, [np.log([1.0, 2.0]), np.log([1.0, 3.0])], 1.0)
        >>> (new[0] * np.exp(taken)).tolist(), ones[0].tolist()
        ([[1.0, 3.0], [2.0, 6.0]], [[1.0, 1.0], [1.0, 1.0]])
        """
        out = list(node_tables)
        owned = [False] * len(out)
        taken = 0.0
        for k, union, in_node, _, placed in self.plan:
            combined = self._combine(tables, union, placed) * scale
            top = float(np.max(combined))
            # in the node's precision (float64 factors would turn float32 node tables into float64)
            factor = widen(np.exp(combined - top).astype(out[k].dtype, copy=False).reshape(in_node), out[k].shape)
            if owned[k]:
                out[k] *= factor
            else:
                out[k], owned[k] = out[k] * factor, True
            taken += top
        return out, taken

    def _combine(self, tables: Sequence[np.ndarray], union: Clique, placed: list) -> np.ndarray:
        """The sum of a group's clique tables, broadcast over the group's union of columns."""
        if len(placed) == 1:
            i, perm, shape, _ = placed[0]
            return _arrange(np.asarray(tables[i], dtype=np.float64), perm, shape)
        combined = np.zeros(tuple(self.domain[a] for a in union))
        for i, perm, shape, _ in placed:
            combined += _arrange(np.asarray(tables[i], dtype=np.float64), perm, shape)
        return combined

    def clique_marginals(self, node_tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each clique's marginal (axes in the clique's order) from the node tables."""
        out: list[np.ndarray | None] = [None] * sum(len(p[4]) for p in self.plan)
        for k, union, _, summed, placed in self.plan:
            table = sum_out(node_tables[k], summed)
            for i, perm, _, axes in placed:
                part = sum_out(table, axes)
                out[i] = part if perm is None else np.transpose(part, np.argsort(perm))
        return out


def _placement(clique: Clique, union: Clique, domain: Mapping[str, int]) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
    """How a clique table lines up with its group's union: the transpose into the union's
    column order (None if none) and the shape that broadcasts it there."""
    ordered = [a for a in union if a in clique]
    perm = tuple(clique.index(a) for a in ordered)
    shape = tuple(domain[a] if a in clique else 1 for a in union)
    return (None if perm == tuple(range(len(perm))) else perm), shape


def _arrange(table: np.ndarray, perm: tuple[int, ...] | None, shape: tuple[int, ...]) -> np.ndarray:
    return (table if perm is None else np.transpose(table, perm)).reshape(shape)


def _cells(attrs, domain: Mapping[str, int]) -> int:
    out = 1
    for a in attrs:
        out *= domain[a]
    return out
