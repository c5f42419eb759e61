"""Junction trees in numpy: the tree of a set of cliques (nodes, edges, paths, components).

The nodes are the maximal cliques of the greedy triangulation
(:mod:`dpquilt.graphical.elimination`); the tree is calibrated by
:mod:`dpquilt.graphical.calibration`, and marginals that no node holds are read from it by
:mod:`dpquilt.graphical.projection`. Nothing is compiled, so a growing set of cliques
(AIM) costs no recompilation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .elimination import elimination_cliques
from .propagation import breadth_first

__all__ = ["JunctionTree", "build_junction_tree"]

Clique = tuple[str, ...]


@dataclass(frozen=True)
class JunctionTree:
    """Nodes (maximal cliques of a triangulation), tree edges and the elimination order.

    Examples
    --------
    >>> tree = build_junction_tree({"a": 2, "b": 3, "c": 4}, [("a", "b"), ("b", "c")])
    >>> tree.nodes, tree.edges, tree.rooted(0)
    ((('a', 'b'), ('b', 'c')), ((0, 1),), ([0, 1], [-1, 0]))
    """

    nodes: tuple[Clique, ...]
    edges: tuple[tuple[int, int], ...]
    order: tuple[str, ...]

    def neighbours(self) -> list[list[int]]:
        return [list(n) for n in self._neighbours]

    @functools.cached_property
    def _neighbours(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.nodes]
        for i, j in self.edges:
            out[i].append(j)
            out[j].append(i)
        return tuple(tuple(n) for n in out)

    @functools.cached_property
    def node_sets(self) -> tuple[frozenset, ...]:
        """Each node's columns as a set (asked for by every projection)."""
        return tuple(frozenset(n) for n in self.nodes)

    def rooted(self, root: int = 0) -> tuple[list[int], list[int]]:
        """Breadth-first order from ``root`` and each node's parent (-1 for roots)."""
        if root == 0:
            order, parent = self._rooted_at_0
            return list(order), list(parent)
        return breadth_first(len(self.nodes), self.edges, root)

    @functools.cached_property
    def components(self) -> dict[str, int]:
        """Each column's connected component (numbered by its root when rooted at node 0):
        columns of different components are independent in the model.

        Examples
        --------
        >>> build_junction_tree({"a": 2, "b": 2, "c": 2}, [("a", "b"), ("c",)]).components
        {'a': 0, 'b': 0, 'c': 1}
        """
        order, parent = self._rooted_at_0
        root: dict[int, int] = {}
        for i in order:
            root[i] = i if parent[i] < 0 else root[parent[i]]
        return {a: root[i] for i, node in enumerate(self.nodes) for a in node}

    @functools.cached_property
    def holding(self) -> dict[str, tuple[int, ...]]:
        """The nodes that hold each column, in position order.

        Examples
        --------
        >>> build_junction_tree({"a": 2, "b": 2, "c": 2}, [("a", "b"), ("b", "c")]).holding
        {'a': (0,), 'b': (0, 1), 'c': (1,)}
        """
        out: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for a in node:
                out.setdefault(a, []).append(i)
        return {a: tuple(nodes) for a, nodes in out.items()}

    def path(self, a: int, b: int) -> list[int] | None:
        """The nodes on the tree path between nodes ``a`` and ``b`` (None in different components).

        Examples
        --------
        >>> chain = build_junction_tree({k: 2 for k in "abcd"}, [("a", "b"), ("b", "c"), ("c", "d")])
        >>> chain.path(0, 2), chain.path(2, 0)
        ([0, 1, 2], [2, 1, 0])
        >>> build_junction_tree({"a": 2, "b": 2}, [("a",), ("b",)]).path(0, 1) is None
        True
        """
        _, parent = self._rooted_at_0
        depth = self._depths
        up_a, up_b = [a], [b]
        while depth[up_a[-1]] > depth[up_b[-1]]:
            up_a.append(parent[up_a[-1]])
        while depth[up_b[-1]] > depth[up_a[-1]]:
            up_b.append(parent[up_b[-1]])
        while up_a[-1] != up_b[-1]:
            if parent[up_a[-1]] < 0:
                return None
            up_a.append(parent[up_a[-1]])
            up_b.append(parent[up_b[-1]])
        return up_a + up_b[-2::-1]

    @functools.cached_property
    def _depths(self) -> tuple[int, ...]:
        order, parent = self._rooted_at_0
        depth = [0] * len(self.nodes)
        for i in order:
            depth[i] = 0 if parent[i] < 0 else depth[parent[i]] + 1
        return tuple(depth)

    @functools.cached_property
    def _rooted_at_0(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        order, parent = breadth_first(len(self.nodes), self.edges, 0)
        return tuple(order), tuple(parent)


def _maximal(sets: Sequence[frozenset]) -> list[frozenset]:
    """Sets not contained in another, largest first (ties in first-seen order, so that the
    result does not depend on hash randomisation)."""
    out: list[frozenset] = []
    for s in sorted(dict.fromkeys(sets), key=len, reverse=True):
        if not any(s <= m for m in out):
            out.append(s)
    return out


def build_junction_tree(domain: Mapping[str, int], cliques: Sequence[Clique]) -> JunctionTree:
    """A junction tree of ``cliques``: greedy triangulation, then a maximum-weight
    spanning tree of the maximal cliques by separator size (Kruskal).

    Examples
    --------
    >>> build_junction_tree({"a": 2, "b": 3, "c": 4}, [("a", "b"), ("b", "c"), ("a", "c")]).nodes  # triangulated
    (('a', 'b', 'c'),)
    """
    order, created = elimination_cliques(domain, cliques)
    maximal = _maximal(created)
    nodes = [tuple(a for a in domain if a in n) for n in maximal]
    pairs = sorted(
        ((len(maximal[i] & maximal[j]), i, j) for i in range(len(maximal)) for j in range(i + 1, len(maximal))),
        reverse=True,
    )
    root = list(range(len(nodes)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    edges = []
    for weight, i, j in pairs:
        if weight == 0:
            break
        ri, rj = find(i), find(j)
        if ri != rj:
            root[ri] = rj
            edges.append((i, j))
    return JunctionTree(tuple(nodes), tuple(edges), tuple(order))
