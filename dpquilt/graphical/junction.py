"""Junction-tree inference in numpy: calibrate once, then answer any marginal.

The model ``p(x) ∝ exp(sum_C theta_C(x_C))`` is calibrated on a junction tree of its
cliques by two-pass sum-product message passing (Koller and Friedman 2009,
Algorithm 10.2, "Shafer-Shenoy"; see :mod:`dpquilt.graphical.propagation`). A marginal over columns ``A`` that no tree
node contains is read from the calibrated tree as

    mu_A = sum_{x outside A} mu_R(x_R) prod_{K != R} mu_K(x_K) / mu_{S_K}(x_{S_K})

over a small subtree whose nodes cover ``A`` (rooted at ``R``, ``S_K`` the
separator of ``K`` with its parent), each factor first summed onto what the others
or ``A`` need, then contracted by variable elimination in greedy min-size order: no
table over the whole subtree is ever materialised. Nothing is compiled, so a growing
set of cliques (AIM) costs no recompilation.
"""

from __future__ import annotations

import functools
import heapq
import math
import string
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import opt_einsum

from .propagation import Propagation, breadth_first
from .reductions import sum_out

__all__ = ["JunctionTree", "ProjectionCache", "build_junction_tree", "calibrate", "conditionals", "marginalise", "project", "tree_size"]

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
        table = marginals[node]
        sep = tuple(a for a in node if a in tree.nodes[p])
        sep_table = _sum_counts(table, node, sep)[0].reshape([table.shape[k] if a in sep else 1 for k, a in enumerate(node)])
        out[i] = np.divide(table, sep_table, out=np.zeros_like(table), where=sep_table > 0)
    return out


def project(
    tree: JunctionTree,
    marginals: Mapping[Clique, np.ndarray],
    cols: Sequence[str],
    total: float,
    conditional: Mapping[int, np.ndarray] | None = None,
    cache: ProjectionCache | None = None,
) -> np.ndarray:
    """The model's marginal over ``cols`` (in that order) from calibrated node marginals.

    ``conditional`` is :func:`conditionals` of the same tree and marginals (computed
    here when not given). ``cache`` (optional, one per calibrated model) keeps the
    reduced node tables and elimination products that projections share: AIM asks for
    thousands of marginals of one model, and those whose subtrees overlap take the same
    steps.

    Examples
    --------
    >>> d = {"a": 2, "b": 2, "c": 2}
    >>> tree = build_junction_tree(d, [("a", "b"), ("b", "c")])
    >>> same = np.log(np.array([[9.0, 1.0], [1.0, 9.0]]))  # a = b and b = c, each 90% of the time
    >>> marginals = calibrate(tree, d, {("a", "b"): same, ("b", "c"): same}, total=100.0)
    >>> project(tree, marginals, ["a", "c"], 100.0).round(6).tolist()  # a = c 82% of the time
    [[41.0, 9.0], [9.0, 41.0]]
    """
    cols = tuple(cols)
    wanted = frozenset(cols)
    for node, members in zip(tree.nodes, tree.node_sets):
        if wanted <= members:
            return marginalise(marginals[node], node, cols)
    cache = cache if cache is not None else ProjectionCache()
    groups: dict[int, list[str]] = {}
    for a in cols:
        groups.setdefault(tree.components[a], []).append(a)
    if len(groups) > 1:  # independent components: the product of their marginals
        parts = [
            (cache.get_or_compute(("marginal", tuple(g)), lambda g=g: project(tree, marginals, g, total, conditional, cache)), tuple(g))
            for g in groups.values()
        ]
        return _einsum(parts, cols) / total ** (len(parts) - 1)
    if conditional is None:
        conditional = conditionals(tree, marginals)
    subtree = _steiner_subtree(tree, cols)
    order, parent = tree.rooted(0)
    order = [i for i in order if i in subtree]
    parent = [p if p in subtree else -1 for p in parent]  # the subtree's root: its parent lies outside
    factors = []
    for i in order:
        node = tree.nodes[i]
        near = set(cols).union(*(tree.nodes[j] for j in tree._neighbours[i] if j in subtree))
        own = tuple(a for a in node if a in near)  # what the other factors or the output need
        key = ("node" if parent[i] >= 0 else "root", i, own)
        table = conditional[i] if parent[i] >= 0 else marginals[node]  # the root's marginal, the others' conditionals
        factors.append((cache.get_or_compute(key, lambda: _sum_counts(table, node, own)[0]), own, key))
    return _eliminate_variables(factors, cols, cache)


class ProjectionCache:
    """Reduced node tables and elimination products of one calibrated model, shared by its projections.

    Each entry is named by what determines its content: a node's table summed onto
    some of its columns by the node, its role and those columns; a product of
    :func:`_eliminate_variables` by its factors' names and the columns it keeps. So a
    name never meets two contents, and projections that take the same step share it.
    Entries stop being added past ``max_bytes``. Threads may share one cache: two that
    ask for the same missing entry at once both compute it (the same table).

    Examples
    --------
    >>> cache = ProjectionCache(max_bytes=1000)
    >>> cache.get_or_compute(("x",), lambda: np.zeros(10)).size, cache.get_or_compute(("x",), lambda: np.ones(1)).size
    (10, 10)
    >>> cache.get_or_compute(("y",), lambda: np.zeros(1000)).size, ("y",) in cache.entries  # too big to keep
    (1000, False)
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.entries: dict[tuple, np.ndarray] = {}
        self.max_bytes = max_bytes
        self.bytes = 0

    def get_or_compute(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        table = self.entries.get(key)
        if table is None:
            table = compute()
            if self.bytes + table.nbytes <= self.max_bytes:
                self.entries[key] = table
                self.bytes += table.nbytes
        return table


def _eliminate_variables(
    factors: Sequence[tuple[np.ndarray, Clique, Hashable]], keep: Clique, cache: ProjectionCache
) -> np.ndarray:
    """``sum`` over the columns not in ``keep`` of the product of ``factors``, by variable
    elimination in greedy min-size order (Koller and Friedman 2009, Section 9.4.3.1):
    each step sums out the column whose factors multiply into the smallest table, with
    every other column that only those factors hold. A column asked for that lives in a
    leaf behind a small separator is thus joined last, instead of being carried through
    every node between it and the others.

    Each factor comes with a key that names its content; a step's product is named by
    its factors' keys and what it keeps, and kept in ``cache``: projections of one model
    that take the same step share it."""
    work = list(factors)
    size = {a: n for table, attrs, _ in work for a, n in zip(attrs, table.shape)}
    hidden = {a for _, attrs, _ in work for a in attrs} - set(keep)
    while hidden and len(work) > 2:  # two factors: one contraction below
        holders: dict[str, set[str]] = {a: set() for a in hidden}
        for _, attrs, _ in work:
            for a in attrs:
                if a in holders:
                    holders[a].update(attrs)
        best = min(sorted(hidden), key=lambda a: math.prod(size[b] for b in holders[a]))
        involved = [f for f in work if best in f[1]]
        rest = [f for f in work if best not in f[1]]
        outside = set(keep).union(*(attrs for _, attrs, _ in rest))
        union = tuple(dict.fromkeys(a for _, attrs, _ in involved for a in attrs))
        out = tuple(a for a in union if a in outside)
        key = ("product", frozenset(k for _, _, k in involved), out)
        table = cache.get_or_compute(key, lambda: _contract([(t, a) for t, a, _ in involved], out))
        work = [*rest, (table, out, key)]
        hidden -= set(union) - set(out)
    return _contract([(t, a) for t, a, _ in work], keep)


def _contract(operands: Sequence[tuple[np.ndarray, Clique]], keep: Clique) -> np.ndarray:
    """``sum`` over the columns not in ``keep`` of the product of ``operands``, axes in ``keep``'s order.

    Each table is first summed over the columns that no other table and not the output
    needs: a node's table against a message carrying the asked-for columns would
    otherwise be multiplied out in full (cells of the node times cells of the carried
    columns).
    """
    reduced = []
    for k, (table, attrs) in enumerate(operands):
        needed = set(keep).union(*(other for j, (_, other) in enumerate(operands) if j != k))
        reduced.append(_sum_counts(table, attrs, tuple(a for a in attrs if a in needed)))
    if len(reduced) == 1:
        return marginalise(*operands[0], keep)
    return _einsum(reduced, keep)


def _einsum(operands: Sequence[tuple[np.ndarray, Clique]], keep: Clique) -> np.ndarray:
    """The product of ``operands`` summed onto ``keep`` by one ``einsum`` on a cached contraction path."""
    union = list(dict.fromkeys(a for _, attrs in operands for a in attrs))
    letters = {a: string.ascii_letters[k] for k, a in enumerate(union)}
    expr = ",".join("".join(letters[a] for a in attrs) for _, attrs in operands) + "->" + "".join(letters[a] for a in keep)
    sizes = {a: n for t, attrs in operands for a, n in zip(attrs, t.shape)}
    space = math.prod(sizes.values())
    if space <= DIRECT_EINSUM_CELLS:  # small: one loop in C beats planning pairwise steps
        return np.einsum(expr, *(t for t, _ in operands))
    path = _contraction_path(expr, tuple(t.shape for t, _ in operands))
    if space >= BLAS_EINSUM_CELLS and len(operands) > 2 and len(path) == 2:  # numpy would loop over every index at once
        return _blas_contraction(expr, tuple(t.shape for t, _ in operands))(*(t for t, _ in operands))
    return np.einsum(expr, *(t for t, _ in operands), optimize=path)


#: contractions whose index space (the product of every column's size) is at most this are
#: done by numpy's single C loop, without a contraction path
DIRECT_EINSUM_CELLS = 2**16
#: from this index space on, ``opt_einsum`` runs the contraction as pairwise BLAS/tensordot
#: steps: numpy may choose one generic loop over every index (a 3-table product over the
#: nodes of a 33-column model, 2.7e7 cells: 156 ms by numpy, 72 ms by opt_einsum)
BLAS_EINSUM_CELLS = 2**20


@functools.lru_cache(maxsize=1024)
def _blas_contraction(expr: str, shapes: tuple[tuple[int, ...], ...]) -> Callable[..., np.ndarray]:
    return opt_einsum.contract_expression(expr, *shapes, optimize="greedy")


@functools.lru_cache(maxsize=4096)
def _contraction_path(expr: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    """numpy's greedy contraction order for ``expr`` on these shapes (a pure function of its
    arguments, cached: AIM asks for the same contractions every round)."""
    return np.einsum_path(expr, *(np.empty(s) for s in shapes), optimize="greedy")[0]


def marginalise(table: np.ndarray, attrs: Clique, keep: Clique) -> np.ndarray:
    """Sum ``table`` (axes named by ``attrs``) onto ``keep``, axes in ``keep``'s order.

    Examples
    --------
    >>> marginalise(np.arange(6.0).reshape(2, 3), ("a", "b"), ("b",)).tolist()
    [3.0, 5.0, 7.0]
    >>> marginalise(np.arange(6.0).reshape(2, 3), ("a", "b"), ("b", "a")).shape
    (3, 2)
    """
    summed, kept = _sum_counts(table, attrs, keep)
    return np.transpose(summed, [kept.index(a) for a in keep])


def _sum_counts(table: np.ndarray, attrs: Clique, keep: Clique) -> tuple[np.ndarray, Clique]:
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    return (sum_out(table, axes) if axes else table), tuple(a for a in attrs if a in keep)


def _steiner_subtree(tree: JunctionTree, cols: Clique) -> set[int]:
    """Nodes of a small subtree that covers ``cols`` (columns of one component, as
    :func:`project` asks): greedy cover (the node holding most of the columns still
    uncovered, ties by position), each chosen node joined to the first by its tree path."""
    remaining, chosen = set(cols), []
    holding = tree.holding
    while remaining:
        coverage: dict[int, int] = {}
        for a in remaining:
            for i in holding[a]:
                coverage[i] = coverage.get(i, 0) + 1
        best = min(coverage, key=lambda i: (-coverage[i], i))
        chosen.append(best)
        remaining -= tree.node_sets[best]
    keep = {chosen[0]}
    for target in chosen[1:]:
        path = tree.path(chosen[0], target)
        if path is None:
            raise ValueError(f"columns {cols} span components: project them one component at a time")
        keep.update(path)
    return keep
