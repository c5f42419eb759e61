"""Kruskal's algorithm with a pluggable (private) choice of the next edge."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

__all__ = ["grow_spanning_tree"]

Edge = tuple[str, str]


def grow_spanning_tree(names: Sequence[str], edges: Sequence[Edge], choose: Callable[[list[Edge], int], int]) -> list[Edge]:
    """Grow a spanning tree of ``names`` one edge at a time, as Kruskal does.

    At step ``k`` (1-based) the candidates are the ``edges`` that join two different
    components; ``choose(candidates, k)`` returns the index of the edge to add (the
    heaviest, or a private choice of it). Stops after ``len(names) - 1`` edges.

    Examples
    --------
    >>> grow_spanning_tree(["a", "b", "c"], [("a", "b"), ("a", "c"), ("b", "c")], lambda cands, k: 0)
    [('a', 'b'), ('a', 'c')]
    """
    components = _Components(names)
    candidates = list(edges)
    tree: list[Edge] = []
    for step in range(1, len(names)):
        candidates = [e for e in candidates if not components.connected(*e)]
        if not candidates:
            raise ValueError(f"the edges do not connect {list(names)}; pass every pair of columns")
        edge = candidates[choose(candidates, step)]
        tree.append(edge)
        components.merge(*edge)
    return tree


class _Components:
    """Union-find over a few names (scipy's DisjointSet costs 0.8 s to import, which every
    federated client process would pay)."""

    def __init__(self, names: Sequence[Hashable]) -> None:
        self._parent = {n: n for n in names}

    def _root(self, n: Hashable) -> Hashable:
        while self._parent[n] != n:
            self._parent[n] = self._parent[self._parent[n]]
            n = self._parent[n]
        return n

    def connected(self, a: Hashable, b: Hashable) -> bool:
        return self._root(a) == self._root(b)

    def merge(self, a: Hashable, b: Hashable) -> None:
        self._parent[self._root(a)] = self._root(b)
