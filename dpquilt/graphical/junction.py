"""Junction trees in numpy: build one for a set of cliques, size it, calibrate it.

The model ``p(x) ∝ exp(sum_C theta_C(x_C))`` is calibrated on a junction tree of its
cliques by two-pass sum-product message passing (Koller and Friedman 2009,
Algorithm 10.2, "Shafer-Shenoy"; see :mod:`dpquilt.graphical.propagation`); marginals
that no node holds are read from the calibrated tree by
:mod:`dpquilt.graphical.projection`. Nothing is compiled, so a growing set of cliques
(AIM) costs no recompilation.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..marginals.tables import sum_onto
from .propagation import Propagation, breadth_first

__all__ = ["JunctionTree", "build_junction_tree", "calibrate", "conditional_given", "conditionals", "tree_size"]

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


def elimination_cliques(domain: Mapping[str, int], cliques: Sequence[Clique]) -> tuple[list[str], list[frozenset]]:
    """An elimination order and the cliques it creates (the triangulation's cliques).

    A forest is eliminated leaves first (no fill-in). Otherwise each step removes the
    column whose elimination clique is smallest in cells (ties: by name), the greedy
    rule of mbi's ``greedy_order``.
    """
    names = list(domain)
    order, created = _eliminate(domain, cliques)
    return [names[v] for v in order], [frozenset(names[i] for i in _bits(m)) for m in created]


def _eliminate(domain: Mapping[str, int], cliques: Sequence[Clique]) -> tuple[list[int], list[int]]:
    """:func:`elimination_cliques` on bitmasks of column positions: AIM sizes every
    candidate's model every round, thousands of calls, so this is kept tight."""
    position = {a: i for i, a in enumerate(domain)}
    cells = _cell_counter(tuple(int(k) for k in domain.values()))
    return _greedy_elimination(
        _adjacency_of(position, cliques), set(range(len(position))), cells, _name_ranks(tuple(domain))
    )


def _adjacency_of(position: Mapping[str, int], cliques: Sequence[Clique]) -> list[int]:
    """Each column's neighbours in the graph of ``cliques``, as a bitmask of positions."""
    adjacency = [0] * len(position)
    for c in cliques:
        mask = 0
        for a in c:
            mask |= 1 << position[a]
        for a in c:
            adjacency[position[a]] |= mask
    return [m & ~(1 << i) for i, m in enumerate(adjacency)]


def _greedy_elimination(
    adjacency: list[int],
    remaining: set[int],
    cells: Callable[[int], int],
    rank: Sequence[int],
    snapshot: Callable[[list[int]], None] | None = None,
) -> tuple[list[int], list[int]]:
    """Eliminate the ``remaining`` columns of ``adjacency`` (changed in place) by the greedy rule.

    Leaves first; otherwise the column whose elimination clique is smallest in cells,
    ties by column name, as one integer key (``cells * n + rank``) updated only for the
    neighbours of each eliminated column and kept in heaps (``O(log n)`` a choice). ``snapshot`` (optional) receives a copy of the
    adjacency before each step. Returns the order and the created cliques (bitmasks).
    """
    n = len(adjacency)
    key = [0] * n
    leaves: set[int] = set()
    for i in remaining:
        key[i] = cells(adjacency[i] | (1 << i)) * n + rank[i]
        if adjacency[i] & (adjacency[i] - 1) == 0:  # at most one neighbour
            leaves.add(i)
    # two heaps with lazy deletion: an entry is live while its column remains with that key
    # (and, in the leaf heap, is still a leaf); keys are unique, so the minimum is the rule's choice
    everyone = [(key[i], i) for i in remaining]
    leaf_heap = [(key[i], i) for i in leaves]
    heapq.heapify(everyone)
    heapq.heapify(leaf_heap)
    order: list[int] = []
    created: list[int] = []
    while remaining:
        if snapshot is not None:
            snapshot(list(adjacency))
        heap, live = (leaf_heap, leaves) if leaves else (everyone, remaining)
        while True:
            k, v = heapq.heappop(heap)
            if v in live and key[v] == k:
                break
        nbrs = adjacency[v]
        created.append(nbrs | (1 << v))
        for i in _bits(nbrs):
            adjacency[i] = (adjacency[i] | nbrs) & ~(1 << i) & ~(1 << v)
            key[i] = cells(adjacency[i] | (1 << i)) * n + rank[i]
            heapq.heappush(everyone, (key[i], i))
            if adjacency[i] & (adjacency[i] - 1) == 0:
                leaves.add(i)
                heapq.heappush(leaf_heap, (key[i], i))
            else:
                leaves.discard(i)
        remaining.discard(v)
        leaves.discard(v)
        order.append(v)
    return order, created


@functools.lru_cache(maxsize=64)
def _cell_counter(sizes: tuple[int, ...]):
    """``cells(mask)``: the product of ``sizes`` over the bits of ``mask``, by one table
    lookup per byte of the mask."""
    tables = []
    for start in range(0, len(sizes), 8):
        chunk = sizes[start : start + 8]
        table = [1] * (1 << len(chunk))
        for b in range(1, len(table)):
            low = (b & -b).bit_length() - 1
            table[b] = table[b & (b - 1)] * chunk[low]
        tables.append(table)
    if len(tables) == 1:
        only = tables[0]
        return only.__getitem__
    if len(tables) == 2:
        first, second = tables
        return lambda mask: first[mask & 255] * second[mask >> 8]

    def cells(mask: int) -> int:
        out = 1
        for table in tables:
            out *= table[mask & 255]
            mask >>= 8
        return out

    return cells


@functools.lru_cache(maxsize=64)
def _name_ranks(names: tuple[str, ...]) -> list[int]:
    """Each column's position in name order (the tie-break of the greedy rule)."""
    ordered = {a: k for k, a in enumerate(sorted(names))}
    return [ordered[a] for a in names]


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _cells(domain: Mapping[str, int], attrs) -> int:
    out = 1
    for a in attrs:
        out *= domain[a]
    return out


def _maximal(sets: Sequence[frozenset]) -> list[frozenset]:
    """Sets not contained in another, largest first (ties in first-seen order, so that the
    result does not depend on hash randomisation)."""
    out: list[frozenset] = []
    for s in sorted(dict.fromkeys(sets), key=len, reverse=True):
        if not any(s <= m for m in out):
            out.append(s)
    return out


def tree_size(domain: Mapping[str, int], cliques: Sequence[Clique]) -> int:
    """Cells in the junction tree of ``cliques`` (sum over its nodes).

    Examples
    --------
    >>> d = {"a": 2, "b": 3, "c": 4}
    >>> tree_size(d, [("a", "b"), ("b", "c")]), tree_size(d, [("a", "b"), ("b", "c"), ("a", "c")])  # 6 + 12; abc
    (18, 24)
    """
    order, created = _eliminate(domain, cliques)
    cells = _cell_counter(tuple(int(k) for k in domain.values()))
    return sum(cells(m) for m, maximal in zip(created, maximal_created(order, created)) if maximal)


def maximal_created(order: Sequence[int], created: Sequence[int]) -> list[bool]:
    """Which cliques of an elimination are maximal (the junction tree's nodes).

    The clique created by eliminating ``v`` holds ``v``, so only a clique created
    earlier, and holding ``v``, can contain it.
    """
    holding: dict[int, list[int]] = {}
    out = []
    for v, m in zip(order, created):
        out.append(not any(m & e == m for e in holding.get(v, ())))
        for u in _bits(m):
            holding.setdefault(u, []).append(m)
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
